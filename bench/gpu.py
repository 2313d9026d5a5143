"""The GPU benchmark (run by ``bench/gpu.sh``): TensorRT fp16 and CUDA fp32 against PyTorch, one GPU.

    python3 bench/gpu.py --out bench/results/gpu.json            # on a GPU machine (bench/gpu.sh)
    python3 bench/gpu.py --dry-run --out /tmp/gpu-dry.json       # any machine: the CPU, tiny sizes

Each section writes the JSON again when it ends, so a run cut short keeps what it measured; a section
that cannot run (no GPU provider in this onnxruntime, a fallback to the CPU, the time budget spent)
says why in its place. Sections, in order (``--budget-s`` bounds the whole):

1. ``torch``: PyTorch eager on the GPU, both presets (random weights), batch 1 at ``--size``
   (1440x1080): fp32 (TF32 off), TF32, fp16 and bf16 autocast; frames/s (CUDA-synchronised, best of
   ``--repeat`` after a warm-up), ``cudnn.benchmark`` on;
2. ``cuda_fp32``: the engine (``remaster_core.runtime.Engine``, ``provider="cuda"``, fp32) on the same
   frame: frames/s of ``Engine.run`` (host frame in, host frame out) and of the session alone;
3. ``deterministic``: the engine with ``deterministic=True`` (onnxruntime's deterministic compute,
   cuDNN's heuristic algorithms): frames/s, and whether two fresh sessions give bit-identical frames
   (and whether the default, timed algorithm search does); PyTorch with
   ``torch.use_deterministic_algorithms(True)`` likewise;
4. ``tensorrt_fp16``: the engine with ``provider="tensorrt"``, fp16, a fresh engine cache: the build
   time (session creation + first frame) cold, then again from the cache in a new engine; frames/s;
   parity with ``cuda_fp32`` (max, 99.9th percentile of |d|, PSNR of d, 0..1 code values); the same
   for TensorRT fp32;
5. ``train_paper_bf16``: one ``paper`` training step (G forward, the FFT loss, backward, Adam) in
   bf16 autocast at the paper recipe's crops (batch 16 of 256 px): seconds per step after warm-up,
   peak GPU memory.

``--dry-run`` runs every section on the CPU at 96x64 with one repeat (onnxruntime's CPU provider
stands in for CUDA and TensorRT, the training step has batch 2 of 64 px): it checks the script, not
the GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remaster_core.io.atomic import write_json_atomic
from remaster_core.runtime import Engine, EngineOptions
from remaster_core.runtime.engine import to_canvas
from training.losses import fft_l1_loss
from training.model import PRESETS, build_generator


def _bench_runtime() -> Any:
    spec = importlib.util.spec_from_file_location("bench_runtime", ROOT / "bench" / "runtime.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Report:
    """The JSON report, written again after each section."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out = out
        self.started = time.perf_counter()
        self.budget_s = budget_s
        self.data: dict[str, Any] = {}

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def section(self, name: str, needs_s: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` unless less than ``needs_s`` seconds of the budget are left; record its result."""
        if self.left() < needs_s:
            self.data[name] = {
                "skipped": f"time budget: {self.left():.0f} s left, the section needs ~{needs_s:.0f} s"
            }
        else:
            t0 = time.perf_counter()
            try:
                self.data[name] = fn()
            except Exception as exc:  # noqa: BLE001 - a section that breaks must not cost the others
                self.data[name] = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:400]}"}
            if isinstance(self.data[name], dict):
                self.data[name]["section_seconds"] = round(time.perf_counter() - t0, 2)
        print(f"[gpu bench] {name}: {json.dumps(self.data[name])[:600]}", flush=True)
        self.write()

    def write(self) -> None:
        self.data["seconds"] = round(time.perf_counter() - self.started, 1)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out, json.loads(json.dumps(self.data, default=str)))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(fn: Callable[[], Any], repeat: int, device: torch.device | None = None) -> float:
    fn()
    if device is not None:
        sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if device is not None:
            sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def parity(out: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    mse = float(np.mean(diff**2))
    return {
        "max_abs": float(diff.max()),
        "p999_abs": float(np.quantile(diff, 0.999)),
        "psnr_db": None if mse == 0 else 10.0 * float(np.log10(1.0 / mse)),
        "identical": bool(mse == 0),
    }


def torch_section(
    nets: dict[str, torch.nn.Module], frame: np.ndarray, device: torch.device, repeat: int
) -> Any:
    torch.backends.cudnn.benchmark = True
    x = torch.from_numpy(frame.transpose(2, 0, 1)[None].copy()).to(device)
    rows: dict[str, Any] = {}
    for preset, net in nets.items():
        net = net.to(device).eval()
        variants: dict[str, Callable[[], Any]] = {}
        for name, dtype, tf32 in (
            ("fp32", None, False),
            ("tf32", None, True),
            ("fp16_autocast", torch.float16, False),
            ("bf16_autocast", torch.bfloat16, False),
        ):
            if device.type == "cpu" and dtype is torch.float16:
                continue  # no fp16 autocast worth timing on the CPU (dry run)

            def run(dtype: Any = dtype, tf32: bool = tf32, net: torch.nn.Module = net) -> Any:
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch.backends.cudnn.allow_tf32 = tf32
                with (
                    torch.inference_mode(),
                    torch.autocast(device.type, dtype=dtype, enabled=dtype is not None),
                ):
                    return net(x)

            variants[name] = run
        rows[preset] = {name: 1.0 / best_seconds(fn, repeat, device) for name, fn in variants.items()}
        rows[preset]["unit"] = "frames/s"
        net.to("cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    return rows


def _engine(path: Path, provider: str, precision: str, cache: Path, **kw: Any) -> Engine:
    return Engine(path, EngineOptions(provider=provider, precision=precision, cache_dir=cache, **kw))  # type: ignore[arg-type]


def _on_gpu(engine: Engine, dry: bool) -> str | None:
    """None if the engine runs on a GPU provider (or this is the dry run), else why not."""
    if dry or engine.providers[0] in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
        return None
    return f"fell back to {engine.providers} (onnxruntime {engine.describe()['providers']['onnxruntime']})"


def engine_section(
    label: str, models: dict[str, Path], frame: np.ndarray, provider: str, precision: str, repeat: int,
    cache: Path, dry: bool, outputs: dict[str, np.ndarray],
) -> Any:  # fmt: skip
    """The engine on ``provider`` at ``precision`` for each model; its output kept under ``label``."""
    rows: dict[str, Any] = {}
    for preset, path in models.items():
        t0 = time.perf_counter()
        engine = _engine(path, provider, precision, cache)
        out = engine.run(frame)
        cold = time.perf_counter() - t0
        why = _on_gpu(engine, dry)
        if why:
            rows[preset] = {"skipped": why}
            continue
        s = engine.info.convention.space_to_depth
        h, w = frame.shape[:2]
        canvas = to_canvas(
            frame[None], (-h) % s, (-w) % s, engine._primary.input_dtype, engine.info.convention.value_range
        )
        session = engine._primary.session
        feed = {engine.info.input_name: canvas}
        rows[preset] = {
            "providers": engine.providers,
            "first_frame_s": cold,  # session creation + first run: the TensorRT build, cold
            "engine_frames_per_s": 1.0 / best_seconds(lambda e=engine: e.run(frame), repeat),
            "session_frames_per_s": 1.0 / best_seconds(lambda s=session, f=feed: s.run(None, f), repeat),
        }
        if label.startswith("tensorrt"):  # again, from the engine cache, in a new engine
            t0 = time.perf_counter()
            again = _engine(path, provider, precision, cache)
            again.run(frame)
            rows[preset]["from_cache_first_frame_s"] = time.perf_counter() - t0
        outputs[f"{preset}/{label}"] = out
        ref = outputs.get(f"{preset}/cuda_fp32")
        if ref is not None and label != "cuda_fp32":
            rows[preset]["parity_vs_cuda_fp32"] = parity(out, ref)
    return rows


def deterministic_section(
    models: dict[str, Path], frame: np.ndarray, repeat: int, cache: Path, dry: bool
) -> Any:
    provider = "cpu" if dry else "cuda"
    rows: dict[str, Any] = {}
    for preset, path in models.items():
        row: dict[str, Any] = {}
        for flag in (False, True):
            first = _engine(path, provider, "fp32", cache, deterministic=flag)
            why = _on_gpu(first, dry)
            if why:
                row = {"skipped": why}
                break
            a = first.run(frame)
            b = _engine(path, provider, "fp32", cache, deterministic=flag).run(frame)  # a fresh session
            key = "deterministic" if flag else "default_search"
            row[key] = {
                "engine_frames_per_s": 1.0 / best_seconds(lambda e=first: e.run(frame), repeat),
                "two_sessions_identical": bool(np.array_equal(a, b)),
                "two_sessions_max_abs": float(np.abs(a - b).max()),
            }
        rows[preset] = row
    return rows


def torch_deterministic_section(
    nets: dict[str, torch.nn.Module], frame: np.ndarray, device: torch.device
) -> Any:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)
    x = torch.from_numpy(frame.transpose(2, 0, 1)[None].copy()).to(device)
    rows = {}
    try:
        for preset, net in nets.items():
            net = net.to(device).eval()
            with torch.inference_mode():
                a = net(x).float().cpu().numpy()
                b = net(x).float().cpu().numpy()
                seconds = best_seconds(lambda net=net: net(x), 2, device)
            rows[preset] = {"frames_per_s": 1.0 / seconds, "two_runs_identical": bool(np.array_equal(a, b))}
            net.to("cpu")
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
    return rows


def train_section(device: torch.device, batch: int, crop: int, repeat: int) -> Any:
    torch.manual_seed(0)
    net = build_generator(PRESETS["paper"]).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, crop, crop, device=device)
    target = torch.rand(batch, 3, crop, crop, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = net(x)
        loss = fft_l1_loss(out.float(), target)
        loss.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = best_seconds(step, repeat, device)
    row = {"batch": batch, "crop": crop, "seconds_per_step": seconds, "crops_per_s": batch / seconds}
    if device.type == "cuda":
        row["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu.json")
    parser.add_argument("--size", default="1440x1080")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop starting sections after this")
    parser.add_argument("--dry-run", action="store_true", help="the CPU, tiny sizes: checks the script")
    args = parser.parse_args(argv)
    dry = args.dry_run
    width, height = (96, 64) if dry else tuple(int(v) for v in args.size.split("x"))
    repeat = 1 if dry else args.repeat
    device = torch.device("cpu" if dry or not torch.cuda.is_available() else "cuda")
    if dry:
        torch.set_num_threads(1)  # on a busy CPU, threads that wait for each other cost more than they give
    report = Report(args.out, args.budget_s)
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls") and not dry:
        try:  # the CUDA/cuDNN libraries of the nvidia-* wheels, where onnxruntime-gpu[cuda,cudnn] put them
            ort.preload_dlls()
        except Exception as exc:  # noqa: BLE001 - reported; the sections say what then fails
            print(f"[gpu bench] onnxruntime.preload_dlls: {exc}", flush=True)
    report.data["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "onnxruntime": f"{ort.__version__} {ort.get_available_providers()}",
        "dry_run": dry,
        "size": f"{width}x{height}",
    }
    report.write()
    if device.type == "cpu" and not dry:
        report.data["error"] = "no CUDA device visible to torch: nothing measured (use --dry-run on a CPU)"
        report.write()
        print(report.data["error"], file=sys.stderr)
        return 1
    runtime = _bench_runtime()
    frame = runtime.picture_frame(width, height)
    outputs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        folder = Path(tmp)
        models: dict[str, Path] = {}
        nets: dict[str, torch.nn.Module] = {}
        for preset in ("lite", "paper"):
            models[preset], nets[preset] = runtime.export_preset(preset, folder / f"{preset}.onnx")
        gpu_provider = "cpu" if dry else "cuda"
        trt_provider = "cpu" if dry else "tensorrt"
        report.section("torch", 30, lambda: torch_section(nets, frame, device, repeat))
        report.section(
            "cuda_fp32", 30,
            lambda: engine_section("cuda_fp32", models, frame, gpu_provider, "fp32", repeat, folder / "c", dry, outputs),
        )  # fmt: skip
        report.section(
            "deterministic", 30, lambda: deterministic_section(models, frame, repeat, folder / "cache", dry)
        )
        report.section("torch_deterministic", 20, lambda: torch_deterministic_section(nets, frame, device))
        report.section(
            "tensorrt_fp16", 150,
            lambda: engine_section("tensorrt_fp16", models, frame, trt_provider, "fp16", repeat, folder / "t", dry, outputs),
        )  # fmt: skip
        report.section(
            "tensorrt_fp32", 120,
            lambda: engine_section("tensorrt_fp32", models, frame, trt_provider, "fp32", repeat, folder / "t", dry, outputs),
        )  # fmt: skip
        batch, crop = (2, 64) if dry else (16, 256)
        report.section("train_paper_bf16", 30, lambda: train_section(device, batch, crop, repeat))
    report.write()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
