"""Handwriting from outside Omniglot (the ``digits`` split) and ``fsl-course outside``: the character models and
the pixel nearest neighbour, paired on the same episodes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fsl_course.cli import main
from fsl_course.data import load_split
from fsl_course.data.handwriting import load_digits_split
from fsl_course.episodes import EpisodeSet
from fsl_course.evaluation import outside
from fsl_course.evaluation.evaluate import evaluate
from fsl_course.methods import PixelNN


def test_the_digits_are_scikit_learns_every_one_in_its_class_ink_bright_and_centred():
    from sklearn.datasets import load_digits

    raw = load_digits()
    d = load_split("digits")
    assert d.name == "digits" and d.class_names == [str(k) for k in range(10)] and d.image_size == 28
    assert d.class_counts().tolist() == np.bincount(raw.target).tolist() and len(d) == len(raw.target) == 1797
    # the first digit of class 0 is scikit-learn's first 0: its 8x8 block, scaled up into the 20x20 centre box
    first = raw.images[raw.target == 0][0]
    box = d.images[0, 0, 4:24, 4:24].float()
    coarse = torch.nn.functional.adaptive_avg_pool2d(box[None, None], 8)[0, 0]  # 20x20 -> 8x8 again
    assert np.corrcoef(coarse.flatten().numpy(), first.flatten())[0, 1] > 0.9
    # only the centre box holds ink; a block of 16 ink pixels becomes (nearly) full white
    assert d.images[:, :, :4].max() == 0 and d.images[:, :, :, 24:].max() == 0
    assert d.images.max() >= 250
    # padding past a class's count stays empty, so an episode never draws it
    for c, n in enumerate(d.class_counts().tolist()):
        assert (d.images[c, n:] == 0).all() and (d.images[c, :n].flatten(1).amax(1) > 0).all()


def test_the_digits_at_another_size_and_the_refusals():
    assert load_digits_split(56).images.shape[-2:] == (56, 56)
    with pytest.raises(ValueError, match="at least 8, not 4"):
        load_digits_split(4)
    with pytest.raises(ValueError, match="'digits' is for testing only"):
        load_split("digits", rotations=True)


class Blur(PixelNN):
    """A stand-in character model: pixels after a 3x3 blur (so it differs from pixels on some episodes)."""

    def scores(self, support, support_labels, query):
        blur = lambda x: torch.nn.functional.avg_pool2d(x.float(), 3, 1, 1)  # noqa: E731
        return super().scores(blur(support), support_labels, blur(query))


def test_a_model_is_paired_with_pixels_on_the_same_episodes(monkeypatch, tmp_path):
    from fsl_course.data.images import Preprocess

    models = {"blur": Blur(), "pixels_too": PixelNN()}
    monkeypatch.setattr("fsl_course.training.checkpoints.load_method",
                        lambda path: (models[path.stem], Preprocess(image_size=28), {}))
    for name in models:
        (tmp_path / f"{name}.pt").write_bytes(b"")
    record = outside.run(["blur", "pixels_too"], settings=[(10, 1)], n_episodes=30, folder=tmp_path,
                         progress=False)
    rows = record["settings"]["10-way 1-shot"]
    # pixels again: the same accuracies, so a difference of exactly 0, within noise
    assert rows["pixels_too"]["minus_pixels"] == 0 and outside.verdict(rows["pixels_too"]) == "within noise of pixels"
    # the blur model against an independent run of both on the same fixed episodes
    episodes = EpisodeSet(load_split("digits"), 10, 1, 15, 30, 0)
    a, b = evaluate(Blur(), episodes, progress=False), evaluate(PixelNN(), episodes, progress=False)
    assert rows["blur"]["accuracy"] == round(a.mean, 3) and rows[outside.PIXELS]["accuracy"] == round(b.mean, 3)
    assert rows["blur"]["minus_pixels"] == round(a.mean - b.mean, 3)
    table = outside.markdown(record)
    assert "| `blur.pt` |" in table and "| pixel nearest neighbour |" in table and "10-way 1-shot" in table


def test_a_model_that_cannot_do_the_setting_keeps_a_dash(monkeypatch, tmp_path):
    from fsl_course.data.images import Preprocess

    class FiveWay(PixelNN):
        def unsupported(self, way, shot):
            return "a 5-way model" if way != 5 else None

    monkeypatch.setattr("fsl_course.training.checkpoints.load_method",
                        lambda path: (FiveWay(), Preprocess(image_size=28), {}))
    (tmp_path / "five.pt").write_bytes(b"")
    record = outside.run(["five"], settings=[(10, 1)], n_episodes=5, folder=tmp_path, progress=False)
    assert record["settings"]["10-way 1-shot"]["five"] == {"skipped": "a 5-way model"}
    assert "| `five.pt` | - |" in outside.markdown(record)
    assert outside.markdown(record).endswith("-: not scored: `five.pt` is a 5-way model.")


def test_bad_model_names_and_photo_models_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt does not exist: name a checkpoint"):
        outside.run(["nope"], folder=tmp_path)
    with pytest.raises(ValueError, match="baseline_mini is a model of photos"):
        outside.run(["baseline_mini"], n_episodes=2)


def test_the_shipped_record_is_complete_and_its_table_is_the_md(capsys):
    record = json.loads(outside.RESULTS_JSON.read_text())
    assert record["command"].startswith("fsl-course outside") and record["episodes"] == 1000
    assert list(record["settings"]) == ["10-way 1-shot", "10-way 5-shot"]
    for rows in record["settings"].values():
        assert set(rows) == {outside.PIXELS, *outside.MODELS}
    assert outside.RESULTS_MD.read_text() == outside.markdown(record) + "\n"


def test_the_command_writes_the_record_and_the_table(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["outside", "--models", "protonet_omniglot_1shot", "--shots", "1", "--episodes", "3",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["command"] == ("fsl-course outside --models protonet_omniglot_1shot --shots 1 --episodes 3 "
                                 f"--json {out}")
    assert (tmp_path / "o.md").read_text() == outside.markdown(record) + "\n"
    assert "protonet_omniglot_1shot.pt" in capsys.readouterr().out
