"""Turning pictures into the tensors the models see: one place, used by the data sets and the classifier.

The course's image convention (as in the ProtoNet and MAML code): greyscale, ink bright on a dark
background (Omniglot's black-on-white drawings are inverted), values in [0, 1] as float, or 0..255 as uint8;
photos are RGB in the same ranges (their normalisation happens inside the model).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Preprocess:
    """What a checkpoint needs to turn a raw picture into its input.

    ``invert``: ``True`` (always: data set drawings), ``False`` (never) or ``"auto"`` (when the picture's
    background is light, as in a scan or a photo of ink on paper). ``crop``: for a learner's own photos: take
    the paper's grey to black and the ink to white (:func:`stretch_levels`), crop to the ink's bounding box
    (with a margin) and redraw the strokes with Omniglot's pen width (:func:`redraw_strokes`) before resizing;
    off for Omniglot's own drawings, which the models saw uncropped.
    """

    image_size: int = 28
    invert: bool | str = "auto"
    crop: bool = False
    channels: int = 1  # 1: greyscale, ink bright (characters); 3: RGB photos, resized as they are

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {self.channels!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        return cls(**d)

    def pil_to_uint8(self, img: Image.Image, invert: bool | str | None = None) -> torch.Tensor:
        """A PIL image of any mode -> uint8 ``[image_size, image_size]``, ink bright (greyscale), or
        ``[3, image_size, image_size]`` (RGB: the whole picture resized to a square, as mini-ImageNet's were)."""
        if self.channels == 3:
            rgb = img.convert("RGB")
            if rgb.size != (self.image_size, self.image_size):
                rgb = rgb.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
            return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).contiguous()
        if colourfulness(img) > COLOUR_PHOTO:
            warnings.warn(f"a colour photo (colourfulness {colourfulness(img):.0f} of 255) went into a model trained "
                          "on black-and-white drawings: its answer is unlikely to mean anything. Use a model "
                          "trained on photos (a mini-ImageNet checkpoint) for photos; for a photo of a drawing, use "
                          "photo mode (load_classifier(path, photos=True))", UserWarning, stacklevel=3)
        invert = self.invert if invert is None else invert
        grey = np.asarray(img.convert("L"), dtype=np.uint8)
        if invert == "auto":
            invert = _background_is_light(grey)
        if invert:
            grey = 255 - grey
        if self.crop:
            grey = redraw_strokes(crop_to_ink(stretch_levels(grey)))
        small = Image.fromarray(grey).resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
        return torch.from_numpy(np.array(small, dtype=np.uint8))

    def for_photos(self) -> "Preprocess":
        """Photo mode, for photos and scans of drawings made outside Omniglot (a phone picture of ink on paper):
        automatic inversion, the paper's grey to black, a crop to the ink and the strokes redrawn at Omniglot's
        pen width (see the class docstring). A photo model (``channels=3``) is unchanged."""
        return self if self.channels == 3 else replace(self, invert="auto", crop=True)

    def __call__(self, images) -> torch.Tensor:
        """Pictures -> float ``[B, C, S, S]`` in [0, 1] (``C`` = 1: greyscale, ink bright; 3: RGB).

        ``images`` is one picture or a sequence of them, each a PIL image, a file path, a numpy array or a
        torch tensor. PIL images, files and numpy arrays (``H x W`` grey or ``H x W x 3`` colour; uint8 0..255 or
        float 0..1) are raw pictures: converted, inverted per ``invert``, resized. Tensors are taken to follow
        the course's convention already: uint8 0..255 or float 0..1, ``[H, W]``, ``[1, H, W]`` or
        ``[B, 1, H, W]`` with ink bright (RGB models: ``[3, H, W]`` or ``[B, 3, H, W]``); they are resized if
        their size differs. A tensor that breaks the convention is refused with a note on how to fix it.
        """
        if isinstance(images, (Image.Image, torch.Tensor, np.ndarray, str, Path)):
            images = [images]
        out = []
        c = self.channels
        for img in images:
            if isinstance(img, (str, Path)):
                img = read_picture(img)
            elif isinstance(img, np.ndarray):
                img = array_to_pil(img)
            if isinstance(img, Image.Image):
                t = to_float(self.pil_to_uint8(img))
                out.append(t[None] if c == 3 else t[None, None])
            elif isinstance(img, torch.Tensor):
                t = to_float(img) if img.dtype == torch.uint8 else img.float()
                while t.dim() < 4:
                    t = t.unsqueeze(0)
                if t.dim() != 4 or t.shape[1] != c:
                    kind = "[H, W], [1, H, W] or [B, 1, H, W] greyscale" if c == 1 else "[3, H, W] or [B, 3, H, W] RGB"
                    raise ValueError(f"an image tensor must be {kind}; got shape {tuple(img.shape)}")
                check_convention(t, img.dtype, c)
                if t.shape[-2:] != (self.image_size, self.image_size):
                    t = torch.nn.functional.interpolate(t, size=(self.image_size, self.image_size),
                                                        mode="bilinear", antialias=True, align_corners=False)
                out.append(t)
            else:
                raise TypeError(f"expected PIL images, file paths, numpy arrays or torch tensors, got "
                                f"{type(img).__name__}")
        if not out:
            raise ValueError("no images were given")
        return torch.cat(out)


