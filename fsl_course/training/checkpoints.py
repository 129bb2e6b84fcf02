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
    the metrics file beside it (of its last stage, when it was trained in several: :func:`shipped_stages`). The
    notebooks retrain with these (``FSL_COURSE_RETRAIN=1``), so a retrained model is made the way the shipped one
    was; its recorded command says where the settings came from."""
    return shipped_stages(name)[-1]


def shipped_stages(name: str) -> list[tuple[dict, dict]]:
    """``(training settings, method options)`` of each stage that made ``checkpoints/NAME.pt``, earliest first:
    one for a model trained in one run, more for a run that continued another (``fsl-course train --init``)."""
    from fsl_course.config import checkpoints_dir
    from fsl_course.io import read_json

    path = checkpoints_dir() / f"{name}.json"
    record = read_json(path)
    if record is None:
        raise FileNotFoundError(f"no record of a shipped checkpoint at {path}: pass the training settings "
                                "(a TrainConfig or PretrainConfig) yourself")
    chain = training_stages(record)
    methods = [stage.get("method") for stage in chain]
    if len(set(methods)) > 1:  # e.g. a backbone pretrained as a baseline, then meta-trained (train --init)
        steps = "; then ".join(f"{m}: {c}" for m, c in zip(methods, training_commands(record)))
        raise ValueError(f"checkpoints/{name}.pt was trained in stages of different methods, which a notebook "
                         f"does not retrain; run its commands instead: {steps}")
    out = []
    for i, stage in enumerate(chain, 1):
        train = dict(stage["train"])
        which = f" (stage {i} of {len(chain)})" if len(chain) > 1 else ""
        train["command"] = f"the settings of checkpoints/{name}.pt{which}, made by: {train.get('command', '?')}"
        out.append((train, stage["config"]))
    return out


def training_stages(record: dict) -> list[dict]:
    """The records of the stages of a training record, earliest first (a run continuing another keeps that
    one's record as ``init``); each gets ``stage_episodes``, the episodes of that stage alone."""
    chain = []
    while record:
        chain.append(dict(record))
        record = record.get("init")
    chain.reverse()
    done = 0
    for stage in chain:
        total = stage.get("episodes_done", 0)
        stage["stage_episodes"], done = total - done, total
    return chain


def training_commands(record: dict) -> list[str]:
    """The commands that made a model, earliest first (more than one for a model trained in stages)."""
    return [stage["train"]["command"] for stage in training_stages(record)]


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file (torch's own message would advise weights_only=False)
        raise ValueError(f"{path} is not an fsl_course checkpoint: it could not be read as one "
                         f"({type(e).__name__}); give a .pt file written by fsl-course train or pretrain") from e
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
