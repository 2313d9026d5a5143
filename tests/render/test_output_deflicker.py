"""The output deflicker (``remaster render --deflicker-output N``): the model's output low band averaged
over neighbouring frames before the grain. A render steadies, gives the same frames whatever the
chunking and the frames asked for (the model runs beyond a chunk's ends), re-renders exactly the frames
whose neighbours changed, survives a neighbour it cannot read, and synthesises back the grain it takes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.io.images import write_image
from tests.render import frame_events, pixels, read_log, run_cli
from tests.render.test_deflicker import H, W, _lf_noise, _pan, _picture
from tests.runtime import StandIn, make_model, metadata

FRAMES = list(range(1, 10))


def _plate(folder: Path, seed: int = 4) -> str:
    """A panning textured picture with slow low-frequency noise: ``folder/p.####.exr`` (frames 1-9, 160x120
    float EXR); returns the pattern."""
    clean = _pan(_picture(seed), len(FRAMES), 1.5)
    noise = _lf_noise(len(FRAMES), seed + 1, amplitude=0.02)
    for f, c, n in zip(FRAMES, clean, noise, strict=True):
        write_image(folder / f"p.{f:04d}.exr", np.clip(c + n, 0, 1).astype(np.float32), bit_depth="float")
    return str(folder / "p.####.exr")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("outdefl")
    net = StandIn(s=2, width=8, convs=2, seed=1)
    (root / "m").mkdir()
    model, _ = make_model(root / "m", "m.onnx", net=net, props=metadata(net.s, net.receptive_field))
    return root, _plate(root / "in"), model


def _render(root: Path, plate: str, model: Path, out: str, *args: str) -> dict[int, np.ndarray]:
    proc = run_cli(plate, "--model", str(model), "--out", str(root / out / "o.####.exr"), "--format",
                   f"{2 * W}x{2 * H}", "--bit-depth", "float", *args)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {f: pixels(path) for f in FRAMES if (path := root / out / f"o.{f:04d}.exr").is_file()}


def _change(frames: dict[int, np.ndarray]) -> float:
    """RMS frame-to-frame change of the low band (8 px Gaussian at the output raster), the pan followed
    (3 px a frame at the output raster), away from the borders."""
    low = {f: cv2.GaussianBlur(v, (0, 0), 8.0) for f, v in frames.items()}
    diffs = [low[f + 1][24:-24, 27:-27] - low[f][24:-24, 24:-30] for f in sorted(low)[:-1]]
    return float(np.sqrt(np.mean(np.square(diffs))))


def test_it_steadies_and_gives_the_same_frames_whatever_the_chunking(setup: tuple[Path, str, Path]) -> None:
    root, plate, model = setup
    whole = _render(root, plate, model, "whole", "--deflicker-output", "2")
    chunks = _render(root, plate, model, "chunks", "--deflicker-output", "2", "--chunk", "2")
    plain = _render(root, plate, model, "plain")
    for f in FRAMES:
        assert np.array_equal(whole[f], chunks[f]), f
    # the slow noise the model passes is averaged away: less than 0.7 of the plain render's change
    assert _change(whole) < 0.7 * _change(plain), (_change(whole), _change(plain))
    # detail is the frame's own: above the low band, the two renders are the same picture
    hp = [whole[f] - cv2.GaussianBlur(whole[f], (0, 0), 4.0) for f in FRAMES]
    hp_plain = [plain[f] - cv2.GaussianBlur(plain[f], (0, 0), 4.0) for f in FRAMES]
    assert np.sqrt(np.mean(np.square(np.subtract(hp, hp_plain))[:, 16:-16, 16:-16])) < 0.003
    part = _render(root, plate, model, "part", "--deflicker-output", "2", "--frames", "4-5")
    assert sorted(part) == [4, 5]  # only the frames asked for are written ...
    for f in (4, 5):  # ... made from the model's output on neighbours outside them all the same
        assert np.array_equal(part[f], whole[f]), f
    both = _render(root, plate, model, "both", "--deflicker", "1", "--deflicker-output", "2", "--chunk", "4")
    both_whole = _render(root, plate, model, "both_whole", "--deflicker", "1", "--deflicker-output", "2")
    for f in FRAMES:
        assert np.array_equal(both[f], both_whole[f]), f
    assert not np.array_equal(both[5], whole[5])


def test_a_changed_neighbour_re_renders_exactly_the_frames_that_read_it(
    setup: tuple[Path, str, Path], tmp_path: Path
) -> None:
    """Input deflicker 1 + output deflicker 1: frame f's pixels depend on the input frames f-2..f+2, so
    a new input frame 7 re-renders frames 5-9 and keeps 1-4 as they were (render keys)."""
    _, _, model = setup
    plate = _plate(tmp_path / "in")
    args = ("--deflicker", "1", "--deflicker-output", "1")
    first = _render(tmp_path, plate, model, "out", *args)
    again = run_cli(plate, "--model", str(model), "--out", str(tmp_path / "out" / "o.####.exr"), "--format",
                    f"{2 * W}x{2 * H}", "--bit-depth", "float", *args)  # fmt: skip
    assert again.returncode == 0, again.stderr
    logs = sorted((tmp_path / "out" / ".remaster" / "logs").glob("*.jsonl"))
    assert [
        e["frame"] for e in frame_events(read_log(logs[0]))[-len(FRAMES) :] if e["status"] == "skipped"
    ] == (FRAMES)
    pic = _picture(9)[:, 20 : 20 + W]
    write_image(tmp_path / "in" / "p.0007.exr", pic, bit_depth="float")
    third = run_cli(plate, "--model", str(model), "--out", str(tmp_path / "out" / "o.####.exr"), "--format",
                    f"{2 * W}x{2 * H}", "--bit-depth", "float", *args)  # fmt: skip
    assert third.returncode == 0, third.stderr
    events = frame_events(read_log(logs[0]))[-len(FRAMES) :]
    assert [e["frame"] for e in events if e["status"] == "rendered"] == [5, 6, 7, 8, 9]
    assert [e["frame"] for e in events if e["status"] == "skipped"] == [1, 2, 3, 4]
    for f in (1, 2, 3, 4):
        assert np.array_equal(pixels(tmp_path / "out" / f"o.{f:04d}.exr"), first[f]), f


def test_a_neighbour_that_cannot_be_read_is_left_out(setup: tuple[Path, str, Path], tmp_path: Path) -> None:
    """A corrupt input frame beside the frames asked for: they are rendered without it (exit 0, no
    failure recorded for a frame nobody asked for); the corrupt frame itself, asked for, fails alone."""
    _, _, model = setup
    plate = _plate(tmp_path / "in")
    (tmp_path / "in" / "p.0006.exr").write_bytes(b"not an exr")
    got = _render(tmp_path, plate, model, "out", "--deflicker-output", "2", "--frames", "4-5")
    assert sorted(got) == [4, 5]
    logs = sorted((tmp_path / "out" / ".remaster" / "logs").glob("*.jsonl"))
    assert [e["frame"] for e in frame_events(read_log(logs[0]), "failed")] == []
    proc = run_cli(plate, "--model", str(model), "--out", str(tmp_path / "all" / "o.####.exr"), "--format",
                   f"{2 * W}x{2 * H}", "--bit-depth", "float", "--deflicker-output", "2")  # fmt: skip
    assert proc.returncode == 4, proc.stderr  # partial: frame 6 failed, the others rendered
    assert sorted(p.name for p in (tmp_path / "all").glob("o.*.exr")) == [
        f"o.{f:04d}.exr" for f in FRAMES if f != 6
    ]


def test_the_grain_synthesised_takes_both_deflickers_in() -> None:
    """The deficit of a frame rendered with both deflickers is the film's less the output's share that
    survives both: ``passed_power`` of the input's at the frame's scale times the output's at scale 1."""
    from types import SimpleNamespace

    from remaster_core.align.transform import Transform4
    from remaster_core.grain import estimate_profile
    from remaster_core.grain.profile import grain_deficit, ring_frequencies
    from remaster_core.render.chunk import frame_grain
    from remaster_core.render.deflicker import OUTPUT_SIGMA, DeflickerParams, passed_power
    from tests.grain.test_profile import film

    profile = estimate_profile(film(2))
    output = grain_deficit(profile, profile, np.full(len(profile.spectrum[0]), 0.5))
    info = SimpleNamespace(grain=grain_deficit(profile, output), film_grain=profile, output_grain=output)
    half = Transform4(0.0, 0.0, 0.5, 0.5)
    d_in, d_out = DeflickerParams(radius=2), DeflickerParams(radius=4, sigma=OUTPUT_SIGMA)
    f = ring_frequencies(profile)
    for d, o, passed in (
        (d_in, d_out, passed_power(f, d_in, 2.0) * passed_power(f, d_out, 1.0)),
        (None, d_out, passed_power(f, d_out, 1.0)),
    ):
        plan = frame_grain(info, d, half, o)  # type: ignore[arg-type]
        assert plan is not None and not plan.removes
        got = plan.deficit
        expected = np.maximum(0.0, np.asarray(profile.spectrum) - passed * np.asarray(output.spectrum))
        assert np.allclose(got.spectrum, expected)
    only_in = frame_grain(info, d_in, half).deficit  # type: ignore[union-attr, arg-type]
    with_out = frame_grain(info, d_in, half, d_out).deficit  # type: ignore[union-attr, arg-type]
    assert only_in is not None and with_out is not None
    assert all(b > a for a, b in zip(only_in.rms, with_out.rms, strict=True))  # it takes more, gives more


