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
    """``normalize=True`` scores L2-normalised embeddings, ``-scale * |z - c|^2`` with a learned ``scale``
    (started at ``scale``): the distance of Meta-Baseline (Chen et al. 2021, a cosine with a learned temperature,
    up to a constant), for meta-training a pretrained backbone, whose raw squared distances are so large that the
    softmax saturates. With ``scale=10`` it starts as exactly the baseline's nearest-centroid head."""

    name = "protonet"

    def __init__(self, backbone: str = "conv4", backbone_config: dict | None = None, normalize: bool = False,
                 scale: float = 10.0):
        options = {"normalize": True, "scale": float(scale)} if normalize else {}  # old checkpoints: no options
        super().__init__(backbone=backbone, backbone_config=dict(backbone_config or {}), **options)
        self.backbone = build_backbone(backbone, **(backbone_config or {}))
        if normalize:
            if not scale > 0:
                raise ValueError(f"scale must be positive, got {scale!r}")
            self.log_scale = torch.nn.Parameter(torch.tensor(float(scale)).log())

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        z_support = self.backbone(support)  # [N*K, D]
        z_query = self.backbone(query)  # [n_query, D]
        if not self.config.get("normalize"):
            return -squared_distances(z_query, prototypes(z_support, support_labels, way))  # [n_query, N]
        z_support, z_query = F.normalize(z_support, dim=1), F.normalize(z_query, dim=1)
        return -self.log_scale.exp() * squared_distances(z_query, prototypes(z_support, support_labels, way))
