"""Your own photos as a data set: a folder with one subfolder of pictures per class.

>>> pets = load_image_folder("my_photos")      # my_photos/cat/*.jpg, my_photos/dog/*.png, ...
>>> pets                                       # FewShotDataset('folder:my_photos': 2 classes x 12 images, 84x84, RGB)

Every ``.jpg``, ``.jpeg``, ``.png`` and ``.webp`` file of a class folder is one image of that class (hidden files
and folders are skipped); each picture is turned into RGB and resized as a whole to ``image_size`` pixels
square with Lanczos filtering, as mini-ImageNet's photos were. Classes may hold different numbers of images.
The result is a split like any other: episodes, ``--train-split folder:PATH``, ``--split folder:PATH``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from fsl_course.data.dataset import FewShotDataset
from fsl_course.data.images import Preprocess

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def class_files(root: Path) -> dict[str, list[Path]]:
    """Class name (subfolder) -> its picture files, both sorted; hidden entries skipped."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return {f.name: sorted(p for p in f.iterdir() if p.is_file() and not p.name.startswith(".")
                           and p.suffix.lower() in IMAGE_EXTENSIONS) for f in folders}


def load_image_folder(path, image_size: int = 84, quiet: bool = False) -> FewShotDataset:
    """The folder ``path`` (one subfolder per class) as an RGB data set of ``image_size`` pixels square."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: give a folder with one subfolder of pictures per class")
    files = class_files(root)
    kinds = ", ".join(IMAGE_EXTENSIONS)
    if len(files) < 2:
        found = f"only the class folder {next(iter(files))!r}" if files else "no class folders"
        raise ValueError(f"{root} has {found}: few-shot classification needs at least two classes, one "
                         f"subfolder of pictures ({kinds}) each")
    empty = [name for name, paths in files.items() if not paths]
    if empty:
        raise ValueError(f"{root}: {len(empty)} class folder(s) hold no pictures ({kinds}): "
                         f"{', '.join(map(repr, empty))}; add pictures or remove the folder(s)")
    pre = Preprocess(image_size=image_size, invert=False, channels=3)
    counts = torch.tensor([len(paths) for paths in files.values()])
    images = torch.zeros(len(files), int(counts.max()), 3, image_size, image_size, dtype=torch.uint8)
    for c, paths in enumerate(tqdm(list(files.values()), desc=f"reading {root.name}", unit="class",
                                   disable=quiet)):
        for i, p in enumerate(paths):
            try:
                with Image.open(p) as img:
                    images[c, i] = pre.pil_to_uint8(img)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                raise ValueError(f"{p} is not a readable picture ({type(e).__name__}: {e}); fix or remove it") from e
    equal = bool((counts == counts[0]).all())
    return FewShotDataset(f"folder:{root}", images, list(files), info={"root": str(root)},
                          counts=None if equal else counts)
