"""What grain is measured on: the flat tiles of one frame, or of the motion-compensated difference of two.

Film grain is new in every frame; the picture is not. A flat tile's high-pass residual (one frame) holds
the grain and whatever fine structure the picture has there (stars in a night sky, a wall's texture):
measured on the project's held-out shots, 30-80 % of the residual's power in the middle and coarse
octave bands, and 80 % of the finest on a star field, was picture, not grain. The difference of two
consecutive frames, the earlier one moved onto the later along the reference's motion
(``look.motion``), cancels the picture and keeps the grain of both:

    D = frame[t] - warp(frame[t-1])

For grain independent from frame to frame with the power spectrum ``P(f)``, ``D``'s spectrum is
``P(f) (1 + T(f))``, ``T`` the power transfer of the warp (``WARP``, Lanczos-4: 1 at whole-pixel
motion; moved half a pixel both ways, white noise keeps 0.77 of its power in the finest octave band,
0.18 with bilinear). ``T`` follows from the warp's sub-pixel positions (``warp_transfer``), so each
tile's spectrum of ``D`` is divided by ``1 + T`` and reads as ONE frame's grain, in the same units as a
single frame's residual: the two samples are interchangeable, and a profile measured on either
synthesises the same grain. The warp is Lanczos-4 rather than bilinear because a picture's texture
that the warp blurs does not cancel (``WARP``).

A tile is used where the reference's (smoothed, frame t) luma is flat (``regions.flat_tiles``) and, for a
difference, where it came from in frame t-1 was inside the frame and flat too (``Difference.measurable``).
Grain that does not change from frame to frame (a still picture's noise frozen on it, "grain stuck to
the screen") cancels in ``D``: it is not film grain and is not counted as such.

What a difference does not cancel is a picture whose pixel-scale structure changes with the sub-pixel
phase of the motion: stars and specks, resampled afresh in every frame. Of the flat tiles, only those
whose reference residual is close to Gaussian, as grain is, are measured (``grain_like``); the others
are counted (``GrainSample.structured``) and reported.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import cv2
import numpy as np

from remaster_core.look.motion import Motion
from remaster_core.look.regions import FALLBACK_TILE, LookParams, highpass, tile_gradient, tiles

WARP = cv2.INTER_LANCZOS4
"""The interpolation frame t-1 is moved with (``frame_difference``). At half a pixel's offset, a texture
that moves with the picture leaves in the difference ``|1 - H(f)|^2`` of its power, ``H`` the
interpolator's response: Lanczos-4 leaves 0.0001 at 0.25 cycle/px, 0.01 at 0.375 and 0.30 at 0.45;
bilinear 0.09, 0.38 and 0.71, so that a fine texture in a flat area read as grain."""
WARP_STEPS = 32
"""``cv2.remap`` rounds each sampling position to 1/32 px (``INTER_BITS`` 5) and interpolates with that
fraction's weights."""


@dataclass(frozen=True)
class GrainSample:
    """The flat tiles of one frame (or frame difference), ready to be measured.

    Attributes:
        residuals: per picture (e.g. render, reference), float32 (n, t, t, 3) high-pass residual tiles.
        level: float32 (n, t, t), the reference's smoothed luma in those tiles (the signal level).
        divisor: float64 (n, t, t), ``1 + T(f)`` per tile at the DFT frequencies (fftfreq order) for a
            frame difference, None for a single frame (see the module docstring).
        tiles: all tiles of the frame, flat or not.
        structured: flat (and tracked) tiles left out because the reference's residual there is not
            grain-like (``grain_like``).
    """

    residuals: tuple[np.ndarray, ...]
    level: np.ndarray
    divisor: np.ndarray | None
    tiles: int
    structured: int = 0

    @property
    def count(self) -> int:
        """n, the flat tiles."""
        return int(self.level.shape[0])


def tile_sizes(params: LookParams) -> list[LookParams]:
    """The settings grain is looked for at: ``params`` (its tile), then ``FALLBACK_TILE`` px tiles where
    those are smaller (used only while the reference has shown no flat tile of the first size)."""
    return [params, replace(params, tile=FALLBACK_TILE)] if params.tile > FALLBACK_TILE else [params]


class _Pooled(Protocol):
    flat_tiles: int
    structured_tiles: int


P = TypeVar("P", bound=_Pooled)


def measured(single: Sequence[P], difference: Sequence[P], k: int, min_tiles: int = 1) -> bool:
    """Whether size ``k`` of ``tile_sizes`` has measured at least ``min_tiles`` flat tiles, in single
    frames or in differences."""
    return max(single[k].flat_tiles, difference[k].flat_tiles) >= min_tiles


