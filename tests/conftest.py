"""Shared test fixtures. Tests never touch the network: Omniglot comes from the local source folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from fsl_course.data.omniglot import FewShotDataset

REPO = Path(__file__).resolve().parent.parent


def local_source() -> Path:
    env = os.environ.get("FSL_COURSE_OMNIGLOT_SOURCE")
    return Path(env) if env else REPO.parent / "shared" / "data" / "omniglot"


@pytest.fixture(scope="session")
def omniglot_source() -> Path:
    src = local_source()
    if not (src / "images_background_small1.zip").is_file():
        pytest.fail(f"the local Omniglot source {src} is missing; set FSL_COURSE_OMNIGLOT_SOURCE")
    return src


@pytest.fixture(autouse=True, scope="session")
def _offline_source():
    """Whatever a test downloads comes from the local source, never the internet."""
    os.environ.setdefault("FSL_COURSE_OMNIGLOT_SOURCE", str(local_source()))
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield


def tiny_dataset(n_classes: int = 6, n_per_class: int = 5, size: int = 8, seed: int = 0) -> FewShotDataset:
    """A small random data set whose image (c, i) encodes c and i in its first pixels (to trace gathers)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n_classes, n_per_class, size, size), generator=g, dtype=torch.uint8)
    images[:, :, 0, 0] = torch.arange(n_classes, dtype=torch.uint8)[:, None]
    images[:, :, 0, 1] = torch.arange(n_per_class, dtype=torch.uint8)[None, :]
    return FewShotDataset("tiny", images, [f"class{c}" for c in range(n_classes)])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained ProtoNet checkpoint with Omniglot's preprocessing (28x28, inverted where the paper is light)."""
    from fsl_course.data.images import Preprocess
    from fsl_course.methods import build_method
    from fsl_course.training.checkpoints import save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "protonet.pt"
    save_checkpoint(path, build_method("protonet"), Preprocess(28, invert="auto"))
    return path
