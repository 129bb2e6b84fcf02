"""The training loop, checkpoints and evaluation: resume, atomic files, safe loading, the 95% interval."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

import fsl_course
from fsl_course.data.images import Preprocess
from fsl_course.episodes import EpisodeSet
from fsl_course.evaluation.evaluate import VAL_SEED, EvalResult, confidence_interval, evaluate
from fsl_course.methods import build_method
from fsl_course.training.checkpoints import (load_method, read_checkpoint, save_checkpoint, shipped_stages,
                                               training_commands, training_stages)
from fsl_course.training.episodic import TrainConfig, _config_key, metrics_path, state_path, train
from tests.conftest import tiny_dataset

TRAIN, VAL = tiny_dataset(12, 6, 28, seed=1), tiny_dataset(6, 6, 28, seed=2)


def _config(episodes):
    return TrainConfig(way=4, shot=1, query=2, episodes=episodes, lr_step=2, val_way=3, val_query=2,
                       val_episodes=4, val_every=2, seed=5)


def _train(out, episodes, **kw):
    torch.manual_seed(0)
    return train(build_method("protonet"), TRAIN, VAL, _config(episodes), out, progress=False, **kw)


def test_training_writes_best_checkpoint_history_and_state(tmp_path):
    out = tmp_path / "net.pt"
    record = _train(out, 6)
    assert out.is_file() and state_path(out).is_file()
    saved = json.loads(metrics_path(out).read_text())
    assert saved["episodes_done"] == 6 and [h["step"] for h in saved["history"]] == [2, 4, 6]
    best = max(saved["history"], key=lambda h: h["val_accuracy"])
    assert saved["best"]["val_accuracy"] == best["val_accuracy"]
    assert read_checkpoint(out)["metrics"]["best"]["step"] == record["best"]["step"]
    # the learning rate is halved every lr_step episodes
    assert [h["lr"] for h in saved["history"]] == pytest.approx([5e-4, 2.5e-4, 1.25e-4])
    assert not list(tmp_path.glob("*.part"))


def test_resume_gives_the_same_model_as_an_uninterrupted_run(tmp_path):
    _train(tmp_path / "a.pt", 6)
    _train(tmp_path / "b.pt", 4)  # "interrupted" after 4 episodes...
    _train(tmp_path / "b.pt", 6)  # ...and resumed to 6
    a = torch.load(state_path(tmp_path / "a.pt"), weights_only=True)
    b = torch.load(state_path(tmp_path / "b.pt"), weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)
    assert [h["val_accuracy"] for h in a["history"]] == [h["val_accuracy"] for h in b["history"]]


def test_augmented_training_records_it_resumes_exactly_and_differs_from_plain(tmp_path):
    def run(out, episodes, augment="strokes"):
        torch.manual_seed(0)
        config = replace(_config(episodes), augment=augment)
        return train(build_method("protonet"), TRAIN, VAL, config, out, progress=False)

    record = run(tmp_path / "a.pt", 6)
    assert record["train"]["augment"] == "strokes"
    run(tmp_path / "b.pt", 4)
    run(tmp_path / "b.pt", 6)  # resumed: the same draws as the uninterrupted run
    run(tmp_path / "plain.pt", 6, augment="")
    a, b, plain = (torch.load(state_path(tmp_path / f"{n}.pt"), weights_only=True)["model"]
                   for n in ("a", "b", "plain"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert any(not torch.allclose(a[k], plain[k]) for k in a if a[k].is_floating_point())
    with pytest.raises(ValueError, match="unknown augmentation 'ink'; choose one of strokes"):
        run(tmp_path / "c.pt", 2, augment="ink")
    photos = tiny_dataset(12, 6, 28, seed=1)
    photos = replace(photos, images=photos.images[:, :, None].expand(-1, -1, 3, -1, -1).contiguous())
    with pytest.raises(ValueError, match="is for characters, but .* holds photos"):
        train(build_method("protonet"), photos, None, replace(_config(2), augment="strokes"), tmp_path / "d.pt",
              progress=False)
    assert "augment" not in _config_key(TrainConfig())  # the runs from before it still resume


def test_resume_refuses_a_state_from_other_settings(tmp_path):
    _train(tmp_path / "a.pt", 2)
    with pytest.raises(ValueError, match="other settings"):
        train(build_method("protonet"), TRAIN, VAL, TrainConfig(way=3, shot=1, query=2, episodes=4,
                                                                val_way=3, val_query=2, val_episodes=2),
              tmp_path / "a.pt", progress=False)


def _continue(out, init, episodes, **kw):
    config = replace(_config(episodes), lr=2e-4, seed=9, init=str(init), command="stage 2")
    torch.manual_seed(0)
    return train(build_method("protonet"), TRAIN, VAL, config, out, progress=False, **kw)


def test_a_continued_run_starts_from_the_checkpoint_and_counts_both_stages(tmp_path):
    first = _train(tmp_path / "a.pt", 4)
    start, _, _ = load_method(tmp_path / "a.pt")
    start_accuracy = evaluate(start, EpisodeSet(VAL, 3, 1, 2, 4, VAL_SEED), progress=False).mean
    record = _continue(tmp_path / "b.pt", tmp_path / "a.pt", 4)
    assert record == json.loads(metrics_path(tmp_path / "b.pt").read_text())
    # the stage starts from a.pt's weights: its first validation is a.pt's own score, at episode 4
    assert record["history"][2]["step"] == 4 and record["history"][2]["val_accuracy"] == start_accuracy
    assert "start of a stage" in record["history"][2]["note"]
    assert [h["step"] for h in record["history"]] == [2, 4, 4, 6, 8]
    assert record["history"][:2] == first["history"]
    assert record["episodes_done"] == 8 and record["stage_episodes"] == 4
    assert record["train_seconds"] == pytest.approx(first["train_seconds"] + record["stage_seconds"], abs=0.11)
    assert record["init"] == {**{k: v for k, v in first.items() if k != "history"},
                              "checkpoint": str(tmp_path / "a.pt")}
    assert [h["lr"] for h in record["history"][3:]] == pytest.approx([1e-4, 5e-5])  # its own schedule
    assert training_commands(record) == ["", "stage 2"]
    assert [s["stage_episodes"] for s in training_stages(record)] == [4, 4]
    assert record["best"]["step"] in (4, 6, 8)  # the starting model too may be kept


def test_a_run_continuing_its_own_file_replaces_that_state_and_resumes_like_an_uninterrupted_run(tmp_path):
    for name in ("a", "b"):
        _train(tmp_path / f"{name}.pt", 4)
    _continue(tmp_path / "a.pt", tmp_path / "a.pt", 6)
    _continue(tmp_path / "b.pt", tmp_path / "b.pt", 4)  # interrupted...
    _continue(tmp_path / "b.pt", tmp_path / "b.pt", 6)  # ...and resumed: a.pt's stage-1 record is kept
    a = torch.load(state_path(tmp_path / "a.pt"), weights_only=True)
    b = torch.load(state_path(tmp_path / "b.pt"), weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)
    record = json.loads(metrics_path(tmp_path / "b.pt").read_text())
    assert record["episodes_done"] == 10 and record["init"]["episodes_done"] == 4
    assert [h["step"] for h in record["history"]] == [2, 4, 4, 6, 8, 10]


def _pretrained(out):
    from fsl_course.training.pretrain import PretrainConfig, pretrain

    torch.manual_seed(3)
    config = PretrainConfig(epochs=1, batch_size=16, val_way=3, val_shot=1, val_query=2, val_episodes=3,
                            command="pretrain it")
    return pretrain(build_method("baseline"), TRAIN, VAL, config, out, progress=False)


def test_a_run_can_start_from_a_pretrained_baselines_backbone(tmp_path, monkeypatch):
    pretrained = _pretrained(tmp_path / "base.pt")
    _, _, blob = load_method(tmp_path / "base.pt")
    start = build_method("protonet")
    start.backbone.load_state_dict({k[len("backbone."):]: v for k, v in blob["state_dict"].items()})
    start_accuracy = evaluate(start.eval(), EpisodeSet(VAL, 3, 1, 2, 4, VAL_SEED), progress=False).mean
    record = _continue(tmp_path / "p.pt", tmp_path / "base.pt", 4)
    # the stage starts from the baseline's backbone, scored as a Prototypical Network, at episode 0
    assert record["history"][0]["step"] == 0 and record["history"][0]["val_accuracy"] == start_accuracy
    assert "start of a stage" in record["history"][0]["note"]
    assert [h["step"] for h in record["history"]] == [0, 2, 4]  # the pretraining's epochs stay in init
    assert record["method"] == "protonet" and record["episodes_done"] == 4 == record["stage_episodes"]
    assert record["init"] == {**pretrained, "checkpoint": str(tmp_path / "base.pt")}  # whole, history too
    assert record["train_seconds"] == pytest.approx(pretrained["train_seconds"] + record["stage_seconds"],
                                                    abs=0.11)
    assert training_commands(record) == ["pretrain it", "stage 2"]
    (tmp_path / "checkpoints").mkdir()
    metrics_path(tmp_path / "checkpoints" / "p.pt").write_text(json.dumps(record))
    monkeypatch.setenv("FSL_COURSE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    with pytest.raises(ValueError, match="stages of different methods, which a notebook does not retrain; run "
                                         "its commands instead: baseline: pretrain it; then protonet: stage 2"):
        shipped_stages("p")
    # a run whose model has more than a backbone takes the backbone and keeps the rest as initialised
    torch.manual_seed(0)
    fresh = build_method("relation")
    torch.manual_seed(0)
    relation = build_method("relation")
    from fsl_course.training.episodic import start_from
    assert start_from(relation, tmp_path / "base.pt")["method"] == "baseline"
    for k, v in relation.state_dict().items():
        expected = blob["state_dict"][k] if k.startswith("backbone.") else fresh.state_dict()[k]
        torch.testing.assert_close(v, expected, rtol=0, atol=0)


def test_a_run_refuses_another_methods_checkpoint_without_the_same_backbone(tmp_path):
    _pretrained(tmp_path / "base.pt")
    config = replace(_config(2), init=str(tmp_path / "base.pt"))
    with pytest.raises(ValueError, match="holds a baseline model; a maml run cannot continue it"):
        train(build_method("maml", way=4), TRAIN, VAL, replace(config, val_way=4), tmp_path / "m.pt",
              progress=False)
    with pytest.raises(ValueError, match=r"whose backbone \(conv4, \{\}\) is not this protonet model's "
                                         r"\(conv4, \{'hidden': 8\}\)"):
        train(build_method("protonet", backbone_config={"hidden": 8}), TRAIN, VAL, config, tmp_path / "p.pt",
              progress=False)
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "p.pt").exists()


def test_a_continued_run_refuses_a_checkpoint_without_a_record(tmp_path):
    _train(tmp_path / "a.pt", 2)
    config = replace(_config(2), init=str(tmp_path / "a.pt"))
    metrics_path(tmp_path / "a.pt").unlink()
    with pytest.raises(ValueError, match="no training record beside it"):
        train(build_method("protonet"), TRAIN, VAL, config, tmp_path / "b.pt", progress=False)
    assert not (tmp_path / "b.pt").exists()


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(3)
    net = build_method("protonet")
    net.train()
    for _ in range(2):  # move the batch-norm running statistics away from their initial values
        net.backbone(torch.rand(8, 1, 28, 28))
    net.eval()
    save_checkpoint(tmp_path / "c.pt", net, Preprocess(28, invert="auto"))
    loaded, pre, blob = load_method(tmp_path / "c.pt")
    assert pre == Preprocess(28, invert="auto") and blob["method"] == "protonet"
    ep = EpisodeSet(VAL, 3, 2, 2, 1, seed=0)[0]
    with torch.no_grad():
        assert torch.equal(net.scores(ep.support, ep.support_labels, ep.query),
                           loaded.scores(ep.support, ep.support_labels, ep.query))


class Evil:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_loading_refuses_pickled_code_and_foreign_files(tmp_path):
    torch.save({"format": 1, "method": "protonet", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="is not an fsl_course checkpoint: it could not be read as one"):
        read_checkpoint(tmp_path / "evil.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.pt is not an fsl_course checkpoint: it could not be read as one"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an fsl_course checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        fsl_course.load_classifier(tmp_path / "missing.pt")


def test_confidence_interval_formula():
    accs = torch.tensor([1.0, 0.8, 0.9, 0.7])
    mean, ci = confidence_interval(accs)
    std = math.sqrt(sum((a - 0.85) ** 2 for a in [1.0, 0.8, 0.9, 0.7]) / 3)
    assert mean == pytest.approx(85.0)
    assert ci == pytest.approx(100 * 1.96 * std / 2)
    assert str(EvalResult(accs, 1.0)) == f"85.00 ± {ci:.2f} %"


class Oracle(torch.nn.Module):
    """Scores queries by copying pixel (0,0), which tiny_dataset sets to the class index."""

    def __init__(self, classes_of_episode):
        super().__init__()
        self.lookup = classes_of_episode

    def scores(self, support, support_labels, query):
        cls = (query[:, 0, 0, 0] * 255).round().long()
        return (cls[:, None] == self.lookup[None, :]).float()


def test_evaluate_counts_correct_queries_and_restores_mode():
    episodes = EpisodeSet(VAL, 3, 1, 2, 5, seed=0)
    perfect = Oracle(episodes.classes[0])
    perfect.train()
    first = EpisodeSet(VAL, 3, 1, 2, 1, seed=0)
    r = evaluate(perfect, first, progress=False)
    assert r.accuracies.tolist() == [1.0] and r.mean == 100.0 and not math.isnan(r.ms_per_episode)
    assert perfect.training  # evaluate() switches to eval() and back
    wrong = Oracle(episodes.classes[0].roll(1))
    assert evaluate(wrong, first, progress=False).mean == 0.0


def test_training_a_method_without_parameters_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pixel_nn has no parameters to train"):
        train(build_method("pixel_nn"), TRAIN, VAL, _config(2), tmp_path / "p.pt", progress=False)


def _shipped_records():
    """The records of the shipped few-shot models (chapter 11's image tower, kind ``photo-clip``, has its own
    command and tests)."""
    folder = fsl_course.config.checkpoints_dir()
    return sorted(p.stem for p in folder.glob("*.json")
                  if p.with_suffix(".pt").is_file() and json.loads(p.read_text()).get("kind") != "photo-clip")


@pytest.mark.parametrize("name", _shipped_records())
def test_the_shipped_settings_rebuild_each_checkpoints_config_and_method(name):
    from dataclasses import asdict

    from fsl_course.training.checkpoints import shipped_settings, shipped_stages
    from fsl_course.training.pretrain import PretrainConfig

    record = json.loads((fsl_course.config.checkpoints_dir() / f"{name}.json").read_text())
    stages = training_stages(record)
    if len({stage.get("method") for stage in stages}) > 1:  # pretrained, then meta-trained: refused, with the commands
        with pytest.raises(ValueError, match="trained in stages of different methods") as refused:
            shipped_stages(name)
        assert all(command in str(refused.value) for command in training_commands(record))
        return
    assert shipped_settings(name) == shipped_stages(name)[-1] and len(shipped_stages(name)) == len(stages)
    for i, (stage, (settings, options)) in enumerate(zip(stages, shipped_stages(name)), 1):
        config = (PretrainConfig if record["method"] == "baseline" else TrainConfig)(**settings)
        recorded = dict(stage["train"])
        which = f" (stage {i} of {len(stages)})" if len(stages) > 1 else ""
        assert config.command == f"the settings of checkpoints/{name}.pt{which}, made by: {recorded.pop('command')}"
        rebuilt = asdict(config)
        assert {k: rebuilt[k] for k in recorded} == recorded
        # older records lack these: fields added since, whose defaults are what those runs did
        assert set(rebuilt) - set(recorded) <= {"command", "meta_batch", "init", "photo_augment", "amp", "augment"}
        assert rebuilt["amp"] == recorded.get("amp", False)
        assert rebuilt.get("augment", "") == recorded.get("augment", "")
        assert rebuilt.get("meta_batch", 1) == recorded.get("meta_batch", 1)
        assert rebuilt.get("init", "") == recorded.get("init", "")
        assert build_method(record["method"], **options).config == stage["config"]


def test_retraining_in_a_notebook_uses_the_shipped_settings_unless_told_otherwise(tmp_path, monkeypatch):
    import fsl_course.data.omniglot
    import fsl_course.training.episodic

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shipped = _config(8)
    (folder / "net.json").write_text(json.dumps({
        "method": "matching", "config": {"scale": 7.0}, "train": {**shipped.__dict__, "command": "fsl-course x"}}))
    monkeypatch.setenv("FSL_COURSE_CHECKPOINTS", str(folder))
    monkeypatch.setenv("FSL_COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FSL_COURSE_RETRAIN", "1")
    monkeypatch.delenv("FSL_COURSE_QUICK", raising=False)
    monkeypatch.setattr(fsl_course.data.omniglot, "load_omniglot", lambda split, *a, **k: TRAIN)
    seen = {}

    class Stop(Exception):
        pass

    def fake_train(method, train_data, val_data, config, out, *a, **k):
        seen.update(method=method, config=config, out=out)
        raise Stop

    monkeypatch.setattr(fsl_course.training.episodic, "train", fake_train)
    with pytest.raises(Stop):
        fsl_course.training.episodic.load_or_train("net", "matching")
    assert seen["config"].episodes == 8 and seen["config"].way == 4 and seen["config"].val_every == 2
    assert seen["config"].command == "the settings of checkpoints/net.pt, made by: fsl-course x"
    assert seen["method"].config["scale"] == 7.0
    assert seen["out"] == tmp_path / "data" / "checkpoints" / "net.pt"  # never over the shipped file
    with pytest.raises(Stop):  # settings given explicitly win
        fsl_course.training.episodic.load_or_train("net", "matching", _config(6), method_config={"scale": 3})
    assert seen["config"].episodes == 6 and seen["method"].config["scale"] == 3
    with pytest.raises(FileNotFoundError, match="pass the training settings"):
        fsl_course.training.episodic.load_or_train("missing", "matching")


def test_retraining_a_model_shipped_in_two_stages_retrains_both_the_second_continuing_the_first(tmp_path,
                                                                                                 monkeypatch):
    import fsl_course.data.omniglot
    import fsl_course.training.episodic

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    first, second = _config(8), replace(_config(6), lr=3e-4, seed=7, init="checkpoints/net.pt")
    (folder / "net.json").write_text(json.dumps({
        "method": "matching", "config": {"scale": 7.0}, "episodes_done": 14,
        "train": {**second.__dict__, "command": "fsl-course b"},
        "init": {"method": "matching", "config": {"scale": 7.0}, "episodes_done": 8,
                 "train": {**first.__dict__, "command": "fsl-course a"}}}))
    monkeypatch.setenv("FSL_COURSE_CHECKPOINTS", str(folder))
    monkeypatch.setenv("FSL_COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FSL_COURSE_RETRAIN", "1")
    monkeypatch.delenv("FSL_COURSE_QUICK", raising=False)
    monkeypatch.setattr(fsl_course.data.omniglot, "load_omniglot", lambda split, *a, **k: TRAIN)
    calls = []

    class Stop(Exception):
        pass

    def fake_train(method, train_data, val_data, config, out, *a, **k):
        calls.append((config, out))
        if len(calls) == 2:
            raise Stop

    monkeypatch.setattr(fsl_course.training.episodic, "train", fake_train)
    with pytest.raises(Stop):
        fsl_course.training.episodic.load_or_train("net", "matching")
    (c1, out1), (c2, out2) = calls
    assert (c1.episodes, c1.lr, c1.seed, c1.init) == (8, first.lr, first.seed, "")
    assert (c2.episodes, c2.lr, c2.seed) == (6, 3e-4, 7)
    assert out1 == tmp_path / "data" / "checkpoints" / "net.stage1.pt"
    assert c2.init == str(out1) and out2 == tmp_path / "data" / "checkpoints" / "net.pt"  # not the shipped file
    assert c1.command == "the settings of checkpoints/net.pt (stage 1 of 2), made by: fsl-course a"
    assert c2.command == "the settings of checkpoints/net.pt (stage 2 of 2), made by: fsl-course b"
