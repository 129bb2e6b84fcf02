"""The notebooks' explorers, driven headlessly: set the controls, press the buttons, check what is redrawn."""

from __future__ import annotations

import base64
import datetime
import html
import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import fsl_course
from fsl_course import widgets as W
from fsl_course.config import checkpoints_dir
from fsl_course.data.omniglot import FewShotDataset, load_omniglot
from fsl_course.episodes import check_request
from fsl_course.methods import build_method
from fsl_course.methods.protonet import prototypes
from tests.conftest import tiny_dataset

matplotlib.use("Agg")

CHECKPOINT = checkpoints_dir() / "protonet_omniglot_1shot.pt"


def shown_png(explorer) -> bytes:
    """The PNG the explorer's Output widget shows now (and checks there is exactly one)."""
    (entry,) = explorer.output.outputs
    assert entry["output_type"] == "display_data"
    return base64.b64decode(entry["data"]["image/png"])


def assert_shows_error(explorer, expected: str) -> None:
    assert explorer.error == expected
    assert expected in html.unescape(explorer.message.value)  # the message line shows it
    assert explorer.output.outputs == () and explorer.png is None


def upload(files) -> tuple:
    """A ``FileUpload`` value as ipywidgets 8 holds it: a tuple of dicts with the bytes in ``content``."""
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return tuple({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                  "last_modified": when} for name, data in files)


