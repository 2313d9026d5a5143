"""Film frame -> broadcast-looking 24p frame: the transfer and tape chain of a synthetic reel.

Stages, in order (every array float32 RGB (H, W, 3) 0..1 code values until the last step):

1. Geometry: the per-shot telecine framing (``remaster_core.synth.geometry``) resamples the film frame
   into the 720x480 raster. Every broadcast pixel centre is mapped to the film by the exact inverse
   (``broadcast_to_film``) and sampled with ``cv2.remap`` bilinear, after an anti-alias Gaussian matched
   to the downscale on each axis (sigma ``(d - 1) / 2`` film px for a reduction by ``d`` film px per
   broadcast px, scikit-image's rule; none when the film is magnified).
2. Grade (per reel): a 3x3 colour matrix (mild desaturation and a warm cast), then per channel
   ``lift + (gain - lift) * x ** gamma`` (raised blacks, lowered whites: warmer and flatter than film).
3. Lens blur: Gaussian, sigma ``lens_sigma`` broadcast px (0.8-1.2).
4. Chroma loss: to BT.601 full-range Y'CbCr (``remaster_core.color``), Cb/Cr blurred strongly
   horizontally (sigma ``chroma_sigma_x`` 2-3 px) and a little vertically.
5. Temporally correlated low-frequency noise, added to Y', Cb and Cr: a random field on a grid 1/16 of
   the raster (``lf_cell`` px a cell), evolving by AR(1) ``n_t = rho n_{t-1} + sqrt(1 - rho^2) e_t``
   over the whole 24p sequence (it is the transfer's noise, so it runs on across cuts), upsampled
   bicubically; ``lf_amplitude_y`` / ``lf_amplitude_c`` are the grid's std in 8-bit code values.
6. Fine noise: white Gaussian in Y' (``fine_sigma`` 8-bit code values); in Cb and Cr (``fine_sigma_c``)
   it is added before the chroma blur of stage 4, so it is band-limited like the chroma it rides on.
7. Quantisation to 8-bit RGB (``rint(x * 255)``, clipped).

The broadcast-only leader skips stages 1 and 2 (it never was on film) but gets 3-7 like everything
that went through the chain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from remaster_core.color import rgb_to_ycbcr, ycbcr_to_rgb
from remaster_core.synth.geometry import BROADCAST_SIZE, ShotGeometry, broadcast_sampling_maps

_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Grade:
    """A broadcast colour grade: ``y = lift + (gain - lift) * clip(matrix @ rgb, 0, 1) ** gamma``, per channel.

    Attributes:
        matrix: 3x3 row-major, applied to the RGB column vector.
        lift, gamma, gain: per channel (R, G, B).
    """

    matrix: tuple[tuple[float, ...], ...]
    lift: tuple[float, float, float]
    gamma: tuple[float, float, float]
    gain: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for ``truth.json``."""
        d = asdict(self)
        d["matrix"] = [list(row) for row in self.matrix]
        d["lift"], d["gamma"], d["gain"] = list(self.lift), list(self.gamma), list(self.gain)
        d["formula"] = "out = lift + (gain - lift) * clip(matrix @ rgb, 0, 1) ** gamma, per channel"
        return d


def sample_grade(rng: np.random.Generator) -> Grade:
    """A mild broadcast grade: 5-15 % desaturated, warmer (red up, blue down), raised blacks, lower whites."""
    desat = float(rng.uniform(0.05, 0.15))
    m = (1.0 - desat) * np.eye(3) + desat * np.tile(_LUMA, (3, 1))
    warm = np.array([1.0 + rng.uniform(0.02, 0.06), 1.0, 1.0 - rng.uniform(0.04, 0.10)])
    m = np.diag(warm) @ m
    lift = rng.uniform(0.025, 0.055, size=3)
    gain = rng.uniform(0.90, 0.95, size=3)
    gamma = rng.uniform(0.92, 1.08, size=3)
    return Grade(
        matrix=tuple(tuple(float(v) for v in row) for row in m),
        lift=(float(lift[0]), float(lift[1]), float(lift[2])),
        gamma=(float(gamma[0]), float(gamma[1]), float(gamma[2])),
        gain=(float(gain[0]), float(gain[1]), float(gain[2])),
    )


