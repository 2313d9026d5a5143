"""Pictures prepared for matching film against broadcast: luma, the working raster, grade-free versions.

The film and the broadcast differ in grade (matrix, lift, gamma, gain), sharpness (the broadcast went
through a lens blur and the chroma loss of the tape), noise (fine and low-frequency) and geometry. The
matchers never see the colour pictures; they see:

- ``luma``: BT.601 weights (0.299, 0.587, 0.114) over the R'G'B' code values, float32 (H, W). Used
  only as a matching signal, not as a colour conversion.
- ``clahe_u8``: luma with local histogram equalisation (CLAHE), uint8, for SIFT: keypoints and
  descriptors survive the grade's contrast change and the raised blacks.
- ``normalised``: local contrast normalisation ``(I - G*I) / sqrt(G*(I - G*I)^2 + eps^2)`` with a
  Gaussian G of ``sigma`` px: invariant to any locally affine intensity change (the grade, the
  low-frequency noise of the broadcast), so optical flow can compare the two. float32 (H, W), about
  -3..3; ``to_u8`` maps it to uint8 for OpenCV's DIS flow.

The *working raster* (``WorkRaster``) is the film raster reduced, if needed, so that neither side is
larger than ``max_width`` pixels: features and flow run there, results are converted back to film pixel
coordinates (pixel centres at integers in both, so ``x_film = (x_work + 0.5) / scale - 0.5``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.align.transform import Radial, Transform4, map_points

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601-weighted luma of R'G'B' code values: float32 (H, W, 3) -> float32 (H, W).

    (``cv2.transform``, not ``rgb @ weights``: see ``mat`` for why NumPy's BLAS is kept out.)
    """
    if rgb.ndim == 2:
        return rgb.astype(np.float32, copy=False)
    src = np.ascontiguousarray(rgb[..., :3], dtype=np.float32)
    return cv2.transform(src, _LUMA[None, :])


def clahe_u8(lum: np.ndarray, clip_limit: float = 3.0, tiles: int = 8) -> np.ndarray:
    """Luma float32 (H, W) (any range) -> uint8 (H, W) stretched to its 0.5..99.5 percentiles then CLAHE."""
    lo, hi = np.percentile(lum, (0.5, 99.5))
    scale = 255.0 / max(float(hi - lo), 1e-6)
    u8 = np.clip((lum - lo) * scale, 0, 255).astype(np.uint8)
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)).apply(u8)


_PYRAMID_SIGMA = 3.0  # local means at least this wide are blurred on the half raster (``local_mean``)
_PYRAMID_VARIANCE = 2.1  # px^2 at full resolution that pyrDown and pyrUp contribute together


