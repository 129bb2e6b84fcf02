"""Multi-process training on ``torch.distributed``: the few helpers the training loop calls.

``torchrun --nproc_per_node=N --no-python fsl-course train ...`` (or ``torchrun --nproc_per_node=N -m
fsl_course.cli train ...``) starts N copies of the normal command; torchrun tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), and
:func:`process_group` joins them: NCCL on CUDA (each process on the GPU ``cuda:LOCAL_RANK``), gloo on CPU.
Without torchrun every helper is a no-op and the loop runs as a single process.

How the work is shared: each process (rank) samples its own episodes (its seed is the run's seed plus its rank,
:func:`rank_seed`), an optimiser step's meta-batch is split evenly across the ranks (:func:`local_batch`), and
after the backward passes :func:`average_gradients` averages the gradients (and the floating-point buffers,
batch norm's running statistics) over the ranks, so every rank takes the same Adam step and holds the same
model. That one mechanism, an all-reduce of the gradients after ``backward``, serves every method: the metric
methods and MAML alike, whose functional inner loop (``torch.func.functional_call`` on new parameter tensors)
``DistributedDataParallel``'s hooks would not see. Rank 0 alone validates, logs, shows the progress bar and
writes checkpoints (:func:`is_main`); :func:`gather` brings it what the other ranks know (their episode streams'
random states, so a resumed run continues every stream, and their running training loss).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn


def launched() -> bool:
    """True in a process started by torchrun with more than one process (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world_size() -> int:
    """The number of training processes: the process group's size, else ``WORLD_SIZE``, else 1."""
    return dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 to world size - 1): the process group's, else ``RANK``, else 0."""
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """True on rank 0, the process that validates, logs and writes files (and in a single process)."""
    return rank() == 0


def rank_seed(seed: int) -> int:
    """The seed of this rank's episode stream: ``seed + rank`` (the run's own seed in a single process)."""
    return seed + rank()


def local_batch(meta_batch: int) -> int:
    """The episodes each rank takes of a meta-batch of ``meta_batch``: ``meta_batch / world size``."""
    world = world_size()
    if meta_batch % world:
        fewer = "run a single process" if meta_batch == 1 else f"start a number of processes that divides {meta_batch}"
        raise ValueError(f"the meta-batch (--meta-batch {meta_batch}: episodes per optimiser step) is split evenly "
                         f"across the {world} processes, so it must be a multiple of {world}: pass --meta-batch "
                         f"{-(-meta_batch // world) * world} (or another multiple of {world}), or {fewer}")
    return meta_batch // world


@contextmanager
def process_group(device=None):
    """Join the processes that torchrun started, for the duration of the block; yields the device to train on.

    Under torchrun (and with no process group yet) this initialises one, NCCL when ``device`` is CUDA (the
    device becomes ``cuda:LOCAL_RANK``), gloo otherwise, and destroys it at the end of the block (after a
    barrier, so no rank leaves while rank 0 still writes). A process group that the caller made is used and left
    alone; without torchrun nothing happens.
    """
    device = torch.device(device or "cpu")
    if not launched() or dist.is_initialized():
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield device
        dist.barrier()
    finally:
        dist.destroy_process_group()


def broadcast_module(module: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (so all start from the same model)."""
    if world_size() > 1:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s gradients over the ranks (an all-reduce), and its floating-point buffers (batch
    norm's running statistics), so every rank takes the same optimiser step and keeps the same model.

    A gradient that is ``None`` on some ranks (a parameter that their episodes did not reach) counts as zero
    there; one that is ``None`` on every rank stays ``None``, as in a single process. Call it after the
    backward passes of a rank's share of the meta-batch, each loss divided by that share's size."""
    world = world_size()
    if world == 1:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    present = torch.tensor([p.grad is not None for p in params], dtype=torch.float32,
                           device=params[0].device if params else "cpu")
    dist.all_reduce(present)
    for p, anywhere in zip(params, present.tolist()):
        if not anywhere:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad /= world
    for buffer in module.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer.data)
            buffer.data /= world


def gather(value) -> list:
    """Every rank's ``value`` (any picklable object), in rank order, on rank 0; ``[]`` on the other ranks;
    ``[value]`` in a single process. Every rank must call it at the same point."""
    if world_size() == 1:
        return [value]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(value, out, dst=0)
    return out or []
