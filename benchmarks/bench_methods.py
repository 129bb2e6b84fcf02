"""Benchmark: this course's three metric methods (ProtoNet, Matching Networks, Relation Networks) against easyfsl.

Each method is built twice on the same Conv-4 backbone, from identical initial weights (each side its own deep
copy), and both sides run on the very same episodes, sampled beforehand from our ``EpisodeSampler`` on
``load_omniglot("vinyals_train", 28)``, so only the model is timed. Single process, one thread
(``torch.set_num_threads(1)``), in one run:

1. **Training**: episodes per second, one episode being forward + loss + backward + Adam step (lr 1e-3), at
   the settings our models are trained with: 20-way 1-shot 15-query (ProtoNet, Matching Networks), 20-way
   1-shot 10-query (Relation Networks).
2. **Test**: milliseconds per 5-way 1-shot 15-query episode, eval mode, under ``torch.no_grad()``: the scores
   of all 75 queries.

The pairs, and their losses:

* ProtoNet: ours ``ProtoNet().loss(episode)`` (cross entropy on minus squared distances); easyfsl's
  ``PrototypicalNetworks(backbone)``: ``process_support_set`` + ``forward`` + cross entropy (its scores are
  minus the plain, not squared, distances).
* Matching Networks: easyfsl's ``MatchingNetworks(backbone, feature_dimension=64)`` always uses full-context
  embeddings (LSTMs), so it is compared with our ``MatchingNet(fce=True)``; its two LSTMs start from copies of
  ours (same shapes as easyfsl's defaults). easyfsl's ``forward`` returns log-probabilities: cross entropy on
  them, like ours. Our default ``MatchingNet()`` (no FCE, the paper's Omniglot setting) is timed as an extra
  side, "ours, no FCE", which easyfsl has no counterpart for.
* Relation Networks: both on ``Conv4(flatten=False, pool_last=False)`` ([B, 64, 7, 7] feature maps); easyfsl's
  ``RelationNetworks(backbone, feature_dimension=64, relation_module=...)`` gets our ``RelationModule``'s own
  (copied) layers as an ``nn.Sequential``, so the architecture and weights are the same; the script asserts
  that both give the same scores on one episode before timing. Loss: MSE to the one-hot targets, as in the
  paper and ours. Ours convolves each class and each query once with the split first-conv weight; easyfsl
  concatenates every (class, query) pair first.

The machine this runs on may be shared, so the sides of a method are measured in alternating blocks (ABBA
order: A B, B A, ...; with three sides A B C, C B A, ...) and the ratios, measured in the same run, are what to
compare; wall-clock and process CPU time are both reported (CPU time is less disturbed by other processes).
Results go to ``benchmarks/results/methods.json``.

Run from the repository root:  ``python benchmarks/bench_methods.py [--quick] [--episodes N] [--test-episodes N]``
"""

from __future__ import annotations

import argparse
import copy
import inspect
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from easyfsl.methods import MatchingNetworks, PrototypicalNetworks, RelationNetworks

from fsl_course.data.omniglot import load_omniglot
from fsl_course.episodes import Episode, EpisodeSampler
from fsl_course.methods.matching import MatchingNet
from fsl_course.methods.protonet import ProtoNet
from fsl_course.methods.relation import RelationNet

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # when imported (tests) rather than run as a script
    sys.path.insert(0, str(HERE))
from bench_pipeline import Clock, _num, write_atomic  # noqa: E402

SPLIT, SIZE, LR = "vinyals_train", 28, 1e-3
TRAIN_SETTINGS = {"protonet": (20, 1, 15), "matching": (20, 1, 15), "relation": (20, 1, 10)}  # way, shot, query
TEST_SETTING = (5, 1, 15)
RESULTS = HERE / "results" / "methods.json"
QUICK_RESULTS = RESULTS.with_name("methods_quick.json")
OURS, THEIRS, OURS_NO_FCE = "ours", "easyfsl", "ours, no FCE"


# ---------------------------------------------------------------------------------------------------------
# The two sides of each method

