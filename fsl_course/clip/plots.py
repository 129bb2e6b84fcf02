"""Figures for the CLIP notebooks: the similarity heat map, top-k bars, retrieval, shot curves, training.

Each function draws one figure with matplotlib and returns it. ``warning`` (a model's ``.warning``) stamps the
figure in red, so a figure made with an untrained model can never pass for a result.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from fsl_course.viz import _as_array as as_display
from fsl_course.viz import show_images  # noqa: F401  (the notebooks call plots.show_images)

NOISE_STAMP = "UNTRAINED MODEL: every number here is noise, not a result"


def _imshow(ax, image, extent=None) -> None:
    a = as_display(image)
    kwargs = {"cmap": "gray", "vmin": 0, "vmax": 1} if a.ndim == 2 else {}
    if extent is not None:
        ax.imshow(a, extent=extent, origin="upper", aspect="auto", **kwargs)
    else:
        ax.imshow(a, **kwargs)


def stamp(fig, warning: str | None) -> None:
    """Write the untrained-model warning across the top of ``fig`` (nothing when ``warning`` is None)."""
    if warning:
        fig.text(0.5, 1.0, NOISE_STAMP, ha="center", va="bottom", color="white", fontsize=14,
                 fontweight="bold", bbox={"facecolor": "red", "edgecolor": "red", "pad": 6})


def plot_similarity(similarity, images, texts: Sequence[str], title: str = "Cosine similarity between text and "
                    "image features", vmin: float | None = None, vmax: float | None = None,
                    warning: str | None = None, size: float = 1.6, fontsize: int | None = None):
    """The seed's heat map: texts down the side, images along the top, the cosine similarity in every cell.

    ``similarity`` is ``[n_texts, n_images]``. ``vmin``/``vmax`` default to the range of the values (the seed
    used 0.1 and 0.3, which suits a trained CLIP's image-text similarities).
    """
    sim = torch.as_tensor(similarity).detach().float().cpu().numpy()
    n_text, n_img = sim.shape
    if len(images) != n_img or len(texts) != n_text:
        raise ValueError(f"similarity is {sim.shape}, but there are {len(texts)} texts and {len(images)} images")
    fig, ax = plt.subplots(figsize=(2.2 + size * n_img * 1.15 + 0.09 * max(map(len, texts)), size * (n_text + 2)))
    im = ax.imshow(sim, vmin=sim.min() if vmin is None else vmin, vmax=sim.max() if vmax is None else vmax)
    fs = fontsize or (11 if n_img <= 10 else 8)
    ax.set_yticks(range(n_text), list(texts), fontsize=fs + 1)
    ax.set_xticks([])
    for i, image in enumerate(images):
        _imshow(ax, image, extent=(i - 0.5, i + 0.5, -0.6, -1.6))
    for x in range(n_img):
        for y in range(n_text):
            ax.text(x, y, f"{sim[y, x]:.2f}", ha="center", va="center", size=fs,
                    color="white" if sim[y, x] < (im.norm.vmin + im.norm.vmax) / 2 else "black")
    for side in ("left", "top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.5, n_img - 0.5)
    ax.set_ylim(n_text - 0.5, -1.7)
    ax.set_title(title, size=fs + 4)
    stamp(fig, warning)
    fig.tight_layout()
    return fig


def plot_top_k(images, top_probs, top_labels, classnames: Sequence[str] | None = None,
               titles: Sequence[str] | None = None, pairs_per_row: int = 2, warning: str | None = None,
               xlabel: str = "probability"):
    """Each image beside a bar chart of its top-k classes: ``top_probs`` [n, k]; ``top_labels`` [n, k] class
    indices into ``classnames`` (or, without ``classnames``, the names themselves)."""
    probs = torch.as_tensor(top_probs).detach().float().cpu().numpy()
    if classnames is not None:
        top_labels = [[classnames[int(j)] for j in row] for row in torch.as_tensor(top_labels).tolist()]
    n, k = probs.shape
    rows = math.ceil(n / pairs_per_row)
    fig, axes = plt.subplots(rows, 2 * pairs_per_row, figsize=(8 * pairs_per_row, 2.3 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.4] * pairs_per_row})
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
            ax_img.set_title(titles[i], fontsize=9)
        y = np.arange(k)
        ax_bar.grid(True, axis="x")
        ax_bar.barh(y, probs[i])
        ax_bar.invert_yaxis()
        ax_bar.set_axisbelow(True)
        ax_bar.set_yticks(y, [str(label) for label in top_labels[i]])
        ax_bar.set_xlim(0, max(1e-6, float(probs.max())) * 1.05 if warning else 1.0)
        ax_bar.set_xlabel(xlabel)
    stamp(fig, warning)
    fig.tight_layout()
    return fig


def plot_retrieval(queries: Sequence[str], images, scores, k: int = 5, captions: Sequence[str] | None = None,
                   warning: str | None = None):
    """Text-to-image retrieval: for each query caption, the ``k`` images with the highest ``scores``
    (``[n_queries, n_images]``), best first; a green frame where the image's caption is the query."""
    s = torch.as_tensor(scores).detach().float().cpu()
    top = s.topk(min(k, s.shape[1]), dim=1)
    fig, axes = plt.subplots(len(queries), k, figsize=(1.5 * k + 2.5, 1.7 * len(queries)), squeeze=False)
    for q, query in enumerate(queries):
        for j in range(k):
            ax = axes[q, j]
            idx = int(top.indices[q, j])
            _imshow(ax, images[idx])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{float(top.values[q, j]):.2f}", fontsize=8)
            if captions is not None:
                colour = "tab:green" if captions[idx] == query else "tab:red"
                for side in ax.spines.values():
                    side.set_edgecolor(colour)
                    side.set_linewidth(3)
        axes[q, 0].set_ylabel(query.replace(" at ", "\nat ").replace(" on ", "\non ").replace(" in ", "\nin "),
                              rotation=0, ha="right", va="center", fontsize=9)
    stamp(fig, warning)
    fig.tight_layout()
    return fig


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
    ax.set_xlabel("labelled images per class (shots)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    stamp(fig, warning)
    fig.tight_layout()
    return fig


def plot_training(history: Sequence[dict]):
    """The contrastive loss and the learned temperature's inverse ``exp(logit_scale)`` over training steps."""
    steps = [h["step"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.3))
    a.plot(steps, [h["loss"] for h in history])
    a.set_xlabel("step")
    a.set_ylabel("ClipLoss")
    a.set_yscale("log")
    a.set_title("contrastive loss (training batches)")
    b.plot(steps, [h["logit_scale"] for h in history], color="tab:orange")
    b.set_xlabel("step")
    b.set_ylabel("exp(logit_scale)")
    b.set_title("learned temperature (inverse)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion(matrix, rows: Sequence[str], columns: Sequence[str], title: str = "",
                   highlight: Sequence[str] = ()):
    """A confusion matrix with counts: ``matrix`` [len(rows), len(columns)], rows the true classes, columns the
    predictions (shaded by the fraction of each row); ``highlight`` column labels in bold red."""
    m = torch.as_tensor(matrix).float().numpy()
    fig, ax = plt.subplots(figsize=(0.3 * len(columns) + 2.5, 0.32 * len(rows) + 2.0))
    ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for y in range(m.shape[0]):
        for x in range(m.shape[1]):
            if m[y, x]:
                ax.text(x, y, f"{int(m[y, x])}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(columns)), list(columns), rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_title(title, fontsize=10)
    for tick in ax.get_xticklabels():
        if tick.get_text() in set(highlight):
            tick.set_color("tab:red")
            tick.set_fontweight("bold")
    fig.tight_layout()
    return fig


def plot_clip_idea(images, captions: Sequence[str]):
    """CLIP's training signal as a picture: a batch of n (image, caption) pairs gives an n x n grid of
    similarities; the loss raises the n matching pairs (the diagonal) and lowers the n^2 - n others."""
    n = len(images)
    fig, ax = plt.subplots(figsize=(2.0 + 1.7 * n, 1.9 + 1.05 * n))
    grid = np.full((n, n), 0.15)
    np.fill_diagonal(grid, 0.85)
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1)
    for i in range(n):
        _imshow(ax, images[i], extent=(-1.55, -0.55, i + 0.45, i - 0.45))
        for j in range(n):
            ax.text(j, i, f"I{i + 1}·T{j + 1}", ha="center", va="center", fontsize=9,
                    fontweight="bold" if i == j else "normal")
    ax.set_xticks(range(n), [c.replace(" at ", "\nat ").replace(" on ", "\non ").replace(" in ", "\nin ")
                             for c in captions], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([])
    ax.set_xlim(-1.6, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title("one batch: image i belongs with caption i (the diagonal); every other pair is a negative",
                 fontsize=10, pad=40)
    fig.tight_layout()
    return fig
