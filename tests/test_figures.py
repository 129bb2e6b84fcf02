"""Every plotting function of the course, drawn off-screen, follows the figure style of ``fsl_course.viz``.

Each function is drawn on small fixed inputs and on the largest input a notebook gives it (a 20-way 5-shot
episode with 15 queries per class, 300 queries' relation scores over 20 classes, 8 images against 8 long captions,
a 20-class confusion matrix, ...). For each figure the test walks the text artists that drawing it drew (titles,
tick labels, axis labels, annotations, legend texts, suptitles) and checks the two rules as the book shows the
figure: the PNG of ``bbox_inches="tight"`` at the DPI it is shown at, scaled down to the content column when
wider (``viz.displayed_size``):

* no text is shown smaller than ``viz.MIN_TEXT_PT`` (8 pt, ``viz.MIN_TEXT_PX`` = 10.7 CSS pixels);
* no figure is shown taller than ``viz.SCREEN_HEIGHT_PX`` (900 CSS pixels).

``test_every_public_plotting_function_is_drawn_here`` keeps the list complete: a new ``plot_*`` or ``show_*``
function in viz, clip/plots or the widgets fails it until it has cases here.
"""

from __future__ import annotations

import contextlib
import inspect
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text as mtext  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fsl_course import viz  # noqa: E402
from fsl_course.clip import plots  # noqa: E402
from fsl_course.config import REPO_ROOT  # noqa: E402
from fsl_course.data.omniglot import FewShotDataset  # noqa: E402
from fsl_course.episodes import EpisodeSet  # noqa: E402
from fsl_course.evaluation.evaluate import EvalResult  # noqa: E402
from fsl_course.widgets import base as widget_base  # noqa: E402
from fsl_course.widgets import characters, inner_loop, prototypes  # noqa: E402

WIDGET_DPI = widget_base.DPI  # the widgets' PNGs (figure_png) are shown at their own DPI


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- the check ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def recording_drawn_texts():
    """Collects every text artist that is actually drawn (visible, not empty) while the block runs: the tick labels
    of ticks outside the view, say, are not."""
    drawn = set()
    original = mtext.Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.add(self)
        return original(self, renderer)

    mtext.Text.draw = draw
    try:
        yield drawn
    finally:
        mtext.Text.draw = original


def style_problems(fig, dpi: int = viz.DPI) -> list[str]:
    """What breaks the figure style in ``fig`` as the book shows it, one line per problem (none: an empty list)."""
    with recording_drawn_texts() as drawn:
        fig.canvas.draw()
    texts = [t for t in fig.findobj(mtext.Text) if t in drawn]  # titles, labels, ticks, legends, annotations...
    assert texts, "the figure drew no text at all: the check would be empty"
    width, height, scale = viz.displayed_size(fig, dpi)
    problems = []
    for t in texts:
        shown = t.get_fontsize() / 72 * dpi * scale
        if shown < viz.MIN_TEXT_PX - 1e-6:
            problems.append(f"{t.get_text()[:40]!r}: {t.get_fontsize():g} pt is shown {shown:.1f} px high "
                            f"(at least {viz.MIN_TEXT_PX:.1f})")
    if height > viz.SCREEN_HEIGHT_PX:
        problems.append(f"the figure is shown {width:.0f} x {height:.0f} px, taller than {viz.SCREEN_HEIGHT_PX}")
    return problems


def test_the_check_catches_small_text_and_tall_or_wide_figures():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.set_title("fine", fontsize=viz.FONT)
    assert style_problems(fig) == []
    ax.set_xlabel("too small", fontsize=7)
    assert [p for p in style_problems(fig) if "too small" in p]
    fig, ax = plt.subplots(figsize=(5, 12))  # about 1000 px tall as shown
    ax.set_title("tall")
    assert [p for p in style_problems(fig) if "taller" in p]
    fig, ax = plt.subplots(figsize=(16, 3))  # 8 pt on a figure 16 in wide is scaled down to about 5 px
    ax.set_title("scaled down", fontsize=8)
    assert [p for p in style_problems(fig) if "scaled down" in p]
    # the widgets' DPI counts: 9 pt is 10 px at 80 dpi, too small, and 12.5 px at 100
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.set_title("nine points", fontsize=9)
    assert style_problems(fig, dpi=100) == [] and style_problems(fig, dpi=80)


