"""Omniglot in memory: every split the literature uses, as one uint8 tensor, decoded once and cached.

>>> train = load_omniglot("vinyals_train")      # 4112 classes (1028 characters x 4 rotations), 20 images each
>>> train.images.shape                          # torch.Size([4112, 20, 28, 28]), uint8, ink = 255

Splits: ``background`` (964 characters, 30 alphabets), ``evaluation`` (659, 20 alphabets),
``background_small1`` / ``background_small2`` (Lake's reduced background sets), and the Vinyals split
``vinyals_train`` / ``vinyals_val`` / ``vinyals_test`` / ``vinyals_trainval`` (1028 / 172 / 423 / 1200
characters, each rotated by 0, 90, 180 and 270 degrees into four classes). ``rotations=True`` turns the
other splits' characters into four rotated classes too (a common way to train on the background set).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from fsl_course.data.dataset import FewShotDataset
from fsl_course.data.download import download_omniglot, omniglot_root
from fsl_course.data.images import Preprocess, load_image
from fsl_course.io import atomic_torch_save

BASE_SETS = ("background", "evaluation", "background_small1", "background_small2")
VINYALS_SPLITS = ("vinyals_train", "vinyals_val", "vinyals_test", "vinyals_trainval")
SPLITS = BASE_SETS + VINYALS_SPLITS
ROTATIONS = (0, 90, 180, 270)


def _decode_base(root: Path, base: str, image_size: int, quiet: bool) -> tuple[torch.Tensor, list[str]]:
    """Decode one extracted alphabet set into ``[n_characters, 20, S, S]`` uint8 (cached on disk)."""
    cache = root / "cache" / f"{base}_{image_size}.pt"
    if cache.is_file():
        blob = torch.load(cache, weights_only=True)
        return blob["images"], blob["names"]
    folder = root / f"images_{base}"
    chars = sorted(p for p in folder.glob("*/*") if p.is_dir())
    if not chars:
        raise FileNotFoundError(f"no characters found in {folder}; run `fsl-course download omniglot`")
    pre = Preprocess(image_size=image_size, invert=True)
    per_class = [sorted(c.glob("*.png")) for c in chars]
    n = len(per_class[0])
    if any(len(p) != n for p in per_class):
        raise ValueError(f"characters in {folder} have different numbers of drawings; the data is damaged: "
                         "delete the folder and download again")
    images = torch.empty(len(chars), n, image_size, image_size, dtype=torch.uint8)
    for c, paths in enumerate(tqdm(per_class, desc=f"decoding Omniglot {base}", unit="char", disable=quiet)):
        for i, p in enumerate(paths):
            images[c, i] = load_image(p, pre)
    names = [f"{c.parent.name}/{c.name}" for c in chars]
    atomic_torch_save({"images": images, "names": names}, cache)
    return images, names


def _rotate(images: torch.Tensor, degrees: int) -> torch.Tensor:
    return torch.rot90(images, k=degrees // 90, dims=(-2, -1))


def _with_rotations(name: str, images: torch.Tensor, names: list[str]) -> FewShotDataset:
    rotated = torch.stack([_rotate(images, r) for r in ROTATIONS], dim=1).flatten(0, 1)
    rnames = [f"{n}/rot{r:03d}" for n in names for r in ROTATIONS]
    return FewShotDataset(name, rotated.contiguous(), rnames)


def load_omniglot(split: str, image_size: int = 28, root: str | Path | None = None, rotations: bool = False,
                  download: bool = True, quiet: bool = False) -> FewShotDataset:
    """Load an Omniglot split into memory (downloading and decoding it on first use).

    ``root`` is the data folder (default: ``FSL_COURSE_DATA`` or the per-user cache). A missing data set is
    fetched with :func:`fsl_course.data.download.download_omniglot` when ``download`` is true.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown Omniglot split {split!r}; choose one of {', '.join(SPLITS)}")
    if image_size < 4:
        raise ValueError(f"image_size must be at least 4 pixels, got {image_size}")
    folder = omniglot_root(root)
    needed = ["images_background", "images_evaluation"] if split in VINYALS_SPLITS else [f"images_{split}"]
    missing = [n for n in needed if not (folder / n).is_dir()]
    if split in VINYALS_SPLITS and not (folder / "splits" / "vinyals" / f"{split[8:]}.txt").is_file():
        missing.append("splits")
    if missing:
        if not download:
            raise FileNotFoundError(f"Omniglot is not in {folder} (missing {', '.join(missing)}); "
                                    "run `fsl-course download omniglot`")
        download_omniglot(root, quiet=quiet)
    if split in BASE_SETS:
        images, names = _decode_base(folder, split, image_size, quiet)
        if rotations:
            return _with_rotations(split, images, names)
        return FewShotDataset(split, images, names)

    lines = (folder / "splits" / "vinyals" / f"{split[8:]}.txt").read_text().split()
    index: dict[str, tuple[torch.Tensor, int]] = {}
    for base in ("background", "evaluation"):
        images, names = _decode_base(folder, base, image_size, quiet)
        index.update({n: (images, i) for i, n in enumerate(names)})
    out = torch.empty(len(lines), 20, image_size, image_size, dtype=torch.uint8)
    for k, line in enumerate(lines):
        char, rot = line.rsplit("/", 1)
        if char not in index or not rot.startswith("rot"):
            raise ValueError(f"split file line {line!r} names no Omniglot character; the split file is damaged")
        images, i = index[char]
        out[k] = _rotate(images[i], int(rot[3:]))
    return FewShotDataset(split, out, lines)
