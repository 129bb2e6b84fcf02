"""Benchmark: ``fsl-course train protonet`` in 1 process and in 2 under torchrun, one thread each.

The real command, started as a user starts it (``python -m fsl_course.cli train protonet ...`` and
``python -m torch.distributed.run --nproc_per_node=2 -m fsl_course.cli train protonet ...``), on the same
settings: 20-way 1-shot 15-query episodes of ``vinyals_train`` (28x28), a meta-batch of 2 episodes per Adam
step in both (in 2 processes: one episode each, the gradients all-reduced), no validation. Episodes per second
are the episodes trained over the training loop's own seconds (the record's ``train_seconds``: rank 0's loop,
all-reduces and waits included, start-up and data loading not); the whole command's wall-clock and CPU seconds
are reported beside them. The two sides alternate (1, 2, 2, 1, ...), and the ratio, 2 processes over 1, is
measured in the same run: on a shared machine compare it rather than the absolute numbers.

Run from the repository root, with Omniglot downloaded:
``python benchmarks/bench_distributed.py [--quick] [--episodes N] [--rounds R] [--device cpu|cuda]``.
Results go to ``benchmarks/results/distributed.json`` (``distributed_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from fsl_course.io import atomic_write_json, read_json

RESULTS = Path(__file__).resolve().parent / "results" / "distributed.json"
QUICK_RESULTS = RESULTS.with_name("distributed_quick.json")
PROCESSES = (1, 2)


def command(processes: int, out: Path, args) -> list[str]:
    """The training command, under torchrun for more than one process."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                 "--standalone"] if processes > 1 else [sys.executable])  # standalone: a free local port
    return [*launcher, "-m", "fsl_course.cli", "train", "protonet", "--out", str(out), "--train-split",
            args.train_split, "--val-split", "none", "--way", str(args.way), "--shot", "1", "--query", "15",
            "--episodes", str(args.episodes), "--val-every", str(args.episodes), "--meta-batch", "2",
            "--threads", "1", "--device", args.device, "--no-resume"]


def run_once(processes: int, args, folder: Path) -> dict:
    """One training run; its episodes per second (training loop) and the command's wall and CPU seconds."""
    out = folder / f"protonet_{processes}.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command(processes, out, args), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"the {processes}-process run failed:\n{done.stderr[-3000:]}")
    record = read_json(out.with_suffix(".json"))
    if record["world_size"] != processes:
        raise RuntimeError(f"a {processes}-process run recorded world_size {record['world_size']}")
    return {"episodes": record["episodes_done"], "train_seconds": record["train_seconds"],
            "episodes_per_s": record["episodes_done"] / max(record["train_seconds"], 1e-9),
            "command_wall_s": wall,
            "command_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "device": record["device"]}


def bench(args) -> dict:
    runs = {n: [] for n in PROCESSES}
    with tempfile.TemporaryDirectory(prefix="bench_distributed_") as folder:
        for r in range(args.rounds):
            for n in (PROCESSES if r % 2 == 0 else PROCESSES[::-1]):  # 1 2, 2 1, ...: the load falls on both
                print(f"round {r + 1}/{args.rounds}: {n} process(es) ...", flush=True)
                runs[n].append(run_once(n, args, Path(folder)))
    sides = {n: {"runs": rs, "episodes_per_s": statistics.median(x["episodes_per_s"] for x in rs),
                 "command_wall_s": statistics.median(x["command_wall_s"] for x in rs),
                 "command_cpu_s": statistics.median(x["command_cpu_s"] for x in rs)} for n, rs in runs.items()}
    return {"sides": {str(n): s for n, s in sides.items()},
            "ratio_2_over_1": sides[2]["episodes_per_s"] / sides[1]["episodes_per_s"]}


def env() -> dict:
    """The machine and versions (and the load on the machine when the benchmark ended)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "loadavg_at_end": os.getloadavg(), "platform": platform.platform()}


def table(results: dict) -> str:
    rows = [("processes", "episodes/s (loop)", "command wall s", "command CPU s")]
    rows += [(n, f"{s['episodes_per_s']:.2f}", f"{s['command_wall_s']:.1f}", f"{s['command_cpu_s']:.1f}")
             for n, s in results["sides"].items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a handful of 5-way episodes, to smoke-test the script")
    p.add_argument("--episodes", type=int, default=200, help="training episodes per run (even: meta-batch 2)")
    p.add_argument("--rounds", type=int, default=2, help="runs per side, alternating")
    p.add_argument("--way", type=int, default=20, help="classes per training episode")
    p.add_argument("--train-split", default="vinyals_train", help="the training split")
    p.add_argument("--device", default="cpu", help="cpu, or cuda (then NCCL, one GPU a process)")
    p.add_argument("--out", type=Path, help=f"JSON results file (default: {RESULTS}, or {QUICK_RESULTS.name} with "
                   "--quick, so a smoke test never overwrites real results)")
    args = p.parse_args(argv)
    if args.quick:
        args.episodes, args.rounds, args.way = 8, 1, 5
    if args.episodes < 2 or args.episodes % 2 or args.rounds < 1:
        p.error("--episodes must be even and at least 2 (a meta-batch of 2), --rounds at least 1")
    start = time.perf_counter()
    results = {**bench(args), "config": {"way": args.way, "shot": 1, "query": 15, "meta_batch": 2,
                                         "episodes": args.episodes, "rounds": args.rounds, "threads": 1,
                                         "train_split": args.train_split, "device": args.device,
                                         "quick": args.quick, "command": command(2, Path("OUT"), args)},
               "env": env(), "total_s": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print()
    print(table(results))
    print(f"\n2 processes / 1 process, episodes per second: {results['ratio_2_over_1']:.2f}x "
          f"(2.00x is perfect scaling); total {results['total_s']:.0f} s")
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    atomic_write_json(results, out)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
