"""Support-set augmentation: labels and shapes kept, reproducible per seed; the pretraining shifts."""

from __future__ import annotations

import pytest
import torch

from fsl_course.data.augment import AugmentedSupport, augment_support, distortion, random_shift
from fsl_course.methods.baseline import Baseline


def strokes(n: int = 4, size: int = 28) -> torch.Tensor:
    """``n`` simple drawings: a bright bar in the middle, at a different place in each image."""
    images = torch.zeros(n, 1, size, size)
    for i in range(n):
        images[i, 0, 8 + 2 * i: 11 + 2 * i, 6:22] = 1.0
    return images


def centre_of_ink(images: torch.Tensor) -> torch.Tensor:
    """(row, column) of each image's centre of mass: ``[B, 2]``."""
    grid = torch.arange(images.shape[-1], dtype=images.dtype)
    mass = images[:, 0].sum((1, 2))
    return torch.stack([(images[:, 0].sum(2) * grid).sum(1), (images[:, 0].sum(1) * grid).sum(1)], 1) / mass[:, None]


def test_augmentation_keeps_labels_and_shapes():
    support, labels = strokes(4), torch.tensor([0, 1, 0, 1])
    images, new_labels = augment_support(support, labels, copies=3, seed=0)
    assert images.shape == (16, 1, 28, 28) and images.dtype == support.dtype
    assert new_labels.tolist() == [0, 1, 0, 1] * 4
    assert torch.equal(images[:4], support)  # the originals come first, untouched
    for copy in range(1, 4):
        block = images[4 * copy: 4 * copy + 4]
        assert not torch.equal(block, support)  # every copy is distorted...
        # ...a little: the ink stays (about as much, centred within a few pixels of where it was)
        mass = block.sum((1, 2, 3)) / support.sum((1, 2, 3))
        assert ((mass > 0.7) & (mass < 1.4)).all()
        assert (centre_of_ink(block) - centre_of_ink(support)).norm(dim=1).max() < 5
    assert images.min() >= 0 and images.max() <= 1.0 + 1e-6
    assert augment_support(support, labels, copies=0)[0].shape == support.shape


def test_augmentation_is_reproducible_per_seed_and_leaves_the_global_generator_alone():
    support, labels = strokes(3), torch.arange(3)
    torch.manual_seed(123)
    untouched = torch.rand(3)
    torch.manual_seed(123)
    a, _ = augment_support(support, labels, copies=2, seed=7)
    assert torch.equal(torch.rand(3), untouched)  # the global random state was neither reset nor consumed
    b, _ = augment_support(support, labels, copies=2, seed=7)
    assert torch.equal(a, b)
    c, _ = augment_support(support, labels, copies=2, seed=8)
    assert not torch.equal(a, c)
    # each image gets its own distortion (not one transform for the whole batch)
    same = strokes(2)[:1].repeat(2, 1, 1, 1)
    twins, _ = augment_support(same, torch.tensor([0, 1]), copies=1, seed=0)
    assert not torch.equal(twins[2], twins[3])


def test_distortion_options():
    image = strokes(1)[0]
    torch.manual_seed(0)
    assert torch.equal(distortion(rotation=0, shift=0, scale=(1, 1), shear=0, elastic=0)(image), image)
    assert len(distortion(elastic=0).transforms) == 1 and len(distortion().transforms) == 2


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="copies must be a whole number >= 0"):
        augment_support(strokes(2), torch.arange(2), copies=-1)
    with pytest.raises(ValueError, match="one label per image"):
        augment_support(strokes(2), torch.arange(3))
    with pytest.raises(ValueError, match=r"must be \[n, C, H, W\]"):
        augment_support(strokes(2)[:, 0], torch.arange(2))


def test_augmented_method_scores_with_more_shots():
    calls = []

    class Recorder(Baseline):
        def scores(self, support, support_labels, query):
            calls.append((support.clone(), support_labels.clone()))
            return super().scores(support, support_labels, query)

    torch.manual_seed(0)
    wrapped = AugmentedSupport(Recorder(backbone_config={"hidden": 8}).eval(), copies=2, seed=5)
    support, labels, query = strokes(4), torch.tensor([0, 1, 0, 1]), strokes(2)
    with torch.no_grad():
        scores = wrapped.scores(support, labels, query)
        wrapped.scores(support, labels, query)
    assert scores.shape == (2, 2)
    assert calls[0][0].shape == (12, 1, 28, 28) and calls[0][1].tolist() == [0, 1, 0, 1] * 3
    assert torch.equal(calls[0][0], augment_support(support, labels, 2, seed=5)[0])
    assert torch.equal(calls[1][0], augment_support(support, labels, 2, seed=6)[0])  # next call, next seed


