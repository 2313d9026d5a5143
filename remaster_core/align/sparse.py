"""Sparse alignment of a shot: SIFT correspondences pooled over frames, RANSAC, a robust global fit.

Per frame pair (film frame, broadcast frame showing the same film frame):

1. Both pictures go to the working raster (``prep.WorkRaster``): the film reduced by area averaging,
   the broadcast resampled through a *prior* mapping (the nominal transform), which undoes the pixel
   aspect and most of the scale, so the two look alike apart from grade, sharpness and noise.
2. SIFT on CLAHE-equalised luma (``prep.clahe_u8``): keypoints and descriptors that survive the grade.
   Matches are mutual nearest neighbours passing Lowe's ratio test (0.8).
3. Matched positions go back to film pixel coordinates and, through the prior mapping, to broadcast
   pixel coordinates (exactly: the prior is a known function).

Correspondences of several frames of the shot are pooled (the telecine framing is constant within a
shot) and the model is fitted to the pool:

- RANSAC with the 2-point minimal solver of the 4-parameter model (x and y are independent 1-D affine
  fits: two points fix sx, tx and sy, ty). The lens distortion is not affine, so RANSAC runs on
  broadcast points *undistorted* by each of a few candidate k1 values (-0.06 .. 0.04) and keeps the
  candidate with the best score (MSAC): a tight threshold then works across the whole frame.
- A robust Gauss-Newton fit (IRLS, Cauchy weights) of the 5 parameters (tx, ty, sx, sy, k1) of
  ``transform.Transform4`` followed by ``transform.Radial`` on all correspondences within a few
  pixels of the RANSAC model, repeated twice with the inliers re-selected against the new model.

SIFT positions carry a systematic 0.1-0.3 px bias between rasters of different sharpness; the dense
step (``dense.refine_global``) refines these 5 parameters photometrically. The sparse fit's job is to
be right to a pixel or two, and to say when there is nothing to align (``SparseFailure``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.align.mat import matmul
from remaster_core.align.prep import WorkRaster, broadcast_on_work, clahe_u8
from remaster_core.align.transform import Radial, Transform4, map_points

K1_CANDIDATES = (-0.06, -0.04, -0.02, 0.0, 0.02, 0.04)


@dataclass(frozen=True)
class SparseParams:
    """Settings of the sparse fit.

    Attributes:
        max_features: SIFT keypoints per picture.
        ratio: Lowe's ratio test threshold.
        ransac_threshold: inlier distance in broadcast px (after undistortion by the candidate k1).
        ransac_iterations: hypotheses per k1 candidate.
        ransac_points: hypotheses are scored on at most this many matches (a random subset).
        inlier_threshold: final inlier distance in broadcast px against the 5-parameter model.
        min_inliers: fewer final inliers than this: no reliable fit.
        min_inlier_ratio: fewer than this fraction of the matches agreeing: no reliable fit.
        max_rms: final inlier RMS above this (broadcast px): no reliable fit.
        scale_range: plausible (min, max) of the fitted scales over the prior's scales.
        seed: RANSAC's random seed (the fit is deterministic).
    """

    max_features: int = 1000
    ratio: float = 0.8
    ransac_threshold: float = 2.0
    ransac_iterations: int = 1000
    ransac_points: int = 1500
    inlier_threshold: float = 2.0
    min_inliers: int = 40
    min_inlier_ratio: float = 0.10
    max_rms: float = 1.5
    scale_range: tuple[float, float] = (0.5, 2.0)
    seed: int = 0


@dataclass(frozen=True)
class Correspondences:
    """Matched points pooled over frames.

    Attributes:
        film_xy: float64 (N, 2) film pixel coordinates.
        broadcast_xy: float64 (N, 2) broadcast pixel coordinates.
        frame: int (N,) index (into the list of pairs given) of the frame each match came from.
    """

    film_xy: np.ndarray
    broadcast_xy: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class SparseResult:
    """What the sparse fit found.

    Attributes:
        transform, radial: the 5-parameter model (affine then radial).
        matches: correspondences considered (all frames).
        inliers: bool (N,) over ``matches``.
        rms: RMS inlier distance in broadcast px.
        per_frame_inliers: inlier count per frame given.
    """

    transform: Transform4
    radial: Radial
    matches: Correspondences
    inliers: np.ndarray
    rms: float
    per_frame_inliers: list[int]


class SparseFailure(Exception):
    """The sparse fit found no reliable model; ``str(exc)`` says why, for a person."""


def frame_correspondences(
    film_lum_work: np.ndarray,
    broadcast_lum: np.ndarray,
    work: WorkRaster,
    prior: Transform4,
    params: SparseParams,
) -> tuple[np.ndarray, np.ndarray]:
    """SIFT matches between one film frame and its broadcast frame.

    Args:
        film_lum_work: film luma float32 (h, w) on the working raster.
        broadcast_lum: broadcast luma float32 (Hb, Wb).
        work: the working raster.
        prior: the mapping the broadcast is resampled through before matching (nominal transform).
        params: settings.

    Returns:
        (film_xy, broadcast_xy): float64 (N, 2) film and broadcast pixel coordinates of the matches.
    """
    sift = cv2.SIFT_create(nfeatures=params.max_features, contrastThreshold=0.02)
    film_u8 = clahe_u8(film_lum_work)
    bc_u8 = clahe_u8(broadcast_on_work(broadcast_lum, work, prior))
    kf, df = sift.detectAndCompute(film_u8, None)
    kb, db = sift.detectAndCompute(bc_u8, None)
    empty = np.zeros((0, 2), np.float64)
    if df is None or db is None or len(kf) < 2 or len(kb) < 2:
        return empty, empty
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    fwd = matcher.knnMatch(df, db, k=2)
    back = {m[0].queryIdx: m[0].trainIdx for m in matcher.knnMatch(db, df, k=1) if m}
    pf, pb = [], []
    for pair in fwd:
        if len(pair) < 2:
            continue
        best, second = pair
        if best.distance < params.ratio * second.distance and back.get(best.trainIdx) == best.queryIdx:
            pf.append(kf[best.queryIdx].pt)
            pb.append(kb[best.trainIdx].pt)
    if not pf:
        return empty, empty
    a, b = np.asarray(pf, np.float64), np.asarray(pb, np.float64)
    fx, fy = work.to_film(a[:, 0], a[:, 1])
    wx, wy = work.to_film(b[:, 0], b[:, 1])  # broadcast matches, in film coordinates of the prior warp
    bx, by = prior.apply(wx, wy)
    return np.stack([fx, fy], 1), np.stack([bx, by], 1)


def _ransac_4(
    film_xy: np.ndarray, target_xy: np.ndarray, threshold: float, iterations: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Best 4-parameter hypothesis by MSAC score; returns (score, params (tx, ty, sx, sy))."""
    n = len(film_xy)
    i = rng.integers(0, n, size=iterations)
    j = rng.integers(0, n, size=iterations)
    dxf = film_xy[j, 0] - film_xy[i, 0]
    dyf = film_xy[j, 1] - film_xy[i, 1]
    ok = (np.abs(dxf) > 8.0) & (np.abs(dyf) > 8.0)
    i, j, dxf, dyf = i[ok], j[ok], dxf[ok], dyf[ok]
    sx = (target_xy[j, 0] - target_xy[i, 0]) / np.where(ok[ok], dxf, 1.0)
    sy = (target_xy[j, 1] - target_xy[i, 1]) / np.where(ok[ok], dyf, 1.0)
    tx = target_xy[i, 0] - sx * film_xy[i, 0]
    ty = target_xy[i, 1] - sy * film_xy[i, 1]
    hyp = np.stack([tx, ty, sx, sy], 1)
    hyp = hyp[(sx > 0) & (sy > 0)]
    best_score, best = -1.0, np.array([0.0, 0.0, 1.0, 1.0])
    t2 = threshold * threshold
    for start in range(0, len(hyp), 256):
        h = hyp[start : start + 256]
        ex = h[:, None, 2] * film_xy[None, :, 0] + h[:, None, 0] - target_xy[None, :, 0]
        ey = h[:, None, 3] * film_xy[None, :, 1] + h[:, None, 1] - target_xy[None, :, 1]
        score = np.sum(np.maximum(t2 - (ex * ex + ey * ey), 0.0), axis=1)  # MSAC, as a gain
        k = int(np.argmax(score)) if len(score) else 0
        if len(score) and score[k] > best_score:
            best_score, best = float(score[k]), h[k]
    return best_score, best


