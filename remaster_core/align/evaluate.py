"""Alignment accuracy against a synthetic reel's truth (``remaster synth``): for tests and ``bench/align.py``.

Two measures, as the alignment issue defines them:

- ``mapping_error``: RMS over valid pixels of the distance (film px) between a film -> broadcast
  mapping and the truth's (``remaster_core.synth.geometry.film_to_broadcast``). Broadcast-pixel
  differences (dx, dy) count as (dx / sx, dy / sy) film px.
- ``corner_error``: the largest distance (film px) at the four film-frame corners between a
  ``Transform4`` and the truth's affine part (the same scaling).

And one that needs no mapping, only the written input frames: ``registration_error`` measures the
displacement between two pictures of the *same* broadcast frame resampled two ways (the input frame
written, and the truth-warped broadcast) by block Lucas-Kanade (3 iterations, 32 px blocks, textured
blocks only), so the pairs on disk can be checked without trusting anything ``align`` reports.

``picture_displacement`` says how far a conformed frame itself sits from its true picture (the part of
``flow_misalignment`` that is the conform's, not the alignment's).

``flow_misalignment`` is the alignment issue's measure of the written inputs, for any telecine warp
(``remaster_core.synth.warps``): the written input frame against the *same* conformed frame resampled
through the true mapping, by dense DIS optical flow, RMS over the textured 70 % of the valid pixels.
Both pictures carry the same coding noise, so a perfect answer scores the measure's floor
(``flow_misalignment_floor``: the reference written and read back the way the inputs are, about
0.005 px); comparing with the pre-telecine film instead has a floor near 0.4 px and hides the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from remaster_core.align.prep import gradient_energy, luma
from remaster_core.align.transform import Transform4, output_grid, resample
from remaster_core.synth.geometry import ShotGeometry, film_to_broadcast


def truth_maps(
    geometry: dict[str, Any] | ShotGeometry, film_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The truth's film -> broadcast mapping at every film pixel: float64 (H, W) x and y."""
    geom = geometry if isinstance(geometry, ShotGeometry) else ShotGeometry.from_dict(geometry)
    xx, yy = output_grid(film_size)
    return film_to_broadcast(xx, yy, geom)


def mapping_error(
    map_x: np.ndarray,
    map_y: np.ndarray,
    geometry: dict[str, Any] | ShotGeometry,
    valid: np.ndarray | None = None,
) -> float:
    """RMS distance (film px) between a mapping (float (H, W) broadcast coordinates) and the truth's,
    over ``valid`` (bool (H, W); default everywhere)."""
    geom = geometry if isinstance(geometry, ShotGeometry) else ShotGeometry.from_dict(geometry)
    h, w = map_x.shape
    tx, ty = truth_maps(geom, (w, h))
    ex = (map_x - tx) / geom.sx
    ey = (map_y - ty) / geom.sy
    d2 = ex * ex + ey * ey
    if valid is not None:
        d2 = d2[valid]
    return float(np.sqrt(np.mean(d2)))


def corner_error(
    transform: Transform4, geometry: dict[str, Any] | ShotGeometry, film_size: tuple[int, int]
) -> float:
    """Largest distance (film px) at the film corners between ``transform`` and the truth's affine part."""
    geom = geometry if isinstance(geometry, ShotGeometry) else ShotGeometry.from_dict(geometry)
    w, h = film_size
    x = np.array([0.0, w - 1, 0.0, w - 1])
    y = np.array([0.0, 0.0, h - 1, h - 1])
    bx, by = transform.apply(x, y)
    ex = (bx - (geom.sx * x + geom.tx)) / geom.sx
    ey = (by - (geom.sy * y + geom.ty)) / geom.sy
    return float(np.max(np.hypot(ex, ey)))


