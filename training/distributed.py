"""Distributed data parallel (DDP) set-up and tear-down, rank helpers, and the ``--nproc`` launcher.

A training process is one of N ranks. ``torchrun`` (``python -m torch.distributed.run``) starts the N
processes and tells each its place through environment variables (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``); ``setup`` reads them and joins
the process group: ``gloo`` on the CPU, ``nccl`` on CUDA (each rank on GPU ``LOCAL_RANK``). Without
those variables (or with ``WORLD_SIZE=1``) training runs as a single process and nothing is
initialised.

Every rank computes the same thing on its share of the global batch; gradients are averaged by DDP
(``wrap``; ``batch_share`` rescales each rank's loss so that the average is the global batch's).
Only rank 0 writes (logs, previews, checkpoints) and validates. ``launch`` is what ``remaster train
--nproc N`` does: it runs ``torchrun --standalone --nproc_per_node N`` on this machine with the same
arguments.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from remaster_core.errors import InputError, RemasterError

log = logging.getLogger("remaster.train.dist")


@dataclass(frozen=True)
class DistInfo:
    """This process's place: ``rank`` of ``world`` (``local_rank`` of ``local_world`` on this machine)
    and the torch device it computes on."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, validates and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InputError(
            f"environment variable {name}={value!r} is not an integer (set by torchrun?)"
        ) from None


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (GPU ``local_rank``) when available, else the CPU; ``cpu``; ``cuda``; ``cuda:N``.

    Raises:
        InputError: CUDA asked for where there is none.
    """
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError(f"--device {preference}: this torch build or machine has no CUDA; use --device cpu")
    if preference.startswith("cuda:"):
        return torch.device(preference)
    return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))


def setup(device_preference: str = "auto") -> DistInfo:
    """Join the process group if torchrun started this process; return this process's ``DistInfo``."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    device = pick_device(device_preference, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world)
        log.debug("rank %d of %d joined the %s process group on %s", rank, world, backend, device)
    return DistInfo(rank=rank, world=world, local_rank=local_rank, local_world=local_world, device=device)


def teardown() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over all ranks (in place, and returned); a no-op for a single process."""
    if info.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def wrap(module: nn.Module, info: DistInfo) -> nn.Module:
    """``module`` wrapped in DDP under torchrun (gradients averaged over the ranks), else itself.
    Collective: every rank wraps the same module at the same point."""
    if not info.distributed:
        return module
    return DistributedDataParallel(module, device_ids=[info.device] if info.device.type == "cuda" else None)


def batch_share(mask: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's share of the global batch's valid pixels, times the world size (1 alone): 0-d float.

    The masked losses are normalised by the valid pixels of the batch they see, so each rank's loss,
    scaled by this, makes DDP's averaged gradient exactly the gradient of the loss over the global batch
    (N processes follow one process's curve). Collective under torchrun.

    Args:
        mask: this rank's (n, 1, H, W) validity mask, 0..1.
    """
    if not info.distributed:
        return torch.ones((), device=info.device)
    local = mask.sum().detach().float()
    total = all_reduce_sum(local.clone(), info)
    if float(total) <= 0:
        return torch.ones((), device=info.device)
    return local * info.world / total


def default_threads(info: DistInfo) -> int:
    """Intra-op threads for a CPU rank: this machine's cores shared out among its processes (at least 1).
    More threads than cores only oversubscribe: on a shared 2-core machine 2 threads ran a step 5 times
    slower than 1 under load."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, info.local_world))


def launch(nproc: int, module_args: Sequence[str]) -> int:
    """Run ``python -m torch.distributed.run --standalone --nproc_per_node nproc -m training.cli ARGS``
    and wait for it; returns its exit code.

    The child processes find this project's packages through ``PYTHONPATH`` (the folder holding
    ``training``), whatever the working directory.

    Raises:
        RemasterError: torchrun could not be started.
    """
    if nproc < 1:
        raise InputError(f"--nproc must be >= 1, got {nproc}")
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "training.cli", *module_args,
    ]  # fmt: skip
    log.info("launching %d training processes: %s", nproc, " ".join(command))
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except OSError as exc:
        raise RemasterError(f"cannot start torchrun ({exc})") from exc
