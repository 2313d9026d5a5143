"""The direct (photometric Gauss-Newton) refinement of the smooth field, on a picture with a known warp."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from remaster_core.align.dense import DenseParams, SplineField
from remaster_core.align.direct import DirectGrid, prepare_frame, refine_field
from remaster_core.align.prep import WorkRaster, work_maps
from remaster_core.align.transform import Transform4

SIZE = (240, 180)


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((SIZE[1] + 40, SIZE[0] + 40)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.5)


def _setup(field_coeffs: np.ndarray) -> tuple:
    spline = SplineField.for_film(SIZE, 60.0)
    work = WorkRaster.for_film(SIZE, SIZE[0])
    transform = Transform4(20.0, 20.0, 1.0, 1.0)  # the film sits inside the larger "broadcast"
    base = work_maps(work, transform)
    grid = DirectGrid.build(spline, work, 2)
    broadcast = _texture(1)
    fx, fy = grid.evaluate(field_coeffs)
    film = cv2.remap(broadcast, (base.map_x + fx).astype(np.float32), (base.map_y + fy).astype(np.float32),
                     cv2.INTER_LINEAR)  # fmt: skip
    return spline, work, transform, base, grid, film, broadcast


def test_refine_field_recovers_a_smooth_warp() -> None:
    spline = SplineField.for_film(SIZE, 60.0)
    rng = np.random.default_rng(2)
    truth = rng.normal(0, 0.6, (spline.n, 2))
    spline, work, transform, base, grid, film, broadcast = _setup(truth)
    params = replace(DenseParams(), film_blur=0.0, direct_iterations=6, smoothness=1e-4)
    frame = prepare_frame(film, broadcast, base, params)
    start = np.zeros((spline.n, 2))
    coeffs, (warped,) = refine_field([frame], base, grid, transform, work, start, params)
    ex, ey = (a - b for a, b in zip(grid.evaluate(coeffs), grid.evaluate(truth), strict=True))
    inner = (slice(10, -10), slice(10, -10))
    assert np.sqrt(np.mean(ex[inner] ** 2 + ey[inner] ** 2)) < 0.05
    # through the final mapping the pictures agree: little local disagreement, everything inside
    assert warped.inside.all()
    assert np.percentile(warped.disagreement(params.disagreement_sigma), 95) < 0.2


def test_a_frame_without_texture_keeps_the_prior() -> None:
    spline = SplineField.for_film(SIZE, 60.0)
    prior = np.tile([0.3, -0.2], (spline.n, 1))
    _, work, transform, base, grid, _, _ = _setup(np.zeros((spline.n, 2)))
    flat = np.full((SIZE[1], SIZE[0]), 0.5, np.float32)
    flat_bc = np.full((SIZE[1] + 40, SIZE[0] + 40), 0.5, np.float32)
    frame = prepare_frame(flat, flat_bc, base, DenseParams())
    coeffs, _ = refine_field([frame], base, grid, transform, work, prior.copy(), DenseParams(), prior=prior)
    assert np.allclose(coeffs, prior, atol=1e-6)
