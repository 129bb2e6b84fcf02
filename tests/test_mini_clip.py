"""The mini-CLIP: the synthetic captioned shapes (deterministic, held-out combinations never in training), its
tokenizer, training with open_clip's ClipLoss (the loss falls), the metrics file and the CLI command."""

from __future__ import annotations

import argparse
import copy
import json

import pytest
import torch

from fsl_course.cli.clip import add_commands as add_clip_commands
from fsl_course.clip import mini, synthetic

#: even smaller towers than the shipped ones, so training in a test takes seconds
TEST_MODEL = copy.deepcopy(mini.MINI_CONFIG)
TEST_MODEL["embed_dim"] = 32
TEST_MODEL["vision_cfg"].update(image_size=24, width=32, layers=1, head_width=16)
TEST_MODEL["text_cfg"].update(width=32, heads=2, layers=1)


def tiny_config(**kw) -> mini.MiniClipConfig:
    base = {"steps": 40, "batch_size": 48, "lr": 3e-3, "warmup": 5, "log_every": 5, "eval_images": 40,
            "model": TEST_MODEL}
    return mini.MiniClipConfig(**{**base, **kw})


# --- the synthetic data set -------------------------------------------------------------------------------------

def test_shapes_are_deterministic_per_seed():
    a, b = synthetic.make_shapes(30, seed=3), synthetic.make_shapes(30, seed=3)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    c = synthetic.make_shapes(30, seed=4)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (30, 3, synthetic.IMAGE_SIZE, synthetic.IMAGE_SIZE)
    assert 0 <= float(a.images.min()) and float(a.images.max()) <= 1


def test_held_out_combinations_never_occur_in_training_part():
    held = set(synthetic.HELD_OUT)
    assert ("green", "triangle") in held
    train = synthetic.make_shapes(3000, seed=0, split="train")
    assert not any((a.colour, a.shape) in held for a in train.attributes)
    assert not any(c.startswith("green triangle") or "green triangle" in c for c in train.captions)
    test = synthetic.make_shapes(300, seed=0, split="held_out")
    assert all((a.colour, a.shape) in held for a in test.attributes)
    assert {a.combination for a in test.attributes} == {f"{c} {s}" for c, s in held}
    tr, te = synthetic.split_attributes()
    assert not set(tr) & set(te) and len(tr) + len(te) == len(synthetic.all_attributes())
    # every colour and every shape still occurs in training, only not in these pairings
    assert {a.colour for a in tr} == set(synthetic.COLOURS) and {a.shape for a in tr} == set(synthetic.SHAPES)
    with pytest.raises(ValueError, match="unknown split"):
        synthetic.make_shapes(3, split="test")
    with pytest.raises(ValueError, match="unknown held-out"):
        synthetic.split_attributes([("mauve", "triangle")])


def test_captions_and_templates():
    a = synthetic.Attributes("red", "triangle", "small", "at the top")
    assert a.caption == "a small red triangle at the top" and a.combination == "red triangle"
    templates = synthetic.caption_templates()
    assert len(templates) == len(synthetic.SIZES) * len(synthetic.POSITIONS)
    assert {t.format(a.combination) for t in templates} == {
        b.caption for b in synthetic.all_attributes() if b.combination == "red triangle"}


def test_training_batches_hold_distinct_training_captions(monkeypatch):
    seen = []
    real_render = synthetic.render

    def spy(attrs, *args, **kwargs):
        seen.append(list(attrs))
        return real_render(attrs, *args, **kwargs)

    monkeypatch.setattr(synthetic, "render", spy)
    cfg = tiny_config(steps=3, batch_size=500)
    model, tok = mini.build_from_config(cfg)
    mini.train_steps(model, tok, cfg, progress=False)
    train, _ = synthetic.split_attributes()
    for batch in seen:
        assert len(batch) == len(train) == len(set(batch))  # capped at the number of training captions
        assert not any(synthetic.is_held_out(a) for a in batch)


# --- tokenizer ---------------------------------------------------------------------------------------------------

