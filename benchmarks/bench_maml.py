"""Benchmark: one MAML meta-batch, ours (``torch.func.functional_call``) against the ``higher`` library.

A meta-batch here is what one outer step of MAML costs before the optimiser step: 4 tasks, each 5-way 1-shot
(from ``load_omniglot("vinyals_train", 28)``, sampled beforehand with our ``EpisodeSampler``), 5 inner steps of
plain gradient descent (step size 0.4) on the 5 support images, the cross entropy of the queries at the adapted
parameters, and its gradient with respect to the initialisation (each task's loss back-propagated as soon as it
is computed, gradients accumulated, as ``train()`` does). Two query sizes, each a full comparison: **1 query per
class** (5 queries: the MAML paper's meta-training episodes, K queries per class, and this course's MAML
training), and **15 per class** (75 queries: the test episodes' size, where the query pass, the same for every
side, dominates the memory). All sides start from the same Conv-4 + linear head (``MAML(way=5)``, batch norm
with batch statistics; each side its own deep copy) and run the very same tasks. Single process, one thread.
In one run:

* **second order**: ``MAML(..., first_order=False).loss(episode)``, the paper's MAML;
* **first order**: ``first_order=True`` (FOMAML: the inner gradients are constants);
* **ANIL**: ``anil=True`` (second order, the head only is adapted; the body runs once per task);
* **higher, second order**: the same meta-step written with ``higher`` 0.2.1,
  ``higher.innerloop_ctx(model, SGD(lr=0.4), copy_initial_weights=False)`` and ``diffopt.step(loss)``.

Before timing, the script checks that higher's meta-gradient equals ours (second order) on the first meta-batch.

**Time**: wall-clock and process CPU seconds per meta-batch, the sides run in alternating order (A B C D, D C B
A, ...) after one warm-up meta-batch each. **Peak memory**: torch's CPU profiler
(``torch.profiler.profile(activities=[CPU], profile_memory=True)``) records every tensor allocation and free of
one meta-batch; the peak of the running sum of live bytes, above what was allocated before it started, is
reported (tensor storage allocated by torch's CPU allocator; scratch memory an operator frees before it returns
is not seen; the profiler is off while timing).

Run from the repository root:  ``python benchmarks/bench_maml.py [--quick] [--rounds N]``
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F

import higher
from torch.profiler import ProfilerActivity, profile

from fsl_course.data.omniglot import load_omniglot
from fsl_course.episodes import Episode, EpisodeSampler
from fsl_course.methods.maml import MAML

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # when imported (tests) rather than run as a script
    sys.path.insert(0, str(HERE))
from bench_pipeline import Clock, write_atomic  # noqa: E402

WAY, SHOT, TASKS, STEPS, INNER_LR = 5, 1, 4, 5, 0.4
QUERIES = (1, 15)  # queries per class: the paper's meta-training episodes, the test episodes
RESULTS = HERE / "results" / "maml.json"
QUICK_RESULTS = RESULTS.with_name("maml_quick.json")
SIDES = ("second order", "first order", "ANIL", "higher, second order")


def build_sides(steps: int = STEPS, way: int = WAY, backbone_config: dict | None = None) -> dict:
    """The four sides, each a deep copy of one initial model, with its meta-batch function."""
    base = MAML(way=way, inner_steps=steps, inner_lr=INNER_LR, backbone_config=backbone_config).train()
    models = {name: copy.deepcopy(base) for name in SIDES}
    models["first order"].configure(first_order=True)
    models["ANIL"].configure(anil=True)
    return models


def ours_meta_batch(model: MAML, tasks: list[Episode]) -> None:
    for ep in tasks:
        loss, _ = model.loss(ep)
        (loss / len(tasks)).backward()


def higher_meta_batch(model: MAML, tasks: list[Episode], steps: int = STEPS, lr: float = INNER_LR) -> None:
    inner_opt = torch.optim.SGD(model.parameters(), lr=lr)
    for ep in tasks:
        with higher.innerloop_ctx(model, inner_opt, copy_initial_weights=False, track_higher_grads=True) as (
                fmodel, diffopt):
            for _ in range(steps):
                diffopt.step(F.cross_entropy(fmodel(ep.support), ep.support_labels))
            loss = F.cross_entropy(fmodel(ep.query), ep.query_labels)
            (loss / len(tasks)).backward()


def meta_batch_fn(name: str, model: MAML, tasks: list[Episode]):
    def run():
        model.zero_grad(set_to_none=True)
        if name.startswith("higher"):
            higher_meta_batch(model, tasks, model.inner_steps, model.inner_lr)
        else:
            ours_meta_batch(model, tasks)
    return run


def meta_gradients(name: str, model: MAML, tasks: list[Episode]) -> dict:
    meta_batch_fn(name, model, tasks)()
    return {k: p.grad.detach().clone() for k, p in model.named_parameters()}


def check_higher_agrees(models: dict, tasks: list[Episode]) -> float:
    """Max absolute difference between higher's and our second-order meta-gradients (asserted small)."""
    ours = meta_gradients("second order", models["second order"], tasks)
    theirs = meta_gradients("higher, second order", models["higher, second order"], tasks)
    scale = max(g.abs().max().item() for g in ours.values())
    diff = max((ours[k] - theirs[k]).abs().max().item() for k in ours)
    assert diff <= 1e-4 * scale + 1e-6, f"higher's meta-gradient differs from ours by {diff} (scale {scale})"
    return diff


