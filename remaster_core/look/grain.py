"""Grain: does the render carry noise like the film's, in amount, texture and per signal level?

Measured on the high-pass residual (``regions.highpass``) in the reference's flat tiles, where what
remains is grain, the same tiles in both pictures; wherever a sequence allows, on the residual of
motion-compensated frame differences, which cancels the picture's own fine structure and keeps the
grain, rescaled to read as one frame's (``look.grain_sample``), else on single frames:

- **spectrum** (the grain's texture: fine and sharp, or clumpy): the noise power spectrum of each
  channel, averaged over every flat tile of every frame (tile mean removed, 2-D Hann window,
  ``|FFT|^2 / sum(window^2)``: a power spectral density in code value^2 per (cycle/px)^2, white noise
  of variance s^2 reads s^2 everywhere), summed over radial frequency bands ``low < |f| <= high``
  cycles/px (``LookParams.bands``: 1/4-1/2, 1/8-1/4, 1/16-1/8). A band's power is the variance (code
  value^2) the residual holds in it; frequencies beyond 1/2 cycle/px radially (the corners of the
  spectrum, diagonal only) are not in any band. Reported per band and channel as render/reference
  power, and per band over the three channels pooled. White grain twice as strong reads 4 in every
  band; a render whose grain is blurred reads well below 1 in the finest band.
- **amplitude** (how much): the RMS of the residual (code values), per channel, over all flat pixels and
  per signal level (the luma of the smoothed reference, binned by ``LookParams.level_edges``), as
  render/reference RMS. Film grain varies with density; a render that adds the same noise everywhere
  shows it as ratios that differ between levels.

The pooled amplitude ratio and each band's power ratio carry a 90 % interval (``Ratio.interval``): the
flat tiles resampled with replacement. A held-out shot may have a few flat tiles only, and one draw of
grain there reads its coarsest band 0.8-1.2 of another draw's: the interval says how far a ratio is
from 1 by more than that.

The summary is the amplitude ratio with the channels pooled (RMS over R, G, B): 1 is the film's grain,
0 a grainless render, above 1 a noisier one. A reference without grain (a digital source: residual
RMS below ``LookParams.grain_floor``) gives ratios of None with the reason, and the render's own RMS.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

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
)
from remaster_core.look.motion import Motion
from remaster_core.look.ratio import Ratio, ratio_of, unmeasured
from remaster_core.look.regions import CHANNELS, FramePlanes, LookParams, flat_tiles


@dataclass(frozen=True)
class GrainBand:
    """Grain power in one radial frequency band.

    Attributes:
        low, high: the band, cycles/px (``low < |f| <= high``).
        power: render/reference variance (code value^2) in the band, channels pooled.
        channels: the same per channel (R, G, B).
    """

    low: float
    high: float
    power: Ratio
    channels: tuple[Ratio, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "cycles_per_pixel": [self.low, self.high],
            "power": self.power.to_dict(),
            "channels": {n: r.to_dict() for n, r in zip(CHANNELS, self.channels, strict=True)},
        }


@dataclass(frozen=True)
class GrainLevel:
    """Grain amplitude at one signal level.

    Attributes:
        low, high: the luma bin of the smoothed reference (code values).
        pixels: flat pixels at this level, all frames together.
        amplitude: render/reference residual RMS (code values), channels pooled.
        channels: the same per channel (R, G, B).
    """

    low: float
    high: float
    pixels: int
    amplitude: Ratio
    channels: tuple[Ratio, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "luma": [self.low, self.high],
            "pixels": self.pixels,
            "amplitude": self.amplitude.to_dict(),
            "channels": {n: r.to_dict() for n, r in zip(CHANNELS, self.channels, strict=True)},
        }


@dataclass(frozen=True)
class GrainResult:
    """The grain of a render against its reference's (see the module docstring).

    Attributes:
        amplitude: render/reference residual RMS over every flat pixel, channels pooled (the summary).
        channels: the same per channel (R, G, B).
        bands: the spectrum per band, finest first.
        levels: the amplitude per signal level, darkest first.
        flat_tiles, tiles: flat tiles measured and all tiles, all frames together.
        tile: px, the side of those tiles (``LookParams.tile``, or ``regions.FALLBACK_TILE`` where the
            reference had no flat tile of that size: ``score_sequences``).
        temporal: measured on motion-compensated frame differences (``look.grain_sample``), else on
            single frames (a sequence of one frame, or no flat tile the motion tracks).
        reason: why nothing could be measured (no flat tile), else None.
        structured_tiles: flat tiles left out because the reference's residual there is not grain-like
            (sparse fine structure: ``grain_sample.grain_like``).
    """

    amplitude: Ratio
    channels: tuple[Ratio, ...]
    bands: tuple[GrainBand, ...]
    levels: tuple[GrainLevel, ...]
    flat_tiles: int
    tiles: int
    tile: int
    temporal: bool = False
    reason: str | None = None
    structured_tiles: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "amplitude": self.amplitude.to_dict(),
            "channels": {n: r.to_dict() for n, r in zip(CHANNELS, self.channels, strict=True)},
            "bands": [b.to_dict() for b in self.bands],
            "levels": [lv.to_dict() for lv in self.levels],
            "flat_tiles": self.flat_tiles,
            "structured_tiles": self.structured_tiles,
            "tiles": self.tiles,
            "tile": self.tile,
            "measured_on": "frame differences" if self.temporal else "single frames",
            "reason": self.reason,
        }


@functools.lru_cache(maxsize=4)
def _hann2d(tile: int) -> np.ndarray:
    w = np.hanning(tile + 2)[1:-1]  # no zero end points: every sample weighs
    return np.outer(w, w)[:, :, None]


@functools.lru_cache(maxsize=4)
def _radius(tile: int) -> np.ndarray:
    f = np.fft.fftfreq(tile)
    return np.hypot(f[:, None], f[None, :])


def tile_power(residual_tiles: np.ndarray) -> np.ndarray:
    """Power spectral density of each tile: float64 (N, T, T, C) from float (N, T, T, C) residual tiles.

    Each tile's mean is removed and a 2-D Hann window applied; the PSD is ``|FFT|^2 / sum(window^2)``
    (code value^2 per (cycle/px)^2, frequencies in ``numpy.fft.fftfreq`` order).
    """
    tile = residual_tiles.shape[1]
    win = _hann2d(tile)
    x = residual_tiles.astype(np.float64)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) * win
    spectrum = np.fft.fft2(x, axes=(1, 2))
    return (spectrum.real**2 + spectrum.imag**2) / float(np.sum(win**2))


def tile_grain_power(residual_tiles: np.ndarray, divisor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum and the pixel scale of each of N residual tiles (float (N, T, T, C)), read as one
    frame's grain.

    Returns:
        (psd, scale): float64 (N, T, T, C), each tile's ``tile_power`` divided by ``divisor`` (float64
        (N, T, T), a frame difference's ``1 + T(f)``: ``look.grain_sample``; None for a single frame);
        and float64 (N, C), what a residual pixel's square is multiplied by (1 for a single frame; for a
        difference its tile's PSD total after ``divisor`` over before, so the amplitude and the level
        response follow the spectrum).
    """
    power = tile_power(residual_tiles)
    if divisor is None:
        return power, np.ones((power.shape[0], power.shape[-1]))
    corrected = power / divisor[..., None]
    before = power.sum(axis=(1, 2))
    after = corrected.sum(axis=(1, 2))
    return corrected, np.divide(after, before, out=np.ones_like(before), where=before > 0)


