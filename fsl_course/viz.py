"""Plotting helpers for the notebooks. Each draws one kind of figure with matplotlib and returns the Figure.

Images follow the course's convention (greyscale, ink bright): uint8 0..255 or float 0..1 tensors of shape
``[H, W]``, ``[1, H, W]`` or ``[3, H, W]``.

Every figure of the course follows one style (the constants and helpers below, which ``clip.plots`` and the
widgets use too): at most ``WIDTH`` inches of content, so that the book never scales it down; no text smaller
than ``MIN_TEXT_PT`` as the book shows it; at most ``MAX_HEIGHT`` inches tall, one screen; and a figure with
many panels laid out as a grid (``grid_shape``) rather than one long row or column. ``displayed_size`` says how
the book shows a figure; ``tests/test_figures.py`` checks every plotting function against these rules.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from fsl_course.training.episodic import STAGE_START

# --- The course's figure style -------------------------------------------------------------------------------------
#
# How the book shows a figure: the inline backend saves it as a PNG at matplotlib's figure.dpi, cropped to what is
# drawn (bbox_inches="tight", 0.1 inch of padding). matplotlib-inline >= 0.1.4 (the course has 0.2) no longer
# overrides matplotlib's defaults, and neither the notebooks nor the book's configuration (book/_config.yml) set
# figure.dpi or InlineBackend options, so the PNG has 100 pixels per inch. The page shows one PNG pixel per CSS
# pixel, except that an image wider than the content column is scaled down to the column's width
# (max-width: 100 %); the widgets' PNGs (widgets.base.figure_png) are made at the same DPI, cropped the same way.
DPI = 100  #: pixels per inch of the PNG the book shows (matplotlib's figure.dpi under the inline backend)
#: Assumed width, in CSS pixels, of the content column of sphinx-book-theme 1.x (Jupyter Book 1) on a desktop
#: screen: an 88rem page less the primary and secondary sidebars and the article's 2rem padding on each side.
CONTENT_WIDTH_PX = 780
SCREEN_HEIGHT_PX = 900  #: the tallest a figure may be shown, in CSS pixels: about one screen
CSS_PX_PER_INCH = 96
MIN_TEXT_PT = 8  #: no text smaller than 8 pt as shown: 8/72 inch, 10.7 CSS pixels
MIN_TEXT_PX = MIN_TEXT_PT / 72 * CSS_PX_PER_INCH
PAD = 0.1  #: inches of padding that bbox_inches="tight" adds on each side
WIDTH = CONTENT_WIDTH_PX / DPI - 2 * PAD  #: 7.6 inches: the widest a figure's content may be and be shown unscaled
MAX_HEIGHT = SCREEN_HEIGHT_PX / DPI - 2 * PAD  #: 8.8 inches: the tallest a figure's content may be

# Font sizes in points. A figure at most WIDTH wide is shown unscaled, where 8 pt is 11.1 pixels: all of these
# are readable.
FONT_SMALL = 8  #: dense labels: image titles in grids, numbers in the cells of a matrix, row labels of montages
FONT = 9  #: tick labels, axis labels, legends, annotations
FONT_TITLE = 11  #: titles

_CELL = 0.9  # inches per image in a grid
_MIN_CELL = 0.75  # the smallest an image of a grid is made before the grid gets another row
_GAP = 0.35  # grey level of the lines between images in a montage
_MEASURE = RendererAgg(8, 8, 72)  # measures text (in points) before there is a figure


def display_scale(width_px: float) -> float:
    """The factor by which the book scales a PNG ``width_px`` pixels wide: 1, or less if it is wider than the
    content column."""
    return min(1.0, CONTENT_WIDTH_PX / width_px)


def displayed_size(fig, dpi: int = DPI) -> tuple[float, float, float]:
    """``(width, height, scale)``: the CSS pixels the book shows ``fig`` at, saved at ``dpi`` with
    ``bbox_inches="tight"``, and the factor by which the page scaled it down. A text of ``s`` points is shown
    ``s / 72 * dpi * scale`` pixels high."""
    width, height = content_size(fig)
    w_px, h_px = (width + 2 * PAD) * dpi, (height + 2 * PAD) * dpi
    scale = display_scale(w_px)
    return w_px * scale, h_px * scale, scale


def content_size(fig) -> tuple[float, float]:
    """Width and height in inches of what ``fig`` draws (the box that ``bbox_inches="tight"`` crops to)."""
    fig.draw_without_rendering()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    return box.width, box.height


def text_width(text: str, fontsize: float = FONT) -> float:
    """Width in inches of ``text`` (its longest line) at ``fontsize`` points, in matplotlib's default font."""
    prop = FontProperties(size=fontsize)
    return max(_MEASURE.get_text_width_height_descent(line, prop, ismath=False)[0]
               for line in str(text).split("\n")) / 72


