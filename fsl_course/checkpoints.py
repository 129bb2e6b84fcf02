"""Saving and loading checkpoints: written atomically, read with ``weights_only=True``.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts) so it loads safely:
``method`` and ``config`` rebuild the model, ``state_dict`` holds its weights, ``preprocess`` says how raw
pictures become its input, and ``metrics`` / ``history`` record how it was made.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fsl_course.data.images import Preprocess
from fsl_course.io import atomic_torch_save
from fsl_course.methods import FewShotMethod, build_method

FORMAT = 1


def save_checkpoint(path: Path, method: FewShotMethod, preprocess: Preprocess, **extra) -> None:
    blob = {
        "format": FORMAT,
        "method": method.name,
        "config": method.config,
        "state_dict": {k: v.detach().cpu() for k, v in method.state_dict().items()},
        "preprocess": preprocess.to_dict(),
        **extra,
    }
    atomic_torch_save(blob, Path(path))


def shipped_settings(name: str) -> tuple[dict, dict]:
    """How the shipped ``checkpoints/NAME.pt`` was trained: ``(training settings, method options)``, read from
    the metrics file beside it. The notebooks retrain with these (``FSL_COURSE_RETRAIN=1``), so a retrained
    model is made the way the shipped one was; its recorded command says where the settings came from."""
    from fsl_course.config import checkpoints_dir
    from fsl_course.io import read_json

    path = checkpoints_dir() / f"{name}.json"
    record = read_json(path)
    if record is None:
        raise FileNotFoundError(f"no record of a shipped checkpoint at {path}: pass the training settings "
                                "(a TrainConfig or PretrainConfig) yourself")
    train = dict(record["train"])
    train["command"] = f"the settings of checkpoints/{name}.pt, made by: {train.get('command', '?')}"
    return train, record["config"]


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable fsl_course checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or "method" not in blob:
        raise ValueError(f"{path} is not an fsl_course checkpoint (format {FORMAT})")
    return blob


def load_method(path) -> tuple[FewShotMethod, Preprocess, dict]:
    """Rebuild a method from a checkpoint: ``(method in eval mode, its preprocessing, the whole dict)``."""
    blob = read_checkpoint(path)
    method = build_method(blob["method"], **blob["config"])
    method.load_state_dict(blob["state_dict"])
    method.eval()
    return method, Preprocess.from_dict(blob["preprocess"]), blob