def test_caption_tokenizer_covers_held_out_captions_and_marks_unknown_words():
    tok = mini.mini_tokenizer()
    _, held = synthetic.split_attributes()
    ids = tok([a.caption for a in held])
    assert ids.shape == (len(held), mini.MINI_CONFIG["text_cfg"]["context_length"])
    assert not (ids == mini.UNKNOWN).any()  # held-out captions use only words seen in training
    assert (ids.argmax(1) == (ids != 0).sum(1) - 1).all()  # end mark: the largest id, read by the text tower
    assert int(ids.max()) == tok.vocab_size - 1
    assert tok.decode(tok(["a small green triangle at the top"])[0]) == "a small green triangle at the top"
    assert (tok(["a mauve hexagon"]) == mini.UNKNOWN).sum() >= 2


# --- training -----------------------------------------------------------------------------------------------------

def test_contrastive_loss_falls():
    # the shipped towers, a short run with the recipe's gentle warm-up (a hasty start can stall at log(batch))
    cfg = mini.MiniClipConfig(steps=120, batch_size=32, warmup=40, log_every=10, eval_images=40)
    model, tok = mini.build_from_config(cfg)
    scale0 = model.logit_scale.exp().item()
    history = mini.train_steps(model, tok, cfg, progress=False)
    losses = [h["loss"] for h in history]
    assert len(losses) == 12 and [h["step"] for h in history][-1] == 120
    assert losses[0] > 3.0  # about log(32) at the start: guessing
    assert sum(losses[-2:]) / 2 < 0.6 * sum(losses[:2]) / 2
    assert model.logit_scale.exp().item() != pytest.approx(scale0)  # the temperature is learned
    assert model.logit_scale.exp().item() <= 100.0 + 1e-4


def test_train_mini_clip_writes_metrics_and_weights(tmp_path):
    out = tmp_path / "mini_clip.json"
    record = mini.train_mini_clip(out, tiny_config(steps=8), progress=False, command="test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini_clip.json", "mini_clip.pt"]  # no leftovers
    saved = json.loads(out.read_text())
    m = saved["metrics"]
    for key in ("held_out_accuracy", "chance", "seen_accuracy", "held_out_among_held_out", "retrieval_r1"):
        assert 0.0 <= m[key] <= 1.0
    assert m["chance"] == pytest.approx(1 / len(synthetic.combinations()))
    assert saved["command"] == "test" and saved["train_seconds"] > 0 and len(saved["history"]) >= 1
    assert record["metrics"] == m
    clip, blob = mini.load_mini_clip(mini.weights_path(out))
    assert clip.trained and blob["metrics"] == m
    fresh = mini.zero_shot_report(clip, n_images=40)  # the saved weights reproduce the saved metrics
    assert fresh["held_out_accuracy"] == pytest.approx(m["held_out_accuracy"])
    with pytest.raises(FileNotFoundError, match="fsl-course mini-clip"):
        mini.load_mini_clip(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable mini-CLIP"):
        mini.load_mini_clip(tmp_path / "bad.pt")


def test_cli_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mini, "MINI_CONFIG", TEST_MODEL)
    parser = argparse.ArgumentParser(prog="fsl-course")
    add_clip_commands(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "m.json"
    args = parser.parse_args(["mini-clip", "--out", str(out), "--steps", "3", "--batch-size", "16",
                              "--eval-images", "20", "--threads", "1", "--no-progress"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "zero-shot on held-out combinations" in text and "chance" in text
    assert json.loads(out.read_text())["config"]["steps"] == 3 and (tmp_path / "m.pt").is_file()


def test_shipped_results_match_their_weights():
    """results/mini_clip.json is what results/mini_clip.pt does: the bar of the issue, re-measured on fresh images."""
    if not (mini.DEFAULT_OUT.is_file() and mini.weights_path(mini.DEFAULT_OUT).is_file()):
        pytest.skip("no shipped mini-CLIP results (train them with `fsl-course mini-clip`)")
    record = mini.read_metrics()
    m = record["metrics"]
    assert m["held_out_accuracy"] >= 0.8 and m["chance"] == pytest.approx(1 / len(synthetic.combinations()))
    assert record["train_seconds"] < 300 and record["config"]["steps"] == mini.MiniClipConfig().steps
    clip, blob = mini.load_mini_clip()
    assert blob["metrics"] == m
    test = synthetic.make_shapes(200, seed=99, split="held_out")
    probs = mini.combination_probabilities(clip, clip.encode_images(test.images))
    assert mini.accuracy(probs.argmax(1), test.combinations, synthetic.combinations()) >= 0.8
