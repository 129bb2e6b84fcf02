"""Benchmark: this course's episode pipeline and ProtoNet step against the common torchvision + easyfsl setup.

Two measurements, both single-process, one thread (``torch.set_num_threads(1)``), in one run:

1. **Data**: episodes per second delivered *ready for the model* (float image tensors + labels for a
   20-way 5-shot 15-query episode, 28x28 greyscale, i.e. 400 images):

   * ours: ``load_omniglot("background")`` (all images decoded once into a uint8 tensor in memory, cached on
     disk) + ``EpisodeSampler(data, 20, 5, 15).sample()``, which only gathers indices. The one-time load is
     reported separately: from the on-disk cache (every run after the first), and, unless ``--quick``, cold
     (decoding the PNGs into a fresh temporary cache, as on first use).
   * theirs: ``torchvision.datasets.Omniglot`` with ``Compose([Resize(28), ToTensor()])`` + easyfsl's
     ``TaskSampler`` + ``DataLoader(batch_sampler=..., collate_fn=sampler.episodic_collate_fn,
     num_workers=0)``, which opens, decodes and resizes 400 PNG files for every episode.

2. **Training**: ProtoNet training episodes per second on the same Conv-4 backbone (same initial weights,
   each method its own copy) and the very same pre-sampled episodes, so only the model step is timed:
   ours is ``ProtoNet.loss(episode)`` + Adam step; easyfsl's is ``PrototypicalNetworks(backbone)``:
   ``process_support_set`` + ``forward`` + cross-entropy + Adam step.

The machine this runs on may be shared, so the two sides are measured in alternating blocks (ABBA order)
and the ratios, measured in the same run, are what to compare; wall-clock and process CPU time are both
reported (CPU time is less disturbed by other processes). Results go to ``benchmarks/results/pipeline.json``.

Run from the repository root:  ``python benchmarks/bench_pipeline.py [--quick] [--episodes N]``
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import transforms

from easyfsl.methods import PrototypicalNetworks
from easyfsl.samplers import TaskSampler

from fsl_course.backbones import Conv4
from fsl_course.data.download import omniglot_root
from fsl_course.data.omniglot import load_omniglot
from fsl_course.episodes import EpisodeSampler
from fsl_course.methods.protonet import ProtoNet

WAY, SHOT, QUERY, SIZE = 20, 5, 15, 28
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"
QUICK_RESULTS = RESULTS.with_name("pipeline_quick.json")


# ---------------------------------------------------------------------------------------------------------
# The torchvision + easyfsl pipeline, with the two workarounds it needs today.

class _IgnoreDataSource(Sampler):
    """Pitfall: easyfsl 1.5.0's ``TaskSampler.__init__`` calls ``super().__init__(data_source=None)``, but
    recent torch's ``Sampler`` has no ``__init__`` of its own, so that reaches ``object.__init__`` and fails
    with ``TypeError: object.__init__() takes exactly one argument``. Placed after ``TaskSampler`` in the
    method resolution order (see ``FixedTaskSampler``), this class receives that call and ignores it, without
    patching torch globally."""

    def __init__(self, data_source=None):
        pass


class FixedTaskSampler(TaskSampler, _IgnoreDataSource):
    """easyfsl's ``TaskSampler``, unchanged, except that its ``super().__init__`` call lands on
    ``_IgnoreDataSource`` (MRO: FixedTaskSampler, TaskSampler, _IgnoreDataSource, Sampler, ...)."""


class FolderOmniglot(torchvision.datasets.Omniglot):
    """Pitfall: even with ``download=False``, torchvision's Omniglot checks the MD5 of
    ``root/omniglot-py/images_background.zip`` and refuses to load extracted images without the zip. Check
    that the extracted folder is there instead."""

    def _check_integrity(self) -> bool:
        return os.path.isdir(os.path.join(self.root, self._get_target_folder()))


class WithLabels(Dataset):
    """torchvision's Omniglot plus the ``get_labels()`` that easyfsl's ``TaskSampler`` needs."""

    def __init__(self, omniglot: torchvision.datasets.Omniglot):
        self.omniglot = omniglot

    def __len__(self):
        return len(self.omniglot)

    def __getitem__(self, i):
        return self.omniglot[i]

    def get_labels(self) -> list[int]:
        return [character for _, character in self.omniglot._flat_character_images]


def torchvision_loader(tmp: Path, n_tasks: int) -> DataLoader:
    """torchvision expects ``root/omniglot-py/images_background``: point a symlink at our extracted copy."""
    (tmp / "omniglot-py").mkdir(exist_ok=True)
    link = tmp / "omniglot-py" / "images_background"
    if not link.exists():
        link.symlink_to(omniglot_root() / "images_background", target_is_directory=True)
    data = FolderOmniglot(str(tmp), background=True, download=False,
                          transform=transforms.Compose([transforms.Resize(SIZE), transforms.ToTensor()]))
    dataset = WithLabels(data)
    sampler = FixedTaskSampler(dataset, n_way=WAY, n_shot=SHOT, n_query=QUERY, n_tasks=n_tasks)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=sampler.episodic_collate_fn, num_workers=0)


# ---------------------------------------------------------------------------------------------------------
# Timing helpers

class Clock:
    """Accumulates wall-clock and process CPU seconds over several timed blocks."""

    def __init__(self):
        self.wall = self.cpu = 0.0
        self.count = 0

    def run(self, fn, n: int) -> None:
        w, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        self.count += n

    def rates(self) -> dict:
        return {"episodes": self.count, "wall_s": round(self.wall, 3), "cpu_s": round(self.cpu, 3),
                "per_s_wall": self.count / self.wall, "per_s_cpu": self.count / self.cpu}


def alternate(ours, theirs, n_ours: int, n_theirs: int, rounds: int) -> tuple[Clock, Clock]:
    """Run ``ours`` n_ours times and ``theirs`` n_theirs times per round, in ABBA order across rounds."""
    a, b = Clock(), Clock()
    for r in range(rounds):
        if r % 2 == 0:
            a.run(ours, n_ours)
            b.run(theirs, n_theirs)
        else:
            b.run(theirs, n_theirs)
            a.run(ours, n_ours)
    return a, b


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


# ---------------------------------------------------------------------------------------------------------
# 1. Data pipelines

def bench_data(n_ours: int, n_theirs: int, rounds: int, cold: bool) -> dict:
    # ours: the one-time load, from the on-disk cache and (optionally) cold, decoding the PNGs
    data, load_wall, load_cpu = timed(lambda: load_omniglot("background", quiet=True))
    cold_wall = cold_cpu = None
    if cold:
        with tempfile.TemporaryDirectory() as tmp:  # a fresh root, so the shared cache is neither used nor touched
            (Path(tmp) / "omniglot").mkdir()
            (Path(tmp) / "omniglot" / "images_background").symlink_to(omniglot_root() / "images_background")
            _, cold_wall, cold_cpu = timed(lambda: load_omniglot("background", root=tmp, download=False, quiet=True))
    sampler = EpisodeSampler(data, WAY, SHOT, QUERY, seed=0)

    with tempfile.TemporaryDirectory() as tmp:
        n_tasks = 2 + rounds * n_theirs  # warm-up + measured
        loader, tv_wall, tv_cpu = timed(lambda: torchvision_loader(Path(tmp), n_tasks))
        batches = iter(loader)

        # both must deliver the same thing: float images [N*K|N*Q, 1, 28, 28] and labels 0..N-1
        ep = sampler.sample()
        s, sl, q, ql, _ = next(batches)
        for x, y in ((ep.support, s), (ep.query, q)):
            assert x.shape == y.shape == (len(x), 1, SIZE, SIZE) and x.dtype == y.dtype == torch.float32, (x.shape, y.shape)
        assert sorted(ep.support_labels.tolist()) == sorted(sl.tolist()) and len(ep.query_labels) == len(ql)

        for _ in range(5):
            sampler.sample()
        next(batches)
        ours, theirs = alternate(sampler.sample, lambda: next(batches), n_ours, n_theirs, rounds)

    return {
        "ours": {**ours.rates(), "load_cached_wall_s": load_wall, "load_cached_cpu_s": load_cpu,
                 "load_cold_wall_s": cold_wall, "load_cold_cpu_s": cold_cpu},
        "theirs": {**theirs.rates(), "setup_wall_s": tv_wall, "setup_cpu_s": tv_cpu},
        "ratio_wall": ours.rates()["per_s_wall"] / theirs.rates()["per_s_wall"],
        "ratio_cpu": ours.rates()["per_s_cpu"] / theirs.rates()["per_s_cpu"],
    }


# ---------------------------------------------------------------------------------------------------------
# 2. ProtoNet training step

def bench_train(n_steps: int, block: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = load_omniglot("background", quiet=True)
    sampler = EpisodeSampler(data, WAY, SHOT, QUERY, seed=seed)
    warmup = 2
    episodes = [sampler.sample() for _ in range(warmup + n_steps)]  # the same episodes for both

    ours = ProtoNet()
    ours.backbone = Conv4()
    theirs = PrototypicalNetworks(copy.deepcopy(ours.backbone))  # same initial weights, its own copy
    ours.train(), theirs.train()
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    it_ours, it_theirs = iter(episodes), iter(episodes)
    losses = {"ours": [], "theirs": []}

    def step_ours():
        ep = next(it_ours)
        loss, _ = ours.loss(ep)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()
        losses["ours"].append(loss.item())

    def step_theirs():
        ep = next(it_theirs)
        theirs.process_support_set(ep.support, ep.support_labels)
        loss = F.cross_entropy(theirs(ep.query), ep.query_labels)
        opt_theirs.zero_grad()
        loss.backward()
        opt_theirs.step()
        losses["theirs"].append(loss.item())

    for _ in range(warmup):
        step_ours()
        step_theirs()
    rounds = max(1, n_steps // block)
    a, b = alternate(step_ours, step_theirs, block, block, rounds)
    return {
        "ours": a.rates(), "theirs": b.rates(),
        "ratio_wall": a.rates()["per_s_wall"] / b.rates()["per_s_wall"],
        "ratio_cpu": a.rates()["per_s_cpu"] / b.rates()["per_s_cpu"],
        "first_loss": {"ours": losses["ours"][0], "theirs": losses["theirs"][0]},
        "last_loss": {"ours": losses["ours"][-1], "theirs": losses["theirs"][-1]},
    }


# ---------------------------------------------------------------------------------------------------------

def _num(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def table(r: dict) -> str:
    d, t = r["data"], r["train"]
    rows = [("", "ours", "torchvision+easyfsl", "ours/theirs")]

    def rate(name, section, key):
        ours, theirs = section["ours"][key], section["theirs"][key]
        rows.append((name, _num(ours), _num(theirs), _num(ours / theirs) + "x"))

    rate("data: episodes/s (wall)", d, "per_s_wall")
    rate("data: episodes/s (CPU)", d, "per_s_cpu")
    rows.append(("data: episodes timed", str(d["ours"]["episodes"]), str(d["theirs"]["episodes"]), ""))
    rows.append(("data: one-time load/setup s, cached (wall)", f"{d['ours']['load_cached_wall_s']:.2f}",
                 f"{d['theirs']['setup_wall_s']:.2f} (listing)", ""))
    if d["ours"]["load_cold_wall_s"] is not None:
        rows.append(("data: one-time load s, cold (wall)", f"{d['ours']['load_cold_wall_s']:.1f}", "-", ""))
    rate("train: episodes/s (wall)", t, "per_s_wall")
    rate("train: episodes/s (CPU)", t, "per_s_cpu")
    rows.append(("train: episodes timed", str(t["ours"]["episodes"]), str(t["theirs"]["episodes"]), ""))
    rows.append(("train: loss first/last step", f"{t['first_loss']['ours']:.2f}/{t['last_loss']['ours']:.2f}",
                 f"{t['first_loss']['theirs']:.2f}/{t['last_loss']['theirs']:.2f}", ""))
    return format_table(rows)


def write_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def bench_args(argv, doc: str, episodes: int, results: Path, quick_results: Path):
    """The options every benchmark of this folder takes; sets one thread and seeds ``random`` (easyfsl's
    TaskSampler draws with it). Returns ``(args, the results file)``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=episodes, help="training episodes timed per side")
    p.add_argument("--quick", action="store_true", help="a handful of episodes, to smoke-test the script")
    p.add_argument("--out", type=Path, help=f"JSON results file (default: {results}, or {quick_results.name} "
                   "beside it with --quick, so a smoke test never overwrites real results)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be at least 1")
    torch.set_num_threads(1)
    random.seed(0)
    return args, args.out or (quick_results if args.quick else results)