def band_power(psd: np.ndarray, low: float, high: float) -> np.ndarray:
    """Variance (per channel, float64 (..., C)) a PSD (..., T, T, C) holds in the band ``low < |f| <= high``."""
    tile = psd.shape[-3]
    inside = (_radius(tile) > low) & (_radius(tile) <= high)
    return psd[..., inside, :].sum(axis=-2) / float(tile * tile)


def band_share(tile: int, low: float, high: float) -> float:
    """The share of a white spectrum's power in a band (its area in the (cycle/px)^2 unit square)."""
    inside = (_radius(tile) > low) & (_radius(tile) <= high)
    return float(np.count_nonzero(inside)) / float(tile * tile)


def _scaled_squares(residual_tiles: np.ndarray, scale: np.ndarray, per_tile: int) -> np.ndarray:
    """float64 (n * t * t, C): each pixel's squared residual times its tile's scale (``tile_grain_power``)."""
    sq = residual_tiles.reshape(-1, residual_tiles.shape[-1]).astype(np.float64) ** 2
    return sq * np.repeat(scale, per_tile, axis=0)


BOOTSTRAP = 200  # resamples of the flat tiles behind a grain ratio's interval (``GrainAccumulator``)
MIN_INTERVAL_TILES = 4  # fewer flat tiles than this: no interval


