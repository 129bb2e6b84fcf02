"""Transfer baselines: pretrain once with plain cross entropy, then a simple classifier per episode.

"A Closer Look at Few-Shot Classification" (Chen et al. 2019) and "Rethinking Few-Shot Image Classification"
(Tian et al. 2020) found that a network pretrained with ordinary supervised cross entropy on all the base
classes (``fsl_course.training.pretrain``), with a simple classifier fitted on its features for each episode, rivals
meta-learning. The backbone is frozen; for each episode ``head`` chooses what is fitted on the support set:

* ``"centroid"``: nearest class mean (centroid) of the L2-normalised features, scored like ProtoNet by minus the
  squared Euclidean distance (times ``scale``, so that the softmax gives useful probabilities); nothing is
  fitted;
* ``"logistic"``: a linear probe, multinomial logistic regression on the normalised features, fitted by L-BFGS
  with an L2 penalty ``weight_decay`` (Tian et al. 2020);
* ``"cosine"``: the cosine classifier of Baseline++ (Chen et al. 2019): ``scale * cos(z, w_k)``, weights
  started at the class centroids and fitted by L-BFGS;
* ``"finetune"``: a copy of the whole network with a new linear head (started at the centroids) fine-tuned on
  the support set with Adam for ``steps`` steps; ``weight_decay`` pulls the weights towards the pretrained
  ones (L2-SP). The stored weights are never changed: the copy is made of cloned tensors.

One pretrained checkpoint serves every head: ``method.head = "logistic"`` (or ``method.configure(head=...,
steps=...)``) switches, on a method from ``load_method`` or on ``load_classifier(...).method``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from fsl_course.backbones import build_backbone
from fsl_course.methods.base import FewShotMethod, check_labels
from fsl_course.methods.protonet import prototypes, squared_distances

#: Each head's defaults for the options left at None: L-BFGS iterations or Adam steps, step size, L2 weight.
HEAD_DEFAULTS = {
    "centroid": {},
    "logistic": {"steps": 100, "lr": 1.0, "weight_decay": 1e-3},
    "cosine": {"steps": 100, "lr": 1.0, "weight_decay": 0.0},
    "finetune": {"steps": 20, "lr": 1e-3, "weight_decay": 0.0},
}
HEADS = tuple(HEAD_DEFAULTS)


def features(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The frozen backbone's L2-normalised embedding ``[B, D]`` (no gradient)."""
    with torch.no_grad():
        return F.normalize(backbone(images), dim=1)


def centroid_scores(z_support: torch.Tensor, support_labels: torch.Tensor, z_query: torch.Tensor,
                    way: int) -> torch.Tensor:
    """Minus the squared Euclidean distance of each query to each class mean: ``[n_query, way]``."""
    return -squared_distances(z_query, prototypes(z_support, support_labels, way))


def fit_linear_head(z: torch.Tensor, labels: torch.Tensor, way: int, steps: int = 100, lr: float = 1.0,
                    weight_decay: float = 1e-3, cosine: bool = False, scale: float = 10.0):
    """Fit a linear (or cosine) classifier on fixed features ``z`` [n, D] by L-BFGS; return ``logits(z)``.

    Linear: ``z @ W.T + b`` from ``W = 0``, loss = cross entropy + ``weight_decay * |W|^2`` (logistic
    regression). Cosine: ``scale * cos(z, w_k)`` from ``w_k`` = the class centroids (Baseline++).
    """
    with torch.enable_grad():  # the evaluator scores under no_grad; fitting needs gradients
        z = z.detach()
        if cosine:
            w = prototypes(z, labels, way).clone().requires_grad_()
            b = torch.zeros(way, device=z.device)  # Baseline++ has no bias
        else:
            w = torch.zeros(way, z.shape[1], device=z.device, requires_grad=True)
            b = torch.zeros(way, device=z.device, requires_grad=True)

        def logits(x):
            if cosine:
                return scale * F.normalize(x, dim=1) @ F.normalize(w, dim=1).T
            return x @ w.T + b

        params = [w] if cosine else [w, b]
        if steps > 0:
            optimizer = torch.optim.LBFGS(params, lr=lr, max_iter=steps, line_search_fn="strong_wolfe")

            def closure():
                optimizer.zero_grad()
                loss = F.cross_entropy(logits(z), labels) + weight_decay * w.pow(2).sum()
                loss.backward()
                return loss

            optimizer.step(closure)
    w, b = w.detach(), b.detach()
    return lambda x: (scale * F.normalize(x, dim=1) @ F.normalize(w, dim=1).T) if cosine else x @ w.T + b