def test_a_host_stepping_frame_by_frame_runs_the_model_once_a_frame(
    setup: tuple[Path, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One frame a job in one process (as the worker behind the Nuke node): the first frame runs the
    model on its 2r + 1 frames, each next one on the one frame new to its window; the frames are the
    ones a whole render gives, and a changed input frame is run again, never served from memory."""
    from remaster_core.node import NodeParams
    from remaster_core.render import chunk as chunk_module
    from remaster_core.render.job import plan_job, run_job
    from remaster_core.render.outputs import output_spec

    _, _, model = setup
    plate = _plate(tmp_path / "in")
    whole = _render(tmp_path, plate, model, "whole", "--deflicker", "1", "--deflicker-output", "2")
    runs: list[int] = []
    real = chunk_module.model_frame

    def counted(picture: np.ndarray, params: NodeParams, **kw: object) -> np.ndarray:
        runs.append(1)
        return real(picture, params, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(chunk_module, "model_frame", counted)
    chunk_module.MODEL_OUTPUTS.clear()
    node = NodeParams(model=model, output_size=(2 * W, 2 * H))
    spec = output_spec(str(tmp_path / "step" / "o.####.exr"), bit_depth="float")

    def one(frame: int) -> int:
        runs.clear()
        plan = plan_job(plate, spec, node, frames=[frame], deflicker=1, deflicker_output=2, force=True)
        assert run_job(plan, show_progress=False).exit_code == 0
        return len(runs)

    assert [one(f) for f in (3, 4, 5, 6)] == [5, 1, 1, 1]
    for f in (3, 4, 5, 6):
        assert np.array_equal(pixels(tmp_path / "step" / f"o.{f:04d}.exr"), whole[f]), f
    write_image(tmp_path / "in" / "p.0008.exr", _picture(9)[:, 20 : 20 + W], bit_depth="float")
    # frame 8's input changed: the outputs of 7 (its input deflicker reads 8), 8 and 9 are run again
    assert one(6) == 2  # 7 and 8 are in frame 6's window; 9 is not
    changed = _render(tmp_path, plate, model, "changed", "--deflicker", "1", "--deflicker-output", "2")
    assert np.array_equal(pixels(tmp_path / "step" / "o.0006.exr"), changed[6])
    assert not np.array_equal(changed[6], whole[6])