def model_residuals(
    film_xy: np.ndarray, broadcast_xy: np.ndarray, transform: Transform4, radial: Radial
) -> np.ndarray:
    """Per-match distance in broadcast px between the model's prediction and the match: float64 (N,)."""
    px, py = map_points(film_xy[:, 0], film_xy[:, 1], transform, radial)
    return np.hypot(px - broadcast_xy[:, 0], py - broadcast_xy[:, 1])


def fit_model(
    film_xy: np.ndarray,
    broadcast_xy: np.ndarray,
    transform: Transform4,
    radial: Radial,
    *,
    weights: np.ndarray | None = None,
    fit_k1: bool = True,
    iterations: int = 10,
    cauchy_scale: float | None = 1.0,
) -> tuple[Transform4, Radial]:
    """Robust Gauss-Newton fit of (tx, ty, sx, sy[, k1]) to correspondences, from a starting model.

    Args:
        film_xy, broadcast_xy: float64 (N, 2) matched coordinates.
        transform, radial: the starting model (``radial`` fixes the distortion centre and units).
        weights: optional float (N,) prior weights (confidence), >= 0.
        fit_k1: fit the distortion too (else it stays as given).
        iterations: Gauss-Newton / IRLS iterations.
        cauchy_scale: Cauchy loss scale in broadcast px (None: plain weighted least squares).

    Returns:
        The fitted (transform, radial).
    """
    x, y = film_xy[:, 0], film_xy[:, 1]
    bx, by = broadcast_xy[:, 0], broadcast_xy[:, 1]
    w0 = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    p = np.array([transform.tx, transform.ty, transform.sx, transform.sy, radial.k1], np.float64)
    c, par, rn = radial.par / radial.r_norm, radial.par, radial.r_norm
    n_par = 5 if fit_k1 else 4
    for _ in range(iterations):
        tx, ty, sx, sy, k1 = p
        xa, ya = sx * x + tx, sy * y + ty
        u, v = (xa - radial.cx) * c, (ya - radial.cy) / rn
        q = u * u + v * v
        f = 1.0 + k1 * q
        px, py = radial.cx + u * f * rn / par, radial.cy + v * f * rn
        ex, ey = px - bx, py - by
        # d(xb, yb) / d(xa, ya)
        a11, a12 = f + 2 * k1 * u * u, 2 * k1 * u * v / par
        a21, a22 = 2 * k1 * u * v * par, f + 2 * k1 * v * v
        jx = np.stack([a11, a12, a11 * x, a12 * y, u * q * rn / par], 1)[:, :n_par]
        jy = np.stack([a21, a22, a21 * x, a22 * y, v * q * rn], 1)[:, :n_par]
        w = w0.copy()
        if cauchy_scale is not None:
            w = w / (1.0 + (ex * ex + ey * ey) / (cauchy_scale * cauchy_scale))
        jxw, jyw = jx * w[:, None], jy * w[:, None]
        jtj = matmul(jxw, jx, transpose_a=True) + matmul(jyw, jy, transpose_a=True)
        jtr = matmul(jxw, ex, transpose_a=True) + matmul(jyw, ey, transpose_a=True)
        try:
            step = np.linalg.solve(jtj + 1e-9 * np.eye(n_par), -jtr)
        except np.linalg.LinAlgError:
            break
        p[:n_par] += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return Transform4(*(float(v) for v in p[:4])), radial.with_k1(float(p[4]))


