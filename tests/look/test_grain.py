"""Grain amplitude and noise power spectrum (remaster_core.look.grain) against analytic values.

Pictures: ``smooth_picture`` (every tile flat, its own residual RMS about 0.0002, i.e. 1e-4 of the
grain power below) plus grain. Tolerances: the amplitude pools 4 frames x 36 tiles x 4096 px per channel
(a relative standard error of the RMS about 0.1%), so 2% covers it and the picture's own residual; a
band's power comes from about 75 independent spectrum samples per tile in the coarsest band (rings
4-8 bins wide, Hann-correlated), about 1% over 144 tiles and 1.5% for a ratio of two, plus the
window's leakage across band edges (a few %, larger where the spectrum falls steeply): 8%.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from remaster_core.look import LookParams, score_sequences
from remaster_core.look.grain import GrainResult
from tests.look import SIZE, coloured_grain, gaussian_kernel, smooth_picture, white_grain

FRAMES = 4


def _grain(render_grain: list[np.ndarray], reference_grain: list[np.ndarray]) -> GrainResult:
    pic = smooth_picture()
    report = score_sequences([pic + g for g in render_grain], [pic + g for g in reference_grain])
    json.dumps(report.to_dict(), allow_nan=False)
    return report.grain


def _transfer(kernel: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Frequency response (real: the kernel is symmetric) of a 1-D kernel at frequencies ``f`` (cycles/px)."""
    n = np.arange(len(kernel)) - (len(kernel) - 1) / 2
    return np.cos(2 * np.pi * f[:, None] * n[None, :]) @ kernel


def test_white_grain_amplitude_and_every_band_follow_the_sigma_ratio() -> None:
    rng = np.random.default_rng(0)
    grain = _grain(
        [white_grain(rng, 0.03) for _ in range(FRAMES)], [white_grain(rng, 0.02) for _ in range(FRAMES)]
    )
    # measured on the differences of consecutive frames: the first frame has none; a tile at the border
    # is left out where the (sub-pixel) motion brings it from outside the frame
    assert grain.reason is None and grain.temporal and grain.tiles == (FRAMES - 1) * 36
    assert (FRAMES - 1) * 16 <= grain.flat_tiles <= grain.tiles
    assert grain.amplitude.ratio == pytest.approx(1.5, rel=0.02)
    for channel in grain.channels:
        assert channel.ratio == pytest.approx(1.5, rel=0.02)
    assert [(b.low, b.high) for b in grain.bands] == [(0.25, 0.5), (0.125, 0.25), (0.0625, 0.125)]
    for band in grain.bands:
        assert band.power.ratio == pytest.approx(1.5**2, rel=0.08)  # power: the square of the RMS ratio
    measured = [lv for lv in grain.levels if lv.amplitude.ratio is not None]
    assert [(lv.low, lv.high) for lv in measured] == [(0.2, 0.4), (0.4, 0.6), (0.6, 0.8)]
    for level in measured:
        assert level.amplitude.ratio == pytest.approx(1.5, rel=0.02)
    for empty in (grain.levels[0], grain.levels[-1]):  # nothing this dark or bright in the picture
        assert (
            empty.pixels == 0
            and empty.amplitude.ratio is None
            and "only 0 flat pixels" in str(empty.amplitude.reason)
        )


def test_coloured_grain_band_ratios_follow_its_filter() -> None:
    """Render grain: white noise (std 0.05) through a Gaussian of sigma 0.7 px; reference: white (0.02).

    Expected per band: the power spectra integrated over the band, both through the module's high-pass
    ``1 - exp(-2 pi^2 s^2 |f|^2)`` (s = smooth_sigma), the render's also through the kernel's own
    (discrete) response ``H(fx)^2 H(fy)^2``: ``0.05^2 sum H^2 HP^2 / (0.02^2 sum HP^2)`` over the band.
    The amplitude ratio is the square root of the same sum over the whole spectrum.
    """
    rng = np.random.default_rng(1)
    grain = _grain(
        [coloured_grain(rng, 0.05, 0.7) for _ in range(FRAMES)],
        [white_grain(rng, 0.02) for _ in range(FRAMES)],
    )
    f = np.fft.fftfreq(512)
    h = _transfer(gaussian_kernel(0.7), f) ** 2
    radius = np.hypot(f[:, None], f[None, :])
    highpass = (1 - np.exp(-2 * np.pi**2 * LookParams().smooth_sigma ** 2 * radius**2)) ** 2
    render_psd = 0.05**2 * np.outer(h, h) * highpass
    reference_psd = 0.02**2 * highpass
    expected = []
    for band in grain.bands:
        inside = (radius > band.low) & (radius <= band.high)
        expected.append(render_psd[inside].sum() / reference_psd[inside].sum())
        assert band.power.ratio == pytest.approx(expected[-1], rel=0.08), (band.low, band.high)
    assert expected[0] < 0.7 and 2.5 < expected[1] < expected[2]  # blurred grain: weak fine, strong coarse
    assert grain.amplitude.ratio == pytest.approx(np.sqrt(render_psd.sum() / reference_psd.sum()), rel=0.02)


