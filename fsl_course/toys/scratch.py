"""Plain supervised training on one episode's support set: the experiment that shows why few-shot is hard.

A fresh Conv-4 with a linear head is trained by cross entropy on the N*K support images alone, and scored
on the episode's query images after every step. With a handful of images and ~113,000 parameters, the
network soon labels every support image correctly while its query accuracy stays far lower: it memorises
the support set instead of learning what makes a character that character (overfitting).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsl_course.backbones import Conv4
from fsl_course.episodes import Episode


def _measure(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Loss and accuracy (%) of ``model`` on ``images`` in ``eval()`` mode, without gradients."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(images)
        loss = F.cross_entropy(logits, labels).item()
        accuracy = 100 * (logits.argmax(1) == labels).double().mean().item()
    model.train(was_training)
    return loss, accuracy


def train_from_scratch(episode: Episode, steps: int = 100, lr: float = 1e-3, seed: int = 0,
                       weight_decay: float = 0.0, device=None, every: int = 1) -> list[dict]:
    """Train a fresh Conv-4 + linear head on ``episode``'s support set; return the history.

    Each step is one full-batch Adam step on the support set. Before training (step 0) and after every step,
    the model is scored in ``eval()`` mode on the support set (``train_*``) and on the query set (``test_*``):
    ``{"step", "train_loss", "train_accuracy", "test_loss", "test_accuracy"}``, accuracies in %.
    The same ``seed`` gives the same history; the global random state is left as it was. ``every=k`` scores
    only every k-th step (and the last): the same training, fewer measurements (they do not change the model).
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    device = torch.device(device or "cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = Conv4(in_channels=episode.support.shape[1])
        model = nn.Sequential(backbone, nn.Linear(backbone.output_dim(episode.support.shape[-1]), episode.way))
    model.to(device).train()
    ep = episode.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def entry(step: int) -> dict:
        train_loss, train_acc = _measure(model, ep.support, ep.support_labels)
        test_loss, test_acc = _measure(model, ep.query, ep.query_labels)
        return {"step": step, "train_loss": train_loss, "train_accuracy": train_acc, "test_loss": test_loss,
                "test_accuracy": test_acc}

    history = [entry(0)]
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(ep.support), ep.support_labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == steps:
            history.append(entry(step))
    return history


def scratch_accuracies(episodes, steps: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                       seed: int = 0) -> torch.Tensor:
    """The query accuracy (in [0, 1]) after ``steps`` steps of :func:`train_from_scratch` on each episode of
    ``episodes``: one number per episode, for a mean with its 95% interval over many episodes."""
    return torch.tensor([train_from_scratch(ep, steps, lr, seed + i, weight_decay, every=max(steps, 1))[-1]
                         ["test_accuracy"] / 100 for i, ep in enumerate(episodes)], dtype=torch.float64)
