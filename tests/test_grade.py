"""The closed-form grade (``remaster_core.grade``): the plain fit is the colour-fit baseline, the prior
pulls towards an affine fit, outside the training range it extrapolates along straight lines, it
round-trips through JSON, and its pixel sample leaves NaN out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grade import Grade, PixelSample, affine_fit, fit_grade, sample_pairs
from remaster_core.grade_fit import fit_colour_pixels
from remaster_core.io.images import write_image


def _graded(x: np.ndarray) -> np.ndarray:
    """A film look from a broadcast: a matrix, then a tone curve per channel."""
    m = np.array([[1.1, -0.05, -0.05], [-0.04, 1.08, -0.04], [0.0, -0.1, 1.1]])
    return np.clip(x @ m.T, 0, 1) ** np.array([1.2, 1.1, 0.9])


def _sample(seed: int = 0, n: int = 40_000) -> PixelSample:
    x = (0.1 + 0.8 * np.random.default_rng(seed).random((n, 3))).astype(np.float32)
    return PixelSample(x, _graded(x).astype(np.float32), 1)


def test_without_prior_it_is_the_colour_fit_inside_the_range_and_affine_outside() -> None:
    sample = _sample()
    grade = fit_grade(sample, ridge=0.0)
    inside = (0.2 + 0.6 * np.random.default_rng(1).random((1000, 3))).astype(np.float32)
    baseline = fit_colour_pixels(sample.input, sample.target).apply(inside[None])[0]
    np.testing.assert_allclose(grade.apply(inside), baseline, atol=2e-4)
    assert np.sqrt(np.mean((grade.apply(inside) - _graded(inside)) ** 2)) < 0.02
    # beyond the training range: a straight line with the affine fit's slope
    far = (grade.lo - 0.5).astype(np.float32)[None]
    expected = grade.apply(grade.lo.astype(np.float32)[None]) + (far - grade.lo) @ affine_fit(sample)[0].T
    np.testing.assert_allclose(grade.apply(far), expected, atol=1e-5)


def test_the_prior_pulls_towards_the_affine_fit() -> None:
    sample = _sample()
    second_order = [np.abs(fit_grade(sample, ridge=r).weight[:, 3:]).sum() for r in (0.0, 1e-2, 10.0)]
    assert second_order[0] > second_order[1] > second_order[2] and second_order[2] < 0.05 * second_order[0]


def test_identity_and_json_round_trip() -> None:
    x = np.random.default_rng(1).normal(0.5, 1.0, (100, 3)).astype(np.float32)
    np.testing.assert_allclose(Grade.identity().apply(x), x, atol=1e-6)
    grade = fit_grade(_sample(2))
    back = Grade.from_dict(grade.to_dict())
    np.testing.assert_allclose(back.apply(x), grade.apply(x), atol=1e-5)
    broken = grade.to_dict()
    broken["weight"] = [[0.0]]
    with pytest.raises(InputError, match="shapes"):
        Grade.from_dict(broken, "metadata remaster.guard.grade")


def test_the_sample_leaves_nan_and_masked_pixels_out(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    inp = rng.random((20, 30, 3)).astype(np.float32)
    tgt = inp.copy()
    tgt[:5] = np.nan
    mask = np.full((20, 30), 255, np.uint8)
    mask[:, :10] = 0
    files = (tmp_path / "i.exr", tmp_path / "t.exr", tmp_path / "m.png")
    write_image(files[0], inp, bit_depth="float")
    write_image(files[1], tgt, bit_depth="float")
    write_image(files[2], mask, bit_depth="8")
    sample = sample_pairs([files], stride=1)
    assert len(sample.input) == 15 * 20 and np.isfinite(sample.target).all()
    write_image(files[1], np.full_like(tgt, np.nan), bit_depth="float")
    with pytest.raises(InputError, match="NaN"):
        sample_pairs([files], stride=1)
