"""The shipped checkpoints still give the results recorded beside them, and the README shows those results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fsl_course.data.runs import score_runs
from fsl_course.evaluation.evaluate import evaluate_checkpoint
from fsl_course.evaluation.evaluate import parse_setting
from fsl_course.evaluation.report import readme_block, results_markdown

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
TESTED = sorted(CHECKPOINTS.glob("*.test.json"))
RUNS = sorted(CHECKPOINTS.glob("*.runs.json"))


def test_checkpoints_are_shipped_with_their_metrics():
    names = {p.name[: -len(".test.json")] for p in TESTED}
    assert {f"{m}_omniglot_1shot" for m in ("protonet", "matching", "relation")} <= names
    assert {p.name[: -len(".runs.json")] for p in RUNS} >= {f"{m}_background_1shot" for m in ("protonet", "matching",
                                                                                                "relation", "maml")}
    for name in names:
        assert (CHECKPOINTS / f"{name}.pt").is_file() and (CHECKPOINTS / f"{name}.json").is_file()
        assert (CHECKPOINTS / f"{name}.check.json").is_file()


def _needs_mini_imagenet() -> Path:
    """The installed mini-ImageNet's folder; the test is skipped where it is not installed (it has no public
    download: a learner installs it with ``fsl-course download mini-imagenet --from DIR``; CI does)."""
    from fsl_course.data.mini_imagenet import is_complete, mini_imagenet_root

    root = mini_imagenet_root()
    if not is_complete(root):
        pytest.skip("mini-ImageNet is not installed here (fsl-course download mini-imagenet --from DIR)")
    return root


@pytest.mark.parametrize("test_file", TESTED, ids=lambda p: p.name)
def test_reevaluation_agrees_with_recorded_metrics(test_file):
    name = test_file.name[: -len(".test.json")]
    full = json.loads(test_file.read_text())
    check = json.loads((CHECKPOINTS / f"{name}.check.json").read_text())
    if check["protocol"] == "mini":
        _needs_mini_imagenet()
    settings = [parse_setting(k) for k in check["results"]]
    n = next(iter(check["results"].values()))["episodes"]
    again = evaluate_checkpoint(CHECKPOINTS / f"{name}.pt", check["protocol"], settings, n, progress=False)
    for key, result in again.items():
        recorded, headline = check["results"][key], full["results"][key]
        # the same episodes give the same accuracy (up to rare float ties on another machine)...
        assert result.mean == pytest.approx(recorded["accuracy"], abs=0.3), key
        # ...and the small set agrees with the 1000-episode headline within their intervals
        assert abs(result.mean - headline["accuracy"]) <= result.ci95 + headline["ci95"], key


@pytest.mark.parametrize("runs_file", RUNS, ids=lambda p: p.name)
def test_official_runs_error_is_reproduced(runs_file):
    recorded = json.loads(runs_file.read_text())
    again = score_runs(CHECKPOINTS / f"{runs_file.name[: -len('.runs.json')]}.pt")
    assert again["error"] == pytest.approx(recorded["error"], abs=0.5)  # 0.25 % = one drawing of 400


def test_readme_results_block_is_generated_from_the_metrics_files():
    assert readme_block() == results_markdown(CHECKPOINTS), \
        "README results are stale or edited by hand: run `fsl-course report --readme README.md`"


def _is_method(path: Path) -> bool:
    """A few-shot method's checkpoint (``load_classifier`` reads it); chapter 11's image tower (``kind``
    ``photo-clip``) is another kind of file, checked by tests/test_photo_clip.py."""
    return json.loads(path.with_suffix(".json").read_text()).get("kind") != "photo-clip"


SHIPPED = sorted(p for p in CHECKPOINTS.glob("*.pt") if not p.name.endswith(".state.pt") and _is_method(p))


def _channels(path: Path) -> int:
    return json.loads(path.with_suffix(".json").read_text()).get("preprocess", {}).get("channels", 1)


CHARACTER_MODELS = [p for p in SHIPPED if _channels(p) == 1]
PHOTO_MODELS = [p for p in SHIPPED if _channels(p) == 3]


def test_the_photo_models_are_shipped_with_their_mini_imagenet_results():
    assert {p.name for p in PHOTO_MODELS} >= {"baseline_mini.pt"}
    for path in PHOTO_MODELS:
        tested = json.loads(path.with_name(path.stem + ".test.json").read_text())
        assert tested["protocol"] == "mini" and set(tested["results"]) == {"5-way 1-shot", "5-way 5-shot"}
        assert all(r["episodes"] == 1000 for r in tested["results"].values())
        record = json.loads(path.with_suffix(".json").read_text())
        assert record["train_split"] == "mini_train" and record["val_split"] == "mini_val"  # selected on val


@pytest.mark.parametrize("path", PHOTO_MODELS, ids=lambda p: p.name)
def test_every_shipped_photo_checkpoint_classifies_raw_mini_imagenet_test_jpegs(path):
    """load_classifier(path).fit(...).predict(...) on the raw test JPEGs (PIL images, string labels), in 20
    seeded 5-way 5-shot 15-query episodes: the accuracy agrees with the recorded 1000-episode result within the
    two intervals."""
    from PIL import Image

    import fsl_course
    from fsl_course.data.mini_imagenet import class_name, read_split_csv
    from fsl_course.evaluation.evaluate import confidence_interval

    root = _needs_mini_imagenet()
    files: dict[str, list[str]] = {}
    for filename, wnid in read_split_csv(root / "test.csv"):
        files.setdefault(wnid, []).append(filename)
    wnids = sorted(files)
    assert len(wnids) == 20 and all(len(f) == 600 for f in files.values())
    clf = fsl_course.load_classifier(path)
    generator = torch.Generator().manual_seed(0)
    accuracies = []
    for _ in range(20):
        support, labels, queries, truth = [], [], [], []
        for c in torch.randperm(20, generator=generator)[:5].tolist():
            chosen = [files[wnids[c]][i] for i in torch.randperm(600, generator=generator)[:20].tolist()]
            pictures = [Image.open(root / "images" / name) for name in chosen]
            support += pictures[:5]
            labels += [class_name(wnids[c])] * 5
            queries += pictures[5:]
            truth += [class_name(wnids[c])] * 15
        predicted = clf.fit(support, labels).predict(queries)
        accuracies.append(sum(p == t for p, t in zip(predicted, truth)) / len(truth))
    mean, ci = confidence_interval(torch.tensor(accuracies))
    recorded = json.loads(path.with_name(path.stem + ".test.json").read_text())["results"]["5-way 5-shot"]
    assert abs(mean - recorded["accuracy"]) <= ci + recorded["ci95"], (mean, ci, recorded)


@pytest.mark.parametrize("path", CHARACTER_MODELS, ids=lambda p: p.name)
def test_every_shipped_character_checkpoint_classifies_raw_omniglot_pngs(path):
    """load_classifier(path).fit(...).predict(...) on the raw 105x105 PNGs of official run 1, 5-way (so that
    models trained for a fixed way work too): nearly every test drawing is right. A 20-way model (MAML's, for
    the official runs) gets the whole run and must score what its ``.runs.json`` recorded for run 1."""
    import fsl_course
    from fsl_course.data.runs import load_runs

    run = load_runs()[0]
    training, test_drawings = run.images()
    way = json.loads(path.with_suffix(".json").read_text())["config"].get("way", 5)
    chosen = list(range(way))
    names = [f"character {i}" for i in chosen]
    queries = [(img, names[a]) for img, a in zip(test_drawings, run.answers) if a in chosen]
    clf = fsl_course.load_classifier(path).fit([training[i] for i in chosen], names)
    predicted = clf.predict([img for img, _ in queries])
    proba = clf.predict_proba([img for img, _ in queries])
    assert clf.classes_ == names and proba.shape == (len(queries), way)
    torch.testing.assert_close(proba.sum(1), torch.ones(len(queries)))
    assert predicted == [names[i] for i in proba.argmax(1).tolist()]
    right = sum(p == truth for p, (_, truth) in zip(predicted, queries))
    if way == 5:
        assert right >= len(queries) - 1, f"{path.name}: {right} of {len(queries)} right"
    else:
        assert way == len(training) == len(queries) == 20
        recorded = json.loads(path.with_suffix(".runs.json").read_text())["per_run_error"][0]
        assert 100 * (len(queries) - right) / len(queries) == recorded, f"{path.name}: {right} of 20 right"


@pytest.mark.parametrize("scale", ["1", "10"])
def test_notebook_04s_scale_runs_differ_from_the_shipped_matching_run_only_in_the_scale(scale):
    """Notebook 04 plots these runs beside the shipped one to show what the softmax scale does in training."""
    shipped = json.loads((CHECKPOINTS / "matching_omniglot_1shot.json").read_text())
    other = json.loads((CHECKPOINTS.parent / "results" / f"matching_scale{scale}_history.json").read_text())
    assert other["config"] == {**shipped["config"], "scale": float(scale)} != shipped["config"]
    settings = lambda record: {k: v for k, v in record["train"].items() if k not in ("episodes", "command")}
    assert settings(other) == settings(shipped)
    assert f"--set scale={scale} " in other["train"]["command"]
    assert [h["step"] for h in other["history"]] == [h["step"] for h in shipped["history"]][: len(other["history"])]
