"""Interactive explorers for the notebooks (ipywidgets): turn a knob, watch the picture change.

Every explorer is built the same way:

* a **plain function** does the work (draw an episode, classify drawings, place prototypes, score prompts);
  the explorer only calls it, so the logic is tested without a browser;
* the **controls are attributes** (``explorer.way_slider``, ``explorer.new_episode_button``, ...): set a value
  or press a button (``button.click()``) and the explorer redraws; what it drew is kept as attributes too
  (``explorer.episode``, ``explorer.result``, ``explorer.view``, ``explorer.error``);
* the picture is a matplotlib figure shown as a PNG in an ``ipywidgets.Output`` (``explorer.output``), with a
  line of text above it (``explorer.message``);
* an **impossible setting** (more classes than the data set has, more shots than drawings...) shows its
  message in the widget, and ``explorer.error`` holds it, instead of raising;
* a **static fallback**: displaying an explorer gives the widget together with its current figure as a plain
  PNG, which renderers that cannot run widgets (a printed book, a PDF, GitHub) show instead;
  ``explorer.static_figure()`` draws that figure.

The explorers: :class:`EpisodeExplorer` (notebook 01), :class:`CharacterExplorer` ("your own character",
notebooks 01 and 05), :class:`InnerLoopStepper` (notebook 03), :class:`PrototypeExplorer` (notebook 05),
:class:`PromptPlayground` (notebooks 07 and 08).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import re
import textwrap
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from fsl_course.data.images import Preprocess
from fsl_course.episodes import Episode, EpisodeSampler, check_request
from fsl_course.viz import _draw, project_2d, show_episode

DPI = 80  # resolution of the figures shown in the widgets (and embedded in the book's widget state)


# --- shared machinery ----------------------------------------------------------------------------------------

def figure_png(fig, dpi: int = DPI) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (so the notebook does not show it twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _png_output(png: bytes, text: str = "<figure>") -> dict:
    """An ``Output`` widget's entry showing ``png`` (the nbformat ``display_data`` layout)."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}}


def _message_figure(text: str):
    fig, ax = plt.subplots(figsize=(6, 0.9))
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 90)), ha="center", va="center", color="tab:red", fontsize=9)
    ax.axis("off")
    return fig


class Explorer:
    """What every explorer shares: a message line, an ``Output`` with the figure, error handling, display."""

    title = ""

    def __init__(self):
        self.output = widgets.Output()
        self.message = widgets.HTML()
        self.error: str | None = None
        self.png: bytes | None = None  # the figure now shown, as PNG
        self.widget: widgets.Widget | None = None
        self._muted = False  # True while several controls are set at once (one redraw afterwards)

    def _layout(self, *rows) -> None:
        head = [widgets.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        self.widget = widgets.VBox([*head, *rows, self.message, self.output])

    # subclasses: compute the state from the controls (raise ValueError for an impossible setting) ...
    def update(self) -> None:
        raise NotImplementedError

    # ... say in one line what is shown ...
    def summary(self) -> str:
        return ""

    # ... and draw it
    def draw(self):
        raise NotImplementedError

    def redraw(self, *_) -> None:
        """Recompute from the controls and show the result, or the message of what went wrong."""
        if self._muted:
            return
        try:
            self.update()
        except Exception as e:  # an impossible setting, an unreadable upload...: say so in the widget
            self.error = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
            self.message.value = f'<span style="color:#b00020">{html.escape(self.error, quote=False)}</span>'
            self.png = None
            self.output.outputs = ()
            return
        self.error = None
        self.message.value = html.escape(self.summary(), quote=False)
        self.png = figure_png(self.draw())
        self.output.outputs = (_png_output(self.png, f"<{type(self).__name__} figure>"),)

    def static_figure(self):
        """The figure of the current state (or of its error message), for a printed page."""
        return _message_figure(self.error) if self.error else self.draw()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # the live widget for Jupyter, and the same figure as a plain PNG for renderers without widgets
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        png = self.png if self.png is not None else figure_png(self.static_figure())
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle["text/plain"] = f"{type(self).__name__}: {self.error or self.summary()}"
        return bundle


def _slider(description: str, value: int, low: int, high: int, width: str = "300px") -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                             style={"description_width": "initial"}, layout=widgets.Layout(width=width))


def short_class_name(name: str) -> str:
    """``"Tifinagh/character12/rot090"`` -> ``"Tifinagh 12 (90°)"``: an Omniglot class name that fits a label."""
    parts = str(name).split("/")
    if len(parts) < 2:
        return str(name)
    number = re.sub(r"^character0*", "", parts[1]) or parts[1]
    out = f"{parts[0].replace('_', ' ')} {number}"
    if len(parts) > 2 and parts[2].startswith("rot") and parts[2] != "rot000":
        out += f" ({int(parts[2][3:])}°)"
    return out


# --- the episode explorer (notebook 01) ---------------------------------------------------------------------

