"""Files written atomically: to a temporary file beside the target, then renamed into place.

A reader never sees half a file, and an interrupted write leaves the old file (or none) behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def atomic_write_bytes(path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results and caches are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_torch_save(obj, path) -> None:
    atomic_write_bytes(path, lambda f: torch.save(obj, f))


def atomic_write_json(obj, path) -> None:
    atomic_write_bytes(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def atomic_write_text(text: str, path) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def read_json(path) -> dict | None:
    """The JSON file at ``path``, or None when there is none (metrics files that a model may not have yet)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def load_tagged(path, kind: str, fmt: int, what: str, make: str) -> dict:
    """A file that a ``save_*`` function wrote as a dict with ``"kind"`` and ``"format"``, read with
    ``torch.load(weights_only=True)``; a missing, unreadable or foreign file raises an error that names ``what`` it
    should be and the command that makes one (``make``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}; make one with `{make}`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is not a readable {what} ({type(e).__name__}: {e})") from e
    if not isinstance(blob, dict) or blob.get("kind") != kind or blob.get("format") != fmt:
        raise ValueError(f"{path} is not a {what} (format {fmt}); make one with `{make}`")
    return blob
