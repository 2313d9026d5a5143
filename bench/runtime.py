"""Benchmark the engine on the CPU: onnxruntime, OpenVINO f32/bf16 and PyTorch against the machine's peaks.

    .venv/bin/python bench/runtime.py                                   # the full run (see below)
    .venv/bin/python bench/runtime.py --presets lite --sizes 720x480    # a quick look (~30 s)
    .venv/bin/python bench/runtime.py --models lite=lite.onnx,paper=paper.onnx   # trained models

Same model file, same frame, same run, same thread count (``--threads``, default all CPUs) for every
backend; each timing is the best of ``--repeat`` runs after one warm-up run (OpenVINO compiles its
model for the shape there), the backends interleaved run by run so that a neighbour's load on this
shared machine hits them alike.

- models: ``training.model``'s presets (``--presets``, default ``lite,paper``) with random (non-zero)
  weights exported to ONNX with the remaster metadata (``export_preset``), or trained models given
  with ``--models PRESET=FILE`` (``remaster export``; then PyTorch eager is not timed: no module);
- frames: ``--sizes`` (default 720x480 and 1440x1080) of a photograph (scikit-image's astronaut,
  resized), float32 RGB 0..1, prepared once as the model's (1, 3, H, W) input;
- backends (``--backends``): ``ort-fp32`` (onnxruntime's CPU provider, the engine's own session),
  ``ov-fp32`` and ``ov-bf16`` (the OpenVINO runtime, ``provider="openvino"``, precision hint f32 /
  bf16), ``ort-fp16`` (onnxruntime CPU on the float16 graph; not in the default set), ``torch-fp32``
  (PyTorch eager, ``torch.inference_mode``; on the presets of ``--torch-presets``, default ``lite``, with
  random weights only: on ``paper`` it costs minutes and says nothing new);
- peaks: torch matmul (``2048 x 2048``, fp32 and bf16, best of 5, on ``--threads`` threads), measured
  before and after the model runs (the best of both). numpy's fp32 matmul is reported beside it: with
  the ``OPENBLAS_CORETYPE`` an OpenBLAS build picks on this CPU it can understate the fp32 peak (it did,
  3x, on the machine the numbers in docs were taken on). Each backend's achieved GFLOP/s (the conv
  FLOPs counted from the ONNX graph by ``graphstats``, divided by its time) is reported as a share of
  the peak of its arithmetic: fp32 rows of the fp32 peak, bf16 rows of the bf16 peak (an OpenVINO bf16
  row of the fp32 peak where OpenVINO says it computes in f32: a CPU without bf16 units, where torch's
  bf16 matmul is emulated too). No preset benched (``--presets ''``): no peaks;
- parity: each backend's output (mapped back to 0..1 code values) against ``ort-fp32`` on the same
  frame: max and 99.9th percentile of the absolute difference, and the PSNR of the difference
  (``10 log10(1 / mean(d^2))``, 0..1 range); with ``--models`` these are the trained models' figures;
- OpenVINO compile: seconds to compile the model for the frame's shape cold (the warm-up), and to load
  it from the compiled-model cache in a new engine;
- end to end (``--e2e``, default ``lite``): ``remaster render``'s job (``plan_job`` + ``run_job`` in this
  process, one chunk: read the 720x480 half EXR broadcast frames, resample to the output size, run the
  engine, write half EXR, check, log) against the engine alone on the same frames already resampled in
  memory (``bench/render.py``'s ``engine_alone``), ``--e2e-frames`` frames, on each backend of
  ``--e2e-backends`` (default ``ort-fp32,ov-fp32,ov-bf16``), ``--e2e-repeat`` rounds (engine alone,
  then the render with every frame redone): the ratio of the median times end-to-end / engine alone
  (bar <= 1.15), the per-round ratios, the same ratio of CPU seconds (the process's, all threads: the
  work the render adds, which on a machine with no idle core is what the wall ratio tends to), that of
  the calling thread's CPU seconds (the critical path; with ``ort-fp32`` at 1 thread the model runs on
  that thread) and the load average beside it; ``--e2e-grain``: also with a
  model carrying a grain profile (``bench_grain_profile``: the render adds grain, the engine alone not);
  where the engine leaves a core unused (``--threads`` below the core count), the engine alone once
  more with a neighbour busy on that core (``busy_neighbour``: a pure-Python loop, no memory traffic):
  how much another core's work slows the model's cores, i.e. whether the render's read-ahead and
  write-behind threads can overlap the model for free on this machine (on a VM whose vCPUs share
  physical cores they cannot: see docs/runtime.md);
- stages (with ``--e2e``): the CPU milliseconds of each step of a rendered frame (``bench_stages``: read,
  resample, the engine on the last ``--e2e-backends`` backend, grain, and the EXR write with zip, piz and
  no compression), each also as a share of the engine's: where the end-to-end CPU ratio goes;
- memory (``--memory``): a 3840x2160 frame through the ``lite`` engine with ``memory_mb=256`` in a child
  process: peak RSS growth against the engine's estimate; with ``paper`` benched, the tile the engine
  picks for it at 4K;
- GPU (only where onnxruntime-gpu and a GPU are present): TensorRT fp16 and CUDA fp32 frames/s at
  1440x1080 (``bench/gpu.sh`` is the full GPU benchmark).

Prints a table and writes JSON (``--out``, default ``bench/results/runtime.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remaster_core.grain.profile import GrainProfile, profile_to_json
from remaster_core.io.atomic import write_json_atomic
from remaster_core.node import NodeParams
from remaster_core.runtime import Engine, EngineOptions
from remaster_core.runtime import model as contract
from remaster_core.runtime.engine import from_canvas, to_canvas
from remaster_core.runtime.openvino_session import OpenVinoSession, openvino_version
from remaster_core.synth.scenes import load_picture
from training.model import PRESETS, build_generator, receptive_field

SIZES = ((720, 480), (1440, 1080))
BROADCAST = (720, 480)


class Backend(NamedTuple):  # not a dataclass: bench/render.py loads this file outside sys.modules
    """One way to run the model: a name for the table, the engine's provider and precision (None:
    PyTorch eager), and the peak its arithmetic is compared with."""

    name: str
    provider: str | None
    precision: str
    peak: str


BACKENDS = {
    b.name: b
    for b in (
        Backend("ort-fp32", "cpu", "fp32", "fp32"),
        Backend("ov-fp32", "openvino", "fp32", "fp32"),
        Backend("ov-bf16", "openvino", "bf16", "bf16"),
        Backend("ort-fp16", "cpu", "fp16", "fp32"),  # onnxruntime computes behind casts in fp32 on the CPU
        Backend("torch-fp32", None, "fp32", "fp32"),
    )
}
DEFAULT_BACKENDS = "ort-fp32,ov-fp32,ov-bf16,torch-fp32"
REFERENCE = "ort-fp32"


def export_preset(
    preset: str, path: Path, seed: int = 0, grain: GrainProfile | None = None
) -> tuple[Path, torch.nn.Module]:
    """``training.model`` preset with random weights -> ONNX with the remaster metadata (and ``grain`` as
    its grain profile: the render adds grain)."""
    cfg = PRESETS[preset]
    torch.manual_seed(seed)
    net = build_generator(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            if not p.abs().sum():  # the zero-initialised tail and colour path: make them do work
                p.normal_(0.0, 0.01)
    s = cfg.space_to_depth
    torch.onnx.export(
        net,
        (torch.rand(1, 3, 16 * s, 16 * s),),
        str(path),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "n", 2: "h", 3: "w"}, "output": {0: "n", 2: "h", 3: "w"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(str(path))
    config_hash = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    props = {
        contract.KEY_FORMAT_VERSION: contract.FORMAT_VERSION,
        contract.KEY_MODEL_NAME: "remaster-G-bench",
        contract.KEY_MODEL_VERSION: f"random-seed-{seed}",
        contract.KEY_PRESET: preset,
        contract.KEY_CONFIG_HASH: config_hash,
        contract.KEY_COLOR: contract.COLOR_CONVENTION,
        contract.KEY_VALUE_RANGE: contract.VALUE_RANGE,
        contract.KEY_SPACE_TO_DEPTH: str(s),
        contract.KEY_RECEPTIVE_FIELD: str(receptive_field(cfg)),
        contract.KEY_PRECISION: "fp32",
        # traced at a multiple of s, the graph's "pad if needed" branch is baked out: the engine pads
        contract.KEY_PADS_INTERNALLY: "0",
        contract.KEY_SHA256_WEIGHTS: contract.weights_sha256(model),
    }
    if grain is not None:
        props[contract.KEY_GRAIN_PROFILE] = profile_to_json(grain)
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path, net


def bench_grain_profile() -> GrainProfile:
    """A plausible film grain (RMS ~0.01 code values, a few pixels in size, correlated dye layers): the
    grain the end-to-end render adds with ``--e2e-grain``; its cost does not depend on the numbers."""
    spectrum = tuple(tuple(float(v) for v in 1e-4 * np.exp(-np.arange(33) / 8.0)) for _ in range(3))
    return GrainProfile(
        tile=64,
        smooth_sigma=4.0,
        spectrum=spectrum,
        level_edges=(0.0, 0.25, 0.5, 0.75, 1.0),
        level_gain=((1.2, 1.2, 1.2), (1.0, 1.0, 1.0), (0.9, 0.9, 0.9), (0.8, 0.8, 0.8)),
        correlation=((1.0, 0.5, 0.3), (0.5, 1.0, 0.5), (0.3, 0.5, 1.0)),
    )


def make_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 RGB 0..1: smooth colour gradients plus fine noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [0.5 + 0.4 * np.sin(x / 37.0 + c) * np.cos(y / 23.0 - c) for c in range(3)], axis=-1
    ).astype(np.float32)
    noisy = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
    return np.minimum(np.maximum(noisy, np.float32(0.0)), np.float32(1.0))


def picture_frame(width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 RGB 0..1: scikit-image's astronaut photograph resized to ``width x height``."""
    picture = load_picture("astronaut")
    return np.ascontiguousarray(
        cv2.resize(picture, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    )


def best_of(fn: Any, repeat: int) -> float:
    fn()  # warm-up (allocations, kernel selection)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def best_of_interleaved(fns: list[Any], repeat: int) -> list[float]:
    """Best time of each function, running them in turn ``repeat`` times (after one warm-up each)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - started)
    return best


def matmul_peaks(threads: int, repeat: int = 5, n: int = 2048) -> dict[str, float]:
    """Best GFLOP/s of an n x n matmul (2 n^3 FLOPs): torch fp32 and bf16 on ``threads``, numpy fp32."""
    torch.set_num_threads(threads)
    flop = 2 * n**3
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.rand(n, n).to(dtype)
        b = torch.rand(n, n).to(dtype)
        with torch.inference_mode():
            peaks[name] = flop / best_of(lambda a=a, b=b: torch.mm(a, b), repeat) / 1e9
    x = np.random.default_rng(0).random((n, n), dtype=np.float32)
    y = np.random.default_rng(1).random((n, n), dtype=np.float32)
    peaks["numpy_fp32"] = flop / best_of(lambda: x @ y, repeat) / 1e9
    return peaks


def parity(out: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """max, 99.9th percentile and PSNR (dB, 0..1 range; None: identical) of |out - ref|."""
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    mse = float(np.mean(diff**2))
    return {
        "max_abs": float(diff.max()),
        "p999_abs": float(np.quantile(diff, 0.999)),
        "psnr_db": None if mse == 0 else 10.0 * float(np.log10(1.0 / mse)),
    }


def bench_preset(
    preset: str,
    path: Path,
    net: torch.nn.Module | None,
    sizes: list[tuple[int, int]],
    backends: list[Backend],
    repeat: int,
    threads: int,
    cache_dir: Path,
) -> list[dict[str, Any]]:
    """One row per (size, backend): seconds per frame, GFLOP/s, parity with ``ort-fp32``, compile times."""
    engines: dict[str, Engine] = {}
    for b in backends:
        if b.provider is not None:
            options = EngineOptions(
                provider=b.provider, precision=b.precision, threads=threads, cache_dir=cache_dir
            )
            engines[b.name] = Engine(path, options)  # type: ignore[arg-type]
    ref_engine = engines.get(REFERENCE) or Engine(path, EngineOptions(provider="cpu", threads=threads))
    conv = ref_engine.info.convention
    s = conv.space_to_depth
    rows = []
    for width, height in sizes:
        frame = picture_frame(width, height)
        pad_h, pad_w = (-height) % s, (-width) % s
        canvas = to_canvas(frame[None], pad_h, pad_w, np.float32, conv.value_range)
        flops = ref_engine.graph.flops(canvas.shape[2], canvas.shape[3])
        outputs: dict[str, np.ndarray] = {}
        fns: list[Callable[[], Any]] = []
        compile_s: dict[str, float] = {}
        for b in backends:
            if b.provider is None:
                if net is None:
                    continue
                x = torch.from_numpy(canvas)

                def run_torch(x: torch.Tensor = x, name: str = b.name, into: dict = outputs) -> None:
                    with torch.inference_mode():
                        into[name] = net(x).numpy()

                fns.append(run_torch)
                continue
            engine = engines[b.name]
            session = engine._primary.session  # the engine's own session: same graph, same options
            feed = {engine.info.input_name: canvas.astype(engine._primary.input_dtype)}
            if isinstance(session, OpenVinoSession):
                before = session.compile_seconds
                session.run(None, feed)  # the compile for this shape (cold: a fresh cache folder)
                compile_s[b.name] = session.compile_seconds - before

            def run_engine(
                session: Any = session, feed: dict = feed, name: str = b.name, into: dict = outputs
            ) -> None:
                into[name] = session.run(None, feed)[0]

            fns.append(run_engine)
        names = [b.name for b in backends if b.provider is not None or net is not None]
        times = dict(zip(names, best_of_interleaved(fns, repeat), strict=True))
        ref_out = from_canvas(outputs[REFERENCE].astype(np.float32), height, width, conv.value_range)
        for name in names:
            b = BACKENDS[name]
            out = from_canvas(outputs[name].astype(np.float32), height, width, conv.value_range)
            row: dict[str, Any] = {
                "preset": preset,
                "size": f"{width}x{height}",
                "backend": name,
                "precision": b.precision,
                "peak": b.peak,
                "seconds": times[name],
                "speedup_vs_ort_fp32": times[REFERENCE] / times[name],
                "model_gflop": flops / 1e9,
                "gflops": flops / times[name] / 1e9,
                "parity_vs_ort_fp32": parity(out, ref_out),
            }
            if name in compile_s:
                again = Engine(path, engines[name].options)  # a new engine: the compiled model from the cache
                session = again._primary.session
                assert isinstance(session, OpenVinoSession)
                session.run(None, {again.info.input_name: canvas})
                row["openvino_compile_s"] = compile_s[name]
                row["openvino_from_cache_s"] = session.compile_seconds
                row["openvino_arithmetic"] = session.arithmetic
                if session.arithmetic == "fp32":  # bf16 asked on a CPU without bf16 units: f32 computed
                    row["peak"] = "fp32"
            rows.append(row)
    return rows


def _bench_render() -> Any:
    spec = importlib.util.spec_from_file_location("bench_render", ROOT / "bench" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


E2E_BACKENDS = "ort-fp32,ov-fp32,ov-bf16"


def bench_end_to_end(
    preset: str,
    path: Path,
    sizes: list[tuple[int, int]],
    frames: int,
    threads: int,
    backends: list[Backend],
    repeat: int,
    folder: Path,
    grain: bool = False,
) -> list[dict[str, Any]]:
    """``remaster render``'s job against the engine alone on the same frames, per size and backend
    (``grain``: the model carries a grain profile, which the render adds and the engine alone does not).

    Each of ``repeat`` rounds times the engine alone, then the render (``force``: every frame redone);
    the row holds the medians and the ratio of the medians (bar <= 1.15), the per-round ratios, the
    same ratio of the process's CPU seconds (all threads: the work the render adds, whatever the load),
    that of the calling thread's CPU seconds (the critical path: with onnxruntime at 1 thread the model
    runs on the calling thread, so this is model + what the render does on that thread) and the 1-minute
    load average when the row ended.
    """
    render = _bench_render()
    src = render.write_inputs(folder / "in", frames, make_frame)
    numbers = list(range(frames))
    rows = []
    for width, height in sizes:
        for b in backends:
            node = NodeParams(
                model=path,
                output_size=(width, height),
                provider=b.provider,  # type: ignore[arg-type]
                precision=b.precision,  # type: ignore[arg-type]
                threads=threads,
            )
            out = folder / f"out-{width}x{height}-{b.name}"
            engine_s: list[float] = []
            e2e_s: list[float] = []
            engine_cpu: list[tuple[float, float]] = []
            e2e_cpu: list[tuple[float, float]] = []
            neighbour_s: list[float] = []
            for _ in range(repeat):
                engine_s.append(render.engine_alone(src, node, numbers, cpu=engine_cpu))
                seconds, n = render.end_to_end(src, out, node, cpu=e2e_cpu, force=True)
                assert n == frames
                e2e_s.append(seconds)
                if threads < (os.cpu_count() or 1):
                    with busy_neighbour():
                        neighbour_s.append(render.engine_alone(src, node, numbers, cpu=[]))
            rows.append(
                {
                    "preset": preset,
                    "size": f"{width}x{height}",
                    "backend": b.name,
                    "grain": grain,
                    "threads": threads,
                    "frames": frames,
                    "repeat": repeat,
                    "engine_alone_s_per_frame": statistics.median(engine_s) / frames,
                    "end_to_end_s_per_frame": statistics.median(e2e_s) / frames,
                    "ratio": statistics.median(e2e_s) / statistics.median(engine_s),
                    "ratio_per_round": [round(e / g, 3) for e, g in zip(e2e_s, engine_s, strict=True)],
                    "engine_alone_cpu_s_per_frame": statistics.median(c for c, _ in engine_cpu) / frames,
                    "end_to_end_cpu_s_per_frame": statistics.median(c for c, _ in e2e_cpu) / frames,
                    "cpu_ratio": statistics.median(c for c, _ in e2e_cpu)
                    / statistics.median(c for c, _ in engine_cpu),
                    "main_thread_cpu_ratio": statistics.median(m for _, m in e2e_cpu)
                    / statistics.median(m for _, m in engine_cpu),
                    "engine_busy_neighbour_s_per_frame": (
                        statistics.median(neighbour_s) / frames if neighbour_s else None
                    ),
                    "neighbour_slowdown": (
                        statistics.median(neighbour_s) / statistics.median(engine_s) if neighbour_s else None
                    ),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
    return rows


STAGE_COMPRESSIONS = ("zip", "piz", "none")
"""The EXR compressions the stage breakdown writes with (zip: the render's default)."""


def _cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median process CPU milliseconds (all threads) of ``fn()`` over ``repeat`` calls after one warm-up."""
    fn()
    spent = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        spent.append(time.process_time() - started)
    return 1000 * statistics.median(spent)


def bench_stages(
    path: Path, sizes: list[tuple[int, int]], backend: Backend, threads: int, repeat: int, folder: Path
) -> list[dict[str, Any]]:
    """What each step of a rendered frame costs in CPU milliseconds (the process's, all threads: the work
    a render adds to the model on a machine with no idle core), per output size (``stage_row``)."""
    render = _bench_render()
    src = Path(render.write_inputs(folder / "in", 1, make_frame).replace("%06d", "000000"))
    return [stage_row(path, size, backend, threads, repeat, src, folder) for size in sizes]


def stage_row(
    path: Path, size: tuple[int, int], backend: Backend, threads: int, repeat: int, src: Path, folder: Path
) -> dict[str, Any]:
    """CPU milliseconds of reading ``src`` (a 720x480 half EXR broadcast frame), resampling it to ``size``,
    the engine (``backend``), the grain (``bench_grain_profile``), and writing the half EXR output with
    each of ``STAGE_COMPRESSIONS`` (OpenEXR's own cost: the render only hands it the pixels); each also
    as a share of the engine's."""
    from remaster_core.grain.synthesis import GrainSettings, add_grain
    from remaster_core.io.images import read_image, write_image
    from remaster_core.node import engine_for, prepare_frame

    node = NodeParams(
        model=path,
        output_size=size,
        provider=backend.provider,  # type: ignore[arg-type]
        precision=backend.precision,  # type: ignore[arg-type]
        threads=threads,
    )
    profile = bench_grain_profile()
    rgb, meta = read_image(src)
    resampled = prepare_frame(rgb, node, pixel_aspect=meta.pixel_aspect).picture
    engine = engine_for(node)
    out = engine.run(resampled)
    ms = {
        "read": _cpu_ms(lambda: read_image(src), repeat),
        "resample": _cpu_ms(lambda: prepare_frame(rgb, node, pixel_aspect=meta.pixel_aspect), repeat),
        "engine": _cpu_ms(lambda: engine.run(resampled), repeat),
        "grain": _cpu_ms(lambda: add_grain(out, profile, GrainSettings(), shot=0, frame=1), repeat),
    }
    for compression in STAGE_COMPRESSIONS:
        target = folder / f"stage-{size[0]}x{size[1]}-{compression}.exr"
        ms[f"write_{compression}"] = _cpu_ms(
            lambda t=target, c=compression: write_image(t, out, compression=c), repeat
        )
    return {
        "size": f"{size[0]}x{size[1]}",
        "backend": backend.name,
        "threads": threads,
        "cpu_ms": {k: round(v, 2) for k, v in ms.items()},
        "share_of_engine": {k: round(v / ms["engine"], 3) for k, v in ms.items() if k != "engine"},
    }


def _ratio(value: float | None) -> str:
    """``value`` as ``1.23x``, or ``-`` when not measured."""
    return "-" if value is None else f"{value:.2f}x"


@contextlib.contextmanager
def busy_neighbour() -> Iterator[None]:
    """A process spinning a pure-Python loop (no memory traffic) on whatever core is free while the
    block runs: the cheapest work another core can do."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # started and scheduled
        yield
    finally:
        spinner.kill()
        spinner.wait()


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    sys.path.insert(0, {root!r})
    from remaster_core.runtime import Engine, EngineOptions

    def peak_rss_mb():
        # VmHWM belongs to this process's own address space; ru_maxrss would include the parent's
        # peak, inherited through fork + exec
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

    engine = Engine({model!r}, EngineOptions(provider="cpu", memory_mb={memory_mb}, threads={threads}))
    engine.run(np.full((64, 64, 3), 0.5, np.float32))
    frame = np.random.default_rng(0).random((2160, 3840, 3), dtype=np.float32)
    before = peak_rss_mb()
    started = time.perf_counter()
    engine.run(frame)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    plan, batch = engine.plan(2160, 3840)
    per_run = batch * max(h * w for h, w in plan.shapes()) * engine.graph.activation_bytes_per_pixel
    print(json.dumps({{"rss_before_mb": before, "peak_rss_mb": peak, "growth_mb": peak - before,
                      "frame_mb": frame.nbytes / 2**20, "tiles": len(plan.tiles), "tile": plan.tile_size,
                      "batch": batch, "estimated_activation_mb": per_run / 2**20,
                      "memory_mb": {memory_mb}, "seconds": seconds}}))
    """
)


def bench_memory(model: Path, memory_mb: int, threads: int) -> dict[str, Any]:
    script = MEMORY_SCRIPT.format(root=str(ROOT), model=str(model), memory_mb=memory_mb, threads=threads)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def paper_estimate(path: Path) -> dict[str, Any]:
    """The paper preset's cost per pixel and the tile the engine picks for a 4K frame (no 4K run)."""
    engine = Engine(path, EngineOptions(provider="cpu"))
    plan, batch = engine.plan(2160, 3840)
    g = engine.graph
    return {
        "parameters": g.parameters,
        "gflop_per_megapixel": g.flops_per_pixel * 1e6 / 1e9,
        "activation_bytes_per_pixel": g.activation_bytes_per_pixel,
        "whole_4k_activation_gb": g.activation_bytes_per_pixel * 3840 * 2160 / 2**30,
        "auto_tile_4k": plan.tile_size,
        "tiles_4k": len(plan.tiles),
        "batch_4k": batch,
        "overlap": engine.overlap,
        "estimated_run_mb": batch
        * max(h * w for h, w in plan.shapes())
        * g.activation_bytes_per_pixel
        / 2**20,
    }


def bench_gpu(model: Path, repeat: int) -> dict[str, Any]:
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        return {
            "skipped": f"no GPU provider in this onnxruntime build ({', '.join(available)}); see bench/gpu.sh"
        }
    frame = make_frame(1440, 1080)
    results: dict[str, Any] = {}
    for name, options in (
        ("tensorrt_fp16", EngineOptions(provider="tensorrt", precision="fp16")),
        ("cuda_fp32", EngineOptions(provider="cuda", precision="fp32")),
    ):
        engine = Engine(model, options)
        if engine.providers[0] == "CPUExecutionProvider":
            results[name] = {"skipped": f"fell back to CPU: {engine.providers}"}
            continue
        seconds = best_of(lambda e=engine: e.run(frame), repeat)
        results[name] = {"providers": engine.providers, "frames_per_s": 1.0 / seconds, "seconds": seconds}
    return results


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        w, _, h = item.strip().partition("x")
        out.append((int(w), int(h)))
    return out


def _models(text: str) -> dict[str, Path]:
    out = {}
    for item in text.split(","):
        preset, _, path = item.partition("=")
        if preset not in PRESETS or not path:
            raise SystemExit(
                f"--models: expected PRESET=FILE with PRESET one of {', '.join(PRESETS)}, got {item!r}"
            )
        out[preset] = Path(path)
    return out


def print_tables(result: dict[str, Any]) -> None:
    peaks = result["peaks_gflops"]
    if peaks:
        print(
            f"peaks (torch matmul 2048^2, {result['machine']['threads']} threads): fp32 {peaks['fp32']:.0f} "
            f"GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s (numpy fp32 {peaks['numpy_fp32']:.0f})"
            + ("" if result["machine"]["cpu_flags_bf16"] else "; this CPU has no bf16 units: bf16 emulated")
        )
    print(
        f"{'preset':6} {'size':>9} {'backend':>10} {'s/frame':>8} {'x ORT':>6} {'GFLOP/s':>8} {'%peak':>9}"
        f" {'max|d|':>8} {'p99.9|d|':>8} {'PSNR(d)':>8} {'compile/cache s':>15}"
    )
    for r in result["rows"]:
        p = r["parity_vs_ort_fp32"]
        comp = (
            f"{r['openvino_compile_s']:.2f}/{r['openvino_from_cache_s']:.2f}"
            if "openvino_compile_s" in r
            else ""
        )
        psnr = "inf" if p["psnr_db"] is None else f"{p['psnr_db']:.1f}"
        print(
            f"{r['preset']:6} {r['size']:>9} {r['backend']:>10} {r['seconds']:8.3f} {r['speedup_vs_ort_fp32']:6.2f}"
            f" {r['gflops']:8.1f} {r['pct_of_peak']:5.1f} {r['peak']:>3} {p['max_abs']:8.1e} {p['p999_abs']:8.1e}"
            f" {psnr:>8} {comp:>15}"
        )
    if result["end_to_end"]:
        print(
            f"{'preset':6} {'size':>9} {'backend':>10} {'grain':>5} {'thr':>3} {'engine s/frame':>15}"
            f" {'render s/frame':>15} {'ratio':>6} {'cpu ratio':>9} {'main cpu':>8} {'neighbour':>9}"
            "  per round (load)"
        )
        for r in result["end_to_end"]:
            print(
                f"{r['preset']:6} {r['size']:>9} {r['backend']:>10} {'on' if r['grain'] else 'off':>5}"
                f" {r['threads']:3d}"
                f" {r['engine_alone_s_per_frame']:15.3f} {r['end_to_end_s_per_frame']:15.3f} {r['ratio']:6.2f}"
                f" {r['cpu_ratio']:9.2f} {r['main_thread_cpu_ratio']:8.2f}"
                f" {_ratio(r['neighbour_slowdown']):>9}  {r['ratio_per_round']} ({r['load_average_1min']})"
            )
    if result.get("stages"):
        names = ["read", "resample", "engine", "grain", *(f"write_{c}" for c in STAGE_COMPRESSIONS)]
        print("CPU ms a frame, each step (share of the engine's):")
        print(f"{'size':>9} {'backend':>10} " + " ".join(f"{n:>14}" for n in names))
        for r in result["stages"]:
            cells = [
                f"{r['cpu_ms'][n]:6.1f}" + ("" if n == "engine" else f" ({r['share_of_engine'][n]:4.2f})")
                for n in names
            ]
            print(f"{r['size']:>9} {r['backend']:>10} " + " ".join(f"{c:>14}" for c in cells))
    for key in ("memory_4k", "paper_4k_estimate", "gpu"):
        if result.get(key):
            print(f"{key}: {json.dumps(result[key])}")
    print(f"bars: {json.dumps(result['bars'])}  ({result['seconds']:.0f} s)")


def bars(rows: list[dict[str, Any]], e2e: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's bars on what was measured (None where the rows to judge were not run)."""
    by = {(r["preset"], r["size"], r["backend"]): r for r in rows}
    ov_faster = [r["speedup_vs_ort_fp32"] > 1.0 for r in rows if r["backend"] == "ov-fp32"]
    paper_bf16 = by.get(("paper", "1440x1080", "ov-bf16"))
    lite_torch = [r for r in rows if r["backend"] == "torch-fp32"]
    return {
        "openvino_fp32_faster_than_onnxruntime_everywhere": all(ov_faster) if ov_faster else None,
        "paper_1440x1080_bf16_ge_2x_onnxruntime_fp32": (
            paper_bf16["speedup_vs_ort_fp32"] >= 2.0 if paper_bf16 else None
        ),
        "bf16_parity_max_abs_le_0.02": all(
            r["parity_vs_ort_fp32"]["max_abs"] <= 0.02 for r in rows if r["backend"] == "ov-bf16"
        ),
        "ort_vs_torch_ge_1.2": all(1.0 / r["speedup_vs_ort_fp32"] >= 1.2 for r in lite_torch)
        if lite_torch
        else None,
        "end_to_end_le_1.15x_engine": all(r["ratio"] <= 1.15 for r in e2e) if e2e else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "runtime.json")
    parser.add_argument(
        "--presets", default="lite,paper", help="comma-separated presets (default lite,paper)"
    )
    parser.add_argument(
        "--sizes", default="720x480,1440x1080", help="comma-separated WxH (default 720x480,1440x1080)"
    )
    parser.add_argument(
        "--backends", default=DEFAULT_BACKENDS, help=f"of {', '.join(BACKENDS)} (default {DEFAULT_BACKENDS})"
    )
    parser.add_argument(
        "--models", type=_models, default={}, help="trained models: PRESET=FILE[,PRESET=FILE]"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed runs per backend after the warm-up (best of)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--torch-presets",
        default="lite",
        help="presets torch-fp32 is timed on (random weights only; default lite)",
    )
    parser.add_argument(
        "--e2e", default="lite", help="presets to render end to end ('' for none; default lite)"
    )
    parser.add_argument("--e2e-frames", type=int, default=6)
    parser.add_argument(
        "--e2e-grain", action="store_true", help="end to end with a model carrying a grain profile too"
    )
    parser.add_argument(
        "--e2e-backends", default=E2E_BACKENDS, help=f"end-to-end backends (default {E2E_BACKENDS})"
    )
    parser.add_argument("--e2e-repeat", type=int, default=3, help="end-to-end rounds (medians; default 3)")
    parser.add_argument(
        "--memory", action="store_true", help="also the 4K memory check (lite, child process)"
    )
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    sizes = _sizes(args.sizes)
    wanted = [BACKENDS[name] for name in args.backends.split(",") if name]
    if REFERENCE not in [b.name for b in wanted]:
        wanted.insert(0, BACKENDS[REFERENCE])
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    e2e: list[dict[str, Any]] = []
    memory: dict[str, Any] | None = None
    paper: dict[str, Any] | None = None
    stages: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as tmp:
        folder = Path(tmp)
        peaks = matmul_peaks(args.threads) if presets else {}
        paths: dict[str, Path] = {}
        for preset in presets:
            net: torch.nn.Module | None = None
            if preset in args.models:
                path = args.models[preset]
            else:
                path, net = export_preset(preset, folder / f"{preset}.onnx")
            paths[preset] = path
            torch_too = net is not None and preset in args.torch_presets.split(",")
            backends = [b for b in wanted if b.provider is not None or torch_too]
            rows += bench_preset(
                preset, path, net, sizes, backends, args.repeat, args.threads, folder / "cache"
            )
        if presets:
            again = matmul_peaks(args.threads)  # before and after: the best the machine gave us
            peaks = {k: max(v, again[k]) for k, v in peaks.items()}
        e2e_backends = [BACKENDS[name] for name in args.e2e_backends.split(",") if name]
        for preset in [p for p in args.e2e.split(",") if p]:
            path = paths.get(preset) or export_preset(preset, folder / f"{preset}.onnx")[0]
            models = [(path, False)]
            if args.e2e_grain:
                grainy = export_preset(preset, folder / f"{preset}-grain.onnx", grain=bench_grain_profile())
                models.append((grainy[0], True))
            for model, grain in models:
                e2e += bench_end_to_end(
                    preset,
                    model,
                    sizes,
                    args.e2e_frames,
                    args.threads,
                    e2e_backends,
                    args.e2e_repeat,
                    folder / f"e2e-{preset}{'-grain' if grain else ''}",
                    grain=grain,
                )
        e2e_presets = [p for p in args.e2e.split(",") if p]
        if e2e_presets and e2e_backends:
            path = paths.get(e2e_presets[0]) or export_preset(e2e_presets[0], folder / "stages.onnx")[0]
            stages = bench_stages(path, sizes, e2e_backends[-1], args.threads, 5, folder / "stages")
        if args.memory:
            memory = bench_memory(
                paths.get("lite") or export_preset("lite", folder / "lite.onnx")[0], 256, args.threads
            )
        if "paper" in paths:
            paper = paper_estimate(paths["paper"])
        gpu = bench_gpu(paths[presets[0]], args.repeat) if presets else {}
    for r in rows:
        r["pct_of_peak"] = 100 * r["gflops"] / peaks[r["peak"]]
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "cpu_flags_bf16": _cpu_flags(),
            "onnxruntime": ort.__version__,
            "openvino": openvino_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "setup": {
            "presets": presets,
            "models": {p: (str(args.models[p]) if p in args.models else "random weights") for p in presets},
            "sizes": [f"{w}x{h}" for w, h in sizes],
            "repeat": args.repeat,
            "frame": "scikit-image astronaut, resized (bicubic)",
        },
        "peaks_gflops": peaks,
        "rows": rows,
        "end_to_end": e2e,
        "stages": stages,
        "memory_4k": memory,
        "paper_4k_estimate": paper,
        "gpu": gpu,
        "bars": bars(rows, e2e),
        "seconds": time.perf_counter() - started,
    }
    print_tables(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, json.loads(json.dumps(result, default=str)))
    print(f"wrote {args.out}")
    return 0


def _cpu_flags() -> list[str]:
    """The CPU's bf16/AMX flags from /proc/cpuinfo (Linux), e.g. ["avx512_bf16"]."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return sorted(f for f in flags if "bf16" in f or f.startswith("amx") or f == "avx512_fp16")


if __name__ == "__main__":
    raise SystemExit(main())