@dataclass
class Side:
    """One model, its optimiser, and how it scores an episode and how it takes one training step."""

    model: nn.Module
    scores: Callable[[Episode], torch.Tensor]  # [n_query, way]
    step: Callable[[Episode], float]  # one forward + loss + backward + Adam step; returns the loss


def _optimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def ours_side(method: nn.Module) -> Side:
    """A course method: ``scores(support, support_labels, query)``, trained on ``loss(episode)``."""
    optimiser = torch.optim.Adam(method.parameters(), lr=LR)
    return Side(method,
                scores=lambda ep: method.scores(ep.support, ep.support_labels, ep.query),
                step=lambda ep: _optimise(optimiser, method.loss(ep)[0]))


def easyfsl_side(model: nn.Module, criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Side:
    """An easyfsl ``FewShotClassifier``: ``process_support_set`` then ``forward(query)``, trained on
    ``criterion(scores, query_labels)``."""
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)

    def scores(ep: Episode) -> torch.Tensor:
        model.process_support_set(ep.support, ep.support_labels)
        return model(ep.query)

    return Side(model, scores=scores, step=lambda ep: _optimise(optimiser, criterion(scores(ep), ep.query_labels)))


def mse_to_one_hot(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The Relation Network paper's loss (and ours): mean squared error to the one-hot targets."""
    return F.mse_loss(scores, F.one_hot(labels, scores.shape[1]).to(scores.dtype))


def easyfsl_relation_module(ours: RelationNet) -> nn.Sequential:
    """Our ``RelationModule`` as the ``nn.Sequential`` easyfsl's ``RelationNetworks`` applies to each
    concatenated (class, query) pair: copies of our layers, so the same architecture and the same weights."""
    r = copy.deepcopy(ours.relation)
    return nn.Sequential(r.block1, r.block2, nn.Flatten(), r.fc1, nn.ReLU(), r.fc2, nn.Sigmoid())


def build_protonet() -> dict[str, Side]:
    ours = ProtoNet()
    return {OURS: ours_side(ours),
            THEIRS: easyfsl_side(PrototypicalNetworks(copy.deepcopy(ours.backbone)), F.cross_entropy)}


def build_matching() -> dict[str, Side]:
    ours = MatchingNet(fce=True)
    fce = copy.deepcopy(ours.fce)  # easyfsl's default encoders have these very shapes: start from our weights
    theirs = MatchingNetworks(copy.deepcopy(ours.backbone), feature_dimension=ours.backbone.output_dim(),
                              support_encoder=fce.support_lstm, query_encoder=fce.query_cell)
    plain = MatchingNet()
    plain.backbone = copy.deepcopy(ours.backbone)
    # easyfsl's forward returns log-probabilities; cross entropy on them, as ours does on its log p scores
    return {OURS: ours_side(ours), THEIRS: easyfsl_side(theirs, F.cross_entropy), OURS_NO_FCE: ours_side(plain)}


def build_relation() -> dict[str, Side]:
    ours = RelationNet()
    channels = ours.backbone.config["hidden"]
    theirs = RelationNetworks(copy.deepcopy(ours.backbone), feature_dimension=channels,
                              relation_module=easyfsl_relation_module(ours))
    return {OURS: ours_side(ours), THEIRS: easyfsl_side(theirs, mse_to_one_hot)}


BUILDERS = {"protonet": build_protonet, "matching": build_matching, "relation": build_relation}


def eval_scores(sides: dict[str, Side], episode: Episode) -> dict[str, torch.Tensor]:
    """Every side's scores on ``episode`` in eval mode, without gradients (the models are left in eval mode)."""
    out = {}
    with torch.no_grad():
        for name, side in sides.items():
            side.model.eval()
            out[name] = side.scores(episode)
    return out


def check_same_start(name: str, sides: dict[str, Side], episode: Episode) -> dict:
    """Before any step: the backbones are identical copies, and the two relation networks agree."""
    with torch.no_grad():
        features = [side.model.eval().backbone(episode.query) for side in sides.values()]
    assert all(torch.equal(features[0], f) for f in features[1:]), f"{name}: the backbones differ"
    out = {"same_backbone_output": True}
    if name == "relation":
        s = eval_scores(sides, episode)
        torch.testing.assert_close(s[THEIRS], s[OURS], rtol=0, atol=1e-5)
        out["relation_scores_max_abs_diff"] = (s[THEIRS] - s[OURS]).abs().max().item()
    return out


# ---------------------------------------------------------------------------------------------------------
# Timing

def rotate(fns: dict[str, Callable[[], object]], block: int, rounds: int) -> dict[str, Clock]:
    """Run each function ``block`` times per round, the sides in order on even rounds and in reverse order on odd
    ones (ABBA for two sides)."""
    clocks = {name: Clock() for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            clocks[name].run(fns[name], block)
    return clocks


def summary(clocks: dict[str, Clock], extra: dict[str, dict] | None = None) -> dict:
    """Rates (and milliseconds per episode) of every side, and each of our sides' ratios to easyfsl's."""
    sides = {}
    for name, clock in clocks.items():
        r = clock.rates()
        sides[name] = {**r, "ms_wall": 1000 / r["per_s_wall"], "ms_cpu": 1000 / r["per_s_cpu"],
                       **(extra or {}).get(name, {})}
    theirs = sides[THEIRS]
    ratios = {name: {"wall": s["per_s_wall"] / theirs["per_s_wall"], "cpu": s["per_s_cpu"] / theirs["per_s_cpu"]}
              for name, s in sides.items() if name != THEIRS}
    return {"sides": sides, "ratio_wall": ratios[OURS]["wall"], "ratio_cpu": ratios[OURS]["cpu"],
            "ratios_to_easyfsl": ratios}


def sample(way: int, shot: int, query: int, n: int, data, seed: int) -> list[Episode]:
    sampler = EpisodeSampler(data, way, shot, query, seed=seed)
    return [sampler.sample() for _ in range(n)]


def bench_method(name: str, data, n_train: int, train_block: int, n_test: int, test_block: int, warmup: int,
                 seed: int = 0) -> dict:
    torch.manual_seed(seed)
    sides = BUILDERS[name]()
    train_eps = sample(*TRAIN_SETTINGS[name], warmup + n_train, data, seed)  # the same episodes for every side
    test_eps = sample(*TEST_SETTING, warmup + n_test, data, seed)
    checks = check_same_start(name, sides, test_eps[0])

    # training: each side its own iterator over the same episode list, so each sees them in the same order
    losses: dict[str, list[float]] = {s: [] for s in sides}
    its = {s: iter(train_eps) for s in sides}

    def train_fn(s):
        return lambda: losses[s].append(sides[s].step(next(its[s])))

    for side in sides.values():
        side.model.train()
    for _ in range(warmup):
        for s in sides:
            train_fn(s)()
    clocks = rotate({s: train_fn(s) for s in sides}, train_block, max(1, n_train // train_block))
    train = summary(clocks, {s: {"first_loss": v[0], "last_loss": v[-1], "finite": all(map(math.isfinite, v))}
                             for s, v in losses.items()})

    # test: eval mode, no gradients, scores for all queries
    its = {s: iter(test_eps) for s in sides}
    with torch.no_grad():
        for side in sides.values():
            side.model.eval()
        for _ in range(warmup):
            for s in sides:
                sides[s].scores(next(its[s]))
        clocks = rotate({s: (lambda s=s: sides[s].scores(next(its[s]))) for s in sides}, test_block,
                        max(1, n_test // test_block))
    test = summary(clocks)
    return {"train": {"setting": setting(TRAIN_SETTINGS[name]), **train},
            "test": {"setting": setting(TEST_SETTING), **test}, "checks": checks}


def setting(s: tuple[int, int, int]) -> str:
    return "{}-way {}-shot {}-query".format(*s)


# ---------------------------------------------------------------------------------------------------------
# Report

LABELS = {"protonet": {OURS: "protonet"}, "relation": {OURS: "relation"},
          "matching": {OURS: "matching with FCE", OURS_NO_FCE: "matching without FCE (ours only)"}}


def table(results: dict) -> str:
    rows = [("", OURS, THEIRS, "speedup ours/theirs")]
    for name, r in results["methods"].items():
        for side, label in LABELS[name].items():
            for part, unit, key in (("train", "episodes/s", "per_s"), ("test", "ms/episode", "ms")):
                for clock in ("wall", "cpu"):
                    ours = r[part]["sides"][side][f"{key}_{clock}"]
                    ratio = r[part]["ratios_to_easyfsl"][side][clock]
                    paired = side == OURS
                    theirs = _num(r[part]["sides"][THEIRS][f"{key}_{clock}"]) if paired else "-"
                    rows.append((f"{label}: {part} {unit} ({clock.replace('cpu', 'CPU')})", _num(ours), theirs,
                                 f"{ratio:.2f}x" if paired else "-"))
            t = r["train"]["sides"]
            rows.append((f"{label}: train loss first/last", f"{t[side]['first_loss']:.3f}/{t[side]['last_loss']:.3f}",
                         f"{t[THEIRS]['first_loss']:.3f}/{t[THEIRS]['last_loss']:.3f}" if side == OURS else "-", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]).rstrip()
             for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=60, help="training episodes timed per side and method")
    p.add_argument("--test-episodes", type=int, default=200, help="test episodes timed per side and method")
    p.add_argument("--quick", action="store_true", help="a few episodes, to smoke-test the script")
    p.add_argument("--out", type=Path, help=f"JSON results file (default: {RESULTS}, or {QUICK_RESULTS.name} "
                   "beside it with --quick, so a smoke test never overwrites real results)")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.test_episodes < 1:
        p.error("--episodes and --test-episodes must be at least 1")
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)

    torch.set_num_threads(1)
    if args.quick:
        cfg = dict(n_train=min(args.episodes, 2), train_block=1, n_test=min(args.test_episodes, 4), test_block=2,
                   warmup=1)
    else:
        cfg = dict(n_train=args.episodes, train_block=min(5, args.episodes), n_test=args.test_episodes,
                   test_block=min(25, args.test_episodes), warmup=2)

    start = time.perf_counter()
    data = load_omniglot(SPLIT, SIZE, quiet=True)
    methods = {}
    for name in BUILDERS:
        print(f"{name}: training {setting(TRAIN_SETTINGS[name])}, test {setting(TEST_SETTING)} ...", flush=True)
        methods[name] = bench_method(name, data, **cfg)
    fce_steps = {"ours": inspect.signature(MatchingNet).parameters["fce_steps"].default,
                 "easyfsl": "len(support): {} in training, {} in test".format(
                     math.prod(TRAIN_SETTINGS["matching"][:2]), math.prod(TEST_SETTING[:2]))}
    results = {
        "methods": methods,
        "config": {"split": SPLIT, "image_size": SIZE, "lr": LR, "train_settings": TRAIN_SETTINGS,
                   "test_setting": TEST_SETTING, "quick": args.quick, "threads": torch.get_num_threads(),
                   "matching_fce_steps": fce_steps, **cfg},
        "env": {"python": platform.python_version(), "torch": torch.__version__,
                "easyfsl": metadata.version("easyfsl"), "cpus": os.cpu_count(), "cpu_model": cpu_model(),
                "machine": platform.machine(), "loadavg_at_end": os.getloadavg(), "platform": platform.platform()},
        "total_s": time.perf_counter() - start,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print()
    print(table(results))
    ratios = ", ".join(f"{n} {m['train']['ratio_cpu']:.2f}x / {m['test']['ratio_cpu']:.2f}x"
                       for n, m in methods.items())
    print(f"\nspeedup ours/easyfsl (CPU time), train / test: {ratios}; total {results['total_s']:.0f} s")
    write_atomic(results, out)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
