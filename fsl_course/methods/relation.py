"""Relation Networks (Sung, Yang, Zhang, Xiang, Torr and Hospedales, 2018).

Instead of a fixed distance, a second network learns to compare. The *embedding module* is the Conv-4 with
its feature maps kept (pooling only in the first two blocks: ``[B, 64, 7, 7]`` for 28x28 images). Each
class's support feature maps are summed; every (class, query) pair is concatenated along the channels
(``[128, 7, 7]``) and the *relation module* (two conv blocks, then two fully connected layers, 64 -> 8 -> 1,
and a sigmoid) gives a relation score in [0, 1]. Training regresses the scores onto the one-hot targets
with mean squared error, as the paper does ("we use MSE ... it is more of a regression problem").

A speed-up that changes no number: the relation module's first convolution is linear in its input, so
``conv([s, q]) = conv_s(s) + conv_q(q)`` with the weight split in two halves. Each class and each query is
convolved once (``way + n_query`` maps) instead of once per pair (``way * n_query`` maps), and the pairs
are formed by broadcasting the two results before batch norm.

``aggregate="sum"`` is the paper's class feature. At one shot sum and mean coincide; a model trained at one
shot sees feature maps K times larger at K shots if they are summed, so ``aggregate="mean"`` is offered
for evaluating a one-shot model at more shots (the paper trains a separate model for each shot instead).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsl_course.backbones import build_backbone, conv_block
from fsl_course.methods.base import FewShotMethod, check_labels


def class_features(features: torch.Tensor, labels: torch.Tensor, way: int, aggregate: str) -> torch.Tensor:
    """Sum (or mean) of each class's support feature maps: ``[n_support, C, h, w]`` -> ``[way, C, h, w]``."""
    one_hot = F.one_hot(labels, way).to(features.dtype)  # [n_support, way]
    summed = torch.einsum("nk,nchw->kchw", one_hot, features)
    return summed if aggregate == "sum" else summed / one_hot.sum(0)[:, None, None, None]


class RelationModule(nn.Module):
    """Scores ``[n_query, way]`` in [0, 1] from class features ``[way, C, h, w]`` and query features
    ``[n_query, C, h, w]``: the paper's two conv blocks and two fully connected layers on each concatenated
    pair ``[class, query]`` (``2C`` channels)."""

    def __init__(self, channels: int = 64, feature_size: int = 7, hidden: int = 8):
        super().__init__()
        self.block1 = conv_block(2 * channels, channels)
        self.block2 = conv_block(channels, channels)
        side = feature_size // 2 // 2
        self.fc1 = nn.Linear(channels * side * side, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def first_conv_pairs(self, classes: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """``conv([class, query])`` for every pair, ``[n_query * way, C, h, w]``, computed with the split
        weight: ``way + n_query`` convolutions instead of ``way * n_query``."""
        conv = self.block1[0]
        c = classes.shape[1]
        s = F.conv2d(classes, conv.weight[:, :c], conv.bias, padding=conv.padding)  # [way, C, h, w]
        q = F.conv2d(queries, conv.weight[:, c:], None, padding=conv.padding)  # [n_query, C, h, w]
        return (q[:, None] + s[None]).flatten(0, 1)  # [n_query * way, C, h, w]; pair (i, k) at i * way + k

    def forward(self, classes: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        way, n_query = len(classes), len(queries)
        x = self.first_conv_pairs(classes, queries)
        x = self.block1[1:](x)  # batch norm, ReLU, pool (the conv is done above)
        x = self.block2(x).flatten(1)  # [n_query * way, C * side * side]
        x = torch.sigmoid(self.fc2(F.relu(self.fc1(x))))  # [n_query * way, 1]
        return x.view(n_query, way)

    def forward_naive(self, classes: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """The same scores, by concatenating every pair first, as the paper draws it (slower; for tests)."""
        way, n_query = len(classes), len(queries)
        pairs = torch.cat([classes[None].expand(n_query, -1, -1, -1, -1),
                           queries[:, None].expand(-1, way, -1, -1, -1)], dim=2).flatten(0, 1)
        x = self.block2(self.block1(pairs)).flatten(1)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(x)))).view(n_query, way)


class RelationNet(FewShotMethod):
    """``scores`` are the relation scores in [0, 1]; ``loss`` is the paper's MSE to one-hot targets."""

    name = "relation"

    def __init__(self, backbone: str = "conv4", backbone_config: dict | None = None, hidden: int = 8,
                 aggregate: str = "sum", image_size: int = 28):
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' (the paper) or 'mean', got {aggregate!r}")
        backbone_config = {"flatten": False, "pool_last": False, **(backbone_config or {})}
        super().__init__(backbone=backbone, backbone_config=backbone_config, hidden=hidden, aggregate=aggregate,
                         image_size=image_size)
        self.backbone = build_backbone(backbone, **backbone_config)
        with torch.no_grad():
            was = self.backbone.training
            channels, size = self.backbone.eval()(torch.zeros(1, 1, image_size, image_size)).shape[1:3]
            self.backbone.train(was)
        self.relation = RelationModule(channels, size, hidden)
        self.aggregate = aggregate

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        classes = class_features(self.backbone(support), support_labels, way, self.aggregate)  # [way, C, h, w]
        return self.relation(classes, self.backbone(query))  # [n_query, way] in [0, 1]

    def loss(self, episode):
        scores = self.scores(episode.support, episode.support_labels, episode.query)
        targets = F.one_hot(episode.query_labels, scores.shape[1]).to(scores.dtype)
        return F.mse_loss(scores, targets), scores

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Relation scores are not logits: normalise them to sum to one instead of a softmax."""
        return scores / scores.sum(1, keepdim=True).clamp_min(1e-12)