def sample_episode(dataset, way: int, shot: int, query: int, seed: int = 0) -> Episode:
    """The episode the explorer shows: one ``way``-way ``shot``-shot episode with ``query`` queries per class,
    drawn from ``dataset`` with ``seed``. An impossible request raises the sampler's ``ValueError``."""
    return EpisodeSampler(dataset, way, shot, query, seed=seed).sample()


def _as_dataset_dict(datasets) -> dict:
    if isinstance(datasets, Mapping):
        return dict(datasets)
    if hasattr(datasets, "images"):  # one data set
        datasets = [datasets]
    return {d.name: d for d in datasets}


class EpisodeExplorer(Explorer):
    """Sliders for N-way, K-shot and queries per class, a data set chooser and a "new episode" button; shows the
    support and query sets of the episode (``viz.show_episode``).

    ``datasets``: one ``FewShotDataset``, a list of them, or a dict name -> data set (the chooser's options).
    """

    title = "Episode explorer"

    def __init__(self, datasets, way: int = 5, shot: int = 1, query: int = 5, seed: int = 0,
                 max_way: int = 20, max_shot: int = 10, max_query: int = 15):
        super().__init__()
        self.datasets = _as_dataset_dict(datasets)
        if not self.datasets:
            raise ValueError("EpisodeExplorer needs at least one data set")
        self.seed = seed
        self.draws = 0  # how many times "new episode" was pressed
        self.episode: Episode | None = None
        self.way_slider = _slider("N-way", way, 2, max(max_way, way))
        self.shot_slider = _slider("K-shot", shot, 1, max(max_shot, shot))
        self.query_slider = _slider("queries per class", query, 1, max(max_query, query))
        self.split_dropdown = widgets.Dropdown(options=list(self.datasets), description="data set")
        self.new_episode_button = widgets.Button(description="new episode")
        for control in (self.way_slider, self.shot_slider, self.query_slider, self.split_dropdown):
            control.observe(self.redraw, names="value")
        self.new_episode_button.on_click(self.new_episode)
        self._layout(widgets.HBox([self.way_slider, self.shot_slider, self.query_slider]),
                     widgets.HBox([self.split_dropdown, self.new_episode_button]))
        self.redraw()

    @property
    def dataset(self):
        return self.datasets[self.split_dropdown.value]

    def new_episode(self, *_) -> None:
        self.draws += 1
        self.redraw()

    def update(self) -> None:
        self.episode = None
        self.episode = sample_episode(self.dataset, self.way_slider.value, self.shot_slider.value,
                                      self.query_slider.value, seed=self.seed + self.draws)

    def summary(self) -> str:
        e = self.episode
        return (f"{self.dataset.name}: {e.way}-way {e.shot}-shot episode, support set {tuple(e.support.shape)} "
                f"({e.way * e.shot} labelled images), query set {tuple(e.query.shape)} ({e.way * e.n_query} images "
                f"to label); chance accuracy {100 / e.way:.0f} %")

    def draw(self):
        e = self.episode
        return show_episode(e, self.dataset, cell=0.45 if e.shot + e.n_query <= 12 else 0.32)


# --- your own character (notebooks 01 and 05) ---------------------------------------------------------------

