"""Grain measured on motion-compensated frame differences (remaster_core.look.grain_sample).

A star field (sparse bright points, blurred 0.8 px: fine structure that leaves every 64 px tile flat by
the smoothed-gradient rule) under white grain of known RMS. One frame's residual holds the stars and
the grain; the difference of consecutive frames cancels the stars and keeps the grain. The expected
residual RMS of white grain ``s`` through the high-pass ``1 - G`` (G a Gaussian of sigma 3 px) is
``s sqrt(1 - 3 / (4 pi 3^2))`` (see test_grain). Tolerances: 4 frames of about 25 tiles of 4096 px,
a relative error of the RMS well under 1 %; the motion's own errors on the stars add 1-2 %: 3 %.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remaster_core.look import LookParams, score_sequences
from remaster_core.look.grain_sample import (
    WARP,
    clipped_tiles,
    grain_like,
    single_frame_sample,
    warp_transfer,
    winsorised,
)
from remaster_core.look.regions import highpass, tiles
from remaster_core.look.report import format_table
from tests.look import SIZE, smooth_picture, white_grain

FRAMES = 5
SIGMA = 0.01


def stars(size: int, seed: int = 4) -> np.ndarray:
    """float32 (size, size): one point every 150 px^2, peaks 0.04-0.12 after a 0.8 px blur."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.float32)
    n = size * size // 150
    ys, xs = rng.integers(0, size, n), rng.integers(0, size, n)
    img[ys, xs] = rng.uniform(0.3, 1.0, n) * 0.12 * 2 * np.pi * 0.8**2
    return cv2.GaussianBlur(img, (0, 0), 0.8)


def star_field(size: int) -> np.ndarray:
    return smooth_picture(size) + stars(size)[..., None]


