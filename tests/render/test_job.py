"""Render jobs in this process: chunking, determinism, skipping, failures, logs, per-shot transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.align.transform import Transform4
from remaster_core.errors import EXIT_BAD_INPUT, EXIT_MODEL, EXIT_OK, EXIT_PARTIAL, InputError, ModelError
from remaster_core.node import NodeParams, render_frame
from remaster_core.render.inputs import open_source
from remaster_core.render.job import plan_job, run_job, split_chunks
from remaster_core.render.outputs import output_spec
from tests.render import frame_events, model, pixels, read_log, write_align_json, write_sequence
from tests.runtime import StandIn, make_model

FRAMES = list(range(1001, 1008))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("job-models")
    broken = StandIn(s=2, width=8, convs=2, seed=5)
    with torch.no_grad():
        broken.tail.bias[0] = float("nan")  # every output pixel NaN, in fp32 as well
    return {
        "a": model(folder, "a.onnx", seed=0),
        "b": model(folder, "b.onnx", seed=1),
        "nan": make_model(folder, "nan.onnx", net=broken)[0],
    }


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_sequence(tmp_path_factory.mktemp("plates"), FRAMES)


def render(
    src: str, out: Path, model_path: Path, *, chunk: int | None = None, size=(96, 72), force=False, **kw
):
    spec = output_spec(str(out / "out.####.exr"), bit_depth=kw.pop("bit_depth", None))
    node = NodeParams(model=model_path, output_size=size, provider="cpu", **kw.pop("node", {}))
    plan = plan_job(src, spec, node, chunk_size=chunk, force=force, **kw)
    return plan, run_job(plan, show_progress=False)


def test_split_chunks() -> None:
    assert [c.frames for c in split_chunks([5, 1, 2, 3, 3], 2)] == [(1, 2), (3, 5)]
    assert [c.name for c in split_chunks(range(10, 17), 3)] == ["chunk-10-12", "chunk-13-15", "chunk-16-16"]
    assert len(split_chunks(range(7), None)) == 1
    with pytest.raises(InputError):
        split_chunks([], 3)
    with pytest.raises(InputError):
        split_chunks([1], 0)


def test_frames_are_bit_identical_whatever_the_chunking(plates: str, models: dict, tmp_path: Path) -> None:
    outputs = {}
    for chunk in (1, 3, None):
        out = tmp_path / f"chunk-{chunk}"
        plan, result = render(plates, out, models["a"], chunk=chunk)
        assert result.exit_code == EXIT_OK and result.rendered == FRAMES
        assert len(plan.chunks) == {1: 7, 3: 3, None: 1}[chunk]
        outputs[chunk] = {f: (out / f"out.{f}.exr").read_bytes() for f in FRAMES}
    assert outputs[1] == outputs[3] == outputs[None]


def test_rerun_skips_valid_frames_and_redoes_stale_ones(plates: str, models: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, first = render(plates, out, models["a"], chunk=3)
    assert first.rendered == FRAMES
    _, again = render(plates, out, models["a"], chunk=3)
    assert again.rendered == [] and again.skipped == FRAMES and again.exit_code == EXIT_OK
    damaged = out / "out.1004.exr"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    (out / "out.1006.exr").unlink()
    _, repaired = render(plates, out, models["a"], chunk=3)
    assert repaired.rendered == [1004, 1006] and repaired.exit_code == EXIT_OK
    _, other_model = render(plates, out, models["b"], chunk=3)
    assert other_model.rendered == FRAMES  # frames of another model are not "valid"
    _, forced = render(plates, out, models["b"], chunk=3, force=True)
    assert forced.rendered == FRAMES and forced.skipped == []
    _, other_mix = render(plates, out, models["b"], chunk=3, node={"mix": 0.5})
    assert other_mix.rendered == FRAMES


def test_a_corrupt_input_frame_fails_alone(plates: str, models: dict, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for f in FRAMES:
        (src / f"plate.{f}.exr").write_bytes(Path(plates.replace("####", str(f))).read_bytes())
    (src / "plate.1004.exr").write_bytes(b"\x76\x2f\x31\x01" + b"\x00" * 300)  # EXR magic, then garbage
    out = tmp_path / "out"
    _, result = render(str(src / "plate.####.exr"), out, models["a"], chunk=3)
    assert result.exit_code == EXIT_PARTIAL
    assert [f.frame for f in result.failed] == [1004] and "plate.1004.exr" in result.failed[0].error
    assert result.rendered == [f for f in FRAMES if f != 1004]
    assert not (out / "out.1004.exr").exists()
    log = read_log(Path(result.results[1].log))
    failed = frame_events(log, "failed")
    assert [e["frame"] for e in failed] == [1004] and "plate.1004.exr" in failed[0]["error"]
    assert log[-1]["event"] == "end" and log[-1]["failed_frames"] == "1004" and log[-1]["exit_code"] == 4


def test_chunk_log_lines(plates: str, models: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(plates, out, models["a"], chunk=4)
    logs = sorted((out / ".remaster" / "logs").glob("*.jsonl"))
    assert [p.name for p in logs] == ["chunk-1001-1004.jsonl", "chunk-1005-1007.jsonl"]
    log = read_log(logs[0])
    start, end = log[0], log[-1]
    assert start["event"] == "start" and start["providers"] == ["CPUExecutionProvider"]
    assert start["frames"] == "1001-1004" and len(start["model_sha256"]) == 64
    assert [e["frame"] for e in frame_events(log, "rendered")] == [1001, 1002, 1003, 1004]
    assert all(
        e["seconds"] >= 0 and e["error"] is None and e["path"].endswith(".exr") for e in frame_events(log)
    )
    assert end["event"] == "end" and end["rendered"] == 4 and end["exit_code"] == 0
    render(plates, out, models["a"], chunk=4)  # a re-run appends
    log = read_log(logs[0])
    assert [r["event"] for r in log].count("start") == 2
    assert [e["frame"] for e in frame_events(log, "skipped")] == [1001, 1002, 1003, 1004]


def test_a_model_that_fails_every_frame_exits_3(plates: str, models: dict, tmp_path: Path) -> None:
    _, result = render(plates, tmp_path / "out", models["nan"], chunk=4)
    assert result.exit_code == EXIT_MODEL
    assert len(result.failed) == len(FRAMES) and all(f.kind == "model" for f in result.failed)
    assert "NaN" in result.failed[0].error


def test_set_up_errors_come_before_any_work(plates: str, models: dict, tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        render(plates, tmp_path / "o1", tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="backwards"):
        render(plates, tmp_path / "o2", models["a"], frames="1005-1001")
    with pytest.raises(InputError, match="no such file"):
        render(str(tmp_path / "nothing"), tmp_path / "o3", models["a"])
    with pytest.raises(InputError, match="overwrite"):
        node = NodeParams(model=models["a"], provider="cpu")
        plan_job(plates, output_spec(plates.replace("plate.####", "plate.%04d")), node)
    _, result = render(plates, tmp_path / "o4", models["a"], frames="1006-1009")
    assert result.exit_code == EXIT_PARTIAL and [f.frame for f in result.failed] == [1008, 1009]
    _, none = render(plates, tmp_path / "o5", models["a"], frames="2000-2001")
    assert none.exit_code == EXIT_BAD_INPUT and none.rendered == []


def test_per_shot_transforms_from_align_json(models: dict, tmp_path: Path) -> None:
    conform_frames = write_sequence(tmp_path / "conform", range(6), name="frame")
    a, b = Transform4(0.5, 0.25, 0.6, 0.6), Transform4(-2.0, 1.0, 0.55, 0.5)
    shots = [
        {
            "index": 0,
            "first": 0,
            "last": 2,
            "status": "aligned",
            "transform": a.to_dict(),
            "distortion": None,
        },
        {
            "index": 1,
            "first": 3,
            "last": 5,
            "status": "rejected",
            "transform": b.to_dict(),
            "distortion": None,
        },
    ]
    align = write_align_json(tmp_path, shots, (100, 80), conform_dir=tmp_path / "conform")
    out = tmp_path / "out"
    plan, result = render(
        conform_frames, out, models["a"], size=None, align=align, chunk=4, bit_depth="float"
    )
    assert result.exit_code == EXIT_OK and plan.settings.node.output_size == (100, 80)
    src = {f.frame: f.rgb for f in open_source(conform_frames).read([1, 4])}
    node = plan.settings.node
    np.testing.assert_array_equal(pixels(out / "out.0001.exr"), render_frame(src[1], node, transform=a))
    np.testing.assert_array_equal(pixels(out / "out.0004.exr"), render_frame(src[4], node, transform=b))
    with pytest.raises(InputError, match="asked for"):
        render(conform_frames, tmp_path / "o2", models["a"], size=(90, 80), align=align)


def test_video_conformed_on_the_fly(tiny_reel: Path, models: dict, tmp_path: Path) -> None:
    video = str(tiny_reel / "broadcast.mpg")
    out = tmp_path / "out"
    plan, result = render(video, out, models["a"], size=(96, 64), frames="10-13", chunk=2, bit_depth="float")
    assert result.exit_code == EXIT_OK and result.rendered == [10, 11, 12, 13]
    assert plan.input_kind == "video" and plan.pixel_aspect == pytest.approx(8 / 9)
    source = {f.frame: f.rgb for f in open_source(video).read([12])}
    expected = render_frame(source[12], plan.settings.node, pixel_aspect=8 / 9)
    np.testing.assert_array_equal(pixels(out / "out.0012.exr"), expected)


def test_frame_ranges_in_nukes_form_and_negative_frames_of_a_video(
    plates: str, tiny_reel: Path, models: dict, tmp_path: Path
) -> None:
    plan, result = render(plates, tmp_path / "o1", models["a"], frames="1001-1002 1004")
    assert plan.frames == [1001, 1002, 1004] and result.rendered == [1001, 1002, 1004]
    with pytest.raises(InputError, match="frame range '1001-1003:2': cannot read"):
        render(plates, tmp_path / "o2", models["a"], frames="1001-1003:2")
    with pytest.raises(InputError, match="frame -2 is negative, but .* numbers its frames from 0"):
        render(str(tiny_reel / "broadcast.mpg"), tmp_path / "o3", models["a"], frames="-2-1")