def _with_interval(r: Ratio, interval: tuple[float, float] | None) -> Ratio:
    """``r`` with ``interval`` where it has a ratio."""
    return r if r.ratio is None or interval is None else dataclasses.replace(r, interval=interval)


@dataclass
class GrainAccumulator:
    """Pools the grain statistics of render/reference samples, all single frames or all frame differences
    (``temporal``); ``result()`` gives the ``GrainResult``."""

    params: LookParams
    temporal: bool = False
    tiles: int = 0
    flat_tiles: int = 0
    structured_tiles: int = 0
    psd_render: np.ndarray | None = None
    psd_reference: np.ndarray | None = None
    level_sq_render: np.ndarray = field(init=False)  # (bins, 3) sums of residual^2
    level_sq_reference: np.ndarray = field(init=False)
    level_pixels: np.ndarray = field(init=False)  # (bins,)
    # per flat tile, channels pooled: its band powers (n, bands) and its sum of squared residual (n,)
    tile_bands: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    tile_squares: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        bins = len(self.params.level_edges) - 1
        self.level_sq_render = np.zeros((bins, 3))
        self.level_sq_reference = np.zeros((bins, 3))
        self.level_pixels = np.zeros(bins, np.int64)

    def add(self, sample: GrainSample) -> None:
        """Add one frame's (or frame difference's) flat tiles: ``sample.residuals`` = (render, reference)."""
        self.tiles += sample.tiles
        self.structured_tiles += sample.structured
        n = sample.count
        if n == 0:
            return
        self.flat_tiles += n
        render, reference = sample.residuals  # (n, t, t, 3)
        tiles_r, scale_r = tile_grain_power(render, sample.divisor)
        tiles_f, scale_f = tile_grain_power(reference, sample.divisor)
        psd_r, psd_f = tiles_r.sum(axis=0), tiles_f.sum(axis=0)
        self.psd_render = psd_r if self.psd_render is None else self.psd_render + psd_r
        self.psd_reference = psd_f if self.psd_reference is None else self.psd_reference + psd_f
        self.tile_bands.append(
            tuple(  # type: ignore[arg-type]
                np.stack([band_power(t, lo, hi).sum(axis=-1) for lo, hi in self.params.bands], axis=1)
                for t in (tiles_r, tiles_f)
            )
        )
        inner_edges = np.asarray(self.params.level_edges[1:-1], np.float32)
        bins = np.digitize(sample.level.ravel(), inner_edges)  # 0 .. len(edges) - 2; outside 0..1 -> end bins
        nbins = len(self.params.level_edges) - 1
        self.level_pixels += np.bincount(bins, minlength=nbins)
        per_tile = sample.level.shape[1] * sample.level.shape[2]
        r2 = _scaled_squares(render, scale_r, per_tile)
        f2 = _scaled_squares(reference, scale_f, per_tile)
        self.tile_squares.append((r2.reshape(n, -1).sum(axis=1), f2.reshape(n, -1).sum(axis=1)))
        for c in range(3):
            self.level_sq_render[:, c] += np.bincount(bins, weights=r2[:, c], minlength=nbins)
            self.level_sq_reference[:, c] += np.bincount(bins, weights=f2[:, c], minlength=nbins)

    def _amplitudes(
        self, sq_render: np.ndarray, sq_reference: np.ndarray, pixels: int
    ) -> tuple[Ratio, list[Ratio]]:
        floor = self.params.grain_floor
        pooled = ratio_of(
            float(np.sqrt(sq_render.sum() / (3 * pixels))),
            float(np.sqrt(sq_reference.sum() / (3 * pixels))),
            floor=floor,
            what="grain",
        )
        per_channel = [
            ratio_of(
                float(np.sqrt(sq_render[c] / pixels)),
                float(np.sqrt(sq_reference[c] / pixels)),
                floor=floor,
                what=f"grain in {CHANNELS[c]}",
            )
            for c in range(3)
        ]
        return pooled, per_channel

    def _intervals(self) -> tuple[tuple[float, float] | None, list[tuple[float, float]] | None]:
        """90 % intervals of the pooled amplitude ratio and of each band's power ratio: the flat tiles
        (tile and frame, render and reference together) resampled with replacement ``BOOTSTRAP`` times
        (seeded: the same pictures give the same interval). A tile of consecutive frame differences
        shares a frame with the next one's, which this treats as independent: the intervals are a
        little narrow. None with fewer than ``MIN_INTERVAL_TILES`` tiles."""
        if sum(r.shape[0] for r, _ in self.tile_squares) < MIN_INTERVAL_TILES:
            return None, None
        sq_r = np.concatenate([r for r, _ in self.tile_squares])
        sq_f = np.concatenate([f for _, f in self.tile_squares])
        bands_r = np.concatenate([r for r, _ in self.tile_bands])
        bands_f = np.concatenate([f for _, f in self.tile_bands])
        n = sq_r.shape[0]
        rng = np.random.default_rng(0)
        sums = np.zeros((BOOTSTRAP, 2, 1 + bands_r.shape[1]))  # per resample: render, reference
        for k in range(BOOTSTRAP):  # one resample at a time: memory O(tiles) for any sequence length
            pick = rng.integers(0, n, n)
            sums[k, 0, 0], sums[k, 1, 0] = sq_r[pick].sum(), sq_f[pick].sum()
            sums[k, 0, 1:], sums[k, 1, 1:] = bands_r[pick].sum(axis=0), bands_f[pick].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = np.sqrt(sums[:, 0, 0] / sums[:, 1, 0])
            band = sums[:, 0, 1:] / sums[:, 1, 1:]  # (BOOTSTRAP, bands)

        def spread(values: np.ndarray) -> tuple[float, float] | None:
            values = values[np.isfinite(values)]
            if values.size < BOOTSTRAP // 2:
                return None
            low, high = np.percentile(values, [5.0, 95.0])
            return float(low), float(high)

        bands = [spread(band[:, b]) for b in range(band.shape[1])]
        return spread(amp), None if any(b is None for b in bands) else bands  # type: ignore[return-value]

    def result(self) -> GrainResult:
        """The grain measures of everything added."""
        p = self.params
        edges = p.level_edges
        if self.flat_tiles == 0 or self.psd_render is None or self.psd_reference is None:
            reason = (
                f"no flat region: no {p.tile} px tile of the reference has an RMS gradient below "
                f"{p.flat_gradient} code values/px (a busy picture); grain is measured on flat areas such "
                "as sky, walls or out-of-focus backgrounds"
            )
            if self.structured_tiles:
                reason = "no grain-like flat region in the reference: " + not_grain_like(
                    self.structured_tiles, p.tile
                )
            none3 = tuple(unmeasured(reason) for _ in CHANNELS)
            return GrainResult(
                amplitude=unmeasured(reason),
                channels=none3,
                bands=tuple(GrainBand(lo, hi, unmeasured(reason), none3) for lo, hi in p.bands),
                levels=tuple(
                    GrainLevel(edges[i], edges[i + 1], 0, unmeasured(reason), none3)
                    for i in range(len(edges) - 1)
                ),
                flat_tiles=0,
                tiles=self.tiles,
                tile=p.tile,
                temporal=self.temporal,
                reason=reason,
                structured_tiles=self.structured_tiles,
            )
        pixels = int(self.level_pixels.sum())
        amplitude, channels = self._amplitudes(
            self.level_sq_render.sum(axis=0), self.level_sq_reference.sum(axis=0), pixels
        )
        amplitude_interval, band_intervals = self._intervals()
        amplitude = _with_interval(amplitude, amplitude_interval)
        bands = []
        for b, (lo, hi) in enumerate(p.bands):
            pr = band_power(self.psd_render, lo, hi) / self.flat_tiles
            pf = band_power(self.psd_reference, lo, hi) / self.flat_tiles
            floor = p.grain_floor**2 * band_share(p.tile, lo, hi)
            what = f"grain power at {lo:.4g}-{hi:.4g} cycles/px"
            bands.append(
                GrainBand(
                    lo,
                    hi,
                    _with_interval(
                        ratio_of(float(pr.sum()), float(pf.sum()), floor=3 * floor, what=what),
                        None if band_intervals is None else band_intervals[b],
                    ),
                    tuple(
                        ratio_of(float(pr[c]), float(pf[c]), floor=floor, what=f"{what} in {CHANNELS[c]}")
                        for c in range(3)
                    ),
                )
            )
        levels = []
        for i in range(len(edges) - 1):
            n = int(self.level_pixels[i])
            if n < p.min_level_pixels:
                reason = f"only {n} flat pixels at luma {edges[i]:.1f}-{edges[i + 1]:.1f} (needs {p.min_level_pixels})"
                levels.append(
                    GrainLevel(
                        edges[i],
                        edges[i + 1],
                        n,
                        unmeasured(reason),
                        tuple(unmeasured(reason) for _ in CHANNELS),
                    )
                )
                continue
            pooled, per_channel = self._amplitudes(self.level_sq_render[i], self.level_sq_reference[i], n)
            levels.append(GrainLevel(edges[i], edges[i + 1], n, pooled, tuple(per_channel)))
        return GrainResult(
            amplitude=amplitude,
            channels=tuple(channels),
            bands=tuple(bands),
            levels=tuple(levels),
            flat_tiles=self.flat_tiles,
            tiles=self.tiles,
            tile=p.tile,
            temporal=self.temporal,
            structured_tiles=self.structured_tiles,
        )


