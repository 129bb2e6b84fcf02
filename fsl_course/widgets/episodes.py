"""The episode explorer (notebook 01): sliders for N-way, K-shot and queries, and the episode they make."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets

from fsl_course.episodes import Episode, EpisodeSampler
from fsl_course.viz import show_episode
from fsl_course.widgets.base import Explorer, _slider


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
        return show_episode(self.episode, self.dataset)  # sized to the page whatever the sliders say
