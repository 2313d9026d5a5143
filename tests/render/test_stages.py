"""``node.render_frame`` in parts (``prepare_frame``, ``model_frame``, ``apply_grain``), and a chunk (which
runs the parts on three threads) writes what ``render_frame`` gives for each frame, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remaster_core.grade import PixelSample, fit_grade
from remaster_core.grain import estimate_profile
from remaster_core.grain.profile import profile_to_json
from remaster_core.guard import Guard, GuardReport, coverage_of
from remaster_core.io.images import read_image
from remaster_core.node import (
    NodeParams,
    apply_grain,
    engine_for,
    grain_plan,
    model_frame,
    prepare_frame,
    render_frame,
)
from remaster_core.render.inputs import open_source
from remaster_core.render.job import plan_job, run_job
from remaster_core.render.outputs import output_spec
from remaster_core.runtime import model as contract
from tests.grain.test_profile import film
from tests.render import picture, pixels, write_sequence
from tests.runtime import StandIn, make_model, metadata


@pytest.fixture(scope="module")
def grain_guard_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in model carrying a grain profile and a guard fitted on a narrow palette (most pixels of
    a test picture lie outside it, so the guard changes them)."""
    rng = np.random.default_rng(0)
    grey = np.clip(0.5 + 0.05 * rng.standard_normal((20_000, 3)), 0, 1).astype(np.float32)
    sample = PixelSample(grey, grey * 0.9 + 0.05, 1)
    guard = Guard(fit_grade(sample), coverage_of(sample))
    net = StandIn(s=2, width=8, convs=2, seed=3)
    props = metadata(
        net.s,
        net.receptive_field,
        **{
            contract.KEY_GRAIN_PROFILE: profile_to_json(estimate_profile(film(2))),
            contract.KEY_GUARD: json.dumps(guard.to_dict()),
        },
    )
    path, _ = make_model(tmp_path_factory.mktemp("stages-model"), "gg.onnx", net=net, props=props)
    return path


@pytest.mark.parametrize("mix", [1.0, 0.5, 0.0])
def test_the_three_stages_are_render_frame_bit_for_bit(grain_guard_model: Path, mix: float) -> None:
    params = NodeParams(model=grain_guard_model, output_size=(96, 72), mix=mix, grain_seed=4)
    source = picture(80, 60, seed=2)
    reports: list[GuardReport] = []
    whole = render_frame(source, params, pixel_aspect=0.9, shot=1, frame=5, on_guard=reports.append)
    staged_reports: list[GuardReport] = []
    resampled = prepare_frame(source, params, pixel_aspect=0.9)
    mixed = model_frame(resampled.picture, params, on_guard=staged_reports.append)
    plan = grain_plan(engine_for(params).info) if mix > 0 else None
    staged = resampled.finish(apply_grain(mixed, params, plan, shot=1, frame=5))
    assert whole.dtype == staged.dtype == np.float32 and whole.shape == (72, 96, 3)
    assert np.array_equal(whole, staged)
    assert [r.to_dict() for r in reports] == [r.to_dict() for r in staged_reports]
    if mix > 0:
        assert reports and reports[0].outside > 0.1  # the guard did act
        assert not np.array_equal(staged, mixed)  # grain was added


def test_a_chunk_writes_what_render_frame_gives(grain_guard_model: Path, tmp_path: Path) -> None:
    frames = [3, 4, 5, 6]
    plates = write_sequence(tmp_path / "in", frames, (80, 60))
    params = NodeParams(model=grain_guard_model, output_size=(96, 72), provider="cpu", grain_seed=2)
    spec = output_spec(str(tmp_path / "out" / "out.####.exr"), bit_depth="float")
    result = run_job(plan_job(plates, spec, params, chunk_size=3), show_progress=False)
    assert result.exit_code == 0 and sorted(result.rendered) == frames
    par = open_source(plates).pixel_aspect
    for frame in frames:
        source, _ = read_image(Path(plates.replace("####", f"{frame:04d}")))
        expected = render_frame(source, params, pixel_aspect=par, shot=-1, frame=frame)
        assert np.array_equal(pixels(tmp_path / "out" / f"out.{frame:04d}.exr"), expected), frame
