"""N-way K-shot episodes: the unit of few-shot learning and evaluation.

An episode picks N classes, K labelled *support* images and Q *query* images of each; the model sees the
support set and must label the queries. Invariants (checked by the tests):

* the N classes are distinct; support and query images of a class are distinct drawings;
* labels are 0..N-1, assigned to the classes in a random order in every episode;
* the sampler works on indices and gathers from the in-memory uint8 tensor: no image is decoded.

``EpisodeSampler`` draws an endless stream (training); ``EpisodeSet`` is a fixed list of episodes from a
seed, identical in any process, so every method is evaluated on the very same episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fsl_course.data.images import to_float
from fsl_course.data.dataset import FewShotDataset


@dataclass
class Episode:
    """One N-way K-shot task. Support and query are grouped by label (label 0 first)."""

    support: torch.Tensor  # [N*K, C, H, W] float in [0, 1] (C = 1 grey, 3 RGB)
    support_labels: torch.Tensor  # [N*K] long in 0..N-1
    query: torch.Tensor  # [N*Q, C, H, W]
    query_labels: torch.Tensor  # [N*Q]
    classes: torch.Tensor  # [N] the data set's class index behind label 0..N-1
    items: torch.Tensor  # [N, K+Q] which images of each class (first K support, then Q query)

    @property
    def way(self) -> int:
        return len(self.classes)

    @property
    def shot(self) -> int:
        return len(self.support_labels) // self.way

    @property
    def n_query(self) -> int:
        return len(self.query_labels) // self.way

    def to(self, device) -> "Episode":
        """The episode's tensors on ``device``. From the CPU to a GPU they go through pinned memory, copied
        asynchronously (the episode's gather already ran on the GPU when its data set lives there)."""
        device = torch.device(device)
        pin = device.type == "cuda" and self.support.device.type == "cpu"

        def move(t: torch.Tensor) -> torch.Tensor:
            return t.pin_memory().to(device, non_blocking=True) if pin else t.to(device)

        return Episode(move(self.support), move(self.support_labels), move(self.query), move(self.query_labels),
                       self.classes, self.items)


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive whole number, got {v!r}")


def check_request(dataset: FewShotDataset, way: int, shot: int, query: int) -> None:
    """Raise ``ValueError`` stating the limit when ``dataset`` cannot give ``way``-way ``shot``-shot episodes."""
    _check_positive(way=way, shot=shot, query=query)
    if way > dataset.n_classes:
        raise ValueError(f"way={way} asks for more classes than {dataset.name!r} has: it has "
                         f"{dataset.n_classes} classes, so way must be at most {dataset.n_classes}")
    counts = dataset.class_counts()
    if shot + query > int(counts.min()):
        if dataset.counts is None:
            raise ValueError(f"shot + query = {shot} + {query} = {shot + query} images per class, but each class "
                             f"of {dataset.name!r} has only {dataset.n_per_class}: shot + query must be at most "
                             f"{dataset.n_per_class}")
        short = [f"{dataset.class_names[c]!r} ({int(counts[c])})" for c in range(dataset.n_classes)
                 if counts[c] < shot + query]
        raise ValueError(f"shot + query = {shot} + {query} = {shot + query} images per class, but in "
                         f"{dataset.name!r} {len(short)} class(es) have fewer: {', '.join(short)}; add images to "
                         f"them, or ask for shot + query of at most {int(counts.min())}")


def draw_indices(dataset: FewShotDataset, way: int, shot: int, query: int, n: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``n`` episodes: classes ``[n, way]`` and items ``[n, way, shot + query]``."""
    classes = torch.rand(n, dataset.n_classes, generator=generator).argsort(dim=1)[:, :way]
    keys = torch.rand(n, way, dataset.n_per_class, generator=generator)
    if dataset.counts is not None:  # a class with fewer images: its padding slots sort last, never drawn
        keys = keys.masked_fill(torch.arange(dataset.n_per_class) >= dataset.counts[classes][..., None], 2.0)
    items = keys.argsort(dim=2)[:, :, :shot + query]
    return classes, items


def make_episode(dataset: FewShotDataset, classes: torch.Tensor, items: torch.Tensor, shot: int) -> Episode:
    """Gather the episode with label ``i`` = ``classes[i]`` and images ``items[i]`` (first ``shot`` support)."""
    way, per = items.shape
    rows = classes[:, None]
    labels = torch.arange(way)[:, None].expand(way, per)
    return Episode(  # support and query gathered apart, so each is contiguous with no further copy
        support=to_float(dataset.pick(rows, items[:, :shot]).flatten(0, 1)),  # [N*K, C, H, W]
        support_labels=labels[:, :shot].reshape(-1),
        query=to_float(dataset.pick(rows, items[:, shot:]).flatten(0, 1)),
        query_labels=labels[:, shot:].reshape(-1),
        classes=classes,
        items=items,
    )


class EpisodeSampler:
    """An endless stream of random ``way``-way ``shot``-shot episodes with ``query`` queries per class."""

    def __init__(self, dataset: FewShotDataset, way: int, shot: int, query: int, seed: int | None = None):
        check_request(dataset, way, shot, query)
        self.dataset, self.way, self.shot, self.query = dataset, way, shot, query
        self.generator = torch.Generator()
        self.generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ()).item()))

    def sample(self) -> Episode:
        classes, items = draw_indices(self.dataset, self.way, self.shot, self.query, 1, self.generator)
        return make_episode(self.dataset, classes[0], items[0], self.shot)

    def __iter__(self):
        while True:
            yield self.sample()

    def state(self) -> torch.Tensor:
        """The random state, to resume the same stream after an interruption."""
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class EpisodeSet:
    """A fixed, seeded list of episodes: the same ``seed`` gives the same episodes in any process."""

    def __init__(self, dataset: FewShotDataset, way: int, shot: int, query: int = 15, n_episodes: int = 1000,
                 seed: int = 0):
        check_request(dataset, way, shot, query)
        _check_positive(n_episodes=n_episodes)
        self.dataset, self.way, self.shot, self.query, self.seed = dataset, way, shot, query, seed
        generator = torch.Generator()
        generator.manual_seed(seed)
        self.classes, self.items = draw_indices(dataset, way, shot, query, n_episodes, generator)

    def __len__(self) -> int:
        return len(self.classes)

    def __getitem__(self, i: int) -> Episode:
        return make_episode(self.dataset, self.classes[i], self.items[i], self.shot)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def describe(self) -> str:
        return (f"{len(self)} {self.dataset.name} episodes, {self.way}-way {self.shot}-shot {self.query}-query, "
                f"seed {self.seed}")
