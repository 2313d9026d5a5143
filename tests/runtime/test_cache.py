"""TensorRT cache keys: a pure function in which every input changes the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from remaster_core.runtime.cache import cache_key, engine_cache_dir, timing_cache_dir, timing_cache_key

BASE: dict[str, Any] = {
    "model_sha256": "a" * 64,
    "precision": "fp16",
    "profile_shapes": ((1, 3, 5, 5), (4, 3, 512, 512), (4, 3, 512, 512)),
    "onnxruntime_version": "1.31.0",
    "tensorrt_version": "libnvinfer 100900",
    "gpu_name": "NVIDIA H100 80GB HBM3 sm9.0",
    "device_id": 0,
    "provider_options": {"trt_fp16_enable": "True", "trt_engine_cache_enable": "True"},
}

CHANGES: list[tuple[str, Any]] = [
    ("model_sha256", "b" * 64),
    ("precision", "fp32"),
    ("profile_shapes", ((1, 3, 5, 5), (4, 3, 768, 768), (4, 3, 768, 768))),
    ("profile_shapes", ((1, 3, 5, 5), (2, 3, 512, 512), (2, 3, 512, 512))),
    ("profile_shapes", None),
    ("onnxruntime_version", "1.32.0"),
    ("tensorrt_version", "libnvinfer 101000"),
    ("tensorrt_version", None),
    ("gpu_name", "NVIDIA GeForce RTX 4090 sm8.9"),
    ("gpu_name", None),
    ("device_id", 1),
    ("provider_options", {"trt_fp16_enable": "False", "trt_engine_cache_enable": "True"}),
    (
        "provider_options",
        {"trt_fp16_enable": "True", "trt_engine_cache_enable": "True", "trt_builder_optimization_level": "5"},
    ),
]


def test_key_is_deterministic_and_hex() -> None:
    key = cache_key(**BASE)
    assert key == cache_key(**BASE)
    assert len(key) == 32 and int(key, 16) >= 0
    reordered = dict(BASE, provider_options=dict(reversed(list(BASE["provider_options"].items()))))
    assert cache_key(**reordered) == key  # option order does not matter
    as_lists = dict(BASE, profile_shapes=[list(s) for s in BASE["profile_shapes"]])
    assert cache_key(**as_lists) == key  # nor tuple vs list


@pytest.mark.parametrize("field,value", CHANGES)
def test_every_field_changes_the_key(field: str, value: Any) -> None:
    assert cache_key(**dict(BASE, **{field: value})) != cache_key(**BASE)


def test_all_changed_keys_are_distinct() -> None:
    keys = {cache_key(**dict(BASE, **{field: value})) for field, value in CHANGES}
    assert len(keys) == len(CHANGES)


def test_timing_key_ignores_the_model_but_not_the_gpu() -> None:
    base = timing_cache_key(
        onnxruntime_version="1.31.0", tensorrt_version="libnvinfer 100900", gpu_name="H100"
    )
    assert base == timing_cache_key(
        onnxruntime_version="1.31.0", tensorrt_version="libnvinfer 100900", gpu_name="H100"
    )
    assert base != timing_cache_key(
        onnxruntime_version="1.31.0", tensorrt_version="libnvinfer 100900", gpu_name="L40S"
    )
    assert base != timing_cache_key(
        onnxruntime_version="1.31.0", tensorrt_version="libnvinfer 101000", gpu_name="H100"
    )


def test_cache_folders() -> None:
    root = Path("/cache/trt")
    assert engine_cache_dir(root, "k1") == root / "engines" / "k1"
    assert timing_cache_dir(root, "t1") == root / "timing" / "t1"
