"""Data-level tools: more shots from few, by distorting the support images a little.

``augment_support`` returns the support set plus ``copies`` distorted versions of every image (small
rotations, shifts, scalings and shears, then an elastic distortion, with torchvision's ``transforms.v2``),
with the same labels. The distortions must keep a drawing's class: small rotations only, since Omniglot's
90-degree rotations are *other* classes. ``AugmentedSupport`` wraps any few-shot method so that it sees the
augmented support set, and ``random_shift`` is the cheap augmentation used during pretraining on characters;
``photo_augmentation`` with ``augment_batch`` (crop, colour jitter, flip, each image its own draw) the one for
photos. ``augment_strokes`` varies how characters are written (stroke width, blur, size, position) for
episodic training on characters, so that an embedding learned on Omniglot copes with other pens and scans
(``fsl-course train ... --augment strokes``; chapter 02, section 7).

Everything is seeded per call: the same ``seed`` gives the same images, in any process.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from fsl_course.methods.base import FewShotMethod


def distortion(rotation: float = 15.0, shift: float = 0.1, scale: tuple[float, float] = (0.9, 1.1),
               shear: float = 10.0, elastic: float = 8.0) -> v2.Transform:
    """The random distortion applied to each support image (``elastic=0`` turns the elastic part off).

    ``rotation`` and ``shear`` in degrees, ``shift`` as a fraction of the image size, ``elastic`` the
    strength (``alpha``) of torchvision's elastic transform, its smoothness ``sigma`` fixed at 3 pixels.
    """
    steps = [v2.RandomAffine(degrees=rotation, translate=(shift, shift), scale=scale, shear=shear)]
    if elastic:
        steps.append(v2.ElasticTransform(alpha=elastic, sigma=3.0))
    return v2.Compose(steps)


def augment_support(support: torch.Tensor, labels: torch.Tensor, copies: int = 4, seed: int = 0,
                    transform: v2.Transform | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The support images ``[n, C, H, W]`` followed by ``copies`` distorted versions of each; their labels.

    Returns ``(images [n * (1 + copies), C, H, W], labels [n * (1 + copies)])``: first the originals, then
    copy 1 of every image, then copy 2, and so on. Each image gets its own random distortion; the draws come
    from ``seed`` alone (the global random state is left as it was).
    """
    if support.dim() != 4 or len(support) != len(labels):
        raise ValueError(f"support must be [n, C, H, W] with one label per image; got {tuple(support.shape)} "
                         f"and {len(labels)} labels")
    if not isinstance(copies, int) or copies < 0:
        raise ValueError(f"copies must be a whole number >= 0, got {copies!r}")
    transform = transform or distortion()
    out = [support]
    with torch.random.fork_rng(devices=[]):  # torchvision draws from the global generator: isolate it
        torch.manual_seed(seed)
        for _ in range(copies):
            out.append(_each(transform, support))
    return torch.cat(out), labels.repeat(1 + copies)


def _each(transform: v2.Transform, images: torch.Tensor) -> torch.Tensor:
    """``transform`` applied to every image of ``[n, C, H, W]`` with its own random draw (on a batch,
    torchvision's transforms would draw once for all)."""
    return torch.stack([transform(img) for img in images])


def photo_augmentation(size: int = 84, padding: int = 8, jitter: float = 0.4) -> v2.Transform:
    """The training augmentation for photos that the transfer baselines use (Tian et al. 2020; Chen et al. 2019
    use a random resized crop in place of the padded crop): a random ``size`` crop of the image padded by
    ``padding`` pixels, colour jitter (brightness, contrast, saturation by up to ``jitter``) and a horizontal
    flip. On uint8 images ``[3, size, size]``."""
    return v2.Compose([v2.RandomCrop(size, padding=padding),
                       v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter),
                       v2.RandomHorizontalFlip()])


