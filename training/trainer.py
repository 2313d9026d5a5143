"""The training loop: stages, optimisers, schedule, EMA, clipping, checkpoints, resume, validation, logs.

``train(cfg, pairs, run_dir)`` runs one process's part of a run (one process, or one DDP rank under
torchrun: ``training.distributed``). The run folder::

    RUN/config.toml                        the resolved config (``--resume`` reads it back)
    RUN/checkpoints/step_XXXXXXXX.safetensors   the last ``checkpoint.keep_last`` (resumable)
    RUN/checkpoints/best.safetensors       the best validation PSNR so far: **EMA weights** (export this)
    RUN/metrics.jsonl, RUN/tb/, RUN/previews/   see ``training.logs``

**Stages** (DESIGN.md section 1). Steps ``0 .. gan_start_step - 1``: stage 1, the FFT-L1 loss
(``stages.loss = "l1"``: plain L1, the paper's ablation). From ``gan_start_step`` on: stage 2, G trained
on ``fft_weight * L_fft + adversarial_weight * LSGAN + perceptual_weight * VGG19`` against an SRGAN-like
D trained on the least-squares loss (``training.losses``). D is created at the switch (seeded from the
run's seed) and the VGG19 weights are read then; ``check_runnable`` refuses a run that would reach
stage 2 without them, before any step is spent.

**One step** (G then, in stage 2, D; each with fused Adam):
forward (bf16 autocast on CUDA when ``runtime.bf16``; the FFT runs in float32), backward, gradient
clipping by global norm (``optim.grad_clip``), then the update, unless the loss or the gradient norm is
NaN or Inf: such a step is *skipped* (no update of G or D, no EMA update; it still uses its batch and
its step number; a non-finite D loss alone skips only D's update), logged as an ``event``, and
``runtime.max_bad_steps`` such steps in a row stop the run with a ``TrainingError``. Out of memory stops the run with a ``TrainingError`` naming the knobs to turn.

**Learning rate**: a pure function of the step (``learning_rate``): each stage has its own warm-up
and shape (constant / cosine / step) over its own length, so stage 2 starts again from its peak rate
like the second run of a two-stage recipe; D follows the same shape with ``optim.lr_d``.

**EMA** of G's weights, decay ``min(ema.decay, (1 + n) / (10 + n))`` at the n-th update. Validation
scores the EMA weights, and ``best.safetensors`` holds them as its generator weights (``extra.weights
= "ema"``): they are what export should take. Step checkpoints hold the raw training weights as the
generator (``extra.weights = "raw"``) and the EMA weights as ``extra_tensors`` ``ema.*``, so a resume
continues exactly.

**Exact resume**: a step checkpoint holds G, D, both optimisers' state, the EMA, the torch / numpy /
Python RNG states, the skipped-step streak and the best score so far; the data a step sees is a
function of the seed and the step alone (``training.data``); the learning rate is a function of the step.
So ``--resume`` after a kill continues the same curve: the same per-step losses and the same final
weights as a run that was never stopped (``tests/training/test_trainer.py`` kills one with SIGKILL).

**DDP**: each rank computes its share of the global batch; DDP averages the gradients. The masked
losses are normalised by the valid pixels of the batch they see, so each rank's loss is rescaled by its
share of the global batch's valid pixels (``_batch_share``): the averaged gradient is then exactly the
gradient of the loss over the global batch, and N processes follow one process's curve.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import re
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from remaster_core.errors import InputError, RemasterError
from remaster_core.io.atomic import write_text_atomic
from training import distributed
from training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from training.colour_init import apply_fit_nchw, fit_training_colour, set_colour_path
from training.config import (
    ConfigError,
    OptimSection,
    TrainConfig,
    check_runnable,
    config_from_dict,
    config_hash,
    config_to_dict,
    config_to_toml,
    resume_differences,
)
from training.data import (
    CropDataset,
    PairsIndex,
    StepSampler,
    ValidationSample,
    load_validation,
    make_loader,
    scan_pairs,
)
from training.discriminator import Discriminator, build_discriminator
from training.logs import METRICS_FILE, RunLog, StepProgress, truncate_metrics
from training.losses import (
    fft_l1_loss,
    l1_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    patch_weights,
    perceptual_loss,
)
from training.model import Generator, build_generator, count_parameters
from training.vgg import VGG19Features, load_vgg19

log = logging.getLogger("remaster.train")

CONFIG_FILE = "config.toml"
CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.safetensors"
CACHE_DIR = "cache"
_STEP_FILE = re.compile(r"step_(\d{8,})\.safetensors")


class TrainingError(RemasterError):
    """Training cannot go on (losses that stay NaN/Inf, out of memory); the message says what to change."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished ``train`` call did (on rank 0; other ranks get the same step counts)."""

    run_dir: Path
    step: int
    best_psnr: float | None
    best_step: int | None
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    skipped_steps: int