def test_random_shift_moves_each_image_within_the_limit():
    images = torch.zeros(50, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0  # one bright pixel in the centre
    g = torch.Generator().manual_seed(0)
    shifted = random_shift(images, 2, g)
    assert shifted.shape == images.shape
    assert torch.equal(shifted.sum((1, 2, 3)), torch.ones(50))  # the pixel is moved, not lost
    where = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = where // 9, where % 9
    assert (rows - 4).abs().max() <= 2 and (cols - 4).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # many different shifts
    assert torch.equal(random_shift(images, 2, torch.Generator().manual_seed(0)), shifted)
    assert random_shift(images, 0) is images


def test_photo_augmentation_draws_per_image_from_the_seed_alone():
    from fsl_course.data.augment import augment_batch, photo_augmentation

    g = torch.Generator().manual_seed(0)
    photos = torch.randint(0, 256, (6, 3, 84, 84), dtype=torch.uint8, generator=g)
    t = photo_augmentation(84)
    state = torch.get_rng_state()
    a, b = augment_batch(photos, t, seed=3), augment_batch(photos, t, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    assert torch.equal(a, b) and a.shape == photos.shape and a.dtype == torch.uint8
    assert not torch.equal(a, augment_batch(photos, t, seed=4))
    # every image gets its own draw: the same picture six times comes out in several different ways
    same = photos[:1].expand(6, -1, -1, -1).contiguous()
    out = augment_batch(same, t, seed=0)
    assert len({o.numpy().tobytes() for o in out}) > 1
    # a flip alone is exactly a mirror image
    from torchvision.transforms import v2
    flipped = augment_batch(photos, v2.RandomHorizontalFlip(p=1.0), seed=0)
    assert torch.equal(flipped, photos.flip(-1))


# ---- augment_strokes: other pens and scanners, for episodic training on characters -------------------------------

def test_stroke_augmentation_with_nothing_drawn_is_the_identity():
    from fsl_course.data.augment import augment_strokes

    images = strokes()
    same = augment_strokes(images, torch.Generator().manual_seed(0), p_width=0, p_blur=0, scale=(1, 1), shift=0)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)


def test_thicker_strokes_are_a_3x3_maximum_and_blur_a_normalised_3x3_gaussian():
    from fsl_course.data.augment import augment_strokes

    dot = torch.zeros(1, 1, 9, 9)
    dot[0, 0, 4, 4] = 1.0
    thick = augment_strokes(dot, torch.Generator().manual_seed(0), p_width=1, p_blur=0, scale=(1, 1), shift=0)
    expected = torch.zeros(1, 1, 9, 9)
    expected[0, 0, 3:6, 3:6] = 1.0
    torch.testing.assert_close(thick, expected, atol=1e-5, rtol=0)
    blurred = augment_strokes(dot, torch.Generator().manual_seed(0), p_width=0, p_blur=1, scale=(1, 1), shift=0)
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-5)  # ink is spread, not lost
    kernel = blurred[0, 0, 3:6, 3:6]
    assert blurred[0, 0].count_nonzero() == 9 and kernel.argmax() == 4
    torch.testing.assert_close(kernel, kernel.T)  # separable and symmetric: the same along both axes
    torch.testing.assert_close(kernel[1, 1] * kernel[0, 0], kernel[0, 1] ** 2)  # outer product of one 1-d gaussian


def test_scale_and_shift_move_the_ink_as_asked():
    from fsl_course.data.augment import augment_strokes

    images = strokes()
    g = torch.Generator().manual_seed(3)
    moved = augment_strokes(images, g, p_width=0, p_blur=0, scale=(1, 1), shift=0.2)
    shift = (centre_of_ink(moved) - centre_of_ink(images)).abs()
    assert (shift <= 0.2 * 28 + 1).all() and (shift > 0.5).any()
    small = augment_strokes(images, g, p_width=0, p_blur=0, scale=(0.5, 0.5), shift=0)
    assert (small.sum((1, 2, 3)) < 0.4 * images.sum((1, 2, 3))).all()  # half the size: a quarter of the ink
    assert small.min() >= 0 and small.max() <= 1


def test_stroke_augmentation_is_per_image_and_reproducible_from_its_generator():
    from fsl_course.data.augment import augment_strokes

    images = strokes().repeat(8, 1, 1, 1)
    a = augment_strokes(images, torch.Generator().manual_seed(7))
    b = augment_strokes(images, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a[0], a[len(strokes())])  # the same image, drawn twice: two different draws
    with pytest.raises(ValueError, match="images must be float"):
        augment_strokes(images.to(torch.uint8), torch.Generator())
    with pytest.raises(ValueError, match="scale"):
        augment_strokes(images, torch.Generator(), scale=(1.2, 0.8))
