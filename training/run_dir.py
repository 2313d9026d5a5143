"""The run folder's layout: where the config, the checkpoints and the cache of a run live.

::

    RUN/config.toml                             the resolved config (``--resume`` reads it back)
    RUN/checkpoints/step_XXXXXXXX.safetensors   the last ``checkpoint.keep_last`` (resumable)
    RUN/checkpoints/best.safetensors            the best validation PSNR so far: EMA weights (export this)
    RUN/cache/                                  decoded frames (``data.cache_dir`` elsewhere)
    RUN/metrics.jsonl, RUN/tb/, RUN/previews/   see ``training.logs``
"""

from __future__ import annotations

import re
from pathlib import Path

from remaster_core.errors import InputError
from training.config import TrainConfig

CONFIG_FILE = "config.toml"
CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.safetensors"
CACHE_DIR = "cache"
_STEP_FILE = re.compile(r"step_(\d{8,})\.safetensors")


def step_path(run_dir: Path, step: int) -> Path:
    """``RUN/checkpoints/step_XXXXXXXX.safetensors`` of step ``step``."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:08d}.safetensors"


def best_path(run_dir: Path) -> Path:
    """``RUN/checkpoints/best.safetensors`` (it may not exist yet)."""
    return Path(run_dir) / CHECKPOINT_DIR / BEST_FILE


def step_checkpoints(run_dir: Path) -> list[Path]:
    """The run's step checkpoints, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def prune_step_checkpoints(run_dir: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints."""
    for old in step_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)


def best_checkpoint(run_dir: str | Path) -> Path:
    """``RUN/checkpoints/best.safetensors`` (the EMA weights with the best validation PSNR).

    Raises:
        InputError: the run folder has none yet (no validation ran).
    """
    path = best_path(Path(run_dir))
    if not path.is_file():
        raise InputError(
            f"{run_dir} has no {CHECKPOINT_DIR}/{BEST_FILE}: is it a `remaster train --out` folder whose run "
            "reached its first validation?"
        )
    return path


def cache_dir(cfg: TrainConfig, run_dir: Path) -> Path | None:
    """The decode cache folder of a run (``data.cache_dir``, else ``RUN/cache``); None when off."""
    if not cfg.data.cache:
        return None
    return Path(cfg.data.cache_dir) if cfg.data.cache_dir else run_dir / CACHE_DIR


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to mix two runs in one folder (a new run into a folder that holds one), or a file.

    Raises:
        InputError: what is wrong and what to do.
    """
    if not resume and ((run_dir / CONFIG_FILE).exists() or step_checkpoints(run_dir)):
        raise InputError(
            f"{run_dir} already holds a training run; pass --resume to continue it, or choose a new --out"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir} exists and is not a folder; choose a folder for --out")
