"""The render-time guard (``remaster_core.guard``): covered colours keep the model's output, a region of
colours never seen in training falls back to the grade, and no value leaves the targets' range plus the
margin."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grade import Grade, PixelSample, fit_grade
from remaster_core.guard import MARGIN, Coverage, Guard, coverage_of, guard_frame


def _guard() -> Guard:
    rng = np.random.default_rng(0)
    # training colours: greenish-grey mid tones only
    x = np.clip(0.45 + 0.1 * rng.standard_normal((50_000, 3)) * [1, 1.5, 1], 0, 1).astype(np.float32)
    y = np.clip(0.9 * x + 0.05, 0, 1).astype(np.float32)
    sample = PixelSample(x, y, 1)
    return Guard(fit_grade(sample), coverage_of(sample))


def test_covered_colours_keep_the_model_output() -> None:
    guard = _guard()
    frame = np.full((40, 50, 3), 0.45, np.float32)
    enhanced = (
        frame * 0.9 + 0.05 + 0.01 * np.random.default_rng(1).standard_normal(frame.shape).astype(np.float32)
    )
    out, report = guard_frame(frame, enhanced, guard)
    np.testing.assert_array_equal(out, enhanced)
    assert report.outside == 0 and not report.flagged


def test_a_region_outside_the_training_colours_falls_back_to_the_grade_and_is_flagged() -> None:
    guard = _guard()
    frame = np.full((80, 80, 3), 0.45, np.float32)
    frame[:, 40:] = (0.9, 0.1, 0.05)  # saturated red: never seen in training
    wild = np.full_like(frame, 3.0)  # a model output running away
    out, report = guard_frame(frame, wild, guard)
    assert report.flagged and report.outside == pytest.approx(0.5, abs=0.01) and report.clipped > 0
    far = frame[:, 60:]
    graded = np.clip(guard.grade.apply(far), *guard.coverage.output_bounds())
    np.testing.assert_allclose(out[:, 60:], graded, atol=1e-6)
    lo, hi = guard.coverage.output_bounds()
    assert (out >= lo).all() and (out <= hi).all()
    assert (hi <= guard.coverage.target_hi + MARGIN + 1e-6).all()
    assert "outside=0.5" in report.attribute()


def test_coverage_round_trips_and_refuses_a_broken_record() -> None:
    cov = _guard().coverage
    back = Coverage.from_dict(cov.to_dict())
    np.testing.assert_array_equal(back.occupied, cov.occupied)
    np.testing.assert_allclose(back.target_hi, cov.target_hi, atol=1e-6)
    assert 0 < cov.occupancy < 0.5
    bad = cov.to_dict()
    bad["input_lo"] = [0.0]
    with pytest.raises(InputError, match="coverage"):
        Coverage.from_dict(bad)
    with pytest.raises(InputError, match="grade"):
        Guard.from_dict({"coverage": cov.to_dict()})
    assert Guard.from_dict(Guard(Grade.identity(), cov).to_dict()).grade.ridge == 0.0


def test_a_guard_without_a_scored_grade_falls_back_to_the_input() -> None:
    """A single film shot's run (``grade_fallback`` false): outside the coverage the output is the input
    itself, the bilinear baseline, not the grade fitted on that one palette; the record round-trips, and
    a record from before the field existed reads as falling back to the grade."""
    base = _guard()
    guard = Guard(base.grade, base.coverage, grade_fallback=False)
    frame = np.full((80, 80, 3), 0.45, np.float32)
    frame[:, 40:] = (0.8, 0.15, 0.15)  # never seen in training
    out, report = guard_frame(frame, np.full_like(frame, 3.0), guard)
    assert report.outside == pytest.approx(0.5, abs=0.01)
    bounds = guard.coverage.output_bounds()
    np.testing.assert_allclose(out[:, 60:], np.clip(frame[:, 60:], *bounds), atol=1e-6)
    graded = np.clip(base.grade.apply(frame[:, 60:]), *bounds)
    assert np.abs(graded - out[:, 60:]).max() > 0.02  # the grade would have moved it
    back = Guard.from_dict(guard.to_dict())
    assert back.grade_fallback is False
    old = guard.to_dict()
    del old["grade_fallback"]
    assert Guard.from_dict(old).grade_fallback is True
    old["grade_fallback"] = "no"
    with pytest.raises(InputError, match="grade_fallback"):
        Guard.from_dict(old)
