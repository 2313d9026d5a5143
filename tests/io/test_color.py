"""Y'CbCr <-> R'G'B' against the published 75% colour-bar code values, and chroma siting."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.color import (
    downsample_chroma,
    rgb_to_ycbcr,
    rgb_to_ypbpr_matrix,
    upsample_chroma,
    upsample_field_chroma,
    ycbcr_to_rgb,
)

# 75% colour bars (white, yellow, cyan, green, magenta, red, blue, black), 8-bit limited range Y, Cb, Cr:
# the code values published for SMPTE EG 1 / ITU-R BT.801 (BT.601) and for BT.709 HD bars.
BARS_RGB = 0.75 * np.array(
    [[1, 1, 1], [1, 1, 0], [0, 1, 1], [0, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32
)
BARS_CODES = {
    "bt601": np.array(
        [
            [180, 128, 128],
            [162, 44, 142],
            [131, 156, 44],
            [112, 72, 58],
            [84, 184, 198],
            [65, 100, 212],
            [35, 212, 114],
            [16, 128, 128],
        ]
    ),
    "bt709": np.array(
        [
            [180, 128, 128],
            [168, 44, 136],
            [145, 147, 44],
            [133, 63, 52],
            [63, 193, 204],
            [51, 109, 212],
            [28, 212, 120],
            [16, 128, 128],
        ]
    ),
}


def _rounding_bound(matrix: str) -> np.ndarray:
    """Largest R'G'B' error (per channel) that +-0.5 code of rounding in Y, Cb, Cr can cause, 8-bit limited."""
    inverse = np.abs(np.linalg.inv(rgb_to_ypbpr_matrix(matrix)))
    return 0.5 * (inverse @ np.array([1 / 219, 1 / 224, 1 / 224]))


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
def test_bars_rgb_to_ycbcr_match_published_codes(matrix: str) -> None:
    y, cb, cr = rgb_to_ycbcr(BARS_RGB[None], matrix=matrix, range="limited")
    codes = np.stack([y[0], cb[0], cr[0]], axis=-1)
    assert codes.dtype == np.float32
    np.testing.assert_array_less(np.abs(codes - BARS_CODES[matrix]), 0.5 + 1e-4)


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
def test_bars_ycbcr_to_rgb_from_published_codes(matrix: str) -> None:
    codes = BARS_CODES[matrix].astype(np.uint8)[None]
    rgb = ycbcr_to_rgb(codes[..., 0], codes[..., 1], codes[..., 2], matrix=matrix, range="limited")
    assert rgb.shape == (1, 8, 3) and rgb.dtype == np.float32
    error = np.abs(rgb[0] - BARS_RGB)
    assert (error <= _rounding_bound(matrix) + 1e-6).all(), error
    # And exactly (to float32) back to the code values.
    y, cb, cr = rgb_to_ycbcr(rgb, matrix=matrix, range="limited")
    np.testing.assert_allclose(np.stack([y, cb, cr], axis=-1), codes, atol=1e-3)


