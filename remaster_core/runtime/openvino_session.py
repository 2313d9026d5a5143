"""Run a model on the CPU with the OpenVINO runtime (``provider="openvino"``, ``remaster[openvino]``).

    session = OpenVinoSession(graph_bytes, precision="bf16", threads=2, cache_root=root, model_sha256=sha)
    y = session.run(["output"], {"input": x})[0]   # x: float32 (N, 3, H, W) -> float32 (N, 3, H, W)

``run`` and ``get_providers`` have the shapes of an ``onnxruntime.InferenceSession``'s, so the engine
drives both alike. The graph is always the float32 one (``Core.read_model`` of the ONNX bytes); the
arithmetic is set by ``INFERENCE_PRECISION_HINT``, always explicitly: ``f32`` for ``fp32`` (OpenVINO's
own default on a CPU with bf16 units is bf16, which would break fp32 parity), ``bf16`` for ``bf16``,
``f16`` for ``fp16`` (OpenVINO runs f32 where the CPU has no fp16 arithmetic).

Why the OpenVINO runtime and not onnxruntime's OpenVINO execution provider: the ``onnxruntime-openvino``
wheel *replaces* ``onnxruntime`` (it owns the same module, like ``onnxruntime-gpu``), so it cannot be an
extra beside ``remaster[cpu]``/``[gpu]``, and it lags onnxruntime (1.24 when onnxruntime is 1.32); the
``openvino`` wheel installs beside either. Both run the same OpenVINO CPU plugin: see
``docs/runtime.md`` (OpenVINO) for the measurements behind the choice.

Shapes: a model is compiled for each input shape it is given (static shapes: faster than one compile
with dynamic N/H/W, measured 10-25% on ``lite``), a few kept per session. A render feeds one or a few
shapes (whole frames, or a tile plan's interior and edge tiles).

Compiled-model cache: each compiled model is exported (``CompiledModel.export_model``) to
``<cache_root>/<key>/model.blob``, ``key = cache.openvino_cache_key(...)``: a pure function of the
model file's sha256, the precision, the input shape, the OpenVINO version, the CPU (name and
capabilities) and the compile options. The next session with the same key imports the blob
(``Core.import_model``) instead of reading and compiling the graph; a blob that does not import (a
truncated file, another build) is compiled again and overwritten.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.errors import InputError, ModelError
from remaster_core.io.atomic import write_bytes_atomic
from remaster_core.node_params import Precision
from remaster_core.optional import import_openvino
from remaster_core.runtime import cache

log = logging.getLogger("remaster.runtime")

PROVIDER_NAME = "OpenVINO"
"""What ``get_providers`` answers (the engine's ``providers`` list, ``describe()``'s ``active``)."""
DEVICE = "CPU"
"""The OpenVINO device: the CPU plugin (the only one the project measures)."""
PRECISION_HINT: dict[str, str] = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
"""``INFERENCE_PRECISION_HINT`` for each precision choice."""
BLOB_NAME = "model.blob"
COMPILED_KEPT = 8
"""Compiled shapes a session keeps in memory (least recently used dropped first)."""


def openvino_version() -> str:
    """``openvino.get_version()``, e.g. ``"2026.4.1-22982-e213a147257-releases/2026/4"``."""
    return str(import_openvino().get_version())


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/remaster/openvino`` (``~/.cache/remaster/openvino``): compiled OpenVINO models."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "remaster" / "openvino"


def cpu_description(core: Any) -> str:
    """The CPU as OpenVINO sees it: its name and optimisation capabilities (``AMD EPYC [BF16, FP32, ...]``)."""
    name = str(core.get_property(DEVICE, "FULL_DEVICE_NAME"))
    try:
        caps = sorted(str(c) for c in core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))
    except RuntimeError:
        caps = []
    return f"{name} [{', '.join(caps)}]"


def compile_config(precision: Precision, threads: int | None) -> dict[str, str]:
    """The compile options: explicit precision hint, latency mode (one request at a time), threads."""
    config = {"INFERENCE_PRECISION_HINT": PRECISION_HINT[precision], "PERFORMANCE_HINT": "LATENCY"}
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    return config


LONG_DEPTHWISE = 9
"""A grouped convolution with a kernel side of this many taps or more (``stalls_in_low_precision``)."""


def stalls_in_low_precision(graph: bytes) -> bool:
    """Whether the ONNX ``graph`` holds a grouped (depthwise) convolution with a kernel side of
    ``LONG_DEPTHWISE`` taps or more: OpenVINO's CPU plugin does not finish compiling one in bf16
    (models exported before the mean lock's box mean became one ``AveragePool``: 17-tap depthwise
    convolutions; 20 minutes on one core for the paper preset, stopped; OpenVINO 2025.4 and 2026.4)."""
    import onnx

    for node in onnx.load_from_string(graph).graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: a for a in node.attribute}
        group = attrs["group"].i if "group" in attrs else 1
        kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else []
        if group > 1 and kernel and max(kernel) >= LONG_DEPTHWISE:
            return True
    return False


class OpenVinoSession:
    """A float32 ONNX graph compiled by OpenVINO for the CPU, per input shape, with a disk cache.

    Attributes:
        precision: the precision choice (``fp32``, ``bf16`` or ``fp16``).
        config: the compile options (``compile_config``).
        cache_root: where compiled models are cached, or None (no disk cache).
        compiled_from_cache: shapes whose compiled model was imported from the cache.
        compiled_fresh: shapes that were compiled (and, with a cache, exported to it).
        compile_seconds: wall time spent reading, compiling, importing and exporting models.
        arithmetic: the precision OpenVINO reports it computes in (``fp32``, ``bf16``, ``fp16``),
            known once a shape is compiled; fp16 asked on a CPU without fp16 arithmetic gives bf16.
    """

    def __init__(
        self,
        graph: bytes,
        *,
        precision: Precision,
        threads: int | None,
        cache_root: Path | None,
        model_sha256: str,
        label: str,
    ) -> None:
        ov = import_openvino()
        self._ov = ov
        self._core = ov.Core()
        self._graph = graph
        self._model: Any = None
        self.precision = precision
        self.config = compile_config(precision, threads)
        if precision != "fp32" and stalls_in_low_precision(graph):
            log.warning(
                "%s: the model holds long depthwise convolutions (exported before the mean lock became an "
                "average pool), which OpenVINO does not finish compiling in %s: it runs in fp32. Export it "
                "again with this version for %s",
                label, precision, precision,
            )  # fmt: skip
            self.config = compile_config("fp32", threads)
        self.cache_root = cache_root
        self._sha = model_sha256
        self._label = label
        self._version = openvino_version()
        self._cpu = cpu_description(self._core)
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled_from_cache: list[tuple[int, ...]] = []
        self.compiled_fresh: list[tuple[int, ...]] = []
        self.compile_seconds = 0.0
        self.arithmetic: str | None = None
        self._read()  # fail now, not at the first frame, on a graph OpenVINO cannot read

    def get_providers(self) -> list[str]:
        """``["OpenVINO"]``: what runs (the onnxruntime session's method of the same name)."""
        return [PROVIDER_NAME]

    def cache_dir(self, shape: Sequence[int]) -> Path | None:
        """``<cache_root>/<key>`` for an input shape, or None without a cache root."""
        if self.cache_root is None:
            return None
        key = cache.openvino_cache_key(
            model_sha256=self._sha,
            precision=self.precision,
            input_shape=shape,
            openvino_version=self._version,
            device=self._cpu,
            compile_options=self.config,
        )
        return cache.openvino_cache_dir(self.cache_root, key)

    def _read(self) -> Any:
        if self._model is None:
            try:
                self._model = self._core.read_model(self._graph)
            except RuntimeError as exc:
                raise ModelError(
                    f"{self._label}: OpenVINO {self._version} cannot read the graph "
                    f"({_first_line(exc)}); re-export the model, or use provider='cpu'"
                ) from exc
        return self._model

    def _compile(self, shape: tuple[int, ...]) -> Any:
        started = time.perf_counter()
        folder = self.cache_dir(shape)
        blob = folder / BLOB_NAME if folder is not None else None
        if blob is not None and blob.is_file():
            try:
                compiled = self._core.import_model(blob.read_bytes(), DEVICE, self.config)
            except RuntimeError as exc:
                log.warning(
                    "%s: the cached OpenVINO model %s does not load (%s); compiling it again",
                    self._label,
                    blob,
                    _first_line(exc),
                )
            else:
                self._note_arithmetic(compiled)
                self.compiled_from_cache.append(shape)
                self.compile_seconds += time.perf_counter() - started
                log.debug("OpenVINO: %s %s loaded from %s", self._label, shape, blob)
                return compiled
        model = self._read().clone()
        model.reshape({model.inputs[0]: self._ov.PartialShape(list(shape))})
        try:
            compiled = self._core.compile_model(model, DEVICE, self.config)
        except RuntimeError as exc:
            raise ModelError(
                f"{self._label}: OpenVINO cannot compile the model for input {shape} ({self.precision}): "
                f"{_first_line(exc)}; try precision='fp32' or provider='cpu'"
            ) from exc
        self._note_arithmetic(compiled)
        self.compiled_fresh.append(shape)
        if blob is not None:
            try:
                exported = compiled.export_model()  # bytes, or a BytesIO (OpenVINO 2025+)
                blob.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(blob, exported.getvalue() if hasattr(exported, "getvalue") else exported)
            except (OSError, RuntimeError, InputError) as exc:  # read-only or full cache folder: uncached
                log.warning(
                    "%s: cannot write the OpenVINO cache %s (%s)", self._label, blob, _first_line(exc)
                )
        self.compile_seconds += time.perf_counter() - started
        log.debug("OpenVINO: %s %s compiled in %.2f s", self._label, shape, time.perf_counter() - started)
        return compiled

    def _note_arithmetic(self, compiled: Any) -> None:
        """Record the precision OpenVINO really computes in; warn once when it is not the one asked."""
        hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # "f32", "bf16", "f16"
        arithmetic = {v: k for k, v in PRECISION_HINT.items()}.get(hint, hint)
        if arithmetic != self.precision and self.arithmetic is None:
            log.warning(
                "%s: %s asked, OpenVINO computes in %s on this CPU (%s)",
                self._label,
                self.precision,
                arithmetic,
                self._cpu,
            )
        self.arithmetic = arithmetic

    def _request(self, shape: tuple[int, ...]) -> Any:
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
            return self._compiled[shape]
        request = self._compile(shape).create_infer_request()
        self._compiled[shape] = request
        while len(self._compiled) > COMPILED_KEPT:
            self._compiled.popitem(last=False)
        return request

    def run(self, output_names: Sequence[str] | None, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The model's output for the one input in ``feed``: ``[float32 array]`` (a copy).

        ``output_names`` is accepted for the onnxruntime call shape (the model has one output).

        Raises:
            ModelError: OpenVINO cannot compile the graph for this shape.
        """
        (x,) = feed.values()
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:  # one infer request per shape: one call at a time
            request = self._request(tuple(int(d) for d in x.shape))
            result = request.infer({0: x})  # outputs are copies (share_outputs=False)
            return [np.asarray(result[0], dtype=np.float32)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
