"""The synthetic film stock: its level response, and stocks drawn from a seed."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from remaster_core.synth.scenes import GrainParams, add_grain, drawn_stock, grain_level_response


def test_the_presets_stock_keeps_its_level_response() -> None:
    lum = np.linspace(0.0, 1.0, 101, dtype=np.float32)
    expected = 0.4 + 2.4 * lum * (1.0 - lum)
    assert np.allclose(grain_level_response(lum, GrainParams()), expected, atol=1e-6)


def test_a_drawn_level_response_peaks_where_asked_and_falls_to_its_floor() -> None:
    stock = GrainParams(floor=0.3, peak=0.3)
    response = grain_level_response(np.array([0.0, 0.3, 1.0], np.float32), stock)
    # 1 at the peak; at white, the level furthest from it, the floor; black lies 0.3 of 0.7 away
    assert np.allclose(response, [0.3 + 0.7 * (1 - (0.3 / 0.7) ** 2), 1.0, 0.3], atol=1e-6)
    flat = grain_level_response(np.linspace(0, 1, 11, dtype=np.float32), GrainParams(floor=1.0, peak=0.6))
    assert np.allclose(flat, 1.0)


def test_grain_follows_the_drawn_level_response() -> None:
    """White noise's std measured on flat patches at three levels, against amplitude x response."""
    stock = GrainParams(amplitude=0.02, size=0.5, colour=0.3, floor=0.25, peak=0.65)
    levels = np.array([0.2, 0.65, 0.9], np.float32)
    rng = np.random.default_rng(3)
    for level, expected in zip(levels, stock.amplitude * grain_level_response(levels, stock), strict=True):
        flat = np.full((256, 256, 3), level, np.float32)
        std = float(np.std(add_grain(flat, rng, stock) - flat))
        assert abs(std / expected - 1.0) < 0.05, (level, std, expected)


def test_drawn_stocks_are_the_seeds_and_span_their_ranges() -> None:
    stocks = [drawn_stock(seed) for seed in range(200)]
    assert drawn_stock(7) == stocks[7] and len({asdict(s)["amplitude"] for s in stocks}) > 150
    for name, (low, high) in {
        "amplitude": (0.005, 0.03), "size": (0.4, 1.2), "colour": (0.1, 0.6), "floor": (0.2, 1.0),
        "peak": (0.3, 0.7),
    }.items():  # fmt: skip
        values = np.array([getattr(s, name) for s in stocks])
        assert (
            low <= values.min() < low + 0.1 * (high - low)
            and high - 0.1 * (high - low) < values.max() <= high
        )