def flatten_transparency(img: Image.Image) -> Image.Image:
    """A picture with transparency (a drawing app's export: dark strokes on a transparent background) laid on
    white paper; other pictures unchanged. Converting it to greyscale directly would make the background
    black, like the ink."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return img


def read_uploads(value) -> list[tuple[str, Image.Image]]:
    """The files of a ``FileUpload``'s value (ipywidgets 8: a tuple of dicts with ``name`` and ``content``) as
    ``(file name, PIL image)`` pairs (transparency laid on white); a file that is not a picture raises
    ``ValueError`` naming it."""
    out = []
    for f in value or ():
        name = f.get("name", "upload")
        try:
            img = Image.open(io.BytesIO(bytes(f["content"])))
            img.load()
        except Exception as e:
            raise ValueError(f"{name!r} is not a picture this explorer can read ({type(e).__name__}); "
                             "upload PNG or JPEG files") from e
        out.append((name, flatten_transparency(img)))
    return out


def label_from_filename(name: str) -> str:
    """The class of an uploaded picture, from its file name: ``"alpha_2.png"``, ``"alpha-2.jpg"``,
    ``"alpha (2).png"`` and ``"alpha.png"`` are all of class ``"alpha"``."""
    stem = Path(name).stem.strip()
    label = re.sub(r"(\s*\(\d+\)|[\s_-]+\d+)$", "", stem).strip()
    return label or stem


def photo_preprocess(preprocess: Preprocess) -> Preprocess:
    """How a learner's own picture becomes the model's input: the checkpoint's preprocessing (its size), with
    automatic inversion and the photo steps switched on (levels, crop to the ink, strokes redrawn with
    Omniglot's pen width; see ``Preprocess``)."""
    return dataclasses.replace(preprocess, invert="auto", crop=True)


def prepare_uploads(value, preprocess: Preprocess) -> tuple[list[torch.Tensor], list[str]]:
    """Uploaded pictures -> the model's input (uint8 ``[S, S]``, ink bright) and their file names."""
    pre = photo_preprocess(preprocess)
    files = read_uploads(value)
    return [pre.pil_to_uint8(img) for _, img in files], [name for name, _ in files]


def dataset_picks(dataset, n: int, seed: int = 0) -> tuple[list[torch.Tensor], list[str], list[torch.Tensor]]:
    """``n`` random characters of ``dataset`` (chosen with ``seed``): one drawing of each for the support set,
    another for the queries. Returns ``(support images, class names, query images)``, uint8 ``[S, S]``."""
    if n == 0:
        return [], [], []
    check_request(dataset, n, 1, 1)
    g = torch.Generator().manual_seed(seed)
    classes = torch.randperm(dataset.n_classes, generator=g)[:n].tolist()
    items = [torch.randperm(dataset.n_per_class, generator=g)[:2].tolist() for _ in classes]
    support = [dataset.images[c, i[0]] for c, i in zip(classes, items)]
    queries = [dataset.images[c, i[1]] for c, i in zip(classes, items)]
    return support, [dataset.class_names[c] for c in classes], queries


@dataclass
class CharacterResult:
    """What the "your own character" explorer classified and how."""

    support: list  # the model's input, uint8 [S, S] each
    support_labels: list
    classes: list  # the classifier's classes, in the order of the probability columns
    queries: list  # the model's input, uint8 [S, S] each
    query_names: list[str]
    truth: list  # each query's true class, or None where it is not known
    probabilities: torch.Tensor  # [n_queries, n_classes]
    predicted: list

    @property
    def correct(self) -> list[bool | None]:
        return [None if t is None else p == t for p, t in zip(self.predicted, self.truth)]


def classify_drawings(classifier, support: Sequence, support_labels: Sequence[Hashable], queries: Sequence,
                      query_names: Sequence[str] | None = None,
                      truth: Sequence[Hashable | None] | None = None) -> CharacterResult:
    """Fit ``classifier`` (from ``load_classifier``) on the support set and classify the queries.

    Images are the model's input already (uint8 ``[S, S]``, ink bright: see ``prepare_uploads`` and
    ``dataset_picks``); the classifier's own errors (one class only...) are raised as they are.
    """
    if not queries:
        raise ValueError("nothing to classify: upload drawings to classify, or pick characters from the data set")
    classifier.fit(list(support), list(support_labels))
    proba = classifier.predict_proba(list(queries))
    classes = list(classifier.classes_)
    return CharacterResult(list(support), list(support_labels), classes, list(queries),
                           list(query_names or [f"query {i + 1}" for i in range(len(queries))]),
                           list(truth or [None] * len(queries)), proba,
                           [classes[i] for i in proba.argmax(1).tolist()])


def plot_character_result(result: CharacterResult, top: int = 5, label=str):
    """The support set as the model sees it, then each query with bars of its ``top`` most likely classes
    (green: the true class, where it is known)."""
    n_s, n_q = len(result.support), len(result.queries)
    cols = min(10, n_s)
    srows = math.ceil(n_s / cols)
    k = min(top, len(result.classes))
    h_s, h_q = 1.1 * srows + 0.4, (0.22 * k + 0.55) * n_q + 0.5
    fig = plt.figure(figsize=(8.0, h_s + h_q), layout="constrained")
    fig_s, fig_q = fig.subfigures(2, 1, height_ratios=[h_s, h_q])
    axes = fig_s.subplots(srows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n_s:
            ax.axis("off")
            continue
        _draw(ax, result.support[i])
        ax.set_title(textwrap.shorten(str(label(result.support_labels[i])), 16, placeholder="…"), fontsize=7)
    fig_s.suptitle("support set, as the model sees it", fontsize=10)
    axes = fig_q.subplots(n_q, 2, squeeze=False, gridspec_kw={"width_ratios": [1, 6]})
    for q, (ax_img, ax_bar) in enumerate(axes):
        _draw(ax_img, result.queries[q])
        ax_img.set_title(textwrap.shorten(result.query_names[q], 22, placeholder="…"), fontsize=7)
        p, idx = result.probabilities[q].topk(k)
        names = [result.classes[j] for j in idx.tolist()]
        y = np.arange(k)
        ax_bar.barh(y, p.numpy(), height=0.8, alpha=0.55,
                    color=["tab:green" if n == result.truth[q] else "tab:blue" for n in names])
        for yi, pi, n in zip(y, p.tolist(), names):
            ax_bar.text(0.005, yi, f" {label(n)}", va="center", ha="left", fontsize=7)
            ax_bar.text(max(pi, 0.3) + 0.01, yi, f"{100 * pi:.0f} %", va="center", fontsize=7)
        ax_bar.set_yticks([])
        ax_bar.set_ylim(k - 0.5, -0.5)
        ax_bar.set_xlim(0, 1.12)
        ax_bar.tick_params(axis="x", labelsize=7)
    axes[-1, 1].set_xlabel("probability (green: the true class)", fontsize=8)
    fig_q.suptitle("drawings to classify, and the classifier's probabilities", fontsize=10)
    return fig


class CharacterExplorer(Explorer):
    """"Your own character": a few-shot classifier (``load_classifier``) on a support set of uploaded pictures
    and/or drawings picked from a data set, classifying new drawings, with its probabilities as bars.

    Uploads are labelled by file name (``alpha_1.png`` and ``alpha_2.png`` are two shots of ``alpha``) and go
    through the checkpoint's preprocessing with the photo steps on (greyscale, dark ink on light paper
    inverted, levels, crop to the ink, resize: ``photo_preprocess``). Without uploaded queries, the explorer
    classifies another drawing of (up to ``max_dataset_queries`` of) the picked characters.
    """

    title = "Your own character"

    def __init__(self, classifier, dataset, picks: int = 5, seed: int = 0, max_picks: int = 20,
                 max_dataset_queries: int = 4, top: int = 5):
        super().__init__()
        if isinstance(classifier, (str, Path)):
            from fsl_course.classifier import load_classifier

            classifier = load_classifier(classifier)
        self.classifier, self.dataset = classifier, dataset
        self.seed, self.draws = seed, 0
        self.max_dataset_queries, self.top = max_dataset_queries, top
        self.result: CharacterResult | None = None
        self.pick_slider = _slider("characters from the data set", picks, 0, max(max_picks, picks), "460px")
        self.new_characters_button = widgets.Button(description="other characters")
        self.support_upload = widgets.FileUpload(accept="image/*", multiple=True, description="support set", icon="")
        self.query_upload = widgets.FileUpload(accept="image/*", multiple=True, description="to classify", icon="")
        self.clear_button = widgets.Button(description="clear uploads")
        for control in (self.pick_slider, self.support_upload, self.query_upload):
            control.observe(self.redraw, names="value")
        self.new_characters_button.on_click(self.new_characters)
        self.clear_button.on_click(self.clear_uploads)
        help_text = widgets.HTML(
            "Upload pictures of your own symbols (a photo of ink on paper works) for the support set, named by "
            "class (<code>alpha_1.png</code>, <code>alpha_2.png</code>, <code>beta.png</code>), and drawings to "
            "classify; or use characters from the data set. The model is the shipped Prototypical Network.")
        self._layout(help_text, widgets.HBox([self.pick_slider, self.new_characters_button]),
                     widgets.HBox([self.support_upload, self.query_upload, self.clear_button]))
        self.redraw()

    def new_characters(self, *_) -> None:
        self.draws += 1
        self.redraw()

    def clear_uploads(self, *_) -> None:
        self._muted = True
        try:
            self.support_upload.value = ()
            self.query_upload.value = ()
        finally:
            self._muted = False
        self.redraw()

    def update(self) -> None:
        self.result = None
        pre = self.classifier.preprocess
        support, names, queries = dataset_picks(self.dataset, self.pick_slider.value, self.seed + self.draws)
        labels = [short_class_name(n) for n in names]
        up_support, up_names = prepare_uploads(self.support_upload.value, pre)
        up_queries, up_query_names = prepare_uploads(self.query_upload.value, pre)
        up_labels = [label_from_filename(n) for n in up_names]
        if up_queries:  # the learner's drawings; their true class is known if a file name says it
            known = set(labels) | set(up_labels)
            truth = [label_from_filename(n) if label_from_filename(n) in known else None for n in up_query_names]
            queries, query_names = up_queries, up_query_names
        else:
            n = min(len(queries), self.max_dataset_queries)
            queries, truth = queries[:n], labels[:n]
            query_names = [f"true: {t}" for t in truth]
        self.result = classify_drawings(self.classifier, support + up_support, labels + up_labels, queries,
                                        query_names, truth)

    def summary(self) -> str:
        r = self.result
        n_up = len(self.support_upload.value)
        right = [c for c in r.correct if c is not None]
        score = f"; {sum(right)} of {len(right)} right" if right else ""
        guesses = ""
        if self.query_upload.value:
            guesses = ": " + ", ".join(f"{q} \N{RIGHTWARDS ARROW} {p}" for q, p in zip(r.query_names, r.predicted))
        return (f"support set: {len(r.support)} pictures of {len(r.classes)} classes ({n_up} uploaded); "
                f"classified {len(r.queries)} drawings{score}{guesses}")

    def draw(self):
        return plot_character_result(self.result, self.top)


# --- the prototype explorer (notebook 05) -------------------------------------------------------------------

@dataclass
class PrototypeView:
    """An episode's embeddings in 2-D (PCA over all drawings of its classes, so the axes stay put when only the
    shot changes), with the prototypes: what the prototype explorer draws."""

    way: int
    shot: int
    classes: torch.Tensor  # [way] the data set's class behind label 0..way-1
    order: torch.Tensor  # [way, n_per_class] the episode's order of each class's drawings (support first)
    support_2d: np.ndarray  # [way * shot, 2]
    support_labels: torch.Tensor  # [way * shot]
    query_2d: np.ndarray  # [way * n_query, 2]
    query_labels: torch.Tensor
    prototypes: torch.Tensor  # [way, D] the prototypes in the embedding space
    prototypes_2d: np.ndarray  # [way, 2]
    predicted: torch.Tensor  # [way * n_query] the nearest prototype of each query (in the full embedding)
    limits: tuple  # (xmin, xmax, ymin, ymax) of every drawing of the classes, for fixed axes

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.query_labels).float().mean()) * 100


