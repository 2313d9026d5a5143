"""Dense step: the B-spline residual field (fit, regularisation, prior), grade matching, the mask."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.align.dense import (
    DenseParams,
    FlowPair,
    Samples,
    SplineField,
    fit_field,
    fit_grade,
    photo_difference,
    similarity,
    texture_threshold,
    validity_mask,
)
from remaster_core.align.prep import gradient_energy
from remaster_core.align.shot import field_departure
from remaster_core.align.transform import Radial, Transform4, map_points

MODEL = (Transform4(-14.0, -12.5, 0.78, 0.70), Radial.for_raster((720, 480), 8 / 9, -0.02))
FIELD = SplineField.for_film((960, 720), 120.0)


def _samples(rng: np.random.Generator, field_fn, noise: float, outliers: float) -> tuple[Samples, np.ndarray]:
    xs = np.arange(2.0, 960, 8.0)
    ys = np.arange(2.0, 720, 8.0)
    px, py = map_points(xs[None, :], ys[:, None], *MODEL)
    fx, fy = field_fn(xs[None, :], ys[:, None])
    true = np.stack([np.broadcast_to(fx, px.shape), np.broadcast_to(fy, px.shape)], -1)
    bxy = np.stack([px, py], -1) + true + rng.normal(0, noise, true.shape)
    bad = rng.random(px.shape) < outliers
    bxy[bad] += rng.uniform(-6, 6, (int(bad.sum()), 2))
    return Samples(xs, ys, bxy, np.ones(px.shape)), true


def test_normal_equations_match_the_dense_design_matrix() -> None:
    rng = np.random.default_rng(0)
    xs, ys = np.sort(rng.uniform(0, 959, 23)), np.sort(rng.uniform(0, 719, 17))
    weight = rng.random((17, 23))
    values = rng.normal(size=(17, 23, 2))
    ata, atb = FIELD.normal_equations(xs, ys, values, weight)
    a = np.einsum("ya,xb->yxab", FIELD.basis_y(ys), FIELD.basis_x(xs)).reshape(17 * 23, FIELD.n)
    w = weight.ravel()
    assert np.allclose(ata, a.T @ (a * w[:, None]))
    assert np.allclose(atb, a.T @ (values.reshape(-1, 2) * w[:, None]))
    assert np.allclose(FIELD.basis_x(xs).sum(1), 1.0)  # a partition of unity


def test_fit_field_recovers_a_smooth_residual_despite_noise_and_outliers() -> None:
    def smooth(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, v = x / 960 - 0.5, y / 720 - 0.5
        return 0.6 * u * u - 0.3 * v + 0.1, 0.4 * u * v + 0.2 * np.sin(3 * u)

    samples, true = _samples(np.random.default_rng(1), smooth, noise=0.3, outliers=0.05)
    coeffs, resid = fit_field(FIELD, [samples], MODEL, DenseParams())
    fx, fy = FIELD.evaluate(coeffs, samples.xs, samples.ys)
    err = np.hypot(fx - true[..., 0], fy - true[..., 1])
    assert np.sqrt(np.mean(err**2)) < 0.05  # 8000 samples at 0.3 px: the field to a few hundredths
    assert np.median(np.hypot(resid[0][..., 0], resid[0][..., 1])) < 0.5


def test_fit_field_follows_the_prior_where_there_is_no_data() -> None:
    samples, _ = _samples(np.random.default_rng(2), lambda x, y: (0 * x, 0 * y), noise=0.3, outliers=0.0)
    blank = Samples(samples.xs, samples.ys, samples.broadcast_xy, np.zeros_like(samples.weight))
    prior = np.tile([0.25, -0.1], (FIELD.n, 1))
    coeffs, _ = fit_field(FIELD, [blank], MODEL, DenseParams(), prior=prior)
    assert np.allclose(coeffs, prior, atol=1e-6)
    # with data, the data wins over a weak prior
    coeffs, _ = fit_field(FIELD, [samples], MODEL, DenseParams(), prior=prior)
    fx, fy = FIELD.evaluate(coeffs, samples.xs, samples.ys)
    assert np.abs(fx).mean() < 0.05 and np.abs(fy).mean() < 0.05


def test_a_frame_keeps_the_shots_shape_where_it_has_no_data_and_follows_its_weave() -> None:
    """Data on the lower third only (towers under a flat sky): the frame's field is the shot's shape
    plus the frame's own shift everywhere, not its own flow's curvature extrapolated over the sky."""
    rng = np.random.default_rng(5)

    def shot_shape(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, v = x / 960 - 0.5, y / 720 - 0.5
        return 1.2 * u * u * v + 0.4, -0.8 * v * v + 0.3 * u * v

    grid_x, grid_y = np.meshgrid(np.linspace(0, 959, 40), np.linspace(0, 719, 30))
    px, py = shot_shape(grid_x, grid_y)
    prior_fit, _ = fit_field(
        FIELD,
        [Samples(grid_x[0], grid_y[:, 0], np.stack(map_points(grid_x, grid_y, *MODEL), -1)
                 + np.stack([px, py], -1), np.ones(grid_x.shape))],
        MODEL,
        DenseParams(),
    )  # fmt: skip
    weave = np.array([0.6, -0.35])  # this frame's gate shift

    def frame(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fx, fy = shot_shape(x, y)
        return fx + weave[0], fy + weave[1]

    samples, _ = _samples(rng, frame, noise=0.4, outliers=0.0)
    weight = samples.weight.copy()
    weight[samples.ys < 480] = 0.0  # nothing to follow above the bottom third
    lower = Samples(samples.xs, samples.ys, samples.broadcast_xy, weight)
    coeffs, _ = fit_field(FIELD, [lower], MODEL, DenseParams(), prior=prior_fit)
    assert field_departure(coeffs, prior_fit, FIELD) < 0.05  # shape kept where no data says otherwise
    xs, ys = np.linspace(20, 940, 12), np.linspace(20, 460, 8)  # the data-free sky
    sx, sy = FIELD.evaluate(prior_fit, xs, ys)

    def sky_error(c: np.ndarray) -> float:  # against the shot's field there plus the frame's weave
        fx, fy = FIELD.evaluate(c, xs, ys)
        return float(np.sqrt(np.mean((fx - sx - weave[0]) ** 2 + (fy - sy - weave[1]) ** 2)))

    # the bilinear part is free (weave, drift), so the bottom third's noise still tilts it a little
    assert sky_error(coeffs) < 0.2
    # without the shape pull the same fit bends the sky its own way
    loose, _ = fit_field(FIELD, [lower], MODEL, DenseParams(shape_weight=0.0), prior=prior_fit)
    assert field_departure(loose, prior_fit, FIELD) > 2 * field_departure(coeffs, prior_fit, FIELD)
    assert sky_error(loose) > 2 * sky_error(coeffs)


def test_shape_projector_ignores_bilinear_fields_and_measures_the_departure() -> None:
    j, i = np.mgrid[0 : FIELD.ny, 0 : FIELD.nx].astype(np.float64)
    bilinear = np.stack([0.3 + 0.1 * i - 0.2 * j + 0.01 * i * j, -0.5 + 0.05 * j], -1).reshape(-1, 2)
    q = FIELD.shape_projector()
    assert np.abs(q @ bilinear).max() < 1e-9
    bent = bilinear + np.stack([np.sin(i), np.cos(j) * 0.5], -1).reshape(-1, 2)
    departure = field_departure(bent, np.zeros_like(bent), FIELD)
    assert np.isclose(np.sqrt(np.trace(bent.T @ q @ bent) / FIELD.n), departure, rtol=1e-9)


def test_the_texture_threshold_stands_above_the_noise_of_a_flat_sky() -> None:
    """A grainy flat sky over 80 % of the frame and towers below: grain alone is not texture."""
    rng = np.random.default_rng(6)
    h, w = 540, 720
    lum = np.full((h, w), 0.08, np.float32)
    towers = rng.random((h // 5 // 6 + 1, w // 6 + 1)).astype(np.float32)
    lum[-h // 5 :] += 0.3 * np.kron(towers, np.ones((6, 6), np.float32))[: h // 5, :w]
    lum += rng.normal(0, 0.006, (h, w)).astype(np.float32)  # grain and coding noise
    texture = gradient_energy(lum, 2.0)
    textured = texture > texture_threshold(texture)
    assert textured[: -h // 5 - 8].mean() < 0.02  # the sky
    assert textured[-h // 5 + 8 :].mean() > 0.5  # the towers
    # a picture textured all over keeps most of it textured (the noise floor is capped)
    busy = texture_threshold(gradient_energy(rng.random((h, w)).astype(np.float32), 2.0))
    assert (gradient_energy(rng.random((h, w)).astype(np.float32), 2.0) > busy).mean() > 0.6


def test_fit_grade_and_photo_difference() -> None:
    rng = np.random.default_rng(3)
    film = rng.random((60, 80)).astype(np.float32)
    graded = (0.05 + 0.85 * film**1.1).astype(np.float32)  # a broadcast grade: lift, gain, gamma
    coeffs = fit_grade(
        film, graded + rng.normal(0, 0.005, graded.shape).astype(np.float32), np.ones(film.shape)
    )
    assert np.abs(np.polyval(coeffs, graded) - film).max() < 0.03
    diff = photo_difference(film, graded, coeffs, 2.0)
    assert diff.max() < 0.02
    occluded = graded.copy()
    occluded[20:40, 30:50] = 1.0  # something in the broadcast the film does not show
    assert photo_difference(film, occluded, coeffs, 2.0)[30, 40] > 0.2


def test_validity_mask_flags_outside_inconsistent_and_occluded() -> None:
    h, w = 60, 80
    zeros = np.zeros((h, w), np.float32)
    texture = np.ones((h, w), np.float32)
    fb = zeros.copy()
    fb[10:20, 10:20] = 5.0  # forward and backward flow disagree
    pair = FlowPair(np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8), np.zeros((h, w, 2), np.float32),
                    fb, texture, zeros, zeros)  # fmt: skip
    deviation = zeros.copy()
    deviation[40:50, 40:50] = 3.0  # flow departs from the smooth field
    photo = zeros.copy()
    photo[5:8, 60:70] = 0.5
    inside = np.ones((h, w), bool)
    inside[:, :3] = False
    params = DenseParams(erode=1)
    valid = validity_mask(inside, pair, deviation, photo, params)
    assert not valid[:, :4].any()
    assert not valid[15, 15] and not valid[45, 45] and not valid[6, 65]
    assert valid[30, 30] and valid[55, 20]
    assert 0.6 < valid.mean() < 0.95
    # on a flat area (no texture) the two flows are noise: their disagreement masks nothing there
    flat = texture.copy()
    flat[:30] = 0.0
    flat_pair = FlowPair(pair.film, pair.broadcast, pair.forward, fb, flat, zeros, zeros)
    assert validity_mask(inside, flat_pair, zeros, None, params)[15, 15]


def test_similarity_is_normalised_cross_correlation() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 255, (40, 50)).astype(np.uint8)
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity(a, (255 - a).astype(np.uint8)) == pytest.approx(-1.0)
    assert abs(similarity(a, rng.integers(0, 255, (40, 50)).astype(np.uint8))) < 0.1
