"""Which checkpoint to export, what the exported model is called, and the metadata it carries.

Source: ``remaster export`` takes a training run folder or a checkpoint file (``resolve_checkpoint``):

- a checkpoint file (``.safetensors`` written by ``training.checkpoint.save_checkpoint``) is taken as is;
- a run folder ``RUN/`` (or its ``RUN/checkpoints/``): ``checkpoints/best.safetensors`` (the trainer's
  best EMA weights); when there is none, the newest step checkpoint ``step_<N>.safetensors`` (highest
  ``N``, not the newest mtime, so the choice does not depend on copies) with a warning that says so. A
  ``best.safetensors`` that is there but is no file (a folder, a link to nothing) is refused, not
  passed over.

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

Grain (``grain_metadata``): the run folder's ``grain.json`` (the film's grain profile, written by
``remaster train``) less the grain the checkpoint's own output already carries (recorded by ``remaster
train`` in ``best.safetensors``: ``training.output_grain``) as ``remaster.grain_profile``, which the
render synthesises grain from; a loose checkpoint file, or a run without the file (trained before grain
profiles), exports without it.

Guard and generalisation (``guard_metadata``): the checkpoint's record of what the model was trained on
(``training.colour_init.GUARD_KEY``: the grade of every film shot, which export also writes into the
graph's grade path, and the training coverage) as ``remaster.guard``, which the render guards each
output with; the held-out shots' figures (``held_out``: the model's PSNR, the colour fit's, bilinear's
and the margins) as ``remaster.held_out``. ``generalisation_warnings`` says what they mean for use:
a model below the colour fit or bilinear on a held-out shot, or never scored on a whole unseen shot.

Colour (``colour_metadata``): the working colour space the model was trained in (``remaster align
--working-colorspace``, kept by the run: ``training.colour_space``) as ``remaster.colorspace``
and its OCIO config as ``remaster.ocio_config``; a checkpoint of pairs from before colour management
exports without them (the broadcast's code values, as decoded).

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
from remaster_core.grain.profile import GRAIN_FILE, GrainProfile, grain_deficit, profile_to_json, read_profile
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import Precision, file_sha256
from training.checkpoint import Checkpoint
from training.colour_init import GUARD_KEY
from training.colour_space import checkpoint_colour
from training.model import PRESETS, GeneratorConfig, receptive_field
from training.output_grain import OUTPUT_GRAIN_KEY

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
    best = folder / BEST_CHECKPOINT
    if best.is_file():
        return CheckpointSource(best, run_dir, f"best checkpoint of run {run_dir}")
    if os.path.lexists(best):  # there, but a folder or a link to nothing: damage, not an absent best
        what = "a folder" if best.is_dir() else "a symlink that leads to no file"
        raise InputError(
            f"{best} is {what}, not a checkpoint; restore it (or re-run training), or export another "
            "checkpoint by passing its file (e.g. a step_<N>.safetensors of the run)"
        )
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


def grain_metadata(source: CheckpointSource, extra: Mapping[str, Any]) -> dict[str, str]:
    """``{remaster.grain_profile: JSON}``: the grain render synthesises, or {} when the run has no
    grain profile. The run folder's film profile, less what the checkpoint's output already carries
    (``training.output_grain``, in the checkpoint's ``extra``: ``grain_deficit``) when it recorded that,
    with both profiles beside it (``remaster.film_grain``, ``remaster.output_grain``: a render that
    deflickers its input takes some of the output's grain away, and synthesises it back from them);
    the film's whole profile when it did not (a checkpoint from before the record, a step checkpoint).

    Raises:
        InputError: the run's grain.json, or the checkpoint's record, is not a valid profile (named).
    """
    if source.run_dir is None or not (source.run_dir / GRAIN_FILE).is_file():
        log.info(
            "no %s beside the checkpoint: the model carries no grain profile (no grain at render)", GRAIN_FILE
        )
        return {}
    profile = read_profile(source.run_dir / GRAIN_FILE)
    record = extra.get(OUTPUT_GRAIN_KEY)
    if record is None:
        log.info("%s records no output grain: render synthesises the film's whole grain", source.path.name)
        return {contract.KEY_GRAIN_PROFILE: profile_to_json(profile)}
    output = GrainProfile.from_dict(record, f"{source.path} extra '{OUTPUT_GRAIN_KEY}'")
    try:
        deficit = grain_deficit(profile, output)
    except InputError as exc:
        log.warning("%s: %s; render synthesises the film's whole grain", source.path.name, exc)
        return {contract.KEY_GRAIN_PROFILE: profile_to_json(profile)}
    log.info(
        "grain: film RMS %s, the model's output carries %s, render adds %s (R/G/B)",
        *("/".join(f"{v:.4f}" for v in p.rms) for p in (profile, output, deficit)),
    )
    return {
        contract.KEY_GRAIN_PROFILE: profile_to_json(deficit),
        contract.KEY_FILM_GRAIN: profile_to_json(profile),
        contract.KEY_OUTPUT_GRAIN: profile_to_json(output),
    }


def guard_metadata(checkpoint: Checkpoint) -> dict[str, str]:
    """``remaster.guard`` and ``remaster.held_out`` from the checkpoint's ``extra`` (each only when the
    checkpoint has it: a checkpoint of an older run, or a step checkpoint, has neither)."""
    props: dict[str, str] = {}
    guard = checkpoint.extra.get(GUARD_KEY)
    if isinstance(guard, dict):
        props[contract.KEY_GUARD] = canonical_json(guard)
    held_out = checkpoint.extra.get("held_out")
    if isinstance(held_out, dict):
        props[contract.KEY_HELD_OUT] = canonical_json(held_out)
    return props


def colour_metadata(checkpoint: Checkpoint, source: CheckpointSource) -> dict[str, str]:
    """``remaster.colorspace`` (and ``remaster.ocio_config``) from the checkpoint's colour record
    (``training.colour_space.checkpoint_colour``), or {} when it has none."""
    colour = checkpoint_colour(checkpoint.extra, source.run_dir)
    if colour is None:
        return {}
    props = {contract.KEY_WORKING_COLORSPACE: str(colour["working"])}
    if colour.get("config"):
        props[contract.KEY_OCIO_CONFIG] = str(colour["config"])
    return props


def generalisation_warnings(checkpoint: Checkpoint) -> list[str]:
    """What the checkpoint's held-out figures say against using the model on shots it has not seen
    (empty when nothing does)."""
    held_out = checkpoint.extra.get("held_out")
    notes = []
    if not isinstance(held_out, dict):
        notes.append(
            "the checkpoint has no held-out figures (trained before they were recorded, or a step "
            "checkpoint): whether the model beats the colour fit on shots it has not seen is unknown"
        )
        held_out = {"whole_shots": True, "shots": []}
    if not held_out.get("whole_shots", False):
        notes.append(
            "GENERALISATION IS UNMEASURED: the run had a single aligned shot and validated on its own frames"
        )
    for row in held_out.get("shots", []):
        ours, fit, bilinear = row.get("ours"), row.get("colour_fit"), row.get("bilinear")
        if ours is None:
            continue
        if fit is not None and ours <= fit:
            notes.append(
                f"the model does not beat the colour fit on held-out shot {row.get('shot')} ({ours:.2f} dB "
                f"against {fit:.2f} dB): on shots without film it may do no better than a global grade"
            )
        if bilinear is not None and ours < bilinear:
            notes.append(
                f"the model scores below bilinear on held-out shot {row.get('shot')} ({ours:.2f} dB against "
                f"{bilinear:.2f} dB)"
            )
    if not isinstance(checkpoint.extra.get(GUARD_KEY), dict):
        notes.append(
            "the checkpoint records no training coverage: the render cannot guard the model's output"
        )
    return notes


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