def wrap(text: str, width: float, fontsize: float = FONT) -> str:
    """``text`` broken into lines at most ``width`` inches wide (at ``fontsize``; a single long word stays whole)."""
    chars = max(6, int(width * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(part, chars) for part in str(text).split("\n"))


def grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    """``(rows, cols)`` for ``n`` panels with at most ``max_cols`` per row, the rows as evenly filled as they can be
    (10 panels, at most 8 a row: 2 rows of 5, not 8 and 2)."""
    cols = max(1, min(n, max_cols))
    rows = math.ceil(n / cols)
    return rows, math.ceil(n / rows)


def columns_that_fit(cell: float, gap: float = 0.0, width: float = WIDTH) -> int:
    """How many panels ``cell`` inches wide, ``gap`` inches apart, fit in ``width`` inches (at least one)."""
    return max(1, int((width + gap) // (cell + gap)))


def finish(fig, tight: bool = True):
    """Lay ``fig`` out (``tight_layout`` unless ``tight`` is False, for a figure that places its axes itself or
    uses another layout engine), then make sure it fits the style: a figure whose content is wider than ``WIDTH``
    or taller than ``MAX_HEIGHT`` is shrunk (its panels, never its text) until it fits. Returns ``fig``."""
    for _ in range(5):
        if tight:
            fig.tight_layout(pad=0.4)
        width, height = content_size(fig)
        factor = min(WIDTH / width, MAX_HEIGHT / height)
        if factor >= 0.999:
            break
        fig.set_size_inches(fig.get_figwidth() * factor * 0.99, fig.get_figheight() * factor * 0.99)
    return fig


def style_axes(ax, fontsize: float = FONT) -> None:
    """The course's tick label size on ``ax`` (matplotlib's default, 10 pt, is fine too; this keeps them even)."""
    ax.tick_params(labelsize=fontsize)


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


def image_grid(n: int, cols: int, cell: float, title_lines: int = 0, fontsize: float = FONT_SMALL,
               gap: float = 0.08, top: float = 0.0):
    """A figure with ``n`` square axes ``cell`` inches wide, ``cols`` a row, placed exactly (no layout engine,
    which cannot place titles above images of fixed aspect without overlaps): room above each for a title of
    ``title_lines`` lines at ``fontsize`` and ``top`` inches above the grid (for a suptitle). Returns
    ``(fig, axes)``."""
    rows = math.ceil(n / cols)
    title_h = title_lines * fontsize * 1.25 / 72 + 0.1 if title_lines else 0.0
    width = cols * cell + (cols - 1) * gap
    height = top + rows * (title_h + cell) + (rows - 1) * gap
    fig = plt.figure(figsize=(width, height))
    axes = []
    for i in range(n):
        r, c = divmod(i, cols)
        x, y = c * (cell + gap), height - top - (r + 1) * (title_h + cell) - r * gap
        axes.append(fig.add_axes((x / width, y / height, cell / width, cell / height)))
    return fig, axes


def show_images(images, titles=None, ncols: int = 8, size: float = _CELL, fontsize: int = FONT_SMALL,
                title: str | None = None):
    """A grid of images (a tensor ``[B, ...]`` or a list), at most ``ncols`` per row, each with its title if given
    (wrapped to the image's width), under an optional overall ``title``.

    ``size``: inches per image, at most; a grid wider than the page gets smaller images (down to 0.75 inch), then
    fewer columns and more rows. ``fontsize`` is at least the style's minimum, 8 pt.
    """
    images = list(images)
    if not images:
        raise ValueError("no images to show")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    fontsize = max(fontsize, MIN_TEXT_PT)
    gap = 0.08
    ncols = min(max(1, ncols), columns_that_fit(min(size, _MIN_CELL), gap))
    _, ncols = grid_shape(len(images), ncols)
    cell = min(size, (WIDTH - gap * (ncols - 1)) / ncols)
    wrapped = None if titles is None else [wrap(str(t), cell, fontsize) for t in titles]
    lines = max(w.count("\n") + 1 for w in wrapped) if wrapped else 0
    heading = wrap(title, WIDTH, FONT_TITLE) if title else None
    top = (heading.count("\n") + 1) * FONT_TITLE * 1.3 / 72 + 0.1 if heading else 0.0
    fig, axes = image_grid(len(images), ncols, cell, lines, fontsize, gap, top)
    for i, ax in enumerate(axes):
        _draw(ax, images[i])
        if wrapped is not None:
            ax.set_title(wrapped[i], fontsize=fontsize)
    if heading:
        fig.suptitle(heading, fontsize=FONT_TITLE, y=1.0, va="top")
    return finish(fig, tight=False)


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
    labels = {a: wrap(a.replace("_", " "), 1.3, FONT) for a in chosen}
    label_width = max(text_width(t, FONT) for t in labels.values()) + 0.15
    cell = min(_CELL, (WIDTH - label_width) / ncols)
    fig, axes = plt.subplots(len(chosen), ncols, figsize=(cell * ncols + label_width, cell * len(chosen) + 0.4),
                             squeeze=False)
    for row, alphabet in zip(axes, chosen):
        classes = by_alphabet[alphabet]
        for j, ax in enumerate(row):
            if j < len(classes):
                _draw(ax, dataset.images[classes[j], 0])
            else:
                ax.axis("off")
        row[0].set_ylabel(labels[alphabet], rotation=0, ha="right", va="center", fontsize=FONT)
    fig.suptitle(f"{dataset.name}: {len(chosen)} of {len(names)} alphabets", fontsize=FONT_TITLE)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return finish(fig)


def _montage(images: torch.Tensor, rows: int) -> np.ndarray:
    """``[rows * cols, C, H, W]`` (row-major; C = 1 or 3) -> one ``[rows * (H+1) + 1, cols * (W+1) + 1]`` picture
    (with a last axis of 3 for colour)."""
    arrays = [_as_array(im) for im in images]
    h, w = arrays[0].shape[:2]
    cols = len(arrays) // rows
    out = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, *arrays[0].shape[2:]), _GAP, dtype=np.float32)
    for k, a in enumerate(arrays):
        r, c = divmod(k, cols)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = a
    return out


def _panel_title(text: str, panel_w: float, fontsize: float = FONT) -> str:
    """``text`` on one line, or, when it is wider than its panel (``panel_w`` inches), broken before its
    parenthesis: "support set (5-way 1-shot)" over a panel one image wide becomes two short lines."""
    head, sep, tail = text.partition(" (")
    return text if not sep or text_width(text, fontsize) <= panel_w else f"{head}\n({tail}"


def _overhang(text: str, panel_w: float, fontsize: float = FONT) -> float:
    """How far, in inches, a title centred over a panel ``panel_w`` wide reaches past each of its sides."""
    return max(0.0, (text_width(text, fontsize) - panel_w) / 2)


def _largest(high: float, fits) -> float:
    """The largest size in ``(0, high]`` for which ``fits(size)`` holds (``fits`` holds for every smaller size)."""
    if fits(high):
        return high
    low = 0.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def show_episode(episode, dataset=None, cell: float | None = None):
    """The support set (one row per class, labelled) and the query set of an ``Episode``, side by side, or the
    query set under the support set when side by side would make the images too small.

    With the ``dataset`` the episode came from, each support row also names its class (by its readable name,
    ``info["names"]``, where the set has one). Greyscale or colour episodes. ``cell``: inches per
    image, at most (default 0.45); the figure fits the page whatever the episode's size.

    The panels' titles never overlap each other or leave the figure: a title wider than its panel (the support
    set's at 1 or 2 shots) is broken into two lines, and the space between the panels (and at the figure's
    edges) grows by whatever a title still reaches past its panel.
    """
    way, shot, n_query = episode.way, episode.shot, episode.n_query
    size = episode.support.shape[-1]
    names = [f"label {i}" for i in range(way)]
    if dataset is not None:
        readable = dataset.info.get("names", dataset.class_names)  # mini-ImageNet: names, not WordNet ids
        names = [f"{i}: {readable[int(c)]}" for i, c in enumerate(episode.classes)]
    query_names = [f"label {i}" for i in range(way)]
    most = 0.45 if cell is None else cell
    label_w = max(text_width(n, FONT_SMALL) for n in names) + 0.1  # the row labels and the tick padding
    qlabel_w = max(text_width(n, FONT_SMALL) for n in query_names) + 0.1
    gap, margin, clearance = 0.25, 0.05, 0.1  # clearance: the least space between two titles

    def titles(c):
        """The two titles for images ``c`` inches wide, and how far each reaches past its panel on each side."""
        s_title = _panel_title(f"support set ({way}-way {shot}-shot)", c * shot)
        q_title = _panel_title("query set", c * n_query)
        return s_title, q_title, _overhang(s_title, c * shot), _overhang(q_title, c * n_query)

    def title_h(*texts):
        return 0.32 + max(t.count("\n") for t in texts) * FONT * 1.2 / 72

    def side_layout(c):
        s_title, q_title, s_over, q_over = titles(c)
        left, right = max(label_w, s_over), max(qlabel_w, q_over)
        between = max(gap, s_over + q_over + clearance)
        width = left + c * shot + between + c * n_query + right
        th = title_h(s_title, q_title)
        height = th + c * way + margin
        boxes = ((left, margin, c * shot, c * way), (left + c * shot + between, margin, c * n_query, c * way))
        return width, height, boxes, (s_title, q_title)

    def stack_layout(c):
        s_title, q_title, s_over, q_over = titles(c)
        s_left, q_left = max(label_w, s_over), max(qlabel_w, q_over)
        width = max(s_left + c * shot + s_over, q_left + c * n_query + q_over)
        s_th, q_th = title_h(s_title), title_h(q_title)
        height = s_th + 2 * c * way + gap + q_th + margin
        boxes = ((s_left, height - s_th - c * way, c * shot, c * way), (q_left, margin, c * n_query, c * way))
        return width, height, boxes, (s_title, q_title)

    def fits(layout):
        return lambda c: all(v <= limit + 1e-9 for v, limit in zip(layout(c)[:2], (WIDTH, MAX_HEIGHT)))

    side_cell = _largest(most, fits(side_layout))
    stack_cell = _largest(most, fits(stack_layout))
    side = side_cell >= 0.8 * stack_cell
    width, height, boxes, panel_titles = (side_layout(side_cell) if side else stack_layout(stack_cell))
    fig = plt.figure(figsize=(width, height))
    ax_s, ax_q = (fig.add_axes((x / width, y / height, w / width, h / height)) for x, y, w, h in boxes)
    ticks = [1 + r * (size + 1) + size / 2 for r in range(way)]
    for ax, images, title, labels in [
        (ax_s, episode.support, panel_titles[0], names),
        (ax_q, episode.query, panel_titles[1], query_names),
    ]:
        ax.imshow(_montage(images, way), cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_title(title, fontsize=FONT)
        ax.set_xticks([])
        ax.set_yticks(ticks, labels, fontsize=FONT_SMALL)
    if side:
        ax_q.yaxis.tick_right()
    return finish(fig, tight=False)


def _panel(key: str) -> str:
    for suffix in ("loss", "accuracy"):
        if key.endswith(suffix):
            return suffix
    return key


def _thousands(value: float, _=None) -> str:
    """A tick label for a count: 2500 -> "2.5k", 15000 -> "15k"."""
    return f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}"


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
    rows, cols = grid_shape(len(panels), 2)
    fig, axes = plt.subplots(rows, cols, figsize=(min(WIDTH, 4.2 * cols), 3.1 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.remove()
    for ax, (panel, ks) in zip(axes.flat, panels.items()):
        for k in ks:
            points = [(h["step"], h[k]) for h in history if h.get(k) is not None]
            ax.plot(*zip(*points), label=k.replace("_", " "), marker="." if len(points) < 30 else None)
        for i, h in enumerate(h for h in history if str(h.get("note", "")).startswith(STAGE_START)):
            ax.axvline(h["step"], color="grey", linestyle="--", linewidth=1,
                       label="a continued stage starts" if i == 0 else None)
        ax.set_xlabel("step", fontsize=FONT)
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel("accuracy (%)" if panel == "accuracy" else panel, fontsize=FONT)
        style_axes(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT)
    return finish(fig)


def _nice_floor(value: float, span: float) -> float:
    """``value`` rounded down to a round number, on a step that suits a range of ``span``."""
    step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if span / s <= 5)
    return math.floor(value / step) * step


def _break_marks(ax) -> None:
    """Two short slanted strokes across the bottom of the y axis: the axis does not start at 0."""
    kw = {"transform": ax.transAxes, "color": "k", "clip_on": False, "linewidth": 1}
    for dy in (0.0, 0.025):  # above the lowest tick label
        ax.plot([-0.018, 0.018], [0.055 + dy, 0.08 + dy], **kw)


def plot_accuracy_bars(results: dict, title: str | None = None, chance: dict | None = None):
    """Mean accuracy per name with its 95% interval as error bars (``results``: name -> ``EvalResult`` or any
    object with ``mean`` and ``ci95`` in %), the value written above each bar.

    The axis is zoomed to the data (means, intervals and chance marks), so that differences of a fraction of a
    point show; when it does not start at 0 the figure says so (a note and a break mark on the axis).
    ``chance``: optional name -> chance accuracy in %, drawn as a dashed mark on each bar.
    """
    names = list(results)
    means = [results[n].mean for n in names]
    cis = [results[n].ci95 if results[n].ci95 == results[n].ci95 else 0.0 for n in names]
    marks = [v for n, v in (chance or {}).items() if n in results]
    low = min([m - c for m, c in zip(means, cis)] + marks)
    high = max(m + c for m, c in zip(means, cis))
    span = max(high - low, 0.5)
    bottom = _nice_floor(low - 0.3 * span, span)
    if bottom <= 0.4 * high:  # zooming would not show much more: start at 0
        bottom = 0.0
    top = high + 0.22 * (high - bottom)  # room for the values above the bars
    width = min(WIDTH, 1.25 * len(names) + 1.6)
    fig, ax = plt.subplots(figsize=(width, 3.6))
    x = np.arange(len(names))
    ax.bar(x, means, yerr=cis, capsize=6, color="tab:blue", alpha=0.8)
    for xi, n, m, ci in zip(x, names, means, cis):
        ax.text(xi, m + ci + 0.03 * (top - bottom), str(results[n]), ha="center", va="bottom", fontsize=FONT)
        if chance and n in chance:
            ax.hlines(chance[n], xi - 0.4, xi + 0.4, colors="k", linestyles="dashed", label="chance")
    per_bar = (width - 1.0) / max(len(names), 1)
    ax.set_xticks(x, [wrap(n, per_bar - 0.1, FONT) for n in names], fontsize=FONT)
    ax.set_ylim(bottom, top)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "" if v > 100.001 else f"{v:g}"))
    style_axes(ax)
    ax.set_ylabel("accuracy (%)", fontsize=FONT)
    if bottom > 0:
        _break_marks(ax)
        ax.text(0.01, 0.98, f"the axis starts at {bottom:g} %, not 0", transform=ax.transAxes, ha="left",
                va="top", fontsize=FONT, style="italic", color="0.3")
    if chance:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:1], labels[:1], loc="upper right", fontsize=FONT)
    if title:
        ax.set_title(wrap(title, width, FONT_TITLE), fontsize=FONT_TITLE)
    return finish(fig)


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
    ax.set_xlabel("first principal component", fontsize=FONT)
    ax.set_ylabel("second principal component", fontsize=FONT)
    ax.legend(loc="best", fontsize=FONT)
    if title:
        ax.set_title(wrap(title, 5.5, FONT_TITLE), fontsize=FONT_TITLE)
    return finish(fig)