def bench_env() -> dict:
    """The machine and versions a benchmark ran with (and the load on the machine when it ended)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "easyfsl": metadata.version("easyfsl"), "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
            "platform": platform.platform()}


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of strings (the first one a header) as aligned columns: the first left, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv=None) -> int:
    args, out = bench_args(argv, __doc__, 60, RESULTS, QUICK_RESULTS)
    if args.quick:
        data_cfg = dict(n_ours=10, n_theirs=1, rounds=2, cold=False)  # 20 vs 2 episodes
        train_cfg = dict(n_steps=min(args.episodes, 4), block=2)
    else:
        data_cfg = dict(n_ours=50, n_theirs=5, rounds=4, cold=True)  # 200 vs 20 episodes
        train_cfg = dict(n_steps=args.episodes, block=min(5, args.episodes))

    start = time.perf_counter()
    print(f"data pipelines: {WAY}-way {SHOT}-shot {QUERY}-query, {SIZE}x{SIZE} ...", flush=True)
    data = bench_data(**data_cfg)
    print("ProtoNet training steps ...", flush=True)
    train = bench_train(**train_cfg)
    results = {
        "data": data, "train": train,
        "config": {"way": WAY, "shot": SHOT, "query": QUERY, "image_size": SIZE, "quick": args.quick,
                   "threads": torch.get_num_threads(), "data": data_cfg, "train": train_cfg},
        "env": bench_env(),
        "total_s": time.perf_counter() - start,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print()
    print(table(results))
    print(f"\ndata ratio (ours/theirs, wall): {data['ratio_wall']:.1f}x (goal >= 20x); "
          f"training ratio (wall): {train['ratio_wall']:.2f}x (goal >= 1x); total {results['total_s']:.0f} s")
    write_atomic(results, out)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
