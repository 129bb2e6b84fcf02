"""The sine-wave regression toy of the MAML paper (Finn et al. 2017, section 5.1 and figures 2-3).

Each task is a sine ``y = A sin(x - phi)`` with amplitude ``A`` uniform in [0.1, 5] and phase ``phi`` uniform
in [0, pi]; inputs are uniform in [-5, 5]. A task gives ``K`` (5 or 10) labelled points, and the model must
predict the whole curve after a few gradient steps on them. The network is the paper's: 1-40-40-1 with ReLUs,
trained on the mean squared error.

Two ways to get an initialisation, compared by fine-tuning both with plain gradient descent on ``K`` points
of *new* tasks:

* **MAML** (:func:`train_maml`): meta-batches of 25 tasks, one inner step of size 0.01, Adam at 1e-3 in the
  outer loop, as in the paper (second order, or first order with ``first_order=True``);
* **pretrained** (:func:`train_pretrained`): the same network regressed on points of random tasks (batches of
  25 tasks x K points), the usual "pretrain on everything, then fine-tune". It learns the average of all the
  tasks, which with phases in [0, pi] is the curve ``-(2 / pi) E[A] cos x`` (about ``-1.6 cos x``), and a few
  small steps from there move it slowly.

The tasks of a meta-batch are vectorised with :func:`torch.func.vmap` (:func:`~fsl_course.methods.maml.
vmap_meta_loss`), so a training iteration takes milliseconds on a CPU. ``fsl-course sine`` runs the whole
experiment and writes the models (``results/sine_models.json``) and the numbers (``results/sine_maml.json``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from fsl_course.methods.maml import functional_inner_loop, vmap_meta_loss

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)
INNER_LR = 0.01  # the paper's inner step size (alpha) for regression
META_BATCH = 25
TEST_SEED, VAL_SEED = 0, 1  # new tasks for the reported numbers; validation tasks for the baseline's step size


@dataclass
class SineTasks:
    """A batch of sine tasks: ``amplitude`` and ``phase``, each ``[n]``."""

    amplitude: torch.Tensor
    phase: torch.Tensor

    def __len__(self) -> int:
        return len(self.amplitude)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The targets ``A sin(x - phi)`` of inputs ``x`` ``[n, m, 1]`` (task ``i`` on ``x[i]``)."""
        return self.amplitude[:, None, None] * torch.sin(x - self.phase[:, None, None])

    def __getitem__(self, i) -> "SineTasks":
        i = torch.as_tensor(i).reshape(-1)
        return SineTasks(self.amplitude[i], self.phase[i])


def sample_tasks(n: int, generator: torch.Generator) -> SineTasks:
    """``n`` random tasks: amplitude uniform in [0.1, 5], phase uniform in [0, pi]."""
    u = torch.rand(2, n, generator=generator)
    return SineTasks(AMPLITUDE[0] + (AMPLITUDE[1] - AMPLITUDE[0]) * u[0], PHASE[0] + (PHASE[1] - PHASE[0]) * u[1])


