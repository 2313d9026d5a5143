"""One optimisation step: G, then (in the GAN stage) D, on this rank's share of the global batch.

Each update: forward (bf16 autocast on CUDA when ``runtime.bf16``; the FFT runs in float32), the stage's
loss (``training.stages``), backward, gradient clipping by global norm (``optim.grad_clip``), then the
update with fused Adam, unless the loss or the gradient norm is NaN or Inf: such a step is *skipped*
(no update of G or D, no EMA update; it still uses its batch and its step number), and a non-finite D
loss alone skips only D's update. The learning rates come from the step (``training.schedule``).

**EMA** of G's weights after each update of G, decay ``min(ema.decay, (1 + n) / (10 + n))`` at the n-th.

**DDP**: each rank's loss is scaled by its share of the global batch's valid pixels
(``distributed.batch_share``), so DDP's averaged gradient is the global batch's; the logged values are
averaged over the ranks, identical on every rank.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from training import distributed
from training.config import TrainConfig
from training.schedule import ema_decay, learning_rate, stage_name
from training.stages import GanStage, discriminator_loss, gan_loss, stage1_loss
from training.state import TrainState


@dataclass(frozen=True)
class StepContext:
    """How this process runs its steps (fixed for a run).

    Attributes:
        cfg: the run's config. info: this process's rank and device.
        g_train: G as the steps call it (wrapped in DDP under torchrun; ``TrainState.generator`` inside).
        autocast: the forward's autocast context (bf16 on CUDA) or a null context.
    """

    cfg: TrainConfig
    info: distributed.DistInfo
    g_train: nn.Module
    autocast: AbstractContextManager[Any]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _clip(module: nn.Module, grad_clip: float) -> torch.Tensor:
    """Clip ``module``'s gradient to global L2 norm ``grad_clip`` (0: no clipping); its norm before."""
    return torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip if grad_clip > 0 else math.inf)


def _update_ema(state: TrainState, decay: float) -> None:
    assert state.ema is not None
    state.ema_updates += 1
    weight = 1.0 - ema_decay(state.ema_updates, decay)
    with torch.no_grad():
        torch._foreach_lerp_(
            list(state.ema.parameters()), [p.detach() for p in state.generator.parameters()], weight
        )


def train_step(
    state: TrainState, batch: dict[str, torch.Tensor], ctx: StepContext, gan: GanStage | None
) -> dict[str, Any]:
    """Step ``state.step`` on this rank's part of the global batch (``input``, ``target``: (n, 3, H, W)
    float 0..1; ``mask``: (n, 1, H, W) 0..1); updates G, D (``gan``, set up from the GAN stage on) and
    the EMA in ``state``, but not ``state.step``.

    Returns:
        the global batch's metrics (identical on every rank): the loss terms, ``stage``, ``lr``,
        ``grad_norm``, ``skipped`` (no update from this step); in stage 2 also ``loss_d``,
        ``grad_norm_d``, ``lr_d``, ``skipped_d`` (no update of D).
    """
    cfg, info, step = ctx.cfg, ctx.info, state.step
    stage = stage_name(step, cfg)
    if (stage == "gan") != (gan is not None):  # a bug in the loop, not a user error
        raise RuntimeError(
            f"step {step} is in stage {stage!r}, with{'' if gan else 'out'} the GAN stage set up"
        )
    lr = learning_rate(step, cfg)
    _set_lr(state.opt_g, lr)
    x, y, m = (batch[k].to(info.device, non_blocking=True) for k in ("input", "target", "mask"))
    share = distributed.batch_share(m, info)
    with ctx.autocast:
        out = ctx.g_train(x)
        loss = stage1_loss(out, y, m, cfg.stages) if gan is None else gan_loss(out, y, m, cfg.stages, gan)
    (loss.total * share).backward()
    grad_norm = _clip(state.generator, cfg.optim.grad_clip)
    terms = loss.terms()
    values = torch.stack([t.detach().float() * share for t in terms.values()] + [grad_norm.detach().float()])
    if info.distributed:
        values[:-1] = distributed.all_reduce_sum(values[:-1].clone(), info) / info.world
    finite = bool(torch.isfinite(values).all())
    if finite:
        state.opt_g.step()
    state.opt_g.zero_grad(set_to_none=True)
    metrics: dict[str, Any] = dict(zip(terms, values[:-1].tolist(), strict=True))
    metrics.update(stage=stage, lr=lr, grad_norm=float(values[-1]))
    metrics["skipped"] = not finite  # no G update (nor D's, nor the EMA's) from this step
    if gan is not None and finite:
        d_finite, d_metrics = _d_step(state, gan, out.detach(), y, m, share, ctx)
        metrics.update(d_metrics)
        metrics["skipped_d"] = not d_finite
    if finite and state.ema is not None:
        _update_ema(state, cfg.ema.decay)
    return metrics


def _d_step(
    state: TrainState,
    gan: GanStage,
    fake: torch.Tensor,
    real: torch.Tensor,
    mask: torch.Tensor,
    share: torch.Tensor,
    ctx: StepContext,
) -> tuple[bool, dict[str, Any]]:
    """D's update on G's detached output; (whether it was finite and made, its metrics)."""
    assert state.opt_d is not None
    cfg, info = ctx.cfg, ctx.info
    lr_d = learning_rate(state.step, cfg, cfg.optim.lr_d)
    _set_lr(state.opt_d, lr_d)
    with ctx.autocast:
        loss_d = discriminator_loss(gan.d_train, fake, real, mask)
    (loss_d * share).backward()
    norm = _clip(gan.discriminator, cfg.optim.grad_clip)
    values = torch.stack([loss_d.detach().float() * share, norm.detach().float()])
    if info.distributed:
        values[:1] = distributed.all_reduce_sum(values[:1].clone(), info) / info.world
    finite = bool(torch.isfinite(values).all())
    if finite:
        state.opt_d.step()
    state.opt_d.zero_grad(set_to_none=True)
    return finite, {"loss_d": float(values[0]), "grad_norm_d": float(values[1]), "lr_d": lr_d}
