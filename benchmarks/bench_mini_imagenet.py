"""Benchmark: mini-ImageNet episodes and the Conv-4 ProtoNet step, against torchvision + easyfsl, and against
this CPU's own matrix-multiply rate.

Everything is 5-way 5-shot 15-query (100 photos of 84x84 RGB an episode), single process, one thread
(``torch.set_num_threads(1)``), in one run:

1. **Data**: episodes per second delivered *ready for the model* (float image tensors + labels 0..N-1):

   * ours: ``load_mini_imagenet("mini_train")`` (every photo decoded once into a uint8 tensor, memory-mapped
     from its on-disk cache) + ``EpisodeSampler(data, 5, 5, 15).sample()``, which gathers indices. The one-time
     load is reported apart: from the cache, and, unless ``--quick``, cold (decoding the 38,400 JPEGs into a
     fresh temporary cache, as on first use);
   * theirs: ``torchvision.datasets.ImageFolder`` (the same JPEGs, one folder per class) with
     ``Compose([Resize(84), ToTensor()])``, easyfsl's ``TaskSampler`` and ``DataLoader(batch_sampler=...,
     collate_fn=sampler.episodic_collate_fn)`` with ``num_workers=0`` and ``num_workers=2``: 100 JPEG files
     opened and decoded for every episode.

2. **Training**: Conv-4 ProtoNet training steps per second on the same backbone (same initial weights, each
   side its own copy, the input normalisation inside it) and the very same pre-sampled episodes: ours is
   ``ProtoNet.loss(episode)`` + Adam; easyfsl's is ``PrototypicalNetworks(backbone)``. Our Conv-4 keeps its
   feature maps channels-last; the same network on the default (contiguous) layout is timed beside it, so
   the choice is measured, not assumed.

3. **How close to the machine's limit**: the floating-point operations of one training step (forward and
   backward, counted by ``torch.utils.flop_counter.FlopCounterMode``) divided by its time, against the rate
   of a dense float32 matrix multiply (2048 x 2048) measured in the same run on the same thread.

The two sides of each comparison are timed in alternating blocks (ABBA order); wall-clock and process CPU time
are both reported, and the ratios are what to compare on a shared machine. Results go to
``benchmarks/results/mini_imagenet.json`` (``mini_imagenet_quick.json`` with ``--quick``).

Run from the repository root, with mini-ImageNet in place (``fsl-course download mini-imagenet --from DIR``)
and easyfsl installed (``pip install -e ".[bench]"``):  ``python benchmarks/bench_mini_imagenet.py [--quick]``
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import ImageFolder

from easyfsl.methods import PrototypicalNetworks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import (Clock, FixedTaskSampler, _num, alternate, bench_args, bench_env,  # noqa: E402
                            format_table, timed, write_atomic)

from fsl_course.data.mini_imagenet import load_mini_imagenet, mini_imagenet_root, read_split_csv  # noqa: E402
from fsl_course.episodes import EpisodeSampler  # noqa: E402
from fsl_course.methods.protonet import ProtoNet  # noqa: E402

WAY, SHOT, QUERY, SIZE = 5, 5, 15, 84
RESULTS = Path(__file__).resolve().parent / "results" / "mini_imagenet.json"
QUICK_RESULTS = RESULTS.with_name("mini_imagenet_quick.json")


class LabelledImageFolder(ImageFolder):
    """torchvision's ImageFolder plus the ``get_labels()`` that easyfsl's ``TaskSampler`` needs."""

    def get_labels(self) -> list[int]:
        return list(self.targets)


def class_folders(tmp: Path) -> Path:
    """ImageFolder's layout (one folder per class) over the course's extracted copy: symlinks, no copies."""
    root = mini_imagenet_root()
    out = tmp / "by_class"
    for name, wnid in read_split_csv(root / "train.csv"):
        (out / wnid).mkdir(parents=True, exist_ok=True)
        (out / wnid / name).symlink_to(root / "images" / name)
    return out


def torchvision_loader(folder: Path, n_tasks: int, workers: int) -> DataLoader:
    data = LabelledImageFolder(str(folder), transform=transforms.Compose([transforms.Resize(SIZE),
                                                                         transforms.ToTensor()]))
    sampler = FixedTaskSampler(data, n_way=WAY, n_shot=SHOT, n_query=QUERY, n_tasks=n_tasks)
    return DataLoader(data, batch_sampler=sampler, collate_fn=sampler.episodic_collate_fn, num_workers=workers)


def bench_data(n_ours: int, n_theirs: int, rounds: int, cold: bool) -> dict:
    data, load_wall, load_cpu = timed(lambda: load_mini_imagenet("mini_train", quiet=True))
    cold_wall = cold_cpu = None
    if cold:  # a fresh root whose images are the shared copy's: the decode and the cache write, as on first use
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "mini-imagenet"
            fresh.mkdir()
            for entry in ("images", "train.csv", "val.csv", "test.csv"):
                (fresh / entry).symlink_to(mini_imagenet_root() / entry)
            _, cold_wall, cold_cpu = timed(lambda: load_mini_imagenet("mini_train", root=tmp, download=False,
                                                                      quiet=True))
    sampler = EpisodeSampler(data, WAY, SHOT, QUERY, seed=0)
    for _ in range(5):
        sampler.sample()
    theirs = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder, listing_wall, _ = timed(lambda: class_folders(Path(tmp)))
        for workers in (0, 2):
            loader, setup_wall, setup_cpu = timed(lambda: torchvision_loader(folder, 4 + rounds * n_theirs,
                                                                             workers))
            batches = iter(loader)
            s, sl, q, ql, _ = next(batches)  # warm-up (and, with workers, their start)
            ep = sampler.sample()
            for x, y in ((ep.support, s), (ep.query, q)):
                assert x.shape == y.shape == (len(x), 3, SIZE, SIZE) and x.dtype == y.dtype, (x.shape, y.shape)
            assert sorted(ep.support_labels.tolist()) == sorted(sl.tolist()) and len(ep.query_labels) == len(ql)
            next(batches)
            a, b = alternate(sampler.sample, lambda: next(batches), n_ours, n_theirs, rounds)
            theirs[f"workers_{workers}"] = {**b.rates(), "ours": a.rates(), "setup_wall_s": setup_wall,
                                            "setup_cpu_s": setup_cpu,
                                            "ratio_wall": a.rates()["per_s_wall"] / b.rates()["per_s_wall"],
                                            "ratio_cpu": a.rates()["per_s_cpu"] / b.rates()["per_s_cpu"]}
            del batches, loader
    ours = Clock()
    ours.run(sampler.sample, n_ours * rounds)
    return {"ours": {**ours.rates(), "load_cached_wall_s": load_wall, "load_cached_cpu_s": load_cpu,
                     "load_cold_wall_s": cold_wall, "load_cold_cpu_s": cold_cpu},
            "theirs": theirs, "class_folder_setup_wall_s": listing_wall}


class ContiguousConv4Forward(torch.nn.Module):
    """The same Conv-4 (shared weights), run on the default contiguous memory layout instead of channels-last."""

    def __init__(self, conv4):
        super().__init__()
        self.conv4 = copy.deepcopy(conv4).to(memory_format=torch.contiguous_format)

    def forward(self, x):
        x = (x - self.conv4.mean) / self.conv4.std
        return self.conv4.blocks(x.contiguous()).flatten(1)


def step_flops(method: ProtoNet, episode) -> int:
    with FlopCounterMode(display=False) as counter:
        loss, _ = method.loss(episode)
        loss.backward()
    method.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_rate(seconds: float = 3.0, n: int = 2048) -> float:
    """Dense float32 matrix-multiply rate of this thread, FLOP/s (best of repeated 2n^3 products)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def bench_train(n_steps: int, block: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = load_mini_imagenet("mini_train", quiet=True)
    sampler = EpisodeSampler(data, WAY, SHOT, QUERY, seed=seed)
    warmup = 2
    episodes = [sampler.sample() for _ in range(warmup + n_steps)]  # the same episodes for every side

    ours = ProtoNet(backbone_config=data.backbone_config())
    contiguous = ProtoNet(backbone_config=data.backbone_config())
    contiguous.backbone = ContiguousConv4Forward(ours.backbone)
    theirs = PrototypicalNetworks(copy.deepcopy(ours.backbone))
    sides = {"ours": ours, "contiguous": contiguous}
    optims = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in sides.items()}
    optims["theirs"] = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    its = {k: iter(episodes) for k in optims}
    losses = {k: [] for k in optims}
    flops = step_flops(copy.deepcopy(ours).train(), episodes[0])

    def ours_step(name):
        def step():
            loss, _ = sides[name].loss(next(its[name]))
            optims[name].zero_grad()
            loss.backward()
            optims[name].step()
            losses[name].append(loss.item())
        return step

    def step_theirs():
        ep = next(its["theirs"])
        theirs.process_support_set(ep.support, ep.support_labels)
        loss = F.cross_entropy(theirs(ep.query), ep.query_labels)
        optims["theirs"].zero_grad()
        loss.backward()
        optims["theirs"].step()
        losses["theirs"].append(loss.item())

    for m in (ours, contiguous, theirs):
        m.train()
    steps = {"ours": ours_step("ours"), "contiguous": ours_step("contiguous"), "theirs": step_theirs}
    for _ in range(warmup):
        for s in steps.values():
            s()
    clocks = {k: Clock() for k in steps}
    order = list(steps)
    for r in range(max(1, n_steps // block)):  # A B C, C B A, ...
        for k in (order if r % 2 == 0 else order[::-1]):
            clocks[k].run(steps[k], block)
    rates = {k: c.rates() for k, c in clocks.items()}
    peak = matmul_rate()
    achieved = flops * rates["ours"]["per_s_wall"]
    return {**rates,
            "ratio_vs_easyfsl_wall": rates["ours"]["per_s_wall"] / rates["theirs"]["per_s_wall"],
            "ratio_vs_easyfsl_cpu": rates["ours"]["per_s_cpu"] / rates["theirs"]["per_s_cpu"],
            "ratio_channels_last_vs_contiguous_wall": rates["ours"]["per_s_wall"] / rates["contiguous"]["per_s_wall"],
            "flops_per_step": flops, "achieved_flop_per_s": achieved, "matmul_flop_per_s": peak,
            "fraction_of_matmul_rate": achieved / peak,
            "first_loss": {k: v[0] for k, v in losses.items()}, "last_loss": {k: v[-1] for k, v in losses.items()}}


def table(r: dict) -> str:
    d, t = r["data"], r["train"]
    rows = [("", "ours", "theirs", "ours/theirs")]
    for w in ("workers_0", "workers_2"):
        th = d["theirs"][w]
        rows.append((f"data: episodes/s, wall (ImageFolder+easyfsl, {w.replace('_', '=')})",
                     _num(th["ours"]["per_s_wall"]), _num(th["per_s_wall"]), _num(th["ratio_wall"]) + "x"))
    rows.append(("data: one-time load s, cached (wall)", f"{d['ours']['load_cached_wall_s']:.2f}", "-", ""))
    if d["ours"]["load_cold_wall_s"] is not None:
        rows.append(("data: one-time load s, cold (wall)", f"{d['ours']['load_cold_wall_s']:.1f}", "-", ""))
    rows.append(("train: steps/s, wall (easyfsl PrototypicalNetworks)", _num(t["ours"]["per_s_wall"]),
                 _num(t["theirs"]["per_s_wall"]), _num(t["ratio_vs_easyfsl_wall"]) + "x"))
    rows.append(("train: steps/s, wall (our Conv-4, contiguous layout)", _num(t["ours"]["per_s_wall"]),
                 _num(t["contiguous"]["per_s_wall"]), _num(t["ratio_channels_last_vs_contiguous_wall"]) + "x"))
    rows.append(("train: GFLOP/s (step) vs dense matmul GFLOP/s", _num(t["achieved_flop_per_s"] / 1e9),
                 _num(t["matmul_flop_per_s"] / 1e9), f"{100 * t['fraction_of_matmul_rate']:.0f} %"))
    return format_table(rows)


def main(argv=None) -> int:
    args, out = bench_args(argv, __doc__, 30, RESULTS, QUICK_RESULTS)
    if args.quick:
        data_cfg = dict(n_ours=10, n_theirs=1, rounds=2, cold=False)
        train_cfg = dict(n_steps=2, block=1)
    else:
        data_cfg = dict(n_ours=100, n_theirs=5, rounds=4, cold=True)
        train_cfg = dict(n_steps=args.episodes, block=min(5, args.episodes))
    start = time.perf_counter()
    print(f"data pipelines: {WAY}-way {SHOT}-shot {QUERY}-query, {SIZE}x{SIZE} RGB ...", flush=True)
    data = bench_data(**data_cfg)
    print("ProtoNet training steps and the matrix-multiply rate ...", flush=True)
    train = bench_train(**train_cfg)
    results = {
        "data": data, "train": train,
        "config": {"way": WAY, "shot": SHOT, "query": QUERY, "image_size": SIZE, "quick": args.quick,
                   "threads": torch.get_num_threads(), "data": data_cfg, "train": train_cfg},
        "env": bench_env(),
        "total_s": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "python benchmarks/bench_mini_imagenet.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    print()
    print(table(results))
    w0 = data["theirs"]["workers_0"]["ratio_wall"]
    print(f"\ndata ratio (wall, 0 workers): {w0:.0f}x (goal >= 20x); training ratio (wall): "
          f"{train['ratio_vs_easyfsl_wall']:.2f}x (goal >= 1x); total {results['total_s']:.0f} s")
    write_atomic(results, out)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
