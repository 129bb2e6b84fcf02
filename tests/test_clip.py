"""CLIP with open_clip, offline: loading and its offline error, the zero-shot classifier against the hand
computation, similarity and top-k, the CIFAR-100 names, CLIP features as a few-shot backbone.

Every model here is an open_clip architecture shrunk to a few thousand parameters (``TINY``) with random
weights; no test reaches the network (sockets are blocked for the whole module).
"""

from __future__ import annotations

import os
import socket
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from fsl_course.clip import model as clip_model  # noqa: E402
from fsl_course.clip import plots, zeroshot  # noqa: E402
from fsl_course.clip.model import (  # noqa: E402
    WeightsUnavailableError,
    cached_weights,
    load_clip,
    load_clip_or_untrained,
    similarity,
    untrained_clip,
)

#: ViT-B-32's tokenizer and preprocessing, towers of one layer (``model_kwargs`` override open_clip's config)
TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}
LAION_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
_REAL = {"connect": socket.socket.connect, "create_connection": socket.create_connection,
         "getaddrinfo": socket.getaddrinfo}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails at once."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def tiny():
    return untrained_clip("ViT-B-32", seed=0, **TINY)


# --- CIFAR-100 names ---------------------------------------------------------------------------------------

def test_cifar100_names_are_the_official_100_in_order():
    names = zeroshot.CIFAR100_CLASSES
    assert len(names) == 100 and len(set(names)) == 100
    assert list(names) == sorted(names)  # the official fine-label list is alphabetical
    known = {0: "apple", 1: "aquarium_fish", 19: "cattle", 28: "cup", 39: "keyboard", 46: "man",
             48: "motorcycle", 69: "rocket", 98: "woman", 99: "worm"}
    assert all(names[i] == n for i, n in known.items())
    assert "computer_keyboard" not in names and "cat" not in names and "horse" not in names
    assert zeroshot.cifar100_prompt_names()[1] == "aquarium fish"
    assert all(" " not in n for n in names)


def test_sample_images_are_the_seed_walkthrough():
    names, images, descriptions = zeroshot.sample_images()
    assert names == ["page", "chelsea", "astronaut", "rocket", "motorcycle_right", "camera", "horse", "coffee"]
    assert descriptions[1] == "a facial photo of a tabby cat"
    assert descriptions[4] == "a red motorcycle standing in a garage"
    assert images[4].shape == (500, 741, 3) and images[6].dtype == bool
    assert set(zeroshot.SAMPLE_CIFAR100_LABELS.values()) <= set(zeroshot.CIFAR100_CLASSES)


# --- tokenizer and loading -----------------------------------------------------------------------------------

def test_bundled_tokenizer_works_offline():
    import open_clip

    tok = open_clip.get_tokenizer("ViT-B-32")
    ids = tok(["This is a photo of a rocket", "a cup of coffee on a saucer"])
    assert ids.shape == (2, 77) and ids.dtype == torch.long
    assert (ids[:, 0] == 49406).all()  # start of text
    assert (ids.argmax(1) == (ids != 0).sum(1) - 1).all()  # end of text (49407) is the largest id, last
    assert torch.equal(ids, tok(["This is a photo of a rocket", "a cup of coffee on a saucer"]))


def test_offline_error_says_why_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as e:
        load_clip(cache_dir=tmp_path)
    assert time.perf_counter() - start < 5
    msg = str(e.value)
    assert "not in the local cache" in msg and "HF_HUB_OFFLINE" in msg
    assert "connect this machine to the internet" in msg and "checkpoint=" in msg


def test_failed_download_becomes_the_offline_error(monkeypatch, tmp_path):
    import open_clip.pretrained

    calls = []

    def unreachable(cfg, cache_dir=None, **kwargs):
        calls.append(cfg["hf_hub"])
        raise FileNotFoundError("Failed to download file (open_clip_pytorch_model.bin). Please check your "
                                "connection and try again or make sure your Internet connection is on.")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(clip_model, "hub_reachable", lambda timeout=None: True)  # the probe passes
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", unreachable)
    with pytest.raises(WeightsUnavailableError, match="could not be downloaded") as e:
        load_clip("ViT-B-32", "openai", cache_dir=tmp_path, download=True)
    assert calls == ["timm/vit_base_patch32_clip_224.openai/"]
    assert "checkpoint=" in str(e.value) and isinstance(e.value.__cause__, FileNotFoundError)
    with pytest.raises(WeightsUnavailableError, match="download=False"):
        load_clip(cache_dir=tmp_path, download=False)
    assert len(calls) == 1  # download=False never tries