def test_the_style_constants_agree_with_each_other():
    assert viz.MIN_TEXT_PX == pytest.approx(8 / 72 * 96)
    assert (viz.WIDTH + 2 * viz.PAD) * viz.DPI == pytest.approx(viz.CONTENT_WIDTH_PX)
    # a figure WIDTH wide is shown unscaled, so every font of the style is readable on it
    assert viz.display_scale(viz.CONTENT_WIDTH_PX) == 1.0
    for size in (viz.FONT_SMALL, viz.FONT, viz.FONT_TITLE):
        assert size / 72 * viz.DPI >= viz.MIN_TEXT_PX
    assert viz.display_scale(2 * viz.CONTENT_WIDTH_PX) == pytest.approx(0.5)
    assert viz.grid_shape(10, 8) == (2, 5) and viz.grid_shape(3, 8) == (1, 3) and viz.grid_shape(24, 8) == (3, 8)
    assert viz.columns_that_fit(1.0, 0.0, width=7.6) == 7 and viz.columns_that_fit(9.0) == 1


def test_finish_shrinks_a_figure_too_wide_for_the_page_but_not_its_text():
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.set_title("wide", fontsize=viz.FONT)
    viz.finish(fig)
    width, _ = viz.content_size(fig)
    assert width <= viz.WIDTH + 1e-3 and ax.title.get_fontsize() == viz.FONT
    assert style_problems(fig) == []


# --- inputs -------------------------------------------------------------------------------------------------------

#: class names as long as Omniglot's longest (the row labels of an episode are the longest labels of all)
ALPHABETS = ["Old_Church_Slavonic_(Cyrillic)", "Blackfoot_(Canadian_Aboriginal_Syllabics)", "Tengwar", "Greek",
             "Syriac_(Serto)", "Atemayar_Qelisayer", "Mkhedruli_(Georgian)", "Kannada"]


def omniglot_like(n_classes: int = 40, n_per_class: int = 20, size: int = 28, rotations: bool = True,
                  seed: int = 0) -> FewShotDataset:
    names = [f"{ALPHABETS[c % len(ALPHABETS)]}/character{c // len(ALPHABETS) + 31:02d}" for c in range(n_classes)]
    if rotations:
        names = [f"{n}/rot{90 * (i % 4):03d}" for i, n in enumerate(names)]
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n_classes, n_per_class, size, size, generator=g) > 0.85).to(torch.uint8) * 255
    return FewShotDataset("omniglot-like", images, names)


def episode(way: int, shot: int, query: int, data: FewShotDataset | None = None):
    return EpisodeSet(data or omniglot_like(), way, shot, query, 1, seed=0)[0]


def random_scores(n_query: int, way: int, labels: torch.Tensor, right: float = 0.9, seed: int = 0) -> torch.Tensor:
    """Scores in 0..1 that pick the true class for about ``right`` of the queries."""
    g = torch.Generator().manual_seed(seed)
    s = 0.3 * torch.rand(n_query, way, generator=g)
    hit = torch.rand(n_query, generator=g) < right
    s[torch.arange(n_query), labels] += torch.where(hit, 0.6, 0.0)
    return s.clamp(0, 1)


def result(mean: float, spread: float = 0.03, n: int = 1000, seed: int = 0) -> EvalResult:
    g = torch.Generator().manual_seed(seed)
    return EvalResult((mean / 100 + spread * torch.randn(n, generator=g, dtype=torch.float64)).clamp(0, 1), 1.0)


def history(steps: int = 18000, every: int = 500, stage_at: int | None = 13000) -> list[dict]:
    out = []
    for s in range(every, steps + 1, every):
        out.append({"step": s, "train_loss": 1 / s, "train_accuracy": 99 - 1000 / s, "val_accuracy": 97 - 900 / s,
                    "lr": 1e-3, "seconds": 1.0})
        if s == stage_at:
            out.append({"step": s, "val_accuracy": 97 - 900 / s, "note": f"{viz.STAGE_START} a.pt"})
    return out


