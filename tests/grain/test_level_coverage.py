"""The levels a grain profile was measured at: recorded, kept through JSON, and told to a render whose
frames lie elsewhere (the grain there takes the nearest measured level's amplitude: a guess, flagged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grain import estimate_profile
from remaster_core.grain.profile import GrainProfile, profile_from_json, profile_to_json
from remaster_core.grain.synthesis import unmeasured_share
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as film_grain
from tests.grain.test_profile import H, W, film


def dark_film(count: int = 4) -> list[np.ndarray]:
    """The reels' grain on a dark, flat picture (luma 0.1): the only level bin measured is 0-0.2."""
    dark = np.full((H, W, 3), 0.1, np.float32)
    return [film_grain(dark, np.random.default_rng([3, k]), GrainParams()) for k in range(count)]


def test_the_profile_records_the_levels_it_measured() -> None:
    ramp = estimate_profile(film())  # luma 0.2 .. 0.7
    assert ramp.level_measured == (False, True, True, True, False)
    assert ramp.unmeasured_ranges() == [(0.0, 0.2), (0.8, 1.0)]
    dark = estimate_profile(dark_film())
    assert dark.level_measured == (True, False, False, False, False)
    assert dark.unmeasured_ranges() == [(0.2, 1.0)]
    again = profile_from_json(profile_to_json(dark), "test")
    assert again == dark and again.level_measured == dark.level_measured


def test_a_profile_written_before_the_field_reads_as_unknown_and_bad_values_are_named() -> None:
    data = estimate_profile(dark_film()).to_dict()
    del data["level_measured"]
    old = GrainProfile.from_dict(data)
    assert old.level_measured is None and old.unmeasured_ranges() == []
    assert unmeasured_share(old, np.full((64, 64, 3), 0.5, np.float32)) is None
    for bad, message in (
        ([True, False], "must hold 5 bins"),
        ("yes", "must be a list"),
        ([1, 0, 0, 0, 0], "true/false"),
    ):
        with pytest.raises(InputError, match=message):
            GrainProfile.from_dict({**data, "level_measured": bad}, where="grain.json")


def test_the_share_of_a_frame_at_unmeasured_levels() -> None:
    dark = estimate_profile(dark_film())
    assert unmeasured_share(dark, np.full((64, 64, 3), 0.08, np.float32)) == 0.0
    assert unmeasured_share(dark, np.full((64, 64, 3), 0.5, np.float32)) == 1.0
    half = np.full((64, 64, 3), 0.08, np.float32)
    half[:, 32:] = 0.6
    assert unmeasured_share(dark, half) == pytest.approx(0.5, abs=0.05)  # the blurred edge is split
    assert unmeasured_share(None, half) is None
    every = GrainProfile.from_dict({**dark.to_dict(), "level_measured": [True] * 5})
    assert unmeasured_share(every, half) is None


def test_a_render_flags_the_frames_that_lie_where_the_grain_was_never_measured(tmp_path: Path) -> None:
    """A model whose film was all dark renders a bright plate: every frame's log line gives its share at
    unmeasured levels (1.0), the chunk's end line and the job list them, and the job warns; the same
    render with the grain off flags nothing; a dark plate flags nothing."""
    from remaster_core.io.images import write_image
    from remaster_core.node import NodeParams
    from remaster_core.render.job import JobResult, plan_job, run_job
    from remaster_core.render.outputs import output_spec
    from remaster_core.runtime import model as contract
    from tests.render import frame_events, read_log
    from tests.runtime import StandIn, make_model, metadata

    profile = estimate_profile(dark_film())
    net = StandIn(s=2, width=8, convs=2, seed=1)
    props = metadata(net.s, net.receptive_field, **{contract.KEY_GRAIN_PROFILE: profile_to_json(profile)})
    model, _ = make_model(tmp_path, "m.onnx", net=net, props=props)
    rng = np.random.default_rng(0)
    for name, level in (("bright", 0.55), ("dark", 0.08)):
        for f in (1, 2, 3):
            picture = level + rng.normal(0, 0.01, (48, 64, 3)).astype(np.float32)
            write_image(tmp_path / name / f"p.{f:04d}.exr", picture, bit_depth="float")

    def render(name: str, amount: float) -> tuple[JobResult, list[dict[str, object]]]:
        out = tmp_path / f"out_{name}_{amount}"
        spec = output_spec(str(out / "o.####.exr"), bit_depth="float")
        node = NodeParams(model=model, output_size=(128, 96), grain_amount=amount)
        job = run_job(plan_job(str(tmp_path / name / "p.####.exr"), spec, node), show_progress=False)
        assert job.exit_code == 0
        return job, read_log(next((out / ".remaster" / "logs").glob("*.jsonl")))

    job, records = render("bright", 1.0)
    assert job.grain_extrapolated == {1: 1.0, 2: 1.0, 3: 1.0}
    assert [e["grain_unmeasured"] for e in frame_events(records, "rendered")] == [1.0, 1.0, 1.0]
    assert records[-1]["grain_extrapolated"] == "1-3"
    summary = job.grain_summary()
    assert summary is not None and "3 of 3 rendered frame(s) (1-3)" in summary and "never measured" in summary
    job, records = render("bright", 0.0)
    assert job.grain_extrapolated == {} and job.grain_summary() is None
    assert all("grain_unmeasured" not in e for e in frame_events(records, "rendered"))
    job, records = render("dark", 1.0)
    assert job.grain_extrapolated == {}
    assert [e["grain_unmeasured"] for e in frame_events(records, "rendered")] == [0.0, 0.0, 0.0]
