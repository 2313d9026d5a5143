"""A training run's state: what one step hands the next, and exactly what a step checkpoint holds.

``TrainState`` owns G, its EMA copy, G's Adam, D and D's Adam (once the GAN stage has started), the
step, and the bookkeeping (EMA updates, skipped steps, the best validation score). ``save`` writes it
and ``load`` reads it back: the only two places that name what a step checkpoint holds. Both go through
``training.checkpoint`` (safetensors tensors plus one JSON entry, an atomic write, never a pickle).
The process-wide RNG states (torch, CUDA, numpy, Python) are not fields: ``save`` captures them and
``load`` restores them. With the data a step sees and its learning rate functions of the seed and the
step alone (``training.data``, ``training.schedule``), that makes a resumed run continue exactly.

A step checkpoint (``save``), in ``training.checkpoint``'s terms::

    generator       G's raw training weights
    discriminator   D, from the GAN stage on
    optimizers      GENERATOR (G's Adam); DISCRIMINATOR (D's Adam), from the GAN stage on
    extra_tensors   EMA_PREFIX + G's state-dict keys (the EMA weights); RNG_TORCH, RNG_CUDA (when CUDA ran)
    extra           the fields of ``StepRecord`` (JSON)

``best.safetensors`` (``save_best``) holds the weights validation scored (the EMA's, else the raw ones)
as its generator and the fields of ``BestRecord`` as its extra; it is what export takes, not a resume
point. The key names are those the trainer wrote before this module existed, so those checkpoints load.
"""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch

from training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from training.config import (
    ConfigError,
    TrainConfig,
    config_from_dict,
    config_hash,
    config_to_dict,
    resume_differences,
)
from training.data import PairsIndex
from training.discriminator import Discriminator, build_discriminator
from training.model import Generator, build_generator
from training.schedule import stage_name

# optimizer names, extra-tensor names and ``weights`` values of the checkpoints (see the module docstring)
GENERATOR = "generator"
DISCRIMINATOR = "discriminator"
EMA_PREFIX = "ema."
RNG_TORCH = "rng.torch"
RNG_CUDA = "rng.cuda"
RAW_WEIGHTS = "raw"  # a step checkpoint's generator: the training weights
EMA_WEIGHTS = "ema"  # best.safetensors' generator: the EMA weights
RAW_NO_EMA_WEIGHTS = "raw-no-ema"  # best.safetensors' generator when the run keeps no EMA


@dataclass(frozen=True)
class RunRecord:
    """What every checkpoint of a run says about the run; these field names are its JSON ``extra`` keys.

    Attributes:
        config: the resolved config (``config_to_dict``); config_hash: ``config_hash`` of it.
        preset: the generator preset's name. val_shots, train_shots: the held-out and training shots.
    """

    config: dict[str, Any]
    config_hash: str
    preset: str
    val_shots: list[int]
    train_shots: list[int]

    @classmethod
    def of(cls, cfg: TrainConfig, pairs: PairsIndex) -> RunRecord:
        """The record of a run of ``cfg`` on ``pairs``."""
        return cls(
            config=config_to_dict(cfg),
            config_hash=config_hash(cfg),
            preset=cfg.model.preset,
            val_shots=list(pairs.val_shots),
            train_shots=list(pairs.train_shots),
        )


@dataclass(frozen=True)
class StepRecord(RunRecord):
    """The JSON ``extra`` of a step checkpoint: the run's record and the state's bookkeeping.

    Attributes:
        weights: ``RAW_WEIGHTS``. ema_updates: EMA updates made. bad_streak: non-finite steps in a row
            at the end; skipped: in all. best_psnr, best_step: the best validation so far (None before
            one). input_psnr: the validation crops' input PSNR. samples_drawn: step * batch size.
        rng: the numpy and Python RNG states (the tensors' are extra tensors).
    """

    weights: str
    ema_updates: int
    bad_streak: int
    skipped: int
    best_psnr: float | None
    best_step: int | None
    input_psnr: float | None
    samples_drawn: int
    rng: dict[str, Any]


