"""A film stock's grain, measured from scans: its spectrum and level response per channel.

``estimate_profile(frames)`` measures the grain of film scans where and as ``remaster_core.look``
measures it (the same ``LookParams``): the high-pass residual (``frame - GaussianBlur(frame,
smooth_sigma)``) in the scan's flat tiles, of the motion-compensated difference of a frame and the one
before it in its shot wherever two are given (the picture's fine structure cancels and the grain of one
frame is read back: ``remaster_core.look.grain_sample``), of single frames otherwise. From it, per
channel R, G, B:

- **spectrum**: the grain's noise power spectral density (code value^2 per (cycle/px)^2, white noise of
  variance s^2 reads s^2 everywhere) as a function of the radial frequency, sampled at ``k / tile``
  cycles/px for ``k = 0 .. len - 1`` (up to the corner of the spectrum, ``1/sqrt(2)``). The residual's
  spectrum is the grain's times the high-pass's power transfer ``H(f) = (1 - G(fx) G(fy))^2`` (``G``: the
  1-D transfer of the very Gaussian kernel OpenCV applies); it is divided by ``H`` where ``H >=
  MIN_TRANSFER`` (above about 1/11 cycle/px at the default 3 px), and the rings below take the value of
  the lowest measured ring (grain is flat or falling towards low frequencies; what a flat tile's residual
  holds there is mostly the picture's own fine structure, which dividing by a small ``H`` would blow up).
  A profile measured on single frames also has its rings below ``FIT_BAND`` bounded by the grain's
  fitted fall-off (``_bound_low_frequencies``: the picture's structure rises there); one measured on
  frame differences, where the structure has cancelled, keeps them as measured (on ``bench/grain.py``'s
  seeds the bound had held the coarse octave band of the synthesised grain at about 0.8 of the
  film's). The grain's variance is the spectrum's integral over the unit square.
- **level response**: the grain's RMS per signal level (``LookParams.profile_level_edges``, bins of 0.1 in
  the luma of the smoothed scan) over its RMS in the flat tiles the spectrum was measured on: a gain
  per level bin and channel, 1 where the grain is as in those tiles. Where frame differences are given
  it is measured in the flat WINDOWS of ``LookParams.level_window`` px of the differences
  (``look.grain_sample.window_sample``), which fit between a picture's edges at nearly every level
  where a flat 64 px tile fits at one or two (``bench/grain_profile.py`` seeds 35 and 40: the training
  film's flat tiles held one and two levels of five, its windows every one, the grain's RMS there within
  0.95-1.05 of the true stock's between luma 0.05 and 0.9, less near black, where the film's grain
  clips); on single frames, in the flat tiles. Each bin's gain stands for the mean level of the pixels it
  was measured on (``level_position``: flat regions need not fill a bin evenly; near black they may all
  lie at its dark end), and synthesis interpolates between those levels. Bins with fewer than
  ``min_level_pixels`` pixels between measured ones lie between the line joining those and the measured
  slopes carried into the gap (``_between``), and beyond the last (or first) one follow the two measured
  bins nearest it, never above the nearest (``_beyond``; both in ``_level_gains``).
- **correlation**: the 3x3 correlation of the channels' residuals (film grain is largely shared by the
  three dye layers; a scanner's noise is not).

Flat tiles are looked for at ``LookParams.tile`` (64 px) and, where the scans show fewer than
``outliers.MIN_TILES`` of that size (a picture textured all over: measured on the tiny reels, whose
480x360 film frames hold 35 such tiles), at half that size (``FALLBACK_TILE``, 32 px: four times as many
tiles, each fitting between the picture's edges more often; spectral rings 1/32 cycle/px apart) where
those are enough. The profile records the tile it was measured on; synthesis and the look metrics need
nothing else.

The tiles are pooled (the spectrum averaged, the level response and the correlation summed) over those
whose spectral shape is the grain's (``outliers.consistent_tiles``): a tile where some of the picture
survived adds power in one band and, pooled with the others, was taken for grain everywhere.
``flat_tiles`` counts the tiles kept.

Non-finite pixels (NaN or Inf in a scan: a bad decode, a dead pixel, a masked area) are filled from
their finite neighbours (``fill_non_finite``) and a tile is measured only while at most
``MAX_NON_FINITE`` of its pixels were filled (a filled pixel carries no grain: the tile reads up to that
share less grain power). Before, a scan with NaN pixels scattered over it had no tile that measured,
and the run said its film had no grain.

A channel whose residual RMS is below ``LookParams.grain_floor`` (a digital source, or a channel
without grain) has a zero spectrum: ``rms`` 0, nothing is synthesised in it. A profile whose channels
are all zero ``is_zero``; so is the profile of scans without a flat tile of either size (``reason``
says why).

``GrainProfile`` is a small frozen dataclass, JSON-able (``to_dict``/``from_dict``, validated); it is
stored in the training run (``RUN/grain.json``, ``write_profile``/``read_profile``) and in the exported
model's metadata (``remaster.grain_profile``), and ``remaster_core.grain.synthesis`` draws grain from it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remaster_core.errors import InputError
from remaster_core.grain.outliers import MIN_TILES, consistent_tiles
from remaster_core.io.atomic import write_text_atomic
from remaster_core.look.grain import band_power, tile_grain_power
from remaster_core.look.grain_sample import (
    GrainSample,
    chosen,
    clipped_tiles,
    difference_sample,
    frame_difference,
    measured,
    not_grain_like,
    single_frame_sample,
    tile_sizes,
    window_sample,
)
from remaster_core.look.motion import motion_between
from remaster_core.look.regions import (
    CHANNELS,
    LookParams,
    flat_tiles,
    gaussian,
    highpass,
    luma,
    tiles,
)

PROFILE_VERSION = 1

MAX_NON_FINITE = 0.05
"""The largest share of a tile's pixels that may be non-finite (filled, ``fill_non_finite``) for the tile
to be measured; the tile's grain power reads low by up to that share."""
GRAIN_FILE = "grain.json"
"""The profile's file in a training run folder."""
MIN_TRANSFER = 0.5
"""The smallest high-pass power transfer a ring's residual spectrum is divided by (see the docstring)."""
MIN_GAIN = 1e-3
"""The weakest level gain a profile holds (its format wants positive gains): no visible grain, where the
measured fall-off towards black or white, carried on past the last measured level, reaches 0."""
FIT_BAND = (0.2, 0.45)
"""cycles/px: the rings the grain's fall-off is fitted on to bound the lower ones (``_bound_low_frequencies``)."""


