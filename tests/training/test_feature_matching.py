"""Stage 2 without downloaded weights: D's feature matching as the perceptual term; the run writes the
film's grain profile (RUN/grain.json), and the best weights what of it their output already carries."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from remaster_core.grain import read_profile
from remaster_core.grain.profile import GrainProfile, grain_deficit
from training.checkpoint import load_checkpoint
from training.config import TrainConfig
from training.discriminator import Discriminator, DiscriminatorConfig
from training.logs import read_metrics
from training.losses import feature_matching_loss
from training.output_grain import OUTPUT_GRAIN_KEY
from training.trainer import train


def test_d_features_are_its_activations_and_the_loss_is_zero_on_the_film_itself() -> None:
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(base_channels=4))
    x = torch.rand(2, 3, 32, 32)
    feats = d.features(x)
    assert len(feats) == 9 and feats[-1].shape == (2, 64, 2, 2)
    assert torch.allclose(d.body[-1](feats[-1]), d(x))  # the scores are the last layer on the last feature
    assert feature_matching_loss(feats, d.features(x)).item() == 0.0
    y = x.clone().requires_grad_(True)
    loss = feature_matching_loss(d.features(y), [f.detach() for f in d.features(x + 0.1)])
    loss.backward()
    assert loss.item() > 0 and y.grad is not None and y.grad.abs().sum() > 0


def test_masked_out_pixels_do_not_count() -> None:
    torch.manual_seed(1)
    d = Discriminator(DiscriminatorConfig(base_channels=4))
    x = torch.rand(1, 3, 64, 64)
    other = x.clone()
    other[..., :, 32:] = torch.rand(1, 3, 64, 32)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :, :8] = 1.0  # far from the changed half at every scale but the coarsest
    whole = feature_matching_loss(d.features(other), d.features(x))
    masked = feature_matching_loss(d.features(other), d.features(x), mask)
    assert masked.item() < 0.5 * whole.item()


def test_stage_2_runs_without_vgg_weights_on_feature_matching(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    cfg = tiny_config(steps=4, stages__gan_start_step=2, checkpoint__every=2)
    assert not cfg.stages.vgg_weights
    train(cfg, pairs_dir, tmp_path / "RUN")
    lines = read_metrics(tmp_path / "RUN/metrics.jsonl", "train")
    assert [r["stage"] for r in lines] == ["fft", "fft", "gan", "gan"]
    assert all(math.isfinite(r[k]) for r in lines[2:] for k in ("adversarial", "feature_matching", "loss_d"))
    assert all("perceptual" not in r or r["perceptual"] is None for r in lines)
    scale = 1.0 / cfg.data.crop_size  # the paper's weights against its loss's scale: 1 / sqrt(H W)
    assert lines[2]["loss"] == pytest.approx(
        lines[2]["fft"] + scale * (3.0 * lines[2]["adversarial"] + 1.0 * lines[2]["feature_matching"]),
        rel=1e-5,
    )
    profile = read_profile(tmp_path / "RUN/grain.json")  # the run measured its film's grain
    assert profile.frames >= 1
    # and what of it the best weights' output already carries, in best.safetensors, on the same tiles
    best = load_checkpoint(tmp_path / "RUN/checkpoints/best.safetensors")
    carried = GrainProfile.from_dict(best.extra[OUTPUT_GRAIN_KEY], "best")
    assert carried.tile == profile.tile and carried.frames >= 1
    deficit = grain_deficit(profile, carried)  # what export embeds
    assert all(0.0 <= d <= f for d, f in zip(deficit.rms, profile.rms, strict=True))
