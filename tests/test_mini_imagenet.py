"""mini-ImageNet from a local copy: the standard CSVs by checksum, every image checked, atomic, confined.

Most tests run on a tiny stand-in (a few classes of generated photos, with its own CSV digests patched in):
the real data set takes a minute to copy. The split facts are checked on the real CSVs in ../shared.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fsl_course.data import load_split
from fsl_course.data import mini_imagenet as mi
from fsl_course.data.download import DownloadError, RemoteFile, UnsafeArchiveError
from fsl_course.data.mini_imagenet_classes import CLASSES, TEST_WNIDS, TRAIN_WNIDS, VAL_WNIDS

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mini-imagenet"
TINY = {"train": ["n01532829", "n01558993", "n01704323"], "val": ["n01855672", "n02091244"],
        "test": ["n01930112", "n01981276"]}
PER_CLASS = 4


def _photo(seed: int, size: int = 84) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _names(split: str) -> list[tuple[str, str]]:
    return [(f"{w}{i:08d}.jpg", w) for w in TINY[split] for i in range(1, PER_CLASS + 1)]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny mini-ImageNet source folder (images/ + CSVs) whose CSV digests the loader is told to expect."""
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    specs, counts = {}, {}
    seed = 0
    for split in TINY:
        rows = _names(split)
        text = "filename,label\n" + "".join(f"{n},{w}\n" for n, w in rows)
        (src / f"{split}.csv").write_text(text)
        specs[split] = RemoteFile(f"{split}.csv", "", (hashlib.sha256(text.encode()).hexdigest(),))
        counts[split] = len(rows)
        for name, _ in rows:
            seed += 1
            (src / "images" / name).write_bytes(_photo(seed))
    monkeypatch.setattr(mi, "CSV_FILES", specs)
    monkeypatch.setattr(mi, "N_IMAGES", counts)
    monkeypatch.delenv(mi.SOURCE_ENV, raising=False)
    return src


def _zip_source(src: Path, out: Path, tamper=None) -> Path:
    """The same data as the three archives beside the CSVs; ``tamper(split, zipfile)`` may add members."""
    out.mkdir()
    for split in TINY:
        (out / f"{split}.csv").write_bytes((src / f"{split}.csv").read_bytes())
        with zipfile.ZipFile(out / f"{split}.zip", "w", zipfile.ZIP_STORED) as zf:
            for name, _ in _names(split):
                zf.writestr(f"images/{name}", (src / "images" / name).read_bytes())
            if tamper:
                tamper(split, zf)
    return out


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_folder_source_gives_the_splits_in_memory(tiny, tmp_path):
    root = tmp_path / "data"
    folder = mi.download_mini_imagenet(root, source=tiny, quiet=True)
    assert folder == root / "mini-imagenet" and mi.is_complete(folder)
    data = {s: mi.load_mini_imagenet(s, root=root, quiet=True) for s in mi.SPLITS}
    for split, stem in mi.SPLITS.items():
        d = data[split]
        assert d.images.shape == (len(TINY[stem]), PER_CLASS, 3, 84, 84) and d.images.dtype == torch.uint8
        assert d.class_names == TINY[stem] and d.channels == 3
        assert d.info["names"] == [CLASSES[w][0] for w in TINY[stem]]
    # the pixels are the decoded JPEGs, class by class, image by image (sorted by file name)
    name = _names("val")[PER_CLASS + 2][0]  # second class, third image
    with Image.open(tiny / "images" / name) as img:
        expected = torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)
    assert torch.equal(data["mini_val"].images[1, 2], expected)
    assert set(data["mini_train"].class_names).isdisjoint(data["mini_test"].class_names)


def test_a_second_load_reads_the_memory_mapped_cache(tiny, tmp_path, monkeypatch):
    root = tmp_path / "data"
    mi.download_mini_imagenet(root, source=tiny, quiet=True)
    first = mi.load_mini_imagenet("mini_train", root=root, quiet=True)
    monkeypatch.setattr(mi, "_decode", lambda *a: pytest.fail("decoded again instead of using the cache"))
    again = mi.load_mini_imagenet("mini_train", root=root, quiet=True)
    assert torch.equal(first.images, again.images)
    assert (root / "mini-imagenet" / "cache" / "train_84.npy").is_file()


def test_zips_beside_the_csvs_give_the_same_data(tiny, tmp_path):
    zsrc = _zip_source(tiny, tmp_path / "zips")
    a = mi.load_mini_imagenet("mini_test", root=Path(mi.download_mini_imagenet(tmp_path / "a", tiny, True)).parent,
                              quiet=True)
    mi.download_mini_imagenet(tmp_path / "b", zsrc, quiet=True)
    b = mi.load_mini_imagenet("mini_test", root=tmp_path / "b", quiet=True)
    assert torch.equal(a.images, b.images)


def test_a_csv_that_is_not_the_standard_one_is_refused(tmp_path):
    """Against the real digests: one changed line in train.csv is named, nothing is left behind."""
    if not (SHARED / "train.csv").is_file():
        pytest.fail(f"the local mini-ImageNet source {SHARED} is missing")
    src = tmp_path / "src"
    src.mkdir()
    for split in ("train", "val", "test"):
        (src / f"{split}.csv").write_bytes((SHARED / f"{split}.csv").read_bytes())
    lines = (src / "train.csv").read_text().splitlines()
    lines[5] = lines[5].replace(".jpg", ".png")
    (src / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DownloadError, match=r"train\.csv .* corrupt or not the expected file"):
        mi.download_mini_imagenet(tmp_path / "data", source=src, quiet=True)
    assert _leftovers(tmp_path / "data") == []


