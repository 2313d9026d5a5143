"""Export carries the model's guard and held-out figures (issue 17): the all-shots grade goes into the
graph's grade path and the metadata, the runtime reads them back, the node guards the output with them,
and export warns when the model does not beat the colour fit."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from export import export_model
from remaster_core.grade import PixelSample, fit_grade
from remaster_core.guard import Guard, coverage_of
from remaster_core.node import NodeParams, render_frame
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import open_model
from tests.export import SMALL, make_run, one_thread, trained_like  # noqa: F401 (one_thread: a fixture)
from training.colour_init import GUARD_KEY

pytestmark = pytest.mark.usefixtures("one_thread")

GRADED = dataclasses.replace(SMALL, colour_path=False, grade_path=True, mean_lock=5)


def _guard() -> Guard:
    rng = np.random.default_rng(0)
    x = np.clip(0.5 + 0.12 * rng.standard_normal((30_000, 3)), 0, 1).astype(np.float32)
    sample = PixelSample(x, np.clip(0.85 * x + 0.08, 0, 1).astype(np.float32), 1)
    return Guard(fit_grade(sample), coverage_of(sample))


HELD_OUT = {
    "whole_shots": True,
    "shots": [{"shot": 4, "frames": 2, "ours": 25.0, "colour_fit": 26.0, "bilinear": 22.0}],
    "margin_colour_fit": -1.0,
    "margin_bilinear": 3.0,
}


def test_export_writes_the_guard_and_warns_below_the_colour_fit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guard = _guard()
    run = make_run(
        tmp_path / "run", trained_like(GRADED), extra={GUARD_KEY: guard.to_dict(), "held_out": HELD_OUT}
    )
    with caplog.at_level(logging.WARNING, logger="remaster.export"):
        result = export_model(run, tmp_path / "m.onnx")
    assert "does not beat the colour fit on held-out shot 4" in caplog.text
    info, _ = open_model(result.onnx)
    assert info.guard is not None and info.held_out == HELD_OUT
    assert contract.KEY_GUARD in result.metadata
    np.testing.assert_allclose(info.guard.grade.bias, guard.grade.bias, atol=1e-6)
    # the node guards the output: a frame of colours never seen in training falls back to the grade,
    # within the targets' range plus the margin, and the report says so
    frame = np.zeros((24, 32, 3), np.float32)
    frame[..., 0] = 0.95
    reports = []
    out = render_frame(frame, NodeParams(model=result.onnx), on_guard=reports.append)
    lo, hi = info.guard.coverage.output_bounds()
    assert len(reports) == 1 and reports[0].flagged and reports[0].outside == 1.0
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()
    np.testing.assert_allclose(out, np.clip(guard.grade.apply(frame), lo, hi), atol=1e-4)


def test_a_checkpoint_without_figures_is_exported_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = make_run(tmp_path / "run", trained_like(GRADED))
    with caplog.at_level(logging.WARNING, logger="remaster.export"):
        result = export_model(run, tmp_path / "m.onnx")
    assert "has no held-out figures" in caplog.text and "no training coverage" in caplog.text
    info, _ = open_model(result.onnx)
    assert info.guard is None and info.held_out is None


def test_a_broken_guard_entry_is_refused_naming_the_key(tmp_path: Path) -> None:
    import onnx

    run = make_run(tmp_path / "run", trained_like(GRADED), extra={GUARD_KEY: _guard().to_dict()})
    result = export_model(run, tmp_path / "m.onnx")
    model = onnx.load(str(result.onnx))
    for prop in model.metadata_props:
        if prop.key == contract.KEY_GUARD:
            prop.value = '{"grade": {}, "coverage": {}}'
    onnx.save(model, str(tmp_path / "broken.onnx"))
    with pytest.raises(contract.ModelError, match="remaster.guard"):
        open_model(tmp_path / "broken.onnx")
