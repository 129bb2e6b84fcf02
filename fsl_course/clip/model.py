"""Loading a CLIP model with open_clip, together with its own preprocessing and tokenizer.

``load_clip()`` gives ``ViT-B-32`` with the ``laion2b_s34b_b79k`` weights (open_clip's, 75.5 % zero-shot on
CIFAR-100); ``load_clip(pretrained="openai")`` gives OpenAI's original weights; ``load_clip(checkpoint=path)``
loads a weights file you already have (say, copied from a machine with internet), so nothing is downloaded.

Weights come from the Hugging Face hub and are cached after the first download. Before a download, one
quick probe (a connection to the hub, at most ``PROBE_TIMEOUT`` seconds) checks that the hub can be reached;
if not, the process goes offline for the hub (``HF_HUB_OFFLINE=1``), so nothing waits on the hub's retries.
Where the weights cannot be had (no internet and not in the cache), ``load_clip`` raises
:class:`WeightsUnavailableError`, which says why and what to do. ``untrained_clip()`` builds the same architecture with random weights, so code can still
run end to end; its ``warning`` says loudly that whatever it computes is noise.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

import numpy as np
import torch
import torch.nn.functional as F

from fsl_course.text import wrap

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
OPENAI = "openai"

UNTRAINED_WARNING = (
    "!" * 100 + "\n"
    "!!  WARNING: UNTRAINED MODEL. The pretrained CLIP weights could not be loaded, so this is\n"
    "!!  {name} with RANDOM weights. It runs every step of the code, but every similarity,\n"
    "!!  probability, prediction and accuracy it produces is NOISE: none of them is a result.\n"
    "!!  For the real weights: run once with internet (about 600 MB, then cached), or pass a copied\n"
    "!!  weights file: load_clip(..., checkpoint='path/to/weights').\n"
    + "!" * 100
)

#: seconds the probe of the hub waits for a connection (name lookup included) before calling it unreachable
PROBE_TIMEOUT = 3.0


class WeightsUnavailableError(RuntimeError):
    """The pretrained weights could not be had: not downloadable from here and not in the local cache.

    ``reason`` is the short why (one phrase); ``str()`` adds what to do.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def hub_endpoint() -> str:
    """The Hugging Face hub's address, as ``huggingface_hub`` uses it (``HF_ENDPOINT`` if set)."""
    env = os.environ.get("HF_ENDPOINT", "").strip()
    if env:
        return env.rstrip("/")
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT
    except Exception:  # pragma: no cover - huggingface_hub comes with open_clip
        return "https://huggingface.co"


def _probe_address() -> tuple[str, int]:
    """``(host, port)`` the probe connects to: an HTTPS proxy if one is set, else the hub itself."""
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        proxy = os.environ.get(var, "").strip()
        if proxy:
            u = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            if u.hostname:
                return u.hostname, u.port or (443 if u.scheme == "https" else 80)
    u = urlsplit(hub_endpoint())
    return u.hostname or "huggingface.co", u.port or (80 if u.scheme == "http" else 443)


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """One attempt to open a connection to the hub (or the HTTPS proxy): ``True`` if it connects within
    ``timeout`` seconds, name lookup included. Sends nothing; no retries."""
    host, port = _probe_address()
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except Exception:  # no route, no name resolution, refused, timed out
            result.append(False)

    worker = threading.Thread(target=attempt, name="hub-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)  # a hanging name lookup does not hold the caller past the timeout
    return bool(result and result[0])


def go_offline() -> None:
    """Switch the Hugging Face hub off for the rest of the process (``HF_HUB_OFFLINE=1``), so no later
    call (here or in ``huggingface_hub``) waits on the network again."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True
    except Exception:  # pragma: no cover
        pass


def _offline_env() -> bool:
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def pretrained_config(model_name: str, pretrained: str) -> dict:
    """open_clip's record of a pretrained tag (where its weights live, how its images are preprocessed)."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(f"open_clip knows no pretrained weights {pretrained!r} for {model_name!r}; "
                         f"known tags: {', '.join(tags) or 'none'}")
    return cfg


