"""Keys for the TensorRT engine and timing caches and the compiled OpenVINO models: pure functions of
everything that changes them.

A TensorRT engine is only valid for the exact model, precision flags, shape profile, TensorRT and
onnxruntime versions, GPU and provider options it was built with. onnxruntime's own engine cache
names files by a hash of the graph that ignores the TensorRT version and (for models loaded from
memory) the weights, so a stale engine can be picked up after an upgrade or a retrain. As vs-mlrt does,
each distinct combination gets its own folder, ``<cache_dir>/engines/<key>``: a change of any input
builds a new engine instead of reusing a wrong one.

The timing cache (kernel timings TensorRT measures while building) depends only on the GPU and the
TensorRT version, so it is shared across models: ``<cache_dir>/timing/<timing key>``.

A compiled OpenVINO model is likewise valid only for its model, precision, input shape, OpenVINO
version, CPU and compile options: ``<openvino cache root>/<key>`` (``openvino_cache_key``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

KEY_LENGTH = 32
"""Hex digits of the sha256 kept in a folder name (128 bits: collisions are not a concern)."""


def _digest(fields: Mapping[str, object]) -> str:
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def cache_key(
    *,
    model_sha256: str,
    precision: str,
    profile_shapes: Sequence[Sequence[int]] | None,
    onnxruntime_version: str,
    tensorrt_version: str | None,
    gpu_name: str | None,
    device_id: int,
    provider_options: Mapping[str, str],
) -> str:
    """Hex key of a TensorRT engine: sha256 over every input below (canonical JSON).

    Args:
        model_sha256: sha256 of the model file's bytes.
        precision: "fp32" or "fp16" (the graph given to TensorRT and the fp16 flag).
        profile_shapes: the (min, opt, max) input shapes, or None for onnxruntime's implicit profile.
        onnxruntime_version: ``onnxruntime.__version__`` (its TensorRT integration changes engines).
        tensorrt_version: e.g. ``"libnvinfer 100900"``, None if unknown.
        gpu_name: e.g. ``"NVIDIA H100 80GB HBM3 sm9.0"``, None if unknown.
        device_id: the GPU index.
        provider_options: the TensorRT options *other than* the cache paths (which derive from this key).
    """
    shapes = None if profile_shapes is None else [list(map(int, s)) for s in profile_shapes]
    return _digest(
        {
            "model_sha256": model_sha256,
            "precision": precision,
            "profile_shapes": shapes,
            "onnxruntime": onnxruntime_version,
            "tensorrt": tensorrt_version,
            "gpu": gpu_name,
            "device_id": int(device_id),
            "provider_options": dict(provider_options),
        }
    )


def timing_cache_key(*, onnxruntime_version: str, tensorrt_version: str | None, gpu_name: str | None) -> str:
    """Hex key of a TensorRT timing cache: the GPU and the library versions only."""
    return _digest({"onnxruntime": onnxruntime_version, "tensorrt": tensorrt_version, "gpu": gpu_name})


def openvino_cache_key(
    *,
    model_sha256: str,
    precision: str,
    input_shape: Sequence[int],
    openvino_version: str,
    device: str,
    compile_options: Mapping[str, str],
) -> str:
    """Hex key of a compiled OpenVINO model: sha256 over every input below (canonical JSON).

    Args:
        model_sha256: sha256 of the model file's bytes.
        precision: "fp32", "bf16" or "fp16" (the inference precision hint).
        input_shape: the static input shape (N, 3, H, W) the model was compiled for.
        openvino_version: ``openvino.get_version()``.
        device: the CPU's name and capabilities (``openvino_session.cpu_description``).
        compile_options: the compile options (precision hint, threads, performance mode).
    """
    return _digest(
        {
            "model_sha256": model_sha256,
            "precision": precision,
            "input_shape": [int(d) for d in input_shape],
            "openvino": openvino_version,
            "device": device,
            "compile_options": dict(compile_options),
        }
    )


def openvino_cache_dir(root: Path, key: str) -> Path:
    """``root/<key>``: where the compiled OpenVINO model for ``key`` lives."""
    return Path(root) / key


def engine_cache_dir(root: Path, key: str) -> Path:
    """``root/engines/<key>``: where TensorRT engines for ``key`` live."""
    return Path(root) / "engines" / key


def timing_cache_dir(root: Path, key: str) -> Path:
    """``root/timing/<key>``: where the timing cache for ``key`` lives."""
    return Path(root) / "timing" / key