def test_a_damaged_archive_is_named_and_nothing_is_left(tiny, tmp_path):
    zsrc = _zip_source(tiny, tmp_path / "zips")
    data = bytearray((zsrc / "val.zip").read_bytes())
    at = data.find(b"\xff\xd8", 200)  # inside the first stored JPEG: its CRC no longer matches
    data[at + 100:at + 140] = b"\x00" * 40
    (zsrc / "val.zip").write_bytes(bytes(data))
    with pytest.raises(DownloadError, match=r"val\.zip is corrupt"):
        mi.download_mini_imagenet(tmp_path / "data", source=zsrc, quiet=True)
    assert _leftovers(tmp_path / "data") == []


def test_an_archive_member_that_leaves_the_target_is_refused(tiny, tmp_path):
    evil = lambda split, zf: split == "test" and zf.writestr("../../escaped.jpg", b"x")  # noqa: E731
    zsrc = _zip_source(tiny, tmp_path / "zips", tamper=evil)
    with pytest.raises(UnsafeArchiveError, match=r"test\.zip: member '\.\./\.\./escaped\.jpg' would be written"):
        mi.download_mini_imagenet(tmp_path / "data", source=zsrc, quiet=True)
    assert _leftovers(tmp_path / "data") == [] and not list(tmp_path.rglob("escaped.jpg"))


def test_an_image_that_does_not_decode_is_named(tiny, tmp_path):
    bad = _names("train")[3][0]
    (tiny / "images" / bad).write_bytes(b"not a jpeg at all")
    with pytest.raises(DownloadError, match=rf"{bad} is not a readable image"):
        mi.download_mini_imagenet(tmp_path / "data", source=tiny, quiet=True)
    assert _leftovers(tmp_path / "data") == []


def test_a_missing_image_is_named(tiny, tmp_path):
    gone = _names("test")[0][0]
    (tiny / "images" / gone).unlink()
    with pytest.raises(DownloadError, match=rf"{gone} \(test split\) is missing"):
        mi.download_mini_imagenet(tmp_path / "data", source=tiny, quiet=True)


def test_larger_originals_are_resized_to_84_with_a_note(tiny, tmp_path, capsys):
    big = _names("train")[0][0]
    (tiny / "images" / big).write_bytes(_photo(99, size=300))
    mi.download_mini_imagenet(tmp_path / "data", source=tiny)
    assert "1 images larger than 84x84 were resized" in capsys.readouterr().out
    with Image.open(tmp_path / "data" / "mini-imagenet" / "images" / big) as img:
        assert img.size == (84, 84) and img.mode == "RGB"


def test_missing_data_says_what_it_is_and_the_command_to_run(tmp_path, monkeypatch):
    monkeypatch.delenv(mi.SOURCE_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"(?s)100 ImageNet classes.*no official.*"
                                                r"fsl-course download mini-imagenet --from DIR"):
        mi.load_mini_imagenet("mini_train", root=tmp_path)
    with pytest.raises(DownloadError, match="fsl-course download mini-imagenet --from DIR"):
        mi.download_mini_imagenet(tmp_path, source=None)
    with pytest.raises(ValueError, match="unknown mini-ImageNet split 'mini_trian'"):
        mi.load_mini_imagenet("mini_trian", root=tmp_path)


def test_the_environment_variable_fetches_on_first_use(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(mi.SOURCE_ENV, str(tiny))
    monkeypatch.setenv("FSL_COURSE_DATA", str(tmp_path / "data"))
    d = load_split("mini_val", quiet=True)
    assert d.n_classes == 2 and (tmp_path / "data" / "mini-imagenet" / "images").is_dir()
    with pytest.raises(ValueError, match="mini-ImageNet images are 84x84"):
        load_split("mini_val", image_size=28)


def test_the_standard_split_has_64_16_20_disjoint_classes_of_600_images():
    if not (SHARED / "train.csv").is_file():
        pytest.fail(f"the local mini-ImageNet source {SHARED} is missing")
    wnids = {}
    for split, expected in (("train", TRAIN_WNIDS), ("val", VAL_WNIDS), ("test", TEST_WNIDS)):
        rows = mi.read_split_csv(SHARED / f"{split}.csv")
        per_class = {}
        for name, w in rows:
            assert name.startswith(w) and name.endswith(".jpg")
            per_class[w] = per_class.get(w, 0) + 1
        assert tuple(per_class) == expected and set(per_class.values()) == {mi.N_PER_CLASS}
        assert len(rows) == mi.N_IMAGES[split]
        wnids[split] = set(per_class)
    assert [len(wnids[s]) for s in ("train", "val", "test")] == [64, 16, 20]
    assert not (wnids["train"] & wnids["val"] or wnids["train"] & wnids["test"] or wnids["val"] & wnids["test"])
    assert set(CLASSES) == wnids["train"] | wnids["val"] | wnids["test"]
    assert all(name and description for name, description in CLASSES.values())