def check_convention(t: torch.Tensor, dtype: torch.dtype, channels: int) -> None:
    """Refuse float tensors outside 0..1 and (greyscale) dark ink on a light background, saying how to fix it."""
    if dtype != torch.uint8:
        top, low = float(t.max()), float(t.min())
        if top > 1.0 + 1e-4:
            raise ValueError(f"float image tensors must hold values in 0..1, but these reach {top:.1f} (0..255 "
                             "values?): divide them by 255, or pass uint8 tensors")
        if low < -1e-4:
            raise ValueError(f"float image tensors must hold values in 0..1, but these go down to {low:.2f} "
                             "(normalised already?): pass the unnormalised images in 0..1; a model normalises "
                             "its input itself")
    if channels == 1:
        border = torch.cat([t[..., 0, :], t[..., -1, :], t[..., :, 0], t[..., :, -1]], dim=-1).flatten(1)
        light = border.median(dim=1).values > 0.7  # paper, a scan or to_tensor's white: well above mid-grey
        if light.any():
            raise ValueError(f"{int(light.sum())} of {len(t)} image tensors have a light background, but the "
                             "models expect ink bright on a dark background (the course's convention; "
                             "torchvision's to_tensor on Omniglot's PNGs gives dark ink on white): pass 1 - x, or "
                             "pass the PIL images (or file paths), which are inverted automatically")


def read_picture(path) -> Image.Image:
    """Open the picture file ``path`` (fully read, so the file is closed), naming it if it is no picture."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no picture file at {path}")
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path} is not a picture that can be read (PNG, JPEG, WebP, ...): "
                         f"{type(e).__name__}: {e}") from e


def array_to_pil(a: np.ndarray) -> Image.Image:
    """A numpy picture (``H x W`` or ``H x W x 3|4``; uint8 0..255, or float 0..1) as a PIL image."""
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"a numpy picture must be H x W (grey) or H x W x 3 (colour), got shape {a.shape}; "
                         "for a batch, pass a list of arrays")
    if a.dtype != np.uint8:
        if a.size and (a.max() > 1.0 + 1e-4 or a.min() < -1e-4):
            raise ValueError(f"a float numpy picture must hold values in 0..1, got {a.min():.2f}..{a.max():.2f}:"
                             " divide by 255, or pass uint8")
        a = (a.astype(np.float64) * 255).round().astype(np.uint8)
    return Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)


def colourfulness(img: Image.Image) -> float:
    """Mean over pixels of (largest - smallest channel), 0..255: about 0 for drawings, scans and grey
    pictures, a few for ink photographed on paper, tens for colour photos."""
    if img.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return 0.0
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


COLOUR_PHOTO = 32.0  # colourfulness above which a picture is a colour photo, not a drawing


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (0..255) -> float32 in [0, 1]."""
    return images.float().div_(255.0)


def _background_is_light(grey: np.ndarray) -> bool:
    # The border is mostly background: compare it with mid-grey.
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) > 127


def stretch_levels(grey: np.ndarray, cut: float = 0.3) -> np.ndarray:
    """Take a photo's background to 0 and its ink to 255 (ink bright): paper photographed is grey and noisy,
    never black, and pen is never pure white.

    The background level is the median (paper is most of the picture), the ink level the brightest value of
    the picture smoothed by a 3x3 median filter (so a noisy pixel does not count); levels below
    ``cut`` of the way from background to ink become 0. A clean drawing (0 and 255 only) is unchanged.
    """
    from PIL import ImageFilter

    g = grey.astype(np.float32)
    background = float(np.median(g))
    ink = float(np.asarray(Image.fromarray(grey).filter(ImageFilter.MedianFilter(3))).max())
    if ink - background < 16:  # no ink to speak of: leave the picture as it is
        return grey
    low = background + cut * (ink - background)
    return np.clip((g - low) * (255.0 / (ink - low)), 0, 255).round().astype(np.uint8)


def crop_to_ink(grey: np.ndarray, threshold: int = 64, margin: float = 0.15) -> np.ndarray:
    """Crop a bright-ink image to a square around its ink, with a margin, padding with background (0)."""
    ys, xs = np.nonzero(grey > threshold)
    if len(ys) == 0:
        return grey
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(max(y1 - y0, x1 - x0) * (1 + 2 * margin)) + 1
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    canvas = np.zeros((side, side), dtype=grey.dtype)
    top, left = cy - side // 2, cx - side // 2
    sy0, sx0 = max(top, 0), max(left, 0)
    sy1, sx1 = min(top + side, grey.shape[0]), min(left + side, grey.shape[1])
    canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = grey[sy0:sy1, sx0:sx1]
    return canvas


def redraw_strokes(grey: np.ndarray, canvas: int = 105, radius: int = 2) -> np.ndarray:
    """Redraw the strokes of a cropped, bright-ink picture as Omniglot's are drawn: on a ``canvas``-pixel square
    (Omniglot's 105), the ink's centre lines (skeleton) thickened to ``2 * radius + 1`` pixels (Omniglot's pen
    is about 5.6 pixels wide there). A pen photographed from afar, or a thick marker, then looks like the
    drawings the models were trained on. Returns a binary uint8 picture (0 / 255), ``[canvas, canvas]``.
    """
    from scipy.ndimage import binary_dilation
    from skimage.morphology import disk, skeletonize

    big = np.asarray(Image.fromarray(grey).resize((canvas, canvas), Image.Resampling.LANCZOS))
    ink = big > 127
    if not ink.any():
        return grey
    return binary_dilation(skeletonize(ink), structure=disk(radius)).astype(np.uint8) * 255


def load_image(path, preprocess: Preprocess) -> torch.Tensor:
    """Read one picture file into uint8 ``[S, S]`` with ``preprocess``."""
    with Image.open(path) as img:
        return preprocess.pil_to_uint8(img)