def fit_sparse(
    matches: Correspondences,
    n_frames: int,
    prior: Transform4,
    radial0: Radial,
    params: SparseParams,
) -> SparseResult:
    """RANSAC + robust fit of the 5-parameter model to pooled correspondences.

    Args:
        matches: correspondences of ``n_frames`` frames.
        n_frames: how many frames were matched (for the per-frame counts).
        prior: the prior transform (for the scale plausibility check).
        radial0: the distortion frame of reference (centre, units; its k1 is ignored).
        params: settings.

    Raises:
        SparseFailure: too few matches or inliers, too large a residual, or an implausible scale.
    """
    n = len(matches)
    if n < params.min_inliers:
        raise SparseFailure(
            f"only {n} feature matches over {n_frames} frame(s) (need {params.min_inliers}): the pictures are "
            "too dark, flat or unrelated to align"
        )
    rng = np.random.default_rng(params.seed)
    subset = np.sort(rng.permutation(n)[: params.ransac_points])
    film_sub, bc_sub = matches.film_xy[subset], matches.broadcast_xy[subset]
    best: tuple[float, np.ndarray, float] | None = None
    for k1 in K1_CANDIDATES:
        radial = radial0.with_k1(k1)
        ux, uy = radial.invert(bc_sub[:, 0], bc_sub[:, 1])
        score, h = _ransac_4(
            film_sub, np.stack([ux, uy], 1), params.ransac_threshold, params.ransac_iterations, rng
        )
        if best is None or score > best[0]:
            best = (score, h, k1)
    assert best is not None
    _, h, k1 = best
    transform, radial = Transform4(*(float(v) for v in h)), radial0.with_k1(k1)
    for threshold in (3.0 * params.inlier_threshold, params.inlier_threshold):
        inl = model_residuals(matches.film_xy, matches.broadcast_xy, transform, radial) < threshold
        if inl.sum() < 6:
            break
        transform, radial = fit_model(
            matches.film_xy[inl], matches.broadcast_xy[inl], transform, radial, cauchy_scale=1.0
        )
    res = model_residuals(matches.film_xy, matches.broadcast_xy, transform, radial)
    inliers = res < params.inlier_threshold
    count = int(inliers.sum())
    rms = float(np.sqrt(np.mean(res[inliers] ** 2))) if count else float("inf")
    per_frame = [int(np.sum(inliers & (matches.frame == f))) for f in range(n_frames)]
    if count < params.min_inliers or count < params.min_inlier_ratio * n:
        raise SparseFailure(
            f"too few inliers: {count} of {n} feature matches over {n_frames} frame(s) agree on one framing "
            f"(need {params.min_inliers} and {params.min_inlier_ratio:.0%}): is the film of this shot, at this "
            "temporal offset?"
        )
    if rms > params.max_rms:
        raise SparseFailure(
            f"residual too large: the {count} inliers fit the framing to {rms:.2f} broadcast px RMS "
            f"(limit {params.max_rms})"
        )
    lo, hi = params.scale_range
    ratio_x, ratio_y = transform.sx / prior.sx, transform.sy / prior.sy
    if not (lo <= ratio_x <= hi and lo <= ratio_y <= hi) or abs(radial.k1) > 0.2:
        raise SparseFailure(
            f"implausible framing: scale {ratio_x:.2f} x {ratio_y:.2f} of the nominal, k1 {radial.k1:.3f} "
            f"(accepted scales {lo}-{hi})"
        )
    return SparseResult(transform, radial, matches, inliers, rms, per_frame)