def sample_inputs(n_tasks: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` inputs per task, uniform in [-5, 5]: ``[n_tasks, k, 1]``."""
    return X_RANGE[0] + (X_RANGE[1] - X_RANGE[0]) * torch.rand(n_tasks, k, 1, generator=generator)


class SineMLP(nn.Sequential):
    """The paper's regression network: 1 -> 40 -> 40 -> 1 with ReLUs."""

    def __init__(self, hidden: int = 40):
        super().__init__(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 1))


def _fit(batch_loss, iterations: int, lr: float, seed: int, record_every: int) -> tuple[SineMLP, list[dict]]:
    """The loop both models share: a new :class:`SineMLP`, then per iteration ``batch_loss(model, generator)``
    (fresh random tasks drawn from ``generator``) and an Adam step; the mean loss every ``record_every``."""
    torch.manual_seed(seed)
    model = SineMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history, running, start = [], 0.0, time.perf_counter()
    for it in range(1, iterations + 1):
        loss = batch_loss(model, g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.item()
        if it % record_every == 0 or it == iterations:
            history.append({"step": it, "train_loss": running / (record_every if it % record_every == 0
                                                                 else it % record_every),
                            "seconds": round(time.perf_counter() - start, 1)})
            running = 0.0
    return model, history


def train_maml(iterations: int, k: int = 10, meta_batch: int = META_BATCH, inner_lr: float = INNER_LR,
               inner_steps: int = 1, first_order: bool = False, meta_lr: float = 1e-3, seed: int = 0,
               record_every: int = 100) -> tuple[SineMLP, list[dict]]:
    """Meta-train a :class:`SineMLP` with MAML: per iteration ``meta_batch`` new tasks, ``k`` support and ``k``
    query points each. Returns ``(model, history)`` (mean query loss after adaptation every
    ``record_every`` iterations)."""

    def meta_batch_loss(model, g):
        tasks = sample_tasks(meta_batch, g)
        x = sample_inputs(meta_batch, 2 * k, g)
        y = tasks(x)
        return vmap_meta_loss(model, dict(model.named_parameters()), x[:, :k], y[:, :k], x[:, k:], y[:, k:],
                              F.mse_loss, inner_steps, inner_lr, first_order)

    return _fit(meta_batch_loss, iterations, meta_lr, seed, record_every)


def train_pretrained(iterations: int, k: int = 10, batch_tasks: int = META_BATCH, lr: float = 1e-3,
                     seed: int = 0, record_every: int = 100) -> tuple[SineMLP, list[dict]]:
    """The baseline: regress a :class:`SineMLP` on ``k`` points of each of ``batch_tasks`` random tasks per
    iteration (the same data budget as MAML's query points), Adam at ``lr``."""

    def regression_loss(model, g):
        tasks = sample_tasks(batch_tasks, g)
        x = sample_inputs(batch_tasks, k, g)
        return F.mse_loss(model(x), tasks(x))

    return _fit(regression_loss, iterations, lr, seed, record_every)


@dataclass
class SineEval:
    """New tasks to fine-tune on: ``k`` support points and ``n_eval`` evaluation points per task."""

    tasks: SineTasks
    x_support: torch.Tensor  # [n, k, 1]
    y_support: torch.Tensor
    x_eval: torch.Tensor  # [n, n_eval, 1]
    y_eval: torch.Tensor

    def __len__(self) -> int:
        return len(self.tasks)


def make_eval_tasks(n_tasks: int = 1000, k: int = 10, n_eval: int = 100, seed: int = TEST_SEED) -> SineEval:
    """``n_tasks`` new tasks from a fixed seed (the same for every model): ``k`` support points, and
    ``n_eval`` points spread evenly over [-5, 5] to measure the error on the whole curve."""
    g = torch.Generator().manual_seed(seed)
    tasks = sample_tasks(n_tasks, g)
    x_support = sample_inputs(n_tasks, k, g)
    x_eval = torch.linspace(*X_RANGE, n_eval).reshape(1, n_eval, 1).expand(n_tasks, n_eval, 1)
    return SineEval(tasks, x_support, tasks(x_support), x_eval, tasks(x_eval))


def finetune_curves(model: nn.Module, data: SineEval, steps: int = 10, lr: float = INNER_LR) -> torch.Tensor:
    """Fine-tune ``model`` on each task's support points with ``steps`` plain gradient steps of size ``lr``;
    the MSE on the evaluation points after 0, 1, ..., ``steps`` steps: ``[n_tasks, steps + 1]``.

    Every task starts from the same (unchanged) parameters; the tasks are vectorised with ``vmap``.
    """
    params = {k: v.detach() for k, v in model.named_parameters()}

    def one_task(xs, ys, xe, ye):
        p, errors = params, []
        for step in range(steps + 1):
            errors.append(F.mse_loss(functional_call(model, p, (xe,)), ye))
            if step < steps:
                p = functional_inner_loop(model, p, xs, ys, F.mse_loss, 1, lr, first_order=True)
        return torch.stack(errors)

    return torch.func.vmap(one_task)(data.x_support, data.y_support, data.x_eval, data.y_eval)


def predictions_after(model: nn.Module, x_support: torch.Tensor, y_support: torch.Tensor, x: torch.Tensor,
                      steps: int, lr: float = INNER_LR) -> torch.Tensor:
    """One task: the model's predictions at ``x`` after ``steps`` gradient steps on the support points."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    adapted = functional_inner_loop(model, params, x_support, y_support, F.mse_loss, steps, lr, first_order=True)
    with torch.no_grad():
        return functional_call(model, adapted, (x,))


def tune_step_size(model: nn.Module, grid=(0.001, 0.003, 0.01, 0.02, 0.05, 0.1), k: int = 10, steps: int = 1,
                   n_tasks: int = 200) -> float:
    """The step size of ``grid`` with the lowest mean MSE after ``steps`` steps on validation tasks (another
    seed than the test tasks): the paper's "automatically tuned step size" for the pretrained baseline."""
    val = make_eval_tasks(n_tasks, k, seed=VAL_SEED)
    errors = {lr: finetune_curves(model, val, steps, lr)[:, steps].mean().item() for lr in grid}
    return min(errors, key=lambda lr: (math.inf if math.isnan(errors[lr]) else errors[lr]))


def summarise(curves: torch.Tensor) -> dict:
    """Mean MSE and 95% interval (1.96 std / sqrt(n)) over tasks, after each number of steps."""
    n = curves.shape[0]
    return {"mse": [round(v, 5) for v in curves.mean(0).tolist()],
            "ci95": [round(v, 5) for v in (1.96 * curves.std(0) / math.sqrt(n)).tolist()], "tasks": n}


# ---------------------------------------------------------------------------------------------------------
# Figures


def plot_fits(models: dict, task_index: int = 0, data: SineEval | None = None, steps=(1, 10), lrs=None):
    """The paper's figure 2: for each model (``{"MAML": model, "pretrained": model}``) the true sine, the
    ``k`` support points, and the predictions before adaptation and after each number of ``steps``."""
    import matplotlib.pyplot as plt

    data = data or make_eval_tasks(task_index + 1)
    lrs = lrs or {}
    xs, ys = data.x_support[task_index], data.y_support[task_index]
    x = torch.linspace(*X_RANGE, 200).reshape(-1, 1)
    truth = data.tasks[task_index](x[None])[0]
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.8), squeeze=False, sharey=True)
    for ax, (name, model) in zip(axes[0], models.items()):
        lr = lrs.get(name, INNER_LR)
        ax.plot(x, truth, color="tab:red", lw=2, label="ground truth")
        with torch.no_grad():
            ax.plot(x, model(x), ls=":", color="tab:green", label="pre-update")
        for s, color in zip(steps, ("tab:cyan", "tab:blue", "tab:purple")):
            ax.plot(x, predictions_after(model, xs, ys, x, s, lr), ls="--", color=color,
                    label=f"{s} grad step{'s' if s > 1 else ''}")
        ax.scatter(xs[:, 0], ys[:, 0], marker="^", color="black", zorder=3, label=f"{len(xs)} points used")
        ax.set_title(f"{name} (step size {lr:g})")
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_loss_vs_steps(results: dict, title: str | None = None):
    """The paper's figure 3 (left): mean squared error on new tasks against the number of gradient steps,
    with 95% intervals; ``results`` maps a label to :func:`summarise`'s dict."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, r in results.items():
        mse, ci = torch.tensor(r["mse"]), torch.tensor(r["ci95"])
        steps = torch.arange(len(mse))
        ax.plot(steps, mse, marker="o", label=label)
        ax.fill_between(steps, mse - ci, mse + ci, alpha=0.2)
    ax.set_xlabel("number of gradient steps")
    ax.set_ylabel("mean squared error")
    ax.set_title(title or "k-shot regression on new sines")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# The whole experiment


def run_experiment(iterations: int = 20_000, k: int = 10, n_tasks: int = 1000, seed: int = 0,
                   with_first_order: bool = True) -> tuple[dict, dict]:
    """Train MAML (and FOMAML if ``with_first_order``) and the pretrained baseline for ``iterations`` each, then
    fine-tune all on ``n_tasks`` new tasks with ``k`` points for 0..10 steps. Returns ``(models, record)``."""
    models, histories, seconds = {}, {}, {}
    variants = [("MAML", dict(first_order=False))] + ([("FOMAML", dict(first_order=True))] if with_first_order
                                                      else [])
    for name, options in variants:
        t = time.perf_counter()
        models[name], histories[name] = train_maml(iterations, k=k, seed=seed, **options)
        seconds[name] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    models["pretrained"], histories["pretrained"] = train_pretrained(iterations, k=k, seed=seed)
    seconds["pretrained"] = round(time.perf_counter() - t, 1)
    lrs = {name: INNER_LR for name in models}
    lrs["pretrained"] = tune_step_size(models["pretrained"], k=k)
    data = make_eval_tasks(n_tasks, k)
    results = {name: summarise(finetune_curves(m, data, 10, lrs[name])) for name, m in models.items()}
    record = {"k": k, "iterations": iterations, "meta_batch": META_BATCH, "inner_lr": INNER_LR, "seed": seed,
              "eval": {"tasks": n_tasks, "seed": TEST_SEED, "eval_points": data.x_eval.shape[1],
                       "step_sizes": lrs, "pretrained_step_size": "tuned on 200 validation tasks (seed "
                       f"{VAL_SEED}) for the lowest MSE after 1 step"},
              "results": results, "train_seconds": seconds, "history": histories}
    return models, record


def save_models(path, models: dict, step_sizes: dict, command: str = "", k: int = 10) -> None:
    """Write the (small: 1,761 numbers each) sine models as JSON, exactly (float32 values survive the round trip).

    They are not few-shot classifiers, so they are kept out of ``checkpoints/``, beside their results."""
    from fsl_course.io import atomic_write_json

    atomic_write_json({"kind": "sine-wave regression models (fsl_course.toys.sine.SineMLP)", "k": k,
                       "command": command, "step_sizes": step_sizes,
                       "models": {n: {key: v.tolist() for key, v in m.state_dict().items()} for n, m in models.items()}},
                      path)


def load_models(path) -> tuple[dict, dict]:
    """The models written by ``fsl-course sine --out PATH``: ``({name: SineMLP}, step sizes)``."""
    import json
    from pathlib import Path

    blob = json.loads(Path(path).read_text())
    models = {}
    for name, state in blob["models"].items():
        models[name] = SineMLP()
        models[name].load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    return models, blob["step_sizes"]