def chosen(single: Sequence[P], difference: Sequence[P], min_tiles: int = 1) -> P:
    """Of the statistics pooled per size of ``tile_sizes`` (single frames, frame differences): at the
    main size where it measured ``min_tiles`` flat tiles (single or differences), else at the smaller
    size where that one did, else as if ``min_tiles`` were 1 (the smaller tiles where only they measured
    one, or where neither size did and only they saw one, left out as not grain-like: the reason then
    says so); at that size, the frame differences where they had a flat tile, else the single frames.
    The look metrics take any tile (1); a grain profile wants more (``grain.outliers.MIN_TILES``)."""

    def seen(k: int) -> bool:
        return single[k].flat_tiles + single[k].structured_tiles > 0

    if len(single) > 1 and min_tiles > 1 and measured(single, difference, 0, min_tiles):
        small = False
    elif len(single) > 1 and min_tiles > 1 and measured(single, difference, 1, min_tiles):
        small = True
    else:
        small = len(single) > 1 and (
            (not measured(single, difference, 0) and measured(single, difference, 1))
            or (not measured(single, difference, 1) and not seen(0) and seen(1))
        )
    k = 1 if small else 0
    return difference[k] if difference[k].flat_tiles else single[k]


GRAIN_CLIP = 4.0
"""Robust standard deviations (1.4826 x the median absolute deviation, per tile and channel) beyond which
a residual pixel is clipped before it is measured (``winsorised``)."""


def winsorised(residual_tiles: np.ndarray) -> np.ndarray:
    """float32 (n, t, t, C) residual tiles with each tile's and channel's pixels clipped to its median
    +- ``GRAIN_CLIP`` robust standard deviations. Grain is close to Gaussian: a 4-sigma clip leaves 6 in
    100 000 pixels and their variance alone. What a flat tile holds besides grain is sparse and strong:
    faint stars in a night sky, which a bilinear warp blurs in the earlier frame so that the difference
    keeps them (a star field's shot read 3.3 times the finest band power of the same stock's brighter
    shots, and a profile measured with one put 4 times the film's finest grain on every other shot:
    ``bench/grain.py`` seeds 1 and 7)."""
    x = np.asarray(residual_tiles, np.float32)
    if x.size == 0:
        return x
    med = np.median(x, axis=(1, 2), keepdims=True)
    spread = np.float32(1.4826 * GRAIN_CLIP) * np.median(np.abs(x - med), axis=(1, 2), keepdims=True)
    return np.clip(x, med - spread, med + spread).astype(np.float32, copy=False)


GRAIN_KURTOSIS = 2.0
"""Excess kurtosis (the mean over channels) of a flat tile's reference residual above which the tile is
taken to hold sparse picture structure rather than grain (``grain_like``)."""
CLIPPED_KURTOSIS = 8.0
"""The same for a single frame's tile where the picture clips (``clipped_tiles``)."""
CLIPPED_DIFFERENCE_KURTOSIS = 3.0
"""The same for a frame difference's tile where the picture clips."""
STRUCTURED_SHARE = 0.5
"""The share of a frame's flat tiles left out as not grain-like above which all of them are: a picture
speckled all over (a star field), whose few tiles under the limit are the least speckled of the same
picture, not clean grain (the star field's 4 of 208 read 73 % picture)."""
CLIP_SHARE = 0.01
"""The share of a tile's pixels at the ends of the code range (``clipped_tiles``) from which its grain is
taken to be clipped."""


def clipped_tiles(frame: np.ndarray, tile: int) -> np.ndarray:
    """bool (rows, cols): the ``tile`` px tiles of ``frame`` (float32 (H, W, 3), 0..1) with at least
    ``CLIP_SHARE`` of their pixels at black or white in some channel (within 1/1023 of 0 or 1: a
    10-bit code value): grain clipped there is no longer Gaussian."""
    edge = np.float32(1.0 / 1023.0)
    at_end = np.asarray(((frame <= edge) | (frame >= 1.0 - edge)).any(axis=-1))
    return tiles(at_end, tile).mean(axis=(2, 3)) >= CLIP_SHARE


def not_grain_like(count: int, tile: int) -> str:
    """Why nothing was measured when every one of ``count`` flat ``tile`` px tiles failed ``grain_like``."""
    return (
        f"all {count} flat {tile} px tiles hold sparse fine structure (stars, specks: far from Gaussian), "
        "which would read as grain"
    )


