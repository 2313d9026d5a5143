"""G's colour path started at the closed-form colour fit: exact algebra, and what a new run does with it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.grade_fit import TERMS, ColourFit, fit_colour
from tests.training.conftest import make_pairs
from training.checkpoint import load_checkpoint
from training.colour_init import colour_path_parameters, set_colour_path
from training.config import ConfigError, TrainConfig
from training.data import scan_pairs
from training.model import PRESETS, build_generator
from training.trainer import train

# the quadratic colour path (the presets carry the fixed grade path instead since issue 17)
QUADRATIC_LITE = dataclasses.replace(
    PRESETS["lite"], colour_path=True, grade_path=False, mean_lock=0, wide_lock=0
)
QUADRATIC = {
    "model__colour_path": True,
    "model__grade_path": False,
    "model__mean_lock": 0,
    "model__wide_lock": 0,
}


def _random_fit(seed: int) -> ColourFit:
    rng = np.random.default_rng(seed)
    coefficients = rng.normal(0.0, 0.3, (len(TERMS), 3))
    coefficients[1:4] += np.eye(3)
    return ColourFit(coefficients, 0, 0, 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_initialised_g_is_exactly_the_colour_fit(seed: int) -> None:
    fit = _random_fit(seed)
    g = build_generator(QUADRATIC_LITE).eval()
    set_colour_path([g], fit)
    x = np.random.default_rng(10 + seed).random((1, 3, 37, 53)).astype(np.float32)
    with torch.no_grad():
        out = g(torch.from_numpy(x))[0].numpy().transpose(1, 2, 0)
    expected = fit.apply(x[0].transpose(1, 2, 0))
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_identity_fit_gives_a_zero_colour_path() -> None:
    coefficients = np.zeros((len(TERMS), 3))
    coefficients[1:4] = np.eye(3)
    weight, bias = colour_path_parameters(coefficients)
    assert np.abs(weight).max() < 1e-12 and np.abs(bias).max() < 1e-12
    with pytest.raises(ValueError, match="shape"):
        colour_path_parameters(np.zeros((9, 3)))


def test_a_generator_without_colour_path_is_refused() -> None:
    g = build_generator(dataclasses.replace(PRESETS["lite"], colour_path=False))
    with pytest.raises(ValueError, match="no colour path"):
        set_colour_path([g], _random_fit(0))


def _start_of_run(pairs: Path, run: Path, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """Train with a learning rate of ~0 and return the generator weights: the run's starting weights."""
    train(cfg, pairs, run)
    return load_checkpoint(run / "checkpoints/step_00000003.safetensors").generator


FROZEN = {"optim__lr": 1e-12, "optim__warmup_steps": 0, "steps": 3, **QUADRATIC}


def test_a_new_run_starts_at_the_fit_of_its_training_frames(
    tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    # 5 shots over 4 photographs: the validation shot (the last) films the first one's photograph,
    # so the training colours cover it and the fit beats no correction there
    pairs = make_pairs(tmp_path / "PAIRS", shots=5, frames=2)
    index = scan_pairs(pairs, min_size=32)
    fit = fit_colour([(f.input, f.target, f.mask) for f in index.train], max_frames=200)
    weight, bias = colour_path_parameters(fit.coefficients)
    assert np.abs(weight).max() > 0.01  # the fixture's grade is far from the identity
    state = _start_of_run(pairs, tmp_path / "fit", tiny_config(**FROZEN))
    np.testing.assert_allclose(state["colour.bias"].numpy(), bias, atol=1e-6)
    np.testing.assert_allclose(state["colour.weight"].numpy()[:, :, 0, 0], weight, atol=1e-6)
    zero = _start_of_run(pairs, tmp_path / "zero", tiny_config(model__colour_init="zero", **FROZEN))
    assert (
        np.abs(zero["colour.weight"].numpy()).max() < 1e-6
        and np.abs(zero["colour.bias"].numpy()).max() < 1e-6
    )


def test_a_fit_worse_than_no_correction_on_the_validation_shot_is_not_used(
    pairs_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig], caplog: pytest.LogCaptureFixture
) -> None:
    # pairs_dir trains on one photograph (an astronaut) and validates on another (coffee): the quadratic
    # fit of the first extrapolates badly to the second's colours
    with caplog.at_level(logging.INFO, logger="remaster.train"):
        state = _start_of_run(pairs_dir, tmp_path / "run", tiny_config(**FROZEN))
    assert "the colour path starts at zero" in caplog.text
    assert (
        np.abs(state["colour.weight"].numpy()).max() < 1e-6
        and np.abs(state["colour.bias"].numpy()).max() < 1e-6
    )


def test_colour_init_setting_is_checked(tiny_config: Callable[..., TrainConfig]) -> None:
    with pytest.raises(ConfigError, match="model.colour_init"):
        tiny_config(model__colour_init="least-squares")
    assert tiny_config().model.colour_init == "fit"
