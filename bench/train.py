"""Benchmark training: steps/s and peak memory of both presets, the trainer's step against a bare
forward + backward on the same batch, and 2-process DDP efficiency on the CPU.

    .venv/bin/python bench/train.py --out bench/results/train.json          # ~3 minutes on 2 cores

Pairs: ``--pairs DIR``, else the pairs ``bench/ablation.py`` builds from a ``remaster synth --preset
small`` reel (960x720 film frames; built once under ``--work``).

Per preset, each in a child process of its own (so that its peak RSS is its own):

- bare: G, Adam (fused, as the trainer's), one fixed batch of the run's crop and batch size, already in
  memory; the best time of ``loss(G(x)).backward()`` ("fwd+bwd") and of that plus ``Adam.step()``
  ("fwd+bwd+adam") over ``--repeat`` runs;
- trainer: ``training.trainer.train`` for ``warm-up + measured`` steps on the pairs, validation and
  checkpoints only at the end; its step time is the best over the measured steps of the step itself
  plus the wait for the loader before it (``seconds + data_seconds`` in metrics.jsonl): everything
  the loop does per step except the final validation and checkpoint. The bar: at most 1.1 times the
  bare fwd+bwd (the data pipeline is never the bottleneck). Best-of on both sides, because the
  machine is shared and a neighbour's load hits the two measurements at different moments (medians are
  in the JSON too);
- peak memory: the child's peak RSS (CPU) or ``torch.cuda.max_memory_allocated`` (GPU).

``lite`` runs its own recipe (batch 8 of 128 px crops). ``paper`` on the CPU runs batch 1 of 64 px
crops (its recipe's batch 16 of 256 px would take minutes a step on 2 cores); on a CUDA machine it runs
its recipe in bf16 autocast. DDP: ``lite``'s recipe with 1 process (1 thread) and with 2 processes (1
thread each, ``--nproc 2``): efficiency = (1-process step time / 2-process step time) / 2 (best
steps); it needs two idle cores to mean anything (the JSON records the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from remaster_core.io.atomic import write_json_atomic
from training.config import TrainConfig, config_to_toml, resolve_config
from training.data import CropDataset, StepSampler, make_loader, scan_pairs
from training.logs import read_metrics
from training.losses import fft_l1_loss
from training.model import build_generator, count_parameters
from training.trainer import train


def settings(preset: str, cuda: bool, steps: int, threads: int) -> dict[str, Any]:
    """Dotted config settings of one measurement run."""
    s: dict[str, Any] = {
        "model.preset": preset,
        "steps": steps,
        "validation.every": steps,
        "validation.frames": 1,
        "checkpoint.every": steps,
        "runtime.threads": threads,
        "runtime.device": "cuda" if cuda else "cpu",
        "runtime.tensorboard": False,
    }
    if preset == "paper" and not cuda:
        s.update({"data.batch_size": 1, "data.crop_size": 64, "optim.warmup_steps": 0})
    return s


def bare_times(cfg: TrainConfig, pairs: Path, device: torch.device, repeat: int) -> dict[str, float]:
    """Median seconds of fwd+bwd and fwd+bwd+adam on one fixed batch (see the module docstring)."""
    index = scan_pairs(pairs, min_size=cfg.data.crop_size)
    data = CropDataset(index.train, crop=cfg.data.crop_size, seed=0)
    batch = next(
        iter(
            make_loader(
                data,
                StepSampler(len(data), batch_size=cfg.data.batch_size, seed=0, start=0, stop=1),
                workers=0,
            )
        )
    )
    x, y, m = (batch[k].to(device) for k in ("input", "target", "mask"))
    torch.manual_seed(0)
    g = build_generator(cfg.model.generator_config()).to(device)
    opt = torch.optim.Adam(g.parameters(), lr=cfg.optim.lr, fused=True)  # as the trainer's
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def fwd_bwd() -> None:
        with autocast:
            loss = fft_l1_loss(g(x).float(), y, m)
        loss.backward()

    def full() -> None:
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)

    result = {}
    for name, fn in (("fwd_bwd_s", fwd_bwd), ("fwd_bwd_adam_s", full)):
        fn()
        sync()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - started)
            g.zero_grad(set_to_none=True)
        result[name] = float(np.min(times))
        result[name.replace("_s", "_median_s")] = float(np.median(times))
    return result


def measure(
    preset: str, pairs: Path, work: Path, warmup: int, steps: int, threads: int, repeat: int
) -> dict[str, Any]:
    """One preset, in this (child) process: bare times, trainer step time, peak memory."""
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.set_num_threads(threads)
    cfg = resolve_config(None, settings(preset, cuda, warmup + steps, threads))
    bare = bare_times(cfg, pairs, device, repeat)
    run = work / f"run_{preset}"
    if run.exists():
        import shutil

        shutil.rmtree(run)
    cfg = resolve_config(
        None, {**settings(preset, cuda, warmup + steps, threads), "data.cache_dir": str(work / "cache")}
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    train(cfg, pairs, run)
    wall = time.perf_counter() - started
    lines = read_metrics(run / "metrics.jsonl", "train")[warmup:]
    per_step = [r["seconds"] + r["data_seconds"] for r in lines]
    step = float(np.min(per_step))
    data_wait = float(np.median([r["data_seconds"] for r in lines]))
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "preset": preset,
        "device": torch.cuda.get_device_name() if cuda else f"cpu x{threads} thread(s)",
        "bf16": cuda and cfg.runtime.bf16,
        "batch": cfg.data.batch_size,
        "crop": cfg.data.crop_size,
        "parameters": count_parameters(build_generator(cfg.model.generator_config())),
        **bare,
        "trainer_step_s": step,
        "trainer_step_median_s": float(np.median(per_step)),
        "trainer_data_wait_s": data_wait,
        "steps_per_s": 1.0 / step,
        "step_vs_fwd_bwd": step / bare["fwd_bwd_s"],
        "step_vs_fwd_bwd_adam": step / bare["fwd_bwd_adam_s"],
        "peak_memory_mb": peak,
        "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS",
        "run_wall_s": wall,
    }


def child(preset: str, args: argparse.Namespace, pairs: Path) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--measure", preset, "--pairs", str(pairs), "--work", str(args.work),
        "--warmup", str(args.warmup), "--steps", str(args.steps), "--threads", str(args.threads),
        "--repeat", str(args.repeat),
    ]  # fmt: skip
    if preset == "paper" and not torch.cuda.is_available():
        command[command.index("--steps") + 1] = str(max(3, args.steps // 4))
        command[command.index("--warmup") + 1] = "2"
        command[command.index("--repeat") + 1] = "3"
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"measuring {preset} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ddp(args: argparse.Namespace, pairs: Path) -> dict[str, Any]:
    """lite's recipe, 1 process vs 2 processes (1 thread each) on the CPU."""
    total = args.warmup + args.steps
    cfg = resolve_config(
        None, {**settings("lite", False, total, 1), "data.cache_dir": str(args.work / "cache")}
    )
    config = args.work / "ddp.toml"
    config.write_text(config_to_toml(cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    times = {}
    for nproc in (1, 2):
        run = args.work / f"run_ddp{nproc}"
        if run.exists():
            import shutil

            shutil.rmtree(run)
        command = [
            sys.executable,
            "-m",
            "training.cli",
            "-q",
            "--pairs",
            str(pairs),
            "--out",
            str(run),
            "--config",
            str(config),
            "--nproc",
            str(nproc),
        ]
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"DDP run with {nproc} process(es) failed:\n{proc.stderr[-3000:]}")
        lines = read_metrics(run / "metrics.jsonl", "train")[args.warmup :]
        times[nproc] = float(np.min([r["seconds"] + r["data_seconds"] for r in lines]))
    return {
        "batch": cfg.data.batch_size,
        "crop": cfg.data.crop_size,
        "step_s_1proc": times[1],
        "step_s_2proc": times[2],
        "speedup": times[1] / times[2],
        "efficiency": times[1] / times[2] / 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=Path("/tmp/remaster_ablation"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/train.json")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        result = measure(
            args.measure, args.pairs, args.work, args.warmup, args.steps, args.threads, args.repeat
        )
        print(json.dumps(result))
        return
    started = time.monotonic()
    pairs = args.pairs
    if pairs is None:
        from ablation import build_reel, build_synth_pairs

        pairs = args.work / "PAIRS"
        if not (pairs / "align.json").is_file():
            build_synth_pairs(build_reel(args.work / "reel"), pairs)
    presets = [child(p, args, pairs) for p in ("lite", "paper")]
    ddp_result = ddp(args, pairs)
    report = {
        "bench": "train",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "pairs": str(pairs),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "presets": presets,
        "ddp_cpu": ddp_result,
        "total_seconds": time.monotonic() - started,
        "load_average_after": os.getloadavg(),
    }
    write_json_atomic(args.out, report)
    head = f"{'preset':7s} {'device':22s} {'batch':>5s} {'crop':>4s} {'fwd+bwd s':>9s} {'+adam s':>8s} {'step s':>7s}"
    print(head + f" {'steps/s':>7s} {'step/fwd+bwd':>12s} {'data wait s':>11s} {'peak MB':>8s}")
    for r in presets:
        print(
            f"{r['preset']:7s} {r['device'][:22]:22s} {r['batch']:5d} {r['crop']:4d} {r['fwd_bwd_s']:9.3f} "
            f"{r['fwd_bwd_adam_s']:8.3f} {r['trainer_step_s']:7.3f} {r['steps_per_s']:7.2f} "
            f"{r['step_vs_fwd_bwd']:12.3f} {r['trainer_data_wait_s']:11.4f} {r['peak_memory_mb']:8.0f}"
        )
    d = ddp_result
    print(
        f"DDP on the CPU, lite batch {d['batch']}: 1 process {d['step_s_1proc']:.3f} s/step, 2 processes "
        f"{d['step_s_2proc']:.3f} s/step: speed-up {d['speedup']:.2f}, efficiency {d['efficiency']:.0%}"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
