"""mini-ImageNet (Vinyals et al. 2016) with the split of Ravi and Larochelle (2017), from a local copy.

100 ImageNet classes x 600 photos of 84x84 pixels: 64 classes train (``mini_train``), 16 validate
(``mini_val``), 20 test (``mini_test``). It has no official download URL, so ``fsl-course download mini-imagenet
--from DIR`` (or ``FSL_COURSE_MINI_IMAGENET_SOURCE=DIR``) takes a folder in the common layout: ``images/`` beside
``train.csv``, ``val.csv`` and ``test.csv``, or the archives ``train.zip``, ``val.zip`` and ``test.zip`` beside the
CSVs. The CSVs are the standard files, checked by checksum; every image they list must be there and decode; an
image larger than 84x84 (an original ImageNet photo) is resized to 84x84 with Lanczos filtering, as the
published mini-ImageNet was, and counted in a note. The result is built in a temporary folder beside the
target and renamed into place, so nothing half-done is ever left; archive members that would leave the target
are refused.

>>> train = load_mini_imagenet("mini_train")   # 64 classes x 600 images, uint8 [64, 600, 3, 84, 84]

Each split is decoded once into a ``.npy`` cache beside the images and memory-mapped afterwards, so a later
load takes about a second.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from fsl_course.config import data_dir
from fsl_course.data.dataset import FewShotDataset
from fsl_course.data.download import DownloadError, RemoteFile, safe_member_path, verify
from fsl_course.data.mini_imagenet_classes import CLASSES
from fsl_course.io import atomic_write_bytes

SOURCE_ENV = "FSL_COURSE_MINI_IMAGENET_SOURCE"
IMAGE_SIZE = 84
N_PER_CLASS = 600
SPLITS = {"mini_train": "train", "mini_val": "val", "mini_test": "test"}  # split name -> file stem
CSV_FILES = {
    "train": RemoteFile("train.csv", "", ("498519cd8e49ce97ed26a4a3638966698ae41ab35e9c68538319fc9b46ba7d2f",)),
    "val": RemoteFile("val.csv", "", ("5658a59921ca027ee76af92949869c5d6f41d77592ff3b18db325a9d10c893b9",)),
    "test": RemoteFile("test.csv", "", ("2b7cfa78342995761a572a8158e539bc4e0a80f9bbd7d00c1e17a460fbbb93fa",)),
}
N_IMAGES = {"train": 64 * N_PER_CLASS, "val": 16 * N_PER_CLASS, "test": 20 * N_PER_CLASS}

HOW_TO_GET = (
    "mini-ImageNet (Vinyals et al. 2016, with the split of Ravi and Larochelle 2017) is 100 ImageNet classes x "
    "600 photos of 84x84 pixels, the standard benchmark of few-shot learning on photos. It has no official "
    "download: it is derived from ImageNet (whose terms allow non-commercial research and teaching), so people "
    "get a copy from their course, lab or a colleague, or make it from ImageNet with the mini-imagenet-tools "
    "scripts. Once you have a folder holding images/ (or train.zip, val.zip and test.zip) beside train.csv, "
    "val.csv and test.csv, run:\n    fsl-course download mini-imagenet --from DIR\n"
    f"(or set {SOURCE_ENV}=DIR and the course fetches it when it is first needed)."
)


def mini_imagenet_root(root: str | Path | None = None) -> Path:
    """The folder mini-ImageNet is kept in: ``ROOT/mini-imagenet`` (``ROOT`` defaults to the data folder)."""
    return (Path(root).expanduser() if root is not None else data_dir()) / "mini-imagenet"


def read_split_csv(path: Path) -> list[tuple[str, str]]:
    """``(filename, wnid)`` rows of a split CSV (header ``filename,label``), in the file's order."""
    with open(path, newline="") as f:
        return [(row["filename"], row["label"]) for row in csv.DictReader(f)]


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds the three standard CSVs and every image they list."""
    if not all((folder / f"{s}.csv").is_file() for s in CSV_FILES) or not (folder / "images").is_dir():
        return False
    return sum(1 for _ in os.scandir(folder / "images")) >= sum(N_IMAGES.values())


def _images_from_folder(images: Path, split: str, names: list[str]):
    for name in names:
        path = images / name
        if not path.is_file():
            raise DownloadError(f"{name} ({split} split) is missing from {images}: the copy is incomplete")
        yield name, path.read_bytes(), str(path)


def _images_from_zip(archive: Path, split: str, names: list[str], scratch: Path, target: Path):
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {}
            for info in zf.infolist():
                safe_member_path(archive, info, scratch, target)  # refuses members that would leave the target
                if not info.is_dir():
                    members[Path(info.filename.replace("\\", "/")).name] = info
            for name in names:
                if name not in members:
                    raise DownloadError(f"{archive.name} has no {name} ({split} split): the archive is "
                                        "incomplete or not mini-ImageNet's")
                yield name, zf.read(members[name]), f"{archive.name}:{members[name].filename}"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise DownloadError(f"{archive} is corrupt ({e}); get a fresh copy of it") from e


def _store(name: str, data: bytes, origin: str, images: Path) -> bool:
    """Check one image and write it to ``images/name``, resized to 84x84 if it is larger; True if resized."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.size == (IMAGE_SIZE, IMAGE_SIZE) and img.mode == "RGB":
                (images / name).write_bytes(data)
                return False
            small = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DownloadError(f"{origin} is not a readable image ({e}); the copy is damaged: get a fresh one") from e
    small.save(images / name, format="JPEG", quality=95)
    return True


