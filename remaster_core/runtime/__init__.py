"""The inference engine over onnxruntime: providers, precision, tiling, engine caches.

One job per module:

- ``model``: open an ONNX file, verify it (checksum, ``onnx.checker``, weights hash) and read the
  metadata contract with ``export/`` (the keys are defined and documented there);
- ``providers``: choose TensorRT / CUDA / CPU, build their options, detect onnxruntime's silent
  fallback and say what is missing;
- ``cache``: the TensorRT engine and timing cache keys (pure functions);
- ``precision``: float32 <-> float16 graph conversion;
- ``graphstats``: FLOPs and activation memory per pixel, measured from the graph;
- ``tiling``: tile grids, overlap and blending weights (pure numpy);
- ``validate``: frame checks (dtype, channels, NaN/Inf, range);
- ``engine``: ``EngineOptions``, ``Engine``, ``load_engine``.

Never imports torch.
"""

from __future__ import annotations

from remaster_core.runtime.engine import Engine, EngineOptions, RunStats, clear_engine_cache, load_engine
from remaster_core.runtime.model import ModelConvention, ModelInfo, open_model, weights_sha256

__all__ = [
    "Engine",
    "EngineOptions",
    "ModelConvention",
    "ModelInfo",
    "RunStats",
    "clear_engine_cache",
    "load_engine",
    "open_model",
    "weights_sha256",
]
