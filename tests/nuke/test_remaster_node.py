"""The Remaster gizmo's wiring, in the ``nuke`` stand-in, against the real ``remaster worker``.

What this shows: the gizmo file's knobs and internal nodes fit the callbacks; "Process range" makes
Nuke write the Source frames, has the worker render them, and the gizmo's output is then exactly
what ``remaster render`` gives for those frames; knob changes switch cache folders; bad input is
reported on the node; a worker killed mid-request is reported and replaced. What it cannot show:
that real Nuke loads the gizmo and renders its Write and Read as the stand-in does (see fake_nuke).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from remaster_core.io.images import ImageMeta, read_image, write_image
from tests.nuke import fake_nuke
from tests.render import model, picture, write_sequence
from tests.runtime import StandIn, make_model
from tests.worker import remaster_render

FRAMES = [1001, 1002, 1003, 1004]


def _node(nuke: ModuleType, plate: str, onnx: Path | None, worker: str, first: int = 1001, last: int = 1004):
    """A Remaster node on a Read of ``plate`` (frames first..last), as a user sets it up."""
    read = fake_nuke.make_read(plate, first, last)
    node = nuke.createNode("Remaster")
    node.setInput(0, read)
    fake_nuke.change(node, "inputChange")
    fake_nuke.change(node, "worker", worker)
    if onnx is not None:
        fake_nuke.change(node, "model", str(onnx))
    return node


def _set_format(node, w: int, h: int) -> None:
    node["out_format"].setValue(fake_nuke.Format(w, h, 1.0, f"{w}x{h}"))
    fake_nuke.change(node, "use_format", True)


def _cli_frames(plate: str, onnx: Path, out: Path, *args: str) -> dict[int, np.ndarray]:
    code = remaster_render(
        plate, "--model", str(onnx), "--out", str(out / "f.####.exr"), "--bit-depth", "float", *args
    )
    assert code == 0
    return {f: read_image(out / f"f.{f}.exr")[0] for f in FRAMES}


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_sequence(tmp_path_factory.mktemp("nuke-plate"), FRAMES, (64, 48))


def test_process_range_gives_what_remaster_render_gives(
    session: ModuleType, plate: str, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    nuke = session
    node = _node(nuke, plate, onnx_model, worker_knob)
    _set_format(node, 96, 72)
    assert node["settings_ok"].value() and "0 of 4 frames (1001-1004) processed" in node["status"].value()
    with pytest.raises(fake_nuke.NukeError, match="no such file"):  # nothing processed: the node errors
        fake_nuke.pull(node, 1001)

    fake_nuke.press(node, "process")
    status = node["status"].value()
    # the CPU backend that ran is named: OpenVINO where it is installed (auto's choice), else onnxruntime's
    assert status.startswith("4 rendered, 0 already valid")
    assert ("OpenVINO" in status) or ("CPUExecutionProvider" in status), status
    expected = _cli_frames(plate, onnx_model, tmp_path / "cli", "--format", "96x72")
    for f in FRAMES:
        got = fake_nuke.pull(node, f)
        assert got.channels == ["rgba.red", "rgba.green", "rgba.blue"]
        assert np.array_equal(got.pixels, expected[f]), f  # bit-identical to remaster render
    # the Source went through the gizmo's own Write, the frames into the key's cache folder
    key = node["cache_key"].value()
    assert [e[1] for e in fake_nuke.executed] == FRAMES and all(
        key in e[0] or "SourceWrite" in e[0] for e in fake_nuke.executed
    )
    assert node["result_pattern"].value().endswith(f"/{key}/out/remaster.####.exr")
    assert Path(node["worker_log"].value()).is_file()

    fake_nuke.press(node, "process")  # again: the worker finds every frame valid
    assert node["status"].value().startswith("0 rendered, 4 already valid")


def _flicker_plate(folder: Path) -> str:
    """One picture, its level alternating by 0.06 from frame to frame, fresh noise:
    ``folder/flicker.####.exr`` over ``FRAMES``; returns the pattern."""
    folder.mkdir()
    base = picture(64, 48, 7)
    for k, f in enumerate(FRAMES):
        noise = np.random.default_rng(f).normal(0, 0.01, base.shape).astype(np.float32)
        write_image(folder / f"flicker.{f:04d}.exr", np.clip(base + 0.03 * (-1) ** k + noise, 0, 1))
    return str(folder / "flicker.####.exr")