def apply_grade(rgb: np.ndarray, grade: Grade) -> np.ndarray:
    """Apply ``grade`` to float32 RGB (H, W, 3) 0..1; returns float32 RGB (H, W, 3) 0..1."""
    m = np.asarray(grade.matrix, dtype=np.float32)
    out = rgb @ m.T
    np.clip(out, 0.0, 1.0, out=out)
    lift = np.asarray(grade.lift, dtype=np.float32)
    gain = np.asarray(grade.gain, dtype=np.float32)
    gamma = np.asarray(grade.gamma, dtype=np.float32)
    return (lift + (gain - lift) * np.power(out, gamma)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class DegradeParams:
    """The non-geometric degradation of one reel (see the module docstring for each stage).

    Sigmas are in broadcast px; amplitudes in 8-bit code values (1/255).
    """

    lens_sigma: float = 1.0
    chroma_sigma_x: float = 2.5
    chroma_sigma_y: float = 0.7
    lf_cell: int = 16
    lf_rho: float = 0.9
    lf_amplitude_y: float = 3.0
    lf_amplitude_c: float = 2.0
    fine_sigma: float = 1.5
    fine_sigma_c: float = 1.5

    def to_dict(self) -> dict[str, float]:
        """Plain numbers for ``truth.json``."""
        return {k: float(v) for k, v in asdict(self).items()}


def sample_degrade_params(rng: np.random.Generator) -> DegradeParams:
    """Draw a reel's degradation within the ranges of a worn NTSC transfer."""
    return DegradeParams(
        lens_sigma=float(rng.uniform(0.8, 1.2)),
        chroma_sigma_x=float(rng.uniform(2.0, 3.0)),
        chroma_sigma_y=float(rng.uniform(0.5, 1.0)),
        lf_cell=16,
        lf_rho=float(rng.uniform(0.85, 0.95)),
        lf_amplitude_y=float(rng.uniform(2.5, 4.0)),
        lf_amplitude_c=float(rng.uniform(1.5, 3.0)),
        fine_sigma=float(rng.uniform(1.0, 2.0)),
        fine_sigma_c=float(rng.uniform(1.0, 2.0)),
    )


def antialias_sigmas(geom: ShotGeometry) -> tuple[float, float]:
    """Film-px Gaussian sigmas (x, y) to apply before sampling the film at the broadcast raster."""
    dx, dy = 1.0 / geom.sx, 1.0 / geom.sy
    return max(0.0, (dx - 1.0) / 2.0), max(0.0, (dy - 1.0) / 2.0)


@dataclass(frozen=True)
class FramingMaps:
    """The precomputed resampling of one shot: film coordinates of every broadcast pixel, and the
    anti-alias sigmas. ``map_x``/``map_y``: float32 (480, 720)."""

    map_x: np.ndarray
    map_y: np.ndarray
    sigma_x: float
    sigma_y: float


def framing_maps(geom: ShotGeometry, broadcast_size: tuple[int, int] = BROADCAST_SIZE) -> FramingMaps:
    """Build the ``FramingMaps`` of ``geom`` (once per shot: the framing is constant within a shot)."""
    map_x, map_y = broadcast_sampling_maps(geom, broadcast_size)
    sigma_x, sigma_y = antialias_sigmas(geom)
    return FramingMaps(map_x, map_y, sigma_x, sigma_y)


def warp_to_broadcast(film: np.ndarray, maps: FramingMaps) -> np.ndarray:
    """Resample a film frame (float32 RGB (Hf, Wf, 3)) into the broadcast raster: float32 (480, 720, 3)."""
    src = film
    if maps.sigma_x > 0.05 or maps.sigma_y > 0.05:
        src = cv2.GaussianBlur(
            film, (0, 0), sigmaX=max(maps.sigma_x, 1e-3), sigmaY=max(maps.sigma_y, 1e-3),
            borderType=cv2.BORDER_REFLECT_101,
        )  # fmt: skip
    return cv2.remap(src, maps.map_x, maps.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def low_frequency_noise(
    rng: np.random.Generator, params: DegradeParams, broadcast_size: tuple[int, int] = BROADCAST_SIZE
) -> Iterator[np.ndarray]:
    """Endless AR(1) sequence of smooth noise fields, float32 (H, W, 3) in 8-bit code values (Y', Cb, Cr).

    Each coarse grid value is a stationary AR(1) process with std 1 and lag-1 correlation ``lf_rho``,
    scaled by ``lf_amplitude_y`` (Y') or ``lf_amplitude_c`` (Cb, Cr), then upsampled bicubically.
    """
    w, h = broadcast_size
    gw, gh = math.ceil(w / params.lf_cell) + 1, math.ceil(h / params.lf_cell) + 1
    scale = np.array([params.lf_amplitude_y, params.lf_amplitude_c, params.lf_amplitude_c], dtype=np.float32)
    state = rng.standard_normal((gh, gw, 3), dtype=np.float32)
    innov = np.float32(math.sqrt(1.0 - params.lf_rho**2))
    while True:
        yield cv2.resize(state * scale, (w, h), interpolation=cv2.INTER_CUBIC)
        state = np.float32(params.lf_rho) * state + innov * rng.standard_normal((gh, gw, 3), dtype=np.float32)


def transfer_chain(
    rgb: np.ndarray, params: DegradeParams, lf_noise: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stages 3-7 on a broadcast-raster frame: lens blur, chroma loss, low-frequency and fine noise, 8 bit.

    Args:
        rgb: float32 RGB (H, W, 3) 0..1 at the broadcast raster (already framed and graded).
        params: the reel's degradation.
        lf_noise: this frame's low-frequency field, float32 (H, W, 3) 8-bit code values (Y', Cb, Cr).
        rng: source of the fine noise.

    Returns:
        uint8 RGB (H, W, 3).
    """
    h, w = rgb.shape[:2]
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigmaX=params.lens_sigma, sigmaY=params.lens_sigma)
    y, cb, cr = rgb_to_ycbcr(blurred, matrix="bt601", range="full", bit_depth=8)
    fine = rng.standard_normal((3, h, w), dtype=np.float32)
    fine *= np.array([params.fine_sigma, params.fine_sigma_c, params.fine_sigma_c], np.float32)[:, None, None]
    sx, sy = params.chroma_sigma_x, params.chroma_sigma_y
    # The chroma channel's own noise is band-limited with it (blurred), the luma's stays fine.
    cb = cv2.GaussianBlur(cb + fine[1], (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT_101)
    cr = cv2.GaussianBlur(cr + fine[2], (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT_101)
    out = ycbcr_to_rgb(
        y + lf_noise[..., 0] + fine[0], cb + lf_noise[..., 1], cr + lf_noise[..., 2],
        matrix="bt601", range="full", bit_depth=8,
    )  # fmt: skip
    return np.clip(np.rint(out * np.float32(255.0)), 0, 255).astype(np.uint8)


def degrade_film_frame(
    film: np.ndarray,
    maps: FramingMaps,
    grade: Grade,
    params: DegradeParams,
    lf_noise: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The whole chain (stages 1-7): film frame float32 RGB (Hf, Wf, 3) 0..1 -> uint8 RGB (480, 720, 3)."""
    return transfer_chain(apply_grade(warp_to_broadcast(film, maps), grade), params, lf_noise, rng)