def fake_photo(shape: str, centre=(0.5, 0.5), radius=0.18, width=0.02, size=(400, 300), seed=0) -> bytes:
    """A "phone photo" of a symbol drawn in pen: dark strokes on light, unevenly lit, noisy RGB paper (PNG)."""
    rng = np.random.default_rng(seed)
    w, h = size
    paper = np.array([205, 198, 185], np.float32) + np.linspace(-18, 18, w)[None, :, None]
    img = Image.fromarray(np.clip(paper + rng.normal(0, 7, (h, w, 3)), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    ink = (40, 40, 60)
    cx, cy, r, lw = centre[0] * w, centre[1] * h, radius * min(w, h), max(2, int(width * min(w, h)))
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=ink, width=lw)
    elif shape == "cross":
        d.line([cx - r, cy - r, cx + r, cy + r], fill=ink, width=lw)
        d.line([cx - r, cy + r, cx + r, cy - r], fill=ink, width=lw)
    elif shape == "triangle":
        d.line([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx, cy - r)], fill=ink, width=lw, joint="curve")
    elif shape == "zigzag":
        d.line([(cx - r, cy - r), (cx + r, cy - r / 3), (cx - r, cy + r / 3), (cx + r, cy + r)], fill=ink,
               width=lw, joint="curve")
    else:
        raise ValueError(shape)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def photo_of_drawing(drawing: torch.Tensor, scale: float = 3.0, offset=(90, 60), size=(360, 300), seed=0) -> bytes:
    """A photo of a data set drawing (uint8 [S, S], ink bright): enlarged, dark ink on light noisy RGB paper."""
    rng = np.random.default_rng(seed)
    side = int(drawing.shape[-1] * scale)
    a = np.asarray(Image.fromarray(drawing.numpy()).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    paper = np.full((size[1], size[0]), 200.0, np.float32) + np.linspace(-15, 15, size[0])[None, :]
    x, y = offset
    paper[y:y + side, x:x + side] = paper[y:y + side, x:x + side] * (1 - a) + 45 * a
    rgb = np.stack([paper, paper * 0.97, paper * 0.92], -1) + rng.normal(0, 8, (size[1], size[0], 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def classifier():
    return fsl_course.load_classifier(CHECKPOINT)


@pytest.fixture(scope="module")
def omniglot_test():
    return load_omniglot("vinyals_test", quiet=True)


# --- the episode explorer -------------------------------------------------------------------------------

def test_episode_explorer_redraws_the_episode_the_sliders_ask_for():
    data = tiny_dataset(6, 5)
    ex = W.EpisodeExplorer(data, way=2, shot=1, query=1)
    assert ex.error is None and ex.episode.way == 2 and shown_png(ex) == ex.png
    ex.way_slider.value, ex.shot_slider.value, ex.query_slider.value = 3, 2, 3
    e = ex.episode
    assert e.support.shape == (6, 1, 8, 8) and e.query.shape == (9, 1, 8, 8)
    assert e.support_labels.tolist() == [0, 0, 1, 1, 2, 2] and len(set(e.classes.tolist())) == 3
    # image (c, i) of the tiny set carries c in its first pixel: every support image is of its label's class
    assert torch.equal((e.support[:, 0, 0, 0] * 255).round().long(), e.classes[e.support_labels])
    assert torch.equal((e.query[:, 0, 0, 0] * 255).round().long(), e.classes[e.query_labels])
    assert "3-way 2-shot" in ex.message.value and "(6, 1, 8, 8)" in ex.message.value


def test_new_episode_button_draws_another_seeded_episode():
    data = tiny_dataset(6, 5)
    ex = W.EpisodeExplorer(data, way=3, shot=1, query=2, seed=7)
    first = (ex.episode.classes.clone(), ex.episode.items.clone())
    ex.new_episode_button.click()
    assert ex.draws == 1
    assert not (torch.equal(first[0], ex.episode.classes) and torch.equal(first[1], ex.episode.items))
    again = W.EpisodeExplorer(data, way=3, shot=1, query=2, seed=7)
    again.new_episode_button.click()  # the same seed and presses give the same episode
    assert torch.equal(again.episode.items, ex.episode.items) and torch.equal(again.episode.classes, ex.episode.classes)


def test_split_chooser_switches_data_set():
    a, b = tiny_dataset(6, 5, seed=0), tiny_dataset(4, 5, seed=1)
    b.name = "other"
    ex = W.EpisodeExplorer({"tiny": a, "other": b}, way=3, shot=1, query=1)
    assert list(ex.split_dropdown.options) == ["tiny", "other"]
    ex.split_dropdown.value = "other"
    e = ex.episode
    assert ex.dataset is b and torch.equal(e.support[0, 0], b.images[e.classes[0], e.items[0, 0]].float() / 255)
    assert "other:" in ex.message.value


def test_impossible_settings_show_the_samplers_message():
    data = tiny_dataset(6, 5)
    ex = W.EpisodeExplorer(data, way=3, shot=1, query=1)
    ex.way_slider.value = 7
    with pytest.raises(ValueError) as too_many:
        check_request(data, 7, 1, 1)
    assert_shows_error(ex, str(too_many.value))
    assert ex.episode is None and "at most 6" in ex.error
    fig = ex.static_figure()  # the printed fallback says it too
    assert "at most 6" in fig.axes[0].texts[0].get_text().replace("\n", " ")
    matplotlib.pyplot.close(fig)
    ex.way_slider.value = 3
    assert ex.error is None and ex.episode.way == 3
    ex.shot_slider.value, ex.query_slider.value = 3, 3
    assert_shows_error(ex, "shot + query = 3 + 3 = 6 images per class, but each class of 'tiny' has only 5: "
                           "shot + query must be at most 5")


def test_display_gives_the_widget_and_a_static_png():
    ex = W.EpisodeExplorer(tiny_dataset(6, 5), way=2, shot=1, query=1)
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == ex.png and ex.png.startswith(b"\x89PNG")
    assert "EpisodeExplorer" in bundle["text/plain"]
    fig = ex.static_figure()
    assert fig.axes and matplotlib.pyplot.fignum_exists(fig.number)
    matplotlib.pyplot.close(fig)


# --- your own character ---------------------------------------------------------------------------------

def test_label_from_filename():
    for name in ("alpha_2.png", "alpha-12.jpg", "alpha (3).png", "alpha.PNG", "alpha 4.jpeg"):
        assert W.label_from_filename(name) == "alpha"
    assert W.label_from_filename("character01.png") == "character01"
    assert W.label_from_filename("7.png") == "7"


def test_a_photo_is_turned_grey_cropped_to_the_ink_and_resized(classifier):
    pre = W.photo_preprocess(classifier.preprocess)
    assert pre.crop and pre.invert == "auto" and pre.image_size == classifier.preprocess.image_size == 28
    rgb = Image.open(io.BytesIO(fake_photo("cross", centre=(0.3, 0.35), radius=0.1)))
    assert rgb.mode == "RGB" and rgb.size == (400, 300)
    x = pre.pil_to_uint8(rgb)
    assert x.shape == (28, 28) and x.dtype == torch.uint8
    assert torch.equal(x, pre.pil_to_uint8(rgb.convert("L")))  # greyscale first: colour makes no difference
    # inverted (ink bright on black, as the model was trained), the paper's noise and shading gone
    assert x[[0, 0, -1, -1], [0, -1, 0, -1]].tolist() == [0, 0, 0, 0] and x.max() == 255
    assert (x > 64).float().mean() < 0.3
    # cropped: a small cross off-centre in a large photo fills the middle of the 28 x 28 input
    ys, xs = torch.nonzero(x > 64, as_tuple=True)
    assert ys.max() - ys.min() >= 18 and xs.max() - xs.min() >= 18
    assert abs(float(ys.float().mean()) - 13.5) < 2 and abs(float(xs.float().mean()) - 13.5) < 2
    # where the symbol sits, how large and how thick the pen: nearly the same input
    other = pre.pil_to_uint8(Image.open(io.BytesIO(fake_photo("cross", centre=(0.6, 0.55), radius=0.3,
                                                              width=0.04, seed=3))))
    assert (x.float() - other.float()).abs().mean() < 20
    # without the photo steps the paper stays grey and the cross is a few faint pixels
    plain = classifier.preprocess.pil_to_uint8(rgb)
    assert (plain > 30).float().mean() > 0.9 and plain.max() < 200


def test_a_drawing_on_a_transparent_background_is_laid_on_white_paper(classifier):
    img = Image.new("RGBA", (200, 160), (0, 0, 0, 0))  # a drawing app's export: black strokes, transparent paper
    ImageDraw.Draw(img).line([(40, 30), (160, 130)], fill=(0, 0, 0, 255), width=6)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    (x,), names = W.prepare_uploads(upload([("stroke.png", buf.getvalue())]), classifier.preprocess)
    assert names == ["stroke.png"] and x.max() > 200 and x[0, 0] == 0
    ys, xs = torch.nonzero(x > 64, as_tuple=True)  # one diagonal stroke across the cropped square
    assert ys.max() - ys.min() >= 15 and (x > 64).float().mean() < 0.3


SHAPES = ("circle", "cross", "triangle", "zigzag")


def test_own_photos_as_support_and_queries_the_right_class_wins(classifier, omniglot_test):
    ex = W.CharacterExplorer(classifier, omniglot_test, picks=0)
    assert ex.error == "nothing to classify: upload drawings to classify, or pick characters from the data set"
    ex.support_upload.value = upload([(f"{s}.png", fake_photo(s, seed=i)) for i, s in enumerate(SHAPES)])
    rng = np.random.default_rng(5)
    queries = [(f"{s}_{j}.png", fake_photo(s, centre=tuple(rng.uniform(0.3, 0.7, 2)), radius=rng.uniform(0.1, 0.3),
                                           width=rng.uniform(0.01, 0.04), seed=100 + j))
               for s in SHAPES for j in range(2)]
    ex.query_upload.value = upload(queries)
    r = ex.result
    assert ex.error is None and r.classes == list(SHAPES) and r.support_labels == list(SHAPES)
    assert r.truth == [s for s in SHAPES for _ in range(2)]
    assert r.predicted == r.truth, r.probabilities  # every photo goes to its own shape
    assert r.probabilities.shape == (8, 4)
    torch.testing.assert_close(r.probabilities.sum(1), torch.ones(8))
    assert (r.probabilities.argmax(1) == torch.tensor([SHAPES.index(t) for t in r.truth])).all()
    assert all(q.shape == (28, 28) and q.dtype == torch.uint8 for q in r.queries + r.support)
    assert "8 of 8 right" in ex.message.value and "4 uploaded" in ex.message.value
    assert shown_png(ex) == ex.png


def test_data_set_picks_and_a_photo_of_a_drawing(classifier, omniglot_test):
    ex = W.CharacterExplorer(classifier, omniglot_test, picks=5, seed=3, max_dataset_queries=5)
    r = ex.result
    support, names, queries = W.dataset_picks(omniglot_test, 5, seed=3)
    labels = [W.short_class_name(n) for n in names]
    assert r.classes == labels and len(r.queries) == 5 and r.truth == labels
    assert all(torch.equal(a, b) for a, b in zip(r.support, support))  # data set drawings go in as they are
    assert sum(r.correct) >= 4  # another drawing of each character (the trained model gets ~98 %)
    # a photo of another drawing of each picked character, uploaded to be classified
    photos = [(f"photo{i}.png", photo_of_drawing(q, scale=2.5 + 0.5 * i, offset=(40 + 30 * i, 60), seed=i))
              for i, q in enumerate(queries)]
    ex.query_upload.value = upload(photos)
    assert ex.error is None and ex.result.truth == [None] * 5  # a file name that names no class: truth unknown
    assert sum(p == t for p, t in zip(ex.result.predicted, labels)) >= 4
    # "other characters" draws a new support set
    ex.new_characters_button.click()
    assert ex.result.classes != labels and len(ex.result.classes) == 5


def test_character_explorer_errors_and_clearing(classifier, omniglot_test):
    ex = W.CharacterExplorer(classifier, omniglot_test, picks=1)
    assert ex.error is not None and "only one class" in ex.error and ex.result is None
    ex.pick_slider.value = 2
    assert ex.error is None and len(ex.result.classes) == 2
    ex.support_upload.value = upload([("notes.png", b"this is not a picture")])
    assert_shows_error(ex, ex.error)
    assert "'notes.png' is not a picture" in ex.error
    ex.support_upload.value = upload([("circle.png", fake_photo("circle"))])
    ex.query_upload.value = upload([("circle_2.png", fake_photo("circle", radius=0.25, seed=1))])
    assert ex.error is None and ex.result.predicted == ["circle"] and ex.result.correct == [True]
    ex.clear_button.click()
    assert ex.support_upload.value == () and ex.query_upload.value == ()
    assert ex.error is None and len(ex.result.classes) == 2 and "circle" not in ex.result.classes


def test_character_explorer_takes_a_checkpoint_path(omniglot_test):
    ex = W.CharacterExplorer(CHECKPOINT, omniglot_test, picks=3)
    assert ex.error is None and ex.classifier.method.name == "protonet"


# --- the prototype explorer -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_protonet():
    torch.manual_seed(0)
    return build_method("protonet").eval()


def test_prototypes_are_the_mean_support_embeddings_and_move_with_the_shot(small_protonet):
    data = tiny_dataset(8, 12, size=28)
    ex = W.PrototypeExplorer(small_protonet, data, way=3, shot=1, n_query=4)
    v1 = ex.view
    assert ex.error is None and v1.support_2d.shape == (3, 2) and v1.query_2d.shape == (12, 2)
    np.testing.assert_allclose(v1.prototypes_2d, v1.support_2d, atol=1e-9)  # one shot: the prototype is that drawing
    ex.shot_slider.value = 5
    v5 = ex.view
    assert v5.support_2d.shape == (15, 2) and v5.prototypes.shape == (3, 64)
    for k in range(3):  # the 2-D prototype is the mean of the 2-D support points (PCA is affine)
        np.testing.assert_allclose(v5.prototypes_2d[k], v5.support_2d[v5.support_labels.numpy() == k].mean(0),
                                   atol=1e-6)
    assert torch.equal(v5.classes, v1.classes)  # the same classes, queries and axes: only the prototypes move
    np.testing.assert_allclose(v5.query_2d, v1.query_2d)
    assert v5.limits == v1.limits
    assert np.abs(v5.prototypes_2d - v1.prototypes_2d).max() > 1e-3
    assert "3-way 5-shot" in ex.message.value and shown_png(ex) == ex.png


def test_prototype_view_agrees_with_the_method(small_protonet):
    data = tiny_dataset(8, 12, size=28)
    view = W.prototype_view(small_protonet, data, way=4, shot=3, episode=2, n_query=5)
    assert view.order.shape == (4, 12) and all(sorted(row) == list(range(12)) for row in view.order.tolist())
    ordered = (data.images[view.classes[:, None], view.order].float() / 255).unsqueeze(2)  # [4, 12, 1, 28, 28]
    support, query = ordered[:, :3].flatten(0, 1), ordered[:, -5:].flatten(0, 1)
    labels = torch.arange(4).repeat_interleave(3)
    with torch.no_grad():
        protos = prototypes(small_protonet.backbone(support), labels, 4)
        scores = small_protonet.scores(support, labels, query)
    torch.testing.assert_close(view.prototypes, protos, atol=1e-4, rtol=1e-4)
    assert torch.equal(view.predicted, scores.argmax(1))


def test_prototype_explorer_episode_chooser_and_impossible_settings(small_protonet):
    data = tiny_dataset(8, 12, size=28)
    ex = W.PrototypeExplorer(small_protonet, data, way=3, shot=2, n_query=4, n_episodes=5)
    first = ex.view.classes.clone()
    ex.episode_dropdown.value = 3
    assert not torch.equal(first, ex.view.classes)
    ex.shot_slider.value = 9
    assert_shows_error(ex, "shot + query = 9 + 4 = 13 images per class, but each class of 'tiny' has only 12: "
                           "shot + query must be at most 12")
    assert ex.view is None
    ex.shot_slider.value = 8
    ex.way_slider.value = 9
    assert ex.error.startswith("way=9 asks for more classes than 'tiny' has")
    ex.way_slider.value = 8
    assert ex.error is None and ex.view.way == 8


def test_prototype_explorer_on_the_shipped_model(classifier, omniglot_test):
    ex = W.PrototypeExplorer(classifier, omniglot_test, way=5, shot=5)
    assert ex.error is None and ex.view.accuracy >= 80  # the trained embedding separates new characters


# --- the prompt playground ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mini_clip():
    from fsl_course.clip import mini

    clip, _ = mini.load_mini_clip()  # the shipped weights: offline
    return clip


@pytest.fixture(scope="module")
def shapes():
    from fsl_course.clip import synthetic

    held, seen = synthetic.make_shapes(4, seed=21, split="held_out"), synthetic.make_shapes(4, seed=22, split="train")
    return torch.cat([held.images, seen.images]), held.captions + seen.captions, held.combinations + seen.combinations


# --- the inner-loop stepper ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sine_models():
    from fsl_course.config import REPO_ROOT
    from fsl_course.toys import sine

    return sine.load_models(REPO_ROOT / "results" / "sine_models.json")


def test_inner_loop_view_is_gradient_descent_on_the_first_k_points():
    """A linear model y = w x + b with MSE: the steps are computed by hand."""
    from fsl_course.toys import sine

    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    w0, b0 = model.weight.item(), model.bias.item()
    view = W.inner_loop_view({"line": model}, {"line": 0.05}, task=2, k=3, steps=2, max_k=5, n_tasks=4)
    data = sine.make_eval_tasks(4, k=5)
    xs, ys = data.x_support[2, :3, 0].double(), data.y_support[2, :3, 0].double()
    assert torch.equal(view.x_support[:, 0], data.x_support[2, :3, 0])  # the first k points of the task
    w, b = w0, b0
    for _ in range(2):
        r = w * xs + b - ys  # d/dw mean(r^2) = 2 mean(r x), d/db = 2 mean(r)
        w, b = w - 0.05 * 2 * float((r * xs).mean()), b - 0.05 * 2 * float(r.mean())
    assert torch.allclose(view.after["line"][:, 0].double(), w * view.x[:, 0].double() + b, atol=1e-5)
    assert torch.allclose(view.before["line"][:, 0], model(view.x)[:, 0].detach())
    assert model.weight.item() == w0 and model.bias.item() == b0  # the model itself is not changed
    assert view.mse["line"] == pytest.approx(float(((view.after["line"] - view.truth) ** 2).mean()))


def test_inner_loop_stepper_sliders_refit_maml_and_the_pretrained_model(sine_models):
    models, step_sizes = sine_models
    two = {"MAML": models["MAML"], "pretrained": models["pretrained"]}
    ex = W.InnerLoopStepper(two, step_sizes, steps=0, k=10)
    before = dict(ex.view.mse)
    assert ex.view.steps == 0 and ex.view.k == 10 and set(before) == {"MAML", "pretrained"}
    first_png = shown_png(ex)
    ex.steps_slider.value = 1
    assert ex.view.steps == 1 and ex.png != first_png
    # one step on 10 points: MAML's fit improves far more than the pretrained model's (the paper's figure 2)
    assert ex.view.mse["MAML"] < before["MAML"]
    assert ex.view.mse["MAML"] < ex.view.mse["pretrained"]
    assert "1 gradient step" in ex.message.value and "MAML" in ex.message.value
    ex.k_slider.value = 5
    assert len(ex.view.x_support) == 5
    ex.task_dropdown.value = 3
    assert ex.view.task == 3
    assert torch.allclose(ex.view.truth, W.inner_loop_view(two, step_sizes, 3, 5, 1).truth)


def test_inner_loop_stepper_errors():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="between 1 and 20 points, got 0"):
        W.inner_loop_view({"m": model}, k=0)
    with pytest.raises(ValueError, match="task must be between 0 and 19, got 20"):
        W.inner_loop_view({"m": model}, task=20)
    ex = W.InnerLoopStepper({"m": model}, steps=1)
    ex.steps_slider.max = 30
    ex.steps_slider.value = 30  # allowed: as many steps as wanted
    assert ex.error is None and ex.view.steps == 30


def test_parsers():
    assert W.parse_class_names(" red circle, green triangle\nred circle,, \n") == ["red circle", "green triangle"]
    assert W.parse_templates("a {}\n\n  a photo of a {}.  ") == ["a {}", "a photo of a {}."]
    for bad in ("a photo", "a {} and a {}", "a {0} {1}", "{name}"):
        with pytest.raises(ValueError, match="needs exactly one {}"):
            W.parse_templates(bad)
    with pytest.raises(ValueError, match="no template"):
        W.parse_templates(" \n ")


def test_playground_reproduces_the_mini_clip_zero_shot_probabilities(mini_clip, shapes):
    from fsl_course.clip import mini, synthetic

    images, captions, truth = shapes
    combos = synthetic.combinations()
    pg = W.PromptPlayground(mini_clip, images, combos, synthetic.caption_templates(), titles=captions, ensemble="sum")
    assert pg.error is None and pg.classnames == combos and len(pg.templates) == 10
    torch.testing.assert_close(pg.probabilities, mini.combination_probabilities(mini_clip, pg.image_features, combos))
    p, names = pg.top
    assert p.shape == (8, 5) and all(len(row) == 5 for row in names)
    assert sum(a == b for a, b in zip(pg.predicted, truth)) >= 6  # the shipped model is ~90 % right on these
    assert "28 classes x 10 templates = 280 prompts" in pg.message.value and shown_png(pg) == pg.png


def test_playground_text_boxes_and_chooser_update_the_bars(mini_clip, shapes):
    images, captions, truth = shapes
    pg = W.PromptPlayground(mini_clip, images[:4], ["red circle", "green triangle"], ["a large {} in the middle"])
    assert pg.probabilities.shape == (4, 2) and pg.top[0].shape == (4, 2)  # k is capped at the number of classes
    pg.classes_text.value = "green triangle, blue cross, yellow square, red circle, blue square, purple cross, " \
                            "yellow circle"
    assert pg.classnames[0] == "green triangle" and pg.probabilities.shape == (4, 7)
    torch.testing.assert_close(pg.probabilities.sum(1), torch.ones(4))
    mean = pg.probabilities.clone()
    pg.ensemble_dropdown.value = "sum"  # one template: averaging embeddings and adding probabilities agree
    torch.testing.assert_close(pg.probabilities, mean, atol=1e-5, rtol=1e-4)
    pg.templates_text.value = "a small {} at the top\na large {} in the middle"
    assert pg.templates == ["a small {} at the top", "a large {} in the middle"]
    assert not torch.allclose(pg.probabilities, mean)
    shown = pg.probabilities
    pg.update_button.click()  # nothing changed since the text box redrew: the bars stay
    assert pg.probabilities is shown and pg.error is None and set(pg.predicted) <= set(pg.classnames)


def test_playground_errors_show_in_the_widget(mini_clip, shapes):
    images, captions, _ = shapes
    pg = W.PromptPlayground(mini_clip, images[:2], ["red circle", "blue cross"], ["a {}"], titles=captions[:2])
    pg.templates_text.value = "a photo of"
    assert_shows_error(pg, "the template 'a photo of' needs exactly one {} where the class name goes, "
                           "e.g. 'a photo of a {}.'")
    pg.templates_text.value = "a {}"
    pg.classes_text.value = " ,  "
    assert_shows_error(pg, "no class names: type at least one, separated by commas")
    pg.classes_text.value = "red circle"
    assert pg.error is None and pg.probabilities.shape == (2, 1)
    pg.update_button.click()
    assert pg.error is None and pg.predicted == ["red circle", "red circle"]


def test_playground_marks_an_untrained_model(shapes):
    from fsl_course.clip import mini

    model, tokenizer = mini.build_from_config(mini.MiniClipConfig())
    untrained = mini.wrap_mini(model, tokenizer, trained=False)
    images, captions, _ = shapes
    pg = W.PromptPlayground(untrained, images[:2], ["red circle", "blue cross"], titles=captions[:2])
    assert pg.error is None and "UNTRAINED" in pg.message.value
