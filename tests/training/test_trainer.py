"""The trainer, run for real on a tiny G and a small pairs folder: the run folder it writes, the learning
rate schedule, EMA in best.safetensors, a resume after SIGKILL that continues the same curve, NaN steps
skipped then stopped, the GAN stage, out of memory, refused checkpoints, and the CLI around it."""

from __future__ import annotations

import itertools
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from remaster_core.errors import InputError
from remaster_core.io.images import read_image, write_image
from tests.training.conftest import make_pairs, tiny_settings
from training.checkpoint import CheckpointError, load_checkpoint, load_generator
from training.config import ConfigError, TrainConfig, config_to_toml, resolve_config
from training.logs import read_metrics
from training.run_dir import best_checkpoint, step_checkpoints
from training.schedule import ema_decay, learning_rate, stage_name
from training.trainer import TrainingError, train
from training.vgg import VGG19Features

ROOT = Path(__file__).resolve().parents[2]


def _losses(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(run / "metrics.jsonl", "train")]


def test_learning_rate_schedule_and_stages(tiny_config: Callable[..., TrainConfig]) -> None:
    cfg = tiny_config(steps=100, optim__warmup_steps=10, optim__min_lr_ratio=0.1)
    lrs = [learning_rate(t, cfg) for t in range(100)]
    assert lrs[0] == pytest.approx(2e-4) and lrs[9] == pytest.approx(2e-3)  # linear warm-up
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))  # cosine decay
    assert lrs[-1] == pytest.approx(2e-4)  # down to min_lr_ratio
    step = tiny_config(
        steps=100, optim__warmup_steps=0, optim__schedule="step", optim__step_every=30, optim__step_gamma=0.5
    )
    assert [learning_rate(t, step) for t in (0, 29, 30, 60, 99)] == pytest.approx(
        [2e-3, 2e-3, 1e-3, 5e-4, 2.5e-4]
    )
    gan = tiny_config(steps=100, stages__gan_start_step=60, optim__warmup_steps=0, optim__schedule="constant")
    assert [stage_name(t, gan) for t in (0, 59, 60, 99)] == ["fft", "fft", "gan", "gan"]
    assert learning_rate(60, gan, 1e-4) == pytest.approx(1e-4)
    assert stage_name(0, tiny_config(stages__loss="l1")) == "l1"
    assert ema_decay(1, 0.999) == pytest.approx(2 / 11) and ema_decay(100_000, 0.999) == 0.999


