"""Training checkpoints: safetensors tensors plus one JSON metadata entry; written atomically.

A checkpoint file holds everything an exact resume needs:

- tensors (safetensors, no pickle anywhere): ``generator.<state-dict key>``,
  ``discriminator.<key>`` (stage 2), ``optimizer.<name>.<param index>.<state key>`` (Adam's ``step``,
  ``exp_avg``, ``exp_avg_sq`` ...), and ``extra.<name>`` (e.g. RNG states the trainer wants back);
- metadata key ``remaster`` = JSON: ``format`` (``remaster-checkpoint``), ``version``, the generator and
  discriminator configs, ``step``, ``stage``, each optimizer's param groups (hyper-parameters) and
  non-tensor state, the trainer's JSON ``extra``, and a SHA-256 over every tensor (name, dtype, shape,
  bytes), so a flipped byte is caught on load, not trained on.

Refused on load, each with a ``CheckpointError`` naming the file: a missing file; a pickle or a
``torch.save`` zip where safetensors was expected (never unpickled: unpickling runs code); a file that is
neither, or truncated, or corrupt; a safetensors file without our metadata (a foreign checkpoint);
a newer format version; a checksum mismatch; tensors that do not fit the stored config; a config other
than the one the caller expects.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from remaster_core.errors import ModelError
from remaster_core.io.atomic import atomic_path
from training.discriminator import Discriminator, DiscriminatorConfig, build_discriminator
from training.model import Generator, GeneratorConfig, build_generator

FORMAT = "remaster-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "remaster"
_MAX_HEADER_BYTES = 100 * 1024 * 1024


class CheckpointError(ModelError):
    """A checkpoint that cannot be written or must not be loaded; the message names the file."""


@dataclass(frozen=True)
class Checkpoint:
    """What ``load_checkpoint`` returns; tensors are on the CPU.

    Attributes:
        path: the file read.
        generator_config, generator: G's config and state dict.
        step: optimiser steps done; stage: the trainer's stage name (e.g. ``"fft"``, ``"gan"``).
        discriminator_config, discriminator: D's config and state dict, or None before stage 2.
        optimizers: name -> a state dict ready for ``torch.optim.Optimizer.load_state_dict``.
        extra: the trainer's JSON-able extras; extra_tensors: its named tensors.
    """

    path: Path
    generator_config: GeneratorConfig
    generator: dict[str, torch.Tensor]
    step: int
    stage: str
    discriminator_config: DiscriminatorConfig | None = None
    discriminator: dict[str, torch.Tensor] | None = None
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def _tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def _flatten_optimizer(
    path: Path, name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """Put the optimizer's tensor state into ``tensors``; return its JSON part."""
    state_dict = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in state_dict["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{name}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = []
    for group in state_dict["param_groups"]:
        for key, value in group.items():
            if isinstance(value, torch.Tensor):
                raise CheckpointError(
                    f"cannot write {path}: optimizer {name!r} has a tensor-valued {key!r} in a param group; "
                    "use a plain float"
                )
        groups.append({k: list(v) if isinstance(v, tuple) else v for k, v in group.items()})
    return {"param_groups": groups, "scalars": scalars}


def save_checkpoint(
    path: str | Path,
    *,
    generator: Generator,
    step: int,
    stage: str,
    discriminator: Discriminator | None = None,
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    extra: Mapping[str, Any] | None = None,
    extra_tensors: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Write a checkpoint to ``path`` (``.safetensors``) atomically: readers see the old file or the new.

    Args:
        generator: G (its ``cfg`` is stored).
        step: optimiser steps done (>= 0). stage: the trainer's stage name (non-empty).
        discriminator: D in stage 2 (its ``cfg`` is stored).
        optimizers: name -> optimizer (e.g. ``{"generator": adam_g, "discriminator": adam_d}``).
        extra: JSON-able values (no NaN); extra_tensors: named tensors (e.g. RNG states).
    Raises:
        CheckpointError: something not storable (a tensor-valued hyper-parameter, non-JSON extras).
        MediaError: the disk is full (from the atomic write; nothing partial is left).
    """
    path = Path(path)
    if not isinstance(step, int) or step < 0:
        raise CheckpointError(f"cannot write {path}: step must be an int >= 0, got {step!r}")
    if not stage:
        raise CheckpointError(f"cannot write {path}: stage must be a non-empty name")
    tensors: dict[str, torch.Tensor] = {}
    for key, value in generator.state_dict().items():
        tensors[f"generator.{key}"] = value
    if discriminator is not None:
        for key, value in discriminator.state_dict().items():
            tensors[f"discriminator.{key}"] = value
    optimizer_meta = {
        name: _flatten_optimizer(path, name, optimizer, tensors)
        for name, optimizer in (optimizers or {}).items()
    }
    for name, value in (extra_tensors or {}).items():
        tensors[f"extra.{name}"] = value
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "generator_config": generator.cfg.to_dict(),
        "discriminator_config": None if discriminator is None else discriminator.cfg.to_dict(),
        "step": step,
        "stage": stage,
        "optimizers": optimizer_meta,
        "extra": dict(extra or {}),
        "tensor_sha256": _tensor_digest(tensors),
    }
    try:
        text = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot write {path}: metadata is not plain JSON ({exc})") from exc
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: text})


def _refuse_non_safetensors(path: Path) -> None:
    """Look at the first bytes: safetensors starts with a little-endian u64 header size, then '{'."""
    with path.open("rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    if len(head) == 9:
        (header_size,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and header_size <= min(_MAX_HEADER_BYTES, size - 8):
            return
    if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"):
        raise CheckpointError(
            f"refusing {path}: it is a pickle (a torch.save file), not a safetensors checkpoint; remaster "
            "never unpickles checkpoints because unpickling runs code from the file. Use a checkpoint "
            "written by `remaster train` (.safetensors)"
        )
    raise CheckpointError(
        f"refusing {path}: not a safetensors file (corrupt, truncated, or another format; {size} bytes); "
        "use a checkpoint written by `remaster train`"
    )


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys()
            tensors = {name: handle.get_tensor(name) for name in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"refusing {path}: corrupt or truncated safetensors file ({exc})") from exc
    return metadata, tensors


def _strip(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def _check_state(path: Path, what: str, module: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Keys and shapes of ``state`` must be exactly ``module``'s (a meta-device module: no memory)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"refusing {path}: its {what} tensors do not fit its stored config (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape or state[key].dtype != tensor.dtype:
            raise CheckpointError(
                f"refusing {path}: {what} tensor {key} is {state[key].dtype} {tuple(state[key].shape)}, the "
                f"stored config needs {tensor.dtype} {tuple(tensor.shape)}"
            )


def _optimizer_state(
    name: str, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]
) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in _strip(tensors, f"optimizer.{name}.").items():
        index, _, state_key = key.partition(".")
        state.setdefault(int(index), {})[state_key] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in group.items()}
        for group in meta["param_groups"]
    ]
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def _config_diff(expected: GeneratorConfig, found: GeneratorConfig) -> str:
    a, b = expected.to_dict(), found.to_dict()
    return ", ".join(f"{k}: expected {a[k]!r}, checkpoint has {b[k]!r}" for k in a if a[k] != b[k])


def add_to_extra(path: str | Path, updates: Mapping[str, Any], ckpt: Checkpoint | None = None) -> None:
    """Write the generator checkpoint ``path`` again with ``updates`` merged into its ``extra``: its
    generator weights, step and stage unchanged (a discriminator, optimizers and extra tensors are not
    kept: for ``best.safetensors``, which records the weights and what the run learnt about them).

    Args:
        ckpt: ``path`` as already loaded, or None (it is read).
    """
    ckpt = ckpt if ckpt is not None else load_checkpoint(path)
    generator = build_generator(ckpt.generator_config)
    generator.load_state_dict(ckpt.generator)
    extra = {**ckpt.extra, **updates}
    save_checkpoint(path, generator=generator, step=ckpt.step, stage=ckpt.stage, extra=extra)


def load_checkpoint(path: str | Path, *, expect_config: GeneratorConfig | None = None) -> Checkpoint:
    """Read and verify a checkpoint written by ``save_checkpoint`` (CPU tensors).

    Args:
        path: the ``.safetensors`` file.
        expect_config: if given, the stored generator config must equal it (e.g. ``--resume`` with a
            preset), else ``CheckpointError`` listing the differing fields.
    Raises:
        CheckpointError: see the module docstring; the message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    _refuse_non_safetensors(path)
    metadata, tensors = _read(path)
    if METADATA_KEY not in metadata:
        raise CheckpointError(
            f"refusing {path}: a safetensors file without remaster's metadata (a foreign checkpoint); "
            "only checkpoints written by `remaster train` can be loaded"
        )
    try:
        meta = json.loads(metadata[METADATA_KEY])
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, not {FORMAT!r}")
        version = int(meta["version"])
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"refusing {path}: checkpoint format version {version} is newer than this remaster "
                f"understands ({FORMAT_VERSION}); update remaster"
            )
        generator_config = GeneratorConfig.from_dict(meta["generator_config"])
        d_meta = meta["discriminator_config"]
        discriminator_config = None if d_meta is None else DiscriminatorConfig.from_dict(d_meta)
        step, stage = int(meta["step"]), str(meta["stage"])
        digest = str(meta["tensor_sha256"])
        optimizer_meta = dict(meta["optimizers"])
        extra = dict(meta["extra"])
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"refusing {path}: damaged remaster metadata ({exc})") from exc
    if _tensor_digest(tensors) != digest:
        raise CheckpointError(
            f"refusing {path}: its tensors do not match the checksum written with them (corrupt or edited)"
        )
    generator = _strip(tensors, "generator.")
    with torch.device("meta"):
        _check_state(path, "generator", build_generator(generator_config), generator)
    discriminator = None
    if discriminator_config is not None:
        discriminator = _strip(tensors, "discriminator.")
        with torch.device("meta"):
            _check_state(path, "discriminator", build_discriminator(discriminator_config), discriminator)
    if expect_config is not None and expect_config != generator_config:
        raise CheckpointError(
            f"refusing {path}: it was trained with another generator config "
            f"({_config_diff(expect_config, generator_config)}); pick the matching preset or start anew"
        )
    try:
        optimizers = {name: _optimizer_state(name, m, tensors) for name, m in optimizer_meta.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"refusing {path}: damaged optimizer state ({exc})") from exc
    return Checkpoint(
        path=path,
        generator_config=generator_config,
        generator=generator,
        step=step,
        stage=stage,
        discriminator_config=discriminator_config,
        discriminator=discriminator,
        optimizers=optimizers,
        extra=extra,
        extra_tensors=_strip(tensors, "extra."),
    )


def load_generator(path: str | Path, *, expect_config: GeneratorConfig | None = None) -> Generator:
    """G from a checkpoint, weights loaded, in eval mode on the CPU (for export and evaluation)."""
    checkpoint = load_checkpoint(path, expect_config=expect_config)
    generator = build_generator(checkpoint.generator_config)
    generator.load_state_dict(checkpoint.generator)
    return generator.eval()