def _embedder(model):
    """The embedding network of a method (``.backbone``), a classifier (``.method.backbone``) or a module."""
    if hasattr(model, "method"):
        model = model.method
    return getattr(model, "backbone", model)


@torch.no_grad()
def class_embeddings(model, dataset, classes: torch.Tensor) -> torch.Tensor:
    """Embeddings ``[len(classes), n_per_class, D]`` of every drawing of the given classes (eval mode)."""
    from fsl_course.data.images import to_float

    net = _embedder(model)
    was_training = net.training
    net.eval()
    try:
        images = to_float(dataset.images[classes]).flatten(0, 1).unsqueeze(1)  # [C * n, 1, H, W]
        device = next(net.parameters()).device
        z = net(images.to(device)).cpu()
    finally:
        net.train(was_training)
    return z.view(len(classes), dataset.n_per_class, -1)


def prototype_view(model, dataset, way: int, shot: int, episode: int = 0, n_query: int = 5, seed: int = 0,
                   cache: dict | None = None) -> PrototypeView:
    """Place the ``shot`` support embeddings, the prototypes and the queries of an episode in 2-D.

    The episode (its ``way`` classes and an order of each class's drawings) depends on ``way``, ``episode`` and
    ``seed`` only: the support set is the first ``shot`` drawings of each class, the queries the last
    ``n_query``. So changing the shot adds support drawings and moves the prototypes, while the classes, the
    queries and the 2-D axes stay where they are. ``cache`` (a dict) keeps embeddings between calls.
    """
    check_request(dataset, way, shot, n_query)
    key = (id(model), dataset.name, way, episode, seed)
    if cache is not None and key in cache:
        classes, order, z_all = cache[key]
    else:
        g = torch.Generator().manual_seed(seed * 100_003 + episode)
        classes = torch.randperm(dataset.n_classes, generator=g)[:way]
        order = torch.rand(way, dataset.n_per_class, generator=g).argsort(dim=1)
        z_all = class_embeddings(model, dataset, classes)  # [way, n_per_class, D]
        if cache is not None:
            cache[key] = (classes, order, z_all)
    z = torch.stack([z_all[c, order[c]] for c in range(way)])  # [way, n_per_class, D] in the episode's order
    z_support, z_query = z[:, :shot], z[:, -n_query:]
    protos = z_support.mean(1)  # the prototypes: mean support embedding per class
    predicted = torch.cdist(z_query.flatten(0, 1), protos).argmin(1)
    all_2d, s2, q2, p2 = project_2d(z_all.flatten(0, 1), z_support.flatten(0, 1), z_query.flatten(0, 1), protos)
    pad_x, pad_y = 0.05 * np.ptp(all_2d[:, 0]), 0.05 * np.ptp(all_2d[:, 1])
    limits = (all_2d[:, 0].min() - pad_x, all_2d[:, 0].max() + pad_x, all_2d[:, 1].min() - pad_y,
              all_2d[:, 1].max() + pad_y)
    labels = torch.arange(way)
    return PrototypeView(way, shot, classes, order, s2, labels.repeat_interleave(shot), q2,
                         labels.repeat_interleave(n_query), protos, p2, predicted, limits)


