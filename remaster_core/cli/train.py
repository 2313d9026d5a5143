"""``remaster train``: train the enhancement model on a pairs folder (needs the ``train`` extra: torch).

Examples::

    remaster train --pairs PAIRS --out RUN                       # lite preset, CPU-sized recipe
    remaster train --pairs PAIRS --out RUN --preset paper --vgg-weights vgg19-dcbb9e9d.pth
    remaster train --pairs PAIRS --out RUN --config train.toml --steps 5000 --set optim.lr=1e-3
    remaster train --pairs PAIRS --out RUN --resume              # continue after a kill
    remaster train --pairs PAIRS --out RUN --nproc 2             # DDP, 2 processes on this machine

This module only declares the arguments: torch is imported inside ``run``, so that ``remaster --help``
and every other verb work on a render node without torch. The parser's choices (presets, stage-1
losses) are read from the torch-free ``training.config`` when the parser is built. See docs/training.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from remaster_core.cli.argtypes import output_path, whole_number
from remaster_core.optional import import_torch

MAX_PROCESSES = 256
"""Most training processes ``--nproc`` launches on one machine."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` verb to the top-level subparsers.

    The preset and loss choices come from ``training.config``, which does not import torch: it is
    imported here, when the ``train`` verb's parser is built, never when this module is.
    """
    from training.config import PRESET_NAMES, STAGE1_LOSSES

    p = subparsers.add_parser(
        "train",
        help="train the enhancement model on aligned pairs (needs the train extra)",
        description=(
            "Train G on the aligned pairs that `remaster align` wrote: stage 1 with the FFT loss, then the "
            "GAN stage from --gan-start-step on. Settings: the preset's recipe < --config FILE (TOML) < "
            "flags. Writes RUN/config.toml, RUN/checkpoints (last K and best), RUN/metrics.jsonl, RUN/tb "
            "(TensorBoard) and RUN/previews."
        ),
    )
    p.add_argument("--pairs", required=True, type=Path, help="the pairs folder (holds align.json)")
    p.add_argument("--out", required=True, type=output_path, help="the run folder to write (or --resume)")
    p.add_argument("--preset", choices=PRESET_NAMES, default=None, help="generator and recipe (default lite)")
    p.add_argument("--config", type=Path, default=None, help="a TOML config file (see docs/training.md)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps in all")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--nproc", type=whole_number(1, MAX_PROCESSES), default=None, metavar="N",
        help="run N data-parallel processes on this machine (launches torchrun)",
    )  # fmt: skip
    p.add_argument(
        "--vgg-weights", type=Path, default=None, help="torchvision vgg19-dcbb9e9d.pth (GAN stage)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="crops per step over all processes")
    p.add_argument("--crop-size", type=int, default=None, help="training crop size, pixels")
    p.add_argument("--lr", type=float, default=None, help="generator learning rate")
    p.add_argument("--loss", choices=STAGE1_LOSSES, default=None, help="stage-1 loss (l1: the ablation)")
    p.add_argument("--gan-start-step", type=int, default=None, help="first step of the GAN stage")
    p.add_argument(
        "--val-shots",
        default=None,
        metavar="I,J",
        help="shot indices held out for validation (default: last)",
    )
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process on the CPU (0: auto)")
    p.add_argument("--workers", type=int, default=None, help="data loader processes per training process")
    p.add_argument("--seed", type=int, default=None, help="random seed of the run")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
        help="set any config key, VALUE in TOML syntax (e.g. --set optim.betas=[0.9,0.999]); repeatable",
    )  # fmt: skip
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` asks; returns the exit code (``optional.TrainExtraMissing`` without torch)."""
    import_torch()  # tells a missing extra from the training package's own import errors
    from training.cli import run_train

    return run_train(args)
