"""Plotting helpers for the notebooks. Each draws one kind of figure with matplotlib and returns the Figure.

Images follow the course's convention (greyscale, ink bright): uint8 0..255 or float 0..1 tensors of shape
``[H, W]``, ``[1, H, W]`` or ``[3, H, W]``.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

from fsl_course.training.episodic import STAGE_START

_CELL = 0.9  # inches per image in a grid
_GAP = 0.35  # grey level of the lines between images in a montage


def _as_array(image) -> np.ndarray:
    """One image -> a float ``[H, W]`` or ``[H, W, 3]`` NumPy array in [0, 1], for ``imshow``.

    Takes a tensor (``[H, W]``, ``[1, H, W]`` or ``[3, H, W]``; uint8 0..255 or float 0..1), a PIL image or a
    NumPy array (``[H, W]`` or ``[H, W, 3]``; bool, uint8 or float)."""
    if not torch.is_tensor(image):
        a = np.asarray(image)
        if a.dtype == bool or a.dtype == np.uint8:
            return a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
        return np.clip(a.astype(np.float32), 0, 1)
    t = image.detach().cpu()
    t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    if t.dim() == 3:
        t = t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)
    if t.dim() not in (2, 3):
        raise ValueError(f"an image must be [H, W], [1, H, W] or [3, H, W]; got shape {tuple(image.shape)}")
    return t.clamp(0, 1).numpy()


def _draw(ax, image) -> None:
    a = _as_array(image)
    ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def show_images(images, titles=None, ncols: int = 8, size: float = _CELL, fontsize: int = 8):
    """A grid of images (a tensor ``[B, ...]`` or a list), ``ncols`` per row, each with its title if given
    (long titles are wrapped to the image's width)."""
    images = list(images)
    if not images:
        raise ValueError("no images to show")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.3 if titles else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.remove()
            continue
        _draw(ax, images[i])
        if titles is not None:
            ax.set_title(textwrap.fill(str(titles[i]), max(12, int(size * 110 / fontsize))), fontsize=fontsize)
    fig.tight_layout()
    return fig


def _alphabet(class_name: str) -> str:
    return class_name.split("/")[0]


def show_alphabets(dataset, n_alphabets: int = 6, per_alphabet: int = 10, seed: int = 0):
    """One row per alphabet (picked at random with ``seed``): the first drawing of ``per_alphabet`` characters.

    Rotated copies (``Alphabet/characterNN/rotDDD`` other than ``rot000``) are skipped, so each row shows
    distinct characters the way they were drawn.
    """
    by_alphabet: dict[str, list[int]] = {}
    for c, name in enumerate(dataset.class_names):
        parts = name.split("/")
        if len(parts) > 2 and parts[2] != "rot000":
            continue
        by_alphabet.setdefault(_alphabet(name), []).append(c)
    names = sorted(by_alphabet)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(names), generator=g)[:n_alphabets].tolist()
    chosen = [names[i] for i in sorted(order)]
    ncols = min(per_alphabet, max(len(by_alphabet[a]) for a in chosen))
    fig, axes = plt.subplots(len(chosen), ncols, figsize=(_CELL * ncols + 1.5, _CELL * len(chosen)), squeeze=False)
    for row, alphabet in zip(axes, chosen):
        classes = by_alphabet[alphabet]
        for j, ax in enumerate(row):
            if j < len(classes):
                _draw(ax, dataset.images[classes[j], 0])
            else:
                ax.axis("off")
        row[0].set_ylabel(alphabet.replace("_", " "), rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{dataset.name}: {len(chosen)} of {len(names)} alphabets")
    return fig


def _montage(images: torch.Tensor, rows: int) -> np.ndarray:
    """``[rows * cols, 1, H, W]`` (row-major) -> one ``[rows * (H+1) + 1, cols * (W+1) + 1]`` picture."""
    arrays = [_as_array(im) for im in images]
    h, w = arrays[0].shape[:2]
    cols = len(arrays) // rows
    out = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), _GAP, dtype=np.float32)
    for k, a in enumerate(arrays):
        r, c = divmod(k, cols)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = a
    return out


