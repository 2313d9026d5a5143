"""Which checkpoint to export, what the exported model is called, and the metadata it carries.

Source: ``remaster export`` takes a training run folder or a checkpoint file (``resolve_checkpoint``):

- a checkpoint file (``.safetensors`` written by ``training.checkpoint.save_checkpoint``) is taken as is;
- a run folder ``RUN/`` (or its ``RUN/checkpoints/``): ``checkpoints/best.safetensors`` (the trainer's
  best EMA weights); when there is none, the newest step checkpoint ``step_<N>.safetensors`` (highest
  ``N``, not the newest mtime, so the choice does not depend on copies) with a warning that says so.

Identity (``identify``): the model name defaults to the run folder's name (or the checkpoint's stem when
the file is not inside a run), the version to ``<stage>-step<N>`` from the checkpoint; ``--name`` and
``--version`` override both. The preset is the name in ``training.model.PRESETS`` whose config equals
the checkpoint's, else ``"custom"``. ``config_hash`` is the sha256 of the canonical JSON (sorted keys,
no spaces) of ``{"generator": <GeneratorConfig.to_dict()>, "training": <training config or null>}``,
the training config being the first dict found in the checkpoint's ``extra`` under one of
``TRAINING_CONFIG_KEYS`` (the trainer stores its options there).

Metadata (``model_metadata``): every key of the runtime's contract (``remaster_core.runtime.model``,
which documents each one), written exactly, plus provenance keys the runtime ignores:

=================================  ================================================================
``remaster.generator_config``      the generator config as canonical JSON
``remaster.checkpoint``            the checkpoint's file name
``remaster.checkpoint_sha256``     sha256 of the checkpoint file's bytes
``remaster.checkpoint_step``       optimiser steps of the checkpoint
``remaster.training_stage``        the trainer's stage name (``fft``, ``gan``...)
``remaster.exported_with``         torch, onnx versions, exporter and opset
=================================  ================================================================

``stamp`` writes the metadata into a graph together with ``remaster.sha256_weights`` (the runtime's
``weights_sha256`` of that very graph, so a weight edited after export is refused at load).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from remaster_core.errors import InputError
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import Precision, file_sha256
from training.checkpoint import Checkpoint
from training.model import PRESETS, GeneratorConfig, receptive_field

log = logging.getLogger("remaster.export")

BEST_CHECKPOINT = "best.safetensors"
CHECKPOINTS_DIR = "checkpoints"
STEP_PATTERN = re.compile(r"^step_(\d+)\.safetensors$")
TRAINING_CONFIG_KEYS: tuple[str, ...] = ("train_config", "training_config", "config")

KEY_GENERATOR_CONFIG = "remaster.generator_config"
KEY_CHECKPOINT = "remaster.checkpoint"
KEY_CHECKPOINT_SHA256 = "remaster.checkpoint_sha256"
KEY_CHECKPOINT_STEP = "remaster.checkpoint_step"
KEY_TRAINING_STAGE = "remaster.training_stage"
KEY_EXPORTED_WITH = "remaster.exported_with"


@dataclass(frozen=True)
class CheckpointSource:
    """The checkpoint file chosen for export.

    Attributes:
        path: the ``.safetensors`` file.
        run_dir: the training run folder it belongs to, or None for a loose checkpoint file.
        how: how it was chosen, for the log and the report (e.g. ``"best checkpoint of run R"``).
        fallback: True when a run folder had no best checkpoint and the newest step one was taken.
    """

    path: Path
    run_dir: Path | None
    how: str
    fallback: bool = False


def _step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for child in folder.iterdir():
        match = STEP_PATTERN.match(child.name)
        if match and child.is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def resolve_checkpoint(source: str | os.PathLike[str]) -> CheckpointSource:
    """The checkpoint to export from a run folder or a checkpoint file (see the module docstring).

    Raises:
        InputError: the path does not exist, or a folder holds no best or step checkpoint.
    """
    source = Path(source)
    if source.is_file():
        run_dir = source.parent.parent if source.parent.name == CHECKPOINTS_DIR else None
        return CheckpointSource(source, run_dir, f"checkpoint file {source}")
    if not source.is_dir():
        raise InputError(
            f"{source} does not exist: give a training run folder (with {CHECKPOINTS_DIR}/{BEST_CHECKPOINT}) "
            "or a checkpoint file (.safetensors) written by `remaster train`"
        )
    if source.name == CHECKPOINTS_DIR and not (source / CHECKPOINTS_DIR).is_dir():
        folder, run_dir = source, source.parent
    else:
        folder, run_dir = source / CHECKPOINTS_DIR, source
    if (folder / BEST_CHECKPOINT).is_file():
        return CheckpointSource(folder / BEST_CHECKPOINT, run_dir, f"best checkpoint of run {run_dir}")
    steps = _step_checkpoints(folder) if folder.is_dir() else []
    if not steps:
        raise InputError(
            f"{source}: no checkpoint found (looked for {folder / BEST_CHECKPOINT} and "
            f"{folder / 'step_<N>.safetensors'}); is this a `remaster train` run folder? Pass the "
            "run folder or a checkpoint file"
        )
    step, path = steps[-1]
    log.warning(
        "%s has no %s: exporting the newest step checkpoint %s (step %d) instead; it holds the weights "
        "at that step, which are not necessarily the best ones",
        run_dir,
        BEST_CHECKPOINT,
        path.name,
        step,
    )
    return CheckpointSource(path, run_dir, f"newest step checkpoint of run {run_dir} (no best)", True)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text (and hashes)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def preset_name(cfg: GeneratorConfig) -> str:
    """The ``PRESETS`` name whose config equals ``cfg``, else ``"custom"``."""
    return next((name for name, preset in PRESETS.items() if preset == cfg), "custom")


def training_config(checkpoint: Checkpoint) -> dict[str, Any] | None:
    """The trainer's options stored in the checkpoint's ``extra`` (first of ``TRAINING_CONFIG_KEYS``)."""
    for key in TRAINING_CONFIG_KEYS:
        value = checkpoint.extra.get(key)
        if isinstance(value, dict):
            return value
    return None


def config_hash(cfg: GeneratorConfig, training: Mapping[str, Any] | None = None) -> str:
    """Hex sha256 of the canonical JSON of the generator config and the training config (or null)."""
    text = canonical_json({"generator": cfg.to_dict(), "training": dict(training) if training else None})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ModelIdentity:
    """What an exported model is and where it came from (the non-architectural half of its metadata).

    Attributes:
        name, version: for people and logs (``remaster.model_name`` / ``remaster.model_version``).
        preset: ``PRESETS`` name or ``"custom"``.
        config_hash: ``config_hash(generator config, training config)``.
        checkpoint: the checkpoint file; checkpoint_sha256: its bytes' sha256.
        step, stage: from the checkpoint.
    """

    name: str
    version: str
    preset: str
    config_hash: str
    checkpoint: Path
    checkpoint_sha256: str
    step: int
    stage: str


def _clean_label(text: str, what: str) -> str:
    label = text.strip()
    if not label or any(not ch.isprintable() for ch in label):
        raise InputError(f"--{what} must be a non-empty single line of printable text, got {text!r}")
    return label


def identify(
    checkpoint: Checkpoint, source: CheckpointSource, *, name: str | None = None, version: str | None = None
) -> ModelIdentity:
    """Name, version, preset and hashes of the model exported from ``checkpoint`` (module docstring)."""
    default_name = source.run_dir.resolve().name if source.run_dir is not None else source.path.stem
    return ModelIdentity(
        name=_clean_label(name if name is not None else default_name, "name"),
        version=_clean_label(
            version if version is not None else f"{checkpoint.stage}-step{checkpoint.step}", "version"
        ),
        preset=preset_name(checkpoint.generator_config),
        config_hash=config_hash(checkpoint.generator_config, training_config(checkpoint)),
        checkpoint=source.path,
        checkpoint_sha256=file_sha256(source.path),
        step=checkpoint.step,
        stage=checkpoint.stage,
    )


def model_metadata(
    identity: ModelIdentity,
    cfg: GeneratorConfig,
    *,
    precision: Precision,
    pads_internally: bool,
    exported_with: str,
) -> dict[str, str]:
    """The ``metadata_props`` of an exported G: the runtime's contract keys plus provenance (strings).

    Args:
        precision: dtype of the graph's input and output (``"fp32"`` or ``"fp16"``).
        pads_internally: the graph reflect-pads H, W to a multiple of ``s`` itself.
        exported_with: versions and exporter, e.g. ``"torch 2.13.0, onnx 1.23.2, legacy exporter, opset 17"``.
    """
    return {
        contract.KEY_FORMAT_VERSION: contract.FORMAT_VERSION,
        contract.KEY_MODEL_NAME: identity.name,
        contract.KEY_MODEL_VERSION: identity.version,
        contract.KEY_PRESET: identity.preset,
        contract.KEY_CONFIG_HASH: identity.config_hash,
        contract.KEY_COLOR: contract.COLOR_CONVENTION,
        contract.KEY_VALUE_RANGE: contract.VALUE_RANGE,
        contract.KEY_SPACE_TO_DEPTH: str(cfg.space_to_depth),
        contract.KEY_RECEPTIVE_FIELD: str(receptive_field(cfg)),
        contract.KEY_PRECISION: precision,
        contract.KEY_PADS_INTERNALLY: "1" if pads_internally else "0",
        KEY_GENERATOR_CONFIG: canonical_json(cfg.to_dict()),
        KEY_CHECKPOINT: identity.checkpoint.name,
        KEY_CHECKPOINT_SHA256: identity.checkpoint_sha256,
        KEY_CHECKPOINT_STEP: str(identity.step),
        KEY_TRAINING_STAGE: identity.stage,
        KEY_EXPORTED_WITH: exported_with,
    }


def value_range(props: Mapping[str, str]) -> tuple[float, float]:
    """``remaster.value_range`` ("lo,hi") as two floats."""
    lo, hi = props[contract.KEY_VALUE_RANGE].split(",")
    return float(lo), float(hi)


def stamp(model: onnx.ModelProto, props: Mapping[str, str]) -> onnx.ModelProto:
    """A copy of ``model`` whose ``metadata_props`` are exactly ``props`` plus ``remaster.sha256_weights``.

    Sign last: the weights hash is of this graph (after any fp16 conversion), as ``open_model`` recomputes.
    """
    stamped = onnx.ModelProto()
    stamped.CopyFrom(model)
    del stamped.metadata_props[:]
    signed = dict(props)
    signed[contract.KEY_SHA256_WEIGHTS] = contract.weights_sha256(stamped)
    onnx.helper.set_model_props(stamped, signed)
    return stamped