def download_mini_imagenet(root: str | Path | None = None, source: str | Path | None = None,
                           quiet: bool = False) -> Path:
    """Put mini-ImageNet into ``root`` (default: the data folder) from the local folder ``source`` (default:
    ``FSL_COURSE_MINI_IMAGENET_SOURCE``); return its folder. A copy already in place is left alone."""
    target = mini_imagenet_root(root)
    if is_complete(target):
        if not quiet:
            print(f"mini-ImageNet is already in place in {target}; nothing to do.")
        return target
    source = str(source) if source is not None else os.environ.get(SOURCE_ENV) or None
    if not source:
        raise DownloadError(f"mini-ImageNet is not in {target}.\n{HOW_TO_GET}")
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DownloadError(f"the mini-ImageNet source {folder} is not a folder.\n{HOW_TO_GET}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mini-imagenet-", dir=target.parent))
    try:
        rows = {}
        for split, spec in CSV_FILES.items():
            path = folder / spec.relpath
            if not path.is_file():
                raise DownloadError(f"{spec.relpath} is missing from {folder}.\n{HOW_TO_GET}")
            verify(path, spec, str(path))
            shutil.copyfile(path, tmp / spec.relpath)
            rows[split] = read_split_csv(path)
        images = tmp / "images"
        images.mkdir()
        resized = 0
        with tqdm(total=sum(len(r) for r in rows.values()), desc="mini-ImageNet", unit="image",
                  disable=quiet) as bar:
            for split, entries in rows.items():
                names = [name for name, _ in entries]
                if (folder / "images").is_dir():
                    stream = _images_from_folder(folder / "images", split, names)
                elif (folder / f"{split}.zip").is_file():
                    stream = _images_from_zip(folder / f"{split}.zip", split, names, images, target)
                else:
                    raise DownloadError(f"{folder} has neither images/ nor {split}.zip beside the CSVs.\n"
                                        f"{HOW_TO_GET}")
                for name, data, origin in stream:
                    resized += _store(name, data, origin, images)
                    bar.update(1)
        old = None
        if target.exists():  # an incomplete earlier copy: swapped out, then removed
            old = Path(tempfile.mkdtemp(prefix=".mini-imagenet-old-", dir=target.parent))
            os.replace(target, old / "x")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        note = (f" {resized} images larger than {IMAGE_SIZE}x{IMAGE_SIZE} were resized to it (Lanczos), as the "
                "published mini-ImageNet was." if resized else "")
        print(f"mini-ImageNet is ready in {target}.{note}")
    return target


def class_name(wnid: str) -> str:
    """The human-readable name of a mini-ImageNet class (its first WordNet lemma), e.g. ``"house finch"``."""
    return CLASSES[wnid][0]


def _decode(folder: Path, stem: str, quiet: bool) -> tuple[np.ndarray, list[str]]:
    rows = read_split_csv(folder / f"{stem}.csv")
    wnids = list(dict.fromkeys(w for _, w in rows))
    per_class = {w: [] for w in wnids}
    for name, w in rows:
        per_class[w].append(name)
    n = min(len(v) for v in per_class.values())
    out = np.empty((len(wnids), n, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for c, w in enumerate(tqdm(wnids, desc=f"decoding mini-ImageNet {stem}", unit="class", disable=quiet)):
        for i, name in enumerate(sorted(per_class[w])[:n]):
            with Image.open(folder / "images" / name) as img:
                out[c, i] = np.asarray(img.convert("RGB")).transpose(2, 0, 1)
    return out, wnids


def load_mini_imagenet(split: str, root: str | Path | None = None, download: bool = True,
                       quiet: bool = False) -> FewShotDataset:
    """A mini-ImageNet split in memory: uint8 ``[n_classes, 600, 3, 84, 84]``, class names = WordNet ids
    (``info["names"]`` holds their human-readable names). Decoded once, then memory-mapped from its cache."""
    if split not in SPLITS:
        raise ValueError(f"unknown mini-ImageNet split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = mini_imagenet_root(root)
    if not is_complete(folder):
        if not download or not os.environ.get(SOURCE_ENV):
            raise FileNotFoundError(f"mini-ImageNet is not in {folder}.\n{HOW_TO_GET}")
        download_mini_imagenet(root, quiet=quiet)
    stem = SPLITS[split]
    cache = folder / "cache" / f"{stem}_{IMAGE_SIZE}.npy"
    names_file = cache.with_suffix(".classes.txt")
    if not (cache.is_file() and names_file.is_file()):
        images, wnids = _decode(folder, stem, quiet)
        atomic_write_bytes(cache, lambda f: np.save(f, images))
        atomic_write_bytes(names_file, lambda f: f.write("\n".join(wnids).encode()))
    wnids = names_file.read_text().split()
    images = torch.from_numpy(np.load(cache, mmap_mode="c"))  # copy-on-write: pages are read when touched
    return FewShotDataset(split, images, wnids, info={"names": [class_name(w) for w in wnids]})