# --------------------------------------------------------------------------------------------- schedule


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


# --------------------------------------------------------------------------------------------- run folder


def step_checkpoints(run_dir: Path) -> list[Path]:
    """The run's step checkpoints, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def best_checkpoint(run_dir: str | Path) -> Path:
    """``RUN/checkpoints/best.safetensors`` (the EMA weights with the best validation PSNR).

    Raises:
        InputError: the run folder has none yet (no validation ran).
    """
    path = Path(run_dir) / CHECKPOINT_DIR / BEST_FILE
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


# --------------------------------------------------------------------------------------------- helpers


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _oom_error(cfg: TrainConfig, device: torch.device, exc: BaseException) -> TrainingError:
    knobs = (
        f"lower --batch-size (now {cfg.data.batch_size}) or --crop-size (now {cfg.data.crop_size}), use "
        f"--preset lite (now {cfg.model.preset}), or spread the batch over more processes (--nproc)"
    )
    if device.type == "cuda":
        knobs += "; keep bf16 autocast on (runtime.bf16 = true)" if not cfg.runtime.bf16 else ""
    return TrainingError(
        f"out of memory on {device} during a training step ({str(exc).splitlines()[0]}); {knobs}"
    )


def _clean_worker_error(exc: RemasterError) -> RemasterError:
    """A loader process's error, as DataLoader re-raises it (its traceback in the message), back to the
    one-line message the user needs."""
    text = str(exc)
    if "Original Traceback" not in text:
        return exc
    last = [line for line in text.splitlines() if line.strip()][-1]
    return type(exc)(last.split(": ", 1)[1] if ": " in last else last)


def _rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
    py_state = random.getstate()
    extra = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return extra, tensors


def _set_rng_state(extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    if "numpy" in extra:
        name, keys, pos, has_gauss, cached = extra["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "python" in extra:
        version, internal, gauss = extra["python"]
        random.setstate((version, tuple(internal), gauss))
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _masked_psnr(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float | None:
    """PSNR (dB, peak 1.0) over the valid pixels of (1, 3, H, W) images; None if none is valid."""
    weight = mask.sum() * output.shape[1]
    if float(weight) <= 0:
        return None
    mse = float(((output - target) ** 2 * mask).sum() / weight)
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def _panel(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy().transpose(1, 2, 0)


# --------------------------------------------------------------------------------------------- trainer


class _Trainer:
    """Owns one run's modules, optimisers and bookkeeping (feed, optimise, validate, save, resume)."""

    def __init__(
        self, cfg: TrainConfig, pairs: PairsIndex, run_dir: Path, info: distributed.DistInfo
    ) -> None:
        self.cfg = cfg
        self.pairs = pairs
        self.run_dir = run_dir
        self.info = info
        self.device = info.device
        self.hash = config_hash(cfg)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda" and cfg.runtime.bf16
            else nullcontext()
        )
        torch.manual_seed(cfg.seed)
        self.generator: Generator = build_generator(cfg.model.generator_config()).to(self.device)
        self.ema: Generator | None = None
        if cfg.ema.decay > 0:
            self.ema = copy.deepcopy(self.generator).requires_grad_(False).eval()
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(),
            lr=cfg.optim.lr,
            betas=cfg.optim.betas,
            weight_decay=cfg.optim.weight_decay,
            fused=True,  # one kernel over all parameters: 3x faster than the loop on the CPU (paper)
        )
        self.discriminator: Discriminator | None = None
        self.opt_d: torch.optim.Optimizer | None = None
        self.vgg: VGG19Features | None = None
        self.g_train: nn.Module = self.generator
        self.d_train: nn.Module | None = None
        self.step = 0
        self.ema_updates = 0
        self.bad_streak = 0
        self.skipped = 0
        self.best_psnr: float | None = None
        self.best_step: int | None = None
        self.last_checkpoint: Path | None = None
        self.input_psnr: float | None = None

    # ---- set-up

    def init_colour_path(self, samples: list[ValidationSample]) -> None:
        """Start G's (and the EMA's) colour path at the training pairs' least-squares colour fit when
        ``model.colour_init`` is ``fit`` (``training.colour_init``), unless the fit scores below the
        identity on the validation crops: a fit to a narrow palette can extrapolate worse than no
        correction on colours it never saw, and the validation shots are there to tell. Every rank
        computes the same fit and the same scores from the same files, so the replicas agree.

        Args:
            samples: the run's validation crops (``load_validation``), read on every rank for this.
        """
        if self.cfg.model.colour_init != "fit":
            return
        if self.generator.colour is None:
            log.info("model.colour_init = fit ignored: this generator has no colour path")
            return
        try:
            fit = fit_training_colour([(f.input, f.target, f.mask) for f in self.pairs.train])
        except InputError as exc:  # no finite valid pixel: the steps will say more (NaN/Inf input)
            log.warning("no colour fit (%s): the colour path starts at zero", exc)
            return
        if not np.isfinite(fit.coefficients).all():
            log.warning("the colour fit of the training pairs is not finite: the colour path starts at zero")
            return
        scored = [
            (_masked_psnr(torch.from_numpy(apply_fit_nchw(fit, s.input)), s.target, s.mask),
             _masked_psnr(s.input, s.target, s.mask))
            for s in samples
        ]  # fmt: skip
        pairs = [(a, b) for a, b in scored if a is not None and b is not None]
        if pairs:
            fit_psnr, identity_psnr = (float(np.mean(v)) for v in zip(*pairs, strict=True))
            if fit_psnr <= identity_psnr:
                log.warning(
                    "the colour fit of the training pairs scores %.2f dB on the validation crops, below "
                    "no correction (%.2f dB): the training shots' colours do not cover the validation "
                    "shots'; the colour path starts at zero (model.colour_init = zero does so always)",
                    fit_psnr, identity_psnr,
                )  # fmt: skip
                return
            log.info(
                "the colour path starts at the colour fit: %.2f dB on the validation crops (no correction "
                "%.2f dB)", fit_psnr, identity_psnr,
            )  # fmt: skip
        set_colour_path([g for g in (self.generator, self.ema) if g is not None], fit)

    def wrap(self) -> None:
        """DDP-wrap the trained modules not wrapped yet (after a resume has loaded their weights)."""
        ids = [self.device] if self.device.type == "cuda" else None
        if self.info.distributed and self.g_train is self.generator:
            self.g_train = DistributedDataParallel(self.generator, device_ids=ids)
        if self.discriminator is not None and self.d_train is None:
            self.d_train = (
                DistributedDataParallel(self.discriminator, device_ids=ids)
                if self.info.distributed
                else self.discriminator
            )

    def start_gan(
        self, state: dict[str, torch.Tensor] | None = None, opt_state: dict[str, Any] | None = None
    ) -> None:
        """Create D (seeded, or from a checkpoint), its optimiser and the VGG19 features for stage 2."""
        cfg = self.cfg
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed + 1)
            self.discriminator = build_discriminator(cfg.model.discriminator_config()).to(self.device)
        if state is not None:
            self.discriminator.load_state_dict(state)
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=cfg.optim.lr_d, betas=cfg.optim.betas_d, fused=True
        )
        if opt_state is not None:
            self.opt_d.load_state_dict(opt_state)
        self.vgg = load_vgg19(cfg.stages.vgg_weights).to(self.device)
        if self.info.is_main:
            log.info("stage 2 (GAN) from step %d: discriminator and VGG19 features ready", self.step)

    def resume_from(self, path: Path) -> None:
        """Load everything a step checkpoint holds (see the module docstring)."""
        cfg = self.cfg
        ckpt = load_checkpoint(path, expect_config=cfg.model.generator_config())
        saved = ckpt.extra.get("config")
        if saved is None:
            raise CheckpointError(
                f"refusing {path}: it holds no training config (not a `remaster train` step checkpoint)"
            )
        differences = resume_differences(config_from_dict(saved, f"the config stored in {path}"), cfg)
        if differences:
            raise ConfigError(
                f"cannot resume from {path}: the run was trained with other settings ({'; '.join(differences)}); "
                "resume with the run's own settings, or start a new run with a new --out"
            )
        if ckpt.extra.get("weights") != "raw" or "generator" not in ckpt.optimizers:
            raise CheckpointError(
                f"refusing {path}: not a resumable step checkpoint (best.safetensors is not one)"
            )
        self.generator.load_state_dict(ckpt.generator)
        self.opt_g.load_state_dict(ckpt.optimizers["generator"])
        if self.ema is not None:
            ema_state = {
                k.removeprefix("ema."): v for k, v in ckpt.extra_tensors.items() if k.startswith("ema.")
            }
            self.ema.load_state_dict(ema_state)
        self.step = ckpt.step
        self.ema_updates = int(ckpt.extra.get("ema_updates", 0))
        self.bad_streak = int(ckpt.extra.get("bad_streak", 0))
        self.skipped = int(ckpt.extra.get("skipped", 0))
        self.best_psnr = ckpt.extra.get("best_psnr")
        self.best_step = ckpt.extra.get("best_step")
        self.input_psnr = ckpt.extra.get("input_psnr")
        if ckpt.discriminator is not None:
            self.start_gan(ckpt.discriminator, ckpt.optimizers.get("discriminator"))
        _set_rng_state(ckpt.extra.get("rng", {}), ckpt.extra_tensors)
        self.last_checkpoint = path

    # ---- one step

    def _batch_share(self, mask: torch.Tensor) -> torch.Tensor:
        """This rank's share of the global batch's valid pixels, times the world size (1 alone)."""
        if not self.info.distributed:
            return torch.ones((), device=self.device)
        local = mask.sum().detach().float()
        total = distributed.all_reduce_sum(local.clone(), self.info)
        if float(total) <= 0:
            return torch.ones((), device=self.device)
        return local * self.info.world / total

    def _stage1(self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        loss = fft_l1_loss if self.cfg.stages.loss == "fft" else l1_loss
        return loss(output.float(), target, mask)

    def _clip(self, module: nn.Module) -> torch.Tensor:
        limit = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else math.inf
        return torch.nn.utils.clip_grad_norm_(module.parameters(), limit)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One optimisation step on this rank's part of the global batch; returns the metrics of the
        global batch (identical on every rank). A non-finite G loss or gradient skips the whole step
        (``skipped``); in stage 2 a non-finite D loss or gradient skips D's update (``skipped_d``)."""
        cfg, step = self.cfg, self.step
        stage = stage_name(step, cfg)
        if stage == "gan" and self.discriminator is None:
            self.start_gan()
            self.wrap()
        lr = learning_rate(step, cfg)
        for group in self.opt_g.param_groups:
            group["lr"] = lr
        x = batch["input"].to(self.device, non_blocking=True)
        y = batch["target"].to(self.device, non_blocking=True)
        m = batch["mask"].to(self.device, non_blocking=True)
        share = self._batch_share(m)
        names = ["loss", cfg.stages.loss]
        with self.autocast:
            out = self.g_train(x)
            rec = self._stage1(out, y, m)
            terms = [rec]
            if stage == "gan":
                assert self.discriminator is not None and self.vgg is not None
                self.discriminator.requires_grad_(False)
                scores = self.discriminator(out)
                adv = lsgan_generator_loss(scores.float(), patch_weights(m, scores.float()))
                perc = perceptual_loss(self.vgg, out, y, m).float()
                self.discriminator.requires_grad_(True)
                loss_g = cfg.stages.fft_weight * rec + cfg.stages.adversarial_weight * adv
                loss_g = loss_g + cfg.stages.perceptual_weight * perc
                terms += [adv, perc]
                names += ["adversarial", "perceptual"]
            else:
                loss_g = rec
        (loss_g * share).backward()
        grad_norm = self._clip(self.generator)
        values = torch.stack(
            [(t.detach().float() * share) for t in [loss_g, *terms]] + [grad_norm.detach().float()]
        )
        if self.info.distributed:
            values[:-1] = distributed.all_reduce_sum(values[:-1].clone(), self.info) / self.info.world
        finite = bool(torch.isfinite(values).all())
        if finite:
            self.opt_g.step()
        self.opt_g.zero_grad(set_to_none=True)
        metrics: dict[str, Any] = dict(zip(names, values[:-1].tolist(), strict=True))
        metrics.update(stage=stage, lr=lr, grad_norm=float(values[-1]))
        metrics["skipped"] = not finite  # no G update (nor D's, nor the EMA's) from this step
        if stage == "gan" and finite:
            metrics["skipped_d"] = not self._d_step(out.detach(), y, m, share, metrics)
        if finite and self.ema is not None:
            self.ema_updates += 1
            weight = 1.0 - ema_decay(self.ema_updates, cfg.ema.decay)
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.ema.parameters()), [p.detach() for p in self.generator.parameters()], weight
                )
        return metrics

    def _d_step(
        self,
        fake: torch.Tensor,
        real: torch.Tensor,
        mask: torch.Tensor,
        share: torch.Tensor,
        metrics: dict[str, Any],
    ) -> bool:
        assert self.opt_d is not None and self.d_train is not None and self.discriminator is not None
        cfg = self.cfg
        lr_d = learning_rate(self.step, cfg, cfg.optim.lr_d)
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        with self.autocast:
            # fake and real through D in one forward (D has no batch statistics: the same scores as two)
            scores = self.d_train(torch.cat([fake, real])).float()
            d_fake, d_real = scores.chunk(2)
            loss_d = lsgan_discriminator_loss(d_fake, d_real, patch_weights(mask, d_fake))
        (loss_d * share).backward()
        norm = self._clip(self.discriminator)
        values = torch.stack([loss_d.detach().float() * share, norm.detach().float()])
        if self.info.distributed:
            values[:1] = distributed.all_reduce_sum(values[:1].clone(), self.info) / self.info.world
        finite = bool(torch.isfinite(values).all())
        if finite:
            self.opt_d.step()
        self.opt_d.zero_grad(set_to_none=True)
        metrics.update(loss_d=float(values[0]), grad_norm_d=float(values[1]), lr_d=lr_d)
        return finite

    # ---- validation and checkpoints

    def validate(self, samples: list[ValidationSample], runlog: RunLog) -> float | None:
        """Score the EMA weights (or the raw ones without EMA) on the held-out crops; log, preview, and
        keep ``best.safetensors``. Rank 0 only."""
        model = self.ema if self.ema is not None else self.generator
        scores, baseline = [], []
        with torch.no_grad(), self.autocast:
            for i, sample in enumerate(samples):
                x, y, m = (t.to(self.device) for t in (sample.input, sample.target, sample.mask))
                out = model(x).float()
                psnr = _masked_psnr(out, y, m)
                if psnr is not None:
                    scores.append(psnr)
                    baseline.append(_masked_psnr(x, y, m))
                if i < self.cfg.validation.previews:
                    runlog.preview(self.step, sample.name, [_panel(x), _panel(out), _panel(y)])
        if not scores:
            log.warning("step %d: no valid pixel in the validation crops; nothing scored", self.step)
            return None
        psnr = float(np.mean(scores))
        self.input_psnr = float(np.mean([b for b in baseline if b is not None]))
        improved = self.best_psnr is None or psnr > self.best_psnr
        if improved:
            self.best_psnr, self.best_step = psnr, self.step
            self._save_best(psnr)
        runlog.write(
            "val",
            self.step,
            {"psnr": psnr, "psnr_min": float(np.min(scores)), "input_psnr": self.input_psnr,
             "best_psnr": self.best_psnr, "frames": len(scores)},
        )  # fmt: skip
        log.info(
            "step %d: validation PSNR %.2f dB (input %.2f dB, best %.2f dB at step %d)",
            self.step, psnr, self.input_psnr, self.best_psnr, self.best_step,
        )  # fmt: skip
        return psnr

    def _common_extra(self) -> dict[str, Any]:
        return {
            "config": config_to_dict(self.cfg),
            "config_hash": self.hash,
            "preset": self.cfg.model.preset,
            "val_shots": list(self.pairs.val_shots),
            "train_shots": list(self.pairs.train_shots),
        }

    def _save_best(self, psnr: float) -> None:
        model = self.ema if self.ema is not None else self.generator
        path = self.run_dir / CHECKPOINT_DIR / BEST_FILE
        save_checkpoint(
            path,
            generator=model,
            step=self.step,
            stage=stage_name(max(0, self.step - 1), self.cfg),
            extra={**self._common_extra(), "weights": "ema" if self.ema is not None else "raw-no-ema",
                   "val_psnr": psnr, "input_psnr": self.input_psnr},
        )  # fmt: skip

    def save(self) -> Path:
        """Write ``step_XXXXXXXX.safetensors`` (resumable) and drop the oldest beyond ``keep_last``."""
        extra_rng, rng_tensors = _rng_state()
        path = self.run_dir / CHECKPOINT_DIR / f"step_{self.step:08d}.safetensors"
        optimizers: dict[str, torch.optim.Optimizer] = {"generator": self.opt_g}
        if self.opt_d is not None:
            optimizers["discriminator"] = self.opt_d
        extra_tensors = dict(rng_tensors)
        if self.ema is not None:
            extra_tensors.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        save_checkpoint(
            path,
            generator=self.generator,
            step=self.step,
            stage=stage_name(max(0, self.step - 1), self.cfg),
            discriminator=self.discriminator,
            optimizers=optimizers,
            extra={
                **self._common_extra(),
                "weights": "raw",
                "ema_updates": self.ema_updates,
                "bad_streak": self.bad_streak,
                "skipped": self.skipped,
                "best_psnr": self.best_psnr,
                "best_step": self.best_step,
                "input_psnr": self.input_psnr,
                "samples_drawn": self.step * self.cfg.data.batch_size,
                "rng": extra_rng,
            },
            extra_tensors=extra_tensors,
        )
        for old in step_checkpoints(self.run_dir)[: -self.cfg.checkpoint.keep_last]:
            old.unlink(missing_ok=True)
        self.last_checkpoint = path
        return path


