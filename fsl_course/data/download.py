"""Fetch Omniglot: official archives (or a local copy of them), verified, extracted atomically and safely.

``download_omniglot()`` is what ``fsl-course download omniglot`` runs. The files come from, in order:
the ``source`` argument (``--from DIR``), the ``FSL_COURSE_OMNIGLOT_SOURCE`` environment variable, or the
official URLs. A source is a local folder holding the same files (``images_background.zip``, ...,
``splits/vinyals/train.txt``) or an ``http(s)://`` base URL under which they lie with the same names.

Every file is checked against known checksums before use. Archives are extracted into a temporary folder
beside the target and renamed into place, so an interrupted or failed run never leaves half a data set; a
member whose path would leave the target folder is refused.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from fsl_course.config import data_dir

SOURCE_ENV = "FSL_COURSE_OMNIGLOT_SOURCE"
_GITHUB = "https://github.com/brendenlake/omniglot/raw/master/python/"
_SPLITS = "https://raw.githubusercontent.com/jakesnell/prototypical-networks/master/data/omniglot/splits/vinyals/"


class DownloadError(RuntimeError):
    """A file could not be fetched, or what was fetched is not the expected file."""


class UnsafeArchiveError(DownloadError):
    """An archive member would be written outside the extraction folder."""


@dataclass(frozen=True)
class RemoteFile:
    relpath: str  # path inside a source folder or under a base URL, and inside the data folder
    url: str  # the official location
    sha256: tuple[str, ...]  # accepted SHA-256 digests
    md5: tuple[str, ...] = ()  # accepted MD5 digests (the official archives, as published by torchvision)

    @property
    def name(self) -> str:
        return PurePosixPath(self.relpath).name

    @property
    def is_archive(self) -> bool:
        return self.relpath.endswith(".zip")

    @property
    def folder(self) -> str:
        """The folder an archive is extracted to (its name without ``.zip``)."""
        return self.name[: -len(".zip")]


def _archive(name: str, sha256: str, md5: tuple[str, ...] = (), url: str | None = None) -> RemoteFile:
    return RemoteFile(f"{name}.zip", url or f"{_GITHUB}{name}.zip", (sha256,), md5)


def _split(name: str, sha256: str) -> RemoteFile:
    return RemoteFile(f"splits/vinyals/{name}.txt", f"{_SPLITS}{name}.txt", (sha256,))


# The images_background/evaluation archives exist as the official zips (known by their MD5) and as a repack
# with byte-identical PNGs (known by its SHA-256); either container is accepted.
OMNIGLOT_FILES: dict[str, RemoteFile] = {
    f.relpath: f
    for f in [
        _archive("images_background", "5f33d8145771b609d1160e7dab1ab91d4bac2eff51badd0d6a26c6dc4b8a7221",
                 ("68d2efa1b9178cc56df9314c21c6e718",)),
        _archive("images_evaluation", "0b9d4f3c1cc9523535502563008ea37608e8b27fcb53c39c1eb24a6f3b9a804a",
                 ("6b91aef0f799c5bb55b94e3f2daec811",)),
        _archive("images_background_small1", "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4"),
        _archive("images_background_small2", "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f"),
        _archive("all_runs", "437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
                 url=f"{_GITHUB}one-shot-classification/all_runs.zip"),
        _split("train", "984522c194c30fb678ce53304a160a42faf5403ad4f9a67010f32dd3a35738e0"),
        _split("val", "11f99e54faee3e26f53d3231c1cceac5bf7b8730e9be31cb6dab256551dc0c1a"),
        _split("test", "845264cc5c156180828ccf17915668b17ee21424d0170df6e7d81676aa5d1204"),
        _split("trainval", "5276ae50c755596d0bff7f2284e85625695549a85ee6e36b6491ad1e5d1cc26a"),
    ]
}


def omniglot_root(root: str | Path | None = None) -> Path:
    """The folder Omniglot is extracted to: ``ROOT/omniglot`` (``ROOT`` defaults to the data folder)."""
    return Path(root).expanduser() / "omniglot" if root is not None else data_dir() / "omniglot"


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def verify(path: Path, spec: RemoteFile, origin: str) -> None:
    """Raise ``DownloadError`` naming the file and both checksums unless ``path`` is the expected file."""
    sha, md5 = _digests(path)
    if sha in spec.sha256 or md5 in spec.md5:
        return
    expected = " or ".join([f"sha256 {s}" for s in spec.sha256] + [f"md5 {m}" for m in spec.md5])
    raise DownloadError(
        f"{spec.name} from {origin} is corrupt or not the expected file: expected {expected}, "
        f"got sha256 {sha} (md5 {md5}, {path.stat().st_size} bytes). Delete the bad copy at the source "
        f"and download it again."
    )


def _fetch(spec: RemoteFile, source: str | None, dest: Path, quiet: bool) -> str:
    """Copy or download ``spec`` to the file ``dest``; return where it came from."""
    if source and not source.startswith(("http://", "https://")):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DownloadError(f"the local source {folder} is not a folder: pass a folder that holds "
                                f"{', '.join(sorted(f.relpath for f in OMNIGLOT_FILES.values()))}")
        for candidate in (folder / spec.relpath, folder / spec.name):
            if candidate.is_file():
                shutil.copyfile(candidate, dest)
                return str(candidate)
        raise DownloadError(f"{spec.relpath} is missing from the local source {folder}: it should be at "
                            f"{folder / spec.relpath}")
    url = source.rstrip("/") + "/" + spec.relpath if source else spec.url
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, disable=quiet, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
            if total is not None and out.tell() != total:
                raise DownloadError(f"{spec.name} from {url} was cut short: {out.tell()} of {total} bytes "
                                    "arrived. Try again.")
    except urllib.error.HTTPError as e:
        raise DownloadError(f"could not download {spec.name} from {url}: HTTP {e.code} {e.reason}") from e
    except http.client.IncompleteRead as e:
        raise DownloadError(f"{spec.name} from {url} was cut short: the connection closed after "
                            f"{len(e.partial)} more bytes. Try again.") from e
    except (urllib.error.URLError, OSError) as e:
        if isinstance(e, DownloadError):
            raise
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"could not download {spec.name} from {url} ({reason}). Are you offline? Connect to the internet, "
            f"or use a local copy of the Omniglot files: `fsl-course download omniglot --from DIR` (or set "
            f"{SOURCE_ENV}=DIR), where DIR holds images_background.zip, images_evaluation.zip, ... and "
            f"splits/vinyals/*.txt."
        ) from e
    return url


def safe_member_path(archive: Path, info: zipfile.ZipInfo, folder: Path, target: Path) -> Path:
    """Where the zip member ``info`` goes under ``folder`` (extracting towards ``target``); raise
    ``UnsafeArchiveError`` for a member with an absolute path, a ``..`` component or a symbolic link."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written outside "
                                 f"{target}; refusing to extract this archive")
    if (mode & 0o170000) == 0o120000:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} is a symbolic link; "
                                 "refusing to extract this archive")
    dest = folder.joinpath(*parts)
    if not dest.resolve().is_relative_to(folder.resolve()):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written outside "
                                 f"{target}; refusing to extract this archive")
    return dest