def show_mistakes(episode, scores: torch.Tensor, max_rows: int = 6, per_row: int | None = None):
    """Misclassified queries (a variety of true classes first), at most ``max_rows`` of them, laid out as a grid
    of ``per_row`` mistakes a row (default: as many as fit): each mistake shows the query, a support image of its
    true class (green title) and one of the class it was given (red title)."""
    predicted = scores.argmax(1)
    wrong = (predicted != episode.query_labels).nonzero().flatten().tolist()
    # one mistake of each true class first, then a second of each, ...: a variety of mistakes, not one class's
    rank = {i: sum(int(episode.query_labels[j] == episode.query_labels[i]) for j in wrong[:n]) for n, i in enumerate(wrong)}
    n_wrong, n_query = len(wrong), len(predicted)
    wrong = sorted(wrong, key=lambda i: (rank[i], i))[:max_rows]
    if not wrong:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "no query was misclassified", ha="center", va="center", fontsize=FONT)
        ax.axis("off")
        return fig
    first = {int(k): i for i, k in reversed(list(enumerate(episode.support_labels.tolist())))}
    cell, spacer = 1.0, 0.35  # inches per image; between two mistakes
    per_row = per_row or columns_that_fit(3 * cell + 0.2, spacer)
    rows, cols = grid_shape(len(wrong), per_row)
    fig = plt.figure(figsize=(cols * (3 * cell + 0.2) + (cols - 1) * spacer, rows * (cell + 0.35) + 0.45))
    ratios = ([1, 1, 1, spacer / cell] * cols)[:-1]
    grid = fig.add_gridspec(rows, len(ratios), width_ratios=ratios)
    for k, i in enumerate(wrong):
        r, g = divmod(k, cols)
        true, pred = int(episode.query_labels[i]), int(predicted[i])
        for j, (image, title, colour) in enumerate([
            (episode.query[i], f"query (true {true})", "k"),
            (episode.support[first[true]], f"support of {true}", "tab:green"),
            (episode.support[first[pred]], f"given: {pred}", "tab:red"),
        ]):
            ax = fig.add_subplot(grid[r, 4 * g + j])
            _draw(ax, image)
            ax.set_title(title, fontsize=FONT_SMALL, color=colour)
    shown = f"all {n_wrong}" if len(wrong) == n_wrong else f"{len(wrong)} of the {n_wrong}"
    fig.suptitle(f"{shown} misclassified queries (of {n_query}): the query, its true class, the class it was given",
                 fontsize=FONT)
    return finish(fig)


