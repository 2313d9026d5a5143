"""The training configuration: typed, frozen sections; TOML files validated into them; flags on top.

A run is fully described by one ``TrainConfig`` (BasicSR's "an options file describes a run", without
its registries: every field is typed here and read by name in ``training.trainer``). Precedence, lowest
first::

    preset defaults (``default_config("lite" | "paper")``)  <  the TOML file  <  command-line flags

The preset (``model.preset``, or ``--preset``) picks the generator *and* a recipe sized for it:
``lite`` trains in minutes on a few CPU cores, ``paper`` is the paper's set-up for GPUs. A TOML file
has the sections below; every key is optional and an unknown key or a wrong type is an error naming the
key and the file::

    steps = 2000                 # optimiser steps in all
    seed = 0
    [model]      preset = "lite"; width, growth, dense_layers, num_dcus, space_to_depth, colour_path,
                 grade_path, mean_lock, mean_bound, wide_lock, wide_bound, discriminator_channels
                 (override the preset's architecture); colour_init = "fit"|"zero"; grade_ridge
    [data]       crop_size, batch_size (global, over all processes), workers, val_shots = [4],
                 val_fraction, hflip, min_valid, cache, cache_dir
    [optim]      lr, betas = [0.9, 0.99], weight_decay, schedule = "constant"|"cosine"|"step",
                 warmup_steps, min_lr_ratio, step_every, step_gamma, grad_clip, lr_d, betas_d
    [stages]     loss = "fft"|"l1", gan_start_step, fft_weight, adversarial_weight, perceptual_weight,
                 vgg_weights = "/path/vgg19-dcbb9e9d.pth", feature_matching_weight
    [ema]        decay
    [checkpoint] every, keep_last
    [validation] every, frames, crop, previews
    [runtime]    device = "auto"|"cpu"|"cuda"|"cuda:N", threads (0: auto), bf16, max_bad_steps, log_every,
                 tensorboard

Flags override single keys by their dotted name (``data.batch_size``); ``--set KEY=VALUE`` reaches any
key, VALUE written as in TOML (``--set optim.betas=[0.9,0.999]``).

**Validation, layer by layer.** Each layer (the preset's recipe, the file, the flags: a ``Layer``) is
checked on its own first: every key known, every value of its key's type and in its key's range (the
sections' own checks, run on the layer's values over the field defaults). Only then are the layers
merged, and the checks that involve several keys (a crop size against the generator's space-to-depth)
run on the result. A ``ConfigError`` carries what went wrong as data: ``keys`` (the settings at fault)
and ``layer`` (where they were set: ``"config file X"``, ``"the command line"``, ``"the lite preset"``);
its message starts with the layer. A merged check's error names the last layer that set one of its keys.

This module does not import torch (nor does ``training.architecture``, which it reads the presets from):
``remaster train``'s argument parser takes its choices from here.

``config_hash`` identifies what a run *computes*: a SHA-256 of the resolved config without the keys
that cannot change the trained weights (threads, workers, cache, logging, checkpoint and validation
cadence). It goes into every checkpoint's metadata (and from there into exported models as
``config_hash``).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from remaster_core.errors import InputError
from training.architecture import DISCRIMINATOR_PRESETS, PRESETS, DiscriminatorConfig, GeneratorConfig

PRESET_NAMES: tuple[str, ...] = tuple(sorted(PRESETS))  # ("lite", "paper"): ``--preset``'s choices
SCHEDULES = ("constant", "cosine", "step")
COLOUR_INITS = ("fit", "zero")
STAGE1_LOSSES = ("fft", "l1")  # ``--loss``'s choices

# Keys that cannot change the weights a run produces: left out of ``config_hash``, and free to change
# when a run is resumed.
RESULT_NEUTRAL_KEYS = frozenset(
    {
        "data.workers",
        "data.cache",
        "data.cache_dir",
        "checkpoint.every",
        "checkpoint.keep_last",
        "validation.every",
        "validation.frames",
        "validation.crop",
        "validation.previews",
        "runtime.threads",
        "runtime.log_every",
        "runtime.tensorboard",
        "runtime.max_bad_steps",
    }
)


class ConfigError(InputError):
    """A configuration that cannot be used; the message names the key (and the file) and what to do.

    Attributes:
        problem: what is wrong, without the layer (e.g. ``"data.batch_size: must be >= 1, got 0"``).
        keys: the dotted settings at fault (a section name stands for any key of that section); empty
            when the error is about no single setting (an unreadable file).
        layer: where the settings were set (``"config file X"``, ``"the command line"``, ``"the lite
            preset"``), or None when unknown.
    """

    def __init__(self, problem: str, *, keys: tuple[str, ...] = (), layer: str | None = None) -> None:
        super().__init__(f"{layer}: {problem}" if layer else problem)
        self.problem = problem
        self.keys = keys
        self.layer = layer

    def in_layer(self, layer: str | None) -> ConfigError:
        """This error as raised by ``layer`` (an error that already names its layer keeps it)."""
        if self.layer is not None or layer is None:
            return self
        return ConfigError(self.problem, keys=self.keys, layer=layer)


def _require(condition: bool, key: str, message: str, *also: str) -> None:
    """Raise ``ConfigError`` about ``key`` (and the keys ``also`` involved) unless ``condition``."""
    if not condition:
        raise ConfigError(f"{key}: {message}", keys=(key, *also))


@dataclass(frozen=True)
class ModelSection:
    """The generator: a preset, and optional overrides of its architecture (``GeneratorConfig`` fields).

    ``discriminator_channels`` overrides D's base width (the preset's by default). ``colour_init``: how a
    new run starts G's colour path: ``fit`` (default) at the least-squares colour fit of its training
    pairs (``training.colour_init``), ``zero`` at nothing (G starts as the identity). A resumed run
    keeps its checkpoint's weights either way. ``colour_init`` also decides the fixed grade path
    (``grade_path``): ``fit`` writes the closed-form grade of the training pairs into it
    (``remaster_core.grade``; its prior's strength ``grade_ridge``, by default chosen on the held-out
    shots, ``training.colour_init``), ``zero`` leaves it the identity.
    """

    preset: str = "lite"
    width: int | None = None
    growth: int | None = None
    dense_layers: int | None = None
    num_dcus: int | None = None
    space_to_depth: int | None = None
    colour_path: bool | None = None
    grade_path: bool | None = None
    mean_lock: int | None = None
    mean_bound: float | None = None
    wide_lock: int | None = None
    wide_bound: float | None = None
    discriminator_channels: int | None = None
    colour_init: str = "fit"
    grade_ridge: float | None = None

    def __post_init__(self) -> None:
        _require(
            self.preset in PRESETS, "model.preset", f"must be one of {sorted(PRESETS)}, got {self.preset!r}"
        )
        _require(
            self.colour_init in COLOUR_INITS,
            "model.colour_init",
            f"must be one of {list(COLOUR_INITS)}, got {self.colour_init!r}",
        )
        _require(
            self.grade_ridge is None or (math.isfinite(self.grade_ridge) and self.grade_ridge >= 0),
            "model.grade_ridge",
            f"must be a number >= 0, got {self.grade_ridge!r}",
        )
        try:
            self.generator_config()
            self.discriminator_config()
        except ValueError as exc:
            raise ConfigError(f"model: {exc}", keys=("model",)) from None

    def generator_config(self) -> GeneratorConfig:
        """The preset's ``GeneratorConfig`` with the overrides applied."""
        names = (
            "width", "growth", "dense_layers", "num_dcus", "space_to_depth", "colour_path", "grade_path",
            "mean_lock", "mean_bound", "wide_lock", "wide_bound",
        )  # fmt: skip
        changes = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return replace(PRESETS[self.preset], **changes)

    def discriminator_config(self) -> DiscriminatorConfig:
        base = DISCRIMINATOR_PRESETS[self.preset]
        if self.discriminator_channels is None:
            return base
        return replace(base, base_channels=self.discriminator_channels)


