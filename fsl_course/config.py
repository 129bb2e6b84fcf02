"""Where things live and how the course runs: data and checkpoint folders, quick mode, device, seeding.

Every setting has an environment variable, so notebooks, the CLI and CI agree without extra arguments:

==========================  =====================================================================
``FSL_COURSE_DATA``         data folder (default: ``~/.cache/fsl_course``)
``FSL_COURSE_CHECKPOINTS``  checkpoints folder (default: ``checkpoints/`` of this repository)
``FSL_COURSE_QUICK=1``      quick mode: notebooks train a handful of steps and evaluate few episodes
``FSL_COURSE_RETRAIN=1``    notebooks retrain from scratch instead of loading shipped checkpoints
``FSL_COURSE_DEVICE``       ``cpu``, ``cuda`` (``cuda:N``) or ``mps`` (default: the best one available)
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


class DeviceError(ValueError):
    """A device that was asked for (``--device``, ``FSL_COURSE_DEVICE``) but is not there or not known."""


def get_device(preferred: str | None = None) -> torch.device:
    """The device to compute on: ``preferred`` or ``FSL_COURSE_DEVICE`` if set, else CUDA, then MPS, then CPU."""
    name = preferred or os.environ.get("FSL_COURSE_DEVICE")
    if name:
        name = name.strip().lower()
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"unknown device {name!r}: use cpu, cuda (or cuda:N for the N-th GPU) or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} was asked for but CUDA is not available; use 'cpu'")
        if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceError("device 'mps' was asked for but Apple MPS is not available; use 'cpu'")
        if device.type not in ("cpu", "cuda", "mps"):
            raise DeviceError(f"device {name!r} is not one the course runs on: use cpu, cuda or mps")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device) -> torch.dtype:
    """The half-precision type of mixed precision (``--amp``) on ``device``: bfloat16 on CPUs and on GPUs that
    have it (Ampere and later), which needs no loss scaling; float16 on older GPUs (Colab's T4, for one), whose
    gradients are then scaled (:func:`grad_scaler`)."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16


def autocast(device, enabled: bool = True):
    """The context in which a forward pass runs in mixed precision on ``device`` (``torch.autocast`` with
    :func:`amp_dtype`): matrix products and convolutions in half precision, reductions and the loss in float32.
    ``enabled=False`` gives a context that changes nothing, so one code path serves both."""
    device = torch.device(device)
    return torch.autocast(device_type=device.type, dtype=amp_dtype(device), enabled=enabled)


def grad_scaler(device, enabled: bool = True) -> torch.amp.GradScaler:
    """The gradient scaler of a mixed-precision run: active only for float16 (whose small gradients would
    underflow), a pass-through otherwise (``scale(loss)`` is ``loss``, ``step(opt)`` is ``opt.step()``)."""
    device = torch.device(device)
    return torch.amp.GradScaler(device.type, enabled=enabled and amp_dtype(device) == torch.float16)


def precision(device, amp: bool) -> str:
    """How a run computed, for its record: ``"float32"``, or the mixed precision that ``--amp`` gave."""
    if not amp:
        return "float32"
    dtype = str(amp_dtype(device)).removeprefix("torch.")
    return f"mixed {dtype} (torch.autocast{', gradient scaling' if dtype == 'float16' else ''})"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with one call."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
