"""What a step number decides alone: the stage, the learning rates, the EMA decay (pure functions).

Steps ``0 .. gan_start_step - 1`` are stage 1 (``stages.loss``: ``fft`` or ``l1``), the rest stage 2
(``gan``). Each stage has its own warm-up and shape (constant / cosine / step) over its own length, so
stage 2 starts again from its peak rate like the second run of a two-stage recipe; D follows the same
shape with ``optim.lr_d``. Being functions of the step, they need no state in a checkpoint.
"""

from __future__ import annotations

import math

from training.config import OptimSection, TrainConfig


def stage_name(step: int, cfg: TrainConfig) -> str:
    """The stage of (0-based) step ``step``: ``cfg.stages.loss`` ("fft" or "l1") before
    ``gan_start_step``, then ``"gan"``."""
    return "gan" if step >= cfg.stages.gan_start_step else cfg.stages.loss


def _phase(step: int, cfg: TrainConfig) -> tuple[int, int]:
    """(steps into the current stage, length of the current stage) for step ``step``."""
    start = cfg.stages.gan_start_step
    if step >= start:
        return step - start, max(1, cfg.steps - start)
    return step, max(1, min(cfg.steps, start))


def lr_factor(t: int, length: int, optim: OptimSection) -> float:
    """Multiplier of the base learning rate at step ``t`` (0-based) of a stage ``length`` steps long:
    linear warm-up over ``warmup_steps`` (from 1/warmup), then the schedule's shape."""
    warm = min(1.0, (t + 1) / optim.warmup_steps) if optim.warmup_steps else 1.0
    if optim.schedule == "constant":
        shape = 1.0
    elif optim.schedule == "cosine":
        span = max(1, length - 1 - optim.warmup_steps)
        progress = min(1.0, max(0.0, (t - optim.warmup_steps) / span))
        shape = optim.min_lr_ratio + (1.0 - optim.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    else:  # "step"
        shape = optim.step_gamma ** (t // optim.step_every)
    return warm * shape


def learning_rate(step: int, cfg: TrainConfig, base: float | None = None) -> float:
    """The learning rate at (0-based) step ``step`` for base rate ``base`` (G's ``optim.lr`` by default)."""
    t, length = _phase(step, cfg)
    return (cfg.optim.lr if base is None else base) * lr_factor(t, length, cfg.optim)


def ema_decay(update: int, decay: float) -> float:
    """Decay of the ``update``-th (1-based) EMA update: ``min(decay, (1 + n) / (10 + n))``."""
    return min(decay, (1.0 + update) / (10.0 + update))
