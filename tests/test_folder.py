"""A folder of your own photos as a split: episodes from classes of unequal size, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fsl_course.data import load_split
from fsl_course.data.folder import load_image_folder
from fsl_course.episodes import EpisodeSampler, EpisodeSet


def _save(path, colour, size=(120, 90), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    (img.convert(mode) if mode != "RGB" else img).save(path, format=fmt)


def _folder(tmp_path, counts=None):
    """Classes of plain-coloured pictures, each class its own colour; any size, mode and format."""
    counts = counts or {"apple": 6, "banana": 4, "cherry": 5}
    colours = {"apple": (200, 30, 30), "banana": (230, 220, 40), "cherry": (120, 0, 40), "date": (90, 60, 30)}
    kinds = [(".jpg", "RGB", (120, 90)), (".png", "RGBA", (40, 40)), (".webp", "RGB", (200, 300)),
             (".jpeg", "L", (84, 84))]
    for name, n in counts.items():
        for i in range(n):
            ext, mode, size = kinds[i % len(kinds)]
            _save(tmp_path / "photos" / name / f"{i:02d}{ext}", colours[name], size, mode)
    (tmp_path / "photos" / "apple" / "notes.txt").write_text("not a picture: skipped")
    (tmp_path / "photos" / ".thumbnails").mkdir()
    return tmp_path / "photos"


def test_a_folder_is_a_split_of_rgb_images_with_unequal_classes(tmp_path):
    d = load_image_folder(_folder(tmp_path), quiet=True)
    assert d.class_names == ["apple", "banana", "cherry"] and d.channels == 3
    assert d.images.shape == (3, 6, 3, 84, 84) and d.class_counts().tolist() == [6, 4, 5] and len(d) == 15
    # every picture, whatever its size and mode, became an 84x84 RGB image of its class's colour
    for i in (0, 1, 2):  # .jpg (RGB), .png (RGBA), .webp of other sizes
        assert (d.images[0, i].float().mean((1, 2)) - torch.tensor([200.0, 30, 30])).abs().max() < 4
    grey = d.images[0, 3]  # a greyscale .jpeg: three equal channels
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert (d.images[1, 4:] == 0).all()  # padding, never drawn
    images, labels = d.flat()
    assert images.shape == (15, 3, 84, 84) and labels.tolist() == [0] * 6 + [1] * 4 + [2] * 5


def test_episodes_from_a_folder_never_draw_past_a_class_s_images(tmp_path):
    d = load_split(f"folder:{_folder(tmp_path)}", quiet=True)
    counts = d.class_counts()
    for e in EpisodeSet(d, way=3, shot=1, query=3, n_episodes=200, seed=0):
        assert (e.items < counts[e.classes][:, None]).all()
        assert all(len(set(row.tolist())) == 4 for row in e.items)  # support and query distinct
        assert e.support.shape == (3, 3, 84, 84) and e.query.shape == (9, 3, 84, 84)
    # ...while a data set of equal classes draws exactly the episodes it drew before counts existed
    full = load_image_folder(_folder(tmp_path / "eq", {"apple": 4, "banana": 4}), quiet=True)
    assert full.counts is None
    g = torch.Generator().manual_seed(3)
    torch.rand(1, 2, generator=g)
    expected_items = torch.rand(1, 2, 4, generator=g).argsort(dim=2)[:, :, :3]
    assert torch.equal(EpisodeSampler(full, 2, 1, 2, seed=3).sample().items, expected_items[0])


def test_too_few_pictures_for_the_episode_names_the_classes(tmp_path):
    d = load_image_folder(_folder(tmp_path), quiet=True)
    with pytest.raises(ValueError, match=r"3 \+ 2 = 5 .* 1 class\(es\) have fewer: 'banana' \(4\).* at most 4"):
        EpisodeSampler(d, way=3, shot=3, query=2)


def test_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_image_folder(tmp_path / "nowhere")
    one = _folder(tmp_path / "one", {"apple": 3})
    with pytest.raises(ValueError, match=r"only the class folder 'apple'.* at least two classes"):
        load_image_folder(one)
    empty = _folder(tmp_path / "empty", {"apple": 3, "banana": 2})
    (empty / "cherry").mkdir()
    with pytest.raises(ValueError, match=r"1 class folder\(s\) hold no pictures .*'cherry'"):
        load_image_folder(empty)
    broken = _folder(tmp_path / "broken", {"apple": 3, "banana": 2})
    (broken / "banana" / "01.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError, match=r"banana/01\.png is not a readable picture"):
        load_image_folder(broken)
    with pytest.raises(ValueError, match="not for photos"):
        load_split(f"folder:{broken}", rotations=True)
