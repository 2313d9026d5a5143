"""Sparse fit: SIFT matches, the 2-point RANSAC over k1 candidates, the robust 5-parameter fit."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.align.prep import WorkRaster, luma
from remaster_core.align.sparse import (
    Correspondences,
    SparseFailure,
    SparseParams,
    fit_model,
    fit_sparse,
    frame_correspondences,
    model_residuals,
)
from remaster_core.align.transform import Radial, Transform4, map_points, nominal_transform
from remaster_core.synth.geometry import film_to_broadcast
from tests.align import SyntheticShot

TRUE = Transform4(-14.0, -12.5, 0.78, 0.70)
RADIAL = Radial.for_raster((720, 480), 8 / 9, -0.025)
PRIOR = nominal_transform((720, 480), 8 / 9, (960, 720))


def _matches(rng: np.random.Generator, n_in: int, n_out: int, noise: float) -> Correspondences:
    film = np.stack([rng.uniform(0, 959, n_in + n_out), rng.uniform(0, 719, n_in + n_out)], 1)
    bx, by = map_points(film[:, 0], film[:, 1], TRUE, RADIAL)
    bc = np.stack([bx, by], 1) + rng.normal(0, noise, (n_in + n_out, 2))
    bc[n_in:] = np.stack([rng.uniform(0, 719, n_out), rng.uniform(0, 479, n_out)], 1)  # outliers
    return Correspondences(film, bc, np.arange(n_in + n_out) % 3)


def _corner_error(t: Transform4) -> float:
    x = np.array([0.0, 959, 0, 959])
    y = np.array([0.0, 0, 719, 719])
    ex = (t.sx * x + t.tx - (TRUE.sx * x + TRUE.tx)) / TRUE.sx
    ey = (t.sy * y + t.ty - (TRUE.sy * y + TRUE.ty)) / TRUE.sy
    return float(np.max(np.hypot(ex, ey)))


def test_fit_model_recovers_affine_and_distortion_despite_outliers() -> None:
    m = _matches(np.random.default_rng(1), 400, 100, noise=0.3)
    start = (Transform4(-10.0, -10.0, 0.75, 0.667), RADIAL.with_k1(0.0))
    t, r = fit_model(m.film_xy, m.broadcast_xy, *start, cauchy_scale=1.0, iterations=20)
    assert _corner_error(t) < 0.1
    assert r.k1 == pytest.approx(RADIAL.k1, abs=1e-3)
    # without k1 the affine part absorbs the barrel: far off at the corners
    t4, _ = fit_model(m.film_xy, m.broadcast_xy, *start, fit_k1=False, cauchy_scale=1.0, iterations=20)
    assert _corner_error(t4) > 1.0


def test_fit_sparse_ransac_finds_the_framing_among_outliers() -> None:
    m = _matches(np.random.default_rng(2), 500, 400, noise=0.3)
    res = fit_sparse(m, 3, PRIOR, Radial.for_raster((720, 480), 8 / 9), SparseParams())
    # 500 points at 0.3 px noise pin the corners (an extrapolation, k1 included) to about 0.1 px
    assert _corner_error(res.transform) < 0.3
    assert res.radial.k1 == pytest.approx(RADIAL.k1, abs=2e-3)
    assert res.inliers[:500].mean() > 0.95 and res.inliers[500:].mean() < 0.05
    assert sum(res.per_frame_inliers) == int(res.inliers.sum())
    assert np.median(model_residuals(m.film_xy[:500], m.broadcast_xy[:500], res.transform, res.radial)) < 0.5


def test_fit_sparse_refuses_unrelated_or_too_few_matches() -> None:
    rng = np.random.default_rng(3)
    radial0 = Radial.for_raster((720, 480), 8 / 9)
    random = _matches(rng, 0, 400, noise=0.0)
    with pytest.raises(SparseFailure, match="too few inliers"):
        fit_sparse(random, 3, PRIOR, radial0, SparseParams())
    few = _matches(rng, 20, 0, noise=0.1)
    with pytest.raises(SparseFailure, match="only 20 feature matches"):
        fit_sparse(few, 3, PRIOR, radial0, SparseParams())


def test_sift_matches_survive_grade_blur_and_noise(shot_960: SyntheticShot) -> None:
    work = WorkRaster.for_film((960, 720), 720)
    film_xy, bc_xy = frame_correspondences(
        work.shrink(luma(shot_960.film[0])), luma(shot_960.broadcast[0]), work, PRIOR, SparseParams()
    )
    assert len(film_xy) > 100
    tx, ty = film_to_broadcast(film_xy[:, 0], film_xy[:, 1], shot_960.geometry)
    err = np.hypot(bc_xy[:, 0] - tx, bc_xy[:, 1] - ty)
    assert np.mean(err < 1.5) > 0.7  # most matches are right to a broadcast pixel or so


def test_fit_sparse_refuses_an_implausible_scale() -> None:
    """A film 2.5 times larger than the prior expects (a wrong scan format, say): clearly refused."""
    rng = np.random.default_rng(4)
    film = np.stack([rng.uniform(0, 959, 300), rng.uniform(0, 719, 300)], 1)
    zoomed = Transform4(200.0, 150.0, PRIOR.sx / 2.5, PRIOR.sy / 2.5)
    bx, by = map_points(film[:, 0], film[:, 1], zoomed, RADIAL.with_k1(0.0))
    matches = Correspondences(film, np.stack([bx, by], 1), np.zeros(300, int))
    with pytest.raises(SparseFailure, match=r"implausible framing: scale 0\.40 x 0\.40"):
        fit_sparse(matches, 1, PRIOR, RADIAL.with_k1(0.0), SparseParams())
