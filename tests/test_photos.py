"""Photos through a checkpoint: its preprocessing takes a picture of any size and mode to what it was trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import fsl_course
from fsl_course.data.dataset import FewShotDataset
from fsl_course.data.images import Preprocess
from fsl_course.methods import build_method
from fsl_course.training.checkpoints import save_checkpoint


def _photo(colour, size, mode):
    rgb = Image.new("RGB", size, colour)
    if mode == "P":  # an adaptive palette keeps the colour exact (the default web palette dithers it)
        return rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    return rgb if mode == "RGB" else rgb.convert(mode)


def test_rgb_preprocessing_resizes_the_whole_picture_and_keeps_colour():
    pre = Preprocess(image_size=84, invert=False, channels=3)
    for size in ((84, 84), (500, 375), (31, 64)):
        for mode in ("RGB", "RGBA", "L", "P", "CMYK"):
            x = pre([_photo((200, 40, 10), size, mode)])
            assert x.shape == (1, 3, 84, 84) and x.dtype == torch.float32, (size, mode)
            rgb = np.asarray(_photo((200, 40, 10), size, mode).convert("RGB"), dtype=np.float32)[0, 0] / 255
            torch.testing.assert_close(x[0, :, 40, 40], torch.from_numpy(rgb), atol=2 / 255, rtol=0)
    # a tensor already in the convention (RGB, 0..1 or uint8) is taken as it is, resized if needed
    t = torch.rand(3, 84, 84)
    torch.testing.assert_close(pre(t)[0], t)
    assert pre(torch.zeros(2, 3, 100, 100, dtype=torch.uint8)).shape == (2, 3, 84, 84)
    with pytest.raises(ValueError, match=r"\[3, H, W\] or \[B, 3, H, W\] RGB; got shape \(1, 84, 84\)"):
        pre(torch.zeros(1, 84, 84))
    with pytest.raises(ValueError, match="channels must be 1 .* or 3"):
        Preprocess(channels=4)


def test_a_photo_checkpoint_classifies_raw_pictures_of_any_size(tmp_path):
    """A ProtoNet on (untrained) RGB Conv-4, saved with a photo set's preprocessing: pictures whose class is their
    colour are told apart from one raw support photo each, whatever their size and mode."""
    torch.manual_seed(0)
    data = FewShotDataset("colours", torch.zeros(2, 1, 3, 84, 84, dtype=torch.uint8), ["a", "b"])
    method = build_method("protonet", backbone_config=data.backbone_config())
    save_checkpoint(tmp_path / "photo.pt", method, data.preprocess())
    clf = fsl_course.load_classifier(tmp_path / "photo.pt")
    assert clf.preprocess == Preprocess(image_size=84, invert=False, crop=False, channels=3)
    colours = {"red": (220, 20, 20), "green": (20, 200, 40), "blue": (30, 30, 220)}
    clf.fit([_photo(c, (320, 240), "RGB") for c in colours.values()], list(colours))
    queries = [(_photo(c, size, mode), name) for name, c in colours.items()
               for size, mode in (((64, 64), "RGBA"), ((1000, 50), "RGB"), ((84, 84), "P"))]
    assert clf.predict([q for q, _ in queries]) == [name for _, name in queries]
    assert clf.predict_proba([q for q, _ in queries]).shape == (9, 3)


def test_pretraining_on_photos_with_augmentation_resumes_to_the_same_model(tmp_path, monkeypatch):
    """The transfer baseline on a small RGB set, with photo augmentation: a run interrupted after its first
    epoch and resumed ends with exactly the weights of the uninterrupted run, since every draw comes from seeds."""
    from fsl_course.methods.baseline import Baseline
    from fsl_course.training import pretrain as P

    g = torch.Generator().manual_seed(0)
    data = FewShotDataset("rgb", torch.randint(0, 256, (4, 6, 3, 16, 16), dtype=torch.uint8, generator=g),
                          list("abcd"))
    config = P.PretrainConfig(epochs=2, batch_size=8, lr=1e-2, val_way=2, val_shot=1, val_query=2,
                              val_episodes=2, photo_augment=True)
    options = {"backbone_config": {**data.backbone_config(), "hidden": 4}}

    def run(out):
        torch.manual_seed(0)  # the same initial weights
        return P.pretrain(Baseline(**options), data, data, config, out, progress=False)

    whole = run(tmp_path / "whole.pt")

    evaluate, calls = P.evaluate, []

    def interrupted(*args, **kwargs):  # validation runs twice an epoch (5-shot, 1-shot): stop in epoch 2's
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(P, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split.pt")
    monkeypatch.setattr(P, "evaluate", evaluate)
    again = run(tmp_path / "split.pt")
    assert again["epochs_done"] == 2 and again["train"]["photo_augment"] is True
    a = torch.load(tmp_path / "whole.state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split.state.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in again["history"]] == [h["train_loss"] for h in whole["history"]]
    assert whole["preprocess"]["channels"] == 3


def test_a_data_set_as_another_model_sees_it():
    # photos -> a character model: greyscale by PIL's weights (L = 0.299 R + 0.587 G + 0.114 B), resized, no inversion
    photos = torch.zeros(2, 3, 3, 84, 84, dtype=torch.uint8)
    photos[0, :, 0], photos[0, :, 1], photos[0, :, 2] = 200, 100, 50
    photos[1] = 255
    grey = FewShotDataset("p", photos, ["a", "b"]).seen_by(Preprocess(28, invert="auto"), per_class=2)
    assert grey.images.shape == (2, 2, 28, 28) and grey.class_names == ["a", "b"]
    expected = (200 * 299 + 100 * 587 + 50 * 114 + 500) // 1000
    assert int(grey.images[0].min()) >= expected - 1 and int(grey.images[0].max()) <= expected + 1
    assert (grey.images[1] == 255).all()  # white stays white: a photo has no ink to invert
    # characters (ink bright on black) -> a photo model: dark ink on white paper in three equal channels
    chars = torch.zeros(2, 4, 28, 28, dtype=torch.uint8)
    chars[:, :, 10:18, 12:16] = 255
    rgb = FewShotDataset("c", chars, ["x", "y"]).seen_by(Preprocess(84, invert=False, channels=3))
    assert rgb.images.shape == (2, 4, 3, 84, 84) and rgb.channels == 3
    assert (rgb.images[:, :, 0] == rgb.images[:, :, 2]).all()
    assert rgb.images[0, 0, :, 0, 0].tolist() == [255] * 3 and rgb.images[0, 0, :, 42, 42].max() < 40  # ink dark
