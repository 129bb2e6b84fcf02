"""Multi-process training (torch.distributed, gloo, 2 CPU processes started here): one 2-rank step is the
single-process step over the union of the ranks' episodes; the real command under torchrun writes a checkpoint
that loads and classifies, and resumes after being killed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fsl_course.episodes import EpisodeSampler
from fsl_course.methods import build_method
from fsl_course.training import distributed
from fsl_course.training.episodic import TrainConfig, metrics_path, state_path, train
from tests.conftest import tiny_dataset

WORLD = 2
TRAIN = tiny_dataset(10, 6, 28, seed=3)
# weight decay makes Adam's step depend on the gradients' scale, so summed gradients would not pass for averaged
CONFIG = TrainConfig(way=5, shot=1, query=2, episodes=8, meta_batch=4, val_every=4, lr_step=100, lr=1e-2,
                     weight_decay=0.5, seed=7)
METHODS = {"protonet": {}, "maml": {"way": 5, "inner_steps": 1}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, name: str, out: str) -> None:
    """One rank of the 2-process run: join a gloo group on 127.0.0.1 and train (rank 0 writes ``out``)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)
        train(build_method(name, **METHODS[name]), TRAIN, None, CONFIG, out, progress=False)
    finally:
        dist.destroy_process_group()


def single_process_reference(name: str) -> dict[str, torch.Tensor]:
    """The same training written out in one process: each optimiser step takes the mean gradient of the union
    of the ranks' episodes (rank r: the stream of seed + r, meta_batch / 2 episodes of each step).

    The mean is summed in the ranks' grouping, the mean of each rank's mean: Adam divides by the root of the
    squared gradients, so a gradient that is rounding noise around zero (a channel whose ReLU is off for
    every image) becomes a step of about the learning rate, and another order of the sum moves it by 1e-3."""
    torch.manual_seed(0)
    method = build_method(name, **METHODS[name]).train()
    params = list(method.parameters())
    optimizer = torch.optim.Adam(params, lr=CONFIG.lr, weight_decay=CONFIG.weight_decay)
    samplers = [EpisodeSampler(TRAIN, CONFIG.way, CONFIG.shot, CONFIG.query, seed=CONFIG.seed + r)
                for r in range(WORLD)]
    share = CONFIG.meta_batch // WORLD
    for _ in range(CONFIG.episodes // CONFIG.meta_batch):
        per_rank = []
        for sampler in samplers:
            for _ in range(share):
                (method.loss(sampler.sample())[0] / share).backward()
            per_rank.append([p.grad.clone() for p in params])
            optimizer.zero_grad(set_to_none=True)
        for p, *grads in zip(params, *per_rank):
            p.grad = sum(grads) / WORLD
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {k: v.detach() for k, v in method.named_parameters()}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_two_rank_step_is_the_single_process_step_over_the_union_of_episodes(name, tmp_path):
    out = tmp_path / f"{name}.pt"
    mp.spawn(_rank_main, args=(free_port(), name, str(out)), nprocs=WORLD, join=True)
    state = torch.load(state_path(out), weights_only=True)
    assert state["step"] == CONFIG.episodes and len(state["sampler"]) == WORLD  # every rank's stream is kept
    reference = single_process_reference(name)
    untouched = build_method(name, **METHODS[name])
    for key, value in reference.items():
        torch.testing.assert_close(state["model"][key], value, rtol=0, atol=1e-5, msg=f"{name}: {key} differs")
    moved = max((reference[k] - v).abs().max().item() for k, v in untouched.named_parameters())
    assert moved > 1e-3  # the steps did move the model (the comparison is not of two untrained models)
    record = json.loads(metrics_path(out).read_text())
    assert record["world_size"] == WORLD and record["device"] == "cpu" and record["episodes_done"] == CONFIG.episodes


def test_a_world_size_that_does_not_divide_the_meta_batch_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"--meta-batch 3: .* 2 processes.*pass --meta-batch 4 .*divides 3"):
        distributed.local_batch(3)
    with pytest.raises(ValueError, match=r"--meta-batch 1: .*pass --meta-batch 2 .*or run a single process"):
        distributed.local_batch(1)
    assert distributed.local_batch(4) == 2
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.local_batch(3) == 3 and distributed.rank_seed(5) == 5 and distributed.is_main()