def show_attention(episode, attention: torch.Tensor, queries=(0,), top: int | None = None,
                   per_row: int | None = None):
    """Matching Networks' attention: for each chosen query, its image and then the support images with the
    attention weight each receives (bar under each image; the true class's images in green).

    ``attention``: ``[n_query, n_support]``, rows summing to one. ``top``: only the ``top`` support images with the
    largest weights. More support images than fit a row (``per_row``, default: as many as fit) wrap onto more rows.
    """
    queries = list(queries)
    n_support = attention.shape[1]
    order = list(range(n_support))
    cols = n_support if top is None else min(top, n_support)
    per_row = min(cols, per_row or columns_that_fit(0.62) - 1)  # images of at least 0.62 inch, the query's first
    lines = math.ceil(cols / per_row)  # rows of support images per query
    cell = min(0.8, WIDTH / (per_row + 1))
    n_rows = len(queries) * lines
    fig = plt.figure(figsize=(cell * (per_row + 1), n_rows * (cell + 0.4 + 0.5) + 0.3), layout="constrained")
    outer = fig.add_gridspec(n_rows, 1)
    grids = [outer[k].subgridspec(2, per_row + 1, height_ratios=[cell, 0.4]) for k in range(n_rows)]
    for r, qi in enumerate(queries):
        weights = attention[qi].detach().cpu()
        if top is not None:
            order = weights.argsort(descending=True)[:cols].tolist()
        true = int(episode.query_labels[qi])
        ax = fig.add_subplot(grids[r * lines][0, 0])
        _draw(ax, episode.query[qi])
        ax.set_title(f"query\n(class {true})", fontsize=FONT_SMALL)
        top_w = float(weights.max())
        for c, si in enumerate(order):
            line, col = divmod(c, per_row)
            grid = grids[r * lines + line]
            label = int(episode.support_labels[si])
            img_ax = fig.add_subplot(grid[0, col + 1])
            _draw(img_ax, episode.support[si])
            img_ax.set_title(f"class {label}", fontsize=FONT_SMALL, color="tab:green" if label == true else "k")
            w = float(weights[si])
            bar_ax = fig.add_subplot(grid[1, col + 1])
            bar_ax.bar([0], [w], color="tab:green" if label == true else "tab:grey", width=0.6)
            bar_ax.set_ylim(0, top_w * 1.15)
            bar_ax.set_xlim(-0.6, 0.6)
            bar_ax.set_xticks([])
            bar_ax.set_yticks([])
            bar_ax.set_xlabel(f"{w:.2f}", fontsize=FONT_SMALL)
            for side in ("top", "right", "left"):
                bar_ax.spines[side].set_visible(False)
    fig.suptitle("attention weights over the support set (green: the query's true class)", fontsize=FONT)
    return finish(fig, tight=False)


