"""The "your own character" explorer (notebooks 01 and 05): a few-shot classifier on uploaded pictures and
drawings picked from a data set, with the helpers that read, label and prepare the uploads."""

from __future__ import annotations

import dataclasses
import io
import math
import re
import textwrap
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from fsl_course.data.images import Preprocess
from fsl_course.episodes import check_request
from fsl_course.viz import FONT, FONT_SMALL, WIDTH, _draw, finish, wrap
from fsl_course.widgets.base import Explorer, _slider


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
    """The support set as the model sees it (a grid), then each query with bars of its ``top`` most likely classes
    (green: the true class, where it is known), two queries a row."""
    n_s, n_q = len(result.support), len(result.queries)
    cols = min(8, n_s)
    srows = math.ceil(n_s / cols)
    k = min(top, len(result.classes))
    q_cols = min(2, n_q)
    q_rows = math.ceil(n_q / q_cols)
    h_s, h_q = 1.2 * srows + 0.35, (0.19 * k + 0.6) * q_rows + 0.55
    fig = plt.figure(figsize=(WIDTH, h_s + h_q), layout="constrained")
    fig_s, fig_q = fig.subfigures(2, 1, height_ratios=[h_s, h_q])
    axes = fig_s.subplots(srows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n_s:
            ax.axis("off")
            continue
        _draw(ax, result.support[i])
        name = textwrap.shorten(str(label(result.support_labels[i])), 28, placeholder="…")
        ax.set_title(wrap(name, WIDTH / cols - 0.1, FONT_SMALL), fontsize=FONT_SMALL)
    fig_s.suptitle("support set, as the model sees it", fontsize=FONT)
    axes = fig_q.subplots(q_rows, 2 * q_cols, squeeze=False, gridspec_kw={"width_ratios": [1, 4.5] * q_cols})
    for q in range(q_rows * q_cols):
        ax_img, ax_bar = axes[q // q_cols, 2 * (q % q_cols)], axes[q // q_cols, 2 * (q % q_cols) + 1]
        if q >= n_q:
            ax_img.remove()
            ax_bar.remove()
            continue
        _draw(ax_img, result.queries[q])
        ax_img.set_title(wrap(textwrap.shorten(result.query_names[q], 36, placeholder="…"), 0.75, FONT_SMALL),
                         fontsize=FONT_SMALL)
        p, idx = result.probabilities[q].topk(k)
        names = [result.classes[j] for j in idx.tolist()]
        y = np.arange(k)
        ax_bar.barh(y, p.numpy(), height=0.8, alpha=0.55,
                    color=["tab:green" if n == result.truth[q] else "tab:blue" for n in names])
        for yi, pi, n in zip(y, p.tolist(), names):
            ax_bar.text(0.005, yi, f" {textwrap.shorten(str(label(n)), 24, placeholder='…')}", va="center",
                        ha="left", fontsize=FONT_SMALL)
            ax_bar.text(max(pi, 0.55) + 0.01, yi, f"{100 * pi:.0f} %", va="center", fontsize=FONT_SMALL)
        ax_bar.set_yticks([])
        ax_bar.set_ylim(k - 0.5, -0.5)
        ax_bar.set_xlim(0, 1.22)
        ax_bar.tick_params(axis="x", labelsize=FONT_SMALL)
    for ax in axes[-1, 1::2]:
        ax.set_xlabel("probability (green: the true class)", fontsize=FONT_SMALL)
    fig_q.suptitle("drawings to classify, and the classifier's probabilities", fontsize=FONT)
    return finish(fig, tight=False)


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