def finetune(backbone: nn.Module, support: torch.Tensor, support_labels: torch.Tensor, way: int,
             steps: int = 20, lr: float = 1e-3, weight_decay: float = 0.0, scale: float = 10.0,
             train_backbone: bool = True, query: torch.Tensor | None = None,
             query_labels: torch.Tensor | None = None):
    """Fine-tune a copy of ``backbone`` with a new linear head on the support set; ``backbone`` is untouched.

    The head works on L2-normalised features, ``scale * z @ W.T + b``, started at the class centroids (so
    step 0 is a nearest-centroid classifier). Adam takes ``steps`` full-batch steps on the cross entropy plus
    ``weight_decay * |theta - theta_pretrained|^2`` (L2-SP); ``train_backbone=False`` fits the head only.
    The network runs in whatever mode ``backbone`` is in (``eval()``: batch norm keeps its statistics).

    Returns ``(predict, history)``: ``predict(images) -> logits`` with the fine-tuned weights, and per step
    (0 = before any step) the support loss and accuracy, and the query accuracy if ``query`` is given.
    """
    params = {k: v.detach().clone().requires_grad_(train_backbone) for k, v in backbone.named_parameters()}
    start = {k: v.detach().clone() for k, v in params.items()}
    buffers = {k: v.detach().clone() for k, v in backbone.named_buffers()}  # train-mode BN updates the copy

    def embed(x):
        return F.normalize(functional_call(backbone, (params, buffers), (x,)), dim=1)

    with torch.enable_grad():
        with torch.no_grad():
            z_support = embed(support)
            w = prototypes(z_support, support_labels, way).clone().requires_grad_()
        b = torch.zeros(way, device=support.device, requires_grad=True)
        trainable = [w, b] + (list(params.values()) if train_backbone else [])
        optimizer = torch.optim.Adam(trainable, lr=lr)
        history = []
        for step in range(steps + 1):
            z = embed(support) if train_backbone else z_support
            logits = scale * z @ w.T + b
            loss = F.cross_entropy(logits, support_labels)
            entry = {"step": step, "train_loss": loss.item(),
                     "train_accuracy": 100 * (logits.argmax(1) == support_labels).float().mean().item()}
            if query is not None:
                with torch.no_grad():
                    q = scale * embed(query) @ w.T + b
                entry["test_accuracy"] = 100 * (q.argmax(1) == query_labels).float().mean().item()
            history.append(entry)
            if step == steps:
                break
            if weight_decay and train_backbone:
                loss = loss + weight_decay * sum((params[k] - start[k]).pow(2).sum() for k in params)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def predict(images):
        with torch.no_grad():
            return scale * embed(images) @ w.T + b

    return predict, history


class Baseline(FewShotMethod):
    """A pretrained backbone with a per-episode classifier ``head`` (see the module's docstring)."""

    name = "baseline"

    def __init__(self, head: str = "centroid", backbone: str = "conv4", backbone_config: dict | None = None,
                 steps: int | None = None, lr: float | None = None, weight_decay: float | None = None,
                 scale: float = 10.0):
        super().__init__(backbone=backbone, backbone_config=dict(backbone_config or {}))
        self.backbone = build_backbone(backbone, **(backbone_config or {}))
        self.configure(head=head, steps=steps, lr=lr, weight_decay=weight_decay, scale=scale)

    def configure(self, **options) -> "Baseline":
        """Change the head or its options (``head``, ``steps``, ``lr``, ``weight_decay``, ``scale``)."""
        allowed = ("head", "steps", "lr", "weight_decay", "scale")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"baseline has no option {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(allowed)}")
        new = {**{k: self.config.get(k) for k in allowed}, **options}
        if new["head"] not in HEADS:
            raise ValueError(f"unknown head {new['head']!r}; choose one of {', '.join(HEADS)}")
        if new["steps"] is not None and (not isinstance(new["steps"], int) or new["steps"] < 0):
            raise ValueError(f"steps must be a whole number >= 0, got {new['steps']!r}")
        for key in ("lr", "scale"):
            if new[key] is not None and not new[key] > 0:
                raise ValueError(f"{key} must be positive, got {new[key]!r}")
        if new["weight_decay"] is not None and not new["weight_decay"] >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {new['weight_decay']!r}")
        self.config.update(new)
        return self

    @property
    def head(self) -> str:
        return self.config["head"]

    @head.setter
    def head(self, value: str) -> None:
        self.configure(head=value)

    def option(self, key: str):
        """An option's value: the one set, else the head's default."""
        value = self.config.get(key)
        return HEAD_DEFAULTS[self.head].get(key) if value is None else value

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        if self.head == "finetune":
            predict, _ = finetune(self.backbone, support, support_labels, way, self.option("steps"),
                                  self.option("lr"), self.option("weight_decay"), self.config["scale"])
            return predict(query)
        z_support, z_query = features(self.backbone, support), features(self.backbone, query)
        if self.head == "centroid":
            return self.config["scale"] * centroid_scores(z_support, support_labels, z_query, way)
        classifier = fit_linear_head(z_support, support_labels, way, self.option("steps"), self.option("lr"),
                                     self.option("weight_decay"), cosine=self.head == "cosine",
                                     scale=self.config["scale"])
        return classifier(z_query)
