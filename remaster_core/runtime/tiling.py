"""Tile grids with overlap and blending weights, so that a tiled run equals the untiled run.

Pure numpy, no model. All sizes are in input pixels of the *canvas*: the frame as the model sees it
(after the engine's padding to a multiple of ``s``, if it pads).

Why tiled == untiled
--------------------
A convolutional model with receptive field ``rf`` (one side) and space-to-depth ``s`` is equivariant to
shifts by multiples of ``s``, and an output pixel depends only on inputs within ``rf``. So a tile that
(1) starts on a multiple of ``s``, and (2) is a plain crop of the canvas (no padding of its own: at a
canvas border the tile *ends at* the border, so the model's own padding there is the same as in the
untiled run) produces, at every pixel at least ``rf`` away from the tile's *interior* edges, exactly
the untiled output (up to float rounding of a different summation order).

Neighbouring tiles overlap by ``overlap`` pixels. Inside an overlap, the pixels valid for *both* tiles
form a band of ``overlap - 2 * rf`` pixels; the blending ramp lives inside that band (a smoothstep,
at most ``blend`` pixels wide, centred in it). Each tile's 1-D weight is exactly 1 in its core, the ramp
in the bands, 0 beyond; the ramps of neighbours are ``r`` and ``1 - r`` of the same array, so the weights
of all tiles sum to exactly 1 (up to one float32 rounding), and the 2-D weight is the outer product of
the row and column weights. With ``overlap >= 2 * rf`` (the default is ``2 * rf + DEFAULT_BLEND``) the
blend only ever mixes two exact values of the same pixel: the result equals the untiled output. With a
smaller overlap (allowed, for memory) the ramp spans the whole overlap and ``TilePlan.exact`` is False.

Tiles are spread evenly: ``n = 1 + ceil((L - T) / (T - overlap))`` tiles on an axis of length ``L``
with tile ``T``, starts on multiples of ``s`` from 0 to the last block, so overlaps never fall below
``overlap`` and the last tile ends at the canvas edge (it may be up to ``s - 1`` pixels shorter than
``T`` when ``L`` is not a multiple of ``s``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

DEFAULT_BLEND = 16
"""Width of the blending ramp, in pixels, added to ``2 * rf`` for the default overlap."""


@dataclass(frozen=True)
class Tile:
    """One tile: canvas rows ``y0:y1`` and columns ``x0:x1``; ``row``/``col`` index the grid."""

    y0: int
    y1: int
    x0: int
    x1: int
    row: int
    col: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.y1 - self.y0, self.x1 - self.x0


@dataclass(frozen=True)
class TilePlan:
    """A grid of tiles over a ``height x width`` canvas and their blending weights.

    Attributes:
        height, width: the canvas size.
        tiles: row-major tiles; one tile covering the canvas when it is not tiled.
        tile_size: the nominal tile side, or None when the canvas is one tile.
        overlap: the minimum overlap between neighbouring tiles.
        context: the receptive field the plan keeps clear of interior tile edges.
        exact: True when every weighted pixel has ``context`` pixels of real context (tiled == untiled).
        row_weights, col_weights: per grid row / column, the 1-D float32 weights over the tile's span.
    """

    height: int
    width: int
    tiles: tuple[Tile, ...]
    tile_size: int | None
    overlap: int
    context: int
    exact: bool
    row_weights: tuple[np.ndarray, ...]
    col_weights: tuple[np.ndarray, ...]

    @property
    def tiled(self) -> bool:
        return len(self.tiles) > 1

    def weight(self, tile: Tile) -> np.ndarray:
        """(h, w) float32 blending weight of ``tile``: 1 in its core, a smooth ramp in the overlaps."""
        return np.multiply.outer(self.row_weights[tile.row], self.col_weights[tile.col])

    def shapes(self) -> list[tuple[int, int]]:
        """The distinct tile shapes (h, w), largest first."""
        return sorted({t.shape for t in self.tiles}, reverse=True)


def default_overlap(
    receptive_field: int, align: int, tile: int | None = None, blend: int = DEFAULT_BLEND
) -> int:
    """Overlap that makes tiling exact: ``2 * receptive_field`` plus a blend band, on multiples of ``align``.

    With a ``tile`` given, the blend band shrinks (down to 0, a hard but still exact cut) so that a tile
    of ``2 * rf + align`` pixels still leaves one block of core.
    """
    base = 2 * receptive_field
    band = blend if tile is None else max(0, min(blend, tile - base - align))
    return _align_up(base + band, align)


def axis_spans(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` covering ``0..length`` with tiles of ``tile`` pixels overlapping >= ``overlap``.

    Starts are multiples of ``align``; the last span ends at ``length``. ``tile`` and ``overlap`` must be
    multiples of ``align`` with ``tile > overlap``.
    """
    if tile % align or overlap % align or tile <= overlap:
        raise ValueError(
            f"need tile > overlap, both multiples of {align}; got tile {tile}, overlap {overlap}"
        )
    if length <= tile:
        return [(0, length)]
    blocks = -(-length // align)
    tile_b, overlap_b = tile // align, overlap // align
    gaps = -(-(blocks - tile_b) // (tile_b - overlap_b))
    step = (blocks - tile_b) / gaps
    starts = [math.floor(i * step + 0.5) * align for i in range(gaps + 1)]
    return [(s0, min(s0 + tile, length)) for s0 in starts]


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def axis_weights(
    spans: list[tuple[int, int]], length: int, context: int, blend: int = DEFAULT_BLEND
) -> tuple[list[np.ndarray], bool]:
    """1-D float32 weights for ``spans`` (as ``axis_spans`` gives) that sum to 1 at every pixel.

    Returns (weights, exact): ``weights[i]`` covers ``spans[i]``; ``exact`` is True when every ramp lies
    where both neighbours have ``context`` pixels of real context.
    """
    exact = True
    bands: list[tuple[float, float]] = []  # valid-for-both band of each neighbour pair
    for (s0, e0), (s1, e1) in itertools.pairwise(spans):
        lo: float = s1 + context
        hi: float = e0 - context if e0 < length else length
        if hi < lo:  # overlap too small for the receptive field: ramp over the whole overlap
            exact = False
            lo, hi = s1, e0
        bands.append((lo, hi))
    centres = [(lo + hi) / 2.0 for lo, hi in bands]
    weights = [np.ones(e - s, dtype=np.float64) for s, e in spans]
    for i, (lo, hi) in enumerate(bands):
        half = min(blend / 2.0, (hi - lo) / 2.0)
        if i > 0:
            half = min(half, (centres[i] - centres[i - 1]) / 2.0)
        if i + 1 < len(bands):
            half = min(half, (centres[i + 1] - centres[i]) / 2.0)
        start, end = spans[i + 1][0], spans[i][1]  # the overlap of tiles i and i + 1
        x = np.arange(start, end, dtype=np.float64) + 0.5  # pixel centres
        if half > 0:
            ramp = _smoothstep((x - (centres[i] - half)) / (2.0 * half))
        else:
            ramp = (x >= centres[i]).astype(np.float64)
        weights[i + 1][: end - start] *= ramp
        weights[i][start - spans[i][0] :] *= 1.0 - ramp
    return [w.astype(np.float32) for w in weights], exact


def plan_tiles(
    height: int,
    width: int,
    *,
    tile: int | None,
    overlap: int,
    align: int,
    context: int,
    blend: int = DEFAULT_BLEND,
) -> TilePlan:
    """Tile a ``height x width`` canvas (see the module docstring).

    Args:
        height, width: canvas size in pixels.
        tile: nominal tile side (rounded down to a multiple of ``align``), or None for one tile.
        overlap: minimum overlap of neighbours (rounded up to a multiple of ``align``).
        align: ``s``, the model's space-to-depth factor: tile starts are multiples of it.
        context: the model's receptive field (one side).
        blend: the widest blending ramp.

    Raises:
        ValueError: a tile not larger than the overlap.
    """
    if tile is None or (height <= tile and width <= tile):
        one = Tile(0, height, 0, width, 0, 0)
        ones_y, ones_x = np.ones(height, np.float32), np.ones(width, np.float32)
        return TilePlan(height, width, (one,), None, 0, context, True, (ones_y,), (ones_x,))
    tile_a = (tile // align) * align
    overlap_a = _align_up(overlap, align)
    if tile_a <= overlap_a:
        raise ValueError(
            f"tile {tile} (as a multiple of s={align}: {tile_a}) must be larger than the overlap {overlap_a}"
        )
    row_spans = axis_spans(height, tile_a, overlap_a, align)
    col_spans = axis_spans(width, tile_a, overlap_a, align)
    row_w, exact_r = axis_weights(row_spans, height, context, blend)
    col_w, exact_c = axis_weights(col_spans, width, context, blend)
    tiles = tuple(
        Tile(y0, y1, x0, x1, r, c)
        for r, (y0, y1) in enumerate(row_spans)
        for c, (x0, x1) in enumerate(col_spans)
    )
    return TilePlan(
        height, width, tiles, tile_a, overlap_a, context, exact_r and exact_c, tuple(row_w), tuple(col_w)
    )


def auto_tile_size(bytes_per_pixel: float, bound_bytes: float, align: int, overlap: int) -> int:
    """Largest square tile (multiple of ``align``) whose estimated run memory fits ``bound_bytes``.

    Never smaller than ``overlap + 4 * align`` (a tile must keep some core); the caller warns when that
    floor exceeds the bound.
    """
    side = int(math.sqrt(max(bound_bytes, 1.0) / max(bytes_per_pixel, 1e-9)))
    side = (side // align) * align
    return max(side, _align_up(overlap, align) + 4 * align)


def _align_up(value: int, align: int) -> int:
    return -(-value // align) * align
