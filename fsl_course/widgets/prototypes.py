"""The prototype explorer (notebook 05): an episode's embeddings in 2-D with its prototypes."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from fsl_course.episodes import check_request
from fsl_course.viz import FONT, FONT_TITLE, WIDTH, finish, project_2d, wrap
from fsl_course.widgets.base import Explorer, _slider


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
    fig, ax = plt.subplots(figsize=(5.4, 4.5))
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
    ax.set_xlabel("first principal component", fontsize=FONT)
    ax.set_ylabel("second principal component", fontsize=FONT)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=FONT)
    ax.set_title(wrap(title or f"{view.way}-way {view.shot}-shot: {view.accuracy:.0f} % of "
                      f"{len(view.query_labels)} queries nearest their own prototype", WIDTH, FONT_TITLE),
                 fontsize=FONT_TITLE)
    return finish(fig)


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