def plot_score_matrix(scores: torch.Tensor, query_labels: torch.Tensor, title: str | None = None,
                      vmin: float | None = 0.0, vmax: float | None = 1.0):
    """A heat map of ``scores`` ``[n_query, way]`` (queries sorted by class, one band per class), with each
    query's argmax marked: a white dot in its own class's column is right, a red cross elsewhere is wrong.

    However many queries, the map is at most 5.5 inches tall (a 20-way episode with 15 queries per class has 300
    rows: thin ones)."""
    order = query_labels.argsort(stable=True)
    s = scores[order].detach().cpu().numpy()
    labels = query_labels[order].cpu().numpy()
    n, way = s.shape
    map_h = min(5.5, max(1.6, 0.12 * n))
    fig, ax = plt.subplots(figsize=(min(WIDTH, 0.28 * way + 2.6), map_h + 1.4), layout="constrained")
    im = ax.imshow(s, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    pred = s.argmax(1)
    right = pred == labels
    rows = np.arange(n)
    row_pt = map_h * 72 / n  # points per query row
    dot = float(np.clip((0.55 * row_pt) ** 2, 3, 30))
    ax.scatter(pred[right], rows[right], s=dot, facecolors="white", edgecolors="black",
               linewidths=0.5 if row_pt >= 5 else 0, marker="o", label="chosen (right)")
    ax.scatter(pred[~right], rows[~right], s=max(2 * dot, 30), c="red", marker="x", linewidths=1.5,
               label="chosen (wrong)")
    classes, starts = np.unique(labels, return_index=True)
    ends = np.append(starts[1:], n)
    for b in starts[1:]:
        ax.axhline(b - 0.5, color="white", linewidth=0.6, alpha=0.6)
    ax.set_yticks((starts + ends - 1) / 2, [str(int(c)) for c in classes], fontsize=FONT_SMALL)
    ax.set_xticks(range(way), [str(k) for k in range(way)], fontsize=FONT_SMALL)
    ax.set_xlabel("support class", fontsize=FONT)
    ax.set_ylabel(f"query ({n}, grouped by true class)", fontsize=FONT)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("score", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black", markersize=7),
               Line2D([], [], marker="x", linestyle="", color="red", markersize=7, markeredgewidth=1.5)]
    fig.legend(handles, ["chosen (right)", "chosen (wrong)"], loc="outside lower center", ncol=2, fontsize=FONT,
               frameon=False)
    if title:
        ax.set_title(wrap(title, WIDTH, FONT_TITLE), fontsize=FONT_TITLE)
    return finish(fig, tight=False)


def _spread(values: list[float], gap: float, low: float = 0.0, high: float = 1.0) -> list[float]:
    """Positions as near ``values`` (sorted) as they can be while at least ``gap`` apart, within [low, high]."""
    out = list(values)
    for _ in range(50):
        for i in range(1, len(out)):
            out[i] = max(out[i], out[i - 1] + gap)
        out[-1] = min(out[-1], high)
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
        out[0] = max(out[0], low)
    return out


def plot_showdown(record: dict):
    """The showdown (``fsl_course.evaluation.showdown``): one panel per setting (a grid of two a row), each
    method's accuracy with its 95% interval (the paper's number as an open diamond), and below, accuracy at the
    first setting against the milliseconds per test episode (logarithmic), the marker's area growing with the
    number of parameters, each point named in a column beside the plot."""
    rows, settings = record["rows"], record["settings"]
    labels = [row["label"] for row in rows]
    n_cols = 2
    grid_rows = math.ceil(len(settings) / n_cols)
    panel_h = 0.17 * len(rows) + 0.55
    cost_h = 3.0
    fig = plt.figure(figsize=(WIDTH, grid_rows * panel_h + cost_h + 0.9), layout="constrained")
    fig_top, fig_bottom = fig.subfigures(2, 1, height_ratios=[grid_rows * panel_h + 0.35, cost_h + 0.45])
    axes = fig_top.subplots(grid_rows, n_cols, squeeze=False)
    y = np.arange(len(rows))[::-1]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ax in enumerate(axes.flat):
        if i >= len(settings):
            ax.remove()
            continue
        setting = settings[i]
        lows = []
        for yi, row, colour in zip(y, rows, colours * 3):
            r = row["results"].get(setting)
            if r:
                ax.errorbar(r["accuracy"], yi, xerr=r["ci95"], fmt="o", color=colour, capsize=3, markersize=4)
                lows.append(r["accuracy"] - r["ci95"])
            paper = record["papers"].get(row["method"])
            if paper and r:
                ax.scatter(paper[setting], yi, marker="D", facecolors="none", edgecolors=colour, zorder=3, s=25)
        ax.set_yticks(y, labels if i % n_cols == 0 else [""] * len(rows), fontsize=FONT_SMALL)
        ax.tick_params(axis="y", length=0 if i % n_cols else 3.5)
        ax.tick_params(axis="x", labelsize=FONT_SMALL)
        ax.set_xlim(min(lows, default=90) - 0.5, 100.15)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "" if v > 100.001 else f"{v:g}"))
        ax.set_title(setting, fontsize=FONT)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("accuracy (%)", fontsize=FONT_SMALL)
    handles = [Line2D([], [], marker="o", color="0.3", linestyle="", markersize=4),
               Line2D([], [], marker="D", markerfacecolor="none", markeredgecolor="0.3", linestyle="", markersize=5)]
    fig_top.legend(handles, ["this course (95 % interval)", "the paper's number"], loc="outside upper center", ncol=2,
               fontsize=FONT_SMALL, frameon=False)
    ax = fig_bottom.subplots()
    first = settings[0]
    points = []
    for row, colour in zip(rows, colours * 3):
        r, ms = row["results"].get(first), row.get("ms_per_episode", {}).get(first)
        if r and ms:
            ax.scatter(ms, r["accuracy"], s=20 + row["parameters"] / 2000, color=colour, alpha=0.7)
            points.append((ms, r["accuracy"], row["label"], colour))
    ax.set_xscale("log")
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.set_xlim(min(xs) / 1.25, max(xs) * 1.25)
        pad = 0.1 * (max(ys) - min(ys) + 0.2)
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    # each point's name in a column to the right of the plot, joined to its point, never overlapping another
    ax_h = cost_h - 0.7
    bottom_y, top_y = ax.get_ylim()
    fracs = [(p[1] - bottom_y) / (top_y - bottom_y) for p in points]
    order = sorted(range(len(points)), key=lambda k: fracs[k])
    placed = _spread([fracs[k] for k in order], FONT_SMALL * 1.45 / 72 / ax_h, 0.0, 1.0)
    for k, yf in zip(order, placed):
        ms, acc, label, colour = points[k]
        ax.annotate(label, (ms, acc), xytext=(1.04, yf), textcoords="axes fraction", fontsize=FONT_SMALL,
                    va="center", ha="left", annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.7, "shrinkA": 0, "shrinkB": 4})
    ax.set_xlabel(f"milliseconds per {first} test episode (log scale; all timed in one run)", fontsize=FONT)
    ax.set_ylabel(f"{first} accuracy (%)", fontsize=FONT)
    ax.set_title("cost and accuracy (marker area: number of parameters)", fontsize=FONT)
    style_axes(ax, FONT_SMALL)
    ax.grid(alpha=0.3)
    return finish(fig, tight=False)


