"""Model-Agnostic Meta-Learning (Finn, Abbeel and Levine, 2017), written functionally.

MAML learns an *initialisation* ``theta`` from which a few gradient steps on a new task's support set give a
good model for that task. For every task of a meta-batch:

* **inner loop**: ``theta'_0 = theta``, ``theta'_{j+1} = theta'_j - alpha * grad L_support(theta'_j)``;
* **outer loop**: the query loss at the adapted parameters, ``L_query(theta'_steps)``, averaged over the tasks
  of the meta-batch, is minimised with respect to ``theta`` (Adam).

Everything is written with :func:`torch.func.functional_call`: the inner loop makes *new* parameter tensors
(a dict name -> tensor) and runs the unchanged module with them, so any ``nn.Module`` works, the stored
parameters are never rewritten, and nothing is monkey-patched (torchmeta and ``higher`` needed that).

* **Second order** (the paper's MAML): the inner gradients are computed with ``create_graph=True``, so the
  meta-gradient differentiates through them (Hessian-vector products).
* **First order** (FOMAML, ``first_order=True``): the inner gradients are treated as constants, so
  ``d theta' / d theta = I`` and the meta-gradient is simply the query-loss gradient at ``theta'``. Cheaper in
  time and memory (no graph of the inner loop is kept), nearly as good in the paper.
* **ANIL** (``anil=True``, Raghu et al. 2020, "Almost No Inner Loop"): only the last linear layer (the head)
  is adapted in the inner loop; the body is learned in the outer loop only. Its features are computed once per
  task, so the inner loop is almost free. Raghu et al. found it about as good as MAML: MAML's gain comes mostly
  from learning good features (feature reuse), not from rapid learning of the whole network.

**Batch norm, explicitly.** With ``bn="batch"`` (the default, as in Finn et al.'s code) the batch-norm layers
keep no running statistics and always normalise with the statistics *of the current batch*: in the inner loop
the support set's, and for predictions the statistics of *all the queries given together*. That is
**transductive**: a query's prediction depends on the other queries in its batch, and a batch of a single
query image (whose last feature map is 1x1) normalises to a constant and cannot be classified. Results of
such models are labelled "transductive batch norm". ``bn="running"`` is conventional batch norm: batch
statistics while meta-training, with running averages collected, and those running averages in ``eval()``
mode, so every query is classified on its own (non-transductive); MAML has been reported to learn worse with
it (Bronskill et al. 2020, "TaskNorm").

The classifier head has ``way`` outputs: a MAML model is trained for one number of ways (its rows are tied
to the labels 0..way-1, which the episodes permute at random, so the initialisation learns to be neutral).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from fsl_course.backbones import build_backbone
from fsl_course.methods.base import FewShotMethod, check_labels

Params = dict[str, torch.Tensor]
BN_MODES = ("batch", "running")


def inner_loop(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
               loss_fn: Callable = F.cross_entropy, steps: int = 1, lr: float = 0.4, first_order: bool = False,
               names: Iterable[str] | None = None) -> tuple[Params, list[float]]:
    """Adapt ``params`` to the support set ``(x, y)``: ``steps`` steps of plain gradient descent.

    ``model`` is run as ``functional_call(model, params, (x,))``; ``params`` maps parameter names to tensors
    (some may be left out: the module's own are used for them). ``names`` chooses which entries are adapted
    (default: all). Returns ``(adapted params, support loss before each step)``: a new dict of new tensors; the
    tensors given are never changed in place.

    ``first_order=False``: the gradients keep their graph (``create_graph=True``), so a loss of the adapted
    parameters can be differentiated through the whole inner loop (second-order MAML). ``first_order=True``:
    the gradients are detached, so the adapted parameters depend on ``params`` only through the identity.
    """
    params = dict(params)
    names = list(params if names is None else names)
    losses = []
    for _ in range(steps):
        loss = loss_fn(functional_call(model, params, (x,)), y)
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=not first_order,
                                    allow_unused=True)
        for n, g in zip(names, grads):
            if g is not None:  # None: the parameter does not affect this loss
                params[n] = params[n] - lr * (g.detach() if first_order else g)
    return params, losses


def meta_loss(model: nn.Module, params: Params, tasks: Iterable, loss_fn: Callable = F.cross_entropy,
              steps: int = 1, lr: float = 0.4, first_order: bool = False) -> torch.Tensor:
    """The MAML objective of a meta-batch: the mean over ``tasks`` of the query loss after adaptation.

    ``tasks``: ``(x_support, y_support, x_query, y_query)`` tuples. Its gradient with respect to ``params``
    (``torch.autograd.grad`` or ``.backward()``) is the meta-gradient.
    """
    losses = []
    for xs, ys, xq, yq in tasks:
        adapted, _ = inner_loop(model, params, xs, ys, loss_fn, steps, lr, first_order)
        losses.append(loss_fn(functional_call(model, adapted, (xq,)), yq))
    return torch.stack(losses).mean()


def functional_inner_loop(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                          loss_fn: Callable = F.cross_entropy, steps: int = 1, lr: float = 0.4,
                          first_order: bool = False) -> Params:
    """:func:`inner_loop` written with :func:`torch.func.grad`, so that it runs under :func:`torch.func.vmap`
    (one task per vmapped slice: :func:`vmap_meta_loss`). Adapts every entry of ``params``."""

    def support_loss(p):
        return loss_fn(functional_call(model, p, (x,)), y)

    for _ in range(steps):
        grads = torch.func.grad(support_loss)(params)
        params = {k: params[k] - lr * (grads[k].detach() if first_order else grads[k]) for k in params}
    return params


def vmap_meta_loss(model: nn.Module, params: Params, xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor,
                   yq: torch.Tensor, loss_fn: Callable = F.cross_entropy, steps: int = 1, lr: float = 0.4,
                   first_order: bool = False) -> torch.Tensor:
    """:func:`meta_loss` of a meta-batch stacked along a first dimension (``xs`` ``[tasks, K, ...]``, ...),
    vectorised over the tasks with :func:`torch.func.vmap`: the same value and gradient, one batched
    computation instead of a Python loop (about ten times faster for the small sine network; models with
    batch norm that keeps running statistics cannot be vmapped)."""

    def task_loss(p, xs_, ys_, xq_, yq_):
        adapted = functional_inner_loop(model, p, xs_, ys_, loss_fn, steps, lr, first_order)
        return loss_fn(functional_call(model, adapted, (xq_,)), yq_)

    return torch.func.vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(params, xs, ys, xq, yq).mean()


def batch_statistics_only(module: nn.Module) -> nn.Module:
    """Make every batch-norm layer of ``module`` normalise with the current batch's statistics, always.

    Each ``BatchNorm{1,2,3}d`` is replaced (once, when the model is built) by one with
    ``track_running_stats=False`` and the same affine parameters: it keeps no running averages, so it uses
    batch statistics in ``train()`` and in ``eval()`` mode alike (transductive at test time).
    """
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and child.track_running_stats:
            new = type(child)(child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine,
                              track_running_stats=False)
            if child.affine:
                new.load_state_dict({"weight": child.weight.detach(), "bias": child.bias.detach()})
            setattr(module, name, new)
        else:
            batch_statistics_only(child)
    return module


class AdaptedModel:
    """A MAML model adapted to one support set: ``adapted(query) -> scores [n_query, way]``.

    Holds the adapted parameters (``params``, detached tensors) and the support loss before each inner step
    (``support_losses``); the method's own parameters are not changed.
    """

    def __init__(self, method: "MAML", params: Params, support_losses: list[float]):
        self.method, self.params, self.support_losses = method, params, support_losses

    @torch.no_grad()
    def __call__(self, query: torch.Tensor) -> torch.Tensor:
        if self.method.bn == "batch" and len(query) < 2:
            raise ValueError("this MAML model uses transductive batch norm: it normalises the queries as one "
                             "batch, so it cannot classify a single query on its own; predict several queries "
                             "together (or use a model trained with bn='running')")
        return functional_call(self.method, self.params, (query,))


class MAML(FewShotMethod):
    """MAML (or FOMAML, or ANIL) on a Conv-4 body with a linear head of ``way`` outputs.

    ``inner_steps`` / ``inner_lr``: the inner loop in meta-training; ``test_inner_steps``: the number of steps
    after training (evaluation, ``load_classifier``), usually more (the paper: 1 step in training, 3 at test,
    step size 0.4, at 5-way). ``first_order``: FOMAML; ``anil``: adapt the head only; ``bn``: see the module's
    docstring (``"batch"``: transductive). A training step is ``loss(episode)``: the inner loop on the support
    set, then the cross entropy of the queries at the adapted parameters; the training loop's ``meta_batch``
    averages it over several episodes per Adam step.
    """

    name = "maml"

    def __init__(self, way: int = 5, inner_steps: int = 1, inner_lr: float = 0.4, test_inner_steps: int = 3,
                 first_order: bool = False, anil: bool = False, bn: str = "batch", backbone: str = "conv4",
                 backbone_config: dict | None = None):
        if not isinstance(way, int) or way < 2:
            raise ValueError(f"way must be a whole number >= 2, got {way!r}")
        if bn not in BN_MODES:
            raise ValueError(f"unknown bn {bn!r}; choose 'batch' (batch statistics always: transductive at test "
                             "time, as in the MAML paper) or 'running' (running averages at test time)")
        super().__init__(way=way, backbone=backbone, backbone_config=dict(backbone_config or {}), bn=bn)
        body = build_backbone(backbone, **(backbone_config or {}))
        features = body.output_dim()  # (with its running statistics: a batch of one image)
        self.body = batch_statistics_only(body) if bn == "batch" else body
        self.head = nn.Linear(features, way)
        self.configure(inner_steps=inner_steps, inner_lr=inner_lr, test_inner_steps=test_inner_steps,
                       first_order=first_order, anil=anil)

    # --- options --------------------------------------------------------------------------------------------
    def configure(self, **options) -> "MAML":
        """Change the adaptation options (``inner_steps``, ``inner_lr``, ``test_inner_steps``, ``first_order``,
        ``anil``), for example the number of test steps of a loaded model; they are saved in checkpoints."""
        allowed = ("inner_steps", "inner_lr", "test_inner_steps", "first_order", "anil")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"maml has no option {', '.join(map(repr, unknown))}; choose from {', '.join(allowed)}")
        for key in ("inner_steps", "test_inner_steps"):
            if key in options and (not isinstance(options[key], int) or isinstance(options[key], bool)
                                   or options[key] < 0):
                raise ValueError(f"{key} must be a whole number >= 0, got {options[key]!r}")
        if "inner_lr" in options and not options["inner_lr"] > 0:
            raise ValueError(f"inner_lr must be positive, got {options['inner_lr']!r}")
        self.config.update({k: (bool(v) if k in ("first_order", "anil") else v) for k, v in options.items()})
        return self

    way = property(lambda self: self.config["way"])
    bn = property(lambda self: self.config["bn"])
    inner_steps = property(lambda self: self.config["inner_steps"])
    inner_lr = property(lambda self: self.config["inner_lr"])
    test_inner_steps = property(lambda self: self.config["test_inner_steps"])
    first_order = property(lambda self: self.config["first_order"])
    anil = property(lambda self: self.config["anil"])

    # --- the model ------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, way]`` with the stored (initial) parameters."""
        return self.head(self.body(x))

    def unsupported(self, way: int, shot: int) -> str | None:
        return (f"a {self.way}-way MAML model (its head has {self.way} outputs)" if way != self.way else None)

    def _check_way(self, support_labels: torch.Tensor) -> None:
        way = check_labels(support_labels)
        if way != self.way:
            raise ValueError(f"this MAML model has a {self.way}-way head, but the support set has {way} classes: "
                             f"a MAML model is trained for one number of ways (train a {way}-way model)")

    def _adapt(self, params: Params, support: torch.Tensor, support_labels: torch.Tensor, steps: int,
               first_order: bool) -> tuple[Params, list[float]]:
        """The inner loop from ``params`` (all of this module's): MAML adapts everything, ANIL the head only."""
        if not self.anil:
            return inner_loop(self, params, support, support_labels, F.cross_entropy, steps, self.inner_lr,
                              first_order)
        body = {k.removeprefix("body."): v for k, v in params.items() if k.startswith("body.")}
        head = {k.removeprefix("head."): v for k, v in params.items() if k.startswith("head.")}
        features = functional_call(self.body, body, (support,))  # once per task: the body is not adapted
        head, losses = inner_loop(self.head, head, features, support_labels, F.cross_entropy, steps,
                                  self.inner_lr, first_order)
        return {**params, **{f"head.{k}": v for k, v in head.items()}}, losses

    def adapt(self, support: torch.Tensor, support_labels: torch.Tensor, steps: int | None = None) -> AdaptedModel:
        """Adapt to a support set after training: ``test_inner_steps`` steps (``steps`` to override) of the
        inner loop on detached copies of the parameters. Returns an :class:`AdaptedModel`; ``self`` is not
        changed (``load_classifier(...).fit`` calls this once, ``predict`` then uses the adapted model)."""
        self._check_way(support_labels)
        steps = self.test_inner_steps if steps is None else steps
        with torch.enable_grad():  # evaluate() runs under no_grad; the inner loop needs gradients
            params = {k: v.detach().requires_grad_() for k, v in self.named_parameters()}
            adapted, losses = self._adapt(params, support, support_labels, steps, first_order=True)
        return AdaptedModel(self, {k: v.detach() for k, v in adapted.items()}, losses)

    def scores(self, support, support_labels, query):
        """In training (``train()`` mode, gradients on): the differentiable inner loop of ``inner_steps`` steps,
        then the queries' logits at the adapted parameters, so their loss back-propagates to the initialisation
        (through the inner gradients unless ``first_order``). Otherwise: ``adapt`` (``test_inner_steps``)."""
        if self.training and torch.is_grad_enabled():
            self._check_way(support_labels)
            adapted, _ = self._adapt(dict(self.named_parameters()), support, support_labels, self.inner_steps,
                                     self.first_order)
            return functional_call(self, adapted, (query,))
        return self.adapt(support, support_labels)(query)