def photo_folder(root: Path, n_classes: int = 6, n_images: int = 16) -> Path:
    """A split of small random pictures, one subfolder per class (each class its own mean colour), with the
    16 a class that validation episodes need (1 shot, 15 queries)."""
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for c in range(n_classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(n_images):
            pixels = (torch.rand(28, 28, 3, generator=g) * 80 + 20 * c).clamp(0, 255).to(torch.uint8)
            Image.fromarray(pixels.numpy()).save(root / f"class{c}" / f"{i}.png")
    return root


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux ``/proc``), children first."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return [grandchild for child in children for grandchild in [child, *descendants(child)]]


def torchrun(out: Path, data: Path, episodes: int, port: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={WORLD}", "--master_addr=127.0.0.1",
            f"--master_port={port}", "-m", "fsl_course.cli", "train", "protonet", "--out", str(out),
            "--train-split", f"folder:{data}", "--val-split", f"folder:{data}", "--image-size", "28", "--way", "3",
            "--shot", "1", "--query", "1", "--val-way", "3", "--val-episodes", "2", "--val-every", "4",
            "--meta-batch", "2", "--episodes", str(episodes), "--threads", "1", "--device", "cpu"]


def test_torchrun_trains_a_checkpoint_that_loads_and_resumes_after_a_kill(tmp_path):
    from fsl_course.classifier import load_classifier

    data, out = photo_folder(tmp_path / "photos"), tmp_path / "run" / "protonet.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FSL_COURSE_DATA": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.Popen(torchrun(out, data, 100_000, free_port()), env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    try:
        while not state_path(out).is_file():  # the first checkpoint (episode 4) is written: kill the run
            assert run.poll() is None, f"the 2-process run stopped early: {run.stderr.read()[-3000:]}"
            assert time.monotonic() < deadline, "the 2-process run wrote no training state in 90 s"
            time.sleep(0.2)
    finally:
        for pid in [run.pid, *descendants(run.pid)]:  # torchrun and both ranks (in sessions of their own), mid-run
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.wait()
    killed_at = torch.load(state_path(out), weights_only=True)["step"]
    assert killed_at % 4 == 0 and 4 <= killed_at < 100_000
    episodes = killed_at + 16
    rerun = subprocess.run(torchrun(out, data, episodes, free_port()), env=env, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"Resuming protonet.pt from episode {killed_at} of {episodes}." in rerun.stdout
    assert rerun.stdout.count("Resuming") == 1 and rerun.stdout.count("Done:") == 1  # rank 0 alone speaks
    record = json.loads(metrics_path(out).read_text())
    assert record["episodes_done"] == episodes and record["world_size"] == WORLD
    assert [h["step"] for h in record["history"]] == list(range(4, episodes + 1, 4))  # the count continued
    assert len(torch.load(state_path(out), weights_only=True)["sampler"]) == WORLD

    clf = load_classifier(out)
    support = [data / f"class{c}" / "0.png" for c in range(3)]
    query = [data / f"class{c}" / f"{i}.png" for c in range(3) for i in (1, 2, 3)]
    clf.fit(support, ["a", "b", "c"])
    predicted = clf.predict(query)
    assert len(predicted) == 9 and set(predicted) <= {"a", "b", "c"}
    assert clf.predict_proba(query).sum(1).sub(1).abs().max() < 1e-5


def test_pretrain_under_torchrun_is_refused_before_any_work(monkeypatch, tmp_path, capsys):
    from fsl_course.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["pretrain", "--out", str(tmp_path / "b.pt"), "--train-split", "folder:/nowhere"]) == 1
    assert "pretrain runs in one process" in capsys.readouterr().err and not list(tmp_path.iterdir())