def show_episode(episode, dataset=None, cell: float = 0.45):
    """The support set (one row per class, labelled) beside the query set of an ``Episode``.

    With the ``dataset`` the episode came from, each support row also names its class. ``cell``: inches
    per image.
    """
    way, shot, n_query = episode.way, episode.shot, episode.n_query
    size = episode.support.shape[-1]
    names = [f"label {i}" for i in range(way)]
    if dataset is not None:
        names = [f"{i}: {dataset.class_names[int(c)]}" for i, c in enumerate(episode.classes)]
    left = 0.8 + 0.075 * max(len(n) for n in names)  # room for the row labels, in inches
    gap, right, top, bottom = 1.4, 0.9, 0.5, 0.15
    width = left + cell * shot + gap + cell * n_query + right
    height = top + cell * way + bottom
    fig = plt.figure(figsize=(width, height))
    ax_s = fig.add_axes((left / width, bottom / height, cell * shot / width, cell * way / height))
    ax_q = fig.add_axes(((left + cell * shot + gap) / width, bottom / height, cell * n_query / width,
                         cell * way / height))
    ticks = [1 + r * (size + 1) + size / 2 for r in range(way)]
    for ax, images, title, labels in [
        (ax_s, episode.support, f"support set ({way}-way {shot}-shot)", names),
        (ax_q, episode.query, "query set", [f"label {i}" for i in range(way)]),
    ]:
        ax.imshow(_montage(images, way), cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks(ticks, labels, fontsize=8)
    ax_q.yaxis.tick_right()
    return fig


def _panel(key: str) -> str:
    for suffix in ("loss", "accuracy"):
        if key.endswith(suffix):
            return suffix
    return key


def plot_curves(history: list[dict], keys=None):
    """Learning curves from a history (dicts with ``step`` and metrics): losses in one panel, accuracies in another.

    ``keys``: the metrics to draw (default: every numeric key but ``step``, ``seconds``, ``lr`` and intervals).
    """
    if not history:
        raise ValueError("the history is empty")
    if keys is None:
        keys = [k for k in history[0] if k not in ("step", "seconds", "lr") and not k.endswith("ci95")
                and isinstance(history[0][k], (int, float))]
    panels: dict[str, list[str]] = {}
    for k in keys:
        panels.setdefault(_panel(k), []).append(k)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (panel, ks) in zip(axes[0], panels.items()):
        for k in ks:
            points = [(h["step"], h[k]) for h in history if h.get(k) is not None]
            ax.plot(*zip(*points), label=k.replace("_", " "), marker="." if len(points) < 30 else None)
        for i, h in enumerate(h for h in history if str(h.get("note", "")).startswith(STAGE_START)):
            ax.axvline(h["step"], color="grey", linestyle="--", linewidth=1,
                       label="a continued stage starts" if i == 0 else None)
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy (%)" if panel == "accuracy" else panel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_accuracy_bars(results: dict, title: str | None = None, chance: dict | None = None):
    """Mean accuracy per name with its 95% interval as error bars (``results``: name -> ``EvalResult``).

    ``chance``: optional name -> chance accuracy in %, drawn as a dashed mark on each bar.
    """
    names = list(results)
    means = [results[n].mean for n in names]
    cis = [results[n].ci95 for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.8))
    x = np.arange(len(names))
    ax.bar(x, means, yerr=cis, capsize=6, color="tab:blue", alpha=0.8)
    for xi, n, m, ci in zip(x, names, means, cis):
        ax.text(xi, min(m + (ci if ci == ci else 0), 100) + 1.5, str(results[n]), ha="center", va="bottom",
                fontsize=9)
        if chance and n in chance:
            ax.hlines(chance[n], xi - 0.4, xi + 0.4, colors="k", linestyles="dashed", label="chance")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 112)
    ax.set_ylabel("accuracy (%)")
    if chance:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:1], labels[:1], loc="upper right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def project_2d(points: torch.Tensor, *others: torch.Tensor):
    """PCA of ``points`` [n, D] to 2-D; ``others`` are projected with the same axes. Returns numpy arrays."""
    x = points.detach().double()
    mean = x.mean(0)
    _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
    axes = v[:2].T  # [D, 2]
    return [((t.detach().double() - mean) @ axes).numpy() for t in (points, *others)]


