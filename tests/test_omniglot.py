"""The Omniglot splits: sizes, disjointness, rotations, decoding and the official runs."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from fsl_course.data.download import omniglot_root
from fsl_course.data.images import Preprocess
from fsl_course.data.omniglot import SPLITS, load_omniglot
from fsl_course.data.runs import load_runs, score_predictions

EXPECTED_CLASSES = {"background": 964, "evaluation": 659, "background_small1": 136, "background_small2": 156,
                    "vinyals_train": 4112, "vinyals_val": 688, "vinyals_test": 1692, "vinyals_trainval": 4800}


@pytest.mark.parametrize("split", SPLITS)
def test_split_sizes(split):
    data = load_omniglot(split, quiet=True)
    assert data.images.shape == (EXPECTED_CLASSES[split], 20, 28, 28)
    assert data.images.dtype == torch.uint8
    assert len(set(data.class_names)) == data.n_classes


def _chars(split):
    return {n.rsplit("/", 1)[0] for n in load_omniglot(split, quiet=True).class_names}


def test_vinyals_split_is_class_disjoint_and_complete():
    train, val, test = _chars("vinyals_train"), _chars("vinyals_val"), _chars("vinyals_test")
    assert (len(train), len(val), len(test)) == (1028, 172, 423)
    assert not train & val and not train & test and not val & test
    assert train | val == _chars("vinyals_trainval")
    assert len(train | val | test) == 964 + 659


def test_rotations_are_exact_quarter_turns():
    data = load_omniglot("vinyals_test", quiet=True)
    assert data.class_names[:4] == [data.class_names[0][:-3] + r for r in ("000", "090", "180", "270")]
    for k in range(1, 4):
        assert torch.equal(data.images[k], torch.rot90(data.images[0], k, dims=(-2, -1)))
    rot = load_omniglot("background", rotations=True, quiet=True)
    base = load_omniglot("background", quiet=True)
    assert rot.n_classes == 4 * base.n_classes
    assert torch.equal(rot.images[4 * 7], base.images[7])
    assert torch.equal(rot.images[4 * 7 + 2], torch.rot90(base.images[7], 2, dims=(-2, -1)))


def test_decoded_images_match_the_png_files():
    data = load_omniglot("evaluation", quiet=True)
    folder = omniglot_root() / "images_evaluation" / data.class_names[5]
    pngs = sorted(folder.glob("*.png"))
    pre = Preprocess(28, invert=True)
    with Image.open(pngs[3]) as im:
        assert torch.equal(pre.pil_to_uint8(im), data.images[5, 3])
    # ink is bright: far fewer bright than dark pixels
    assert (data.images > 127).float().mean() < 0.3


def test_unknown_split_and_bad_size_are_explained():
    with pytest.raises(ValueError, match="unknown Omniglot split 'vinyals'; choose one of"):
        load_omniglot("vinyals")
    with pytest.raises(ValueError, match="image_size must be at least 4"):
        load_omniglot("background", image_size=2)


def test_other_image_sizes_are_cached_separately():
    small = load_omniglot("background_small1", image_size=14, quiet=True)
    assert small.images.shape == (136, 20, 14, 14)
    assert (omniglot_root() / "cache" / "background_small1_14.pt").is_file()
    assert torch.equal(load_omniglot("background_small1", image_size=14, quiet=True).images, small.images)


def test_official_runs_and_scorer():
    runs = load_runs()
    assert len(runs) == 20
    for run in runs:
        assert len(run.training) == len(run.test) == 20
        assert sorted(run.answers) == list(range(20))  # each test drawing belongs to a distinct character
    perfect = score_predictions(runs, [r.answers for r in runs])
    assert perfect["error"] == 0.0 and perfect["per_run_error"] == [0.0] * 20
    shifted = [[(a + 1) % 20 for a in r.answers] for r in runs]
    half = [r.answers[:10] + s[10:] for r, s in zip(runs, shifted)]
    assert score_predictions(runs, shifted)["error"] == 100.0
    assert score_predictions(runs, half)["error"] == pytest.approx(50.0)
    # the answer key of run 1, as shipped in class_labels.txt
    assert runs[0].test[0].name == "item01.png" and runs[0].training[runs[0].answers[0]].name == "class08.png"