def test_a_run_writes_its_folder_and_best_holds_the_ema(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    run = tmp_path / "RUN"
    cfg = tiny_config(steps=6, runtime__tensorboard=True)
    result = train(cfg, pairs_dir, run)
    assert result.step == 6 and result.skipped_steps == 0
    assert [p.name for p in step_checkpoints(run)] == [
        "step_00000003.safetensors",
        "step_00000006.safetensors",
    ]
    assert (run / "config.toml").is_file() and any((run / "tb").iterdir())
    assert resolve_config(run / "config.toml") == cfg
    train_lines = read_metrics(run / "metrics.jsonl", "train")
    assert [r["step"] for r in train_lines] == list(range(1, 7))
    assert all(math.isfinite(r["loss"]) and r["stage"] == "fft" and r["lr"] > 0 for r in train_lines)
    val = read_metrics(run / "metrics.jsonl", "val")
    assert [r["step"] for r in val] == [3, 6] and all(r["psnr"] > 10 for r in val)
    previews = sorted((run / "previews").glob("*.png"))
    assert len(previews) == 2
    panel, _ = read_image(previews[-1])
    assert panel.shape == (48, 3 * 48, 3)
    # best is a real checkpoint of the EMA weights, loadable as export will load it
    best = best_checkpoint(run)
    meta = load_checkpoint(best)
    assert meta.extra["weights"] == "ema" and meta.extra["config_hash"] and meta.step == result.best_step
    assert meta.extra["val_psnr"] == pytest.approx(result.best_psnr)
    last = load_checkpoint(run / "checkpoints/step_00000006.safetensors")
    ema = {k.removeprefix("ema."): v for k, v in last.extra_tensors.items() if k.startswith("ema.")}
    generator = load_generator(best, expect_config=cfg.model.generator_config())
    if result.best_step == 6:
        assert all(torch.equal(v, ema[k]) for k, v in generator.state_dict().items())
    assert not all(torch.equal(v, last.generator[k]) for k, v in ema.items())  # EMA differs from raw
    with pytest.raises(InputError, match="already holds a training run; pass --resume"):
        train(cfg, pairs_dir, run)


def test_training_improves_on_the_input(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    result = train(
        tiny_config(steps=30, validation__every=30, checkpoint__every=30), pairs_dir, tmp_path / "RUN"
    )
    val = read_metrics(tmp_path / "RUN/metrics.jsonl", "val")[-1]
    assert result.best_psnr is not None and val["psnr"] > val["input_psnr"] + 0.5
    losses = [loss for _, loss in _losses(tmp_path / "RUN")]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def _cli(args: list[str], **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "training.cli", "-q", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,
    )  # fmt: skip


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_same_curve(pairs_dir: Path, tmp_path: Path) -> None:
    settings = tiny_settings(steps=60, checkpoint__every=10, validation__every=20)
    straight = tmp_path / "straight"
    train(resolve_config(None, settings), pairs_dir, straight)
    config = tmp_path / "tiny.toml"
    config.write_text(config_to_toml(resolve_config(None, settings)))
    run = tmp_path / "killed"
    args = ["--pairs", str(pairs_dir), "--out", str(run), "--config", str(config)]
    proc = _cli(args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_losses(run)) >= 25:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    steps_at_kill = [s for s, _ in _losses(run)]
    assert 25 <= steps_at_kill[-1] < 60 and not (run / "checkpoints/step_00000060.safetensors").exists()
    resumed = _cli(["--pairs", str(pairs_dir), "--out", str(run), "--resume"])
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    events = [r["event"] for r in read_metrics(run / "metrics.jsonl", "event")]
    assert events == ["start", "resume"]
    assert _losses(run) == _losses(straight)  # every step's loss, bit for bit
    a = load_checkpoint(straight / "checkpoints/step_00000060.safetensors")
    b = load_checkpoint(run / "checkpoints/step_00000060.safetensors")
    assert all(torch.equal(a.generator[k], b.generator[k]) for k in a.generator)
    assert all(torch.equal(a.extra_tensors[k], b.extra_tensors[k]) for k in a.extra_tensors)
    assert json.dumps(a.optimizers, default=str) == json.dumps(b.optimizers, default=str)


def test_nan_steps_are_skipped_then_stop_the_run(
    tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    root = make_pairs(tmp_path / "P", frames=4, size=(48, 48), input_ext=".exr")
    poisoned = root / "shot000/input/frame.000011.exr"
    write_image(poisoned, np.full((48, 48, 3), np.nan, np.float32))
    result = train(tiny_config(steps=8, data__batch_size=1, runtime__max_bad_steps=3), root, tmp_path / "RUN")
    lines = read_metrics(tmp_path / "RUN/metrics.jsonl", "train")
    skipped = [r["step"] for r in lines if r["skipped"]]
    assert result.skipped_steps == len(skipped) == 2  # 8 samples over 4 frames: frame 11 twice
    assert all(r["loss"] is None for r in lines if r["skipped"])
    generator = load_generator(tmp_path / "RUN/checkpoints/step_00000008.safetensors")
    assert all(torch.isfinite(p).all() for p in generator.parameters())
    for n in (10, 12, 13):
        write_image(root / f"shot000/input/frame.{n:06d}.exr", np.full((48, 48, 3), np.inf, np.float32))
    with pytest.raises(TrainingError, match="3 steps in a row had a NaN or Inf loss"):
        train(tiny_config(steps=8, runtime__max_bad_steps=3), root, tmp_path / "RUN2")


def test_gan_stage_trains_d_and_resumes(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    vgg = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in VGG19Features.random(0).features.state_dict().items()}, vgg)
    cfg = tiny_config(steps=4, stages__gan_start_step=2, stages__vgg_weights=str(vgg), checkpoint__every=2)
    train(cfg, pairs_dir, tmp_path / "RUN")
    lines = read_metrics(tmp_path / "RUN/metrics.jsonl", "train")
    assert [r["stage"] for r in lines] == ["fft", "fft", "gan", "gan"]
    assert all(
        math.isfinite(r[k]) for r in lines[2:] for k in ("adversarial", "perceptual", "loss_d", "grad_norm_d")
    )
    scale = 1.0 / cfg.data.crop_size  # the paper's weights against its loss's scale: 1 / sqrt(H W)
    assert lines[2]["loss"] == pytest.approx(
        lines[2]["fft"] + scale * (3.0 * lines[2]["adversarial"] + 0.5 * lines[2]["perceptual"]), rel=1e-5
    )
    ckpt = load_checkpoint(tmp_path / "RUN/checkpoints/step_00000004.safetensors")
    assert (
        ckpt.stage == "gan"
        and ckpt.discriminator is not None
        and set(ckpt.optimizers) == {"generator", "discriminator"}
    )
    more = resolve_config(tmp_path / "RUN/config.toml", {"steps": 6})
    train(more, pairs_dir, tmp_path / "RUN", resume=True)
    assert [r["step"] for r in read_metrics(tmp_path / "RUN/metrics.jsonl", "train")] == list(range(1, 7))


def test_bad_checkpoints_and_changed_settings_are_refused_on_resume(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    run = tmp_path / "RUN"
    cfg = tiny_config(steps=3)
    train(cfg, pairs_dir, run)
    with pytest.raises(ConfigError, match=r"trained with other settings \(optim.lr: 0.002 -> 0.001\)"):
        train(tiny_config(steps=6, optim__lr=1e-3), pairs_dir, run, resume=True)
    with pytest.raises(CheckpointError, match="trained with another generator config"):
        train(tiny_config(steps=6, model__width=12), pairs_dir, run, resume=True)
    last = run / "checkpoints/step_00000003.safetensors"
    data = bytearray(last.read_bytes())
    data[-3] ^= 0xFF
    last.write_bytes(bytes(data))
    with pytest.raises(
        CheckpointError, match=r"step_00000003.safetensors: its tensors do not match the checksum"
    ):
        train(tiny_config(steps=6), pairs_dir, run, resume=True)
    torch.save({"generator": torch.zeros(3)}, last)
    with pytest.raises(CheckpointError, match=r"refusing .*step_00000003.safetensors: it is a pickle"):
        train(tiny_config(steps=6), pairs_dir, run, resume=True)


def _limit_memory() -> None:
    limit = 1600 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.slow
@pytest.mark.skipif(
    torch.version.cuda is not None, reason="a CUDA build of torch maps more address space than the cap allows"
)
def test_out_of_memory_names_the_knobs(pairs_dir: Path, tmp_path: Path) -> None:
    """A real allocation failure: the process's address space is capped, and a paper-size step does
    not fit."""
    config = tmp_path / "big.toml"
    config.write_text(config_to_toml(resolve_config(None, {**tiny_settings(), "model.preset": "paper", "model.width": None,
        "model.growth": None, "model.dense_layers": None, "model.num_dcus": None, "model.space_to_depth": None,
        "data.crop_size": 64, "data.batch_size": 32})))  # fmt: skip
    proc = _cli(
        ["--pairs", str(pairs_dir), "--out", str(tmp_path / "RUN"), "--config", str(config)],
        preexec_fn=_limit_memory,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "out of memory on cpu during a training step" in err
    assert "lower --batch-size (now 32) or --crop-size (now 64), use --preset lite (now paper)" in err


def test_cli_entry_points(pairs_dir: Path, tmp_path: Path) -> None:
    code = (
        "import sys; import remaster_core.cli.train as t; import remaster_core.cli as c;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # declaring the verb does not import torch
    code = (
        "import sys, argparse; sys.modules['torch'] = None\n"
        "from remaster_core.cli.train import run\n"
        "try:\n    run(argparse.Namespace())\nexcept Exception as e:\n    print(type(e).__name__, e)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "TrainExtraMissing" in out.stdout and "install the train extra" in out.stdout
    from training.cli import main

    assert (
        main(
            [
                "--pairs",
                str(tmp_path / "none"),
                "--out",
                str(tmp_path / "R"),
                "--threads",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    assert (
        main(["--pairs", str(pairs_dir), "--out", str(tmp_path / "R"), "--nproc", "3", "--batch-size", "4"])
        == 2
    )