def _batches(loader: Any) -> Iterator[dict[str, torch.Tensor]]:
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except RemasterError as exc:
            raise _clean_worker_error(exc) from None
        yield batch


def train(cfg: TrainConfig, pairs: str | Path, run_dir: str | Path, *, resume: bool = False) -> TrainResult:
    """Train (or, with ``resume``, continue) the run in ``run_dir`` on the pairs folder ``pairs``.

    Call it in every process of a torchrun launch, or alone. Returns when ``cfg.steps`` steps are done.

    Raises:
        InputError: a bad pairs folder (``training.data.scan_pairs``), a run folder that already holds
            a run (without ``resume``); ConfigError: settings that cannot run, or that differ from the
            run being resumed; CheckpointError: a corrupt, foreign or pickled checkpoint (named);
            TrainingError: NaN/Inf losses ``runtime.max_bad_steps`` times in a row, or out of memory.
    """
    check_runnable(cfg)
    run_dir, pairs = Path(run_dir), Path(pairs)
    info = distributed.setup(cfg.runtime.device)
    try:
        threads = cfg.runtime.threads or distributed.default_threads(info)
        if info.device.type == "cpu":
            torch.set_num_threads(threads)
        index = scan_pairs(
            pairs,
            val_shots=cfg.data.val_shots,
            val_fraction=cfg.data.val_fraction,
            min_size=cfg.data.crop_size,
        )
        check_run_dir(run_dir, resume)
        trainer = _Trainer(cfg, index, run_dir, info)
        checkpoints = step_checkpoints(run_dir) if resume else []
        # the validation crops: rank 0 scores on them; every rank judges the colour fit on them in a new run
        samples = (
            load_validation(index.val, count=cfg.validation.frames, crop=cfg.validation.crop)
            if info.is_main or not checkpoints
            else []
        )
        if checkpoints:
            trainer.resume_from(checkpoints[-1])
        else:
            if resume and info.is_main:
                log.warning("%s has no step checkpoint yet: starting the run from step 0", run_dir)
            trainer.init_colour_path(samples)
        trainer.wrap()
        # Written only now: a resume refused above leaves the run's files as they were, and under DDP
        # every rank has checked the folder (wrap() is collective) before rank 0 writes into it.
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(run_dir / CONFIG_FILE, config_to_toml(cfg))
            truncate_metrics(run_dir / METRICS_FILE, trainer.step)
        return _loop(
            trainer, info, samples if info.is_main else [], resumed=bool(checkpoints), threads=threads
        )
    finally:
        distributed.teardown()