def tag_settings(model_name: str, pretrained: str | None) -> dict:
    """The architecture and preprocessing options a tag's weights were trained with (QuickGELU, mean, std)."""
    if not pretrained:
        return {}
    cfg = pretrained_config(model_name, pretrained)
    settings = {"force_quick_gelu": bool(cfg.get("quick_gelu", False)), "image_mean": cfg.get("mean"),
                "image_std": cfg.get("std"), "image_interpolation": cfg.get("interpolation"),
                "image_resize_mode": cfg.get("resize_mode")}
    return {k: v for k, v in settings.items() if v is not None}


def _hf_location(cfg: dict) -> tuple[str, list[str]] | None:
    """``(repo id, candidate file names)`` of a tag's weights on the hub, as open_clip looks them up."""
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    hub = cfg.get("hf_hub", "")
    if not hub:
        return None
    repo, filename = os.path.split(hub)
    filename = filename or HF_WEIGHTS_NAME
    names = []
    if filename == HF_WEIGHTS_NAME:
        names.append(HF_SAFE_WEIGHTS_NAME)
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    return repo, names + [filename]


def cached_weights(model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED,
                   cache_dir: str | Path | None = None) -> Path | None:
    """The local file of a tag's weights if a previous download left it in the cache, else ``None``.

    Looks only at the disk (the Hugging Face cache, or open_clip's URL cache), never at the network.
    """
    from huggingface_hub import try_to_load_from_cache

    cfg = pretrained_config(model_name, pretrained)
    if "file" in cfg and Path(cfg["file"]).is_file():
        return Path(cfg["file"])
    loc = _hf_location(cfg)
    if loc is not None:
        repo, names = loc
        for name in names:
            hit = try_to_load_from_cache(repo, name, cache_dir=None if cache_dir is None else str(cache_dir))
            if isinstance(hit, str) and Path(hit).is_file():
                return Path(hit)
    url = cfg.get("url", "")
    if url:
        target = Path(cache_dir or Path.home() / ".cache" / "clip") / os.path.basename(url)
        if target.is_file():
            return target
    return None


def _what_to_do(model_name: str, pretrained: str) -> str:
    return (f"What to do: connect this machine to the internet and run it again (the weights, about 600 MB, "
            f"download once and are cached), or copy the weights file from a machine that has them (after "
            f"a download it sits in the Hugging Face cache, ~/.cache/huggingface/hub) and pass it: "
            f"load_clip({model_name!r}, pretrained={pretrained!r}, checkpoint='path/to/weights'). "
            f"Set HF_HUB_OFFLINE=1 to skip even the quick check of the hub on a machine known to be offline.")