def grain_like(residual_tiles: np.ndarray, floor: float, limit: np.ndarray | float) -> np.ndarray:
    """bool (n,): which of the residual tiles (float32 (n, t, t, C), one picture's, before
    ``winsorised``) look like grain: an excess kurtosis (fourth moment over the squared variance, less 3;
    the mean over channels) of at most ``limit`` (per tile, float (n,), or one for all), or an RMS under
    ``floor`` (no grain to measure, nothing to mistake for it: an 8-bit digital source's residual of a
    few code values is far from Gaussian).

    Grain is the sum of many small dye clouds, close to Gaussian: an excess kurtosis of 0 (+-0.15 on a
    32 px tile, the estimate's spread; up to 1 where a little of the picture's texture survives);
    ``GRAIN_KURTOSIS``. Where black or white clips it (``clipped_tiles``) it is not: the synthetic film's
    grain at code value 0 or 1 read 2.3 (at most 6.1 in 2560 tiles of 32 px) on single frames, 1.1 (at
    most 2.5) on frame differences; ``CLIPPED_KURTOSIS``, ``CLIPPED_DIFFERENCE_KURTOSIS``. A flat tile of
    a star field, or of a picture speckled with fine detail, holds sparse peaks and their rings, which
    no warp cancels exactly in a frame difference: on the synthetic reels' star field (a dark Hubble deep
    field, level 0.05, partly clipped) single frames read 30-80 and differences 4-40 (where the picture
    is 73-91 % of the finest band's power), and a profile that counted them put four times the film's
    finest grain on every other shot. Clipping the peaks (``winsorised``) leaves the fainter ones: the
    tile is left out instead, and where a shot has no other flat tile its grain is reported as not
    measurable."""
    x = np.asarray(residual_tiles, np.float64)
    if x.shape[0] == 0:
        return np.zeros(0, bool)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    var = np.mean(x * x, axis=(1, 2))
    fourth = np.mean(x**4, axis=(1, 2))
    excess = np.divide(fourth, var * var, out=np.full_like(var, 3.0), where=var > 0) - 3.0
    return (np.sqrt(var.mean(axis=1)) < floor) | (excess.mean(axis=1) <= limit)


def _sample(
    residual_tiles: Sequence[np.ndarray], level_tiles: np.ndarray, clipped: np.ndarray,
    divisor: np.ndarray | None, tile_count: int, floor: float,
) -> GrainSample:  # fmt: skip
    """The grain-like tiles (``grain_like`` on the LAST of ``residual_tiles``, the reference's; ``clipped``
    bool (n,) where the picture clips) of the candidate tiles, winsorised, none where most are not
    (``STRUCTURED_SHARE``); a frame difference's where ``divisor`` is given."""
    loose = CLIPPED_KURTOSIS if divisor is None else CLIPPED_DIFFERENCE_KURTOSIS
    keep = grain_like(residual_tiles[-1], floor, np.where(clipped, loose, GRAIN_KURTOSIS))
    if keep.size - np.count_nonzero(keep) > STRUCTURED_SHARE * keep.size:
        keep[:] = False
    return GrainSample(
        residuals=tuple(winsorised(r[keep]) for r in residual_tiles),
        level=np.ascontiguousarray(level_tiles[keep]),
        divisor=None if divisor is None else divisor[keep],
        tiles=tile_count,
        structured=int(keep.size - np.count_nonzero(keep)),
    )


def single_frame_sample(
    residuals: Sequence[np.ndarray], level: np.ndarray, flat: np.ndarray, clipped: np.ndarray,
    params: LookParams,
) -> GrainSample:  # fmt: skip
    """The flat, grain-like tiles of one frame's residuals (float32 (H, W, 3) each, ``regions.highpass``;
    the LAST is the reference's, which decides ``grain_like``); ``level`` float32 (H, W), ``flat`` and
    ``clipped`` bool (rows, cols) of ``params.tile`` px tiles (``regions.flat_tiles``,
    ``clipped_tiles``), all from the reference."""
    t = params.tile
    return _sample(
        [tiles(r, t)[flat] for r in residuals], tiles(level, t)[flat], clipped[flat], None, int(flat.size),
        params.grain_floor,
    )  # fmt: skip


MODEL_AGREEMENT = 0.5
"""px: the median distance between a tile's trusted flow and the global motion below which the tile
follows the global motion (precise) rather than its own flow (noisy)."""