def peak_bytes(fn) -> int:
    """Peak of live tensor bytes allocated by torch (CPU) while ``fn`` runs, from the profiler's memory events."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    changes = []
    for e in prof.events():
        own = e.cpu_memory_usage - sum(c.cpu_memory_usage for c in e.cpu_children)  # not its children's
        if own:
            changes.append((e.time_range.start if own > 0 else e.time_range.end, own))
    live = peak = 0
    for _, delta in sorted(changes):
        live += delta
        peak = max(peak, live)
    return peak


def measure(data, query: int, rounds: int) -> dict:
    """Every side on the same 4 tasks with ``query`` queries per class: gradient check, time, peak memory."""
    sampler = EpisodeSampler(data, WAY, SHOT, query, seed=0)
    tasks = [sampler.sample() for _ in range(TASKS)]
    torch.manual_seed(0)
    models = build_sides()
    diff = check_higher_agrees(models, tasks)
    print(f"{query} queries per class: higher's second-order meta-gradient equals ours (max abs difference "
          f"{diff:.2e})")
    fns = {name: meta_batch_fn(name, models[name], tasks) for name in SIDES}
    for fn in fns.values():  # warm-up
        fn()
    clocks = {name: Clock() for name in SIDES}
    for r in range(rounds):
        for name in (SIDES if r % 2 == 0 else SIDES[::-1]):
            clocks[name].run(fns[name], 1)
    peaks = {name: peak_bytes(fns[name]) for name in SIDES}
    sides = {}
    for name in SIDES:
        c = clocks[name]
        sides[name] = {"meta_batches": c.count, "wall_s_per_meta_batch": round(c.wall / c.count, 4),
                       "cpu_s_per_meta_batch": round(c.cpu / c.count, 4), "peak_mib": round(peaks[name] / 2**20, 2)}
    so, fo, hi = sides["second order"], sides["first order"], sides["higher, second order"]
    cpu, wall = "cpu_s_per_meta_batch", "wall_s_per_meta_batch"
    ratios = {"time_ours_second_order_over_higher_cpu": round(so[cpu] / hi[cpu], 3),
              "time_ours_second_order_over_higher_wall": round(so[wall] / hi[wall], 3),
              "memory_first_over_second_order": round(fo["peak_mib"] / so["peak_mib"], 3),
              "memory_ours_second_order_over_higher": round(so["peak_mib"] / hi["peak_mib"], 3)}
    return {"query": query, "higher_gradient_max_abs_diff": diff, "sides": sides, "ratios": ratios}


def setting_name(query: int) -> str:
    return f"5-way 1-shot, {query} quer{'y' if query == 1 else 'ies'} per class"


def run(quick: bool, rounds: int, out: Path) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = load_omniglot("vinyals_train", 28, quiet=True)
    settings = {setting_name(q): measure(data, q, rounds) for q in QUERIES}
    results = {
        "setting": {"way": WAY, "shot": SHOT, "queries_per_class": list(QUERIES), "tasks": TASKS,
                    "inner_steps": STEPS, "inner_lr": INNER_LR, "model": "Conv-4 (64 channels, batch norm with "
                    "batch statistics) + linear head, MAML(way=5)", "split": "vinyals_train", "rounds": rounds,
                    "quick": quick},
        "memory_measured_with": "torch.profiler (CPU, profile_memory=True): peak of live tensor bytes during one "
                                "meta-batch, above the start",
        "settings": settings,
        "env": {"python": platform.python_version(), "torch": torch.__version__, "higher": metadata.version("higher"),
                "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(), "platform": platform.platform()},
        "total_s": round(time.perf_counter() - start, 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    for name, r in settings.items():
        ra = r["ratios"]
        print(f"\n{name}\n{table(r)}")
        print(f"ours (second order) / higher: {ra['time_ours_second_order_over_higher_cpu']:.2f}x the CPU time "
              f"(goal <= 1); first / second order peak memory: {ra['memory_first_over_second_order']:.2f} "
              f"(goal <= 0.5)")
    print(f"total {results['total_s']:.0f} s")
    write_atomic(results, out)
    print(f"wrote {out}")
    return results


def table(setting: dict) -> str:
    rows = [("", "wall s / meta-batch", "CPU s / meta-batch", "peak MiB")]
    for name, s in setting["sides"].items():
        rows.append((name, f"{s['wall_s_per_meta_batch']:.3f}", f"{s['cpu_s_per_meta_batch']:.3f}",
                     f"{s['peak_mib']:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one round (smoke test); writes maml_quick.json")
    p.add_argument("--rounds", type=int, default=None, help="timed meta-batches per side (default 6; quick 1)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 6)
    run(args.quick, rounds, args.out or (QUICK_RESULTS if args.quick else RESULTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
