"""A guarded model in a render (issue 17): frames whose colours lie outside the model's training coverage
are counted in the chunk log, flagged in their EXR header, and summarised once by the job."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from export import export_model
from remaster_core.errors import EXIT_OK
from remaster_core.grade import PixelSample, fit_grade
from remaster_core.guard import Guard, coverage_of
from remaster_core.io.images import read_meta
from remaster_core.node import NodeParams
from remaster_core.render.chunk import GUARD_ATTRIBUTE
from remaster_core.render.job import plan_job, run_job
from remaster_core.render.outputs import output_spec
from tests.export import SMALL, make_run, trained_like
from tests.render import read_log, write_sequence
from training.colour_init import GUARD_KEY


def test_frames_outside_the_training_colours_are_counted_flagged_and_summarised(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    grey = np.clip(0.5 + 0.01 * rng.standard_normal((20_000, 3)), 0, 1).astype(np.float32)  # a narrow palette
    sample = PixelSample(grey, grey * 0.9 + 0.05, 1)
    guard = Guard(fit_grade(sample), coverage_of(sample))
    graded = dataclasses.replace(SMALL, colour_path=False, grade_path=True, mean_lock=5)
    run = make_run(tmp_path / "run", trained_like(graded), extra={GUARD_KEY: guard.to_dict()})
    model = export_model(run, tmp_path / "m.onnx").onnx
    plates = write_sequence(tmp_path / "plates", [1, 2, 3])
    spec = output_spec(str(tmp_path / "out" / "out.####.exr"), bit_depth="float")
    plan = plan_job(plates, spec, NodeParams(model=model, output_size=(96, 72), provider="cpu"))
    result = run_job(plan, show_progress=False)
    assert result.exit_code == EXIT_OK and sorted(result.guard_flagged) == [1, 2, 3]
    summary = result.guard_summary()
    assert summary is not None and "3 of 3 rendered frame(s)" in summary
    lines = read_log(Path(result.results[0].log))
    frames = [line for line in lines if line["event"] == "frame"]
    assert all(line["guard"]["flagged"] and line["guard"]["outside"] > 0.5 for line in frames)
    assert [line for line in lines if line["event"] == "end"][-1]["guard_flagged"] == "1-3"
    meta = read_meta(tmp_path / "out" / "out.0002.exr")
    assert str(meta.extra[GUARD_ATTRIBUTE[".exr"]]).startswith("outside=")
