"""Tile grids and blending weights (pure numpy): coverage, alignment, partition of unity, exactness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from remaster_core.runtime.tiling import (
    DEFAULT_BLEND,
    auto_tile_size,
    axis_spans,
    axis_weights,
    default_overlap,
    plan_tiles,
)


@pytest.mark.parametrize(
    "length,tile,overlap,align",
    [
        (100, 40, 16, 1),
        (97, 40, 16, 4),
        (1080, 256, 80, 2),
        (41, 40, 16, 4),
        (300, 64, 48, 16),
        (2160, 512, 144, 4),
    ],
)
def test_spans_cover_align_and_overlap(length: int, tile: int, overlap: int, align: int) -> None:
    spans = axis_spans(length, tile, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (s0, e0), (s1, e1) in itertools.pairwise(spans):
        assert s0 % align == 0 and s1 % align == 0
        assert s1 > s0 and e1 >= e0
        assert e0 - s1 >= overlap  # neighbours overlap by at least `overlap`
    assert all(e - s <= tile for s, e in spans)
    assert all(e - s > tile - align for s, e in spans)  # only the last may lose < align pixels
    # the count is minimal: one tile fewer could not cover the axis with that overlap
    n = len(spans)
    assert n == 1 or (n - 2) * (tile - overlap) + tile < length


def test_spans_refuse_tile_not_larger_than_overlap() -> None:
    with pytest.raises(ValueError, match="tile > overlap"):
        axis_spans(100, 32, 32, 1)


@pytest.mark.parametrize(
    "length,tile,overlap,align,context",
    [(100, 40, 16, 1, 4), (97, 40, 24, 4, 7), (1081, 256, 80, 2, 31), (130, 48, 34, 2, 9)],
)
def test_weights_partition_of_unity_and_ramps_inside_valid_bands(
    length: int, tile: int, overlap: int, align: int, context: int
) -> None:
    spans = axis_spans(length, tile, overlap, align)
    weights, exact = axis_weights(spans, length, context)
    assert exact == (overlap >= 2 * context)
    total = np.zeros(length)
    for (s, e), w in zip(spans, weights):
        assert w.dtype == np.float32 and w.shape == (e - s,)
        assert (w >= 0).all() and (w <= 1).all()
        total[s:e] += w
        nonzero = np.flatnonzero(w > 0) + s
        lo = 0 if s == 0 else s + context
        hi = length if e == length else e - context
        if exact:  # weight only where the tile has `context` pixels of real context
            assert nonzero.min() >= lo and nonzero.max() < hi
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_weights_are_smooth_ramps_and_exactly_one_in_the_core() -> None:
    spans = axis_spans(200, 80, 40, 1)
    weights, exact = axis_weights(spans, 200, context=8, blend=DEFAULT_BLEND)
    assert exact
    middle = weights[1]
    assert np.count_nonzero(middle == 1.0) > 0
    ramp = middle[(middle > 0) & (middle < 1)]
    assert 0 < ramp.size <= 2 * DEFAULT_BLEND
    left = middle[: np.argmax(middle == 1.0)]
    assert np.all(np.diff(left) >= 0)  # rises monotonically into the core
    assert np.abs(np.diff(middle)).max() < 0.2  # no jump: a seam would be a jump


def _local_filter(canvas: np.ndarray, radius: int) -> np.ndarray:
    """A stand-in for a model with receptive field ``radius``: a box mean with reflection at the edges."""
    padded = np.pad(canvas, radius, mode="reflect")
    windows = sliding_window_view(padded, (2 * radius + 1, 2 * radius + 1))
    return windows.mean(axis=(-1, -2)) + canvas**2


@pytest.mark.parametrize("height,width,tile", [(61, 97, 32), (64, 64, 40), (100, 37, 36)])
def test_tiled_local_filter_equals_untiled(height: int, width: int, tile: int) -> None:
    rng = np.random.default_rng(1)
    canvas = rng.random((height, width))
    radius = 5
    plan = plan_tiles(
        height, width, tile=tile, overlap=default_overlap(radius, 1, tile), align=1, context=radius
    )
    assert plan.tiled and plan.exact
    out = np.zeros_like(canvas)
    for t in plan.tiles:
        out[t.y0 : t.y1, t.x0 : t.x1] += _local_filter(
            canvas[t.y0 : t.y1, t.x0 : t.x1], radius
        ) * plan.weight(t)
    np.testing.assert_allclose(out, _local_filter(canvas, radius), atol=1e-6)


def test_too_little_overlap_is_visibly_wrong() -> None:
    """The exactness checks are not vacuous: overlap < 2 x radius gives seams the blend only smooths."""
    rng = np.random.default_rng(2)
    canvas = rng.random((86, 86))  # 3 tiles of 32 with overlap exactly 5 on each axis
    radius = 5
    plan = plan_tiles(86, 86, tile=32, overlap=radius, align=1, context=radius)
    assert not plan.exact and len(plan.tiles) == 9
    out = np.zeros_like(canvas)
    for t in plan.tiles:
        out[t.y0 : t.y1, t.x0 : t.x1] += _local_filter(
            canvas[t.y0 : t.y1, t.x0 : t.x1], radius
        ) * plan.weight(t)
    assert np.abs(out - _local_filter(canvas, radius)).max() > 1e-3


def test_plan_whole_canvas_when_tile_is_none_or_larger() -> None:
    for tile in (None, 500):
        plan = plan_tiles(120, 90, tile=tile, overlap=20, align=4, context=8)
        assert not plan.tiled and plan.tiles[0].shape == (120, 90)
        assert (plan.weight(plan.tiles[0]) == 1).all()


def test_plan_2d_weights_sum_to_one_and_tiles_are_aligned() -> None:
    plan = plan_tiles(203, 157, tile=64, overlap=default_overlap(9, 4, 64), align=4, context=9)
    total = np.zeros((203, 157))
    for t in plan.tiles:
        assert t.y0 % 4 == 0 and t.x0 % 4 == 0
        total[t.y0 : t.y1, t.x0 : t.x1] += plan.weight(t)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert plan.shapes()[0] == (64, 64)


def test_plan_refuses_tile_not_larger_than_overlap() -> None:
    with pytest.raises(ValueError, match="larger than the overlap"):
        plan_tiles(300, 300, tile=40, overlap=40, align=2, context=9)


def test_default_overlap_is_exact_and_leaves_a_core() -> None:
    assert default_overlap(63, 4) == 2 * 63 + DEFAULT_BLEND + 2  # rounded up to a multiple of 4
    assert default_overlap(63, 4) % 4 == 0
    small = default_overlap(9, 2, tile=22)  # tile = 2 rf + 2 s: the band shrinks to keep one block
    assert 2 * 9 <= small < 22


def test_auto_tile_size_fits_the_bound() -> None:
    side = auto_tile_size(bytes_per_pixel=1000.0, bound_bytes=256 * 2**20, align=4, overlap=144)
    assert side % 4 == 0
    assert side * side * 1000.0 <= 256 * 2**20
    assert (side + 4) ** 2 * 1000.0 > 256 * 2**20  # and it is the largest that does
    assert auto_tile_size(1e9, 1.0, 4, 144) == 144 + 16  # floor: overlap plus a core
