"""The inner-loop stepper (notebook 03): MAML's and the pretrained model's fit of a sine after N gradient steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from fsl_course.viz import FONT, FONT_SMALL, WIDTH, finish, grid_shape
from fsl_course.widgets.base import Explorer, _slider


@dataclass
class InnerLoopView:
    """One sine task after ``steps`` gradient steps on its first ``k`` support points, for each model."""

    task: int
    k: int
    steps: int
    x: torch.Tensor  # [200, 1] where the curves are drawn
    truth: torch.Tensor  # [200, 1] the task's true sine
    x_support: torch.Tensor  # [k, 1]
    y_support: torch.Tensor
    before: dict  # model name -> predictions [200, 1] before adaptation
    after: dict  # model name -> predictions after ``steps`` steps
    mse: dict  # model name -> mean squared error on the whole curve after ``steps`` steps
    step_sizes: dict  # model name -> the step size used


def inner_loop_view(models: Mapping, step_sizes: Mapping | None = None, task: int = 0, k: int = 10,
                    steps: int = 1, max_k: int = 20, n_tasks: int = 20) -> InnerLoopView:
    """Adapt every model of ``models`` (name -> :class:`~fsl_course.toys.sine.SineMLP`) to the first ``k`` support
    points of new sine task number ``task`` with ``steps`` plain gradient steps (each model's step size from
    ``step_sizes``, else the paper's 0.01); the models themselves are not changed."""
    from fsl_course.toys import sine

    if not 1 <= k <= max_k:
        raise ValueError(f"the support set must have between 1 and {max_k} points, got {k}")
    if not 0 <= task < n_tasks:
        raise ValueError(f"task must be between 0 and {n_tasks - 1}, got {task}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    data = sine.make_eval_tasks(n_tasks, k=max_k)  # fixed new tasks: k points = the first k of max_k
    xs, ys = data.x_support[task, :k], data.y_support[task, :k]
    x = torch.linspace(*sine.X_RANGE, 200).reshape(-1, 1)
    truth = data.tasks[task](x[None])[0]
    lrs = {name: (step_sizes or {}).get(name, sine.INNER_LR) for name in models}
    before, after, mse = {}, {}, {}
    for name, model in models.items():
        before[name] = sine.predictions_after(model, xs, ys, x, 0, lrs[name])
        after[name] = sine.predictions_after(model, xs, ys, x, steps, lrs[name])
        mse[name] = float(((after[name] - truth) ** 2).mean())
    return InnerLoopView(task, k, steps, x, truth, xs, ys, before, after, mse, lrs)


def plot_inner_loop_view(view: InnerLoopView):
    """One panel per model (two a row): the true sine, the support points, the fit before and after the inner
    loop."""
    names = list(view.after)
    rows, cols = grid_shape(len(names), 2)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 3.3 * rows), squeeze=False, sharey=True)
    for ax in axes.flat[len(names):]:
        ax.remove()
    for ax, name in zip(axes.flat, names):
        ax.plot(view.x, view.truth, color="tab:red", lw=2, label="ground truth")
        ax.plot(view.x, view.before[name], ls=":", color="tab:green", label="before adapting")
        ax.plot(view.x, view.after[name], ls="--", color="tab:blue",
                label=f"after {view.steps} step{'s' if view.steps != 1 else ''}")
        ax.scatter(view.x_support[:, 0], view.y_support[:, 0], marker="^", color="black", zorder=3,
                   label=f"{view.k} support point{'s' if view.k != 1 else ''}")
        ax.set_title(f"{name} (step size {view.step_sizes[name]:g}):\nMSE {view.mse[name]:.3f}", fontsize=FONT)
        ax.set_xlabel("x", fontsize=FONT)
        ax.tick_params(labelsize=FONT)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=FONT_SMALL, loc="lower left")
    return finish(fig)


class InnerLoopStepper(Explorer):
    """MAML's inner loop on the sine toy: sliders for the number of gradient steps and the support-set size, a
    chooser for the task; every model (MAML and the pretrained baseline) is refitted and redrawn."""

    title = "Inner-loop stepper"

    def __init__(self, models: Mapping, step_sizes: Mapping | None = None, steps: int = 1, k: int = 10,
                 task: int = 0, max_steps: int = 20, max_k: int = 20, n_tasks: int = 20):
        super().__init__()
        self.models, self.step_sizes, self.max_k, self.n_tasks = dict(models), dict(step_sizes or {}), max_k, n_tasks
        self.view: InnerLoopView | None = None
        self.steps_slider = _slider("gradient steps", steps, 0, max(max_steps, steps))
        self.k_slider = _slider("support points K", k, 1, max_k)
        self.task_dropdown = widgets.Dropdown(options=[(f"task {i + 1}", i) for i in range(n_tasks)], value=task,
                                              description="sine")
        for control in (self.steps_slider, self.k_slider, self.task_dropdown):
            control.observe(self.redraw, names="value")
        self._layout(widgets.HBox([self.steps_slider, self.k_slider, self.task_dropdown]))
        self.redraw()

    def update(self) -> None:
        self.view = None
        self.view = inner_loop_view(self.models, self.step_sizes, self.task_dropdown.value, self.k_slider.value,
                                    self.steps_slider.value, self.max_k, self.n_tasks)

    def summary(self) -> str:
        v = self.view
        errors = ", ".join(f"{name} {mse:.3f}" for name, mse in v.mse.items())
        return (f"sine task {v.task + 1}, {v.k} support points, {v.steps} gradient step{'s' if v.steps != 1 else ''}:"
                f" mean squared error on the whole curve {errors}")

    def draw(self):
        return plot_inner_loop_view(self.view)
