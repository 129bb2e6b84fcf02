"""Matching Networks (Vinyals, Blundell, Lillicrap, Kavukcuoglu and Wierstra, 2016).

A query ``x`` is classified by *attention* over the whole support set: with ``f`` the query embedding and
``g`` the support embedding,

    a(x, x_i) = softmax_i( cos(f(x), g(x_i)) )        p(y = k | x, S) = sum_{i : y_i = k} a(x, x_i)

so the prediction is a weighted vote of the support labels, weighted by cosine similarity. Training
minimises ``-log p(true class)`` on episodes that look like the test episodes ("test and train conditions
must match"). Without full-context embeddings ``f = g`` = the Conv-4 (the setting of the paper's Omniglot
results).

*Full-context embeddings* (``fce=True``, the paper's section 2.1.2, used for its mini-ImageNet results) make
each embedding depend on the whole support set:

* ``g(x_i)``: a bidirectional LSTM reads the support embeddings as a sequence;
  ``g(x_i) = g'(x_i) + h_forward_i + h_backward_i``;
* ``f(x, S)``: an attention LSTM runs ``fce_steps`` times, each step reading the support set with attention
  (readout ``r``) and updating ``h = LSTM([f'(x), r], h, c) + f'(x)``.

The bidirectional LSTM reads the support set in a particular order, so with FCE the scores depend (a
little) on the order of the support images; without FCE they do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsl_course.backbones import build_backbone
from fsl_course.methods.base import FewShotMethod, check_labels


def cosine_attention(z_query: torch.Tensor, z_support: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Attention weights ``[n_query, n_support]``: softmax over the support of ``scale * cos(query, support)``.
    Every row sums to one."""
    cos = F.normalize(z_query, dim=-1) @ F.normalize(z_support, dim=-1).T  # [n_query, n_support]
    return (scale * cos).softmax(dim=-1)


def attention_to_class_probabilities(attention: torch.Tensor, labels: torch.Tensor, way: int) -> torch.Tensor:
    """Sum the attention on each class's support images: ``[n_query, n_support]`` -> ``[n_query, way]``."""
    return attention @ F.one_hot(labels, way).to(attention.dtype)


class FullContextEmbedding(nn.Module):
    """The paper's ``g`` (bidirectional LSTM over the support) and ``f`` (attention LSTM over the query)."""

    def __init__(self, dim: int, steps: int):
        super().__init__()
        self.steps = steps
        self.support_lstm = nn.LSTM(dim, dim, bidirectional=True, batch_first=True)
        self.query_cell = nn.LSTMCell(2 * dim, dim)  # input: [f'(x), readout r]

    def embed_support(self, z_support: torch.Tensor) -> torch.Tensor:
        """``[n_support, D]`` -> ``[n_support, D]``: g'(x_i) + forward + backward hidden states."""
        out, _ = self.support_lstm(z_support[None])  # [1, n_support, 2D]
        forward, backward = out[0].chunk(2, dim=-1)
        return z_support + forward + backward

    def embed_query(self, z_query: torch.Tensor, g_support: torch.Tensor) -> torch.Tensor:
        """``[n_query, D]`` read against the embedded support ``[n_support, D]`` for ``steps`` steps."""
        h = z_query
        c = torch.zeros_like(z_query)
        for _ in range(self.steps):
            attention = (h @ g_support.T).softmax(dim=-1)  # [n_query, n_support]
            readout = attention @ g_support  # [n_query, D]
            h, c = self.query_cell(torch.cat([z_query, readout], dim=-1), (h, c))
            h = h + z_query  # the skip connection of the paper's equation (3)
        return h


class MatchingNet(FewShotMethod):
    """``scores`` are ``log p(class | query, support)``, so cross entropy on them is the paper's loss and a
    softmax over them gives back ``p`` exactly."""

    name = "matching"

    def __init__(self, backbone: str = "conv4", backbone_config: dict | None = None, fce: bool = False,
                 fce_steps: int = 5, scale: float = 1.0):
        super().__init__(backbone=backbone, backbone_config=dict(backbone_config or {}), fce=fce,
                         fce_steps=fce_steps, scale=scale)
        self.backbone = build_backbone(backbone, **(backbone_config or {}))
        self.fce = FullContextEmbedding(self.backbone.output_dim(), fce_steps) if fce else None
        self.scale = scale

    def attention(self, support, support_labels, query) -> torch.Tensor:
        """The attention weights ``[n_query, n_support]`` of each query over the support images."""
        check_labels(support_labels)
        z_support = self.backbone(support)  # [n_support, D]
        z_query = self.backbone(query)  # [n_query, D]
        if self.fce is not None:
            z_support = self.fce.embed_support(z_support)
            z_query = self.fce.embed_query(z_query, z_support)
        return cosine_attention(z_query, z_support, self.scale)

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        p = attention_to_class_probabilities(self.attention(support, support_labels, query), support_labels, way)
        return p.clamp_min(1e-12).log()  # [n_query, way]