@dataclass(frozen=True)
class GrainProfile:
    """One film stock's grain (see the module docstring). Hashable: synthesis caches its filters by it.

    Attributes:
        tile: px, the tile the spectrum was measured on (rings are ``1 / tile`` cycles/px apart).
        smooth_sigma: px, the Gaussian of the high-pass (the level is the luma of the picture blurred by it).
        spectrum: per channel (R, G, B), the PSD at ``k / tile`` cycles/px, ``k = 0 ..``; >= 0.
        level_edges: luma bin edges of the level response (increasing).
        level_gain: per level bin, per channel, the RMS there over the RMS of all flat pixels; > 0.
        correlation: 3x3 correlation of the channels (symmetric, unit diagonal, positive definite).
        frames: scan frames measured; flat_tiles: flat tiles they had.
        temporal: measured on motion-compensated frame differences (the picture's own structure
            cancelled), else on single frames.
        reason: why the profile is zero when nothing could be measured, else None.
        level_measured: per level bin, whether the scans had enough flat pixels there to measure the
            grain (``min_level_pixels``); the others' gain is a guess from the measured ones, an
            extrapolation (``synthesis.unmeasured_share`` tells a render how much of a frame lies
            there). None: not recorded (a profile written before it was).
        level_position: per level bin, the luma its gain stands for: the mean level of the pixels it was
            measured on (a bin's pixels need not fill it evenly: near black the flat regions of a 0-0.1 bin
            may lie at 0.01 on average), the bin's centre where it was not measured; within the bin,
            increasing. Synthesis interpolates the gains between these. None: the bins' centres (a
            profile written before it was recorded).
    """

    tile: int
    smooth_sigma: float
    spectrum: tuple[tuple[float, ...], ...]
    level_edges: tuple[float, ...]
    level_gain: tuple[tuple[float, ...], ...]
    correlation: tuple[tuple[float, ...], ...]
    frames: int = 0
    flat_tiles: int = 0
    temporal: bool = False
    reason: str | None = None
    version: int = field(default=PROFILE_VERSION)
    level_measured: tuple[bool, ...] | None = None
    level_position: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spectrum", tuple(tuple(float(v) for v in ch) for ch in self.spectrum))
        object.__setattr__(self, "level_edges", tuple(float(v) for v in self.level_edges))
        object.__setattr__(self, "level_gain", tuple(tuple(float(v) for v in b) for b in self.level_gain))
        object.__setattr__(self, "correlation", tuple(tuple(float(v) for v in r) for r in self.correlation))
        if self.level_measured is not None:
            _check(
                isinstance(self.level_measured, (tuple, list))
                and all(isinstance(v, bool) for v in self.level_measured),
                "level_measured", "must be a list of true/false, one per level bin",
            )  # fmt: skip
            object.__setattr__(self, "level_measured", tuple(self.level_measured))
        if self.level_position is not None:
            _check(
                isinstance(self.level_position, (tuple, list))
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.level_position),
                "level_position", "must be a list of numbers, one per level bin",
            )  # fmt: skip
            object.__setattr__(self, "level_position", tuple(float(v) for v in self.level_position))
        _check(
            self.version == PROFILE_VERSION, "version", f"is {self.version!r}, this reads {PROFILE_VERSION}"
        )
        _check(
            isinstance(self.tile, int) and 8 <= self.tile <= 1024,
            "tile",
            f"must be 8..1024, got {self.tile!r}",
        )
        _check(math.isfinite(self.smooth_sigma) and self.smooth_sigma > 0, "smooth_sigma", "must be > 0")
        rings = {len(ch) for ch in self.spectrum}
        _check(len(self.spectrum) == 3 and len(rings) == 1, "spectrum", "must hold 3 channels of one length")
        _check(rings.pop() >= 2, "spectrum", "needs at least 2 rings")
        values = [v for ch in self.spectrum for v in ch]
        _check(all(math.isfinite(v) and v >= 0 for v in values), "spectrum", "must be finite and >= 0")
        edges = self.level_edges
        _check(
            len(edges) >= 2 and all(math.isfinite(e) for e in edges) and all(a < b for a, b in itertools.pairwise(edges)),
            "level_edges", "must be 2 or more increasing numbers",
        )  # fmt: skip
        _check(
            len(self.level_gain) == len(edges) - 1
            and all(len(b) == 3 and all(math.isfinite(g) and g > 0 for g in b) for b in self.level_gain),
            "level_gain", f"must be {len(edges) - 1} bins of 3 positive numbers",
        )  # fmt: skip
        _check(
            self.level_measured is None or len(self.level_measured) == len(edges) - 1,
            "level_measured", f"must hold {len(edges) - 1} bins",
        )  # fmt: skip
        where = self.level_position
        _check(
            where is None
            or (
                len(where) == len(edges) - 1
                and all(lo <= x <= hi for x, lo, hi in zip(where, edges[:-1], edges[1:], strict=True))
                and all(a < b for a, b in itertools.pairwise(where))
            ),
            "level_position", f"must hold {len(edges) - 1} increasing levels, each within its bin",
        )  # fmt: skip
        c = np.asarray(self.correlation, dtype=np.float64)
        ok = c.shape == (3, 3) and bool(np.all(np.isfinite(c)))
        ok = ok and np.allclose(c, c.T, atol=1e-9) and np.allclose(np.diag(c), 1.0, atol=1e-9)
        ok = ok and bool(np.all(np.linalg.eigvalsh(c) > 0)) if ok else False
        _check(ok, "correlation", "must be a symmetric 3x3 matrix with a unit diagonal, positive definite")
        _check(self.frames >= 0 and self.flat_tiles >= 0, "frames", "counts must be >= 0")

    @property
    def rms(self) -> tuple[float, float, float]:
        """The grain's RMS per channel (code values): the spectrum's integral over the unit square."""
        return tuple(float(math.sqrt(v)) for v in _variances(self))  # type: ignore[return-value]

    @property
    def is_zero(self) -> bool:
        """No grain in any channel: nothing to synthesise."""
        return all(max(ch) == 0.0 for ch in self.spectrum)

    def unmeasured_ranges(self) -> list[tuple[float, float]]:
        """The level (luma) ranges where the grain was never measured (``level_measured``), adjacent bins
        merged, in order; empty when every bin was, or when the profile does not record it."""
        if self.level_measured is None:
            return []
        out: list[tuple[float, float]] = []
        for k, seen in enumerate(self.level_measured):
            lo, hi = self.level_edges[k], self.level_edges[k + 1]
            if seen:
                continue
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; ``rms`` is written for people (``from_dict`` ignores it)."""
        return {
            "version": self.version,
            "tile": self.tile,
            "smooth_sigma": self.smooth_sigma,
            "spectrum": {n: list(ch) for n, ch in zip(CHANNELS, self.spectrum, strict=True)},
            "level_edges": list(self.level_edges),
            "level_gain": [list(b) for b in self.level_gain],
            "correlation": [list(r) for r in self.correlation],
            "rms": dict(zip(CHANNELS, self.rms, strict=True)),
            "frames": self.frames,
            "flat_tiles": self.flat_tiles,
            "temporal": self.temporal,
            "reason": self.reason,
            "level_measured": list(self.level_measured) if self.level_measured is not None else None,
            "level_position": list(self.level_position) if self.level_position is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "grain profile") -> GrainProfile:
        """The profile ``to_dict`` wrote.

        Raises:
            InputError: a missing or wrong field, named with ``where`` (the file or metadata key).
        """
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: expected a JSON object, got {type(data).__name__}")
        try:
            spectrum = data["spectrum"]
            return cls(
                tile=int(data["tile"]),
                smooth_sigma=float(data["smooth_sigma"]),
                spectrum=tuple(tuple(spectrum[n]) for n in CHANNELS),
                level_edges=tuple(data["level_edges"]),
                level_gain=tuple(tuple(b) for b in data["level_gain"]),
                correlation=tuple(tuple(r) for r in data["correlation"]),
                frames=int(data.get("frames", 0)),
                flat_tiles=int(data.get("flat_tiles", 0)),
                temporal=bool(data.get("temporal", False)),
                reason=data.get("reason"),
                version=int(data.get("version", -1)),
                level_measured=_optional_list(data.get("level_measured"), "level_measured"),
                level_position=_optional_list(data.get("level_position"), "level_position"),
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{where}: not a grain profile ({type(exc).__name__}: {exc}); it is written by `remaster train` "
                f"({GRAIN_FILE} in the run folder)"
            ) from None


def _optional_list(value: Any, name: str) -> tuple[Any, ...] | None:
    """An optional per-bin list field as read from JSON: None when absent or null; a list stays a tuple
    (its items checked by ``GrainProfile``)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"grain profile field {name!r} must be a list, got {type(value).__name__}")
    return tuple(value)


