"""Evaluation as the papers report it: mean accuracy over fixed test episodes with a 95% interval.

The interval is ``1.96 * std / sqrt(n)`` over the per-episode accuracies. Metric methods are evaluated in
``eval()`` mode, so batch norm uses its running statistics and no query influences another.
:func:`evaluate_checkpoint` scores a saved model on a protocol's fixed test episodes (``fsl-course evaluate``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from fsl_course.episodes import EpisodeSet

#: The protocols: which split trains, selects and tests.
PROTOCOLS = {
    "vinyals": {"train": "vinyals_train", "val": "vinyals_val", "test": "vinyals_test"},
    "background": {"train": "background", "val": None, "test": "evaluation"},
    "mini": {"train": "mini_train", "val": "mini_val", "test": "mini_test"},
}
#: The four standard settings (way, shot) the papers report on Omniglot.
SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))
#: The two on mini-ImageNet (and on photos in general).
PHOTO_SETTINGS = ((5, 1), (5, 5))


def setting_name(way: int, shot: int) -> str:
    return f"{way}-way {shot}-shot"


def parse_setting(name: str) -> tuple[int, int]:
    """``"20-way 5-shot"`` -> ``(20, 5)``."""
    way, shot = name.split()
    return int(way.removesuffix("-way")), int(shot.removesuffix("-shot"))


TEST_SEED = 0  # the fixed test episodes every method is scored on
VAL_SEED = 1  # validation episodes (model selection), never the test ones


@dataclass
class EvalResult:
    accuracies: torch.Tensor  # [n_episodes] accuracy of each episode, in [0, 1]
    seconds: float
    description: str = ""

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean()) * 100

    @property
    def ci95(self) -> float:
        n = len(self.accuracies)
        return 1.96 * float(self.accuracies.std(unbiased=True)) / math.sqrt(n) * 100 if n > 1 else float("nan")

    @property
    def ms_per_episode(self) -> float:
        return 1000 * self.seconds / len(self.accuracies)

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.ci95:.2f} %"

    def to_dict(self) -> dict:
        return {"accuracy": round(self.mean, 3), "ci95": round(self.ci95, 3), "episodes": len(self.accuracies),
                "ms_per_episode": round(self.ms_per_episode, 2), "episodes_described": self.description}


def confidence_interval(accuracies: torch.Tensor) -> tuple[float, float]:
    """Mean and 95% half-width, in percent, of per-episode accuracies in [0, 1]."""
    r = EvalResult(torch.as_tensor(accuracies, dtype=torch.float64), 0.0)
    return r.mean, r.ci95


def paired_difference(a, b) -> tuple[float, float]:
    """Mean and 95% half-width, in points, of ``a - b`` episode by episode (accuracies in [0, 1] on the very same
    episodes): the paired comparison, tighter than comparing two intervals."""
    a, b = (torch.as_tensor(getattr(x, "accuracies", x), dtype=torch.float64) for x in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"a paired comparison needs the same episodes: {len(a)} against {len(b)} accuracies")
    return confidence_interval(a - b)


def compare_sentence(name_a: str, a, name_b: str, b) -> str:
    """What the paired difference of two results on the same episodes supports, in words: which is more accurate
    and by how much, or that the difference is within noise (its 95% interval includes 0)."""
    diff, ci = paired_difference(a, b)
    if not math.isfinite(ci) or abs(diff) <= ci:
        return (f"{name_a} and {name_b} differ by {diff:+.2f} ± {ci:.2f} points on the same episodes: within noise "
                "(the 95% interval includes 0)")
    better, worse = (name_a, name_b) if diff > 0 else (name_b, name_a)
    return f"{better} is more accurate than {worse} by {abs(diff):.2f} ± {ci:.2f} points on the same episodes"


@torch.no_grad()
def evaluate(method, episodes: EpisodeSet, device=None, progress: bool = True) -> EvalResult:
    """Accuracy of ``method`` on every episode of ``episodes``, in ``eval()`` mode."""
    device = torch.device(device or "cpu")
    was_training = method.training
    method.eval()
    accs = torch.empty(len(episodes), dtype=torch.float64)
    start = time.perf_counter()
    for i, ep in enumerate(tqdm(episodes, total=len(episodes), desc="evaluating", leave=False,
                                disable=not progress)):
        ep = ep.to(device)
        scores = method.scores(ep.support, ep.support_labels, ep.query)
        accs[i] = (scores.argmax(1) == ep.query_labels).double().mean().item()
    seconds = time.perf_counter() - start
    method.train(was_training)
    return EvalResult(accs, seconds, episodes.describe())


def load_test_split(name: str, preprocess, quiet: bool = True):
    """The split ``name`` as a model with ``preprocess`` reads it: Omniglot at the model's image size,
    mini-ImageNet at its own 84x84."""
    from fsl_course.data import load_split

    return load_split(name, None if name.startswith("mini_") else preprocess.image_size, quiet=quiet)


def evaluate_checkpoint(path, protocol: str = "vinyals", settings=None, n_episodes: int = 1000,
                        query: int = 15, seed=None, device=None, progress: bool = True, split: str | None = None) -> dict:
    """Score a checkpoint on the protocol's fixed test episodes (or on ``split``, e.g. ``folder:PATH``);
    ``{"5-way 1-shot": EvalResult, ...}``. ``settings`` (way, shot) pairs default to the standard ones: the four
    of Omniglot, the two of photos; the default skips what this model cannot do (a 5-way MAML at 20-way), and
    says so, while settings asked for explicitly are scored or refused."""
    from fsl_course.training.checkpoints import load_method

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    method, pre, _ = load_method(path)
    device = torch.device(device or "cpu")
    method.to(device)
    name = split or PROTOCOLS[protocol]["test"]
    test = load_test_split(name, pre, quiet=not progress)
    if test.channels != pre.channels:
        kinds = {1: "greyscale drawings", 3: "colour photos"}
        raise ValueError(f"{path} is a model of {kinds[pre.channels]}, but {test.name!r} holds "
                         f"{kinds[test.channels]}: evaluate it on data like its training data")
    default = settings is None
    if default:
        settings = PHOTO_SETTINGS if test.channels == 3 else SETTINGS
    out = {}
    for way, shot in settings:
        why = method.unsupported(way, shot)
        if why and default:  # the default settings: skip what this model cannot do, and say so
            print(f"skipping {setting_name(way, shot)}: {why}")
            continue
        if why:
            raise ValueError(f"{path} cannot score {setting_name(way, shot)} episodes: it is {why}")
        if way > test.n_classes and default:
            print(f"skipping {setting_name(way, shot)}: {test.name!r} has only {test.n_classes} classes")
            continue
        episodes = EpisodeSet(test.for_device(device), way, shot, query, n_episodes,
                              TEST_SEED if seed is None else seed)
        out[setting_name(way, shot)] = evaluate(method, episodes, device, progress=progress)
    return out