def plot_prototype_view(view: PrototypeView, title: str | None = None):
    """Queries (dots; a red ring where the nearest prototype is of another class), support drawings (squares,
    joined to their prototype) and prototypes (stars), coloured by class."""
    colours = plt.get_cmap("tab10" if view.way <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(6, 4.8))
    q, s, p = view.query_2d, view.support_2d, view.prototypes_2d
    ql, sl = view.query_labels.tolist(), view.support_labels.tolist()
    wrong = (view.predicted != view.query_labels).numpy()
    ax.scatter(q[:, 0], q[:, 1], c=[colours(k) for k in ql], s=22, alpha=0.7, label="queries")
    if wrong.any():
        ax.scatter(q[wrong, 0], q[wrong, 1], facecolors="none", edgecolors="tab:red", s=90, linewidths=1.5,
                   label="nearest prototype is wrong")
    for (x, y), k in zip(s, sl):
        ax.plot([x, p[k, 0]], [y, p[k, 1]], color=colours(k), lw=0.8, alpha=0.6)
    ax.scatter(s[:, 0], s[:, 1], c=[colours(k) for k in sl], marker="s", s=50, edgecolors="k", label="support")
    ax.scatter(p[:, 0], p[:, 1], c=[colours(k) for k in range(view.way)], marker="*", s=380, edgecolors="k",
               label="prototypes")
    ax.set_xlim(*view.limits[:2])
    ax.set_ylim(*view.limits[2:])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title(title or f"{view.way}-way {view.shot}-shot: {view.accuracy:.0f} % of {len(view.query_labels)} "
                          "queries nearest their own prototype", fontsize=10)
    fig.tight_layout()
    return fig


