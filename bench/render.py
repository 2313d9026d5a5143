"""Benchmark ``remaster render``: end-to-end frames/s against the engine alone, and 2 Dask workers against 1.

    .venv/bin/python bench/render.py --out bench/results/render.json

Same model, same frames:

- model: ``training.model``'s ``lite`` preset with random (non-zero) weights, exported with the
  remaster metadata (``bench/runtime.py``'s ``export_preset``);
- input: ``--frames`` broadcast-like frames, 720x480 half-float EXR with pixel aspect 8/9 (what a
  conform folder holds), rendered to the default region of definition, 640x480;
- engine alone: ``Engine.run`` on the frames already resampled to 640x480 and held in memory (no file
  I/O, no resample): the floor for a render;
- end to end: ``plan_job`` + ``run_job`` in this process, one chunk (read EXR, resample, engine, write
  half EXR with its render key, check, log): frames/s and the overhead ratio end-to-end time / engine
  time (1.0 = no overhead);
- deflickers: the same job with ``--deflicker 4``, then with ``--deflicker-output 4`` too (one chunk,
  then chunks of ``--chunk`` frames: the model runs on 4 frames beyond each chunk's ends, which this
  process keeps for the next chunk), each as a ratio to the plain end-to-end time;
- scale-out: the same job on a ``LocalCluster`` of 1 worker, then of 2 workers (processes, 1 thread
  each, onnxruntime limited to 1 thread per worker, so 2 workers use the 2 cores), ``--chunk`` frames per
  chunk; the engine-alone time at 1 thread is measured too. Cluster start-up and the workers' engine
  load are not timed (``client.run(warm_up, ...)`` loads the engine on every worker first): they are paid once per
  worker, not per job.

The machine is shared with other work: numbers are single runs, not best-of; run it on a quiet machine
for figures to quote. Prints a table and writes JSON.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.images import ImageMeta, write_image
from remaster_core.node import NodeParams, engine_for, frame_transform, resample_to_output
from remaster_core.render.inputs import open_source
from remaster_core.render.job import plan_job, run_job
from remaster_core.render.outputs import output_spec

BROADCAST = (720, 480)
PAR = 8 / 9


def _bench_runtime() -> Any:
    spec = importlib.util.spec_from_file_location("bench_runtime", ROOT / "bench" / "runtime.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(folder: Path, count: int, make_frame: Any) -> str:
    for i in range(count):
        write_image(
            folder / f"frame.{i:06d}.exr", make_frame(*BROADCAST, seed=i), meta=ImageMeta(pixel_aspect=PAR)
        )
    return str(folder / "frame.%06d.exr")


def engine_alone(
    src: str, node: NodeParams, frames: list[int], cpu: list[tuple[float, float]] | None = None
) -> float:
    """Seconds for ``Engine.run`` over the frames already resampled in memory (after one warm-up); the
    CPU seconds over the same span, (the process's, this thread's), are appended to ``cpu`` if given."""
    source = open_source(src)
    transform = frame_transform(node, source.size, source.pixel_aspect)
    size = node.output_size
    assert size is not None
    ready = [resample_to_output(f.rgb, transform, size) for f in source.read(frames)]
    engine = engine_for(node)
    engine.run(ready[0])
    started, started_cpu = time.perf_counter(), (time.process_time(), time.thread_time())
    for frame in ready:
        engine.run(frame)
    if cpu is not None:
        cpu.append((time.process_time() - started_cpu[0], time.thread_time() - started_cpu[1]))
    return time.perf_counter() - started


def end_to_end(
    src: str, out: Path, node: NodeParams, cpu: list[tuple[float, float]] | None = None, **kw: Any
) -> tuple[float, int]:
    """(seconds, frames rendered) of ``plan_job`` + ``run_job`` in this process (``kw``: ``plan_job``'s);
    the CPU seconds, (the process's, this thread's: the render's critical path), are appended to ``cpu``
    if given."""
    plan = plan_job(src, output_spec(str(out / "frame.%06d.exr")), node, **kw)
    started, started_cpu = time.perf_counter(), (time.process_time(), time.thread_time())
    result = run_job(plan, show_progress=False)
    seconds = time.perf_counter() - started
    if cpu is not None:
        cpu.append((time.process_time() - started_cpu[0], time.thread_time() - started_cpu[1]))
    assert result.exit_code == 0, result.failed
    return seconds, len(result.rendered)


def _clear_model_outputs() -> None:
    """Forget the model outputs this process kept (``render.chunk.MODEL_OUTPUTS``): each timed render
    with an output deflicker starts cold."""
    from remaster_core.render.chunk import MODEL_OUTPUTS

    MODEL_OUTPUTS.clear()


def warm_up(node: NodeParams) -> list[str]:
    """Load the engine in this (worker) process; its providers."""
    return engine_for(node).providers


def on_dask(src: str, out: Path, node: NodeParams, workers: int, chunk: int) -> tuple[float, int]:
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    ) as cluster:
        with Client(cluster, set_as_default=False) as client:  # warm-up: every worker loads the engine
            client.run(warm_up, node)
        plan = plan_job(src, output_spec(str(out / "frame.%06d.exr")), node, chunk_size=chunk)
        started = time.perf_counter()
        result = run_job(plan, scheduler=cluster.scheduler_address, show_progress=False)
        seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.failed
    return seconds, len(result.rendered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "render.json")
    parser.add_argument("--frames", type=int, default=24, help="frames per run (default 24)")
    parser.add_argument("--chunk", type=int, default=2, help="frames per Dask chunk (default 2)")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args(argv)

    runtime = _bench_runtime()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        folder = Path(tmp)
        model, _ = runtime.export_preset("lite", folder / "lite.onnx")
        src = write_inputs(folder / "in", args.frames, runtime.make_frame)
        frames = list(range(args.frames))
        out_size = (round(BROADCAST[0] * PAR), BROADCAST[1])
        node = NodeParams(model=model, output_size=out_size, provider="cpu")
        rows: dict[str, Any] = {}

        t_engine = engine_alone(src, node, frames)
        t_e2e, n = end_to_end(src, folder / "local", node)
        rows["engine_alone"] = {"seconds": t_engine, "fps": len(frames) / t_engine}
        rows["end_to_end_local"] = {"seconds": t_e2e, "fps": n / t_e2e, "overhead_ratio": t_e2e / t_engine}
        t_skip, _ = end_to_end(src, folder / "local", node)
        rows["rerun_all_valid"] = {"seconds": t_skip, "ms_per_frame_check": 1000 * t_skip / len(frames)}
        # the deflickers (steadiness): the input's, then the model output's too (the model also runs on
        # the frames within its radius beyond a chunk; a process keeps its outputs for the next chunk)
        for name, kw in (
            ("deflicker_4", {"deflicker": 4}),
            ("deflicker_4_output_4", {"deflicker": 4, "deflicker_output": 4}),
            (
                "deflicker_4_output_4_chunks",
                {"deflicker": 4, "deflicker_output": 4, "chunk_size": args.chunk},
            ),
        ):
            _clear_model_outputs()
            t, n = end_to_end(src, folder / name, node, **kw)
            rows[f"end_to_end_{name}"] = {"seconds": t, "fps": n / t, "ratio_vs_end_to_end": t / t_e2e}

        if not args.skip_dask:
            single = NodeParams(model=model, output_size=out_size, provider="cpu", threads=1)
            t_engine1 = engine_alone(src, single, frames)
            rows["engine_alone_1_thread"] = {"seconds": t_engine1, "fps": len(frames) / t_engine1}
            for workers in (1, 2):
                t, n = on_dask(src, folder / f"dask{workers}", single, workers, args.chunk)
                rows[f"dask_{workers}_worker"] = {
                    "seconds": t,
                    "fps": n / t,
                    "overhead_ratio_vs_engine_1_thread": t * workers / t_engine1,
                }
            rows["dask_speedup_2_vs_1"] = rows["dask_1_worker"]["seconds"] / rows["dask_2_worker"]["seconds"]

    print(f"{'run':28s} {'seconds':>9s} {'frames/s':>9s}  note")
    for name, row in rows.items():
        if isinstance(row, dict):
            note = ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k not in ("seconds", "fps"))
            fps = f"{row['fps']:9.2f}" if "fps" in row else " " * 9
            print(f"{name:28s} {row['seconds']:9.2f} {fps}  {note}")
        else:
            print(f"{name:28s} {row:9.2f}")
    report = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "setup": {
            "model": "training.model lite preset, random weights, ONNX fp32, CPU provider",
            "input": f"{args.frames} frames {BROADCAST[0]}x{BROADCAST[1]} half EXR, pixel aspect 8/9",
            "output": f"{out_size[0]}x{out_size[1]} half EXR",
            "dask": f"LocalCluster processes, 1 thread per worker, onnxruntime threads=1, chunk {args.chunk}",
        },
        "results": rows,
    }
    write_json_atomic(args.out, json.loads(json.dumps(report)))
    print(
        f"load average (1 min) before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