def test_grain_that_differs_per_channel_is_measured_per_channel() -> None:
    rng = np.random.default_rng(2)
    sigmas = (0.01, 0.02, 0.04)
    grain = _grain(
        [white_grain(rng, sigmas) for _ in range(FRAMES)], [white_grain(rng, 0.02) for _ in range(FRAMES)]
    )
    for channel, s in zip(grain.channels, sigmas, strict=True):
        assert channel.ratio == pytest.approx(s / 0.02, rel=0.02)
    for band in grain.bands:
        for channel, s in zip(band.channels, sigmas, strict=True):
            assert channel.ratio == pytest.approx((s / 0.02) ** 2, rel=0.08)
        # pooled over channels: the power sums
        assert band.power.ratio == pytest.approx(sum(s**2 for s in sigmas) / (3 * 0.02**2), rel=0.08)
    pooled = np.sqrt(np.mean(np.square(sigmas))) / 0.02
    assert grain.amplitude.ratio == pytest.approx(pooled, rel=0.02)


def test_a_grainless_reference_gives_no_ratio_but_a_reason_and_the_renders_value() -> None:
    rng = np.random.default_rng(3)
    grain = _grain([white_grain(rng, 0.02) for _ in range(2)], [np.zeros((SIZE, SIZE, 3), np.float32)] * 2)
    assert grain.reason is None  # the flat areas are there; the reference has no grain in them
    assert grain.amplitude.ratio is None and "no measurable grain" in str(grain.amplitude.reason)
    assert grain.amplitude.reference is not None and grain.amplitude.reference < LookParams().grain_floor
    # white noise through the high-pass 1 - G (G a Gaussian of sigma s, unit DC gain) keeps the variance
    # 1 - 2 int G + int G^2 = 1 - 2 / (2 pi s^2) + 1 / (4 pi s^2) = 1 - 3 / (4 pi s^2)
    s = LookParams().smooth_sigma
    assert grain.amplitude.render == pytest.approx(0.02 * np.sqrt(1 - 3 / (4 * np.pi * s**2)), rel=0.02)
    for band in grain.bands:
        assert band.power.ratio is None and band.power.render is not None and band.power.render > 0
    for level in grain.levels:
        assert level.amplitude.ratio is None and level.amplitude.reason


def test_a_picture_with_no_flat_area_says_so() -> None:
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    busy = 0.5 + 0.3 * np.sin(2 * np.pi * xx / 12) * np.sin(2 * np.pi * yy / 12)
    frame = np.repeat(busy[..., None], 3, axis=2)
    report = score_sequences([frame], [frame])
    grain = report.grain
    assert grain.flat_tiles == 0 and grain.reason is not None and "no flat region" in grain.reason
    assert grain.amplitude.ratio is None and all(b.power.ratio is None for b in grain.bands)
    json.dumps(report.to_dict(), allow_nan=False)


def test_a_picture_with_no_flat_64_px_tile_is_measured_on_32_px_tiles() -> None:
    """Textured all over but for flat 56 px squares (``tests.grain.test_profile.islands``): no 64 px
    tile is flat, the 32 px tiles inside the squares are; grain twice as strong reads 2 there."""
    from tests.grain.test_profile import islands

    pic = islands()
    rng = np.random.default_rng(12)
    noise = [rng.standard_normal(pic.shape).astype(np.float32) * np.float32(0.01) for _ in range(FRAMES)]
    report = score_sequences([pic + 2 * n for n in noise], [pic + n for n in noise[::-1]])
    grain = report.grain
    assert grain.tile == 32 and grain.flat_tiles > 0 and grain.reason is None
    assert grain.amplitude.ratio == pytest.approx(2.0, rel=0.05)
    assert report.to_dict()["grain"]["tile"] == 32  # type: ignore[index]
    # a picture with flat 64 px tiles keeps them
    smooth = smooth_picture()
    a, b = (white_grain(np.random.default_rng(k), 0.01) for k in (13, 14))
    assert score_sequences([smooth + a], [smooth + b]).grain.tile == 64


def test_grain_ratios_carry_an_interval_that_covers_another_draw_of_the_same_grain() -> None:
    """Render and reference: two draws of the same white grain. The pooled amplitude and every band
    carry a 90 % interval (the flat tiles resampled); on a small picture (four 192 px frames) the interval
    is wider than on a large one, covers 1 in most of 20 pairs of draws, and the same pictures give the
    same interval. Grain twice as strong: every band's interval lies around 4, far from 1."""
    rng = np.random.default_rng(5)
    large = _grain(
        [white_grain(rng, 0.02) for _ in range(FRAMES)], [white_grain(rng, 0.02) for _ in range(FRAMES)]
    )
    assert large.amplitude.interval is not None
    lo, hi = large.amplitude.interval
    assert lo < 1.0 < hi and hi - lo < 0.1
    small_pic = smooth_picture(192)
    covered, widths = 0, []
    for k in range(20):
        r = np.random.default_rng([6, k])
        render = [small_pic + white_grain(r, 0.02, 192) for _ in range(FRAMES)]
        reference = [small_pic + white_grain(r, 0.02, 192) for _ in range(FRAMES)]
        coarse = score_sequences(render, reference).grain.bands[-1].power
        assert coarse.interval is not None and coarse.ratio is not None
        covered += coarse.interval[0] <= 1.0 <= coarse.interval[1]
        widths.append(coarse.interval[1] - coarse.interval[0])
        if k == 0:
            again = score_sequences(render, reference).grain.bands[-1].power
            assert again.interval == coarse.interval
    assert covered >= 15, covered
    assert min(widths) > large.bands[-1].power.interval[1] - large.bands[-1].power.interval[0]  # type: ignore[index]
    strong = _grain(
        [white_grain(rng, 0.04) for _ in range(FRAMES)], [white_grain(rng, 0.02) for _ in range(FRAMES)]
    )
    for band in strong.bands:  # around 4, far from 1 (a little narrow: consecutive differences share a frame)
        assert (
            band.power.interval is not None and 3.5 < band.power.interval[0] <= band.power.interval[1] < 4.5
        )