class PrototypeExplorer(Explorer):
    """An episode's embeddings in 2-D with the prototypes; sliders for N-way and K-shot, a chooser for the
    episode. More shots move each prototype (the mean of its support drawings) toward the middle of its
    class; the queries and the axes stay put.

    ``model``: a ProtoNet (or any method with a ``backbone``, or a classifier from ``load_classifier``).
    """

    title = "Prototype explorer"

    def __init__(self, model, dataset, way: int = 5, shot: int = 1, n_query: int = 5, seed: int = 0,
                 n_episodes: int = 10, max_way: int = 10, max_shot: int = 10):
        super().__init__()
        self.model, self.dataset, self.n_query, self.seed = model, dataset, n_query, seed
        self.cache: dict = {}
        self.view: PrototypeView | None = None
        self.way_slider = _slider("N-way", way, 2, max(max_way, way))
        self.shot_slider = _slider("K-shot", shot, 1, max(max_shot, shot))
        self.episode_dropdown = widgets.Dropdown(options=[(f"episode {i + 1}", i) for i in range(n_episodes)],
                                                 value=0, description="episode")
        for control in (self.way_slider, self.shot_slider, self.episode_dropdown):
            control.observe(self.redraw, names="value")
        self._layout(widgets.HBox([self.way_slider, self.shot_slider, self.episode_dropdown]))
        self.redraw()

    def update(self) -> None:
        self.view = None
        self.view = prototype_view(self.model, self.dataset, self.way_slider.value, self.shot_slider.value,
                                   self.episode_dropdown.value, self.n_query, self.seed, self.cache)

    def summary(self) -> str:
        v = self.view
        return (f"{self.dataset.name}, {v.way}-way {v.shot}-shot: each star is the mean of its {v.shot} support "
                f"embedding{'s' if v.shot > 1 else ''}; {v.accuracy:.0f} % of the queries are nearest their own "
                "class's prototype (in the full embedding; the 2-D picture is a projection)")

    def draw(self):
        return plot_prototype_view(self.view)


# --- the inner-loop stepper (notebook 03) ------------------------------------------------------------------

@dataclass
class InnerLoopView:
    """One sine task after ``steps`` gradient steps on its first ``k`` support points, for each model."""

    task: int
    k: int
    steps: int
    x: torch.Tensor  # [200, 1] where the curves are drawn
    truth: torch.Tensor  # [200, 1] the task's true sine
    x_support: torch.Tensor  # [k, 1]
    y_support: torch.Tensor
    before: dict  # model name -> predictions [200, 1] before adaptation
    after: dict  # model name -> predictions after ``steps`` steps
    mse: dict  # model name -> mean squared error on the whole curve after ``steps`` steps
    step_sizes: dict  # model name -> the step size used


def inner_loop_view(models: Mapping, step_sizes: Mapping | None = None, task: int = 0, k: int = 10,
                    steps: int = 1, max_k: int = 20, n_tasks: int = 20) -> InnerLoopView:
    """Adapt every model of ``models`` (name -> :class:`~fsl_course.toys.sine.SineMLP`) to the first ``k`` support
    points of new sine task number ``task`` with ``steps`` plain gradient steps (each model's step size from
    ``step_sizes``, else the paper's 0.01); the models themselves are not changed."""
    from fsl_course.toys import sine

    if not 1 <= k <= max_k:
        raise ValueError(f"the support set must have between 1 and {max_k} points, got {k}")
    if not 0 <= task < n_tasks:
        raise ValueError(f"task must be between 0 and {n_tasks - 1}, got {task}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    data = sine.make_eval_tasks(n_tasks, k=max_k)  # fixed new tasks: k points = the first k of max_k
    xs, ys = data.x_support[task, :k], data.y_support[task, :k]
    x = torch.linspace(*sine.X_RANGE, 200).reshape(-1, 1)
    truth = data.tasks[task](x[None])[0]
    lrs = {name: (step_sizes or {}).get(name, sine.INNER_LR) for name in models}
    before, after, mse = {}, {}, {}
    for name, model in models.items():
        before[name] = sine.predictions_after(model, xs, ys, x, 0, lrs[name])
        after[name] = sine.predictions_after(model, xs, ys, x, steps, lrs[name])
        mse[name] = float(((after[name] - truth) ** 2).mean())
    return InnerLoopView(task, k, steps, x, truth, xs, ys, before, after, mse, lrs)


def plot_inner_loop_view(view: InnerLoopView):
    """One panel per model: the true sine, the support points, the fit before and after the inner loop."""
    names = list(view.after)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 3.6), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        ax.plot(view.x, view.truth, color="tab:red", lw=2, label="ground truth")
        ax.plot(view.x, view.before[name], ls=":", color="tab:green", label="before adapting")
        ax.plot(view.x, view.after[name], ls="--", color="tab:blue",
                label=f"after {view.steps} step{'s' if view.steps != 1 else ''}")
        ax.scatter(view.x_support[:, 0], view.y_support[:, 0], marker="^", color="black", zorder=3,
                   label=f"{view.k} support point{'s' if view.k != 1 else ''}")
        ax.set_title(f"{name} (step size {view.step_sizes[name]:g}): MSE {view.mse[name]:.3f}")
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


