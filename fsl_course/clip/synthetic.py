"""A captioned data set generated in code: coloured shapes of two sizes at five positions.

Every image holds one shape (outlined in black) on a noisy grey background, and its caption names all four
attributes, e.g. ``"a small red triangle at the top"``. Some colour-shape combinations (by default every green triangle,
red circle, blue cross and yellow square) are *held out*: they never occur in the training part, in any size
or position, so a model can only recognise them by composing what it learned about colours and shapes
separately. That is the mini-CLIP's zero-shot test (notebook 08).

Images are rendered on the fly with torch, deterministically from a seed: ``make_shapes(n, seed, "train")``
gives the same images and captions every time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.12, 0.10),
    "orange": (1.00, 0.55, 0.05),
    "yellow": (0.95, 0.88, 0.10),
    "green": (0.10, 0.72, 0.15),
    "blue": (0.15, 0.30, 0.95),
    "purple": (0.62, 0.18, 0.80),
    "white": (0.95, 0.95, 0.95),
}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = ("small", "large")
#: caption phrase -> centre (x, y) as fractions of the image side
POSITIONS: dict[str, tuple[float, float]] = {
    "at the top": (0.5, 0.25),
    "at the bottom": (0.5, 0.75),
    "on the left": (0.25, 0.5),
    "on the right": (0.75, 0.5),
    "in the middle": (0.5, 0.5),
}
_RADIUS = {"small": 0.11, "large": 0.19}  # as fractions of the image side
#: the colour-shape combinations the training part never shows
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("green", "triangle"),
    ("red", "circle"),
    ("blue", "cross"),
    ("yellow", "square"),
)
IMAGE_SIZE = 48


class Attributes(NamedTuple):
    colour: str
    shape: str
    size: str
    position: str

    @property
    def combination(self) -> str:
        """The colour-shape pair, e.g. ``"green triangle"``: what zero-shot classification names."""
        return f"{self.colour} {self.shape}"

    @property
    def caption(self) -> str:
        return caption(self)


def caption(a: Attributes) -> str:
    """``"a small red triangle at the top"``."""
    return f"a {a.size} {a.colour} {a.shape} {a.position}"


def combinations() -> list[str]:
    """Every colour-shape pair, ``"red circle"``, ..., in a fixed order (the zero-shot classes)."""
    return [f"{c} {s}" for c in COLOURS for s in SHAPES]


def caption_templates() -> list[str]:
    """One ``format`` template per size and position, ``"a small {} at the top"``: fill in a combination."""
    return [f"a {size} {{}} {position}" for size in SIZES for position in POSITIONS]


def all_attributes() -> list[Attributes]:
    return [Attributes(c, s, z, p) for c, s, z, p in itertools.product(COLOURS, SHAPES, SIZES, POSITIONS)]


def is_held_out(a: Attributes, held_out: Sequence[tuple[str, str]] = HELD_OUT) -> bool:
    return (a.colour, a.shape) in set(map(tuple, held_out))


def split_attributes(held_out: Sequence[tuple[str, str]] = HELD_OUT) -> tuple[list[Attributes], list[Attributes]]:
    """``(training attributes, held-out attributes)``: all four-attribute combinations, split by colour-shape."""
    every = all_attributes()
    for colour, shape in held_out:
        if colour not in COLOURS or shape not in SHAPES:
            raise ValueError(f"unknown held-out combination {colour!r} {shape!r}")
    train = [a for a in every if not is_held_out(a, held_out)]
    test = [a for a in every if is_held_out(a, held_out)]
    return train, test


def _masks(shape_ids: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Inside-masks for coordinates relative to each shape's centre, in units of its radius."""
    ax, ay = dx.abs(), dy.abs()
    circle = dx**2 + dy**2 <= 1.0
    square = torch.maximum(ax, ay) <= 0.85
    triangle = (dy <= 0.55) & (ax <= 0.62 * (dy + 1.0))  # pointing up (y grows downwards)
    cross = ((ax <= 0.32) & (ay <= 1.0)) | ((ay <= 0.32) & (ax <= 1.0))
    options = torch.stack([circle, square, triangle, cross])  # [4, n, H, W]
    return options.gather(0, shape_ids.view(1, -1, 1, 1).expand(1, *dx.shape)).squeeze(0)


#: thickness of the dark outline around every shape, as a fraction of the image side (0: none). The outline
#: shows the shape's silhouette in the same way whatever its colour, which helps a small model learn shapes
#: apart from colours, and so recognise a colour-shape pair it never saw (without it: about 65-75 %
#: zero-shot on the held-out pairs instead of about 90 %, in our runs).
OUTLINE = 0.1