def plot_embeddings_2d(embeddings: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor | None = None,
                       support: torch.Tensor | None = None, support_labels: torch.Tensor | None = None,
                       title: str | None = None):
    """Query embeddings (dots, coloured by label), support embeddings (squares) and class centres (stars) in
    2-D by PCA over all of them."""
    parts = [embeddings] + ([support] if support is not None else []) + ([centres] if centres is not None else [])
    projected = project_2d(torch.cat(parts), *parts)[1:]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    colours = plt.get_cmap("tab10" if int(labels.max()) < 10 else "tab20")
    q = projected.pop(0)
    ax.scatter(q[:, 0], q[:, 1], c=[colours(int(k)) for k in labels], s=18, alpha=0.6, label="queries")
    if support is not None:
        s = projected.pop(0)
        ax.scatter(s[:, 0], s[:, 1], c=[colours(int(k)) for k in support_labels], marker="s", s=45,
                   edgecolors="k", label="support")
    if centres is not None:
        c = projected.pop(0)
        ax.scatter(c[:, 0], c[:, 1], c=[colours(k) for k in range(len(c))], marker="*", s=320, edgecolors="k",
                   label="prototypes")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_mistakes(episode, scores: torch.Tensor, max_rows: int = 6):
    """Misclassified queries (a variety of true classes first): each row shows the query, a support image of
    its true class, and one of the class it was given."""
    predicted = scores.argmax(1)
    wrong = (predicted != episode.query_labels).nonzero().flatten().tolist()
    # one mistake of each true class first, then a second of each, ...: a variety of mistakes, not one class's
    rank = {i: sum(int(episode.query_labels[j] == episode.query_labels[i]) for j in wrong[:n]) for n, i in enumerate(wrong)}
    wrong = sorted(wrong, key=lambda i: (rank[i], i))[:max_rows]
    if not wrong:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "no query was misclassified", ha="center", va="center")
        ax.axis("off")
        return fig
    first = {int(k): i for i, k in reversed(list(enumerate(episode.support_labels.tolist())))}
    images, titles = [], []
    for i in wrong:
        true, pred = int(episode.query_labels[i]), int(predicted[i])
        images += [episode.query[i], episode.support[first[true]], episode.support[first[pred]]]
        titles += [f"query (true {true})", f"support of {true}", f"given: {pred}"]
    return show_images(images, titles, ncols=3, size=1.3)