class InnerLoopStepper(Explorer):
    """MAML's inner loop on the sine toy: sliders for the number of gradient steps and the support-set size, a
    chooser for the task; every model (MAML and the pretrained baseline) is refitted and redrawn."""

    title = "Inner-loop stepper"

    def __init__(self, models: Mapping, step_sizes: Mapping | None = None, steps: int = 1, k: int = 10,
                 task: int = 0, max_steps: int = 20, max_k: int = 20, n_tasks: int = 20):
        super().__init__()
        self.models, self.step_sizes, self.max_k, self.n_tasks = dict(models), dict(step_sizes or {}), max_k, n_tasks
        self.view: InnerLoopView | None = None
        self.steps_slider = _slider("gradient steps", steps, 0, max(max_steps, steps))
        self.k_slider = _slider("support points K", k, 1, max_k)
        self.task_dropdown = widgets.Dropdown(options=[(f"task {i + 1}", i) for i in range(n_tasks)], value=task,
                                              description="sine")
        for control in (self.steps_slider, self.k_slider, self.task_dropdown):
            control.observe(self.redraw, names="value")
        self._layout(widgets.HBox([self.steps_slider, self.k_slider, self.task_dropdown]))
        self.redraw()

    def update(self) -> None:
        self.view = None
        self.view = inner_loop_view(self.models, self.step_sizes, self.task_dropdown.value, self.k_slider.value,
                                    self.steps_slider.value, self.max_k, self.n_tasks)

    def summary(self) -> str:
        v = self.view
        errors = ", ".join(f"{name} {mse:.3f}" for name, mse in v.mse.items())
        return (f"sine task {v.task + 1}, {v.k} support points, {v.steps} gradient step{'s' if v.steps != 1 else ''}:"
                f" mean squared error on the whole curve {errors}")

    def draw(self):
        return plot_inner_loop_view(self.view)


# --- the prompt playground (notebooks 07 and 08) ------------------------------------------------------------

ENSEMBLES = {
    "mean": "average the prompts' embeddings (open_clip)",
    "sum": "add up the prompts' probabilities",
}


def parse_class_names(text: str) -> list[str]:
    """Class names typed by a learner: separated by commas or new lines; blanks and repeats dropped."""
    names = [n.strip() for n in re.split(r"[,\n]", text or "")]
    return list(dict.fromkeys(n for n in names if n))


def parse_templates(text: str) -> list[str]:
    """Prompt templates, one per line, each with ``{}`` where the class name goes; ``ValueError`` otherwise."""
    templates = [t.strip() for t in (text or "").splitlines() if t.strip()]
    if not templates:
        raise ValueError("no template: type one per line, with {} where the class name goes, "
                         "e.g. 'a photo of a {}.'")
    for t in templates:
        try:
            filled = t.format("CLASS")
        except (IndexError, KeyError, ValueError):
            filled = ""
        if t.count("{}") != 1 or "CLASS" not in filled:
            raise ValueError(f"the template {t!r} needs exactly one {{}} where the class name goes, "
                             "e.g. 'a photo of a {}.'")
    return templates


def prompt_probabilities(clip, image_features: torch.Tensor, classnames: Sequence[str],
                         templates: Sequence[str], ensemble: str = "mean", scale: float | None = None) -> torch.Tensor:
    """Zero-shot class probabilities ``[n_images, n_classes]`` from class names and prompt templates.

    ``ensemble="mean"``: each class is the normalised mean of its prompts' normalised embeddings (open_clip's
    ``build_zero_shot_classifier``), and ``softmax(scale * cosine)`` picks among the classes. ``"sum"``: the
    softmax picks among every prompt of every class, and a class gets the total of its prompts' probabilities
    (as the mini-CLIP's ``combination_probabilities``). With one template the two agree. ``scale``: the
    model's own ``exp(logit_scale)`` unless given.
    """
    from fsl_course.clip import zeroshot

    if not classnames:
        raise ValueError("no class names: type at least one, separated by commas")
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {', '.join(ENSEMBLES)}, got {ensemble!r}")
    scale = clip.logit_scale if scale is None else scale
    names = [zeroshot.prompt_name(c) for c in classnames]
    if ensemble == "mean":
        weights = zeroshot.zero_shot_classifier(clip, names, list(templates))
        return zeroshot.class_probabilities(image_features, weights, scale)
    prompts = [zeroshot.fill(t, n) for n in names for t in templates]
    owner = [i for i in range(len(names)) for _ in templates]
    return zeroshot.marginal_class_probabilities(image_features, clip.encode_texts(prompts), owner, len(names),
                                                 scale)