@dataclass(frozen=True)
class BestRecord(RunRecord):
    """The JSON ``extra`` of ``best.safetensors``: ``weights`` (``EMA_WEIGHTS`` or ``RAW_NO_EMA_WEIGHTS``),
    the validation PSNR of those weights and the validation crops' input PSNR (dB); ``held_out``: the
    per-shot PSNR of those weights, of the colour fit and of the bilinear input on the held-out shots
    and the margins (``training.validation.held_out_record``), None when not measured."""

    weights: str
    val_psnr: float
    input_psnr: float | None
    held_out: dict[str, Any] | None = None


_Record = TypeVar("_Record", bound=RunRecord)


def _read_record(cls: type[_Record], extra: dict[str, Any]) -> _Record | None:
    """``cls`` from a checkpoint's ``extra``; None when a field is missing."""
    names = [f.name for f in fields(cls)]
    if any(name not in extra for name in names):
        return None
    return cls(**{name: extra[name] for name in names})


def _capture_rng() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The process's RNG states: numpy and Python as JSON, torch (and CUDA, when used) as tensors."""
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
    py_state = random.getstate()
    states = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    tensors = {RNG_TORCH: torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors[RNG_CUDA] = torch.cuda.get_rng_state()
    return states, tensors


def _restore_rng(states: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of ``_capture_rng``."""
    if "numpy" in states:
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "python" in states:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    if RNG_TORCH in tensors:
        torch.set_rng_state(tensors[RNG_TORCH])
    if RNG_CUDA in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors[RNG_CUDA])


@dataclass(eq=False)
class TrainState:
    """Everything a run carries from one step to the next (modules on ``device``). Build with ``new``.

    ``step`` counts the optimiser steps done (the next step's 0-based number); ``discriminator`` and
    ``opt_d`` are None until the GAN stage starts (``training.stages.start_gan_stage``).
    """

    cfg: TrainConfig
    run: RunRecord
    device: torch.device
    generator: Generator
    ema: Generator | None
    opt_g: torch.optim.Optimizer
    discriminator: Discriminator | None = None
    opt_d: torch.optim.Optimizer | None = None
    step: int = 0
    ema_updates: int = 0
    bad_streak: int = 0
    skipped: int = 0
    best_psnr: float | None = None
    best_step: int | None = None
    input_psnr: float | None = None

    @classmethod
    def new(cls, cfg: TrainConfig, run: RunRecord, device: torch.device) -> TrainState:
        """Step 0: G seeded from ``cfg.seed`` (the identity until trained), its EMA copy, G's Adam."""
        torch.manual_seed(cfg.seed)
        generator = build_generator(cfg.model.generator_config()).to(device)
        ema = copy.deepcopy(generator).requires_grad_(False).eval() if cfg.ema.decay > 0 else None
        opt_g = torch.optim.Adam(
            generator.parameters(),
            lr=cfg.optim.lr,
            betas=cfg.optim.betas,
            weight_decay=cfg.optim.weight_decay,
            fused=True,  # one kernel over all parameters: 3x faster than the loop on the CPU (paper)
        )
        return cls(cfg=cfg, run=run, device=device, generator=generator, ema=ema, opt_g=opt_g)

    @property
    def scored(self) -> Generator:
        """The weights validation scores and ``best.safetensors`` holds: the EMA's, else the raw ones."""
        return self.ema if self.ema is not None else self.generator

    def add_discriminator(
        self, weights: dict[str, torch.Tensor] | None = None, opt_state: dict[str, Any] | None = None
    ) -> None:
        """Create D (seeded from ``seed + 1`` without touching the run's RNG, or ``weights``) and its Adam
        (fresh, or ``opt_state``)."""
        cfg = self.cfg
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed + 1)
            self.discriminator = build_discriminator(cfg.model.discriminator_config()).to(self.device)
        if weights is not None:
            self.discriminator.load_state_dict(weights)
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=cfg.optim.lr_d, betas=cfg.optim.betas_d, fused=True
        )
        if opt_state is not None:
            self.opt_d.load_state_dict(opt_state)

    def _last_stage(self) -> str:
        """The stage of the last step done (of step 0 before any)."""
        return stage_name(max(0, self.step - 1), self.cfg)

    def save(self, path: Path) -> None:
        """Write the step checkpoint ``path`` (atomically; see the module docstring)."""
        rng, rng_tensors = _capture_rng()
        optimizers: dict[str, torch.optim.Optimizer] = {GENERATOR: self.opt_g}
        if self.opt_d is not None:
            optimizers[DISCRIMINATOR] = self.opt_d
        extra_tensors = dict(rng_tensors)
        if self.ema is not None:
            extra_tensors.update({EMA_PREFIX + k: v for k, v in self.ema.state_dict().items()})
        record = StepRecord(
            **asdict(self.run),
            weights=RAW_WEIGHTS,
            ema_updates=self.ema_updates,
            bad_streak=self.bad_streak,
            skipped=self.skipped,
            best_psnr=self.best_psnr,
            best_step=self.best_step,
            input_psnr=self.input_psnr,
            samples_drawn=self.step * self.cfg.data.batch_size,
            rng=rng,
        )
        save_checkpoint(
            path,
            generator=self.generator,
            step=self.step,
            stage=self._last_stage(),
            discriminator=self.discriminator,
            optimizers=optimizers,
            extra=asdict(record),
            extra_tensors=extra_tensors,
        )

    def save_best(self, path: Path, val_psnr: float, held_out: dict[str, Any] | None = None) -> None:
        """Write ``best.safetensors`` at ``path``: the scored weights, which validated at ``val_psnr``
        (``held_out``: their margins over the baselines, ``BestRecord``)."""
        weights = EMA_WEIGHTS if self.ema is not None else RAW_NO_EMA_WEIGHTS
        record = BestRecord(
            **asdict(self.run), weights=weights, val_psnr=val_psnr, input_psnr=self.input_psnr,
            held_out=held_out,
        )  # fmt: skip
        save_checkpoint(
            path, generator=self.scored, step=self.step, stage=self._last_stage(), extra=asdict(record)
        )

    def load(self, path: Path) -> None:
        """Continue from the step checkpoint ``path``: everything ``save`` wrote, RNG states included.

        Raises:
            CheckpointError: a file that is not a step checkpoint of this generator config (or is
                corrupt, foreign, pickled: ``training.checkpoint``).
            ConfigError: the run was trained with settings other than ``cfg`` (beyond those a resume
                may change).
        """
        ckpt = load_checkpoint(path, expect_config=self.cfg.model.generator_config())
        run = _read_record(RunRecord, ckpt.extra)
        if run is None:
            raise CheckpointError(
                f"refusing {path}: it holds no training config (not a `remaster train` step checkpoint)"
            )
        differences = resume_differences(
            config_from_dict(run.config, f"the config stored in {path}"), self.cfg
        )
        if differences:
            raise ConfigError(
                f"cannot resume from {path}: the run was trained with other settings ({'; '.join(differences)}); "
                "resume with the run's own settings, or start a new run with a new --out"
            )
        record = _read_record(StepRecord, ckpt.extra)
        if record is None or record.weights != RAW_WEIGHTS or GENERATOR not in ckpt.optimizers:
            raise CheckpointError(
                f"refusing {path}: not a resumable step checkpoint (best.safetensors is not one)"
            )
        self.generator.load_state_dict(ckpt.generator)
        self.opt_g.load_state_dict(ckpt.optimizers[GENERATOR])
        if self.ema is not None:
            ema = {
                k.removeprefix(EMA_PREFIX): v
                for k, v in ckpt.extra_tensors.items()
                if k.startswith(EMA_PREFIX)
            }
            self.ema.load_state_dict(ema)
        self.step = ckpt.step
        self.ema_updates = record.ema_updates
        self.bad_streak = record.bad_streak
        self.skipped = record.skipped
        self.best_psnr = record.best_psnr
        self.best_step = record.best_step
        self.input_psnr = record.input_psnr
        if ckpt.discriminator is not None:
            self.add_discriminator(ckpt.discriminator, ckpt.optimizers.get(DISCRIMINATOR))
        _restore_rng(record.rng, ckpt.extra_tensors)
