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
    assert config.get_device(" CPU ") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available; use 'cpu'"):
            config.get_device("cuda")
        with pytest.raises(ValueError, match="'cuda:1' was asked for but CUDA is not available"):
            config.get_device("cuda:1")
    with pytest.raises(ValueError, match="unknown device 'gpu': use cpu, cuda"):
        config.get_device("gpu")
    with pytest.raises(ValueError, match="'meta' is not one the course runs on"):
        config.get_device("meta")


def test_mixed_precision_on_the_cpu_is_bfloat16_and_off_changes_nothing():
    cpu = torch.device("cpu")
    assert config.amp_dtype(cpu) == torch.bfloat16
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    with config.autocast(cpu, True):
        half = a @ b
    with config.autocast(cpu, False):
        full = a @ b
    assert half.dtype == torch.bfloat16 and full.dtype == torch.float32
    assert torch.allclose(half.float(), full, atol=0.1, rtol=0.02)  # bfloat16 keeps about 3 significant digits
    assert not config.grad_scaler(cpu, True).is_enabled()  # bfloat16 needs no loss scaling
    assert config.precision(cpu, False) == "float32"
    assert config.precision(cpu, True) == "mixed bfloat16 (torch.autocast)"


def test_seed_everything_seeds_python_numpy_and_torch():
    config.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    config.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