def level_bins(level: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """int64 (level.size,): the level bin (0 .. len(edges) - 2) of each value of ``level`` (float32, any
    shape, luma 0..1), bins bounded by ``edges``; values beyond the outer edges go to the outer bins."""
    return np.digitize(np.asarray(level).ravel(), np.asarray(edges[1:-1], np.float32))


def _check(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise InputError(f"grain profile field {name!r} {what}")


def zero_profile(reason: str, params: LookParams | None = None, frames: int = 0) -> GrainProfile:
    """A profile of no grain (nothing is synthesised from it), with the reason."""
    p = params or LookParams()
    rings = ring_count(p.tile)
    return GrainProfile(
        tile=p.tile,
        smooth_sigma=p.smooth_sigma,
        spectrum=((0.0,) * rings,) * 3,
        level_edges=p.profile_level_edges,
        level_gain=((1.0, 1.0, 1.0),) * (len(p.profile_level_edges) - 1),
        correlation=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        frames=frames,
        reason=reason,
    )


def ring_count(tile: int) -> int:
    """Rings ``k / tile`` of a spectrum up to the corner of the unit square: ``round(tile / sqrt(2)) + 1``."""
    return round(tile * math.sqrt(0.5)) + 1


@functools.lru_cache(maxsize=8)
def _variances(profile: GrainProfile) -> tuple[float, ...]:
    radius = _radius_grid(profile.tile) * profile.tile
    k = np.arange(len(profile.spectrum[0]), dtype=np.float64)
    return tuple(float(np.interp(radius, k, np.asarray(ch)).mean()) for ch in profile.spectrum)


@functools.lru_cache(maxsize=4)
def _radius_grid(tile: int) -> np.ndarray:
    f = np.fft.fftfreq(tile)
    return np.hypot(f[:, None], f[None, :])


@functools.lru_cache(maxsize=4)
def _ring_of_bins(tile: int) -> np.ndarray:
    """int64 (T, T): the ring ``k`` (``k / tile`` cycles/px) of each DFT bin of a ``tile`` px spectrum."""
    return np.rint(_radius_grid(tile) * tile).astype(np.int64)


@functools.lru_cache(maxsize=4)
def highpass_transfer(tile: int, sigma: float) -> np.ndarray:
    """Power transfer (tile, tile) of ``regions.highpass`` at the DFT frequencies of a tile (fftfreq order):
    ``(1 - G(fx) G(fy))^2``, G the 1-D transfer of OpenCV's Gaussian kernel for ``sigma`` (float32 images)."""
    ksize = round(sigma * 8 + 1) | 1
    kernel = cv2.getGaussianKernel(ksize, sigma, cv2.CV_64F).ravel()
    n = np.arange(ksize) - ksize // 2
    f = np.fft.fftfreq(tile)
    g = (kernel[None, :] * np.cos(2 * np.pi * f[:, None] * n[None, :])).sum(axis=1)
    return (1.0 - g[:, None] * g[None, :]) ** 2


@dataclass
class _Stats:
    """The per-tile statistics of one way of sampling (single frames or frame differences) at one tile
    size, pooled over the tiles ``outliers.consistent_tiles`` keeps when the profile is made."""

    params: LookParams
    temporal: bool
    structured_tiles: int = 0  # flat tiles left out as not grain-like (``grain_sample.grain_like``)
    rings: list[np.ndarray] = field(default_factory=list)  # (n, rings, 3) each tile's grain PSD per ring
    bands: list[np.ndarray] = field(default_factory=list)  # (n, 3) the deciding picture's band powers
    cross: list[np.ndarray] = field(default_factory=list)  # (n, 3, 3) sums of r_i r_j
    level_sq: list[np.ndarray] = field(default_factory=list)  # (n, bins, 3) sums of residual^2
    level_pixels: list[np.ndarray] = field(default_factory=list)  # (n, bins)
    level_sum: list[np.ndarray] = field(default_factory=list)  # (n, bins) sums of the pixels' levels
    flat_tiles: int = 0

    def add(self, sample: GrainSample) -> None:
        self.structured_tiles += sample.structured
        n = sample.count
        if n == 0:
            return
        self.flat_tiles += n
        p = self.params
        res = sample.residuals[0]  # (n, t, t, 3): the frame's (a reference's, when given, is last)
        psd, pixel_scale = tile_grain_power(res, sample.divisor)
        self.rings.append(_ring_means(psd, p))
        # the tiles are judged on the reference's grain where there is one: a model's output is then
        # measured on the tiles its film's profile was
        deciding = (
            psd if len(sample.residuals) == 1 else tile_grain_power(sample.residuals[-1], sample.divisor)[0]
        )
        self.bands.append(
            np.stack([band_power(deciding, lo, hi).mean(axis=-1) for lo, hi in p.bands], axis=1)
        )
        # one frame's grain
        flat_res = res.reshape(n, -1, 3).astype(np.float64) * np.sqrt(pixel_scale)[:, None, :]
        self.cross.append(np.einsum("npi,npj->nij", flat_res, flat_res))
        sq, pixels, levels = _level_sums(flat_res, sample.level, p.profile_level_edges)
        self.level_sq.append(sq)
        self.level_pixels.append(pixels)
        self.level_sum.append(levels)

    def result(self, frames: int, windows: _LevelSums | None = None) -> GrainProfile:
        """The profile of the pooled tiles; its level response from ``windows`` (flat windows of frame
        differences: ``look.grain_sample.window_sample``) where those measured one, else from the tiles."""
        p = self.params
        if self.flat_tiles == 0:
            if self.structured_tiles:
                reason = f"no grain-like flat region in {frames} scan frame(s): " + not_grain_like(
                    self.structured_tiles, p.tile
                )
            else:
                reason = (
                    f"no flat region in {frames} scan frame(s): no {p.tile} px tile has an RMS gradient "
                    f"below {p.flat_gradient} code values/px, so the grain could not be told from the picture"
                )
            return zero_profile(reason, p, frames)
        keep = consistent_tiles(np.concatenate(self.bands))
        cross = np.concatenate(self.cross)[keep].sum(axis=0)
        level_sq = np.concatenate(self.level_sq)[keep].sum(axis=0)
        level_pixels = np.concatenate(self.level_pixels)[keep].sum(axis=0)
        level_sum = np.concatenate(self.level_sum)[keep].sum(axis=0)
        pixels = int(level_pixels.sum())
        residual_rms = np.sqrt(np.diag(cross) / pixels)
        has_grain = residual_rms >= p.grain_floor
        if not has_grain.any():
            return zero_profile(
                f"no grain: the scans' residual RMS in flat regions is {residual_rms.max():.2g} code values, below "
                f"{p.grain_floor} (a digital source, or grain removed)",
                p, frames,
            )  # fmt: skip
        spectrum = _fill_rings(np.concatenate(self.rings)[keep].mean(axis=0), p, bound=not self.temporal)
        spectrum[:, ~has_grain] = 0.0
        if windows is None or not windows.measured(p.min_level_pixels).any():
            windows = _LevelSums.of(p.profile_level_edges, level_sq, level_pixels, level_sum)
        gains, measured_bins, positions = _level_gains(windows, p.min_level_pixels, level_pixels)
        scale = np.sqrt(np.outer(np.diag(cross), np.diag(cross)))
        corr = np.divide(cross, scale, out=np.zeros((3, 3)), where=scale > 0)
        corr[~has_grain, :] = 0.0
        corr[:, ~has_grain] = 0.0
        np.fill_diagonal(corr, 1.0)
        return GrainProfile(
            tile=p.tile,
            smooth_sigma=p.smooth_sigma,
            spectrum=tuple(tuple(spectrum[:, c]) for c in range(3)),
            level_edges=p.profile_level_edges,
            level_gain=tuple(tuple(b) for b in gains),
            correlation=tuple(tuple(r) for r in _positive_definite(corr)),
            frames=frames,
            flat_tiles=int(np.count_nonzero(keep)),
            temporal=self.temporal,
            level_measured=tuple(bool(m) for m in measured_bins),
            level_position=tuple(float(x) for x in positions),
        )


def _level_sums(
    grain: np.ndarray, level: np.ndarray, edges: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tile (or window) and level bin: the sums of squared grain, float64 (n, bins, 3), the pixel
    counts, int64 (n, bins), and the sums of the pixels' levels, float64 (n, bins), of ``grain`` float64
    (n, pixels, 3) at ``level`` float32 (n, ...) (the same pixels in the same order)."""
    n = grain.shape[0]
    nbins = len(edges) - 1
    index = (np.arange(n)[:, None] * nbins + level_bins(level, edges).reshape(n, -1)).ravel()
    pixels = np.bincount(index, minlength=n * nbins).reshape(n, nbins)
    levels = np.bincount(index, weights=np.asarray(level, np.float64).ravel(), minlength=n * nbins)
    sq = (grain**2).reshape(-1, 3)
    sums = np.stack([np.bincount(index, weights=sq[:, c], minlength=n * nbins) for c in range(3)], axis=-1)
    return sums.reshape(n, nbins, 3), pixels, levels.reshape(n, nbins)


@dataclass
class _LevelSums:
    """Per bin of ``edges``: the grain's squares, float64 (bins, 3), its pixels, int64 (bins,), and their
    levels' sum, float64 (bins,); summed over the flat windows of frame differences
    (``look.grain_sample.window_sample``), or given (a profile's flat tiles)."""

    edges: tuple[float, ...]
    sq: np.ndarray = field(init=False)
    pixels: np.ndarray = field(init=False)
    level: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sq = np.zeros((len(self.edges) - 1, 3))
        self.pixels = np.zeros(len(self.edges) - 1, np.int64)
        self.level = np.zeros(len(self.edges) - 1)

    @classmethod
    def of(
        cls, edges: tuple[float, ...], sq: np.ndarray, pixels: np.ndarray, level: np.ndarray
    ) -> _LevelSums:
        """Sums made elsewhere (a profile's flat tiles), shaped as the attributes."""
        out = cls(edges)
        out.sq, out.pixels, out.level = (
            sq.astype(np.float64),
            pixels.astype(np.int64),
            level.astype(np.float64),
        )
        return out

    def add(self, sample: GrainSample) -> None:
        if sample.count == 0:
            return
        res = sample.residuals[0]  # the frame's (a reference's, when given, decided the windows)
        _, pixel_scale = tile_grain_power(res, sample.divisor)
        grain = res.reshape(sample.count, -1, 3).astype(np.float64) * np.sqrt(pixel_scale)[:, None, :]
        sq, pixels, levels = _level_sums(grain, sample.level, self.edges)
        self.sq += sq.sum(axis=0)
        self.pixels += pixels.sum(axis=0)
        self.level += levels.sum(axis=0)

    def measured(self, min_pixels: int) -> np.ndarray:
        """bool (bins,): the bins with at least ``min_pixels`` pixels."""
        return self.pixels >= min_pixels


class ProfileAccumulator:
    """Pools the grain statistics of scan frames (``add``); ``result()`` gives the ``GrainProfile``.

    Each frame is sampled on its own (``look.grain_sample.single_frame_sample``) and, when the frame
    before it in its shot is given, on their motion-compensated difference (``difference_sample``),
    where the picture's own fine structure cancels; the result is measured on the differences wherever
    they had a flat tile, on single frames otherwise. Tiles are ``params.tile`` px, or
    ``FALLBACK_TILE`` px where the scans showed fewer than ``outliers.MIN_TILES`` flat tiles of that
    size and enough of these. ``one_size``: ``params.tile`` px only (a model output's grain, which
    ``grain_deficit`` takes from the film's profile ring by ring, on the film profile's tile).
    """

    def __init__(self, params: LookParams | None = None, *, one_size: bool = False) -> None:
        self.params = params or LookParams()
        self.sizes = [self.params] if one_size else tile_sizes(self.params)
        self.single = [_Stats(p, temporal=False) for p in self.sizes]
        self.difference = [_Stats(p, temporal=True) for p in self.sizes]
        self.windows = _LevelSums(self.params.profile_level_edges)
        self.frames = 0

    def add(
        self,
        frame: np.ndarray,
        reference: np.ndarray | None = None,
        *,
        previous: np.ndarray | None = None,
        previous_reference: np.ndarray | None = None,
    ) -> None:
        """Add one scan frame: float32 (H, W, 3) R'G'B' 0..1.

        With ``reference`` (float32 (H, W, 3), e.g. the film frame a model's output ``frame`` stands
        for), the flat tiles, the levels and the motion are the reference's and the residual is
        ``frame``'s: the same tiles in both pictures, as ``remaster_core.look`` compares them. With
        ``previous`` (the frame before ``frame`` in its shot; and ``previous_reference``, the one before
        ``reference``, when a reference is given) the pair's difference is measured too.
        """
        p = self.params
        rgb, bad = fill_non_finite(_rgb(frame, "a scan frame"), p.smooth_sigma)
        ref = rgb
        if reference is not None:
            ref, bad_ref = fill_non_finite(_rgb(reference, "a reference"), p.smooth_sigma)
            if ref.shape != rgb.shape:
                raise InputError(f"grain profile: reference shape {ref.shape} is not the frame's {rgb.shape}")
            bad |= bad_ref
        self.frames += 1
        residual, smooth = highpass(rgb, p.smooth_sigma)
        # the pictures sampled: the frame's, then the reference's, which decides the grain-like tiles
        residuals: tuple[np.ndarray, ...] = (residual,)
        if reference is None:
            level = luma(smooth)
        else:
            ref_residual, ref_smooth = highpass(ref, p.smooth_sigma)
            residuals, level = (residual, ref_residual), luma(ref_smooth)
        pair = None
        if previous is not None:
            prev, bad_prev = fill_non_finite(_rgb(previous, "the previous frame"), p.smooth_sigma)
            if (reference is None) != (previous_reference is None):
                raise InputError(
                    "grain profile: give the previous frame's reference with the frame's, or neither"
                )
            prev_ref, bad_prev_ref = prev, bad_prev
            if previous_reference is not None:
                prev_ref, bad_prev_ref = fill_non_finite(
                    _rgb(previous_reference, "the previous reference"), p.smooth_sigma
                )
            if prev.shape != rgb.shape or prev_ref.shape != rgb.shape:
                raise InputError(
                    f"grain profile: the previous frame {prev.shape} or its reference {prev_ref.shape} is not the "
                    f"frame's shape {rgb.shape}"
                )
            bad |= bad_prev | bad_prev_ref
            motion = motion_between(prev_ref, ref, p)
            before, now = ((prev,), (rgb,)) if reference is None else ((prev, prev_ref), (rgb, ref))
            pair = (before, now, luma(gaussian(prev_ref, p.smooth_sigma)), motion)
        main = None  # the frame difference at the main tile size (the windows follow its maps)
        for k, size in enumerate(self.sizes):
            if k > 0 and measured(self.single, self.difference, 0, MIN_TILES):
                break  # the main size has measured enough flat tiles: the smaller ones are never needed
            flat = flat_tiles(level, size)
            if bad.any():
                flat &= tiles(bad, size.tile).mean(axis=(2, 3)) <= MAX_NON_FINITE
            clipped = clipped_tiles(ref, size.tile)
            self.single[k].add(single_frame_sample(residuals, level, flat, clipped, size))
            if pair is not None:
                difference = frame_difference(*pair, size)
                main = difference if k == 0 else main
                self.difference[k].add(difference_sample(difference, level, flat, size, clipped))
        if main is not None:
            w = p.level_window
            usable = tiles(bad, w).mean(axis=(2, 3)) <= MAX_NON_FINITE
            self.windows.add(window_sample(main, level, p, usable, clipped_tiles(ref, w)))

    def result(self) -> GrainProfile:
        """The profile of everything added (a zero profile, with the reason, when nothing was flat); its
        level response from the flat windows of the frame differences when it is measured on those."""
        stats = chosen(self.single, self.difference, MIN_TILES)
        return stats.result(self.frames, self.windows if stats.temporal else None)


def _rgb(frame: np.ndarray, what: str) -> np.ndarray:
    rgb = np.ascontiguousarray(frame, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"grain profile: {what} must be RGB (H, W, 3), got shape {rgb.shape}")
    return rgb


def fill_non_finite(rgb: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` (float32 (H, W, 3)) with its non-finite pixels filled, and which they were.

    A pixel with any non-finite channel takes the Gaussian-weighted (``sigma`` px) mean of its finite
    neighbours (normalised convolution), or, in a hole too wide for that, the mean of the picture's finite
    pixels (0 where none is).

    Returns:
        (float32 (H, W, 3) finite picture, bool (H, W) the filled pixels). ``rgb`` itself when all is finite.
    """
    bad = ~np.isfinite(rgb).all(axis=2)
    if not bad.any():
        return rgb, bad
    good = (~bad).astype(np.float32)
    zeroed = np.where(bad[..., None], np.float32(0.0), rgb).astype(np.float32)
    weight = gaussian(good, sigma)[..., None]
    local = gaussian(zeroed, sigma) / np.maximum(weight, np.float32(1e-6))
    overall = zeroed[~bad].mean(axis=0) if (~bad).any() else np.zeros(3, np.float32)
    fill = np.where(weight > 1e-3, local, overall.astype(np.float32))
    return np.where(bad[..., None], fill, zeroed).astype(np.float32), bad


@functools.lru_cache(maxsize=4)
def _ring_layout(tile: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Per ring k of a ``tile`` px spectrum: (weights float64 (rings, T*T): the mean over the ring's usable
    DFT bins, each divided by the high-pass's transfer; have bool (rings,): the ring has a usable bin)."""
    transfer = highpass_transfer(tile, sigma)
    ring = _ring_of_bins(tile)
    usable = transfer >= MIN_TRANSFER
    rings = ring_count(tile)
    weights = np.zeros((rings, tile * tile))
    have = np.zeros(rings, bool)
    for k in range(rings):
        sel = (usable & (ring == k)).ravel()
        if sel.any():
            weights[k, sel] = 1.0 / (transfer.ravel()[sel] * np.count_nonzero(sel))
            have[k] = True
    return weights, have


def _ring_means(psd: np.ndarray, p: LookParams) -> np.ndarray:
    """float64 (n, rings, 3): each tile's residual PSD (n, T, T, 3) over the high-pass's transfer, averaged
    per ring of usable bins (0 where a ring has none; ``_fill_rings`` fills it)."""
    weights, _ = _ring_layout(p.tile, p.smooth_sigma)
    n = psd.shape[0]
    return np.einsum("rq,nqc->nrc", weights, psd.reshape(n, -1, psd.shape[-1]))


def _fill_rings(means: np.ndarray, p: LookParams, bound: bool = True) -> np.ndarray:
    """(rings, 3) grain PSD per ring from the pooled ``_ring_means`` (see the module docstring): the rings
    below the first usable one take its value, a ring with no usable bin its inner neighbour's."""
    _, have = _ring_layout(p.tile, p.smooth_sigma)
    out = means.copy()
    first = int(np.argmax(have))
    out[:first] = out[first]
    for k in range(first + 1, len(have)):
        if not have[k]:  # a ring with no sample (none at these sizes): its inner neighbour's
            out[k] = out[k - 1]
    return _bound_low_frequencies(out, p.tile) if bound else out


def _bound_low_frequencies(spectrum: np.ndarray, tile: int) -> np.ndarray:  # single-frame profiles only
    """The rings below ``FIT_BAND`` bounded by the Gaussian fall-off ``a exp(-b f^2)`` fitted (least squares
    on the log) to the rings inside it, per channel: grain's spectrum is flat or falling with frequency,
    while the picture's own structure left in flat tiles rises towards low frequencies and would otherwise
    be synthesised as a slow, crawling mottle. Only ever lowers a ring (the measure is an upper bound)."""
    f = np.arange(spectrum.shape[0]) / tile
    fit = (f >= FIT_BAND[0]) & (f <= FIT_BAND[1])
    out = spectrum.copy()
    for c in range(spectrum.shape[1]):
        s = spectrum[fit, c]
        keep = s > 1e-3 * max(float(s.max()), 1e-30)
        if np.count_nonzero(keep) < 3:
            continue
        slope, intercept = np.polyfit(f[fit][keep] ** 2, np.log(s[keep]), 1)
        slope = min(float(slope), 0.0)  # never a spectrum that rises with frequency
        low = f < FIT_BAND[0]
        out[low, c] = np.minimum(spectrum[low, c], np.exp(intercept + slope * f[low] ** 2))
    return out


def _level_gains(
    sums: _LevelSums, min_pixels: int, population: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The level response: float64 (bins, 3) gains, bool (bins,) which bins were measured, and float64
    (bins,) the level each gain stands for (``GrainProfile.level_position``).

    ``sums`` holds the grain's squares, pixels and levels per bin; a bin with at least ``min_pixels``
    pixels is measured, and its gain stands for the mean level of its pixels (within the bin). An
    unmeasured bin takes its centre; between measured bins, its RMS lies between the line joining them
    and the measured slopes carried on (``_between``); beyond the last (or before the first) measured
    bin it follows the line through the two measured bins nearest it, never above the nearest one's RMS
    and never below 0 (``_beyond``). The gains are each bin's RMS over the RMS of ``population`` (int
    (bins,): the pixels per bin of the flat tiles the spectrum was measured on), so that the spectrum,
    which holds those tiles' grain, is what gain 1 synthesises there; all 1 where no bin was measured."""
    edges = np.asarray(sums.edges, np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    measured = sums.pixels >= min_pixels
    gains = np.ones_like(sums.sq)
    where = np.flatnonzero(measured)
    if where.size == 0:
        return gains, measured, centres
    positions = centres.copy()
    mean = sums.level[where] / sums.pixels[where]
    positions[where] = np.clip(mean, edges[:-1][where], edges[1:][where])
    measured_rms = np.sqrt(sums.sq[where] / sums.pixels[where][:, None])  # (measured, 3)
    rms = np.stack([np.interp(positions, positions[where], measured_rms[:, c]) for c in range(3)], -1)
    rms = _between(rms, positions, where)
    rms = _beyond(rms, positions, where)
    weights = np.asarray(population, np.float64)
    if weights.sum() <= 0:
        weights = sums.pixels.astype(np.float64)
    reference = np.sqrt(weights @ (rms * rms) / weights.sum())  # (3,)
    grain = reference > 0  # a channel without grain keeps gain 1 (its spectrum is 0)
    gains[:, grain] = np.maximum(rms[:, grain] / reference[grain], MIN_GAIN)
    return gains, measured, positions


def _between(rms: np.ndarray, positions: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``rms`` (bins, 3; the unmeasured bins between measured ones on the line joining them) with each
    such gap's bins at the geometric mean of that line and the most a concave response could hold
    there: the lines through the two measured bins beyond either end of the gap, carried into it (the
    lower of the two where both exist), never above the largest RMS measured anywhere (the safe side,
    as in ``_beyond``), never below the line. Display-referred print grain rises from the toe and falls
    towards the shoulder, a concave response, which between two measured levels lies on or above the
    line joining them and under the measured slopes carried on: on a film measured only near black and
    near white the line read 0.74-0.91 of the grain across the middle (``docs/training.md``). Where no
    measured pair lies beyond either end of a gap, the line stays. ``positions``: float64 (bins,)
    levels; ``where``: sorted measured bin indices."""
    out = rms.copy()
    if where.size < 3:
        return out
    cap = rms[where].max(axis=0)  # (3,)
    for k in range(where.size - 1):
        lo, hi = where[k], where[k + 1]
        if hi - lo < 2:
            continue
        gap = np.arange(lo + 1, hi)
        x = positions[gap][:, None]
        chords = []  # the two measured bins beyond either end: (farther, nearer the gap)
        if k >= 1:
            chords.append((where[k - 1], lo))
        if k + 2 < where.size:
            chords.append((where[k + 2], hi))
        if not chords:
            continue
        upper = np.full((gap.size, 3), np.inf)
        for far, near in chords:
            upper = np.minimum(upper, _carried(rms, positions, far, near, x))
        line = rms[gap]
        upper = np.clip(upper, line, np.maximum(cap, line))
        out[gap] = np.sqrt(line * upper)
    return out


def _beyond(rms: np.ndarray, positions: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``rms`` (bins, 3) with the bins outside the measured ones (``where``, sorted bin indices) on the
    line through the two measured bins nearest them (at their ``positions``, float64 (bins,) levels),
    between 0 and the nearest one's value. Display-referred film grain falls towards the toe and the
    shoulder (a print compresses them); where the measured bins show it falling, the guess goes on
    falling, and where they show it rising it stays at the last measured value: never more grain than
    was measured, the safe side (over-added grain flickers; too little leaves the output closer to the
    clean model's)."""
    out = rms.copy()
    if where.size < 2:
        return out
    for end, inner, outside in (
        (where[-1], where[-2], np.arange(where[-1] + 1, rms.shape[0])),
        (where[0], where[1], np.arange(0, where[0])),
    ):
        if outside.size:
            at = positions[outside][:, None]
            out[outside] = np.clip(_carried(rms, positions, inner, end, at), 0.0, rms[end])
    return out


def _carried(rms: np.ndarray, positions: np.ndarray, far: int, near: int, at: np.ndarray) -> np.ndarray:
    """float64 (len(at), 3): the RMS at levels ``at`` (float64 (k, 1)) on the line through bins ``far``
    and ``near`` of ``rms`` (bins, 3), at their ``positions`` (float64 (bins,) levels), carried on past
    ``near``."""
    slope = (rms[near] - rms[far]) / float(positions[near] - positions[far])  # per unit of level
    return rms[near] + slope * (at - float(positions[near]))


def _positive_definite(corr: np.ndarray) -> np.ndarray:
    """``corr`` nudged towards the identity until it is safely positive definite (channels that are one)."""
    for shrink in (0.0, 0.001, 0.01, 0.05, 0.2):
        c = (1.0 - shrink) * corr + shrink * np.eye(3)
        if np.linalg.eigvalsh(c).min() > 1e-6:
            return c
    return np.eye(3)


def ring_frequencies(profile: GrainProfile) -> np.ndarray:
    """float64 (rings,): the radial frequency (cycles/px) of each ring of ``profile``'s spectrum."""
    return np.arange(len(profile.spectrum[0]), dtype=np.float64) / profile.tile


def grain_deficit(film: GrainProfile, output: GrainProfile, passed: np.ndarray | None = None) -> GrainProfile:
    """The grain to synthesise on a model's output so that output plus grain has the film's: ``film``
    with each channel's spectrum reduced, ring by ring, by ``output``'s (the grain the model already
    reproduces, measured on its output in the film's flat tiles, ``ProfileAccumulator.add(output,
    reference=film)``), never below 0, and scaled down in each octave band where the rings the output
    has more of would leave the band with more than the film's (``_band_capped``). The level response
    and the channel correlation stay the film's. Synthesised grain is independent of the output's, so
    their powers add; the full profile on top of an output that already carries the film's coarse grain
    doubles it there.

    ``passed`` (float64 (rings,), 0..1, at ``ring_frequencies``): the share of the output's grain power
    that survives a step before the model (a deflicker's averaging of the input's low band over frames:
    ``render.deflicker.passed_power``); the deficit is then ``film - passed * output``.

    Raises:
        InputError: the two were measured on different tiles (their rings differ).
    """
    if film.is_zero or output.is_zero:
        return film
    if film.tile != output.tile or len(film.spectrum[0]) != len(output.spectrum[0]):
        raise InputError(
            f"grain deficit: the film's profile was measured on {film.tile} px tiles and the output's on "
            f"{output.tile} px: their spectra cannot be compared"
        )
    share = np.ones(len(film.spectrum[0])) if passed is None else np.asarray(passed, np.float64)
    if share.shape != (len(film.spectrum[0]),):
        raise InputError(f"grain deficit: {share.shape} passed shares for {len(film.spectrum[0])} rings")
    have = np.asarray(film.spectrum, np.float64)  # (3, rings)
    carried = share[None, :] * np.asarray(output.spectrum, np.float64)
    deficit = _band_capped(have, carried, np.maximum(have - carried, 0.0), film.tile)
    return replace(film, spectrum=tuple(tuple(float(v) for v in channel) for channel in deficit))


def band_powers(spectrum: np.ndarray, tile: int) -> np.ndarray:
    """float64 (3, bands): the power of each channel's ``spectrum`` (float64 (3, rings), a profile's
    ``spectrum``, measured on ``tile`` px tiles) in each octave band (``LookParams.bands``, finest
    first): the rings inside the band, each weighted by its DFT bins."""
    spectrum = np.asarray(spectrum, np.float64)
    rings = spectrum.shape[1]
    f = np.arange(rings) / tile
    bins = np.bincount(_ring_of_bins(tile).ravel(), minlength=rings)[:rings].astype(np.float64)
    out = np.zeros((spectrum.shape[0], len(LookParams().bands)))
    for k, (low, high) in enumerate(LookParams().bands):
        inside = (f > low) & (f <= high)
        out[:, k] = spectrum[:, inside] @ bins[inside]
    return out


EXCESS = 1.25
"""An octave band (``LookParams.bands``) in which the output alone carries more than this share of the
film's grain power (channels summed) is reported (``excess_bands``): the film-look bar's upper end.
Grain synthesis adds nothing there; a render with grain on takes the excess away in flat areas
(``grain.excess``), one with grain off keeps it: ``training.output_grain`` warns when training ends,
``render.job`` when a render is asked for without grain (held-out grain seeds 32 and 34: 1.45 and
2.70 of the film's finest band on the training shots, 1.32 and 1.71 on the held-out shot;
docs/training.md)."""


def band_ratios(output: GrainProfile, film: GrainProfile) -> np.ndarray | None:
    """float64 (bands,): ``output``'s grain power over ``film``'s in each octave band (channels summed,
    ``band_powers``; finest first), NaN in a band where the film has none; None where the film's profile
    is zero or the two were measured on different tiles."""
    if film.is_zero or output.tile != film.tile:
        return None
    have = band_powers(np.asarray(output.spectrum), output.tile).sum(axis=0)
    want = band_powers(np.asarray(film.spectrum), film.tile).sum(axis=0)
    return np.divide(have, want, out=np.full_like(have, np.nan), where=want > 0)


def excess_bands(output: GrainProfile, film: GrainProfile) -> list[tuple[tuple[float, float], float]]:
    """((low, high) cycles/px, output power / film power) for each octave band where ``output``'s grain
    is more than ``EXCESS`` times ``film``'s (``band_ratios``), finest first; [] where either profile is
    zero or their tiles differ."""
    ratios = band_ratios(output, film)
    if ratios is None or output.is_zero:
        return []
    bands = LookParams().bands
    return [(bands[k], float(r)) for k, r in enumerate(ratios.tolist()) if r > EXCESS]


def excess_message(band: tuple[float, float], ratio: float) -> str:
    """What a user is told of one ``excess_bands`` entry (the caller names the model or weights first)."""
    low, high = band
    return (
        f"its output alone carries {ratio:.2f} of the film's grain power at {low:.3g}-{high:.3g} cycles/px "
        "in the film's flat areas (measured on the training shots): a render with grain on takes the excess "
        "away in flat areas, not near edges or in texture; with grain off (--grain-amount 0) the output "
        "keeps it (check a render against film with remaster evaluate)"
    )


def _band_capped(film: np.ndarray, carried: np.ndarray, deficit: np.ndarray, tile: int) -> np.ndarray:
    """``deficit`` (float64 (3, rings), film less the output ring by ring, never below 0) scaled down per
    channel and octave band (``LookParams.bands``) so that the output's power there (``carried``) plus
    the deficit's is at most the film's (``film``; powers summed over each ring's DFT bins).

    Ring by ring, the rings where the output falls short get grain and those where it has more than
    the film keep their excess: the band then holds more than the film's. The model's output on the
    training shots of ``bench/grain.py``'s seeds 11, 16 and 20 carries 1.19-1.24, 1.07 and 1.21 of the
    film's finest band, short only at its highest rings, and the deficit added 0.17-0.21 of the film's
    power there: with the held-out output's own 1.10 and 1.25, seeds 11 and 20 read 1.27 and 1.39."""
    f = np.arange(film.shape[1]) / tile
    room = np.maximum(band_powers(film, tile) - band_powers(carried, tile), 0.0)  # (3, bands)
    given = band_powers(deficit, tile)
    scale = np.where(given > room, room / np.maximum(given, 1e-30), 1.0)
    out = deficit.copy()
    for k, (low, high) in enumerate(LookParams().bands):
        out[:, (f > low) & (f <= high)] *= scale[:, k : k + 1]
    return out


def estimate_profile(
    frames: Iterable[np.ndarray], params: LookParams | None = None, *, consecutive: bool = False
) -> GrainProfile:
    """The grain profile of film scan frames (float32 (H, W, 3) R'G'B' 0..1; see the module docstring).

    ``consecutive``: the frames are consecutive frames of one shot, so each is also measured on its
    motion-compensated difference with the one before (the picture's structure cancels); otherwise
    each frame alone.
    """
    acc = ProfileAccumulator(params or LookParams())
    previous = None
    for frame in frames:
        acc.add(frame, previous=previous)
        previous = frame if consecutive else None
    return acc.result()


def write_profile(path: str | os.PathLike[str], profile: GrainProfile) -> Path:
    """Write ``profile`` as JSON, atomically; returns the path."""
    out = Path(path)
    write_text_atomic(out, json.dumps(profile.to_dict(), indent=1, allow_nan=False) + "\n")
    return out


def read_profile(path: str | os.PathLike[str]) -> GrainProfile:
    """Read a profile ``write_profile`` wrote.

    Raises:
        InputError: the file is missing, not JSON, or not a valid profile (named).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{p}: no grain profile there (`remaster train` writes {GRAIN_FILE} in its run folder)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: cannot read the grain profile ({exc}); delete it and train again") from None
    return GrainProfile.from_dict(data, where=str(p))


def profile_from_json(text: str, where: str) -> GrainProfile:
    """A profile from its JSON text (a model's metadata value); InputError naming ``where``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: the grain profile is not JSON ({exc})") from None
    return GrainProfile.from_dict(data, where=where)


def profile_to_json(profile: GrainProfile) -> str:
    """The profile as compact JSON (sorted keys: equal profiles give equal text)."""
    return json.dumps(profile.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