@dataclass(frozen=True)
class Difference:
    """Frame t-1 moved onto frame t along ``frame_difference``'s maps: what the difference's samples
    (``difference_sample``'s tiles, ``window_sample``'s windows) are cut from.

    Attributes:
        map_x, map_y: float32 (H, W) sampling maps into frame t-1, for ``cv2.remap``.
        residuals: per picture, float32 (H, W, 3): the high-pass residual of ``current - warp(previous)``;
            the LAST picture is the reference.
        source_level: float32 (H, W): the reference's smoothed luma at t-1, moved along the maps.
        inside: bool (H, W): where the maps sample inside frame t-1.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    residuals: tuple[np.ndarray, ...]
    source_level: np.ndarray
    inside: np.ndarray

    def measurable(self, flat: np.ndarray, size: int, flat_gradient: float) -> np.ndarray:
        """bool (rows, cols): of the ``size`` px tiles ``flat`` at frame t, those whose pixels come from
        inside frame t-1 where it was flat too: a cut, an occlusion or a tile the motion got wrong brings
        structure from elsewhere, which the flatness of its source rules out."""
        source_flat = tile_gradient(self.source_level, size) < flat_gradient
        return flat & tiles(self.inside, size).all(axis=(2, 3)) & source_flat


def frame_difference(
    previous: Sequence[np.ndarray], current: Sequence[np.ndarray], previous_level: np.ndarray,
    motion: Motion, params: LookParams,
) -> Difference:  # fmt: skip
    """``previous`` (per picture, float32 (H, W, 3) frame t-1, 0..1 R'G'B'; the LAST picture the
    reference) moved onto ``current`` (frame t) along where each ``params.tile`` px tile's pixels were in
    frame t-1, and the difference's high-pass residuals; ``previous_level``: float32 (H, W), the
    reference's smoothed luma at t-1; ``motion``: the reference's motion from t-1 to t.

    A tile follows the frame's global motion (``Motion.model``: fitted to the whole picture, far less
    noisy than the flow of a tile that holds little to track) unless its trusted flow says it moves
    otherwise: every pixel of it trusted and the flow's median distance to the global motion over
    ``MODEL_AGREEMENT`` px (a moving object). A tile the flow does not fully trust (an occlusion, or a
    flat area where the flow is whatever the grain suggests) follows the global motion.
    """
    t = params.tile
    h, w = motion.valid.shape
    rows, cols = h // t, w // t
    map_x, map_y = motion.model_maps()
    if rows and cols:  # a picture of one tile or more
        model_x, model_y = map_x, map_y
        fully_trusted = tiles(motion.valid, t).all(axis=(2, 3))
        apart = np.hypot(tiles(motion.map_x - model_x, t), tiles(motion.map_y - model_y, t))
        own = fully_trusted & (np.median(apart, axis=(2, 3)) > MODEL_AGREEMENT)
        per_px = np.zeros((h, w), bool)
        per_px[: rows * t, : cols * t] = np.repeat(np.repeat(own, t, axis=0), t, axis=1)
        map_x = np.where(per_px, motion.map_x, model_x).astype(np.float32)
        map_y = np.where(per_px, motion.map_y, model_y).astype(np.float32)
    residuals = []
    for prev, cur in zip(previous, current, strict=True):
        moved = cv2.remap(prev, map_x, map_y, WARP, borderMode=cv2.BORDER_REPLICATE)
        residuals.append(highpass((cur - moved).astype(np.float32, copy=False), params.smooth_sigma)[0])
    return Difference(
        map_x=map_x,
        map_y=map_y,
        residuals=tuple(residuals),
        source_level=cv2.remap(
            previous_level, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ),
        inside=(map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1),
    )


def difference_sample(
    difference: Difference, level: np.ndarray, flat: np.ndarray, params: LookParams, clipped: np.ndarray
) -> GrainSample:
    """The measurable flat tiles (``Difference.measurable``) of a frame difference (``frame_difference``
    with these ``params``), those whose reference difference is grain-like (``grain_like``).

    Args:
        level: float32 (H, W), the reference's smoothed luma at frame t; flat: bool (rows, cols), its flat
            tiles of ``params.tile`` px.
        clipped: bool (rows, cols), the reference's clipped tiles at frame t (``clipped_tiles``).
    """
    t = params.tile
    use = difference.measurable(flat, t, params.flat_gradient)
    residuals = [tiles(r, t)[use] for r in difference.residuals]
    divisor = 1.0 + warp_transfer(tiles(difference.map_x, t)[use], tiles(difference.map_y, t)[use])
    return _sample(residuals, tiles(level, t)[use], clipped[use], divisor, int(flat.size), params.grain_floor)


def window_sample(
    difference: Difference, level: np.ndarray, params: LookParams, usable: np.ndarray, clipped: np.ndarray
) -> GrainSample:
    """The flat windows of ``params.level_window`` px of a frame difference (``frame_difference`` with
    these ``params``) whose reference difference is grain-like: what the grain's LEVEL RESPONSE is
    measured on (a profile's spectrum needs whole tiles, ``difference_sample``).

    A picture with structure nearly everywhere (a face, a street, fur) holds no flat 64 px tile at most
    of its levels, but flat windows of a few px between its edges at nearly all of them: measured on
    ``bench/grain.py``'s seeds 35 and 40, the training film's flat tiles held one or two of the five
    level bins, its flat 16 px windows all five, and the grain's RMS there read within 0.8-1.05 of the
    true stock's level response (relative to the bin the tiles measured). A window follows the maps of
    the tile it lies in; it is measured where it is flat (the same ``flat_gradient`` rule, on the
    window) at frame t and ``Difference.measurable``, and is ``usable`` (bool (rows, cols) of windows: the
    caller's, e.g. not too many non-finite pixels). A window where black or white clips the grain
    (``clipped``: bool (rows, cols), the reference's ``clipped_tiles`` of windows) is measured as it is,
    less than the stock would give unclipped (seed 41's film at luma 0.025: 0.56 of it); leaving such
    windows out left the darkest levels of other films (42, 40) to the nearest brighter level, further
    off.

    Args:
        level: float32 (H, W), the reference's smoothed luma at frame t.
    """
    w = params.level_window
    flat = tile_gradient(level, w) < params.flat_gradient
    use = difference.measurable(flat, w, params.flat_gradient) & usable
    residuals = [tiles(r, w)[use] for r in difference.residuals]
    divisor = 1.0 + warp_transfer(tiles(difference.map_x, w)[use], tiles(difference.map_y, w)[use])
    return _sample(residuals, tiles(level, w)[use], clipped[use], divisor, int(flat.size), params.grain_floor)


def _lanczos4_weights(frac: np.ndarray) -> np.ndarray:
    """float64 (n, 8): OpenCV's Lanczos-4 weights at taps -3..4 for fractions ``frac`` (float64 (n,)),
    normalised to sum to 1."""
    d = frac[:, None] - np.arange(-3, 5, dtype=np.float64)[None, :]
    w = np.sinc(d) * np.sinc(d / 4.0)
    return w / w.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def _axis_transfer(tile: int) -> np.ndarray:
    """float64 (WARP_STEPS, tile): the power each quantised fraction's 1-D interpolator passes at the
    DFT frequencies of a ``tile`` px tile (fftfreq order)."""
    w = _lanczos4_weights(np.arange(WARP_STEPS, dtype=np.float64) / WARP_STEPS)
    angle = 2.0 * np.pi * np.outer(np.arange(-3, 5), np.fft.fftfreq(tile))
    return (w @ np.cos(angle)) ** 2 + (w @ np.sin(angle)) ** 2  # |sum_k w_k exp(-2 pi i f k)|^2


def _steps(positions: np.ndarray) -> np.ndarray:
    """int32: the quantised fraction (0..WARP_STEPS-1) ``cv2.remap`` interpolates at, from float32 positions
    (rounded in float32, half to even, as OpenCV does)."""
    scaled = np.rint(np.asarray(positions, np.float32) * np.float32(WARP_STEPS))
    return scaled.astype(np.int32) & (WARP_STEPS - 1)


def warp_transfer(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Mean power transfer of ``WARP`` resampling at the sub-pixel positions of each tile: float64
    (n, t, t) (axis 1 vertical, axis 2 horizontal frequency, fftfreq order) from float32 (n, t, t)
    sampling maps: ``T(fy, fx) = sum_ij h_ij X_i(fx) X_j(fy)``, ``h`` the tile's joint histogram of the
    quantised horizontal (i) and vertical (j) fractions, ``X_q(f)`` the 1-D interpolator's power transfer
    at fraction ``q`` (``_axis_transfer``)."""
    n, t = map_x.shape[0], map_x.shape[1]
    if n == 0:
        return np.zeros((0, t, map_x.shape[2]), np.float64)
    bins = WARP_STEPS * WARP_STEPS
    joint = (_steps(map_x) * WARP_STEPS + _steps(map_y)).reshape(n, -1)
    joint += (np.arange(n, dtype=np.int32) * bins)[:, None]
    share = np.bincount(joint.ravel(), minlength=n * bins).reshape(n, WARP_STEPS, WARP_STEPS) / joint.shape[1]
    # sum_ij share_ij X_i(fx) X_j(fy): over j first (vertical), then i (horizontal)
    return np.matmul(np.matmul(share, _axis_transfer(t)).transpose(0, 2, 1), _axis_transfer(map_x.shape[2]))
