"""Helpers for the export tests: small generators with non-trivial weights, and training run folders.

An untrained G is exactly the identity (its tail and colour path start at zero), which would make any
parity check pass trivially; ``trained_like`` perturbs every weight so the trunk, the padding and the
colour path all shape the output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from training.checkpoint import save_checkpoint
from training.model import Generator, GeneratorConfig, build_generator

SMALL = GeneratorConfig(width=8, growth=4, dense_layers=2, num_dcus=2, space_to_depth=2)
"""A tiny G with s = 2 (receptive field 15): exports in ~0.3 s."""


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small tensors: one torch thread is faster, and immune to a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trained_like(cfg: GeneratorConfig = SMALL, seed: int = 0, scale: float = 0.05) -> Generator:
    """G for ``cfg`` with every parameter perturbed by N(0, scale^2): far from the identity, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    g = build_generator(cfg)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return g.eval()


def make_run(
    folder: Path,
    generator: Generator,
    *,
    best: bool = True,
    steps: Sequence[int] = (100, 200),
    stage: str = "fft",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """A training run folder ``folder/checkpoints/`` with ``step_<N>.safetensors`` and ``best.safetensors``.

    Every checkpoint holds ``generator``'s weights except the step ones, which hold weights perturbed by
    the step number (so a test can tell which file was exported). Returns ``folder``.
    """
    checkpoints = folder / "checkpoints"
    for step in steps:
        g = trained_like(generator.cfg, seed=step)
        save_checkpoint(
            checkpoints / f"step_{step:06d}.safetensors", generator=g, step=step, stage=stage, extra=extra
        )
    if best:
        save_checkpoint(
            checkpoints / "best.safetensors",
            generator=generator,
            step=max(steps, default=0),
            stage=stage,
            extra=extra,
        )
    return folder