@dataclass(frozen=True)
class DataSection:
    """Pairs sampling (see ``training.data``).

    Attributes:
        crop_size: square training crops, pixels (a multiple of 16 when the GAN stage runs).
        batch_size: crops per optimiser step over *all* processes (each of N processes takes 1/N).
        workers: loader processes per training process (0: load in the training process).
        val_shots: shot indices (align.json ``index``) held out for validation; empty: automatic (the
            last aligned shot when there are two or more, else the last ``val_fraction`` of the frames).
        val_fraction: share of a lone shot's frames held out when it is the only shot.
        hflip: random horizontal flips (the only augmentation; see ``training.data``).
        min_valid: a crop is redrawn (up to 8 times) until this fraction of its mask is valid.
        cache: keep decoded frames in a disk cache of ``.npy`` files read as memory maps (see
            ``training.data.FrameStore``); off: decode every sample.
        cache_dir: where; empty: ``RUN/cache``.
    """

    crop_size: int = 128
    batch_size: int = 8
    workers: int = 2
    val_shots: tuple[int, ...] = ()
    val_fraction: float = 0.1
    hflip: bool = True
    min_valid: float = 0.5
    cache: bool = True
    cache_dir: str = ""

    def __post_init__(self) -> None:
        _require(self.crop_size >= 8, "data.crop_size", f"must be >= 8 pixels, got {self.crop_size}")
        _require(self.batch_size >= 1, "data.batch_size", f"must be >= 1, got {self.batch_size}")
        _require(self.workers >= 0, "data.workers", f"must be >= 0, got {self.workers}")
        _require(
            0.0 < self.val_fraction < 1.0, "data.val_fraction", f"must be in (0, 1), got {self.val_fraction}"
        )
        _require(0.0 <= self.min_valid <= 1.0, "data.min_valid", f"must be in [0, 1], got {self.min_valid}")


