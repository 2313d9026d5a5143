"""The inference engine: an onnxruntime or OpenVINO session over a checked model, tiled, batched, fp32,
fp16 or bf16.

    engine = load_engine("G.onnx", EngineOptions(provider="auto", precision="fp16"))
    out = engine.run(frame)          # (H, W, 3) float32 RGB 0..1 -> (H, W, 3) float32, not clamped

What ``run`` does with a frame (or a batch (N, H, W, 3)):

1. checks it (``validate.check_frames``): float32/float16, 3 channels, no NaN/Inf, values in -0.5..4;
2. maps 0..1 onto the model's value range, transposes to (N, 3, H, W), and, unless the graph pads
   itself (``remaster.pads_internally``), reflect-pads bottom/right to a multiple of ``s``;
3. plans tiles (``tiling.plan_tiles``): the whole frame if one run fits the memory bound, else square
   tiles of the largest size that fits, overlapping by ``2 * receptive_field + 16`` pixels and blended
   so the result equals the untiled one (max abs difference ~1e-6 in fp32);
4. runs the tiles ``batch`` at a time (tiles of several frames share a batch), accumulates them with
   their blending weights, crops the padding off and maps back to 0..1;
5. in fp16 or bf16, any frame whose output holds NaN or Inf is run again in fp32 (one warning per
   frame); NaN/Inf in an fp32 output is a ModelError: a frame is never returned with NaN.

Memory bound: ``EngineOptions.memory_mb`` (default 2048 MiB) bounds the *estimated* activation memory
of one model run (batch x tile pixels x the model's peak activation bytes per pixel, measured from
the graph by ``graphstats.analyse_graph``): the whole frame runs at once when it fits, else the largest
tiles that fit. On top come the engine's frame buffers (the planar canvas, the output accumulator and
the returned frame, ~4 float32 frames with tile temporaries) and the weights. Measured with
``bench/runtime.py`` on the project's 2-core CPU machine (``lite`` preset, 3840x2160 frame,
``memory_mb=256`` -> 12 tiles of 1116 px): peak RSS grew by 684 MB over the loaded engine, 356 MB of
engine buffers (3.75 frames of 95 MB) and 328 MB inside onnxruntime (1.3x the 254 MB estimate: its
arena rounds allocations up). So the bound we state for a 4K frame: peak <= the input frame + 4 x 95 MB
+ 1.5 x ``memory_mb`` + weights, i.e. about 3.5 GB at the default 2048 MiB whatever the model (the
``paper`` preset would need ~19 GB untiled; it gets 938 px tiles). Raise ``memory_mb`` on a large GPU:
bigger tiles repeat less work in the overlaps.

fp16: the graph is converted to float16 in memory (``precision.to_float16``) unless the file already
is float16; on TensorRT ``trt_fp16_enable`` is set as well. The fp32 twin for the NaN fallback is the
fp32 file, or ``precision.to_float32`` of an fp16 file; it is built the first time a frame needs it.
Tolerance: fp16 against fp32 differed by at most 8e-4 (mean 1.2e-4) in 0..1 code values on the
``lite`` preset with random weights at 720x480 and 1440x1080 (``bench/runtime.py``, CPU provider).

OpenVINO (``provider="openvino"``, or ``auto`` on a machine without a GPU provider where it is
installed: ``providers.choose_backend``): the fp32 graph is compiled by the OpenVINO runtime for each
input shape, with the precision hint set explicitly (``f32``, ``bf16`` or ``f16``), and each compiled
model is cached on disk under a key like TensorRT's (``openvino_session``; ``cache_dir``/openvino, or
``~/.cache/remaster/openvino``). bf16 runs there only. Tolerances, measured on trained models
(``bench/runtime.py``, docs/runtime.md): OpenVINO f32 against onnxruntime fp32 within 1e-5
(``tests/runtime/test_openvino.py``); bf16 against fp32 below ``BF16_MAX_ABS`` in 0..1 code values.

TensorRT (code written from onnxruntime's documentation, not run on a GPU by the tests): with a
``tile`` the engine gives TensorRT an explicit profile, min (1, 3, s+1, s+1), opt = max
(batch, 3, tile, tile), so the engine is built once per tile size and cached under a key of
everything that changes it (``cache.cache_key``); without one, onnxruntime builds for the first shape
it sees and rebuilds for a larger one. Set ``tile`` for a fixed-size render on TensorRT.

Sessions are cached: ``load_engine`` keeps the last few engines keyed by (model file sha256, options,
convention), so a host that calls it for every frame (the per-frame node, docs/architecture.md section 5) reuses
one session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remaster_core.errors import ExtraMissing, InputError, ModelError
from remaster_core.node_params import (
    BATCH,
    ENGINE_FIELDS,
    MEMORY_MB,
    OVERLAP,
    PRECISION,
    PROVIDER,
    THREADS,
    TILE,
    ProviderChoice,
)
from remaster_core.optional import import_onnxruntime, openvino_installed
from remaster_core.runtime import cache, providers
from remaster_core.runtime.graphstats import GraphStats, analyse_graph
from remaster_core.runtime.model import ModelConvention, ModelInfo, Precision, file_sha256, open_model
from remaster_core.runtime.openvino_session import OpenVinoSession, default_cache_root, openvino_version
from remaster_core.runtime.precision import to_float16, to_float32
from remaster_core.runtime.tiling import Tile, TilePlan, auto_tile_size, default_overlap, plan_tiles
from remaster_core.runtime.validate import check_frames

if TYPE_CHECKING:  # imported where a session is made: a base install has no onnxruntime
    import onnxruntime as ort

log = logging.getLogger("remaster.runtime")

Shape4 = tuple[int, int, int, int]

BF16_MAX_ABS = 0.02
"""Bound on |bf16 - fp32| of an engine output, in 0..1 code values (bf16 keeps 8 significant bits: one
rounding is 2**-9 = 0.002 relative; measured max 5e-3 on the trained presets, docs/runtime.md)."""
REDONE_IN_FP32 = ("fp16", "bf16")
"""Precisions whose frames with NaN/Inf are run again in fp32."""


@dataclass(frozen=True)
class EngineOptions:
    """How to run a model. Hashable: it is part of the engine cache key.

    The node's engine fields (``node_params.ENGINE_FIELDS``: provider ... memory_mb) take their defaults,
    ranges and checks from that table; ``cache_dir`` and ``device_id`` are the engine's own.

    Attributes:
        provider: ``auto`` (TensorRT, then CUDA, then OpenVINO, then onnxruntime's CPU),
            ``tensorrt``, ``cuda``, ``openvino`` or ``cpu`` (``providers.choose_backend``).
        precision: ``fp32``, ``fp16`` or ``bf16`` (OpenVINO only) arithmetic (fp16 and bf16 frames
            with NaN/Inf are redone in fp32).
        tile: tile side in input pixels (including the overlap); None: the whole frame when one run
            fits ``memory_mb``, else the largest square tile that does.
        overlap: pixels shared by neighbouring tiles; None: ``2 * receptive_field + 16`` (exact). A
            smaller overlap is allowed (smooth, but no longer equal to untiled).
        batch: tiles (or whole frames) per model run.
        threads: onnxruntime intra-op / OpenVINO inference threads; None: the library's default (the
            physical cores).
        cache_dir: TensorRT engine and timing caches, compiled OpenVINO models under ``openvino/``;
            None: ``~/.cache/remaster/trt`` and ``~/.cache/remaster/openvino``.
        device_id: the GPU for TensorRT/CUDA.
        memory_mb: bound on the estimated activation memory of one model run, MiB.
        deterministic: identical frames from run to run and worker to worker on the GPU (same GPU model,
            driver and versions): onnxruntime's deterministic compute and cuDNN's heuristic algorithm
            choice instead of its timed search (``providers.cuda_options``); TensorRT workers should
            share one engine cache (``cache_dir``) so that they run the same engine. Costs some speed.
    """

    provider: ProviderChoice = PROVIDER.default
    precision: Precision = PRECISION.default
    tile: int | None = TILE.default
    overlap: int | None = OVERLAP.default
    batch: int = BATCH.default
    threads: int | None = THREADS.default
    cache_dir: Path | None = None
    device_id: int = 0
    memory_mb: int = MEMORY_MB.default
    deterministic: bool = False

    def __post_init__(self) -> None:
        for spec in ENGINE_FIELDS:
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))
        device = self.device_id
        if not isinstance(device, int) or isinstance(device, bool) or device < 0:
            raise InputError(f"device_id must be a whole number >= 0, got {device!r}")
        if not isinstance(self.deterministic, bool):
            raise InputError(f"deterministic must be true or false, got {self.deterministic!r}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))


@dataclass
class RunStats:
    """What the engine has done so far (cumulative; ``Engine.reset_stats`` clears it).

    Attributes:
        frames: frames returned by ``run``.
        tiles: model inputs (tiles or whole frames) run, fallback runs included.
        model_runs: ``session.run`` calls.
        model_seconds: wall time inside ``session.run``.
        total_seconds: wall time inside ``Engine.run`` (validation, padding, tiling, blending, model).
        fp32_redone: fp16 or bf16 frames redone in fp32 because of NaN/Inf.
    """

    frames: int = 0
    tiles: int = 0
    model_runs: int = 0
    model_seconds: float = 0.0
    total_seconds: float = 0.0
    fp32_redone: int = 0


@dataclass
class _Session:
    session: ort.InferenceSession | OpenVinoSession
    input_dtype: Any
    precision: Precision
    cache_path: Path | None = None


class Engine:
    """A model opened for inference. Build with ``load_engine`` (cached) or directly.

    Attributes:
        info: the checked model (``ModelInfo``).
        options: the ``EngineOptions``.
        graph: per-pixel FLOPs and activation memory (``GraphStats``).
        overlap: the tile overlap in use.
        stats: cumulative ``RunStats``.
    """

    def __init__(
        self,
        model_path: str | Path,
        options: EngineOptions | None = None,
        *,
        convention: ModelConvention | None = None,
        expected_sha256: str | None = None,
    ) -> None:
        self.options = options or EngineOptions()
        self.info: ModelInfo
        self.info, self._model = open_model(
            model_path, convention=convention, expected_sha256=expected_sha256
        )
        conv = self.info.convention
        try:
            self.graph: GraphStats = analyse_graph(self._model, self.info)
        except Exception as exc:
            error = _failed_run(self.info, exc, "its probe input")
            if error is None:
                raise
            raise error from exc
        self.stats = RunStats()
        self._lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._plans: dict[tuple[int, int, str], tuple[TilePlan, int]] = {}
        self._warned: set[str] = set()
        self.overlap = (
            self.options.overlap
            if self.options.overlap is not None
            else default_overlap(conv.receptive_field, conv.space_to_depth, self.options.tile)
        )
        self._check_tiling_options()
        self._available = _onnxruntime_providers(
            required=not (self.options.provider in ("openvino", "auto") and openvino_installed())
        )
        self.backend = providers.choose_backend(
            self.options.provider, self.options.precision, self._available, openvino_installed()
        )
        """``"onnxruntime"`` or ``"openvino"``: what runs the model (``providers.choose_backend``)."""
        self._sessions: dict[Precision, _Session] = {}
        self._primary = self._session(self.options.precision)

    # ----------------------------------------------------------------------------------------------
    # set-up

    @property
    def min_size(self) -> int:
        """The smallest frame side accepted: ``s + 1`` (the trunk needs 2 pixels to reflect-pad)."""
        return self.info.convention.space_to_depth + 1

    def _check_tiling_options(self) -> None:
        conv = self.info.convention
        s, rf = conv.space_to_depth, conv.receptive_field
        if self.options.tile is not None:
            tile_a = (self.options.tile // s) * s
            overlap_a = -(-self.overlap // s) * s
            if tile_a <= overlap_a:
                raise InputError(
                    f"tile {self.options.tile} must be larger than the overlap {overlap_a} (for {self.info.path.name}: "
                    f"2 x receptive field {rf} + blend, on multiples of s={s}); use tile >= {2 * rf + 2 * s}, "
                    f"better >= {4 * overlap_a} so that little work is repeated"
                )
        if self.overlap < 2 * rf:
            log.warning(
                "overlap %d < 2 x receptive field %d of %s: tiles blend smoothly but no longer equal the "
                "untiled result near tile seams",
                self.overlap,
                rf,
                self.info.path.name,
            )

    def _graph_bytes(self, precision: Precision) -> bytes:
        if precision == self.info.precision:
            return self._model.SerializeToString()
        if precision == "fp16":
            return to_float16(self._model).SerializeToString()
        log.info("%s is an fp16 file: its fp32 twin keeps the fp16-rounded weights", self.info.path.name)
        return to_float32(self._model).SerializeToString()

    def _profile(self) -> tuple[Shape4, Shape4, Shape4] | None:
        """TensorRT (min, opt, max) input shapes for the configured tile, or None (implicit)."""
        if self.options.tile is None:
            return None
        s = self.info.convention.space_to_depth
        side = (self.options.tile // s) * s
        low = (1, 3, self.min_size, self.min_size)
        high = (self.options.batch, 3, side, side)
        return low, high, high

    def _provider_list(self, precision: Precision) -> tuple[list[tuple[str, dict[str, str]]], Path | None]:
        usable = providers.usable_providers(self.options.provider, self._available)
        chosen: list[tuple[str, dict[str, str]]] = []
        engine_dir: Path | None = None
        for name in usable:
            if name == providers.TENSORRT:
                engine_dir, trt = self._tensorrt(precision)
                chosen.append((name, trt))
            elif name == providers.CUDA:
                cuda = providers.cuda_options(self.options.device_id, self.options.deterministic)
                chosen.append((name, cuda))
            else:
                chosen.append((name, {}))
        return chosen, engine_dir

    def _tensorrt(self, precision: Precision) -> tuple[Path, dict[str, str]]:
        ort = import_onnxruntime()
        root = self.options.cache_dir or providers.default_cache_dir()
        trt_version = providers.tensorrt_version()
        gpu = providers.gpu_name(self.options.device_id)
        profile = self._profile()
        base = providers.tensorrt_options(
            device_id=self.options.device_id,
            fp16=precision == "fp16",
            engine_cache_path=Path("."),
            timing_cache_path=Path("."),
            profile=profile,
            input_name=self.info.input_name,
        )
        keyed = {k: v for k, v in base.items() if k not in ("trt_engine_cache_path", "trt_timing_cache_path")}
        key = cache.cache_key(
            model_sha256=self.info.sha256,
            precision=precision,
            profile_shapes=profile,
            onnxruntime_version=ort.__version__,
            tensorrt_version=trt_version,
            gpu_name=gpu,
            device_id=self.options.device_id,
            provider_options=keyed,
        )
        engine_dir = cache.engine_cache_dir(root, key)
        timing_dir = cache.timing_cache_dir(
            root,
            cache.timing_cache_key(
                onnxruntime_version=ort.__version__, tensorrt_version=trt_version, gpu_name=gpu
            ),
        )
        engine_dir.mkdir(parents=True, exist_ok=True)
        timing_dir.mkdir(parents=True, exist_ok=True)
        options = dict(base, trt_engine_cache_path=str(engine_dir), trt_timing_cache_path=str(timing_dir))
        return engine_dir, options

    def _session(self, precision: Precision) -> _Session:
        """The session for ``precision``, created on first use (with the provider check)."""
        with self._session_lock:
            if precision not in self._sessions:
                self._sessions[precision] = self._create_session(precision)
            return self._sessions[precision]

    def _create_openvino_session(self, precision: Precision) -> _Session:
        root = self.options.cache_dir / "openvino" if self.options.cache_dir else default_cache_root()
        graph = self._model if self.info.precision == "fp32" else to_float32(self._model)
        started = time.perf_counter()
        session = OpenVinoSession(
            graph.SerializeToString(),
            precision=precision,
            threads=self.options.threads,
            cache_root=root,
            model_sha256=self.info.sha256,
            label=self.info.label(),
        )
        log.debug("OpenVINO session %s read in %.2f s", precision, time.perf_counter() - started)
        if "providers" not in self._warned:
            self._warned.add("providers")
            log.info("%s runs on OpenVINO %s (%s)", self.info.path.name, openvino_version(), precision)
        return _Session(session, np.float32, precision, root)

    def _create_session(self, precision: Precision) -> _Session:
        if self.backend == providers.OPENVINO_BACKEND:
            return self._create_openvino_session(precision)
        ort = import_onnxruntime()
        chosen, engine_dir = self._provider_list(precision)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        so.use_deterministic_compute = self.options.deterministic
        if self.options.threads is not None:
            so.intra_op_num_threads = self.options.threads
        # No busy-waiting of onnxruntime's idle worker threads: between two runs they would spin on the
        # cores the render's read-ahead and write-behind threads need (lite, 720x480, 2 threads, a
        # 0.3 s gap after each run on a loaded 2-core machine: 0.85 -> 0.58 CPU s a run, wall -17 %).
        so.add_session_config_entry(SPINNING_KEY, "0")
        if engine_dir is not None:
            warm = any(engine_dir.glob("*.engine"))
            log.info(
                "TensorRT: %s engine for %s (%s) in %s%s",
                "reusing the" if warm else "building an",
                self.info.path.name,
                precision,
                engine_dir,
                "" if warm else "; the first build can take minutes and is cached for the next run",
            )
        graph = self._graph_bytes(precision)
        gpu_asked = any(name != providers.CPU for name, _ in chosen)
        started = time.perf_counter()
        try:
            if gpu_asked:
                with providers.capture_native_stderr() as captured:
                    session = ort.InferenceSession(graph, so, providers=chosen)
            else:
                captured = [""]
                session = ort.InferenceSession(graph, so, providers=chosen)
        except Exception as exc:  # onnxruntime's Fail / InvalidGraph / NotImplemented
            raise ModelError(
                f"{self.info.label()}: onnxruntime cannot create a session ({precision}, providers "
                f"{[n for n, _ in chosen]}): {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}; "
                "re-export the model, or try provider='cpu' / precision='fp32'"
            ) from exc
        log.debug("session %s created in %.2f s", precision, time.perf_counter() - started)
        native = captured[0] if captured else ""
        self._report_providers(session.get_providers(), native)
        elem = session.get_inputs()[0].type
        return _Session(
            session, np.float16 if elem == "tensor(float16)" else np.float32, precision, engine_dir
        )

    def _report_providers(self, active: list[str], native_stderr: str) -> None:
        if "providers" in self._warned:
            if native_stderr.strip():
                log.info("onnxruntime: %s", native_stderr.strip())
            return
        self._warned.add("providers")
        load_error = native_stderr
        failed = [
            p
            for p in providers.wanted_providers(self.options.provider)
            if p in self._available and p not in active and p != providers.CPU
        ]
        if failed and providers.missing_library(load_error) is None:
            load_error += "\n" + providers.diagnose_provider_load(failed[0])
        message = providers.fallback_message(
            self.options.provider, self._available, active, providers.onnxruntime_package(), load_error
        )
        if message:
            log.warning("%s (model %s)", message, self.info.path.name)
        elif native_stderr.strip():
            log.info("onnxruntime: %s", native_stderr.strip())
        log.info("%s runs on %s (%s)", self.info.path.name, ", ".join(active), self.options.precision)

    # ----------------------------------------------------------------------------------------------
    # reporting

    @property
    def providers(self) -> list[str]:
        """The onnxruntime providers really in use by the main session, best first."""
        return list(self._primary.session.get_providers())

    def describe(self) -> dict[str, Any]:
        """Model metadata, providers, precision, tiling and cost, as a JSON-able dict for logs/reports."""
        info = self.info
        conv = info.convention
        return {
            "model": {
                "path": str(info.path),
                "sha256": info.sha256,
                "size_bytes": info.size_bytes,
                "file_precision": info.precision,
                "opset": info.opset,
                "has_metadata": info.has_metadata,
                "metadata": dict(info.metadata),
            },
            "convention": {
                "space_to_depth": conv.space_to_depth,
                "receptive_field": conv.receptive_field,
                "value_range": list(conv.value_range),
                "pads_internally": conv.pads_internally,
            },
            "providers": {
                "requested": self.options.provider,
                "active": self.providers,
                "available": self._available,
                "onnxruntime": providers.onnxruntime_package() if self._available else None,
                "backend": self.backend,
                "openvino": openvino_version() if self.backend == providers.OPENVINO_BACKEND else None,
                "engine_cache": str(self._primary.cache_path) if self._primary.cache_path else None,
            },
            "precision": {
                "requested": self.options.precision,
                "session_input": np.dtype(self._primary.input_dtype).name,
                "arithmetic": (
                    self._primary.session.arithmetic
                    if isinstance(self._primary.session, OpenVinoSession)
                    else self.options.precision
                ),
                "fp32_fallback_built": "fp32" in self._sessions and self.options.precision in REDONE_IN_FP32,
            },
            "tiling": {
                "tile": self.options.tile,
                "overlap": self.overlap,
                "batch": self.options.batch,
                "memory_mb": self.options.memory_mb,
                "exact": self.overlap >= 2 * conv.receptive_field,
            },
            "graph": asdict(self.graph),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.options).items()},
            "stats": asdict(self.stats),
        }

    def reset_stats(self) -> None:
        """Clear ``stats``."""
        self.stats = RunStats()

    # ----------------------------------------------------------------------------------------------
    # running

    def _bytes_per_pixel(self, precision: Precision) -> float:
        stored = 2.0 if precision in REDONE_IN_FP32 else 4.0
        scale = stored / (2.0 if self.info.precision == "fp16" else 4.0)
        return self.graph.activation_bytes_per_pixel * scale

    def plan(self, height: int, width: int, precision: Precision | None = None) -> tuple[TilePlan, int]:
        """The tile plan and batch size for a canvas of ``height x width`` (after padding to ``s``)."""
        precision = precision or self.options.precision
        key = (height, width, precision)
        with self._lock:
            if key in self._plans:
                return self._plans[key]
        conv = self.info.convention
        s, rf = conv.space_to_depth, conv.receptive_field
        bound = self.options.memory_mb * 2.0**20
        bpp = self._bytes_per_pixel(precision)
        tile = self.options.tile
        if tile is not None:
            plan = plan_tiles(height, width, tile=tile, overlap=self.overlap, align=s, context=rf)
            batch = self.options.batch
            biggest = max(h * w for h, w in plan.shapes())
            if batch * biggest * bpp > bound:
                self._warn_once(
                    f"tile-memory-{tile}",
                    f"tile {tile} x batch {batch} needs about {batch * biggest * bpp / 2**20:.0f} MiB per run, "
                    f"above memory_mb={self.options.memory_mb}: lower tile or batch if the device runs out "
                    "of memory",
                )
        elif height * width * bpp <= bound:
            plan = plan_tiles(height, width, tile=None, overlap=0, align=s, context=rf)
            batch = max(1, min(self.options.batch, int(bound // (height * width * bpp))))
        else:
            side = auto_tile_size(bpp, bound, s, self.overlap)
            plan = plan_tiles(height, width, tile=side, overlap=self.overlap, align=s, context=rf)
            batch = max(1, min(self.options.batch, int(bound // (side * side * bpp))))
            log.info(
                "%dx%d needs about %.0f MiB per run (memory_mb=%d): %d tiles of %d px, overlap %d, batch %d",
                width,
                height,
                height * width * bpp / 2**20,
                self.options.memory_mb,
                len(plan.tiles),
                side,
                self.overlap,
                batch,
            )
            if side * side * bpp > bound:
                self._warn_once(
                    "tile-floor",
                    f"the smallest useful tile ({side} px) needs about {side * side * bpp / 2**20:.0f} MiB, "
                    f"above memory_mb={self.options.memory_mb}",
                )
        with self._lock:
            self._plans[key] = (plan, batch)
        return plan, batch

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def _infer(self, entry: _Session, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=entry.input_dtype)
        started = time.perf_counter()
        try:
            y = entry.session.run([self.info.output_name], {self.info.input_name: x})[0]
        except Exception as exc:
            error = _failed_run(self.info, exc, f"a {tuple(x.shape)} batch")
            if error is None:
                raise
            raise error from exc
        self.stats.model_seconds += time.perf_counter() - started
        self.stats.model_runs += 1
        self.stats.tiles += x.shape[0]
        if y.shape != x.shape:
            raise ModelError(
                f"{self.info.label()}: the model returned shape {y.shape} for input {x.shape}; the engine "
                "needs an output of the input's size (N, 3, H, W): re-export the model"
            )
        return y

    def _run_canvas(self, frames: np.ndarray, precision: Precision) -> np.ndarray:
        """Model output for float32 (N, H, W, 3) frames in 0..1, as float32 (N, H, W, 3) in 0..1."""
        entry = self._session(precision)
        conv = self.info.convention
        s = conv.space_to_depth
        n, height, width = frames.shape[:3]
        pad_h = 0 if conv.pads_internally else (-height) % s
        pad_w = 0 if conv.pads_internally else (-width) % s
        x = to_canvas(frames, pad_h, pad_w, entry.input_dtype, conv.value_range)
        ch, cw = x.shape[2], x.shape[3]
        plan, batch = self.plan(ch, cw, precision)
        if not plan.tiled:
            parts = [self._infer(entry, x[start : start + batch]) for start in range(0, n, batch)]
            out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        else:
            out = np.zeros((n, 3, ch, cw), dtype=np.float32)
            by_shape: dict[tuple[int, int], list[tuple[int, Tile]]] = {}
            for i in range(n):
                for t in plan.tiles:
                    by_shape.setdefault(t.shape, []).append((i, t))
            weights = {t: plan.weight(t) for t in plan.tiles}
            for group in by_shape.values():
                for start in range(0, len(group), batch):
                    chunk = group[start : start + batch]
                    stack = np.stack([x[i, :, t.y0 : t.y1, t.x0 : t.x1] for i, t in chunk])
                    result = self._infer(entry, stack)
                    for (i, t), r in zip(chunk, result):
                        out[i, :, t.y0 : t.y1, t.x0 : t.x1] += r * weights[t]
        return from_canvas(out, height, width, conv.value_range)

    def run(self, frame: np.ndarray, *, where: str = "frame") -> np.ndarray:
        """Enhance one frame (H, W, 3) or a batch (N, H, W, 3): float32/float16 RGB 0..1 -> float32, same shape.

        Args:
            frame: RGB code values 0..1 (display-referred); superwhites a little above 1 are kept.
            where: names the frame in errors and warnings (e.g. ``"plate.1001.exr"``).

        Returns:
            float32 array of the input's shape; not clamped (the writer clamps to its format).

        Raises:
            InputError: the frame is not float RGB (dtype, channels), is too small, holds NaN/Inf or
                values far outside 0..1.
            ModelError: the model returned a wrong shape, or NaN/Inf in fp32.
        """
        started = time.perf_counter()
        frames, single = check_frames(frame, min_size=self.min_size, where=where)
        out = self._run_canvas(frames, self.options.precision)
        finite = _finite_frames(out)
        if not finite.all():
            if self.options.precision in REDONE_IN_FP32:
                bad = np.flatnonzero(~finite)
                for i in bad:
                    count = int(np.count_nonzero(~np.isfinite(out[i])))
                    label = where if single else f"{where}[{i}]"
                    log.warning(
                        "%s: %s output has %d NaN/Inf values (%s overflow); redoing this frame in fp32",
                        label,
                        self.options.precision,
                        count,
                        self.options.precision,
                    )
                out[bad] = self._run_canvas(frames[bad], "fp32")
                self.stats.fp32_redone += len(bad)
                finite = _finite_frames(out)
            if not finite.all():
                first = int(np.flatnonzero(~finite)[0])
                raise ModelError(
                    f"{self.info.label()}: fp32 output of {where if single else f'{where}[{first}]'} holds "
                    f"{int(np.count_nonzero(~np.isfinite(out[first])))} NaN/Inf values: the model is broken "
                    "(its weights or export); no frame is written with NaN"
                )
        self.stats.frames += out.shape[0]
        self.stats.total_seconds += time.perf_counter() - started
        return out[0] if single else out


def _failed_run(info: ModelInfo, exc: Exception, what: str) -> ModelError | None:
    """The ``ModelError`` for an onnxruntime error while running the model on ``what``; None for any
    other exception (a bug, not the model)."""
    if not type(exc).__module__.startswith("onnxruntime"):
        return None
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelError(
        f"{info.label()}: the model failed to run on {what} ({type(exc).__name__}: {first[:300]}); a graph "
        "that loads but cannot run is damaged or badly exported: re-copy or re-export it (if the message is "
        "about memory, lower --tile or --memory-mb)"
    )


def _onnxruntime_providers(*, required: bool) -> list[str]:
    """``onnxruntime.get_available_providers()``; [] when onnxruntime is missing and not ``required``.

    Raises:
        ExtraMissing: onnxruntime is missing (or broken) and ``required``.
    """
    try:
        return list(import_onnxruntime().get_available_providers())
    except ExtraMissing:
        if required:
            raise
        return []


def to_canvas(
    frames: np.ndarray, pad_h: int, pad_w: int, dtype: Any, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """(N, H, W, 3) frames 0..1 -> contiguous (N, 3, H + pad_h, W + pad_w) ``dtype`` in ``value_range``.

    The padding reflects the last rows/columns (``np.pad(mode="reflect")``: row H + k is row H - 2 - k);
    needs ``pad < H`` and ``pad < W``. Copies channel by channel (3x faster than a strided transpose).
    """
    n, height, width = frames.shape[:3]
    canvas = np.empty((n, 3, height + pad_h, width + pad_w), dtype=dtype)
    for c in range(3):
        canvas[:, c, :height, :width] = frames[..., c]
    lo, hi = value_range
    if (lo, hi) != (0.0, 1.0):
        view = canvas[:, :, :height, :width]
        view *= hi - lo
        view += lo
    if pad_h:
        canvas[:, :, height:, :width] = canvas[:, :, height - 2 - np.arange(pad_h), :width]
    if pad_w:
        canvas[:, :, :, width:] = canvas[:, :, :, width - 2 - np.arange(pad_w)]
    return canvas


def from_canvas(
    canvas: np.ndarray, height: int, width: int, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """(N, 3, H', W') model output -> float32 (N, height, width, 3) in 0..1 (crops the padding)."""
    n = canvas.shape[0]
    out = np.empty((n, height, width, 3), dtype=np.float32)
    for c in range(3):
        out[..., c] = canvas[:, c, :height, :width]
    lo, hi = value_range
    if (lo, hi) != (0.0, 1.0):
        out -= np.float32(lo)
        out /= np.float32(hi - lo)
    return out


def _finite_frames(frames: np.ndarray) -> np.ndarray:
    """(N,) bool: frame i of ``frames`` holds no NaN or Inf."""
    return np.array([bool(np.isfinite(frame).all()) for frame in frames], dtype=bool)


SPINNING_KEY = "session.intra_op.allow_spinning"
"""onnxruntime's session option for its worker threads' busy-wait; the engine turns it off."""

_ENGINES: OrderedDict[tuple[Any, ...], Engine] = OrderedDict()
_ENGINES_LOCK = threading.Lock()
ENGINE_CACHE_SIZE = 4
"""How many engines ``load_engine`` keeps (least recently used dropped first)."""


def load_engine(
    model_path: str | Path,
    options: EngineOptions | None = None,
    *,
    convention: ModelConvention | None = None,
    expected_sha256: str | None = None,
) -> Engine:
    """An ``Engine`` for ``model_path``, reused across calls with the same (file sha256, options, convention).

    The file's sha256 is remembered per (path, inode, size, mtime), so calling this once per frame
    costs a ``stat``; a changed file gets a new engine.

    Raises:
        ModelError: as ``open_model`` (missing, corrupt, tampered, no metadata without a convention).
    """
    options = options or EngineOptions()
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}; check the path (export one with `remaster export`)")
    sha = file_sha256(path)
    if expected_sha256 is not None and expected_sha256.strip().lower() != sha:
        raise ModelError(
            f"{path} (sha256 {sha}): expected sha256 {expected_sha256.strip().lower()}; the file was changed "
            "or is not the model you meant: re-copy it from the release"
        )
    key = (sha, options, convention)
    with _ENGINES_LOCK:
        if key in _ENGINES:
            _ENGINES.move_to_end(key)
            return _ENGINES[key]
    engine = Engine(path, options, convention=convention, expected_sha256=sha)
    with _ENGINES_LOCK:
        _ENGINES[key] = engine
        _ENGINES.move_to_end(key)
        while len(_ENGINES) > ENGINE_CACHE_SIZE:
            _ENGINES.popitem(last=False)
    return engine


def clear_engine_cache() -> None:
    """Forget every engine ``load_engine`` kept (their sessions are freed when unreferenced)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