# --- Idea figures: the cartoons that open the method chapters ------------------------------------------------------


def plot_maml_idea():
    """MAML's two loops as a picture (notebook 03): three tasks, each with its own optimum; the inner loop steps
    from theta towards each (along that task's support gradient); the outer loop moves theta so that those steps
    land well."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    theta = np.array([0.0, 0.0])
    optima = np.array([[2.2, 1.4], [-1.8, 1.9], [0.4, -2.1]])
    new_theta = theta + np.array([0.25, 0.45])
    for i, opt in enumerate(optima):
        adapted = theta + 0.6 * (opt - theta)
        ax.annotate("", adapted, theta, arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1.8})
        ax.plot(*opt, marker="*", ms=14, color="tab:red")
        ax.text(opt[0] + 0.12, opt[1] + 0.1, rf"$\theta^*_{i + 1}$", fontsize=12)
        ax.plot(*adapted, "o", color="tab:blue")
        ax.text(adapted[0] + 0.1, adapted[1] - 0.35, rf"$\theta'_{i + 1}$", fontsize=12, color="tab:blue")
    ax.annotate("", new_theta, theta, arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2.5})
    ax.plot(*theta, "ko", ms=9)
    ax.text(-0.55, -0.45, r"$\theta$", fontsize=14)
    ax.text(0.35, 0.6, "outer step", fontsize=FONT)
    ax.text(-2.9, -2.7, "red: each task's own optimum\nblue: inner loop (support set)\n"
            "black: outer loop (query losses of all tasks)", fontsize=FONT, va="bottom")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-2.8, 2.6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("MAML: an initialisation a few steps away from every task's solution", fontsize=FONT_TITLE)
    return finish(fig)


def plot_prototype_idea():
    """Prototypical Networks as a picture (notebook 05): support embeddings of three classes in a 2-D
    embedding space, each class's prototype (the mean of its support embeddings), a query's distances to the
    prototypes, and the regions of the plane nearest each prototype, which straight lines separate."""
    colours = ["tab:blue", "tab:orange", "tab:green"]
    support = [np.array(points) for points in ([[-2.3, 1.3], [-1.3, 1.4], [-1.6, -0.2]],
                                               [[1.0, 2.2], [2.4, 1.7], [1.4, 0.5]],
                                               [[-0.4, -1.9], [0.9, -2.3], [0.5, -0.8]])]
    protos = np.array([s.mean(0) for s in support])
    query = np.array([0.35, 0.25])
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    xs, ys = np.meshgrid(np.linspace(-3.4, 3.4, 400), np.linspace(-3.0, 3.0, 400))
    nearest = np.argmin(((np.stack([xs, ys], -1)[:, :, None, :] - protos) ** 2).sum(-1), -1)
    ax.contourf(xs, ys, nearest, levels=[-0.5, 0.5, 1.5, 2.5], colors=colours, alpha=0.12)
    ax.contour(xs, ys, nearest, levels=[0.5, 1.5], colors="0.35", linewidths=1, linestyles="dotted")
    d = ((protos - query) ** 2).sum(1)
    best = int(d.argmin())
    for k, (s, p, colour) in enumerate(zip(support, protos, colours)):
        for point in s:
            ax.plot(*zip(point, p), color=colour, linewidth=0.8, alpha=0.6)
        ax.scatter(s[:, 0], s[:, 1], marker="s", s=55, color=colour, edgecolors="k")
        ax.scatter(*p, marker="*", s=420, color=colour, edgecolors="k", zorder=3)
        ax.text(p[0] + 0.18, p[1] + 0.18, f"$c_{k + 1}$", fontsize=12)
        ax.plot(*zip(query, p), color="k", linestyle="-" if k == best else "--", linewidth=1.6 if k == best else 0.9)
        mid = (query + p) / 2
        ax.text(mid[0], mid[1], f"{d[k]:.1f}", fontsize=FONT, ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.scatter(*query, marker="o", s=90, color="white", edgecolors="k", linewidths=1.5, zorder=4)
    ax.text(query[0] + 0.15, query[1] - 0.35, "query", fontsize=FONT)
    ax.set_xlim(-3.4, 3.4)
    ax.set_ylim(-3.0, 3.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("embedding space (2 of its 64 dimensions)", fontsize=FONT)
    handles = [Line2D([], [], marker="s", linestyle="", color="0.6", markeredgecolor="k", markersize=7),
               Line2D([], [], marker="*", linestyle="", color="0.6", markeredgecolor="k", markersize=15),
               Line2D([], [], marker="o", linestyle="", color="white", markeredgecolor="k", markersize=8)]
    ax.legend(handles, ["support embeddings $f_\\phi(x_i)$", "prototypes $c_k$: the\nmeans of their class",
                        "a query $f_\\phi(x)$"], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT,
              frameon=False)
    ax.text(1.03, 0.42, wrap("numbers: squared distances from the query; it takes the class of the nearest "
                             "prototype (solid line).\n\nShading: the region nearest each prototype; dotted "
                             "lines, straight, separate them.", 1.9, FONT),
            transform=ax.transAxes, fontsize=FONT, va="top", ha="left")
    ax.set_title("Prototypical Networks: one prototype per class, the nearest one wins", fontsize=FONT_TITLE)
    return finish(fig)


def _box(ax, x, y, w, h, text, colour, fontsize=FONT, **kw):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=colour,
                                edgecolor="0.25", linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize, **kw)


def _arrow(ax, start, end, **kw):
    ax.annotate("", end, start, arrowprops={"arrowstyle": "-|>", "color": "0.2", "lw": 1.3, **kw})


def _feature_map(ax, x, y, colour, label=None, depth=3):
    """A feature map as a few stacked squares (channels), its label under it."""
    from matplotlib.patches import Rectangle

    for k in range(depth):
        ax.add_patch(Rectangle((x + 0.07 * k, y + 0.07 * k), 0.42, 0.42, facecolor=colour, edgecolor="0.25",
                               linewidth=0.8))
    if label:
        ax.text(x + 0.28, y - 0.12, label, ha="center", va="top", fontsize=FONT_SMALL)


def plot_relation_architecture(support=None, query=None):
    """The Relation Network (notebook 06) as a diagram: the embedding module f embeds the support images of a
    class and the query; the class's feature maps are summed, concatenated with the query's along the channels,
    and the relation module g turns the pair into a relation score in [0, 1].

    ``support``: a few images of one class, and ``query`` one image, to draw at the inputs (optional: without
    them, boxes stand for the images)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.1))
    ax.set_xlim(0, 10.6)
    ax.set_ylim(0.1, 4.0)
    ax.set_aspect("equal")
    ax.axis("off")
    f_colour, g_colour, s_colour, q_colour = "#cfe2f3", "#fce5cd", "#9fc5e8", "#b6d7a8"
    # inputs: the support images of class k (top) and the query (bottom)
    support = list(support) if support is not None else [None] * 3
    for i, image in enumerate(support[:3]):
        x0 = 0.05 + 0.5 * i
        if image is None:
            _box(ax, x0, 3.15, 0.45, 0.45, "", "white")
        else:
            ax.imshow(_as_array(image), cmap="gray", vmin=0, vmax=1, extent=(x0, x0 + 0.45, 3.15, 3.6))
    ax.text(0.78, 3.0, "support images\nof class $k$", ha="center", va="top", fontsize=FONT)
    if query is None:
        _box(ax, 0.3, 0.7, 0.8, 0.8, "", "white")
    else:
        ax.imshow(_as_array(query), cmap="gray", vmin=0, vmax=1, extent=(0.3, 1.1, 0.7, 1.5))
    ax.text(0.7, 0.55, "query $x_j$", ha="center", va="top", fontsize=FONT)
    # the embedding module, shared by both
    _box(ax, 1.9, 2.95, 1.3, 0.9, "$f_\\varphi$\nembedding", f_colour)
    _box(ax, 1.9, 0.65, 1.3, 0.9, "$f_\\varphi$\nembedding", f_colour)
    ax.plot([2.55, 2.55], [1.6, 2.9], color="0.4", linestyle=":", linewidth=1)
    ax.text(2.62, 2.25, "same\nweights", fontsize=FONT_SMALL, va="center", color="0.3")
    _arrow(ax, (1.45, 3.4), (1.88, 3.4))
    _arrow(ax, (1.15, 1.1), (1.88, 1.1))
    # feature maps: the class's summed, the query's
    _feature_map(ax, 3.75, 3.1, s_colour, "$s_k = \\Sigma_i\\, f_\\varphi(x_i)$\n64×7×7")
    _feature_map(ax, 3.75, 0.8, q_colour, "$f_\\varphi(x_j)$\n64×7×7")
    _arrow(ax, (3.22, 3.4), (3.72, 3.4))
    _arrow(ax, (3.22, 1.1), (3.72, 1.1))
    # concatenation along the channels
    _feature_map(ax, 5.45, 2.05, s_colour, depth=2)
    _feature_map(ax, 5.59, 1.75, q_colour, depth=2)
    ax.text(5.85, 1.6, "concatenated:\n$\\mathcal{C}(s_k, f_\\varphi(x_j))$\n128×7×7", ha="center", va="top",
            fontsize=FONT_SMALL)
    _arrow(ax, (4.45, 3.35), (5.45, 2.6))
    _arrow(ax, (4.45, 1.15), (5.55, 1.85))
    # the relation module and the score
    _box(ax, 6.8, 1.7, 1.5, 1.05, "$g_\\phi$ relation\nmodule", g_colour)
    ax.text(7.55, 1.55, "2 conv blocks,\nFC 64-8-1, sigmoid", ha="center", va="top", fontsize=FONT_SMALL)
    _arrow(ax, (6.25, 2.22), (6.78, 2.22))
    _arrow(ax, (8.32, 2.22), (8.85, 2.22))
    ax.text(9.7, 2.22, "relation score\n$r_{k,j} \\in [0, 1]$", ha="center", va="center", fontsize=FONT,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.25"})
    ax.text(9.7, 1.35, "high: $x_j$ is of\nclass $k$", ha="center", va="top", fontsize=FONT_SMALL, color="0.3")
    ax.set_title("Relation Networks: a learned comparison of each class with each query", fontsize=FONT_TITLE)
    return finish(fig)