def test_a_deflicker_writes_the_frames_around_and_gives_what_remaster_render_gives(
    session: ModuleType, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    """A flickering plate (one picture, its level alternating by 0.06 from frame to frame, fresh noise):
    with 'deflicker' 2, processing 1002-1003 writes the Source frames the deflicker reads (1001-1004,
    each once) and gives exactly what ``remaster render --deflicker 2`` gives on the whole plate, which
    differs from the plain render."""
    plate = _flicker_plate(tmp_path / "plate")
    node = _node(session, plate, onnx_model, worker_knob)
    fake_nuke.change(node, "deflicker", 2)
    node["frames"].setValue("1002-1003")
    fake_nuke.press(node, "process")
    assert node["status"].value().startswith("2 rendered"), node["status"].value()
    assert sorted(e[1] for e in fake_nuke.executed) == FRAMES
    expected = _cli_frames(plate, onnx_model, tmp_path / "cli", "--deflicker", "2")
    plain = _cli_frames(plate, onnx_model, tmp_path / "plain")
    for f in (1002, 1003):
        got = fake_nuke.pull(node, f).pixels
        assert np.array_equal(got, expected[f]), f
        assert np.abs(got - plain[f]).max() > 1e-3, f  # the deflicker did something


def test_an_output_deflicker_gives_what_remaster_render_gives(
    session: ModuleType, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    """'deflicker' 1 and 'deflicker output' 1: processing 1002 alone writes the Source frames within 2
    of it (1001-1004, the range's end) and gives exactly what ``remaster render --deflicker 1
    --deflicker-output 1`` gives on the whole plate, which differs from the input deflicker alone."""
    plate = _flicker_plate(tmp_path / "plate")
    node = _node(session, plate, onnx_model, worker_knob)
    fake_nuke.change(node, "deflicker", 1)
    fake_nuke.change(node, "deflicker_output", 1)
    node["frames"].setValue("1002")
    fake_nuke.press(node, "process")
    assert node["status"].value().startswith("1 rendered"), node["status"].value()
    assert sorted(e[1] for e in fake_nuke.executed) == FRAMES
    expected = _cli_frames(plate, onnx_model, tmp_path / "cli", "--deflicker", "1", "--deflicker-output", "1")
    input_only = _cli_frames(plate, onnx_model, tmp_path / "input", "--deflicker", "1")
    got = fake_nuke.pull(node, 1002).pixels
    assert np.array_equal(got, expected[1002])
    assert np.abs(got - input_only[1002]).max() > 1e-4  # the output deflicker did something


def test_a_knob_change_never_shows_frames_of_other_settings(
    session: ModuleType, plate: str, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    node = _node(session, plate, onnx_model, worker_knob)
    fake_nuke.press(node, "process")
    key = node["cache_key"].value()
    fake_nuke.change(node, "mix", 0.5)
    assert node["cache_key"].value() != key
    assert "0 of 4 frames" in node["status"].value()
    with pytest.raises(fake_nuke.NukeError, match="no such file"):
        fake_nuke.pull(node, 1002)
    node["frames"].setValue("1002-1003")
    fake_nuke.press(node, "process")
    assert node["status"].value().startswith("2 rendered")
    expected = _cli_frames(plate, onnx_model, tmp_path / "cli", "--mix", "0.5")
    assert np.array_equal(fake_nuke.pull(node, 1003).pixels, expected[1003])
    fake_nuke.change(node, "mix", 1.0)  # back: the first folder, with its frames
    assert node["cache_key"].value() == key and "all 4 frames processed" in node["status"].value()
    # the model file changes (retrained): a new key again
    retrained = tmp_path / "retrained.onnx"
    retrained.write_bytes(onnx_model.read_bytes())
    fake_nuke.change(node, "model", str(retrained))
    assert node["cache_key"].value() == key  # same bytes, same key
    make_model(tmp_path, "retrained.onnx", net=StandIn(seed=3))
    fake_nuke.change(node, "model", str(retrained))
    assert node["cache_key"].value() != key


def test_no_model_or_a_missing_one_fails_the_node_with_the_reason(
    session: ModuleType, plate: str, worker_knob: str, tmp_path: Path
) -> None:
    node = _node(session, plate, None, worker_knob)
    assert not node["settings_ok"].value()
    assert node["status"].value().startswith("ERROR: no model chosen: set 'model file'")
    with pytest.raises(fake_nuke.NukeError, match="SettingsCheck: ERROR: no model chosen"):
        fake_nuke.pull(node, 1001)  # the node itself errors with the message
    with pytest.raises(Exception, match="no model chosen") as info:
        fake_nuke.press(node, "process")
    assert type(info.value).__name__ == "NodeError" and info.value.kind == "input"
    fake_nuke.change(node, "model", str(tmp_path / "gone.onnx"))
    assert f"model file not found: {tmp_path / 'gone.onnx'}" in node["status"].value()
    # in the GUI: a message box instead of an exception
    session.GUI = True
    fake_nuke.press(node, "process")
    assert "model file not found" in session.messages[-1] and session.messages[-1].startswith(node.name())


def test_a_worker_that_cannot_start_is_reported_with_the_fix(
    session: ModuleType, plate: str, onnx_model: Path
) -> None:
    node = _node(session, plate, onnx_model, "/opt/nowhere/bin/remaster")
    with pytest.raises(
        Exception, match="/opt/nowhere/bin/remaster .*does not exist.*REMASTER_WORKER"
    ) as info:
        fake_nuke.press(node, "process")
    assert info.value.kind == "worker"
    assert "Restart worker" in node["status"].value()
    assert node["settings_ok"].value()  # the settings are fine: frames already cached stay visible


def test_alpha_and_other_channels_and_frames_outside_the_source(
    session: ModuleType, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    for f in (1, 2):
        rgba = np.concatenate([picture(48, 32, f), np.full((32, 48, 1), 0.25, np.float32)], axis=2)
        write_image(tmp_path / "rgba" / f"p.{f:04d}.exr", rgba, meta=ImageMeta())
    node = _node(session, str(tmp_path / "rgba" / "p.####.exr"), onnx_model, worker_knob, 1, 2)
    fake_nuke.press(node, "process")
    status = node["status"].value()
    assert (
        status.startswith("2 rendered")
        and "note: the Source also has rgba.alpha: only rgb is enhanced" in status
    )
    assert fake_nuke.pull(node, 2).channels == ["rgba.red", "rgba.green", "rgba.blue"]

    node["frames"].setValue("0-2")
    with pytest.raises(Exception, match=r"frame\(s\) 0 are outside the Source input's range 1-2"):
        fake_nuke.press(node, "process")
    session.frame(7)
    with pytest.raises(Exception, match=r"frame\(s\) 7 are outside the Source input's range 1-2"):
        fake_nuke.press(node, "render_frame")
    session.frame(2)
    fake_nuke.press(node, "render_frame")
    assert node["status"].value().startswith("0 rendered, 1 already valid")

    # no rgb at all: refused, saying what the Source has
    write_image(tmp_path / "mask" / "m.0001.exr", np.full((32, 48, 2), 0.5, np.float32), meta=ImageMeta())
    masks = _node(session, str(tmp_path / "mask" / "m.####.exr"), onnx_model, worker_knob, 1, 1)
    with pytest.raises(Exception, match="the Source has no rgba.red, rgba.green, rgba.blue channel"):
        fake_nuke.press(masks, "process")


def test_an_upstream_error_is_reported_with_the_frame(
    session: ModuleType, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    plate = write_sequence(tmp_path / "gappy", [1, 3], (32, 24))  # frame 2 is missing on disk
    node = _node(session, plate, onnx_model, worker_knob, 1, 3)
    with pytest.raises(
        Exception, match=r"frame 2: Nuke could not render the Source \(.*no such file"
    ) as info:
        fake_nuke.press(node, "process")
    assert info.value.kind == "input"
    assert node.node("SourceWrite")["disable"].value() is True  # left disabled after the error
    assert cache_frames(node) == [1]


def cache_frames(node: fake_nuke.Node) -> list[int]:
    pattern = node["result_pattern"].value()
    return [f for f in (1, 2, 3) if Path(pattern.replace("####", f"{f:04d}")).is_file()]


def test_model_metadata_that_does_not_match_the_knobs(
    session: ModuleType, plate: str, worker_knob: str, tmp_path: Path
) -> None:
    half, _ = make_model(tmp_path, "half.onnx", fp16=True)
    node = _node(session, plate, half, worker_knob)
    fake_nuke.change(node, "tile", 8)
    with pytest.raises(Exception, match="tile 8 must be larger than the overlap") as info:
        fake_nuke.press(node, "process")
    assert info.value.kind == "input"
    fake_nuke.change(node, "tile", 0)
    node["frames"].setValue("1001")
    fake_nuke.press(node, "process")
    assert "note: half.onnx is an fp16 model and precision is fp32" in node["status"].value()
    fake_nuke.press(node, "check_model")
    assert node["status"].value().startswith("model stand-in test-1 (fp16, s=2")


def test_a_worker_killed_mid_request_is_reported_and_replaced(
    session: ModuleType, plate: str, worker_knob: str, tmp_path: Path
) -> None:
    """The worker is stopped (SIGSTOP) just before the render request of frame 1003 is sent, then
    killed: it dies while the client waits inside that request, deterministically. (A FIFO in place of
    the staged frame no longer blocks it: the worker refuses a staged frame that is not a file.)"""
    onnx = model(tmp_path, "m.onnx")
    node = _node(session, plate, onnx, worker_knob)
    from remaster_nuke import client, remaster_node

    worker = remaster_node.worker_for(remaster_node.node_settings(node)[0])
    pid = worker.start()["pid"]
    restarts = worker.restarts
    original = fake_nuke.execute

    def execute_then_block(write, start, end, *a, **kw):  # type: ignore[no-untyped-def]
        original(write, start, end, *a, **kw)
        if start == 1003:
            os.kill(pid, signal.SIGSTOP)
            threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()

    session.execute = execute_then_block
    try:
        with pytest.raises(
            Exception, match=r"(?s)frame 1003: the remaster worker \(pid \d+.*died during the render"
        ) as info:
            fake_nuke.press(node, "process")
    finally:
        session.execute = original
    assert info.value.kind == "worker" and f"pid {pid}" in str(info.value)
    assert "killed by signal 9 (SIGKILL)" in node["status"].value()
    assert isinstance(worker, client.WorkerClient) and not worker.alive()

    fake_nuke.press(node, "process")  # the next request starts a new worker
    assert node["status"].value().startswith("2 rendered, 2 already valid")
    assert worker.alive() and worker.pid != pid and worker.restarts == restarts + 1


def test_a_worker_that_died_while_idle_is_replaced_with_a_note(
    session: ModuleType, plate: str, onnx_model: Path, worker_knob: str
) -> None:
    node = _node(session, plate, onnx_model, worker_knob)
    from remaster_nuke import remaster_node

    worker = remaster_node.worker_for(remaster_node.node_settings(node)[0])
    pid = worker.start()["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    node["frames"].setValue("1001")
    fake_nuke.press(node, "process")
    assert (
        f"pid {pid}" in node["status"].value()
        and "had exited while idle (killed by signal 9" in node["status"].value()
    )


def test_align_json_mode_and_set_from_align_json(
    session: ModuleType, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    import json

    doc = {
        "output_format": {"width": 80, "height": 60, "pixel_aspect": 1.0},
        "broadcast": {"width": 64, "height": 48, "pixel_aspect": 1.0},
        "shots": [
            {"index": 0, "first": 0, "last": 1, "transform": {"tx": 1.5, "ty": 0.25, "sx": 0.7, "sy": 0.72}},
            {"index": 1, "first": 2, "last": 3, "transform": {"tx": -0.5, "ty": 1.0, "sx": 0.78, "sy": 0.75},
             "distortion": {"k1": -0.02, "cx": 31.5, "cy": 23.5, "par": 1.0, "r_norm": 40.0}},
        ],
    }  # fmt: skip
    align = tmp_path / "align.json"
    align.write_text(json.dumps(doc))
    plate = write_sequence(tmp_path / "plate", FRAMES, (64, 48))
    node = _node(session, plate, onnx_model, worker_knob)
    fake_nuke.change(node, "geometry", "align.json")
    assert not node["settings_ok"].value() and "no file is set" in node["status"].value()
    assert node["align_json"].visible() and not node["tx"].visible()
    fake_nuke.change(node, "align_json", str(align))
    fake_nuke.change(node, "align_offset", 1001)
    fake_nuke.press(node, "process")
    conformed = tmp_path / "cf"
    for i, f in enumerate(FRAMES):
        write_image(
            conformed / f"p.{i:04d}.exr", read_image(plate.replace("####", str(f)))[0], bit_depth="float"
        )
    out = tmp_path / "cli"
    assert remaster_render(
        str(conformed / "p.####.exr"), "--model", str(onnx_model), "--out", str(out / "f.####.exr"),
        "--transform", str(align), "--bit-depth", "float",
    ) == 0  # fmt: skip
    for i, f in enumerate(FRAMES):
        assert np.array_equal(fake_nuke.pull(node, f).pixels, read_image(out / f"f.{i:04d}.exr")[0]), f

    session.frame(1003)  # conformed frame 2: shot 1
    fake_nuke.press(node, "load_shot")
    assert node["geometry"].value() == "manual" and node["tx"].visible()
    assert [node[k].value() for k in ("tx", "ty", "sx", "sy")] == [-0.5, 1.0, 0.78, 0.75]
    assert (node["out_format"].value().width(), node["out_format"].value().height()) == (80, 60)
    assert "shot 1" in node["status"].value() and "k1=-0.0200" in node["status"].value()


def test_batch_processes_the_script_and_reports_by_exit_code(
    session: ModuleType, plate: str, onnx_model: Path, worker_knob: str
) -> None:
    good = _node(session, plate, onnx_model, worker_knob)
    from remaster_nuke import batch

    assert batch.process_script([good.fullName()], [1001, 1002]) == batch.EXIT_OK
    assert batch.process_script(["Nope1"], [1001]) == batch.EXIT_BAD_INPUT
    bad = _node(session, plate, onnx_model, "/opt/nowhere/remaster")
    assert batch.process_script([bad.fullName()], [1001]) == batch.EXIT_WORKER
    fake_nuke.change(bad, "model", "")
    assert batch.process_script([bad.fullName()], [1001]) == batch.EXIT_BAD_INPUT