@dataclass(frozen=True)
class OptimSection:
    """Adam for G (and D in stage 2), the learning-rate schedule, gradient clipping.

    The learning rate at step t (0-based) is ``lr * warmup(t) * decay(t)``: a linear warm-up from
    ``lr / warmup_steps`` to ``lr`` over ``warmup_steps``, then ``constant`` (1), ``cosine`` (from 1
    down to ``min_lr_ratio`` at the last step) or ``step`` (times ``step_gamma`` every ``step_every``
    steps). D's rate ``lr_d`` follows the same shape, counted from the start of stage 2.
    ``grad_clip`` is the max global L2 norm of G's (and D's) gradient; 0 turns clipping off.
    """

    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    step_every: int = 100_000
    step_gamma: float = 0.5
    grad_clip: float = 1.0
    lr_d: float = 1e-4
    betas_d: tuple[float, float] = (0.9, 0.99)

    def __post_init__(self) -> None:
        for key in ("lr", "lr_d"):
            value = getattr(self, key)
            _require(math.isfinite(value) and value > 0, f"optim.{key}", f"must be > 0, got {value}")
        for key in ("betas", "betas_d"):
            b = getattr(self, key)
            _require(all(0.0 <= v < 1.0 for v in b), f"optim.{key}", f"each must be in [0, 1), got {list(b)}")
        _require(self.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {self.weight_decay}")
        _require(
            self.schedule in SCHEDULES, "optim.schedule", f"must be one of {SCHEDULES}, got {self.schedule!r}"
        )
        _require(self.warmup_steps >= 0, "optim.warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        _require(
            0.0 <= self.min_lr_ratio <= 1.0,
            "optim.min_lr_ratio",
            f"must be in [0, 1], got {self.min_lr_ratio}",
        )
        _require(self.step_every >= 1, "optim.step_every", f"must be >= 1, got {self.step_every}")
        _require(
            0.0 < self.step_gamma <= 1.0, "optim.step_gamma", f"must be in (0, 1], got {self.step_gamma}"
        )
        _require(self.grad_clip >= 0, "optim.grad_clip", f"must be >= 0 (0: off), got {self.grad_clip}")


@dataclass(frozen=True)
class StagesSection:
    """Stage 1 (``loss``: the paper's FFT-L1, or plain L1 for the ablation) until ``gan_start_step``,
    then stage 2: ``fft_weight`` * stage-1 loss + ``adversarial_weight`` * LSGAN + a perceptual term.
    With ``vgg_weights`` (torchvision's vgg19-dcbb9e9d.pth; nothing is downloaded) it is the paper's:
    ``perceptual_weight`` * VGG19 (``training.losses.PAPER_WEIGHTS``: 1.0, 3.0, 0.5). Without them it is
    ``feature_matching_weight`` * the L1 between D's features of G(x) and of the film
    (``training.losses.feature_matching_loss``), which needs no pretrained network: stage 2 runs on any
    machine. The adversarial and perceptual weights are the paper's, read against its loss's scale:
    with the FFT-L1 both terms are divided by ``sqrt(H W)`` of the crop (``training.stages.paper_scale``,
    which gives the measurement)."""

    loss: str = "fft"
    gan_start_step: int = 500_000
    fft_weight: float = 1.0
    adversarial_weight: float = 3.0
    perceptual_weight: float = 0.5
    vgg_weights: str = ""
    feature_matching_weight: float = 1.0

    def __post_init__(self) -> None:
        _require(
            self.loss in STAGE1_LOSSES, "stages.loss", f"must be one of {STAGE1_LOSSES}, got {self.loss!r}"
        )
        _require(
            self.gan_start_step >= 0, "stages.gan_start_step", f"must be >= 0, got {self.gan_start_step}"
        )
        for key in ("fft_weight", "adversarial_weight", "perceptual_weight", "feature_matching_weight"):
            value = getattr(self, key)
            _require(math.isfinite(value) and value >= 0, f"stages.{key}", f"must be >= 0, got {value}")


@dataclass(frozen=True)
class EmaSection:
    """Exponential moving average of G's weights (what validation scores and ``best`` holds).

    The decay used at update n (1-based) is ``min(decay, (1 + n) / (10 + n))``: short runs are not
    dominated by the initial weights. 0 turns the average off (the raw weights are used).
    """

    decay: float = 0.999

    def __post_init__(self) -> None:
        _require(0.0 <= self.decay < 1.0, "ema.decay", f"must be in [0, 1), got {self.decay}")


@dataclass(frozen=True)
class CheckpointSection:
    """A checkpoint every ``every`` steps and at the end; the last ``keep_last`` are kept (plus best)."""

    every: int = 200
    keep_last: int = 3

    def __post_init__(self) -> None:
        _require(self.every >= 1, "checkpoint.every", f"must be >= 1, got {self.every}")
        _require(self.keep_last >= 1, "checkpoint.keep_last", f"must be >= 1, got {self.keep_last}")


@dataclass(frozen=True)
class ValidationSection:
    """Validation every ``every`` steps and at the end, on up to ``frames`` held-out frames (spread
    over the held-out shots), each a centred ``crop`` px square (0: the whole frame); ``previews``
    input|output|target images are written per validation."""

    every: int = 200
    frames: int = 8
    crop: int = 256
    previews: int = 2

    def __post_init__(self) -> None:
        _require(self.every >= 1, "validation.every", f"must be >= 1, got {self.every}")
        _require(self.frames >= 1, "validation.frames", f"must be >= 1, got {self.frames}")
        _require(self.crop >= 0, "validation.crop", f"must be >= 0 (0: whole frames), got {self.crop}")
        _require(self.previews >= 0, "validation.previews", f"must be >= 0, got {self.previews}")


@dataclass(frozen=True)
class RuntimeSection:
    """Where and how the run executes.

    Attributes:
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        threads: torch intra-op threads per process on the CPU; 0 = the machine's cores divided by the
            processes on it (one process per core under DDP).
        bf16: autocast to bfloat16 on CUDA (ignored on the CPU).
        max_bad_steps: stop after this many consecutive steps with a NaN/Inf loss or gradient.
        log_every: steps between TensorBoard scalars and progress log lines (metrics.jsonl gets every step).
        tensorboard: write TensorBoard event files under RUN/tb.
    """

    device: str = "auto"
    threads: int = 0
    bf16: bool = True
    max_bad_steps: int = 10
    log_every: int = 10
    tensorboard: bool = True

    def __post_init__(self) -> None:
        _require(
            re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None,
            "runtime.device",
            f"must be auto, cpu, cuda or cuda:N, got {self.device!r}",
        )
        _require(self.threads >= 0, "runtime.threads", f"must be >= 0 (0: auto), got {self.threads}")
        _require(self.max_bad_steps >= 1, "runtime.max_bad_steps", f"must be >= 1, got {self.max_bad_steps}")
        _require(self.log_every >= 1, "runtime.log_every", f"must be >= 1, got {self.log_every}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run does. Build with ``default_config`` / ``resolve_config``."""

    steps: int = 2000
    seed: int = 0
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    stages: StagesSection = field(default_factory=StagesSection)
    ema: EmaSection = field(default_factory=EmaSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    validation: ValidationSection = field(default_factory=ValidationSection)
    runtime: RuntimeSection = field(default_factory=RuntimeSection)

    def __post_init__(self) -> None:
        _check_top(self.steps, self.seed)
        s = self.model.generator_config().space_to_depth
        _require(
            self.data.crop_size > s,
            "data.crop_size",
            f"must be larger than the generator's space-to-depth factor {s}, got {self.data.crop_size}",
            "model",
        )

    @property
    def gan_reached(self) -> bool:
        """True when the run has steps in stage 2."""
        return self.steps > self.stages.gan_start_step


def _check_top(steps: int = 1, seed: int = 0) -> None:
    """The range checks of the top-level keys (a layer may set either, or none)."""
    _require(steps >= 1, "steps", f"must be >= 1, got {steps}")
    _require(seed >= 0, "seed", f"must be >= 0, got {seed}")


_SECTION_TYPES: dict[str, type] = {
    "model": ModelSection,
    "data": DataSection,
    "optim": OptimSection,
    "stages": StagesSection,
    "ema": EmaSection,
    "checkpoint": CheckpointSection,
    "validation": ValidationSection,
    "runtime": RuntimeSection,
}
_TOP_KEYS = ("steps", "seed")

MAX_INT = 2**63 - 1
"""The largest integer any key takes (a 64-bit seed); every float must be finite."""
MAX_CONFIG_BYTES = 1 << 20
"""The largest config file read."""
MAX_STEPS = 1_000_000_000
"""The largest step count (``steps`` and every cadence counted in steps)."""

LIMITS: dict[str, float] = {
    "steps": MAX_STEPS,
    "model.width": 1024,
    "model.growth": 1024,
    "model.dense_layers": 64,
    "model.num_dcus": 64,
    "model.space_to_depth": 16,
    "model.mean_lock": 1024,
    "model.mean_bound": 1.0,
    "model.wide_lock": 1024,
    "model.wide_bound": 1.0,
    "model.discriminator_channels": 1024,
    "model.grade_ridge": 1e6,
    "data.crop_size": 16384,
    "data.batch_size": 4096,
    "data.workers": 256,
    "data.val_shots": 1_000_000,
    "optim.lr": 10.0,
    "optim.lr_d": 10.0,
    "optim.weight_decay": 10.0,
    "optim.warmup_steps": MAX_STEPS,
    "optim.step_every": MAX_STEPS,
    "optim.grad_clip": 1e6,
    "stages.gan_start_step": MAX_STEPS,
    "stages.fft_weight": 1e6,
    "stages.adversarial_weight": 1e6,
    "stages.perceptual_weight": 1e6,
    "checkpoint.every": MAX_STEPS,
    "checkpoint.keep_last": 1000,
    "validation.every": MAX_STEPS,
    "validation.frames": 10_000,
    "validation.crop": 16384,
    "validation.previews": 100,
    "runtime.threads": 1024,
    "runtime.max_bad_steps": 1_000_000,
    "runtime.log_every": MAX_STEPS,
}
"""The upper bound of each key that sizes a loop, a process count or an allocation (checked with the
layer's types, so an absurd value is named with the file or flag that set it)."""

# What ``paper`` changes from the field defaults (which are ``lite``'s recipe).
_PAPER_RECIPE: dict[str, Any] = {
    "steps": 600_000,
    "model": {"preset": "paper"},
    "data": {"crop_size": 256, "batch_size": 16, "workers": 6},
    "optim": {"lr": 1e-4, "schedule": "constant", "warmup_steps": 2000},
    "checkpoint": {"every": 5000, "keep_last": 3},
    "validation": {"every": 5000, "frames": 16, "crop": 512, "previews": 4},
}


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "nothing"
    if isinstance(tp, type):
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}.get(
            tp.__name__, tp.__name__
        )
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
    return str(tp)


def _convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` (as TOML parsed it) checked against the annotation ``tp``; ints widen to floats and
    lists become tuples. Raises ``ConfigError`` about ``key``."""

    def bad() -> ConfigError:
        return ConfigError(f"{key} must be {_describe(tp)}, got {value!r}", keys=(key,))

    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        for member in members:
            try:
                return _convert(value, member, key)
            except ConfigError:
                continue
        raise bad()
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise bad()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise bad()
        return tuple(_convert(v, a, key) for v, a in zip(value, args, strict=True))
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        if abs(value) > MAX_INT:
            raise ConfigError(f"{key} must be an integer of at most {MAX_INT}, got {value}", keys=(key,))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if (isinstance(value, int) and abs(value) > MAX_INT) or not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}", keys=(key,))
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        if "\0" in value or len(value) > 4096:
            raise ConfigError(f"{key} must be a string of at most 4096 characters without NUL", keys=(key,))
        return value
    raise TypeError(f"config field {key} has an unsupported annotation {tp!r}")  # a bug here, not input


def _known_keys() -> list[str]:
    keys = list(_TOP_KEYS)
    for name, cls in _SECTION_TYPES.items():
        keys += [f"{name}.{f.name}" for f in fields(cls)]
    return keys


def _type_of(key: str) -> Any:
    section, _, name = key.partition(".")
    if not name:
        return _field_types(TrainConfig)[section]
    return _field_types(_SECTION_TYPES[section])[name]


@dataclass(frozen=True)
class Layer:
    """One source of settings: ``name`` says where they came from (it starts every error message about
    them: ``"config file X"``, ``"the command line"``, ``"the lite preset"``); ``values`` are flat
    ``{"section.key": value}`` as TOML or the flags wrote them (not yet checked)."""

    name: str
    values: Mapping[str, Any]


def _flatten(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Nested TOML tables -> ``{"section.key": value}``; unknown sections and keys are errors."""
    flat: dict[str, Any] = {}
    known = set(_known_keys())
    for name, value in data.items():
        if name in _SECTION_TYPES:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"[{name}] must be a table of settings, got {value!r}", keys=(name,), layer=source
                )
            for key, item in value.items():
                dotted = f"{name}.{key}"
                if dotted not in known:
                    options = ", ".join(f.name for f in fields(_SECTION_TYPES[name]))
                    raise ConfigError(
                        f"unknown key {dotted!r}; [{name}] takes: {options}", keys=(dotted,), layer=source
                    )
                flat[dotted] = item
        elif name in _TOP_KEYS:
            flat[name] = value
        else:
            sections = ", ".join(f"[{s}]" for s in _SECTION_TYPES)
            raise ConfigError(
                f"unknown key {name!r}; the top level takes {', '.join(_TOP_KEYS)} and the sections {sections}",
                keys=(name,),
                layer=source,
            )
    return flat


def _unknown(key: str, known: list[str]) -> ConfigError:
    close = [k for k in known if k.startswith(key)] or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else " (see docs/training.md for every key)"
    return ConfigError(f"unknown key {key!r}{hint}", keys=(key,))


def _sections(values: Mapping[str, Any]) -> dict[str, Any]:
    """Each section built from its field defaults and the typed ``values`` of its keys (its checks run)."""
    sections: dict[str, Any] = {}
    for name, cls in _SECTION_TYPES.items():
        prefix = name + "."
        sections[name] = cls(**{k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)})
    return sections


def _check_limits(typed: Mapping[str, Any]) -> None:
    """The bounds (``LIMITS``) of every key set in ``typed`` (of each item of a list)."""
    for key, value in typed.items():
        limit = LIMITS.get(key)
        if limit is None or value is None:
            continue
        for item in value if isinstance(value, tuple) else (value,):
            shown = f"{item}" if isinstance(item, int) else f"{item:g}"
            bound = f"{int(limit)}" if isinstance(item, int) else f"{limit:g}"
            _require(
                not isinstance(item, bool) and item <= limit, key, f"must be at most {bound}, got {shown}"
            )
            if key == "data.val_shots":
                _require(item >= 0, key, f"shot indices are >= 0, got {item}")


def check_layer(layer: Layer) -> dict[str, Any]:
    """``layer``'s values typed and checked on their own: every key known, of its type and in its range.

    Returns:
        ``{"section.key": value}`` with the annotated types (ints widened to floats, lists to tuples).
    Raises:
        ConfigError: with ``layer`` set to ``layer.name`` and ``keys`` to the setting at fault.
    """
    known = sorted(_known_keys())
    try:
        for key in layer.values:
            if key not in known:
                raise _unknown(key, known)
        typed = {k: _convert(v, _type_of(k), k) for k, v in layer.values.items()}
        _check_limits(typed)
        _check_top(**{k: typed[k] for k in _TOP_KEYS if k in typed})
        _sections(typed)
    except ConfigError as exc:
        raise exc.in_layer(layer.name) from None
    return typed


def _merge(checked: Sequence[tuple[str, Mapping[str, Any]]]) -> TrainConfig:
    """The config of checked layers ``(name, typed values)``, lowest precedence first, and the checks
    that involve several keys; their error names the last layer that set one of its keys."""
    values: dict[str, Any] = {}
    origin: dict[str, int] = {}  # key -> index of the layer that set it last
    for index, (_, typed) in enumerate(checked):
        values.update(typed)
        origin.update(dict.fromkeys(typed, index))
    try:
        return TrainConfig(**{k: values[k] for k in _TOP_KEYS if k in values}, **_sections(values))
    except ConfigError as exc:
        setters = [i for k, i in origin.items() for key in exc.keys if k == key or k.startswith(key + ".")]
        raise exc.in_layer(checked[max(setters)][0] if setters else None) from None


def preset_layer(preset: str) -> Layer:
    """The layer of a preset's recipe: only what it changes from the field defaults (``lite``'s)."""
    if preset not in PRESETS:
        raise ConfigError(
            f"model.preset: must be one of {list(PRESET_NAMES)}, got {preset!r}", keys=("model.preset",)
        )
    name = f"the {preset} preset"
    return Layer(name, {"model.preset": "lite"} if preset == "lite" else _flatten(_PAPER_RECIPE, name))


def _build(layers: Sequence[Layer]) -> TrainConfig:
    """Check each layer on its own, then merge them (lowest precedence first)."""
    return _merge([(layer.name, check_layer(layer)) for layer in layers])


def default_config(preset: str = "lite") -> TrainConfig:
    """The recipe that goes with a generator preset (the field defaults are ``lite``'s).

    ``lite`` (CPU, minutes): 128 px crops, batch 8, Adam lr 2e-3 with a cosine decay after 50 warm-up
    steps, 2000 steps, validation and checkpoints every 200 steps; stage 2 at the paper's 500k (not
    reached). ``paper`` (GPUs, days): 256 px crops, batch 16, Adam lr 1e-4 (ProSR's) constant after
    2000 warm-up steps, 500k steps of stage 1 then 100k of GAN (the paper gives stage 1's length; stage
    2's is our choice), checkpoints and validation every 5000 steps on 512 px crops.
    """
    return _build([preset_layer(preset)])


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML config file into flat dotted keys (unknown keys refused, types not yet checked)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes: not a config")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} nests arrays or tables too deeply to be a config") from None
    return _flatten(data, f"config file {path}")


def resolve_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    overrides_source: str = "the command line",
) -> TrainConfig:
    """Preset recipe < TOML file ``path`` < ``overrides`` (dotted keys), validated into a ``TrainConfig``.

    The preset is ``overrides["model.preset"]``, else the file's ``[model] preset``, else ``lite``. Each
    of the three layers is checked on its own before they are merged (see the module docstring).

    Raises:
        ConfigError: an unknown key, a wrong type or an impossible value, naming the key and where it
            was set (the file, the command line or the preset).
    """
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        file = Layer(f"config file {path}", read_toml(path))
        layers.append((file.name, check_layer(file)))
    flags = Layer(overrides_source, dict(overrides or {}))
    layers.append((flags.name, check_layer(flags)))
    preset = next((typed["model.preset"] for _, typed in reversed(layers) if "model.preset" in typed), "lite")
    recipe = preset_layer(preset)
    return _merge([(recipe.name, check_layer(recipe)), *layers])


def load_config(path: str | Path) -> TrainConfig:
    """A config file (TOML) validated into a ``TrainConfig``; see ``resolve_config``."""
    return resolve_config(path)


def apply_overrides(
    cfg: TrainConfig, overrides: Mapping[str, Any], source: str = "the command line"
) -> TrainConfig:
    """``cfg`` with dotted keys replaced (types and ranges checked as for a file)."""
    return _build([Layer("the configuration", config_to_flat(cfg)), Layer(source, overrides)])


def config_to_flat(cfg: TrainConfig) -> dict[str, Any]:
    """``{"section.key": value}`` of every key (tuples as lists)."""
    flat: dict[str, Any] = {k: getattr(cfg, k) for k in _TOP_KEYS}
    for name in _SECTION_TYPES:
        for key, value in dataclasses.asdict(getattr(cfg, name)).items():
            flat[f"{name}.{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Nested plain dict (JSON-able) of the whole config; ``config_from_dict`` reads it back."""
    nested: dict[str, Any] = {}
    for key, value in config_to_flat(cfg).items():
        section, _, name = key.partition(".")
        if name:
            nested.setdefault(section, {})[name] = value
        else:
            nested[section] = value
    return nested


def config_from_dict(data: Mapping[str, Any], source: str = "a stored config") -> TrainConfig:
    """Inverse of ``config_to_dict`` (e.g. the config stored in a checkpoint)."""
    stored = check_layer(Layer(source, _flatten(data, source)))
    recipe = preset_layer(stored.get("model.preset", "lite"))
    return _merge([(recipe.name, check_layer(recipe)), (source, stored)])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def config_to_toml(cfg: TrainConfig) -> str:
    """The config as a TOML file that ``load_config`` reads back to an equal config (keys whose value
    is None, i.e. "the preset's", are left out: TOML has no null)."""
    nested = config_to_dict(cfg)
    lines = ["# remaster training config (resolved: preset recipe, file and flags)"]
    lines += [f"{k} = {_toml_value(nested[k])}" for k in _TOP_KEYS]
    for section in _SECTION_TYPES:
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in nested[section].items() if v is not None]
    return "\n".join(lines) + "\n"


def config_hash(cfg: TrainConfig) -> str:
    """SHA-256 (hex, 16 characters) of the config without ``RESULT_NEUTRAL_KEYS``: equal for two runs
    that compute the same weights, different otherwise."""
    flat = {k: v for k, v in config_to_flat(cfg).items() if k not in RESULT_NEUTRAL_KEYS}
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:16]


def resume_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Keys that differ between a run's saved config and the one asked for on resume, other than those a
    resume may change (``RESULT_NEUTRAL_KEYS``, and ``steps``: a run can be extended), as
    ``"key: saved -> asked"`` lines."""
    a, b = config_to_flat(saved), config_to_flat(current)
    free = RESULT_NEUTRAL_KEYS | {"steps", "runtime.device", "runtime.bf16"}
    return [f"{k}: {a[k]!r} -> {b[k]!r}" for k in a if k not in free and a[k] != b[k]]


def check_runnable(cfg: TrainConfig) -> None:
    """Checks that depend on the whole run: the GAN stage's needs, when the run reaches it.

    Raises:
        ConfigError: a crop size D cannot take, or VGG19 weights named but not there. (Without
            ``stages.vgg_weights`` the perceptual term is D's feature matching.)
    """
    if not cfg.gan_reached:
        return
    if cfg.data.crop_size % 16:
        raise ConfigError(
            f"data.crop_size: must be a multiple of 16 for the GAN stage's discriminator (the run reaches "
            f"stage 2 at step {cfg.stages.gan_start_step}), got {cfg.data.crop_size}"
        )
    if cfg.stages.vgg_weights and not Path(cfg.stages.vgg_weights).is_file():
        raise ConfigError(f"stages.vgg_weights: {cfg.stages.vgg_weights} does not exist")