def showdown_record(n_rows: int = 3) -> dict:
    """A small showdown record, the shape ``fsl_course.evaluation.showdown`` writes."""
    settings = ["5-way 1-shot", "5-way 5-shot", "20-way 1-shot", "20-way 5-shot"]
    rows = [{"label": f"method {i}", "method": "protonet" if i == 0 else f"m{i}", "parameters": 111936 * (i + 1),
             "ms_per_episode": {s: 40.0 + 10 * i for s in settings},
             "results": {s: {"accuracy": 97.0 + 0.5 * i, "ci95": 0.2} for s in settings}} for i in range(n_rows)]
    papers = {"protonet": {"paper": "Snell et al.", **{s: 98.8 for s in settings}}}
    return {"rows": rows, "settings": settings, "papers": papers}


def photos(n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Colour pictures of several shapes, as the CLIP notebook's scikit-image samples are."""
    g = np.random.default_rng(seed)
    shapes = [(512, 512), (191, 384), (427, 640), (300, 451), (240, 320), (512, 512), (328, 400), (400, 400)]
    return [g.integers(0, 256, (*shapes[i % len(shapes)], 3), dtype=np.uint8) for i in range(n)]


CAPTIONS = ["a large green triangle in the middle", "a small red circle on the left",
            "a large blue cross at the bottom", "a small yellow square on the right", "a large purple cross at the top",
            "a small white circle in the middle", "a large orange square at the top",
            "a small blue triangle on the left"]
DESCRIPTIONS = ["This is a page of text about segmentation", "This is a facial photo of a tabby cat",
                "This is a portrait of an astronaut with the American flag", "This is a rocket standing on a launchpad",
                "This is a red motorcycle standing in a garage", "This is a person looking at a camera on a tripod",
                "This is a black-and-white silhouette of a horse", "This is a cup of coffee on a saucer",
                "This is a bowl of soup", "This is a mountain at sunset", "This is an animal"]


def shapes(n: int = 8, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def top_k_inputs(n: int = 8, k: int = 5, names: list[str] | None = None):
    names = names or ["sweet pepper", "aquarium fish", "motorcycle", "woman", "rocket", "camera", "page of text",
                      "tiger", "maple tree", "pickup truck"]
    probs = torch.rand(n, k, generator=torch.Generator().manual_seed(0)).sort(1, descending=True).values
    labels = torch.stack([torch.randperm(len(names), generator=torch.Generator().manual_seed(i))[:k]
                          for i in range(n)])
    return probs / probs.sum(1, keepdim=True), labels, names


def character_result(n_support: int = 20, n_query: int = 4, k: int = 5) -> characters.CharacterResult:
    data = omniglot_like(max(n_support, k), 2)
    names = [characters.short_class_name(n) for n in data.class_names[:max(n_support, k)]]
    support = [data.images[c, 0] for c in range(n_support)]
    queries = [data.images[c, 1] for c in range(n_query)]
    p = torch.softmax(torch.randn(n_query, max(n_support, k), generator=torch.Generator().manual_seed(0)), 1)
    return characters.CharacterResult(support, names[:n_support], names, queries,
                                      [f"true: {names[q]}" for q in range(n_query)], names[:n_query], p,
                                      [names[i] for i in p.argmax(1).tolist()])


def inner_loop_view(n_models: int = 2) -> inner_loop.InnerLoopView:
    x = torch.linspace(-5, 5, 200).reshape(-1, 1)
    names = ["MAML", "pretrained", "from scratch"][:n_models]
    fits = {name: torch.sin(x + 0.2 * i) for i, name in enumerate(names)}
    return inner_loop.InnerLoopView(0, 10, 1, x, torch.sin(x), x[::20], torch.sin(x[::20]), fits, fits,
                                    {n: 0.1 for n in names}, {n: 0.01 for n in names})


def prototype_view(way: int = 10, shot: int = 5, n_query: int = 5) -> prototypes.PrototypeView:
    g = np.random.default_rng(0)
    centres = 5 * g.standard_normal((way, 2))
    s2 = np.repeat(centres, shot, 0) + g.standard_normal((way * shot, 2))
    q2 = np.repeat(centres, n_query, 0) + g.standard_normal((way * n_query, 2))
    labels = torch.arange(way)
    p2 = s2.reshape(way, shot, 2).mean(1)
    q_labels = labels.repeat_interleave(n_query)
    return prototypes.PrototypeView(way, shot, labels, torch.zeros(way, 20, dtype=torch.long), s2,
                                    labels.repeat_interleave(shot), q2, q_labels, torch.zeros(way, 64), p2,
                                    q_labels.roll(1), (-15, 15, -15, 15))


# --- the cases: (function, description) -> what draws it; widget figures at the widgets' DPI -----------------------

E5 = episode(5, 1, 15)  # notebooks 01 and 02
E20 = episode(20, 5, 15)  # the episode explorer's largest episode of 20 drawings per class
H20 = episode(20, 1, 15)  # notebooks 04-06: the "hard" 20-way 1-shot episode
TINY = episode(3, 2, 2, omniglot_like(6, 5, 8))

CASES = {
    ("viz.show_images", "3 images"): lambda: viz.show_images(torch.rand(3, 1, 8, 8), ["a", "b", "c"]),
    ("viz.show_images", "notebook 02: 24 titled images, 12 asked a row"):
        lambda: viz.show_images(omniglot_like(24, 1).images[:, 0], [f"class {1000 + i}" for i in range(24)],
                                ncols=12, title="base data set (pretraining): many classes, 20 drawings each"),
    ("viz.show_images", "notebook 08: 16 images with their captions, 1.5 in each"):
        lambda: viz.show_images(shapes(16), CAPTIONS * 2, ncols=8, size=1.5),
    ("viz.show_images", "notebook 07: 8 photos, 4 a row at 2.6 in, 9 pt"):
        lambda: plots.show_images(photos(), [f"name: {d[8:]}" for d in DESCRIPTIONS[:8]], ncols=4, size=2.6,
                                  fontsize=9),
    ("viz.show_alphabets", "2 alphabets"): lambda: viz.show_alphabets(omniglot_like(8, 2, 8), 2, 3),
    ("viz.show_alphabets", "notebook 01: 6 alphabets of 10, long names"):
        lambda: viz.show_alphabets(omniglot_like(96, 2, rotations=False), 6, 10),
    ("viz.show_episode", "3-way 2-shot, no names"): lambda: viz.show_episode(TINY),
    ("viz.show_episode", "notebook 01: 5-way 1-shot, 15 queries, long names"):
        lambda: viz.show_episode(E5, omniglot_like()),
    ("viz.show_episode", "20-way 5-shot, 15 queries, long names"): lambda: viz.show_episode(E20, omniglot_like()),
    ("viz.plot_curves", "one short curve"): lambda: viz.plot_curves([{"step": 1, "val_accuracy": 50.0}]),
    ("viz.plot_curves", "notebook 06: 18000 steps and a second stage"):
        lambda: viz.plot_curves(history(), keys=["train_loss", "train_accuracy", "val_accuracy"]),
    ("viz.plot_curves", "three panels"):
        lambda: viz.plot_curves([{"step": s, "train_loss": 1.0, "val_accuracy": 90.0, "grad_norm": 2.0}
                                 for s in range(10)]),
    ("viz.plot_accuracy_bars", "notebook 01: two settings, chance marks"):
        lambda: viz.plot_accuracy_bars({"5-way 1-shot": result(55), "20-way 1-shot": result(33)},
                                       title="pixel nearest neighbour", chance={"5-way 1-shot": 20.0,
                                                                                "20-way 1-shot": 5.0}),
    ("viz.plot_accuracy_bars", "notebook 02: five results at 97-99 %, long title"):
        lambda: viz.plot_accuracy_bars({n: result(m) for n, m in [("centroid", 98.1), ("logistic", 98.0),
                                                                  ("cosine", 98.0), ("finetune", 97.2),
                                                                  ("ProtoNet", 98.7)]},
                                       title="Omniglot vinyals test, 5-way 1-shot, recorded, 1000 episodes each"),
    ("viz.plot_embeddings_2d", "notebook 05: 5-way 5-shot"):
        lambda: viz.plot_embeddings_2d(torch.randn(75, 64), torch.arange(5).repeat_interleave(15), torch.randn(5, 64),
                                       torch.randn(25, 64), torch.arange(5).repeat_interleave(5),
                                       title="5-way 5-shot test episode, embedding by PCA"),
    ("viz.plot_embeddings_2d", "20 classes"):
        lambda: viz.plot_embeddings_2d(torch.randn(100, 8), torch.arange(20).repeat_interleave(5)),
    ("viz.show_mistakes", "none wrong"):
        lambda: viz.show_mistakes(TINY, torch.nn.functional.one_hot(TINY.query_labels, 3).float()),
    ("viz.show_mistakes", "notebooks 04-06: 20-way 1-shot, many mistakes"):
        lambda: viz.show_mistakes(H20, random_scores(300, 20, H20.query_labels, right=0.6)),
    ("viz.show_mistakes", "one mistake"):
        lambda: viz.show_mistakes(TINY, torch.eye(3)[[1, 0, 1, 1, 2, 2]]),
    ("viz.show_attention", "notebook 04: 5-way 2-shot, 3 queries"):
        lambda: viz.show_attention(episode(5, 2, 15), torch.softmax(torch.randn(75, 10), 1), queries=[0, 16, 32]),
    ("viz.show_attention", "20-way 1-shot, 3 queries (wraps)"):
        lambda: viz.show_attention(H20, torch.softmax(torch.randn(300, 20), 1), queries=[0, 100, 200]),
    ("viz.show_attention", "top 2"):
        lambda: viz.show_attention(TINY, torch.softmax(torch.randn(6, 6), 1), queries=[1], top=2),
    ("viz.plot_score_matrix", "3 queries"):
        lambda: viz.plot_score_matrix(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])),
    ("viz.plot_score_matrix", "notebook 06: 20 x 20, 15 queries per class"):
        lambda: viz.plot_score_matrix(random_scores(300, 20, H20.query_labels), H20.query_labels,
                                      title="relation scores, 20-way 1-shot test episode"),
    ("viz.plot_showdown", "three methods"): lambda: viz.plot_showdown(showdown_record()),
    ("viz.plot_showdown", "notebook 09: the shipped showdown"):
        lambda: viz.plot_showdown(json.loads((REPO_ROOT / "results" / "showdown.json").read_text())),
    ("viz.plot_maml_idea", "notebook 03"): viz.plot_maml_idea,
    ("viz.plot_prototype_idea", "notebook 05"): viz.plot_prototype_idea,
    ("viz.plot_relation_architecture", "notebook 06, no images"): viz.plot_relation_architecture,
    ("viz.plot_relation_architecture", "with drawings"):
        lambda: viz.plot_relation_architecture(E5.support[:3], E5.query[0]),
    ("plots.plot_similarity", "2 x 3"):
        lambda: plots.plot_similarity(torch.rand(2, 3), shapes(3), ["one", "two"]),
    ("plots.plot_similarity", "notebook 08: 8 images x 8 captions"):
        lambda: plots.plot_similarity(torch.rand(8, 8) * 2 - 1, shapes(8), CAPTIONS,
                                      title="Cosine similarity between captions and images (first four: held-out "
                                            "pairs)"),
    ("plots.plot_similarity", "notebook 07: 8 photos x 11 descriptions, untrained"):
        lambda: plots.plot_similarity(0.1 + 0.2 * torch.rand(11, 8), photos(), DESCRIPTIONS, warning="untrained"),
    ("plots.plot_top_k", "notebook 07: 8 images, top 5"):
        lambda: plots.plot_top_k(photos(), *top_k_inputs(), titles=["page", "chelsea", "astronaut", "rocket",
                                                                    "motorcycle_right", "camera", "horse", "coffee"]),
    ("plots.plot_top_k", "notebook 08: 8 images, top 5 of 28 pairs, captions as titles, untrained"):
        lambda: plots.plot_top_k(shapes(8), *top_k_inputs(names=[f"{c} {s}" for c in ["purple", "orange", "yellow",
                                                                                      "green"]
                                                                 for s in ["triangle", "square", "circle", "cross"]]),
                                 titles=CAPTIONS, warning="untrained"),
    ("plots.plot_top_k", "one image, names given"):
        lambda: plots.plot_top_k(shapes(1), torch.tensor([[0.7, 0.3]]), [["cat", "dog"]]),
    ("plots.plot_retrieval", "notebook 08: 5 queries, top 5"):
        lambda: plots.plot_retrieval(CAPTIONS[:5], shapes(40), torch.rand(5, 40), k=5, captions=CAPTIONS * 5),
    ("plots.plot_retrieval", "2 queries, untrained"):
        lambda: plots.plot_retrieval(["q1", "q2"], shapes(3), torch.rand(2, 3), k=2, warning="untrained"),
    ("plots.plot_shot_curves", "notebook 07: three methods, untrained"):
        lambda: plots.plot_shot_curves([{"method": m, "shot": s, "accuracy": 40 + 5 * s, "ci95": 2.0}
                                        for m in ["image prototypes", "text-initialised prototypes",
                                                  "text (zero-shot)"] for s in (1, 2, 4, 8, 16)],
                                       chance=0.1, warning="untrained"),
    ("plots.plot_training", "notebook 08"):
        lambda: plots.plot_training([{"step": s, "loss": 3 / (1 + s), "logit_scale": 14 + s / 100}
                                     for s in range(0, 4000, 50)]),
    ("plots.plot_confusion", "notebook 08: 4 held-out pairs x 28 pairs"):
        lambda: plots.plot_confusion(torch.randint(0, 50, (4, 28)), ["red circle", "yellow square", "green triangle",
                                                                      "blue cross"],
                                     [f"{c} {s}" for c in ["red", "orange", "yellow", "green", "blue", "purple",
                                                           "white"] for s in ["circle", "square", "triangle", "cross"]],
                                     title="held-out images: true pair (rows) and prediction",
                                     highlight=["red circle"]),
    ("plots.plot_confusion", "20 classes"):
        lambda: plots.plot_confusion(torch.randint(0, 3, (20, 20)) + 140 * torch.eye(20, dtype=torch.long),
                                     [f"class {i}" for i in range(20)], [f"class {i}" for i in range(20)],
                                     title="20 classes"),
    ("plots.plot_clip_idea", "notebook 07: 4 pairs"): lambda: plots.plot_clip_idea(shapes(4), CAPTIONS[:4]),
    ("plots.plot_clip_idea", "8 pairs"): lambda: plots.plot_clip_idea(shapes(8), CAPTIONS),
    ("widgets.plot_character_result", "1 picture, 1 query"): lambda: characters.plot_character_result(
        character_result(1, 1)),
    ("widgets.plot_character_result", "20 pictures, 4 queries"): lambda: characters.plot_character_result(
        character_result(20, 4)),
    ("widgets.plot_inner_loop_view", "notebook 03: two models"):
        lambda: inner_loop.plot_inner_loop_view(inner_loop_view(2)),
    ("widgets.plot_inner_loop_view", "three models"): lambda: inner_loop.plot_inner_loop_view(inner_loop_view(3)),
    ("widgets.plot_prototype_view", "10-way 5-shot"): lambda: prototypes.plot_prototype_view(prototype_view()),
    ("widgets.plot_prototype_view", "2-way 1-shot"): lambda: prototypes.plot_prototype_view(prototype_view(2, 1)),
    ("widgets.EpisodeExplorer.draw", "5-way 1-shot, 5 queries (its default)"):
        lambda: viz.show_episode(episode(5, 1, 5), omniglot_like()),
    ("widgets.EpisodeExplorer.draw", "20-way 5-shot, 15 queries (its largest of 20 drawings a class)"):
        lambda: viz.show_episode(E20, omniglot_like()),
    ("widgets.PromptPlayground.draw", "8 images, top 5"):
        lambda: plots.plot_top_k(shapes(8), *top_k_inputs()[:2], classnames=top_k_inputs()[2], titles=CAPTIONS,
                                 pairs_per_row=2),
    ("widgets._message_figure", "a long error"):
        lambda: widget_base._message_figure("the support set must have between 1 and 20 points, got 30; " * 3),
}


@pytest.mark.parametrize("key", list(CASES), ids=[f"{name}[{what}]" for name, what in CASES])
def test_figure_follows_the_style(key):
    name, _ = key
    fig = CASES[key]()
    assert isinstance(fig, matplotlib.figure.Figure)
    dpi = WIDGET_DPI if name.startswith("widgets.") else viz.DPI
    assert style_problems(fig, dpi) == []


def test_every_public_plotting_function_is_drawn_here():
    def public(module, prefix):
        return {f"{prefix}.{n}" for n, f in vars(module).items()
                if inspect.isfunction(f) and f.__module__ == module.__name__ and n.startswith(("plot_", "show_"))}

    wanted = public(viz, "viz") | public(plots, "plots")
    for module in (characters, inner_loop, prototypes):
        wanted |= public(module, "widgets")
    drawn = {name for name, _ in CASES}
    assert wanted - drawn == set()
    assert len(wanted) >= 23  # the modules' functions were found (13 in viz, 7 in plots, 3 in the widgets)


def test_the_widgets_show_their_figures_at_the_style_dpi():
    assert WIDGET_DPI == viz.DPI  # so the sizes of the style hold in the widgets too