class PromptPlayground(Explorer):
    """Type class names and prompt templates; the top-k bars of the images update (``plots.plot_top_k``).

    ``clip``: the notebook's ``ClipModel`` (a pretrained CLIP, its untrained stand-in, or the mini-CLIP, which
    works offline); ``images`` and their ``titles``; ``image_features``: their embeddings if already computed.
    Templates go one per line; several are ensembled as the chooser says (``prompt_probabilities``).
    """

    title = "Prompt playground"

    def __init__(self, clip, images, classnames: Sequence[str], templates: Sequence[str] = ("a photo of a {}.",),
                 titles: Sequence[str] | None = None, image_features: torch.Tensor | None = None, k: int = 5,
                 ensemble: str = "mean", scale: float | None = None, pairs_per_row: int = 2):
        super().__init__()
        self.clip, self.images, self.k, self.scale, self.pairs_per_row = clip, images, k, scale, pairs_per_row
        self.titles = list(titles) if titles is not None else None
        self.image_features = clip.encode_images(images) if image_features is None else image_features
        self.probabilities: torch.Tensor | None = None
        self.classnames: list[str] = []
        self.templates: list[str] = []
        self.classes_text = widgets.Textarea(value=", ".join(classnames), description="classes", rows=3,
                                             continuous_update=False, layout=widgets.Layout(width="95%"),
                                             placeholder="class names, separated by commas")
        self.templates_text = widgets.Textarea(value="\n".join(templates), description="templates", rows=3,
                                               continuous_update=False, layout=widgets.Layout(width="95%"),
                                               placeholder="one per line, {} where the class name goes")
        self.ensemble_dropdown = widgets.Dropdown(options=[(v, k_) for k_, v in ENSEMBLES.items()], value=ensemble,
                                                  description="several templates:",
                                                  style={"description_width": "initial"},
                                                  layout=widgets.Layout(width="440px"))
        self.update_button = widgets.Button(description="update")
        for control in (self.classes_text, self.templates_text, self.ensemble_dropdown):
            control.observe(self.redraw, names="value")
        self.update_button.on_click(self.update_clicked)
        self._layout(self.classes_text, self.templates_text,
                     widgets.HBox([self.ensemble_dropdown, self.update_button]))
        self._computed_for = None  # the inputs behind the probabilities shown
        self.redraw()

    def _inputs(self) -> tuple:
        return self.classes_text.value, self.templates_text.value, self.ensemble_dropdown.value

    def update_clicked(self, *_) -> None:
        """The "update" button: recompute unless the bars already show these inputs (a text box's new value
        arrives, and redraws, as the box loses focus, just before the click)."""
        if self.error is not None or self._computed_for != self._inputs():
            self.redraw()

    def update(self) -> None:
        self.probabilities, self._computed_for = None, None
        self.classnames = parse_class_names(self.classes_text.value)
        if not self.classnames:
            raise ValueError("no class names: type at least one, separated by commas")
        self.templates = parse_templates(self.templates_text.value)
        self.probabilities = prompt_probabilities(self.clip, self.image_features, self.classnames, self.templates,
                                                  self.ensemble_dropdown.value, self.scale)
        self._computed_for = self._inputs()

    @property
    def top(self) -> tuple[torch.Tensor, list[list[str]]]:
        """The top-k probabilities ``[n_images, k]`` and class names of each image."""
        p, i = self.probabilities.topk(min(self.k, len(self.classnames)), dim=1)
        return p, [[self.classnames[j] for j in row] for row in i.tolist()]

    @property
    def predicted(self) -> list[str]:
        return [row[0] for row in self.top[1]]

    def summary(self) -> str:
        n = len(self.classnames) * len(self.templates)
        note = f" {self.clip.noise_note}" if self.clip.noise_note else ""
        return (f"{len(self.classnames)} classes x {len(self.templates)} template"
                f"{'s' if len(self.templates) > 1 else ''} = {n} prompts, {self.clip.name}; "
                f"softmax scale {self.clip.logit_scale if self.scale is None else self.scale:.1f}.{note}")

    def draw(self):
        from fsl_course.clip import plots

        p, names = self.top
        return plots.plot_top_k(self.images, p, names, titles=self.titles, warning=self.clip.warning,
                                pairs_per_row=self.pairs_per_row)