def _loop(
    trainer: _Trainer,
    info: distributed.DistInfo,
    samples: list[ValidationSample],
    *,
    resumed: bool,
    threads: int,
) -> TrainResult:
    """The training loop; ``samples``: the validation crops (rank 0; empty on the other ranks)."""
    cfg, run_dir, index = trainer.cfg, trainer.run_dir, trainer.pairs
    dataset = CropDataset(
        index.train, crop=cfg.data.crop_size, seed=cfg.seed, hflip=cfg.data.hflip,
        min_valid=cfg.data.min_valid, cache_dir=cache_dir(cfg, run_dir),
    )  # fmt: skip
    sampler = StepSampler(
        len(dataset), batch_size=cfg.data.batch_size, seed=cfg.seed, start=trainer.step, stop=cfg.steps,
        rank=info.rank, world=info.world,
    )  # fmt: skip
    loader = make_loader(dataset, sampler, workers=cfg.data.workers, pin_memory=info.device.type == "cuda")
    runlog = RunLog(
        run_dir, enabled=info.is_main, tensorboard=cfg.runtime.tensorboard, start_step=trainer.step
    )
    if info.is_main:
        log.info(
            "%s %s run in %s: %d training frames (shots %s), %d held out (shots %s); G %s, %d parameters; "
            "%d process(es) on %s, %d thread(s) each; batch %d (%d a process) of %d px crops; steps %d -> %d",
            "resuming" if resumed else "starting", cfg.model.preset, run_dir, len(index.train),
            list(index.train_shots), len(index.val), list(index.val_shots), cfg.model.preset,
            count_parameters(trainer.generator), info.world, info.device, threads, cfg.data.batch_size,
            cfg.data.batch_size // info.world, cfg.data.crop_size, trainer.step, cfg.steps,
        )  # fmt: skip
        runlog.write(
            "event", trainer.step, {"event": "resume" if resumed else "start", "config_hash": trainer.hash},
            tensorboard=False,
        )  # fmt: skip
    progress = StepProgress(
        total=cfg.steps, start=trainer.step, every=cfg.runtime.log_every, enabled=info.is_main
    )
    try:
        ready = time.perf_counter()
        for batch in _batches(loader):
            started = time.perf_counter()
            data_wait = started - ready
            try:
                metrics = trainer.train_step(batch)
            except RuntimeError as exc:
                if _is_oom(exc):
                    raise _oom_error(cfg, info.device, exc) from None
                raise
            trainer.step += 1
            step = trainer.step
            if metrics["skipped"] or metrics.get("skipped_d", False):
                trainer.bad_streak += 1
                trainer.skipped += 1
                if info.is_main:
                    log.warning(
                        "step %d skipped: non-finite loss or gradient (%s); %d in a row", step,
                        {k: v for k, v in metrics.items() if isinstance(v, float)}, trainer.bad_streak,
                    )  # fmt: skip
                    runlog.write(
                        "event",
                        step,
                        {"event": "skipped", "bad_streak": trainer.bad_streak},
                        tensorboard=False,
                    )
                if trainer.bad_streak >= cfg.runtime.max_bad_steps:
                    raise TrainingError(
                        f"{trainer.bad_streak} steps in a row had a NaN or Inf loss or gradient (last at step "
                        f"{step}); no update was made from them. Check the pairs for NaN/Inf pixels (EXR input), "
                        f"or lower the learning rate (--lr, now {cfg.optim.lr}); resume from the last checkpoint "
                        "with --resume"
                    )
            else:
                trainer.bad_streak = 0
            metrics["seconds"] = time.perf_counter() - started  # the step itself
            metrics["data_seconds"] = data_wait  # waiting for the loader before it
            runlog.write("train", step, metrics, tensorboard=step % cfg.runtime.log_every == 0)
            progress.update(step, {k: metrics[k] for k in ("loss", "lr") if metrics.get(k) is not None})
            last = step == cfg.steps
            if info.is_main and (step % cfg.validation.every == 0 or last):
                trainer.validate(samples, runlog)
            if info.is_main and (step % cfg.checkpoint.every == 0 or last):
                trainer.save()
            ready = time.perf_counter()
    finally:
        progress.close()
        runlog.close()
    best = run_dir / CHECKPOINT_DIR / BEST_FILE
    return TrainResult(
        run_dir=run_dir,
        step=trainer.step,
        best_psnr=trainer.best_psnr,
        best_step=trainer.best_step,
        last_checkpoint=trainer.last_checkpoint,
        best_checkpoint=best if best.is_file() else None,
        skipped_steps=trainer.skipped,
    )
