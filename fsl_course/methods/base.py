"""The one small interface every few-shot method implements.

A method is an ``nn.Module`` that, given a labelled support set, scores query images against its classes:

* ``scores(support, support_labels, query) -> [n_query, way]`` logits (higher = more likely);
* ``loss(episode) -> (loss, scores)``: what the episodic training loop minimises (cross entropy by default);
* ``probabilities(scores)``: class probabilities (a softmax of the scores by default);
* ``unsupported(way, shot)``: why a setting cannot be scored (a MAML model has a fixed number of ways);
* ``config``: the keyword arguments that rebuild the method, saved in every checkpoint.

Support labels are 0..N-1 in any order; the training loop, the evaluator and ``load_classifier`` need
nothing else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsl_course.episodes import Episode


def check_labels(support_labels: torch.Tensor) -> int:
    """Return the number of ways, checking that the labels are exactly 0..N-1 with N >= 2."""
    if support_labels.dim() != 1 or support_labels.dtype not in (torch.int64, torch.int32):
        raise ValueError("support_labels must be a 1-D integer tensor")
    way = int(support_labels.max()) + 1
    present = torch.bincount(support_labels, minlength=way)
    if (present == 0).any() or int(support_labels.min()) < 0:
        raise ValueError(f"support labels must cover 0..N-1 with no gaps, got {sorted(set(support_labels.tolist()))}")
    if way < 2:
        raise ValueError("the support set has one class only: few-shot classification needs at least two")
    return way


class FewShotMethod(nn.Module):
    name: str = "method"

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)

    def scores(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def unsupported(self, way: int, shot: int) -> str | None:
        """Why this model cannot classify ``way``-way ``shot``-shot episodes, or None if it can (most can)."""
        return None

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Class probabilities from ``scores`` (a softmax, unless a method's scores are not logits)."""
        return scores.softmax(dim=1)

    def loss(self, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.scores(episode.support, episode.support_labels, episode.query)
        return F.cross_entropy(scores, episode.query_labels), scores
