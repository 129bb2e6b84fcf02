"""Configuration: folders from the environment, quick mode, device choice, one-call seeding."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from fsl_course import config


def test_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FSL_COURSE_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("FSL_COURSE_CHECKPOINTS", str(tmp_path / "c"))
    assert config.data_dir() == tmp_path / "d" and config.checkpoints_dir() == tmp_path / "c"
    monkeypatch.delenv("FSL_COURSE_DATA")
    monkeypatch.delenv("FSL_COURSE_CHECKPOINTS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert config.data_dir() == tmp_path / "cache" / "fsl_course"
    assert config.checkpoints_dir() == Path(config.__file__).resolve().parent.parent / "checkpoints"


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode_and_pick(monkeypatch, value, expected):
    monkeypatch.setenv("FSL_COURSE_QUICK", value)
    assert config.quick_mode() is expected
    assert config.pick(1000, 10) == (10 if expected else 1000)


def test_device_choice(monkeypatch):
    monkeypatch.delenv("FSL_COURSE_DEVICE", raising=False)
    assert config.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("FSL_COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available; use 'cpu'"):
            config.get_device("cuda")


def test_seed_everything_seeds_python_numpy_and_torch():
    config.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    config.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
