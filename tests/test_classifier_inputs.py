"""What a learner brings to load_classifier: files, arrays, tensors in the wrong convention, photos."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import fsl_course
from fsl_course.data.images import COLOUR_PHOTO, Preprocess, colourfulness
from fsl_course.data.runs import load_runs


@pytest.fixture(scope="module")
def run1():
    return load_runs()[0]


def test_files_arrays_pil_images_and_tensors_give_the_same_input(checkpoint, run1):
    pre = fsl_course.load_classifier(checkpoint).preprocess
    paths = run1.training[:3]
    pils = [Image.open(p) for p in paths]
    expected = pre(pils)
    torch.testing.assert_close(pre(paths), expected)
    torch.testing.assert_close(pre([str(p) for p in paths]), expected)
    torch.testing.assert_close(pre([np.asarray(im.convert("L")) for im in pils]), expected)
    torch.testing.assert_close(pre([np.asarray(im.convert("L")) / 255.0 for im in pils]), expected)
    torch.testing.assert_close(pre(paths[0]), expected[:1])  # one picture alone
    labels = ["a", "b", "c"]
    clf = fsl_course.load_classifier(checkpoint).fit(paths, labels)
    assert clf.predict([np.asarray(im.convert("RGB")) for im in pils]) == labels


def test_tensors_in_the_wrong_convention_are_refused_with_the_fix(checkpoint, run1):
    clf = fsl_course.load_classifier(checkpoint)
    to_tensor = [torch.from_numpy(np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255)[None]
                 for p in run1.training[:2]]  # what torchvision's to_tensor gives: dark ink on white
    with pytest.raises(ValueError, match=r"2 of 2 image tensors have a light background.*pass 1 - x"):
        clf.fit(torch.stack(to_tensor), ["a", "b"])
    clf.fit(1 - torch.stack(to_tensor), ["a", "b"])  # the fix the message names works
    with pytest.raises(ValueError, match=r"values in 0..1, but these reach 255.0 .*divide them by 255"):
        clf.fit((1 - torch.stack(to_tensor)) * 255, ["a", "b"])
    with pytest.raises(ValueError, match=r"go down to -1.00 \(normalised already\?\)"):
        clf.fit((1 - torch.stack(to_tensor)) * 2 - 1, ["a", "b"])
    with pytest.raises(ValueError, match=r"numpy picture must be H x W .* got shape \(2, 28, 28, 1, 1\)"):
        clf.fit([np.zeros((2, 28, 28, 1, 1))], ["a"])


def test_a_file_that_is_not_a_picture_is_named(checkpoint, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not a picture")
    with pytest.raises(ValueError, match=r"notes\.png is not a picture that can be read"):
        fsl_course.load_classifier(checkpoint).fit([bad, bad], ["a", "b"])


def _pen_on_paper(colour=(30, 40, 160), paper=(235, 230, 220)) -> Image.Image:
    img = Image.new("RGB", (200, 200), paper)
    ImageDraw.Draw(img).line([(40, 40), (160, 160), (40, 160)], fill=colour, width=6)
    return img


def test_a_colour_photo_into_a_character_model_draws_a_warning(checkpoint):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))  # a colourful picture
    assert colourfulness(photo) > COLOUR_PHOTO > colourfulness(_pen_on_paper())
    pre = fsl_course.load_classifier(checkpoint).preprocess
    with pytest.warns(UserWarning, match="colour photo .* trained on black-and-white drawings"):
        pre([photo])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pen drawing photographed on paper, or a grey picture: no warning
        pre([_pen_on_paper(), _pen_on_paper().convert("L")])


def test_photo_mode_redraws_pen_strokes_for_a_character_model(checkpoint):
    plain = fsl_course.load_classifier(checkpoint)
    photo = fsl_course.load_classifier(checkpoint, photos=True)
    assert photo.preprocess == Preprocess(28, invert="auto", crop=True) and not plain.preprocess.crop
    x = photo.preprocess([_pen_on_paper()])[0, 0]
    assert x[0, 0] == 0 and x.max() == 1.0  # paper black, ink white at full strength
    y = plain.preprocess([_pen_on_paper()])[0, 0]
    assert y.max() < 1.0  # without photo mode, the grey paper and thin pen come through as they are
    photo_model = Preprocess(84, invert=False, channels=3)
    assert photo_model.for_photos() is photo_model  # a photo model needs no photo mode