class GrainMeter:
    """The grain of a render sequence against its reference, fed frame by frame in order (``add``).

    Measured on motion-compensated frame differences where the reference's motion tracks flat tiles
    (``look.grain_sample``), else on single frames (one frame, or nothing tracked); on ``params.tile``
    px tiles, or on ``regions.FALLBACK_TILE`` px ones while the reference has shown no flat tile of
    that size (a picture textured all over).
    """

    def __init__(self, params: LookParams) -> None:
        self.sizes = tile_sizes(params)
        self.single = [GrainAccumulator(p) for p in self.sizes]
        self.difference = [GrainAccumulator(p, temporal=True) for p in self.sizes]
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(
        self, render: np.ndarray, reference: np.ndarray, planes: FramePlanes, motion: Motion | None
    ) -> None:
        """Add the next frame pair (float32 (H, W, 3), 0..1), its ``regions.frame_planes`` at
        ``params.tile`` and the reference's motion onto it from the frame before (None for the first)."""
        previous, self._previous = self._previous, (render, reference, planes.reference_level)
        residuals = (planes.render_residual, planes.reference_residual)
        level = planes.reference_level
        for k, p in enumerate(self.sizes):
            if k > 0 and measured(self.single, self.difference, 0):
                break  # the main size has measured flat tiles: the smaller ones are never needed
            flat = planes.flat if k == 0 else flat_tiles(level, p)
            clipped = clipped_tiles(reference, p.tile)
            self.single[k].add(single_frame_sample(residuals, level, flat, clipped, p))
            if previous is not None and motion is not None:
                prev_render, prev_reference, prev_level = previous
                pictures = ((prev_render, prev_reference), (render, reference))
                difference = frame_difference(*pictures, prev_level, motion, p)
                self.difference[k].add(difference_sample(difference, level, flat, p, clipped))

    def result(self) -> GrainResult:
        """The grain measures of what ``grain_sample.chosen`` picks."""
        return chosen(self.single, self.difference).result()
