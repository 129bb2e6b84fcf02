"""Figures for the CLIP notebooks: the similarity heat map, top-k bars, retrieval, shot curves, training.

Each function draws one figure with matplotlib and returns it, in the course's figure style (``fsl_course.viz``:
at most ``WIDTH`` inches wide, no text under 8 pt as the book shows it, grids rather than long rows).
``warning`` (a model's ``.warning``) stamps the figure in red, so a figure made with an untrained model can never
pass for a result.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from fsl_course.viz import FONT, FONT_SMALL, FONT_TITLE, MAX_HEIGHT, WIDTH, columns_that_fit, finish, style_axes
from fsl_course.viz import _as_array as as_display
from fsl_course.viz import show_images  # noqa: F401  (the notebooks call plots.show_images)
from fsl_course.viz import text_width, wrap

NOISE_STAMP = "UNTRAINED MODEL: every number here is noise, not a result"


def _imshow(ax, image, extent=None) -> None:
    a = as_display(image)
    kwargs = {"cmap": "gray", "vmin": 0, "vmax": 1} if a.ndim == 2 else {}
    if extent is not None:
        ax.imshow(a, extent=extent, origin="upper", **kwargs)
    else:
        ax.imshow(a, **kwargs)


def stamp(fig, warning: str | None) -> None:
    """Write the untrained-model warning across the top of ``fig`` (nothing when ``warning`` is None)."""
    if warning:
        fig.text(0.5, 1.0, NOISE_STAMP, ha="center", va="bottom", color="white", fontsize=12,
                 fontweight="bold", bbox={"facecolor": "red", "edgecolor": "red", "pad": 6})


def _caption(text: str) -> str:
    """A caption broken before its position phrase: "a red circle on the left" -> "a red circle\\non the left"."""
    for word in (" at ", " on ", " in "):
        text = text.replace(word, "\n" + word.strip() + " ", 1) if word in text else text
    return text


def plot_similarity(similarity, images, texts: Sequence[str], title: str = "Cosine similarity between text and "
                    "image features", vmin: float | None = None, vmax: float | None = None,
                    warning: str | None = None, size: float = 1.6, fontsize: int | None = None):
    """The seed's heat map: texts down the side, images along the top, the cosine similarity in every cell.

    ``similarity`` is ``[n_texts, n_images]``. ``vmin``/``vmax`` default to the range of the values (the seed
    used 0.1 and 0.3, which suits a trained CLIP's image-text similarities). ``size``: inches per cell, at most;
    the map is made smaller to fit the page. ``fontsize``: of the numbers (default 9 pt, 8 in small cells).
    """
    sim = torch.as_tensor(similarity).detach().float().cpu().numpy()
    n_text, n_img = sim.shape
    if len(images) != n_img or len(texts) != n_text:
        raise ValueError(f"similarity is {sim.shape}, but there are {len(texts)} texts and {len(images)} images")
    labels = [wrap(t, 2.0, FONT) for t in texts]
    label_w = max(text_width(t, FONT) for t in labels) + 0.15
    heading = wrap(title, WIDTH, FONT_TITLE)
    head_h = (heading.count("\n") + 1) * FONT_TITLE * 1.3 / 72 + 0.15 + (0.4 if warning else 0)
    cell = min(size, (WIDTH - label_w) / n_img, (MAX_HEIGHT - head_h) / (n_text + 1.2))
    fs = max(fontsize or (FONT if cell >= 0.5 else FONT_SMALL), FONT_SMALL)
    fig, ax = plt.subplots(figsize=(label_w + cell * n_img, head_h + cell * (n_text + 1.2)))
    im = ax.imshow(sim, vmin=sim.min() if vmin is None else vmin, vmax=sim.max() if vmax is None else vmax)
    ax.set_yticks(range(n_text), labels, fontsize=FONT)
    ax.set_xticks([])
    for i, image in enumerate(images):
        _imshow(ax, image, extent=(i - 0.45, i + 0.45, -0.65, -1.55))
    for x in range(n_img):
        for y in range(n_text):
            ax.text(x, y, f"{sim[y, x]:.2f}", ha="center", va="center", size=fs,
                    color="white" if sim[y, x] < (im.norm.vmin + im.norm.vmax) / 2 else "black")
    for side in ("left", "top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_aspect("equal")
    ax.set_xlim(-0.5, n_img - 0.5)
    ax.set_ylim(n_text - 0.5, -1.6)
    ax.set_title(heading, size=FONT_TITLE)
    stamp(fig, warning)
    return finish(fig)


def plot_top_k(images, top_probs, top_labels, classnames: Sequence[str] | None = None,
               titles: Sequence[str] | None = None, pairs_per_row: int = 2, warning: str | None = None,
               xlabel: str = "probability"):
    """Each image beside a bar chart of its top-k classes: ``top_probs`` [n, k]; ``top_labels`` [n, k] class
    indices into ``classnames`` (or, without ``classnames``, the names themselves). At most ``pairs_per_row``
    (image, bars) pairs a row: fewer when they would not fit the page."""
    probs = torch.as_tensor(top_probs).detach().float().cpu().numpy()
    if classnames is not None:
        top_labels = [[classnames[int(j)] for j in row] for row in torch.as_tensor(top_labels).tolist()]
    n, k = probs.shape
    image_w, bars_w, gap = 1.1, 1.5, 0.3
    label_w = max(text_width(str(label), FONT_SMALL) for row in top_labels for label in row) + 0.1
    pairs_per_row = max(1, min(pairs_per_row, n, columns_that_fit(image_w + label_w + bars_w, gap)))
    rows = math.ceil(n / pairs_per_row)
    title_lines = 2 if titles is not None else 0
    row_h = min(max(image_w, 0.2 * k + 0.45) + title_lines * FONT_SMALL * 1.25 / 72,
                (MAX_HEIGHT - 0.6) / rows)
    fig, axes = plt.subplots(rows, 2 * pairs_per_row, figsize=(pairs_per_row * (image_w + label_w + bars_w + gap),
                                                                 row_h * rows + (0.5 if warning else 0.2)),
                             squeeze=False, gridspec_kw={"width_ratios": [image_w, bars_w] * pairs_per_row})
    for i in range(rows * pairs_per_row):
        ax_img, ax_bar = axes[i // pairs_per_row, 2 * (i % pairs_per_row)], axes[i // pairs_per_row,
                                                                                   2 * (i % pairs_per_row) + 1]
        if i >= n:
            ax_img.remove()
            ax_bar.remove()
            continue
        _imshow(ax_img, images[i])
        ax_img.axis("off")
        if titles is not None:
            ax_img.set_title(wrap(_caption(str(titles[i])), image_w + 0.3, FONT_SMALL), fontsize=FONT_SMALL)
        y = np.arange(k)
        ax_bar.grid(True, axis="x")
        ax_bar.barh(y, probs[i])
        ax_bar.invert_yaxis()
        ax_bar.set_axisbelow(True)
        ax_bar.set_yticks(y, [str(label) for label in top_labels[i]], fontsize=FONT_SMALL)
        ax_bar.set_xlim(0, max(1e-6, float(probs.max())) * 1.05 if warning else 1.0)
        ax_bar.tick_params(axis="x", labelsize=FONT_SMALL)
        ax_bar.set_xlabel(xlabel, fontsize=FONT_SMALL)
    stamp(fig, warning)
    return finish(fig)


def plot_retrieval(queries: Sequence[str], images, scores, k: int = 5, captions: Sequence[str] | None = None,
                   warning: str | None = None):
    """Text-to-image retrieval: for each query caption, the ``k`` images with the highest ``scores``
    (``[n_queries, n_images]``), best first; a green frame where the image's caption is the query."""
    s = torch.as_tensor(scores).detach().float().cpu()
    top = s.topk(min(k, s.shape[1]), dim=1)
    labels = [_caption(q) for q in queries]
    label_w = max(text_width(t, FONT) for t in labels) + 0.2
    cell = min(1.1, (WIDTH - label_w) / k - 0.1, (MAX_HEIGHT - 0.5) / len(queries) - 0.3)
    fig, axes = plt.subplots(len(queries), k, figsize=(label_w + (cell + 0.1) * k,
                                                       (cell + 0.3) * len(queries) + (0.5 if warning else 0.1)),
                             squeeze=False)
    for q, query in enumerate(queries):
        for j in range(k):
            ax = axes[q, j]
            idx = int(top.indices[q, j])
            _imshow(ax, images[idx])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{float(top.values[q, j]):.2f}", fontsize=FONT_SMALL)
            if captions is not None:
                colour = "tab:green" if captions[idx] == query else "tab:red"
                for side in ax.spines.values():
                    side.set_edgecolor(colour)
                    side.set_linewidth(3)
        axes[q, 0].set_ylabel(labels[q], rotation=0, ha="right", va="center", fontsize=FONT)
    stamp(fig, warning)
    return finish(fig)


def plot_shot_curves(rows: Sequence[dict], title: str = "CLIP features as a few-shot backbone",
                     chance: float | None = None, warning: str | None = None):
    """Accuracy (with 95 % intervals) against shots per class, one line per method (``summarise_curves`` rows)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = sorted((r["shot"], r["accuracy"], r["ci95"]) for r in rows if r["method"] == method)
        x, y, e = zip(*pts)
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=method,
                    linestyle="--" if method.startswith("text (") else "-")
    if chance is not None:
        ax.axhline(100 * chance, color="grey", linestyle=":", label="chance")
    ax.set_xlabel("labelled images per class (shots)", fontsize=FONT)
    ax.set_ylabel("accuracy (%)", fontsize=FONT)
    ax.set_title(title, fontsize=FONT_TITLE)
    style_axes(ax)
    ax.legend(fontsize=FONT)
    ax.grid(alpha=0.3)
    stamp(fig, warning)
    return finish(fig)


def plot_training(history: Sequence[dict]):
    """The contrastive loss and the learned temperature's inverse ``exp(logit_scale)`` over training steps."""
    steps = [h["step"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(WIDTH, 3.0))
    a.plot(steps, [h["loss"] for h in history])
    a.set_xlabel("step", fontsize=FONT)
    a.set_ylabel("ClipLoss", fontsize=FONT)
    a.set_yscale("log")
    a.set_title("contrastive loss (training batches)", fontsize=FONT)
    b.plot(steps, [h["logit_scale"] for h in history], color="tab:orange")
    b.set_xlabel("step", fontsize=FONT)
    b.set_ylabel("exp(logit_scale)", fontsize=FONT)
    b.set_title("learned temperature (inverse)", fontsize=FONT)
    for ax in (a, b):
        style_axes(ax)
        ax.grid(alpha=0.3)
    return finish(fig)


def plot_confusion(matrix, rows: Sequence[str], columns: Sequence[str], title: str = "",
                   highlight: Sequence[str] = ()):
    """A confusion matrix with counts: ``matrix`` [len(rows), len(columns)], rows the true classes, columns the
    predictions (shaded by the fraction of each row); ``highlight`` column labels in bold red. Square cells, as
    large as the page allows (up to 0.35 inch)."""
    m = torch.as_tensor(matrix).float().numpy()
    row_w = max(text_width(str(r), FONT_SMALL) for r in rows) + 0.15
    col_h = max(text_width(str(c), FONT_SMALL) for c in columns) + 0.15  # the column labels stand upright
    heading = wrap(title, WIDTH, FONT_TITLE) if title else ""
    head_h = (heading.count("\n") + 1) * FONT_TITLE * 1.3 / 72 + 0.1 if heading else 0.0
    cell = min(0.35, (WIDTH - row_w) / len(columns), (MAX_HEIGHT - col_h - head_h - 0.35) / len(rows))
    fig, ax = plt.subplots(figsize=(row_w + cell * len(columns), head_h + cell * len(rows) + col_h + 0.35))
    ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    count_size = FONT_SMALL if cell < 0.3 else FONT
    for y in range(m.shape[0]):
        for x in range(m.shape[1]):
            if m[y, x]:
                share = m[y, x] / max(m[y].sum(), 1)
                ax.text(x, y, f"{int(m[y, x])}", ha="center", va="center", fontsize=count_size,
                        color="white" if share > 0.6 else "black")
    ax.set_xticks(range(len(columns)), list(columns), rotation=90, fontsize=FONT_SMALL)
    ax.set_yticks(range(len(rows)), list(rows), fontsize=FONT_SMALL)
    ax.set_xlabel("predicted", fontsize=FONT)
    if heading:
        ax.set_title(heading, fontsize=FONT_TITLE)
    for tick in ax.get_xticklabels():
        if tick.get_text() in set(highlight):
            tick.set_color("tab:red")
            tick.set_fontweight("bold")
    return finish(fig)


def plot_clip_idea(images, captions: Sequence[str]):
    """CLIP's training signal as a picture: a batch of n (image, caption) pairs gives an n x n grid of
    similarities; the loss raises the n matching pairs (the diagonal) and lowers the n^2 - n others."""
    n = len(images)
    cell = min(1.2, WIDTH / (n + 1.1), (MAX_HEIGHT - 1.4) / (n + 0.1))
    labels = [wrap(_caption(c), cell - 0.05, FONT_SMALL) for c in captions]
    label_h = max(t.count("\n") + 1 for t in labels) * FONT_SMALL * 1.3 / 72 + 0.1
    fig, ax = plt.subplots(figsize=(cell * (n + 1.1), cell * n + label_h + 0.75))
    grid = np.full((n, n), 0.15)
    np.fill_diagonal(grid, 0.85)
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1)
    for i in range(n):
        _imshow(ax, images[i], extent=(-1.5, -0.6, i + 0.45, i - 0.45))
        for j in range(n):
            ax.text(j, i, f"I{i + 1}·T{j + 1}", ha="center", va="center", fontsize=FONT,
                    fontweight="bold" if i == j else "normal")
    ax.set_xticks(range(n), labels, fontsize=FONT_SMALL)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.set_aspect("equal")
    ax.set_xlim(-1.6, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(wrap("one batch: image i belongs with caption i (the diagonal); every other pair is a negative",
                      cell * (n + 1.1), FONT), fontsize=FONT, pad=label_h * 72 + 4)
    return finish(fig)