def show_attention(episode, attention: torch.Tensor, queries=(0,), top: int | None = None):
    """Matching Networks' attention: for each chosen query, its image and then the support images with the
    attention weight each receives (bar under each image; the true class's images in green).

    ``attention``: ``[n_query, n_support]``, rows summing to one.
    """
    queries = list(queries)
    n_support = attention.shape[1]
    order = list(range(n_support))
    cols = n_support if top is None else min(top, n_support)
    fig, axes = plt.subplots(2 * len(queries), cols + 1, figsize=(0.75 * (cols + 1), 1.9 * len(queries)),
                             gridspec_kw={"height_ratios": [1, 0.7] * len(queries)}, squeeze=False)
    for r, qi in enumerate(queries):
        weights = attention[qi].detach().cpu()
        if top is not None:
            order = weights.argsort(descending=True)[:cols].tolist()
        true = int(episode.query_labels[qi])
        img_ax, bar_ax = axes[2 * r], axes[2 * r + 1]
        _draw(img_ax[0], episode.query[qi])
        img_ax[0].set_title(f"query\n(class {true})", fontsize=7)
        bar_ax[0].axis("off")
        top_w = float(weights.max())
        for c, si in enumerate(order):
            label = int(episode.support_labels[si])
            _draw(img_ax[c + 1], episode.support[si])
            img_ax[c + 1].set_title(f"class {label}", fontsize=7, color="tab:green" if label == true else "k")
            w = float(weights[si])
            bar_ax[c + 1].bar([0], [w], color="tab:green" if label == true else "tab:grey", width=0.6)
            bar_ax[c + 1].set_ylim(0, top_w * 1.15)
            bar_ax[c + 1].set_xlim(-0.6, 0.6)
            bar_ax[c + 1].set_xticks([])
            bar_ax[c + 1].set_yticks([])
            bar_ax[c + 1].set_xlabel(f"{w:.2f}", fontsize=7)
        for ax in bar_ax[1:]:
            for side in ("top", "right", "left"):
                ax.spines[side].set_visible(False)
    fig.suptitle("attention weights over the support set (green: the query's true class)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_score_matrix(scores: torch.Tensor, query_labels: torch.Tensor, title: str | None = None,
                      vmin: float | None = 0.0, vmax: float | None = 1.0):
    """A heat map of ``scores`` ``[n_query, way]`` (queries sorted by class), with each query's argmax
    marked: a dot on the diagonal block is right, a cross elsewhere is wrong."""
    order = query_labels.argsort(stable=True)
    s = scores[order].detach().cpu().numpy()
    labels = query_labels[order].cpu().numpy()
    fig, ax = plt.subplots(figsize=(0.35 * s.shape[1] + 2.5, 0.12 * s.shape[0] + 1.5))
    im = ax.imshow(s, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    pred = s.argmax(1)
    right = pred == labels
    rows = np.arange(len(s))
    ax.scatter(pred[right], rows[right], s=6, c="w", marker="o", label="chosen (right)")
    ax.scatter(pred[~right], rows[~right], s=20, c="r", marker="x", label="chosen (wrong)")
    ax.set_xlabel("support class")
    ax.set_ylabel("query (sorted by true class)")
    ax.set_xticks(range(s.shape[1]))
    fig.colorbar(im, ax=ax, label="score")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_showdown(record: dict):
    """The showdown (``fsl_course.evaluation.showdown``): one panel per setting, each method's accuracy with its 95%
    interval (the paper's number as an open diamond), and below, accuracy at 5-way 1-shot against the
    milliseconds per test episode (logarithmic), the marker's area growing with the number of parameters."""
    rows, settings = record["rows"], record["settings"]
    fig = plt.figure(figsize=(13, 3.2 + 0.32 * len(rows) + 3.6))
    grid = fig.add_gridspec(2, len(settings), height_ratios=[0.6 + 0.3 * len(rows), 3.6])
    y = np.arange(len(rows))[::-1]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, setting in enumerate(settings):
        ax = fig.add_subplot(grid[0, i])
        lows = []
        for yi, row, colour in zip(y, rows, colours * 3):
            r = row["results"].get(setting)
            if r:
                ax.errorbar(r["accuracy"], yi, xerr=r["ci95"], fmt="o", color=colour, capsize=3)
                lows.append(r["accuracy"] - r["ci95"])
            paper = record["papers"].get(row["method"])
            if paper and r:
                ax.scatter(paper[setting], yi, marker="D", facecolors="none", edgecolors=colour, zorder=3)
        ax.set_yticks(y, [row["label"] for row in rows] if i == 0 else [""] * len(rows))
        ax.set_xlim(min(lows, default=90) - 0.5, 100.2)
        ax.set_title(setting)
        ax.set_xlabel("accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
    ax = fig.add_subplot(grid[1, :])
    first = settings[0]
    for row, colour in zip(rows, colours * 3):
        r, ms = row["results"].get(first), row.get("ms_per_episode", {}).get(first)
        if r and ms:
            ax.scatter(ms, r["accuracy"], s=20 + row["parameters"] / 2000, color=colour, alpha=0.7)
            ax.annotate(row["label"], (ms, r["accuracy"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"milliseconds per {first} test episode (log scale; all timed in one run)")
    ax.set_ylabel(f"{first} accuracy (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