def augment_strokes(images: torch.Tensor, generator: torch.Generator, p_width: float = 0.5, p_blur: float = 0.5,
                    scale: tuple[float, float] = (0.75, 1.15), shift: float = 0.1) -> torch.Tensor:
    """The training augmentation for characters: the ways another writer, pen or scanner draws the same
    character, each image of ``[B, C, H, W]`` (float, ink bright) its own random draw from ``generator``, in a few
    batched operations (no loop over images).

    With probability ``p_width`` thicker strokes (a 3x3 dilation: the brightest neighbour); with probability
    ``p_blur`` a 3x3 Gaussian blur of sigma 0.3 to 1; then a random size in ``scale`` and a shift by up to
    ``shift`` of the image (bilinear, zero fill). No thinner strokes (Omniglot's, one or two pixels wide at
    28x28, would vanish), no rotation and no mirror image (those can turn one character into another: a 6 into
    a 9, a b into a d)."""
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"images must be float [B, C, H, W], got {images.dtype} {tuple(images.shape)}")
    if not (0 <= p_width <= 1 and 0 <= p_blur <= 1 and 0 < scale[0] <= scale[1] and 0 <= shift < 1):
        raise ValueError(f"need probabilities in [0, 1], 0 < scale[0] <= scale[1] and 0 <= shift < 1; got "
                         f"p_width={p_width}, p_blur={p_blur}, scale={scale}, shift={shift}")
    F = torch.nn.functional
    b, c, h, w = images.shape
    device = images.device

    def uniform(lo: float, hi: float, shape=(b,)) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(shape, generator=generator)).to(device)

    thicker = uniform(0, 1) < p_width
    out = torch.where(thicker[:, None, None, None], F.max_pool2d(images, 3, stride=1, padding=1), images)
    blur, sigma = uniform(0, 1) < p_blur, uniform(0.3, 1.0)
    taps = torch.exp(-torch.tensor([-1.0, 0.0, 1.0], device=device)[None] ** 2 / (2 * sigma[:, None] ** 2))
    taps = taps / taps.sum(1, keepdim=True)  # [B, 3]: each image's own 1-d Gaussian
    kernels = (taps[:, :, None] * taps[:, None, :]).repeat_interleave(c, 0)[:, None]  # [B*C, 1, 3, 3]
    blurred = F.conv2d(F.pad(out.reshape(1, b * c, h, w), (1, 1, 1, 1), mode="replicate"), kernels,
                       groups=b * c).reshape(b, c, h, w)
    out = torch.where(blur[:, None, None, None], blurred, out)
    size, dx, dy = uniform(*scale), uniform(-shift, shift), uniform(-shift, shift)
    theta = torch.zeros(b, 2, 3, device=device)  # output -> input coordinates: 1/size zooms by size
    theta[:, 0, 0], theta[:, 1, 1] = 1 / size, 1 / size
    theta[:, 0, 2], theta[:, 1, 2] = -2 * dx / size, -2 * dy / size
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    return F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp_(0, 1)


#: Training augmentations by name, as ``fsl-course train --augment NAME`` takes them.
EPISODE_AUGMENTATIONS = {"strokes": augment_strokes}


def augment_batch(images: torch.Tensor, transform: v2.Transform, seed: int) -> torch.Tensor:
    """Every image of the batch ``[n, C, H, W]`` through ``transform``, each its own random draw, all from
    ``seed`` alone (the global random state is left as it was): the same seed gives the same batch."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _each(transform, images)


class AugmentedSupport(FewShotMethod):
    """``method`` scoring queries against the augmented support set (``copies`` more per image).

    The n-th call of ``scores`` uses seed ``seed + n``, so a fresh wrapper reproduces a whole evaluation.
    """

    name = "augmented"

    def __init__(self, method: FewShotMethod, copies: int = 4, seed: int = 0,
                 transform: v2.Transform | None = None):
        super().__init__(copies=copies, seed=seed)
        self.method, self.copies, self.seed, self.transform = method, copies, seed, transform
        self.calls = 0

    def scores(self, support, support_labels, query):
        images, labels = augment_support(support, support_labels, self.copies, self.seed + self.calls,
                                         self.transform)
        self.calls += 1
        return self.method.scores(images, labels, query)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image ``[B, C, H, W]`` by its own random whole number of pixels in -max..max (zero fill)."""
    if max_shift <= 0:
        return images
    b, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # [B, 1, H, 1]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # [B, 1, 1, W]
    return padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
