"""The train state and the stages: a step checkpoint written and read back by ``TrainState`` alone
(every field, the RNG states), best.safetensors refused as a resume point, the stages' losses as values,
and a run resumed exactly at the GAN switch (its checkpoint holds no D yet) continuing the same curve."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from training.checkpoint import CheckpointError, load_checkpoint
from training.config import TrainConfig, resolve_config
from training.data import scan_pairs
from training.discriminator import build_discriminator
from training.logs import read_metrics
from training.losses import fft_l1_loss
from training.stages import GanStage, gan_loss, paper_scale, stage1_loss
from training.state import EMA_PREFIX, GENERATOR, RunRecord, StepRecord, TrainState
from training.trainer import train
from training.vgg import VGG19Features


def _state(cfg: TrainConfig, pairs: Path) -> TrainState:
    return TrainState.new(cfg, RunRecord.of(cfg, scan_pairs(pairs, min_size=32)), torch.device("cpu"))


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(2, 1, 32, 32)
    mask[:, :, :, :5] = 0
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g), mask


def test_a_step_checkpoint_round_trips_every_field(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    cfg = tiny_config(stages__gan_start_step=2)
    state = _state(cfg, pairs_dir)
    x, y, m = _batch(0)
    fft_l1_loss(state.generator(x), y, m).backward()
    state.opt_g.step()
    state.add_discriminator()
    state.ema_updates, state.bad_streak, state.skipped, state.step = 1, 2, 3, 4
    state.best_psnr, state.best_step, state.input_psnr = 25.5, 3, 20.25
    path = tmp_path / "step.safetensors"
    torch.manual_seed(7)
    np.random.seed(8)
    random.seed(9)
    state.save(path)
    expected = (torch.rand(3), np.random.rand(3), random.random())

    ckpt = load_checkpoint(path)
    assert [f.name for f in dataclasses.fields(StepRecord)] == list(ckpt.extra)  # the keys, declared once
    assert ckpt.extra["samples_drawn"] == 4 * cfg.data.batch_size and ckpt.stage == "gan"
    assert set(ckpt.optimizers) == {GENERATOR, "discriminator"}
    assert any(k.startswith(EMA_PREFIX) for k in ckpt.extra_tensors)

    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    back = _state(cfg, pairs_dir)
    back.load(path)
    after = (torch.rand(3), np.random.rand(3), random.random())  # the RNG states came back
    assert (
        torch.equal(after[0], expected[0])
        and np.array_equal(after[1], expected[1])
        and after[2] == expected[2]
    )
    for name in ("step", "ema_updates", "bad_streak", "skipped", "best_psnr", "best_step", "input_psnr"):
        assert getattr(back, name) == getattr(state, name), name
    assert back.discriminator is not None and state.discriminator is not None
    for a, b in [
        (state.generator, back.generator),
        (state.ema, back.ema),
        (state.discriminator, back.discriminator),
    ]:
        assert a is not None and b is not None
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    saved_opt, loaded_opt = state.opt_g.state_dict(), back.opt_g.state_dict()
    assert saved_opt["param_groups"] == loaded_opt["param_groups"]
    assert saved_opt["state"].keys() == loaded_opt["state"].keys()
    for index, values in saved_opt["state"].items():
        assert values.keys() == loaded_opt["state"][index].keys()
        assert all(torch.equal(v, loaded_opt["state"][index][k]) for k, v in values.items())


def test_best_is_not_a_resume_point(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    state = _state(tiny_config(), pairs_dir)
    path = tmp_path / "best.safetensors"
    state.save_best(path, 21.0)
    assert load_checkpoint(path).extra["weights"] == "ema"
    with pytest.raises(CheckpointError, match="not a resumable step checkpoint"):
        _state(tiny_config(), pairs_dir).load(path)


def test_the_stages_losses_are_values(tiny_config: Callable[..., TrainConfig]) -> None:
    cfg = tiny_config()
    x, y, m = _batch(1)
    out = x.clone().requires_grad_(True)
    one = stage1_loss(out, y, m, cfg.stages)
    assert one.total is one.reconstruction and list(one.terms()) == ["loss", "fft"]
    assert one.adversarial is None and one.perceptual is None
    d = build_discriminator(cfg.model.discriminator_config())
    gan = gan_loss(out, y, m, cfg.stages, GanStage(d, d, VGG19Features.random(0)))
    assert list(gan.terms()) == ["loss", "fft", "adversarial", "perceptual"]
    assert gan.adversarial is not None and gan.perceptual is not None
    # the paper's weights, read against the paper's (unnormalised) FFT: divided by sqrt(H W)
    scale = 1.0 / math.sqrt(out.shape[-2] * out.shape[-1])
    assert paper_scale(out, cfg.stages) == pytest.approx(1.0 / scale)
    weighted = 1.0 * gan.reconstruction + scale * (3.0 * gan.adversarial + 0.5 * gan.perceptual)
    torch.testing.assert_close(gan.total, weighted)
    gan.total.backward()
    assert out.grad is not None and all(p.grad is None for p in d.parameters())  # G's loss leaves D alone
    assert all(p.requires_grad for p in d.parameters())
    with pytest.raises(dataclasses.FrozenInstanceError):
        gan.total = gan.reconstruction  # type: ignore[misc]


def test_resuming_at_the_gan_switch_continues_the_same_curve(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    vgg = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in VGG19Features.random(0).features.state_dict().items()}, vgg)
    settings = {"stages__gan_start_step": 2, "stages__vgg_weights": str(vgg), "checkpoint__every": 2}
    train(tiny_config(steps=4, **settings), pairs_dir, tmp_path / "straight")
    train(tiny_config(steps=2, **settings), pairs_dir, tmp_path / "split")
    assert load_checkpoint(tmp_path / "split/checkpoints/step_00000002.safetensors").discriminator is None
    more = resolve_config(tmp_path / "split/config.toml", {"steps": 4})
    train(more, pairs_dir, tmp_path / "split", resume=True)  # D starts before the loop's first step

    def losses(run: str) -> list[tuple[int, str, float, float | None]]:
        lines = read_metrics(tmp_path / run / "metrics.jsonl", "train")
        return [(r["step"], r["stage"], r["loss"], r.get("loss_d")) for r in lines]

    assert losses("split") == losses("straight")
    assert [s for _, s, _, _ in losses("split")] == ["fft", "fft", "gan", "gan"]
    a = load_checkpoint(tmp_path / "straight/checkpoints/step_00000004.safetensors")
    b = load_checkpoint(tmp_path / "split/checkpoints/step_00000004.safetensors")
    assert a.discriminator is not None and b.discriminator is not None
    assert all(torch.equal(v, b.discriminator[k]) for k, v in a.discriminator.items())