def safe_extract(archive: Path, target: Path) -> None:
    """Extract the zip ``archive`` so that it ends up as the folder ``target``, atomically.

    Members are written to a temporary folder beside ``target``, which is renamed into place only once
    everything is out; a member with an absolute path, a ``..`` component or a symlink is refused.
    If the archive holds a single top-level folder named like ``target``, that folder becomes ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                dest = safe_member_path(archive, info, tmp, target)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        entries = list(tmp.iterdir())
        inner = entries[0] if len(entries) == 1 and entries[0].is_dir() and entries[0].name == target.name else tmp
        os.replace(inner, target)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{archive.name} is not a valid zip archive ({e}); download it again") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _in_place(spec: RemoteFile, root: Path) -> bool:
    if spec.is_archive:
        return (root / spec.folder).is_dir()
    path = root / spec.relpath
    return path.is_file() and _digests(path)[0] in spec.sha256


def download_omniglot(root: str | Path | None = None, source: str | Path | None = None,
                      files: list[str] | None = None, quiet: bool = False) -> Path:
    """Make sure Omniglot is in ``root`` (default: the data folder); return its folder.

    ``files`` limits the work to some of ``OMNIGLOT_FILES`` (their relative paths, e.g. ``"all_runs.zip"``).
    Files already in place are left alone, and a second call says so.
    """
    target = omniglot_root(root)
    source = str(source) if source is not None else os.environ.get(SOURCE_ENV) or None
    specs = [OMNIGLOT_FILES[f] for f in files] if files else list(OMNIGLOT_FILES.values())
    todo = [s for s in specs if not _in_place(s, target)]
    if not todo:
        if not quiet:
            print(f"Omniglot is already in place in {target} ({len(specs)} files checked); nothing to do.")
        return target
    target.mkdir(parents=True, exist_ok=True)
    for spec in tqdm(todo, desc="Omniglot", unit="file", disable=quiet):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}-", suffix=".part", dir=target)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            origin = _fetch(spec, source, tmp, quiet)
            verify(tmp, spec, origin)
            if spec.is_archive:
                safe_extract(tmp, target / spec.folder)
            else:
                dest = target / spec.relpath
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    if not quiet:
        print(f"Omniglot is ready in {target}.")
    return target