def weights_file(model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED,
                 cache_dir: str | Path | None = None, download: bool | None = None) -> Path:
    """The local weights file of a pretrained tag: from the cache, else downloaded (if ``download``).

    ``download=None`` downloads unless ``HF_HUB_OFFLINE=1``; ``download=False`` only looks in the cache.
    Raises :class:`WeightsUnavailableError` (saying why and what to do) when the weights cannot be had.
    """
    import open_clip.pretrained

    cfg = pretrained_config(model_name, pretrained)
    hit = cached_weights(model_name, pretrained, cache_dir)
    if hit is not None:
        return hit
    if download is None:
        download = not _offline_env()
    what = _what_to_do(model_name, pretrained)
    if not download:
        why = ("downloads are switched off (HF_HUB_OFFLINE=1)" if _offline_env()
               else "downloads are switched off (download=False)")
        raise WeightsUnavailableError(
            f"The {model_name} {pretrained!r} weights are not in the local cache and {why}. " + what,
            reason="not cached; " + ("HF_HUB_OFFLINE=1" if _offline_env() else "download=False"))
    host, port = _probe_address()
    start = time.perf_counter()
    if not hub_reachable():
        go_offline()  # the rest of the process does not try again
        seconds = time.perf_counter() - start
        where = host if port == 443 else f"{host}:{port}"
        raise WeightsUnavailableError(
            f"The {model_name} {pretrained!r} weights are not in the local cache and {where} cannot be reached "
            f"(1 attempt, {seconds:.1f} s); HF_HUB_OFFLINE=1 is now set for the rest of this process. " + what,
            reason=f"not cached; {where} unreachable")
    try:
        path = open_clip.pretrained.download_pretrained(cfg, cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception as e:  # the hub answers but refuses, a proxy, an HTTP error ...
        first = str(e).splitlines()[0][:300] if str(e) else ""
        raise WeightsUnavailableError(
            f"The {model_name} {pretrained!r} weights could not be downloaded ({type(e).__name__}: "
            f"{first}). " + what, reason=f"could not be downloaded ({type(e).__name__})") from e
    if not path or not Path(path).is_file():
        raise WeightsUnavailableError(f"open_clip returned no weights file for {model_name} {pretrained!r}. "
                                      + _what_to_do(model_name, pretrained))
    return Path(path)


@dataclass
class ClipModel:
    """An open_clip model with its own image preprocessing and tokenizer, and how it was made.

    ``encode_images`` and ``encode_texts`` return L2-normalised embeddings, so ``a @ b.T`` is cosine similarity.
    """

    model: torch.nn.Module
    preprocess: Callable  # one PIL image -> a [3, H, W] tensor, as the model was trained
    tokenizer: Callable  # list of strings -> token ids [n, context_length]
    name: str
    pretrained: str | None  # the weights' tag (or a file name); None for random weights
    trained: bool
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    mean: tuple = (0.48145466, 0.4578275, 0.40821073)
    std: tuple = (0.26862954, 0.26130258, 0.27577711)
    image_size: int = 224

    @property
    def warning(self) -> str | None:
        """The loud warning to print beside any number from an untrained model; ``None`` for a trained one."""
        return None if self.trained else UNTRAINED_WARNING.format(name=self.name)

    @property
    def noise_note(self) -> str:
        """A one-line reminder to print beside numbers: empty for a trained model."""
        return "" if self.trained else "[UNTRAINED MODEL: these numbers are noise, not results]"

    def describe(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        weights = self.pretrained if self.trained else "RANDOM (untrained)"
        return wrap(f"{self.name}, weights: {weights}, {n / 1e6:.1f} M parameters, on {self.device}")

    def tensor_transform(self, images: torch.Tensor) -> torch.Tensor:
        """Pixels ``[n, 3, H, W]`` in [0, 1] -> the model's input: resized (shorter side), centre-cropped,
        normalised with the model's mean and std, as its own preprocessing does for a PIL image."""
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as TF

        x = images.float()
        if x.max() > 1.5:  # uint8 pixels
            x = x / 255.0
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = TF.resize(x, self.image_size, interpolation=InterpolationMode.BICUBIC, antialias=True)
            x = TF.center_crop(x, [self.image_size, self.image_size]).clamp(0, 1)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std

    def prepare(self, images) -> torch.Tensor:
        """Model input from a ``[n, 3, H, W]`` pixel tensor in [0, 1], or a list of PIL images / arrays."""
        if torch.is_tensor(images):
            if images.dim() == 3:
                images = images[None]
            return self.tensor_transform(images)
        images = list(images)
        if images and all(torch.is_tensor(im) for im in images):  # a list of [3, H, W] pixel tensors
            return torch.cat([self.tensor_transform(im[None] if im.dim() == 3 else im) for im in images])
        return torch.stack([self.preprocess(to_pil(im)) for im in images])

    @torch.no_grad()
    def encode_images(self, images, batch_size: int = 64) -> torch.Tensor:
        """L2-normalised image embeddings ``[n, D]`` (on the CPU)."""
        self.model.eval()
        x = self.prepare(images)
        out = [self.model.encode_image(x[i:i + batch_size].to(self.device), normalize=True).float().cpu()
               for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """L2-normalised text embeddings ``[n, D]`` (on the CPU)."""
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a list of strings; wrap a single one in a list")
        self.model.eval()
        tokens = self.tokenizer(list(texts))
        out = [self.model.encode_text(tokens[i:i + batch_size].to(self.device), normalize=True).float().cpu()
               for i in range(0, len(tokens), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim)

    def to(self, device) -> "ClipModel":
        """Move the model to ``device`` (in place); returns ``self``."""
        self.device = torch.device(device or "cpu")
        self.model.to(self.device)
        return self

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") else -1

    @property
    def logit_scale(self) -> float:
        """The learned temperature's inverse, ``exp(logit_scale)`` (100 for CLIP's released models)."""
        return float(self.model.logit_scale.detach().exp())


def to_pil(image):
    """A PIL RGB image from a PIL image, a NumPy array (``[H, W]``, ``[H, W, 3]``; bool, uint8 or float)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(a).convert("RGB")


def _wrap(model, preprocess, model_name, pretrained, trained, device) -> ClipModel:
    import open_clip

    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = cfg.get("size", getattr(model.visual, "image_size", 224))
    size = size[0] if isinstance(size, (tuple, list)) else size
    model.eval()
    return ClipModel(model=model, preprocess=preprocess, tokenizer=open_clip.get_tokenizer(model_name),
                     name=model_name, pretrained=pretrained, trained=trained, device=torch.device(device),
                     mean=tuple(cfg.get("mean", ClipModel.mean)), std=tuple(cfg.get("std", ClipModel.std)),
                     image_size=int(size))


def load_clip(model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED, *,
              checkpoint: str | Path | None = None, download: bool | None = None,
              cache_dir: str | Path | None = None, device=None, **model_kwargs) -> ClipModel:
    """A pretrained open_clip model with its own preprocessing and tokenizer.

    ``pretrained`` names the weights (``"laion2b_s34b_b79k"``, ``"openai"``, ...; their preprocessing and
    QuickGELU setting come with the name). ``checkpoint`` is a local weights file holding them (then nothing
    is downloaded). ``download=None`` downloads if the weights are not cached, unless ``HF_HUB_OFFLINE=1``;
    ``download=False`` only uses the cache. ``model_kwargs`` override the architecture (as in open_clip).

    Raises :class:`WeightsUnavailableError` when the weights cannot be had, with what to do about it.
    """
    import open_clip

    device = torch.device(device or "cpu")
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no weights file at {path}: pass the path of a downloaded open_clip "
                                    f"checkpoint (.safetensors, .bin or .pt)")
        label = f"{pretrained} ({path.name})" if pretrained else path.name
    else:
        path = weights_file(model_name, pretrained, cache_dir, download)
        label = pretrained
    settings = tag_settings(model_name, pretrained) if pretrained else {}
    model, _, preprocess = open_clip.create_model_and_transforms(
        model_name, pretrained=str(path), device=device, **settings, **model_kwargs)
    return _wrap(model, preprocess, model_name, label, True, device)


@contextmanager
def _without_log(prefix: str):
    """Drop log records whose message starts with ``prefix`` (and only those) while inside."""
    def keep(record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(prefix)

    loggers = [logging.getLogger(), logging.getLogger("open_clip")]
    for lg in loggers:
        lg.addFilter(keep)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(keep)


def untrained_clip(model_name: str = DEFAULT_MODEL, pretrained: str | None = DEFAULT_PRETRAINED, *, seed: int = 0,
                   device=None, **model_kwargs) -> ClipModel:
    """The same architecture (and preprocessing as ``pretrained``'s) with random weights: runs, means nothing.

    Its ``warning`` must be shown beside everything computed with it.
    """
    import open_clip

    device = torch.device(device or "cpu")
    settings = tag_settings(model_name, pretrained) if pretrained else {}
    with torch.random.fork_rng(devices=[]), _without_log("No pretrained weights loaded"):
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=None, device=device, **settings, **model_kwargs)
    return _wrap(model, preprocess, model_name, None, False, device)


def load_clip_or_untrained(model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED, *,
                           checkpoint: str | Path | None = None, download: bool | None = None,
                           cache_dir: str | Path | None = None, device=None, verbose: bool = True,
                           **model_kwargs) -> ClipModel:
    """``load_clip``; if the weights cannot be had, say why, and fall back to ``untrained_clip`` with its
    warning printed. For notebooks that must run everywhere; check ``.trained`` before trusting a number."""
    try:
        clip = load_clip(model_name, pretrained, checkpoint=checkpoint, download=download, cache_dir=cache_dir,
                         device=device, **model_kwargs)
    except WeightsUnavailableError as e:
        clip = untrained_clip(model_name, pretrained, device=device, **model_kwargs)
        if verbose:
            print(wrap(f"No pretrained weights ({e.reason}): using an UNTRAINED {model_name}."))
            print(clip.warning)
        return clip
    if verbose:
        print(wrap(f"Loaded {clip.describe()}."))
    return clip


def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity ``[n, m]`` between the rows of ``a`` [n, D] and ``b`` [m, D] (normalised here)."""
    return F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T