def local_mean(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian local mean of float32 (H, W) over +-3 sigma (reflected borders): float32 (H, W).

    OpenCV's own float kernel reaches 4 sigma; the 0.3 % of the weight beyond 3 sigma does not change
    what the alignment measures, and the shorter kernel costs about 0.7 of the longer (sigma 4 at
    720x540: 0.98 against 1.35 ms). The blurs of the windowed statistics were the alignment's largest
    single cost after the flow.

    From ``_PYRAMID_SIGMA`` up the blur runs on the half raster: the image padded by reflection (so
    the borders come out as the full blur's), ``pyrDown`` (its 5-tap Gaussian filters before the
    decimation, so the result barely depends on where the picture sits on the pixel grid), the rest of
    the Gaussian at half size, ``pyrUp``. On a film frame at 720x540 it departs from the full blur by
    0.14 % (sigma 4) and 0.12 % (sigma 6) of the high-pass picture's RMS, and costs 0.59 against 1.07 ms
    and 0.66 against 1.51 ms.
    """
    if sigma < _PYRAMID_SIGMA:
        k = 2 * math.ceil(3.0 * sigma) + 1
        return cv2.GaussianBlur(image, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)
    h, w = image.shape
    p = math.ceil(3.0 * sigma)
    padded = cv2.copyMakeBorder(
        image, p, p + (h + 2 * p) % 2, p, p + (w + 2 * p) % 2, cv2.BORDER_REFLECT_101
    )  # even sizes: pyrUp gives back the padded raster exactly
    half_sigma = math.sqrt(sigma * sigma - _PYRAMID_VARIANCE) / 2.0
    k = 2 * math.ceil(3.0 * half_sigma) + 1
    small = cv2.GaussianBlur(cv2.pyrDown(padded), (k, k), half_sigma, borderType=cv2.BORDER_REFLECT_101)
    return cv2.pyrUp(small, dstsize=(padded.shape[1], padded.shape[0]))[p : p + h, p : p + w]


def normalised(lum: np.ndarray, sigma: float, eps: float) -> np.ndarray:
    """Local contrast normalisation of luma float32 (H, W): float32 (H, W), zero local mean, unit local std.

    ``eps`` (in luma units) keeps flat, noisy areas from being amplified into texture.
    """
    mean = local_mean(lum, sigma)
    d = lum - mean
    var = local_mean(d * d, sigma)
    return d / np.sqrt(var + np.float32(eps * eps))


def to_u8(z: np.ndarray, gain: float = 40.0) -> np.ndarray:
    """A normalised picture (about -3..3) as uint8 around 128, for OpenCV's DIS optical flow."""
    return np.clip(128.0 + gain * z, 0, 255).astype(np.uint8)


def gradient_energy(lum: np.ndarray, sigma: float) -> np.ndarray:
    """Smallest eigenvalue of the local structure tensor of luma float32 (H, W): float32 (H, W) >= 0.

    Large where the picture constrains motion in both directions (corners, texture), near zero on flat
    areas and along straight edges: a flow confidence that needs no flow.
    """
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    jxx = local_mean(gx * gx, sigma)
    jyy = local_mean(gy * gy, sigma)
    jxy = local_mean(gx * gy, sigma)
    half_trace = 0.5 * (jxx + jyy)
    return np.maximum(half_trace - np.sqrt(0.25 * (jxx - jyy) ** 2 + jxy * jxy), 0.0)


@dataclass(frozen=True)
class WorkRaster:
    """The raster features and flow run on: the film raster scaled by ``scale`` (<= 1).

    Attributes:
        film_size: (W, H) of the film raster.
        size: (W, H) of the working raster.
        scale: working px per film px (the same on both axes).
    """

    film_size: tuple[int, int]
    size: tuple[int, int]
    scale: float

    @classmethod
    def for_film(cls, film_size: tuple[int, int], max_width: int) -> WorkRaster:
        """The working raster of a film raster, at most ``max_width`` px wide (never enlarged)."""
        w, h = film_size
        scale = min(1.0, max_width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return cls(film_size, size, size[0] / w)

    def to_film(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-raster coordinates -> film coordinates (float64)."""
        sx, sy = self.size[0] / self.film_size[0], self.size[1] / self.film_size[1]
        return (np.asarray(x, np.float64) + 0.5) / sx - 0.5, (np.asarray(y, np.float64) + 0.5) / sy - 0.5

    def grid_in_film(self) -> tuple[np.ndarray, np.ndarray]:
        """Film coordinates of every working-raster pixel centre: float64 (h, w) x and y."""
        w, h = self.size
        yy, xx = np.mgrid[0:h, 0:w]
        return self.to_film(xx, yy)

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """A film-raster image reduced to the working raster (area average; unchanged at scale 1)."""
        if self.size == self.film_size:
            return image
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class WorkMaps:
    """Where each working-raster pixel samples the broadcast through a mapping, with the anti-alias
    blur that mapping needs: float32 (h, w) maps and Gaussian sigmas (broadcast px) per axis."""

    map_x: np.ndarray
    map_y: np.ndarray
    sigma_x: float
    sigma_y: float


def work_maps(work: WorkRaster, transform: Transform4, radial: Radial | None = None) -> WorkMaps:
    """The ``WorkMaps`` of a film -> broadcast mapping on the working raster (compute once per model).

    Where the mapping shrinks the broadcast (d > 1 broadcast px per working px along an axis) the
    broadcast is to be blurred with sigma ``(d - 1) / 2`` first so it does not alias.
    """
    xf, yf = work.grid_in_film()
    mx, my = map_points(xf, yf, transform, radial)
    dx = abs(transform.sx) / work.scale
    dy = abs(transform.sy) / work.scale
    return WorkMaps(
        mx.astype(np.float32), my.astype(np.float32), max(0.0, (dx - 1.0) / 2.0), max(0.0, (dy - 1.0) / 2.0)
    )


def broadcast_on_work(
    broadcast_lum: np.ndarray,
    work: WorkRaster,
    transform: Transform4,
    radial: Radial | None = None,
    maps: WorkMaps | None = None,
) -> np.ndarray:
    """Broadcast luma float32 (Hb, Wb) resampled onto the working raster through a film -> broadcast
    mapping (``maps``, or computed from ``transform`` and ``radial``), anti-aliased (see ``work_maps``).

    Returns float32 (h, w); samples outside the broadcast repeat its edge.
    """
    maps = maps or work_maps(work, transform, radial)
    src = broadcast_lum
    if maps.sigma_x > 0.05 or maps.sigma_y > 0.05:
        src = cv2.GaussianBlur(src, (0, 0), sigmaX=max(maps.sigma_x, 1e-3), sigmaY=max(maps.sigma_y, 1e-3))
    return cv2.remap(src, maps.map_x, maps.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
