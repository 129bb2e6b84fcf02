"""load_classifier: raw PNGs and tensors in, any hashable labels out, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import fsl_course
from fsl_course.data.images import Preprocess
from fsl_course.data.runs import load_runs


@pytest.fixture(scope="module")
def run1():
    return load_runs()[0].images()


def test_raw_omniglot_pngs_go_straight_in(checkpoint, run1):
    training, _ = run1
    assert training[0].size == (105, 105)
    labels = [f"character {i}" for i in range(20)]
    clf = fsl_course.load_classifier(checkpoint).fit(training, labels)
    # each support image is nearest to itself: the prediction is its own label
    assert clf.predict(training) == labels
    proba = clf.predict_proba(training[:3])
    assert proba.shape == (3, 20) and clf.classes_ == labels
    torch.testing.assert_close(proba.sum(1), torch.ones(3))


def test_any_hashable_labels_and_tensor_inputs(checkpoint, run1):
    training, _ = run1
    pre = Preprocess(28, invert="auto")
    tensors = [pre.pil_to_uint8(im) for im in training[:4]]  # uint8 [28, 28], ink bright
    labels = [("a", 1), 7, "seven", None]
    clf = fsl_course.load_classifier(checkpoint).fit(tensors, labels)
    assert clf.predict(torch.stack(tensors)[:, None].float() / 255) == labels
    assert clf.predict(training[:4]) == labels  # the same drawings as raw PIL images


def test_preprocessing_inverts_light_backgrounds_only():
    pre = Preprocess(8, invert="auto")
    ink_on_paper = np.full((32, 32), 255, np.uint8)
    ink_on_paper[8:24, 12:20] = 0
    a = pre.pil_to_uint8(Image.fromarray(ink_on_paper))
    b = pre.pil_to_uint8(Image.fromarray(255 - ink_on_paper))
    assert torch.equal(a, b) and a[0, 0] == 0 and a.max() > 200
    rgb = Image.fromarray(np.stack([ink_on_paper] * 3, -1))
    assert torch.equal(pre.pil_to_uint8(rgb), a)


def test_errors_are_clear(checkpoint, run1):
    training, _ = run1
    clf = fsl_course.load_classifier(checkpoint)
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(support_images, support_labels\)"):
        clf.predict(training[:1])
    with pytest.raises(ValueError, match="got 3 support images but 2 labels"):
        clf.fit(training[:3], ["a", "b"])
    with pytest.raises(ValueError, match="only one class \\('a'\\)"):
        clf.fit(training[:3], ["a", "a", "a"])
    with pytest.raises(FileNotFoundError, match="no picture file at image.png"):
        clf.fit(["image.png", "other.png"], ["a", "b"])
    with pytest.raises(TypeError, match="expected PIL images, file paths, numpy arrays or torch tensors, got int"):
        clf.fit([1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="greyscale"):
        clf.fit(torch.zeros(2, 3, 28, 28), ["a", "b"])


def test_fit_does_not_change_the_model(checkpoint, run1):
    training, test = run1
    clf = fsl_course.load_classifier(checkpoint)
    before = {k: v.clone() for k, v in clf.method.state_dict().items()}
    clf.fit(training, list(range(20))).predict(test)
    after = clf.method.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