def registration_error(
    image: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None, block: int = 32
) -> tuple[float, int]:
    """RMS displacement (px) between two renderings of the same picture, by block Lucas-Kanade.

    Args:
        image, reference: float32 RGB (H, W, 3) or luma (H, W), the same size.
        valid: bool (H, W): blocks must be entirely valid to count.
        block: block size in px.

    Returns:
        (rms, blocks): the RMS over the textured, valid blocks of each block's displacement (how far
        ``image`` content sits from ``reference`` content), and how many blocks were measured.
    """
    a = luma(image).astype(np.float32)
    r = luma(reference).astype(np.float32)
    h, w = r.shape
    gx = cv2.Sobel(r, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(r, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    nby, nbx = h // block, w // block
    hh, ww = nby * block, nbx * block

    def per_block(v: np.ndarray) -> np.ndarray:
        return v[:hh, :ww].reshape(nby, block, nbx, block).sum(axis=(1, 3))

    sxx, syy, sxy = per_block(gx * gx), per_block(gy * gy), per_block(gx * gy)
    det = sxx * syy - sxy * sxy
    min_eig = 0.5 * (sxx + syy) - np.sqrt(0.25 * (sxx - syy) ** 2 + sxy * sxy)
    use = min_eig > 0.02 * np.percentile(min_eig, 90)
    if valid is not None:
        use &= per_block(valid.astype(np.float32)) >= block * block
    dx = np.zeros((nby, nbx), np.float32)
    dy = np.zeros((nby, nbx), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(3):
        fx = cv2.resize(dx, (ww, hh), interpolation=cv2.INTER_NEAREST)
        fy = cv2.resize(dy, (ww, hh), interpolation=cv2.INTER_NEAREST)
        mx, my = xx.copy(), yy.copy()
        mx[:hh, :ww] -= fx
        my[:hh, :ww] -= fy
        # undo the current estimate: image(x - d) should equal reference(x)
        shifted = cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        diff = shifted - r
        bx, by = per_block(gx * diff), per_block(gy * diff)
        safe = np.where(np.abs(det) > 1e-12, det, 1.0)
        # reference(x + e) ~ reference(x) + g.e = image(x - d): solve for the remaining e
        ex = (syy * bx - sxy * by) / safe
        ey = (sxx * by - sxy * bx) / safe
        dx += np.where(use, ex, 0).astype(np.float32)
        dy += np.where(use, ey, 0).astype(np.float32)
    n = int(use.sum())
    if n == 0:
        return float("nan"), 0
    return float(np.sqrt(np.mean(dx[use] ** 2 + dy[use] ** 2))), n


def _flow_u8(lum: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((lum - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)


_BORDER = 8  # px: the measuring flow's patches hang off the raster border


def _measuring_flow(
    ref: np.ndarray, img: np.ndarray, over: np.ndarray, *, iterate: bool = True
) -> np.ndarray:
    """DIS flow float32 (H, W, 2) from luma ``ref`` to luma ``img`` (float32 (H, W)), both quantised
    to 8 bits over ``ref``'s 0.5-99.5 % range on ``over`` (bool (H, W)): patch 8, stride 2, finest scale
    0 (the measures', finer than the alignment's); with ``iterate``, 25 gradient-descent and 5
    variational iterations instead of the medium preset's (per-pixel error; an affine fit averages)."""
    lo, hi = (float(v) for v in np.percentile(ref[over], (0.5, 99.5)))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(8)
    dis.setPatchStride(2)
    dis.setFinestScale(0)
    if iterate:
        dis.setGradientDescentIterations(25)
        dis.setVariationalRefinementIterations(5)
    return dis.calc(_flow_u8(ref, lo, hi), _flow_u8(img, lo, hi), None)


def flow_misalignment(
    written: np.ndarray,
    conformed: np.ndarray,
    truth_x: np.ndarray,
    truth_y: np.ndarray,
    valid: np.ndarray | None = None,
    textured_share: float = 0.7,
) -> tuple[float, int]:
    """RMS misalignment (film px) of a written input frame, against the truth, by dense optical flow.

    Args:
        written: the input frame as written (float32 RGB (H, W, 3) or luma (H, W), the film raster).
        conformed: the conformed broadcast frame it was resampled from, float32 RGB (Hb, Wb, 3) or luma.
        truth_x, truth_y: float (H, W) the true film -> broadcast mapping of this frame.
        valid: bool (H, W) pixels to measure on (the pair's mask, and inside the broadcast); default all.
        textured_share: measure on this share of the valid pixels, the most textured (structure-tensor
            confidence of the reference): flat pixels have no defined displacement.

    Returns:
        (rms, pixels): sqrt(mean |flow|^2) of the DIS flow (patch 8, stride 2, finest scale 0, variational
        refinement) from the truth-resampled reference to the written frame, and how many pixels
        counted; (nan, 0) when none did.
    """
    ref = luma(resample(conformed, truth_x.astype(np.float32), truth_y.astype(np.float32)))
    img = luma(written)
    h, w = ref.shape
    use = np.ones((h, w), bool) if valid is None else valid.copy()
    m = _BORDER
    use[:m], use[-m:], use[:, :m], use[:, -m:] = False, False, False, False
    if use.sum() < 100:
        return float("nan"), 0
    flow = _measuring_flow(ref, img, use)
    texture = gradient_energy(ref, 2.0)
    cut = float(np.percentile(texture[use], 100.0 * (1.0 - textured_share)))
    use &= texture >= cut
    n = int(use.sum())
    if n == 0:
        return float("nan"), 0
    d2 = flow[..., 0][use] ** 2 + flow[..., 1][use] ** 2
    return float(np.sqrt(np.mean(d2))), n


def picture_displacement(picture: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """How far a decoded picture sits from the picture it should be (both float32 RGB (H, W, 3) or
    luma (H, W), one raster, e.g. a conformed frame and the synth's pre-telecine frame): the RMS, over
    the truth's most textured 30 %, of the x and y components (px) of the affine fit to the DIS flow
    from ``truth`` to ``picture``. The fit averages the flow's noise out; a shift, a zoom and a shear of
    the picture all count.

    ``flow_misalignment`` takes the conformed frame's geometry for the truth's; where the conform built
    a frame that sits off its true picture (a frame rebuilt from one field of a coded frame damaged at a
    cut: measured shifted by a few tenths of a px, or magnified by a few parts in 10^4 in a zooming
    shot), an alignment that follows the picture reads that much off: this says how much.
    """
    ref, img = luma(truth), luma(picture)
    m = _BORDER
    inner = np.zeros(ref.shape, bool)
    inner[m:-m, m:-m] = True
    flow = _measuring_flow(ref, img, np.ones(ref.shape, bool), iterate=False)
    texture = gradient_energy(ref, 2.0)
    use = inner & (texture >= np.percentile(texture[inner], 70.0))
    yy, xx = np.nonzero(use)
    design = np.stack([np.ones(len(xx)), xx, yy], 1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, flow[use].astype(np.float64), rcond=None)
    fitted = design @ coef  # (N, 2)
    return float(np.sqrt(np.mean(fitted[:, 0] ** 2))), float(np.sqrt(np.mean(fitted[:, 1] ** 2)))


def flow_misalignment_floor(
    conformed: np.ndarray,
    truth_x: np.ndarray,
    truth_y: np.ndarray,
    valid: np.ndarray | None = None,
    roundtrip: Callable[[np.ndarray], np.ndarray] | None = None,
) -> float:
    """``flow_misalignment`` of a perfect answer: the truth-resampled frame itself, passed through
    ``roundtrip`` (how inputs are written and read back; default: rounding to half floats, the
    conform's EXR)."""
    perfect = resample(conformed, truth_x.astype(np.float32), truth_y.astype(np.float32))
    perfect = roundtrip(perfect) if roundtrip is not None else perfect.astype(np.float16).astype(np.float32)
    return flow_misalignment(perfect, conformed, truth_x, truth_y, valid)[0]
