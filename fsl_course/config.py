"""Where things live and how the course runs: data and checkpoint folders, quick mode, device, seeding.

Every setting has an environment variable, so notebooks, the CLI and CI agree without extra arguments:

==========================  =====================================================================
``FSL_COURSE_DATA``         data folder (default: ``~/.cache/fsl_course``)
``FSL_COURSE_CHECKPOINTS``  checkpoints folder (default: ``checkpoints/`` of this repository)
``FSL_COURSE_QUICK=1``      quick mode: notebooks train a handful of steps and evaluate few episodes
``FSL_COURSE_RETRAIN=1``    notebooks retrain from scratch instead of loading shipped checkpoints
``FSL_COURSE_DEVICE``       ``cpu``, ``cuda`` or ``mps`` (default: the best one available)
==========================  =====================================================================
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def data_dir() -> Path:
    """The folder that holds downloaded data sets and their decoded caches."""
    env = os.environ.get("FSL_COURSE_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fsl_course"


def checkpoints_dir() -> Path:
    """The folder of trained checkpoints (the shipped ones live in the repository's ``checkpoints/``)."""
    env = os.environ.get("FSL_COURSE_CHECKPOINTS")
    return Path(env).expanduser() if env else REPO_ROOT / "checkpoints"


def quick_mode() -> bool:
    """True when ``FSL_COURSE_QUICK=1``: train a few steps and evaluate a few episodes (used by CI)."""
    return _flag("FSL_COURSE_QUICK")


def retrain() -> bool:
    """True when ``FSL_COURSE_RETRAIN=1``: notebooks train from scratch instead of loading checkpoints."""
    return _flag("FSL_COURSE_RETRAIN")


def pick(full, quick):
    """``quick`` in quick mode, else ``full``: how notebooks size their experiments."""
    return quick if quick_mode() else full


def get_device(preferred: str | None = None) -> torch.device:
    """The device to compute on: ``preferred`` or ``FSL_COURSE_DEVICE`` if set, else CUDA, then MPS, then CPU."""
    name = preferred or os.environ.get("FSL_COURSE_DEVICE")
    if name:
        name = name.lower()
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use 'cpu'")
        if name == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' was asked for but Apple MPS is not available; use 'cpu'")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with one call."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
