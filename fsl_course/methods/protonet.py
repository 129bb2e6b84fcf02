"""Prototypical Networks (Snell, Swersky and Zemel, 2017).

Each class is represented by its *prototype*, the mean embedding of its support images; a query is scored
by minus its squared Euclidean distance to every prototype, and a softmax over the scores gives the class
probabilities. With squared Euclidean distance this is a linear classifier on the embedding:
``-|z - c|^2 = 2 c.z - |c|^2 - |z|^2``, and ``|z|^2`` is the same for every class (section 2.3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fsl_course.backbones import build_backbone
from fsl_course.methods.base import FewShotMethod, check_labels


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, way: int) -> torch.Tensor:
    """Mean embedding per class: ``[n_support, D]``, labels 0..way-1 -> ``[way, D]``."""
    one_hot = F.one_hot(labels, way).to(embeddings.dtype)  # [n_support, way]
    return one_hot.T @ embeddings / one_hot.sum(0)[:, None]


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a_i - b_j|^2`` for ``a`` [n, D] and ``b`` [m, D] -> [n, m] (exact, never negative)."""
    return (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)


def linear_classifier(protos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The equivalent linear layer: weights ``2 c_k`` [way, D] and biases ``-|c_k|^2`` [way]."""
    return 2 * protos, -protos.pow(2).sum(-1)


class ProtoNet(FewShotMethod):
    name = "protonet"

    def __init__(self, backbone: str = "conv4", backbone_config: dict | None = None):
        super().__init__(backbone=backbone, backbone_config=dict(backbone_config or {}))
        self.backbone = build_backbone(backbone, **(backbone_config or {}))

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        z_support = self.backbone(support)  # [N*K, D]
        z_query = self.backbone(query)  # [n_query, D]
        protos = prototypes(z_support, support_labels, way)  # [N, D]
        return -squared_distances(z_query, protos)  # [n_query, N]