def render(attributes: Sequence[Attributes], generator: torch.Generator | None = None,
           image_size: int = IMAGE_SIZE, supersample: int = 2) -> torch.Tensor:
    """Images ``[n, 3, S, S]`` (float in [0, 1]) of the given attributes, with random jitter from ``generator``.

    Jitter: the centre moves up to 5 % of the side, the radius varies by +-12 %, the colour by +-0.08 per
    channel, the background is a random dark grey with pixel noise. Each shape has a dark outline
    (``OUTLINE``). Edges are antialiased by supersampling.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    n = len(attributes)
    if n == 0:
        return torch.zeros(0, 3, image_size, image_size)
    colour = torch.tensor([COLOURS[a.colour] for a in attributes])
    shape_ids = torch.tensor([SHAPES.index(a.shape) for a in attributes])
    centre = torch.tensor([POSITIONS[a.position] for a in attributes])
    radius = torch.tensor([_RADIUS[a.size] for a in attributes])

    centre = centre + (torch.rand(n, 2, generator=g) * 2 - 1) * 0.05
    radius = radius * (1 + (torch.rand(n, generator=g) * 2 - 1) * 0.12)
    colour = (colour + (torch.rand(n, 3, generator=g) * 2 - 1) * 0.08).clamp(0, 1)
    background = 0.08 + 0.27 * torch.rand(n, generator=g)

    big = image_size * supersample
    coords = (torch.arange(big, dtype=torch.float32) + 0.5) / big  # pixel centres in [0, 1]
    dx = (coords.view(1, 1, big) - centre[:, 0].view(n, 1, 1)) / radius.view(n, 1, 1)
    dy = (coords.view(1, big, 1) - centre[:, 1].view(n, 1, 1)) / radius.view(n, 1, 1)
    mask = _masks(shape_ids, dx.expand(n, big, big), dy.expand(n, big, big)).float()
    mask = F.avg_pool2d(mask[:, None], supersample)  # [n, 1, S, S], antialiased
    if OUTLINE > 0:
        grow = (radius / (radius + OUTLINE)).view(n, 1, 1)
        outer = _masks(shape_ids, (dx * grow).expand(n, big, big), (dy * grow).expand(n, big, big)).float()
        outer = F.avg_pool2d(outer[:, None], supersample)
        images = background.view(n, 1, 1, 1) * (1 - outer) + colour.view(n, 3, 1, 1) * mask
    else:
        images = background.view(n, 1, 1, 1) * (1 - mask) + colour.view(n, 3, 1, 1) * mask
    noise = torch.randn(n, 3, image_size, image_size, generator=g) * 0.03
    return (images + noise).clamp(0, 1)


@dataclass
class ShapesDataset:
    """Rendered images ``[n, 3, S, S]`` with their attributes and captions."""

    images: torch.Tensor
    attributes: list[Attributes]

    @property
    def captions(self) -> list[str]:
        return [a.caption for a in self.attributes]

    @property
    def combinations(self) -> list[str]:
        return [a.combination for a in self.attributes]

    def __len__(self) -> int:
        return len(self.attributes)

    def __getitem__(self, i):
        return self.images[i], self.attributes[i].caption


def sample_attributes(pool: Sequence[Attributes], n: int, generator: torch.Generator,
                      distinct: bool = False) -> list[Attributes]:
    """``n`` attributes drawn from ``pool``: uniformly with replacement, or ``distinct`` (at most ``len(pool)``)."""
    if distinct:
        if n > len(pool):
            raise ValueError(f"{n} distinct captions asked for, but the pool has only {len(pool)}")
        idx = torch.randperm(len(pool), generator=generator)[:n]
    else:
        idx = torch.randint(len(pool), (n,), generator=generator)
    return [pool[i] for i in idx.tolist()]


def make_shapes(n: int, seed: int = 0, split: str = "train", held_out: Sequence[tuple[str, str]] = HELD_OUT,
                image_size: int = IMAGE_SIZE) -> ShapesDataset:
    """``n`` captioned images of one ``split``: ``"train"`` (no held-out combination ever), ``"held_out"``
    (only held-out combinations) or ``"all"``. The same ``seed`` gives the same data set."""
    train, test = split_attributes(held_out)
    pools = {"train": train, "held_out": test, "all": train + test}
    if split not in pools:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(pools)}")
    g = torch.Generator().manual_seed(seed)
    attrs = sample_attributes(pools[split], n, g)
    return ShapesDataset(render(attrs, g, image_size), attrs)