def test_unknown_tag_and_missing_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="known tags: .*laion2b_s34b_b79k"):
        load_clip("ViT-B-32", "no-such-weights", download=False)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_clip(checkpoint=tmp_path / "missing.pt")


def test_local_checkpoint_is_loaded(tiny, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(tiny.model.state_dict(), path)
    clip = load_clip("ViT-B-32", "openai", checkpoint=path, **TINY)
    assert clip.trained and clip.warning is None and "openai" in clip.pretrained
    for (k, a), b in zip(tiny.model.state_dict().items(), clip.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert clip.model.transformer.resblocks[0].mlp.gelu.__class__.__name__ == "QuickGELU"  # OpenAI's setting
    plain = load_clip("ViT-B-32", None, checkpoint=path, **TINY)
    assert plain.model.transformer.resblocks[0].mlp.gelu.__class__.__name__ == "GELU"


def test_weights_in_the_cache_load_without_download(tiny, tmp_path):
    snapshot = tmp_path / f"models--{LAION_REPO.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    torch.save(tiny.model.state_dict(), snapshot / "open_clip_pytorch_model.bin")
    assert cached_weights(cache_dir=tmp_path) == snapshot / "open_clip_pytorch_model.bin"
    clip = load_clip(cache_dir=tmp_path, download=False, **TINY)
    assert clip.trained and clip.pretrained == "laion2b_s34b_b79k"


def test_fallback_is_untrained_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clip = load_clip_or_untrained(cache_dir=tmp_path, **TINY)
    out = capsys.readouterr().out
    assert not clip.trained and clip.pretrained is None
    assert "No pretrained weights (not cached; HF_HUB_OFFLINE=1)" in out and "UNTRAINED MODEL" in out and "NOISE" in out
    assert "RANDOM" in clip.describe()


@pytest.fixture
def hub_online_settings(monkeypatch):
    """No offline switch set (as on a machine not known to be offline); whatever the code under test switches
    on (``HF_HUB_OFFLINE``, huggingface_hub's offline mode) is undone afterwards."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return constants


def test_offline_load_is_one_quick_attempt_and_one_line(monkeypatch, tmp_path, capsys, hub_online_settings):
    """No hub (every connection refused): one connection attempt, no download, one line saying so; then the
    process is offline for the hub, so a second load does not try at all."""
    import open_clip.pretrained

    attempts, downloads = [], []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", lambda *a, **k: downloads.append(a))
    start = time.perf_counter()
    clip = load_clip_or_untrained(cache_dir=tmp_path, **TINY)
    assert time.perf_counter() - start < 10  # 46 s of the hub's retries before
    out = capsys.readouterr().out
    assert attempts == [("huggingface.co", 443)] and downloads == []
    assert not clip.trained
    said = [line for line in out.splitlines() if "pretrained weights" in line.lower() and "!!" not in line]
    assert said == ["No pretrained weights (not cached; huggingface.co unreachable): using an UNTRAINED ViT-B-32."]
    assert "checkpoint=" in out and "internet" in out  # how to get the real weights, in the banner
    assert max(map(len, out.splitlines())) <= 100
    assert os.environ["HF_HUB_OFFLINE"] == "1" and hub_online_settings.HF_HUB_OFFLINE is True
    load_clip_or_untrained(cache_dir=tmp_path, **TINY)
    assert len(attempts) == 1 and downloads == []  # offline now: no second attempt
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().out


def test_probe_of_a_closed_port_fails_at_once(monkeypatch, hub_online_settings):
    """The probe against a real socket: the hub's address pointed at 127.0.0.1 on a port nobody listens on
    (connections to anything but 127.0.0.1 stay refused)."""
    def local_only(fn, host_of):
        def call(*args, **kwargs):
            if host_of(args) != "127.0.0.1":
                raise OSError("network access attempted in an offline test")
            return fn(*args, **kwargs)
        return call

    # create_connection as it is, resolving and connecting through the two loopback-only functions
    monkeypatch.setattr(socket, "create_connection", _REAL["create_connection"])
    monkeypatch.setattr(socket.socket, "connect", local_only(_REAL["connect"], lambda a: a[1][0]))
    monkeypatch.setattr(socket, "getaddrinfo", local_only(_REAL["getaddrinfo"], lambda a: a[0]))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # bound, then released: nothing listens there
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert clip_model._probe_address() == ("127.0.0.1", port)
    start = time.perf_counter()
    assert clip_model.hub_reachable(timeout=2.0) is False
    assert time.perf_counter() - start < 2.5
    with pytest.raises(WeightsUnavailableError, match=f"127.0.0.1:{port} cannot be reached") as e:
        clip_model.weights_file(cache_dir="/nonexistent-cache")
    assert e.value.reason == f"not cached; 127.0.0.1:{port} unreachable" and os.environ["HF_HUB_OFFLINE"] == "1"
    with socket.socket() as server:  # and a port that listens is reachable
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert clip_model.hub_reachable(timeout=2.0) is True


def test_untrained_model_is_seeded(tiny):
    again = untrained_clip("ViT-B-32", seed=0, **TINY)
    other = untrained_clip("ViT-B-32", seed=1, **TINY)
    a, b, c = (m.model.text_projection for m in (tiny, again, other))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- encoding, similarity, zero-shot ---------------------------------------------------------------------------

def test_encoders_take_arrays_pil_and_tensors(tiny):
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    images = [rgb, np.zeros((30, 30), dtype=bool), np.full((20, 20), 0.5), Image.fromarray(rgb)]
    f = tiny.encode_images(images)
    assert f.shape == (4, 16) and torch.allclose(f.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(f[0], f[3], atol=1e-5)  # the same picture as an array or as PIL
    pixels = torch.rand(3, 3, 40, 48)
    t = tiny.encode_images(pixels)
    assert t.shape == (3, 16) and torch.allclose(t, tiny.encode_images(list(pixels)), atol=1e-5)
    texts = tiny.encode_texts(["a cat", "a dog"])
    assert texts.shape == (2, 16) and torch.allclose(texts.norm(dim=1), torch.ones(2), atol=1e-5)
    with pytest.raises(TypeError):
        tiny.encode_texts("a cat")


def test_similarity_is_cosine():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 7, generator=g), torch.randn(5, 7, generator=g)
    direct = torch.tensor([[float(torch.dot(x, y) / (x.norm() * y.norm())) for y in b] for x in a])
    assert torch.allclose(similarity(a, b), direct, atol=1e-6)


def test_zero_shot_classifier_equals_hand_computation(tiny):
    names = ["rocket", "cup", "aquarium fish"]
    templates = ["a photo of a {}.", lambda c: f"art of the {c}", "This is a photo of a {}"]
    weights = zeroshot.zero_shot_classifier(tiny, names, templates, num_classes_per_batch=2)
    assert weights.shape == (16, 3)
    columns = []
    for name in names:
        prompts = [zeroshot.fill(t, name) for t in templates]  # "a photo of an aquarium fish."
        with torch.no_grad():
            e = tiny.model.encode_text(tiny.tokenizer(prompts))
        mean = F.normalize(e, dim=-1).mean(0)
        columns.append(mean / mean.norm())
    assert torch.allclose(weights, torch.stack(columns, 1), atol=1e-5)
    single = zeroshot.zero_shot_classifier(tiny, names, ["{}"])
    assert torch.allclose(single.T, tiny.encode_texts(names), atol=1e-5)


def test_probabilities_and_top_k_agree_with_direct_computation():
    g = torch.Generator().manual_seed(1)
    feats, weights = torch.randn(3, 8, generator=g), torch.randn(8, 10, generator=g)
    probs = zeroshot.class_probabilities(feats, weights)
    cos = F.normalize(feats, dim=1) @ F.normalize(weights, dim=0)
    direct = torch.exp(100 * cos) / torch.exp(100 * cos).sum(1, keepdim=True)
    assert torch.allclose(probs, direct, atol=1e-5)
    values, indices = zeroshot.top_k(probs, 5)
    for row in range(3):
        order = sorted(range(10), key=lambda j: -float(probs[row, j]))[:5]
        assert indices[row].tolist() == order
        assert torch.allclose(values[row], probs[row, order])
    assert zeroshot.top_k(probs, 50)[0].shape == (3, 10)


def test_marginal_probabilities_sum_each_class_captions():
    g = torch.Generator().manual_seed(2)
    feats, caps = torch.randn(4, 8, generator=g), torch.randn(6, 8, generator=g)
    owner = [0, 2, 1, 0, 2, 2]
    probs = zeroshot.marginal_class_probabilities(feats, caps, owner, 3, scale=10)
    per_caption = zeroshot.class_probabilities(feats, caps.T, 10)
    for c in range(3):
        assert torch.allclose(probs[:, c], per_caption[:, [j for j, o in enumerate(owner) if o == c]].sum(1))
    assert torch.allclose(probs.sum(1), torch.ones(4), atol=1e-5)


def test_compare_templates_reports_every_set(tiny):
    feats = tiny.encode_images(torch.rand(2, 3, 32, 32))
    sets = {"one": ["a photo of a {}."], "two": ["{}", lambda c: f"a {c}"]}
    rows = zeroshot.compare_templates(tiny, feats, ["cup", "rocket"], ["cup", "rocket", "lamp"], sets)
    assert [r["templates"] for r in rows] == ["one", "two"] and rows[1]["prompts"] == 6
    assert all(1 <= r <= 3 for row in rows for r in row["ranks"]) and all(0 <= r["top1"] <= 1 for r in rows)
    assert len(zeroshot.template_sets()["ensemble of 80 (open_clip OPENAI)"]) == 80


# --- CLIP features as a few-shot backbone ------------------------------------------------------------------------

def test_image_and_text_initialised_prototypes():
    g = torch.Generator().manual_seed(3)
    feats, labels = torch.randn(6, 5, generator=g), torch.tensor([0, 1, 0, 1, 2, 2])
    text = F.normalize(torch.randn(3, 5, generator=g), dim=1)
    protos = zeroshot.image_prototypes(feats, labels, 3)
    z = F.normalize(feats, dim=1)
    assert torch.allclose(protos[0], F.normalize(z[[0, 2]].mean(0), dim=0), atol=1e-6)
    assert torch.allclose(zeroshot.text_initialised_prototypes(text, None, None), text)
    mixed = zeroshot.text_initialised_prototypes(text, feats, labels, strength=2.0)
    assert torch.allclose(mixed[2], F.normalize((2 * text[2] + z[4] + z[5]) / 4, dim=0), atol=1e-6)
    many = zeroshot.text_initialised_prototypes(text, feats.repeat(1000, 1), labels.repeat(1000), strength=1.0)
    assert torch.allclose(many, protos, atol=1e-3)  # with many shots the text hardly counts


def test_shot_curves_start_at_zero_shot():
    g = torch.Generator().manual_seed(4)
    centres = F.normalize(torch.randn(3, 6, generator=g), dim=1)
    labels = torch.arange(3).repeat_interleave(8)
    feats = centres[labels] + 0.1 * torch.randn(24, 6, generator=g)
    curves = zeroshot.shot_curves(feats, labels, centres, shots=(0, 1, 3), queries=4, episodes=5)
    assert torch.equal(curves["text (zero-shot)"][0], curves["text-initialised prototypes"][0])
    assert torch.isnan(curves["image prototypes"][0]).all()
    assert (curves["image prototypes"][3] >= 0.9).all()  # well-separated clusters
    rows = zeroshot.summarise_curves(curves)
    assert {r["shot"] for r in rows if r["method"] == "image prototypes"} == {1, 3}
    with pytest.raises(ValueError, match="needs 9 pool images"):
        zeroshot.shot_curves(feats, labels, centres, shots=(0, 5), queries=4)


# --- figures ----------------------------------------------------------------------------------------------------

def test_figures_draw_and_stamp_untrained_output(tiny):
    images = [np.zeros((10, 10, 3), dtype=np.uint8), np.ones((12, 8), dtype=bool), torch.rand(3, 9, 9)]
    fig = plots.plot_similarity(torch.rand(2, 3), images, ["one", "two"], warning=tiny.warning)
    assert any(plots.NOISE_STAMP in t.get_text() for t in fig.texts)
    fig2 = plots.plot_top_k(images, torch.rand(3, 5), [["a", "b", "c", "d", "e"]] * 3)
    assert not any(plots.NOISE_STAMP in t.get_text() for t in fig2.texts)
    fig3 = plots.plot_retrieval(["q1", "q2"], images, torch.rand(2, 3), k=2, captions=["q1", "x", "q2"])
    with pytest.raises(ValueError):
        plots.plot_similarity(torch.rand(2, 2), images, ["one", "two"])
    for f in (fig, fig2, fig3):
        plt.close(f)


def test_warning_text_is_prominent(tiny):
    assert tiny.warning.startswith("!" * 20) and "NOISE" in tiny.warning and "ViT-B-32" in tiny.warning
    assert clip_model.UNTRAINED_WARNING.count("\n") >= 3


# --- what the notebooks print ------------------------------------------------------------------------------

@pytest.mark.parametrize("word, expected", [
    ("apple", "an"), ("orange", "an"), ("elephant", "an"), ("aquarium fish", "an"), ("oak_tree", "an"),
    ("otter", "an"), ("umbrella", "an"), ("bicycle", "a"), ("house", "a"), ("rocket", "a"),
    # the exceptions: a vowel letter with a consonant sound, and a silent h
    ("unicorn", "a"), ("uniform", "a"), ("one-eyed cat", "a"), ("European city", "a"), ("hour", "an"),
    ("honest man", "an"),
])
def test_article_agrees_with_the_word(word, expected):
    assert zeroshot.article(word) == expected


def test_prompts_have_the_right_article(tiny):
    assert zeroshot.fill("a photo of a {}.", "apple") == "a photo of an apple."
    assert zeroshot.fill(zeroshot.SEED_TEMPLATE, "orange") == "This is a photo of an orange"
    assert zeroshot.fill("A {} in the wild", "elephant") == "An elephant in the wild"
    assert zeroshot.fill("an {}", "unicorn") == "a unicorn" and zeroshot.fill("a {}", "house") == "a house"
    assert zeroshot.fill(lambda c: f"a origami {c}.", "bicycle") == "an origami bicycle."  # open_clip's list
    assert zeroshot.fill("a {}", "orange square", articles=False) == "a orange square"
    weights = zeroshot.zero_shot_classifier(tiny, ["apple"], ["a photo of a {}."])[:, 0]
    assert torch.allclose(weights, tiny.encode_texts(["a photo of an apple."])[0], atol=1e-5)
    assert not torch.allclose(weights, tiny.encode_texts(["a photo of a apple."])[0], atol=1e-5)
    plain = zeroshot.zero_shot_classifier(tiny, ["apple"], ["a photo of a {}."], articles=False)[:, 0]
    assert torch.allclose(plain, tiny.encode_texts(["a photo of a apple."])[0], atol=1e-5)


def test_printed_tables_fit_the_page(tiny):
    """Everything notebook 07 prints, at the notebook's sizes, fits in 100 characters a line."""
    width = 100
    names, _, _ = zeroshot.sample_images()
    classes = zeroshot.CIFAR100_CLASSES
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(len(names), len(classes), generator=g).softmax(-1)
    # the longest class names on top, so the lines are as long as they get
    longest = sorted(range(len(classes)), key=lambda i: -len(classes[i]))[:5]
    top_labels = torch.tensor([longest] * len(names))
    top = zeroshot.format_top_k(names, probs[:, longest], top_labels, classes, truth=zeroshot.SAMPLE_CIFAR100_LABELS)
    assert top.count("motorcycle_right:") == 1 and "[CIFAR-100 class: motorcycle]" in top
    labelled = list(zeroshot.SAMPLE_CIFAR100_LABELS)
    rows = [{"templates": name, "prompts": 8000, "top1": 1.0, "p_true": 1.0, "ranks": [100] * len(labelled)}
            for name in zeroshot.template_sets()]
    table = zeroshot.format_template_rows(rows, labelled)
    assert "motorcycle" in table and "ensemble of 80" in table
    curves = zeroshot.format_curve_rows(
        [{"method": m, "shot": s, "accuracy": 100.0, "ci95": 10.0}
         for m in ("text (zero-shot)", "image prototypes", "text-initialised prototypes") for s in (0, 1, 2, 4, 8)])
    _, _, pool_classes = zeroshot.shapes_pool(10, 1, image_size=8)
    texts = {"top-k": top, "templates": table, "curves": curves, "describe": tiny.describe(),
             "noise note": tiny.noise_note, "warning": tiny.warning, "classes": zeroshot.wrap_list(pool_classes),
             "prompts": zeroshot.wrap_list([zeroshot.fill(t, "rocket") for t in zeroshot.template_sets()
                                            ["ensemble of 7 (open_clip SIMPLE)"]])}
    for what, text in texts.items():
        assert max(map(len, text.splitlines())) <= width, (what, text)
    assert "red circle, orange square" in texts["classes"]


def test_wrap_and_plural():
    from fsl_course.text import plural, wrap

    assert plural(1, "CPU thread") == "1 CPU thread" and plural(2, "CPU thread") == "2 CPU threads"
    assert plural(0, "episode") == "0 episodes" and plural(3, "class", "classes") == "3 classes"
    long = "word " * 50
    assert wrap("short\n" + long).splitlines()[0] == "short"
    assert all(len(line) <= 100 for line in wrap(long).splitlines()) and len(wrap(long).splitlines()) == 3