def test_the_two_matrices_differ_on_saturated_colours() -> None:
    y601, _, _ = rgb_to_ycbcr(BARS_RGB[None], matrix="bt601", range="limited")
    y709, _, _ = rgb_to_ycbcr(BARS_RGB[None], matrix="bt709", range="limited")
    assert abs(float(y601[0, 3] - y709[0, 3])) > 20  # green: 112 vs 133


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("range_", ["limited", "full"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip_rgb_ycbcr_rgb(matrix: str, range_: str, bit_depth: int) -> None:
    rgb = np.random.default_rng(1).uniform(-0.05, 1.05, size=(16, 24, 3)).astype(np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, matrix=matrix, range=range_, bit_depth=bit_depth)
    back = ycbcr_to_rgb(y, cb, cr, matrix=matrix, range=range_, bit_depth=bit_depth)
    np.testing.assert_allclose(back, rgb, atol=2e-6)


@pytest.mark.parametrize(
    ("range_", "bit_depth", "black", "white", "neutral", "top_chroma"),
    [
        ("limited", 8, 16, 235, 128, 240),
        ("full", 8, 0, 255, 128, 255.5),  # C = 128 + 255 * 0.5, as JFIF / BT.2100 full range
        ("limited", 10, 64, 940, 512, 960),
        ("full", 10, 0, 1023, 512, 1023.5),
    ],
)
def test_full_and_limited_range_levels(
    range_: str, bit_depth: int, black: int, white: int, neutral: int, top_chroma: float
) -> None:
    rgb = np.array([[[0, 0, 0], [1, 1, 1], [0, 0, 1]]], dtype=np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, matrix="bt709", range=range_, bit_depth=bit_depth)
    np.testing.assert_allclose(y[0, :2], [black, white], atol=1e-3)
    np.testing.assert_allclose(np.concatenate([cb[0, :2], cr[0, :2]]), neutral, atol=1e-3)
    assert float(cb[0, 2]) == pytest.approx(top_chroma, abs=1e-3)  # saturated blue: the top of Cb


def test_limited_and_full_decode_the_same_codes_differently() -> None:
    codes = np.array([[16, 235]], dtype=np.uint8)
    neutral = np.full_like(codes, 128)
    limited = ycbcr_to_rgb(codes, neutral, neutral, matrix="bt601", range="limited")
    full = ycbcr_to_rgb(codes, neutral, neutral, matrix="bt601", range="full")
    np.testing.assert_allclose(limited[0, :, 0], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(full[0, :, 0], [16 / 255, 235 / 255], atol=1e-6)


def test_superwhites_are_kept_unless_clipped() -> None:
    y = np.array([[254, 1]], dtype=np.uint8)
    c = np.full_like(y, 128)
    kept = ycbcr_to_rgb(y, c, c, matrix="bt709", range="limited")
    assert kept[0, 0, 0] == pytest.approx((254 - 16) / 219) and kept[0, 0, 0] > 1.08
    assert kept[0, 1, 0] < 0
    clipped = ycbcr_to_rgb(y, c, c, matrix="bt709", range="limited", clip=True)
    np.testing.assert_array_equal(clipped[0, :, 0], [1.0, 0.0])


def test_bad_arguments_are_refused() -> None:
    plane = np.zeros((2, 2), np.uint8)
    with pytest.raises(ValueError, match="matrix"):
        ycbcr_to_rgb(plane, plane, plane, matrix="bt2020", range="limited")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="range"):
        ycbcr_to_rgb(plane, plane, plane, matrix="bt601", range="studio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        ycbcr_to_rgb(plane, plane[:1], plane, matrix="bt601", range="limited")


# ------------------------------------------------------------------------------------------ chroma siting
# A chroma plane whose values are the luma-grid positions of its samples upsamples to the identity ramp
# wherever interpolation (not edge replication) applies: that pins the siting exactly.


def test_420_progressive_siting_horizontal_cosited_vertical_centred() -> None:
    height, width = 12, 16
    rows = 2 * np.arange(6) + 0.5
    cols = 2 * np.arange(8)
    vertical = upsample_chroma(
        np.repeat(rows[:, None], 8, axis=1), width=width, height=height, interlaced=False
    )
    horizontal = upsample_chroma(
        np.repeat(cols[None], 6, axis=0), width=width, height=height, interlaced=False
    )
    assert vertical.shape == horizontal.shape == (height, width) and vertical.dtype == np.float32
    np.testing.assert_allclose(vertical[1:-1, 0], np.arange(1, height - 1), atol=1e-5)
    np.testing.assert_allclose(horizontal[0, :-1], np.arange(width - 1), atol=1e-5)
    assert vertical[0, 0] == 0.5 and horizontal[0, -1] == 14  # edges replicated


def test_420_interlaced_siting_is_per_field() -> None:
    height, width = 16, 4
    k = np.arange(4)
    positions = np.empty(8)
    positions[0::2] = 4 * k + 0.5  # top-field chroma rows, in frame rows
    positions[1::2] = 4 * k + 2.5  # bottom-field chroma rows
    chroma = np.repeat(positions[:, None], 2, axis=1)
    up = upsample_chroma(chroma, width=width, height=height, interlaced=True)
    # Interior rows of each field come out at their own frame position.
    np.testing.assert_allclose(up[2:-3, 0], np.arange(2, height - 3), atol=1e-5)


def test_interlaced_upsampling_keeps_fields_apart() -> None:
    # Top field's chroma 60, bottom field's 200 (a colour that changes between the two field instants).
    chroma = np.tile(np.array([[60], [200]], dtype=np.uint8), (4, 6))
    up = upsample_chroma(chroma, width=12, height=16, interlaced=True)
    np.testing.assert_array_equal(up[0::2], 60)
    np.testing.assert_array_equal(up[1::2], 200)
    mixed = upsample_chroma(chroma, width=12, height=16, interlaced=False)
    assert np.abs(mixed[0::2] - 60).max() > 30  # progressive siting blends the fields


def test_422_and_411_are_horizontal_only() -> None:
    for factor in (2, 4):
        cols = factor * np.arange(720 // factor, dtype=np.float32)
        chroma = np.repeat(cols[None], 6, axis=0)
        up = upsample_chroma(chroma, width=720, height=6, interlaced=True)
        assert up.shape == (6, 720)
        np.testing.assert_allclose(up[:, : 720 - factor], np.tile(np.arange(720 - factor), (6, 1)), atol=1e-4)


def test_field_chroma_matches_frame_chroma_upsampling() -> None:
    chroma = np.random.default_rng(2).integers(16, 240, size=(12, 9)).astype(np.uint8)
    up = upsample_chroma(chroma, width=17, height=23, interlaced=True)
    top = upsample_field_chroma(chroma[0::2], width=17, height=12, parity="top")
    bottom = upsample_field_chroma(chroma[1::2], width=17, height=11, parity="bottom")
    np.testing.assert_allclose(up[0::2], top, atol=1e-5)
    np.testing.assert_allclose(up[1::2], bottom, atol=1e-5)


def test_odd_sizes_and_mismatched_planes() -> None:
    up = upsample_chroma(np.zeros((3, 3), np.uint8), width=5, height=5, interlaced=False)
    assert up.shape == (5, 5)
    with pytest.raises(ValueError, match="width"):
        upsample_chroma(np.zeros((3, 7), np.uint8), width=5, height=5, interlaced=False)


@pytest.mark.parametrize(("fx", "fy"), [(2, 2), (2, 1), (1, 1)])
def test_downsample_then_upsample_keeps_a_linear_ramp(fx: int, fy: int) -> None:
    yy, xx = np.mgrid[0:20, 0:32].astype(np.float32)
    ramp = 100 + 2 * xx + 3 * yy
    down = downsample_chroma(ramp, fx=fx, fy=fy)
    assert down.shape == (20 // fy, 32 // fx)
    up = upsample_chroma(down, width=32, height=20, interlaced=False)
    # Away from the edges (edge replication bends the ramp there).
    np.testing.assert_allclose(up[1:-1, 2:-2], ramp[1:-1, 2:-2], atol=1e-3)