def pan(speed: float) -> list[np.ndarray]:
    """FRAMES frames of the star field moving ``speed`` px right and half that down per frame (cubic)."""
    big = star_field(SIZE + 64)
    out = []
    for t in range(FRAMES):
        m = np.float32([[1, 0, -speed * t], [0, 1, -0.5 * speed * t]])
        out.append(cv2.warpAffine(big, m, (SIZE, SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return out


def residual_rms(sigma: float) -> float:
    s = LookParams().smooth_sigma
    return sigma * float(np.sqrt(1 - 3 / (4 * np.pi * s**2)))


@pytest.mark.parametrize("shift", [(0.3, 0.5), (0.77, 0.12), "zoom"])
def test_the_warp_transfer_is_what_the_warp_does_to_white_noise(shift: tuple[float, float] | str) -> None:
    rng = np.random.default_rng(0)
    tile = 64
    noise = rng.standard_normal((2048, 2048)).astype(np.float32)
    h, w = noise.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if shift == "zoom":  # every sub-pixel position in a tile: a 1.3 % zoom
        map_x, map_y = (xx * np.float32(0.987) + np.float32(3.1)), (yy * np.float32(0.987) + np.float32(5.6))
    else:
        map_x, map_y = xx + np.float32(shift[0]), yy + np.float32(shift[1])
    moved = cv2.remap(noise, map_x, map_y, WARP, borderMode=cv2.BORDER_REFLECT)[:-64, :-64]
    blocks = moved.reshape(-1, tile, moved.shape[1] // tile, tile).swapaxes(1, 2).reshape(-1, tile, tile)
    measured = (np.abs(np.fft.fft2(blocks)) ** 2).mean(axis=0) / (tile * tile)  # unit-variance white: 1
    maps = [m[:-64, :-64].reshape(-1, tile, m.shape[1] // tile - 1, tile).swapaxes(1, 2).reshape(-1, tile, tile)
            for m in (map_x, map_y)]  # fmt: skip
    predicted = warp_transfer(*maps).mean(axis=0)
    f = np.fft.fftfreq(tile)
    fx, fy = np.meshgrid(f, f)
    for lo, hi in ((0.0, 0.125), (0.125, 0.25), (0.25, 0.5)):
        inside = (np.hypot(fx, fy) > lo) & (np.hypot(fx, fy) <= hi)
        assert measured[inside].mean() == pytest.approx(predicted[inside].mean(), rel=0.03), (lo, hi)
    # whole pixels: everything passes
    assert warp_transfer(np.zeros((1, 8, 8), np.float32), np.zeros((1, 8, 8), np.float32)) == pytest.approx(
        1.0
    )


def test_a_texture_moved_by_half_a_pixel_cancels_in_the_difference() -> None:
    """What ``WARP`` is chosen for: a fine texture moved by half a pixel, moved back, leaves little of
    its power in the difference up to 0.375 cycle/px (bilinear left 2.4 % below 0.25 and 18 % at
    0.25-0.375)."""
    rng = np.random.default_rng(3)
    tile, size = 64, 1024
    later = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.6)
    f1 = np.fft.fftfreq(size)
    # exactly half a px on, both ways (a periodic shift in the Fourier domain)
    half = np.exp(2j * np.pi * 0.5 * (f1[:, None] + f1[None, :]))
    earlier = np.fft.ifft2(np.fft.fft2(later) * half).real.astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    back = cv2.remap(earlier, xx - np.float32(0.5), yy - np.float32(0.5), WARP, borderMode=cv2.BORDER_WRAP)

    def power(img: np.ndarray) -> np.ndarray:
        img = img[64:-64, 64:-64]
        blocks = img.reshape(-1, tile, img.shape[1] // tile, tile).swapaxes(1, 2).reshape(-1, tile, tile)
        return (np.abs(np.fft.fft2(blocks)) ** 2).mean(axis=0)

    left, whole = power(later - back), power(later)
    f = np.fft.fftfreq(tile)
    fx, fy = np.meshgrid(f, f)
    for lo, hi, most in ((0.0, 0.25, 0.01), (0.25, 0.375, 0.05)):
        inside = (np.hypot(fx, fy) > lo) & (np.hypot(fx, fy) <= hi)
        assert left[inside].sum() / whole[inside].sum() < most, (lo, hi)


def test_a_star_field_reads_as_its_grain_not_its_stars() -> None:
    rng = np.random.default_rng(1)
    still = star_field(SIZE)
    reference = [still + white_grain(rng, SIGMA) for _ in range(FRAMES)]
    render = [smooth_picture() + white_grain(rng, SIGMA) for _ in range(FRAMES)]  # the grain, no stars
    over_frames = score_sequences(render, reference).grain
    assert over_frames.temporal and over_frames.to_dict()["measured_on"] == "frame differences"
    assert over_frames.amplitude.reference == pytest.approx(residual_rms(SIGMA), rel=0.03)
    assert over_frames.amplitude.ratio == pytest.approx(1.0, rel=0.03)
    for band in over_frames.bands:
        assert band.power.ratio == pytest.approx(1.0, rel=0.08)
    # one frame alone: the tiles holding stars are not grain-like (``grain_like``), nearly all of them,
    # and the few under the limit are not trusted either (``STRUCTURED_SHARE``): not measurable, and why
    report = score_sequences(render[:1], reference[:1])
    alone = report.grain
    assert f"{alone.tiles} flat tiles left out, not grain-like" in format_table(report)
    assert not alone.temporal and alone.to_dict()["measured_on"] == "single frames"
    assert alone.flat_tiles == 0 and alone.structured_tiles == alone.tiles
    assert alone.to_dict()["structured_tiles"] == alone.structured_tiles
    assert alone.amplitude.ratio is None and "sparse fine structure" in (alone.reason or "")


def test_grain_like_keeps_gaussian_grain_and_leaves_out_sparse_structure() -> None:
    """Gaussian grain (white or blurred) passes at any strength; a tile with a few faint stars under the
    same grain does not; a quiet 8-bit tile (a digital source's residual: a few code values, far from
    Gaussian) passes, there being no grain in it to mistake. Grain a black clips (the synthetic film's
    grain at code value 0) is not Gaussian: its tiles are found as clipped (``clipped_tiles``), which
    the samples judge by a looser limit, and a dark tile that does not clip is not."""
    from remaster_core.synth.scenes import GrainParams, add_grain

    rng = np.random.default_rng(6)
    floor = LookParams().grain_floor
    white = rng.normal(0.0, 0.01, (64, 32, 32, 3)).astype(np.float32)
    blurred = np.stack([cv2.GaussianBlur(t, (0, 0), 0.8) for t in white * 3])
    assert grain_like(white, floor, 2.0).all() and grain_like(blurred, floor, 2.0).all()
    speckled = white.copy()
    for t in speckled:
        ys, xs = rng.integers(2, 30, 3), rng.integers(2, 30, 3)
        t[ys, xs] += 0.1  # stars of 10 grain sigmas: 3 pixels in 1024
    assert not grain_like(speckled, floor, 2.0).any()
    quiet = np.round(rng.normal(0.0, 0.001, (64, 32, 32, 3)) * 255) / 255  # mostly 0, a few +-1 code value
    assert grain_like(quiet.astype(np.float32), floor, 2.0).all()
    assert grain_like(np.zeros((0, 32, 32, 3), np.float32), floor, 2.0).shape == (0,)
    black = add_grain(np.zeros((256, 256, 3), np.float32), rng, GrainParams())
    assert not grain_like(tiles(highpass(black, 3.0)[0], 32).reshape(-1, 32, 32, 3), floor, 2.0).all()
    assert clipped_tiles(black, 32).all()
    residual, smooth = highpass(black, 3.0)
    flat = np.ones((8, 8), bool)
    params = LookParams(tile=32)
    kept = single_frame_sample((residual,), smooth.mean(axis=2), flat, clipped_tiles(black, 32), params)
    assert kept.count == 64 and kept.structured == 0
    dark = add_grain(np.full((256, 256, 3), 0.06, np.float32), rng, GrainParams())
    assert not clipped_tiles(dark, 32).any()


@pytest.mark.parametrize("speed", [0.4, 1.3])
def test_a_panning_star_field_reads_one_frames_grain_at_any_sub_pixel_motion(speed: float) -> None:
    rng = np.random.default_rng(2)
    frames = pan(speed)
    reference = [f + white_grain(rng, SIGMA) for f in frames]
    render = [f + white_grain(rng, 2 * SIGMA) for f in frames]
    grain = score_sequences(render, reference).grain
    assert grain.temporal and grain.flat_tiles >= (FRAMES - 1) * 16
    assert grain.amplitude.reference == pytest.approx(residual_rms(SIGMA), rel=0.03)
    assert grain.amplitude.ratio == pytest.approx(2.0, rel=0.03)
    for band in grain.bands:
        assert band.power.ratio == pytest.approx(4.0, rel=0.08)


def test_grain_frozen_on_a_still_picture_is_not_film_grain() -> None:
    """A render whose noise is the same every frame ("grain stuck to the screen") changes nothing from
    frame to frame: no grain, against a film whose grain is new every frame. (On a picture with nothing
    to track at all the global motion comes from a noisier phase correlation, and frozen noise cancels
    less: 0.36 on ``smooth_picture``.)"""
    rng = np.random.default_rng(3)
    pic = star_field(SIZE)
    frozen = white_grain(rng, SIGMA)
    grain = score_sequences(
        [pic + frozen for _ in range(FRAMES)], [pic + white_grain(rng, SIGMA) for _ in range(FRAMES)]
    ).grain
    assert grain.temporal and grain.amplitude.ratio is not None and grain.amplitude.ratio < 0.25


def test_winsorised_keeps_gaussian_grain_and_clips_sparse_peaks() -> None:
    """Gaussian grain keeps its variance through the 4-sigma clip; a few strong peaks in a tile (stars the
    difference kept) lose nearly all of theirs; an empty set of tiles stays empty."""
    rng = np.random.default_rng(5)
    grain = rng.normal(0.0, 0.01, (8, 64, 64, 3)).astype(np.float32)
    kept = winsorised(grain)
    assert kept.dtype == np.float32 and kept.shape == grain.shape
    assert float(kept.var()) == pytest.approx(float(grain.var()), rel=0.005)
    peaks = grain.copy()
    spots = rng.integers(0, 64, (8, 6, 2))
    for k in range(8):
        peaks[k, spots[k, :, 0], spots[k, :, 1], :] += 0.3  # 6 stars a tile, 30 sigma
    assert float(peaks.var()) > 2.0 * float(grain.var())
    assert float(winsorised(peaks).var()) == pytest.approx(float(grain.var()), rel=0.05)  # 4 sigma left each
    assert winsorised(np.zeros((0, 64, 64, 3), np.float32)).shape == (0, 64, 64, 3)
