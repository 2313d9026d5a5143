"""The levels a grain profile was measured at: recorded, kept through JSON, and told to a render whose
frames lie elsewhere (the grain there takes an amplitude guessed from the measured levels: flagged)."""

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
    ramp = estimate_profile(film())  # luma 0.2 .. 0.7; bins of 0.1 (LookParams.profile_level_edges)
    assert ramp.level_measured == (False,) * 3 + (True,) * 4 + (False,) * 3
    assert ramp.unmeasured_ranges() == [(0.0, 0.3), (0.7, 1.0)]
    dark = estimate_profile(dark_film())
    assert dark.level_measured == (True, True) + (False,) * 8
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
        ([True, False], "must hold 10 bins"),
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
    every = GrainProfile.from_dict({**dark.to_dict(), "level_measured": [True] * 10})
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


def striped_film(count: int = 6) -> tuple[list[np.ndarray], GrainParams]:
    """A panning picture (2 px a frame) whose top half is flat (luma 0.55: the only level with flat
    64 px tiles) and whose bottom half is 40 px stripes at luma 0.15, 0.25 .. 0.85, side by side 0.3 or
    more apart (no flat tile: each spans an edge; flat 16 px windows inside each stripe), under a stock whose grain falls from 0.55 to
    0.4x at black and white."""
    stock = GrainParams(amplitude=0.02, floor=0.4, peak=0.55)
    h, w = 384, 512
    levels = np.array([0.15, 0.55, 0.25, 0.65, 0.35, 0.75, 0.45, 0.85])
    stripes = levels[(np.arange(w + 2 * count) // 40) % 8]
    rng = np.random.default_rng(7)
    frames = []
    for k in range(count):
        picture = np.full((h, w, 3), 0.55, np.float32)
        picture[h // 2 :] = stripes[2 * k : 2 * k + w, None].astype(np.float32)
        frames.append(film_grain(picture, rng, stock))
    return frames, stock


def test_the_level_response_is_measured_between_a_picture_s_edges_on_frame_differences() -> None:
    """Consecutive frames: the level response comes from flat 16 px windows of the frame differences,
    so every stripe's level is measured and follows the stock's response; single frames measure only
    the flat half's level (the rest is a guess)."""
    from remaster_core.synth.scenes import grain_level_response

    frames, stock = striped_film()
    profile = estimate_profile(frames, consecutive=True)
    assert profile.temporal and profile.level_measured is not None
    assert all(profile.level_measured[1:9]) and profile.unmeasured_ranges() == [(0.0, 0.1), (0.9, 1.0)]
    centres = np.arange(10) * 0.1 + 0.05
    truth = grain_level_response(centres.astype(np.float32), stock)
    gains = np.asarray(profile.level_gain)[:, 1]  # green
    assert np.allclose(gains[1:9] / gains[5], truth[1:9] / truth[5], atol=0.05), gains
    single = estimate_profile(frames)
    assert single.level_measured == (False,) * 5 + (True,) + (False,) * 4
    assert abs(np.asarray(single.level_gain)[1, 1] / np.asarray(single.level_gain)[5, 1] - 1) < 0.01


def test_levels_never_measured_follow_the_measured_fall_off_and_never_exceed_the_nearest() -> None:
    """Bins of RMS 1 .. 4 measured at 2-5 (a rise to the right, a fall to the left): the gap at 4 lies on
    the line between its neighbours, the bins past 5 stay at 5's (a rise is not carried on), the bins
    before 2 go on falling by 1 a bin: no grain from bin 1 down (``MIN_GAIN``). The gains are over the
    RMS of the flat tiles' pixels (all at bin 3 here)."""
    from remaster_core.grain.profile import MIN_GAIN, _level_gains, _LevelSums

    edges = tuple(np.arange(9) * 0.1)
    centres = np.arange(8) * 0.1 + 0.05
    rms = np.array([0.0, 0.0, 1.0, 2.0, 0.0, 4.0, 0.0, 0.0])
    pixels = np.array([0, 0, 5000, 5000, 10, 5000, 0, 0])
    sq = np.repeat((rms**2 * pixels)[:, None], 3, axis=1)
    sums = _LevelSums.of(edges, sq, pixels, centres * pixels)
    gains, measured, positions = _level_gains(sums, 4096, population=np.array([0, 0, 0, 100, 0, 0, 0, 0]))
    assert measured.tolist() == [False, False, True, True, False, True, False, False]
    assert np.allclose(positions, centres)
    expected = np.array([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]) / 2.0
    expected[:2] = MIN_GAIN
    assert np.allclose(gains[:, 0], expected) and np.allclose(gains, gains[:, :1])


def test_a_gap_across_the_middle_lies_between_the_line_and_the_measured_slopes_carried_on() -> None:
    """A response that rises and falls (a print's: RMS 4 - 0.06 (bin - 3)^2, bins 0-9, highest at bin 3)
    measured at bins 0, 1, 8 and 9 only: each bin of the gap lies at the geometric mean of the line
    between bins 1 and 8 (the least a response that does not bulge inwards holds there) and the measured
    slopes carried on from either side, never above the largest RMS measured (bin 1's): nearer the
    response than the line on every bin of the gap. Bins 1 and 8 alone (no slope measured beyond
    either): the line."""
    from remaster_core.grain.profile import _level_gains, _LevelSums

    edges = tuple(np.arange(11) * 0.1)
    centres = np.arange(10) * 0.1 + 0.05
    truth = 4.0 - 0.06 * (np.arange(10) - 3.0) ** 2

    def gains_of(seen: list[int]) -> np.ndarray:
        pixels = np.zeros(10, np.int64)
        pixels[seen] = 5000
        sq = np.repeat((truth**2 * pixels)[:, None], 3, axis=1)
        gains, _, _ = _level_gains(_LevelSums.of(edges, sq, pixels, centres * pixels), 4096, pixels)
        assert np.allclose(gains, gains[:, :1])
        return gains[:, 0] / gains[1, 0]  # against bin 1's: the gains' common scale drops out

    gap = np.arange(2, 8)
    line = np.interp(gap, [1, 8], truth[[1, 8]]) / truth[1]
    wanted = truth[gap] / truth[1]
    got = gains_of([0, 1, 8, 9])[gap]
    assert np.all(got >= line - 1e-9) and np.all(got <= 1.0 + 1e-9)
    assert np.all(np.abs(np.log(got / wanted)) < np.abs(np.log(line / wanted)))
    assert np.allclose(gains_of([1, 8])[gap], line)


def test_a_bin_s_gain_stands_for_the_level_its_pixels_lie_at() -> None:
    """A bin's pixels all at one side of it (luma 0.02 in the 0-0.1 bin, 0.18 in 0.1-0.2): its gain is
    placed there (``level_position``), and a render interpolates between those levels, not the bins'
    centres; the levels go through JSON, and a profile without them reads the centres."""
    from remaster_core.grain.profile import _level_gains, _LevelSums
    from remaster_core.grain.synthesis import gain_at_level, level_positions

    edges = tuple(np.arange(4) * 0.1)
    pixels = np.array([5000, 5000, 5000])
    rms = np.array([1.0, 2.0, 2.5])
    sq = np.repeat((rms**2 * pixels)[:, None], 3, axis=1)
    sums = _LevelSums.of(edges, sq, pixels, np.array([0.02, 0.18, 0.25]) * pixels)
    gains, _, positions = _level_gains(sums, 4096, population=pixels)
    assert np.allclose(positions, [0.02, 0.18, 0.25])
    data = estimate_profile(dark_film()).to_dict()
    data.update(level_edges=list(edges), level_gain=gains.tolist(), level_measured=[True] * 3)
    profile = GrainProfile.from_dict({**data, "level_position": positions.tolist()})
    assert profile_from_json(profile_to_json(profile), "test") == profile
    assert np.allclose(level_positions(profile), positions)
    at = gain_at_level(profile, np.array([[0.02, 0.06, 0.18]], np.float32))[0, :, 0]
    expected = np.interp([0.02, 0.06, 0.18], positions, gains[:, 0])
    assert np.allclose(at, expected, atol=0.01 * gains.max()), (at, expected)
    # a quarter of the way from 0.02 to 0.18 (from the centres 0.05 to 0.15: a tenth)
    assert at[1] == pytest.approx(0.75 * gains[0, 0] + 0.25 * gains[1, 0], abs=0.01)
    centred = GrainProfile.from_dict(data | {"level_position": None})
    assert np.allclose(level_positions(centred), [0.05, 0.15, 0.25])
    for bad, message in (
        ([0.02, 0.18], "must hold 3"),
        ([0.02, 0.25, 0.26], "within its bin"),
        ("x", "a list"),
    ):
        with pytest.raises(InputError, match=message):
            GrainProfile.from_dict({**data, "level_position": bad}, where="grain.json")


def test_measured_profiles_place_each_bin_where_its_pixels_were() -> None:
    """The dark film (luma 0.1, blurred flat): its measured bins' levels are the picture's, within the
    bins; the unmeasured ones' are their centres."""
    dark = estimate_profile(dark_film())
    assert dark.level_position is not None and dark.level_measured is not None
    positions = np.asarray(dark.level_position)
    measured = np.asarray(dark.level_measured)
    assert np.all(np.abs(positions[measured] - 0.1) < 0.02), positions
    assert np.allclose(positions[~measured], (np.arange(10) * 0.1 + 0.05)[~measured])
