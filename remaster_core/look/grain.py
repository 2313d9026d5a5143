"""Grain: does the render carry noise like the film's, in amount, texture and per signal level?

Measured on the high-pass residual (``regions.highpass``) in the reference's flat tiles
(``regions.FramePlanes``), where what remains is grain, the same tiles in both pictures:

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

The summary is the amplitude ratio with the channels pooled (RMS over R, G, B): 1 is the film's grain,
0 a grainless render, above 1 a noisier one. A reference without grain (a digital source: residual
RMS below ``LookParams.grain_floor``) gives ratios of None with the reason, and the render's own RMS.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from remaster_core.look.ratio import Ratio, ratio_of, unmeasured
from remaster_core.look.regions import CHANNELS, FramePlanes, LookParams, tiles


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
        flat_tiles, tiles: flat tiles and all tiles, all frames together.
        tile: px, the side of those tiles (``LookParams.tile``, or ``regions.FALLBACK_TILE`` where the
            reference had no flat tile of that size: ``score_sequences``).
        reason: why nothing could be measured (no flat tile), else None.
    """

    amplitude: Ratio
    channels: tuple[Ratio, ...]
    bands: tuple[GrainBand, ...]
    levels: tuple[GrainLevel, ...]
    flat_tiles: int
    tiles: int
    tile: int
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "amplitude": self.amplitude.to_dict(),
            "channels": {n: r.to_dict() for n, r in zip(CHANNELS, self.channels, strict=True)},
            "bands": [b.to_dict() for b in self.bands],
            "levels": [lv.to_dict() for lv in self.levels],
            "flat_tiles": self.flat_tiles,
            "tiles": self.tiles,
            "tile": self.tile,
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


def noise_power_spectrum(residual_tiles: np.ndarray) -> np.ndarray:
    """Summed power spectral density of tiles: float64 (T, T, C) from float (N, T, T, C) residual tiles.

    Each tile's mean is removed and a 2-D Hann window applied; the PSD is ``|FFT|^2 / sum(window^2)``
    (code value^2 per (cycle/px)^2, frequencies in ``numpy.fft.fftfreq`` order), summed over the N tiles.
    """
    tile = residual_tiles.shape[1]
    win = _hann2d(tile)
    x = residual_tiles.astype(np.float64)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) * win
    spectrum = np.fft.fft2(x, axes=(1, 2))
    power = spectrum.real**2 + spectrum.imag**2
    return power.sum(axis=0) / float(np.sum(win**2))


def band_power(psd: np.ndarray, low: float, high: float) -> np.ndarray:
    """Variance (per channel, float64 (C,)) a PSD (T, T, C) holds in the band ``low < |f| <= high``."""
    tile = psd.shape[0]
    inside = (_radius(tile) > low) & (_radius(tile) <= high)
    return psd[inside].sum(axis=0) / float(tile * tile)


def band_share(tile: int, low: float, high: float) -> float:
    """The share of a white spectrum's power in a band (its area in the (cycle/px)^2 unit square)."""
    inside = (_radius(tile) > low) & (_radius(tile) <= high)
    return float(np.count_nonzero(inside)) / float(tile * tile)


@dataclass
class GrainAccumulator:
    """Pools the grain statistics of frame pairs; ``result()`` gives the ``GrainResult``."""

    params: LookParams
    tiles: int = 0
    flat_tiles: int = 0
    psd_render: np.ndarray | None = None
    psd_reference: np.ndarray | None = None
    level_sq_render: np.ndarray = field(init=False)  # (bins, 3) sums of residual^2
    level_sq_reference: np.ndarray = field(init=False)
    level_pixels: np.ndarray = field(init=False)  # (bins,)

    def __post_init__(self) -> None:
        bins = len(self.params.level_edges) - 1
        self.level_sq_render = np.zeros((bins, 3))
        self.level_sq_reference = np.zeros((bins, 3))
        self.level_pixels = np.zeros(bins, np.int64)

    def add(self, planes: FramePlanes) -> None:
        """Add one frame pair's flat tiles."""
        t = self.params.tile
        self.tiles += planes.flat.size
        n = int(np.count_nonzero(planes.flat))
        if n == 0:
            return
        self.flat_tiles += n
        render = tiles(planes.render_residual, t)[planes.flat]  # (n, t, t, 3)
        reference = tiles(planes.reference_residual, t)[planes.flat]
        level = tiles(planes.reference_level, t)[planes.flat]  # (n, t, t)
        psd_r, psd_f = noise_power_spectrum(render), noise_power_spectrum(reference)
        self.psd_render = psd_r if self.psd_render is None else self.psd_render + psd_r
        self.psd_reference = psd_f if self.psd_reference is None else self.psd_reference + psd_f
        inner_edges = np.asarray(self.params.level_edges[1:-1], np.float32)
        bins = np.digitize(level.ravel(), inner_edges)  # 0 .. len(edges) - 2; outside 0..1 -> end bins
        nbins = len(self.params.level_edges) - 1
        self.level_pixels += np.bincount(bins, minlength=nbins)
        r2 = render.reshape(-1, 3).astype(np.float64) ** 2
        f2 = reference.reshape(-1, 3).astype(np.float64) ** 2
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
                reason=reason,
            )
        pixels = int(self.level_pixels.sum())
        amplitude, channels = self._amplitudes(
            self.level_sq_render.sum(axis=0), self.level_sq_reference.sum(axis=0), pixels
        )
        bands = []
        for lo, hi in p.bands:
            pr = band_power(self.psd_render, lo, hi) / self.flat_tiles
            pf = band_power(self.psd_reference, lo, hi) / self.flat_tiles
            floor = p.grain_floor**2 * band_share(p.tile, lo, hi)
            what = f"grain power at {lo:.4g}-{hi:.4g} cycles/px"
            bands.append(
                GrainBand(
                    lo,
                    hi,
                    ratio_of(float(pr.sum()), float(pf.sum()), floor=3 * floor, what=what),
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
        )
