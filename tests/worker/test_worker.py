"""``remaster worker`` for real: a subprocess driven by the Nuke plugin's client (``remaster_nuke.client``),
real ONNX models and EXR files; results compared bit for bit with ``remaster render``; a worker
killed mid-request, one that never starts, one that hangs."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from remaster_nuke import client

from remaster_core.io.images import ImageMeta, read_image, write_image
from tests.render import model, picture, write_sequence
from tests.runtime import StandIn, make_model
from tests.worker import remaster_render, worker_argv, worker_env, worker_setting

FRAMES = [1001, 1002, 1003]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("worker-model"))


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tens of milliseconds a frame at 256x192: a kill lands mid-request."""
    return model(tmp_path_factory.mktemp("worker-slow"), "slow.onnx", width=32, convs=6)


@pytest.fixture()
def worker(tmp_path: Path) -> client.WorkerClient:
    w = client.WorkerClient(worker_argv(), str(tmp_path / "logs" / "worker.log"), env=worker_env())
    yield w
    w.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.exr"))}


def test_ping_and_describe(worker: client.WorkerClient, onnx_model: Path) -> None:
    info = worker.start()
    assert info["protocol"] == client.PROTOCOL_VERSION and "CPUExecutionProvider" in info["providers"]
    assert worker.alive() and worker.pid == info["pid"]
    described = worker.request("describe", params={"model": str(onnx_model), "provider": "cpu"})
    assert described["model"]["name"] == "stand-in" and described["model"]["space_to_depth"] == 2
    assert described["providers"] == ["CPUExecutionProvider"] and described["warnings"] == []
    assert [p["name"] for p in described["node"]["parameters"]][:2] == ["model", "output_size"]


@pytest.mark.parametrize("depth", ["half", "float"])
def test_render_is_bit_identical_to_remaster_render(
    worker: client.WorkerClient, onnx_model: Path, tmp_path: Path, depth: str
) -> None:
    source = write_sequence(tmp_path / "src", FRAMES, (64, 48))
    params = {"model": str(onnx_model), "output_size": [96, 72], "mix": 0.75, "bit_depth": depth}
    out = tmp_path / "worker" / "out.####.exr"
    response = worker.request("render", source=source, frames=FRAMES, output=str(out), params=params)
    assert response["rendered"] == FRAMES and response["failed"] == [] and response["output_size"] == [96, 72]
    assert response["outputs"] == {str(f): str(out).replace("####", str(f)) for f in FRAMES}
    assert response["providers"] and response["warnings"] == []

    cli_out = tmp_path / "cli" / "out.####.exr"
    code = remaster_render(
        source, "--model", str(onnx_model), "--out", str(cli_out), "--frames", "1001-1003",
        "--format", "96x72", "--mix", "0.75", "--bit-depth", depth,
    )  # fmt: skip
    assert code == 0
    ours, theirs = _files(out.parent), _files(cli_out.parent)
    assert list(ours) == list(theirs) == [f"out.{f}.exr" for f in FRAMES]
    for name in ours:
        assert ours[name] == theirs[name], name  # the same file, byte for byte
        a, _ = read_image(out.parent / name)
        b, _ = read_image(cli_out.parent / name)
        assert a.shape == (72, 96, 3) and np.array_equal(a, b)
    again = worker.request("render", source=source, frames=FRAMES, output=str(out), params=params)
    assert again["rendered"] == [] and again["skipped"] == FRAMES  # valid frames are not redone


def test_align_offset_renders_like_remaster_render_on_conformed_numbers(
    worker: client.WorkerClient, onnx_model: Path, tmp_path: Path
) -> None:
    """A plate numbered from 1000 with align.json numbered by conformed index (from 0): the worker's
    align_offset gives the frames `remaster render` gives on the same plate numbered from 0."""
    doc = {
        "output_format": {"width": 80, "height": 60, "pixel_aspect": 1.0},
        "broadcast": {"width": 64, "height": 48, "pixel_aspect": 1.0},
        "shots": [
            {"index": 0, "first": 0, "last": 1, "status": "aligned",
             "transform": {"tx": 1.5, "ty": 0.25, "sx": 0.7, "sy": 0.72}, "distortion": None},
            {"index": 1, "first": 2, "last": 3, "status": "aligned",
             "transform": {"tx": -0.5, "ty": 1.0, "sx": 0.78, "sy": 0.75},
             "distortion": {"k1": -0.02, "cx": 31.5, "cy": 23.5, "par": 1.0, "r_norm": 40.0}},
        ],
    }  # fmt: skip
    align = tmp_path / "align.json"
    align.write_text(json.dumps(doc))
    nuke_numbered = write_sequence(tmp_path / "nk", [1000, 1001, 1002, 1003], (64, 48))
    conform_numbered = tmp_path / "cf"
    for i in range(4):  # the same pictures, numbered from 0
        rgb, _ = read_image(Path(nuke_numbered.replace("####", str(1000 + i))))
        write_image(conform_numbered / f"plate.{i:04d}.exr", rgb, meta=ImageMeta(), bit_depth="float")
    out = tmp_path / "w" / "out.####.exr"
    params = {"model": str(onnx_model), "align": str(align), "align_offset": 1000, "bit_depth": "float"}
    worker.request(
        "render", source=nuke_numbered, frames=[1000, 1001, 1002, 1003], output=str(out), params=params
    )
    cli = tmp_path / "c" / "out.####.exr"
    assert remaster_render(
        str(conform_numbered / "plate.####.exr"), "--model", str(onnx_model), "--out", str(cli),
        "--transform", str(align), "--bit-depth", "float",
    ) == 0  # fmt: skip
    for i in range(4):
        a, _ = read_image(str(out).replace("####", str(1000 + i)))
        b, _ = read_image(str(cli).replace("####", f"{i:04d}"))
        assert a.shape == (60, 80, 3) and np.array_equal(a, b), i
    first, third = (read_image(str(out).replace("####", str(f)))[0] for f in (1000, 1002))
    assert not np.array_equal(first, third)  # two shots, two transforms


def test_bad_input_is_answered_and_the_worker_goes_on(
    worker: client.WorkerClient, onnx_model: Path, tmp_path: Path
) -> None:
    source = write_sequence(tmp_path / "src", [1, 2], (64, 48))
    out = str(tmp_path / "out" / "o.####.exr")
    with pytest.raises(client.RequestFailed, match="no model chosen") as info:
        worker.request("render", source=source, frames=[1], output=out, params={"model": ""})
    assert info.value.kind == "input"
    gone = tmp_path / "gone.onnx"
    with pytest.raises(client.RequestFailed, match=f"model file not found: {gone}") as info:
        worker.request("render", source=source, frames=[1], output=out, params={"model": str(gone)})
    assert info.value.kind == "model"
    # a frame outside the source: reported by frame, the frames that exist are rendered
    with pytest.raises(
        client.RequestFailed, match=r"frame 3: frame 3 of .*plate\.####\.exr.*no such file"
    ) as info:
        worker.request("render", source=source, frames=[2, 3], output=out, params={"model": str(onnx_model)})
    assert info.value.response["rendered"] == [2] and info.value.kind == "input"
    # alpha and other channels: RGB enhanced, a note says what happened to the rest
    rgba = np.concatenate([picture(64, 48, 7), np.full((48, 64, 1), 0.5, np.float32)], axis=2)
    write_image(tmp_path / "rgba" / "p.0001.exr", rgba)
    response = worker.request(
        "render",
        source=str(tmp_path / "rgba" / "p.####.exr"),
        frames=[1],
        output=out,
        params={"model": str(onnx_model)},
    )
    assert "4 channels: only R, G, B are enhanced" in response["warnings"][0]
    assert read_image(out.replace("####", "0001"), channels=None)[0].shape == (48, 64, 3)
    assert worker.request("ping")["pid"] == worker.pid  # the same worker all along
    assert worker.restarts == 0


def test_describe_reports_where_model_and_knobs_disagree(worker: client.WorkerClient, tmp_path: Path) -> None:
    fp16, _ = make_model(tmp_path, "half.onnx", fp16=True)
    described = worker.request(
        "describe", params={"model": str(fp16), "precision": "fp32", "provider": "cpu"}
    )
    assert described["model"]["precision"] == "fp16"
    assert any("fp16 model and precision is fp32" in w for w in described["warnings"])
    # a tile smaller than the model's receptive field allows: refused, with the size that works
    with pytest.raises(client.RequestFailed, match=r"tile 8 must be larger than the overlap") as info:
        worker.request("describe", params={"model": str(fp16), "tile": 8})
    assert info.value.kind == "input"
    described = worker.request("describe", params={"model": str(fp16), "mix": 0.0})
    assert any("mix is 0" in w for w in described["warnings"])


def test_describe_warns_of_grain_the_models_output_alone_carries_too_much_of_with_grain_off(
    worker: client.WorkerClient, tmp_path: Path
) -> None:
    """The node's "Check model" and every process call read ``describe``'s warnings: a model whose
    recorded output grain holds twice the film's power at 1/4-1/2 cycles/px is named with that band
    while grain is off (nothing takes it away), and not with grain on (the grain step takes it away)."""
    from dataclasses import replace

    from remaster_core.grain.profile import profile_to_json, ring_frequencies, zero_profile
    from remaster_core.runtime import model as contract
    from tests.runtime import StandIn, metadata

    base = zero_profile("film")
    film = replace(base, spectrum=((1e-6,) * len(base.spectrum[0]),) * 3)
    gain = np.where(ring_frequencies(film) > 0.25, 2.0, 1.0)
    output = replace(film, spectrum=tuple(tuple(float(v) for v in 1e-6 * gain) for _ in range(3)))
    net = StandIn()
    props = metadata(
        net.s,
        net.receptive_field,
        **{
            contract.KEY_FILM_GRAIN: profile_to_json(film),
            contract.KEY_OUTPUT_GRAIN: profile_to_json(output),
        },
    )
    path, _ = make_model(tmp_path, "grainy.onnx", net=net, props=props)
    off = worker.request("describe", params={"model": str(path), "provider": "cpu", "grain_amount": 0.0})
    (line,) = [w for w in off["warnings"] if "grain power" in w]
    assert line.startswith("grainy.onnx: its output alone carries 2.00 of the film's grain power at 0.25-0.5")
    described = worker.request("describe", params={"model": str(path), "provider": "cpu"})
    assert not [w for w in described["warnings"] if "grain power" in w]


def test_killed_mid_request_is_reported_and_the_next_request_restarts(
    worker: client.WorkerClient, slow_model: Path, tmp_path: Path
) -> None:
    frames = list(range(1, 41))
    source = write_sequence(tmp_path / "src", frames, (128, 96))
    out = tmp_path / "out" / "o.####.exr"
    params = {"model": str(slow_model), "output_size": [256, 192]}
    first_pid = worker.start()["pid"]

    def kill_after_first_frame() -> None:
        deadline = time.monotonic() + 60
        while not list(out.parent.glob("o.*.exr")) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(first_pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_after_first_frame)
    killer.start()
    with pytest.raises(client.WorkerCrashed) as info:
        worker.request("render", source=source, frames=frames, output=str(out), params=params)
    killer.join()
    message = str(info.value)
    assert f"pid {first_pid}" in message and "died during the render request" in message
    assert "killed by signal 9 (SIGKILL)" in message and "restarted on the next request" in message
    assert str(worker.log_path) in message
    done_before = len(list(out.parent.glob("o.*.exr")))
    assert 0 < done_before < len(frames), "the kill did not land mid-request"
    assert not worker.alive()

    response = worker.request("render", source=source, frames=frames, output=str(out), params=params)
    assert worker.pid != first_pid and worker.restarts == 1
    assert len(response["skipped"]) == done_before and len(response["rendered"]) == len(frames) - done_before
    assert len(response["outputs"]) == len(frames)


def test_worker_that_cannot_start_says_why_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(client.WorkerNotFound, match="/no/such/remaster .*does not exist.*REMASTER_WORKER"):
        client.worker_command("/no/such/remaster")
    not_executable = tmp_path / "remaster"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(client.WorkerNotFound, match="is not executable"):
        client.worker_command(str(not_executable))
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(
            client.WorkerNotFound, match="REMASTER_WORKER is not set and no `remaster` program"
        ):
            client.worker_command("", environ={})
    argv = client.worker_command("", environ={client.ENV_WORKER: worker_setting()})
    assert argv == worker_argv()

    # a program that dies at start (a broken environment): its exit and its log are quoted
    dying = [
        sys.executable,
        "-c",
        "import sys; sys.stderr.write('ImportError: no onnxruntime\\n'); sys.exit(3)",
    ]
    with pytest.raises(
        client.WorkerStartError, match=r"(?s)exited before answering \(exit code 3\).*no onnxruntime"
    ):
        client.WorkerClient(dying, str(tmp_path / "a.log")).start()
    # a program that is not a worker
    chatty = [sys.executable, "-c", "print('hello'); import time; time.sleep(30)"]
    with pytest.raises(client.WorkerStartError, match="not a protocol line"):
        client.WorkerClient(chatty, str(tmp_path / "b.log")).start()
    # a worker of another protocol version (a stand-in program answering ping)
    answer = (
        "import sys, json; line = sys.stdin.readline(); "
        "print(json.dumps({'id': json.loads(line)['id'], 'ok': True, 'protocol': 99}), flush=True); "
        "sys.stdin.read()"
    )
    other = [sys.executable, "-c", answer]
    with pytest.raises(client.WorkerStartError, match="speaks protocol 99, this plugin speaks 1"):
        client.WorkerClient(other, str(tmp_path / "c.log")).start()


def test_a_request_that_times_out_stops_the_worker(onnx_model: Path, tmp_path: Path) -> None:
    w = client.WorkerClient(worker_argv(), str(tmp_path / "w.log"), env=worker_env())
    try:
        pid = w.start()["pid"]
        with pytest.raises(client.WorkerTimeout, match=r"did not answer the describe request within 0 s"):
            w.request("describe", params={"model": str(onnx_model)}, timeout=0.0)
        assert not w.alive()
        assert w.request("ping")["pid"] != pid  # a new worker answers
    finally:
        w.close()


def test_session_client_is_started_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", worker_env()["PYTHONPATH"])
    a = client.session_client(worker_argv(), str(tmp_path))
    b = client.session_client(worker_argv(), str(tmp_path))
    try:
        assert a is b
        pid = a.request("ping")["pid"]
        assert b.request("ping")["pid"] == pid
        assert a.log_path == client.log_path_for(str(tmp_path)) and Path(a.log_path).is_file()
        assert client.restart_session(worker_argv(), str(tmp_path))["pid"] != pid
    finally:
        client.shutdown_all()
    assert not a.alive()


def test_staged_sources_replace_the_source_only_when_the_pixels_change(
    worker: client.WorkerClient, onnx_model: Path, tmp_path: Path
) -> None:
    """A host that rewrites its source frames before every render (Nuke) still gets valid frames skipped:
    a staged frame with the same pixels (its header may differ) leaves the source file alone."""
    staged = tmp_path / "staged" / "s.####.exr"
    source = str(tmp_path / "source" / "s.####.exr")
    out = str(tmp_path / "out" / "o.####.exr")
    params = {"model": str(onnx_model)}

    def stage(frame: int, seed: int, timecode: str) -> None:
        write_image(
            str(staged).replace("####", f"{frame:04d}"),
            picture(64, 48, seed),
            meta=ImageMeta(timecode=timecode),
        )

    for f in (1, 2):
        stage(f, f, "01:00:00:00")
    first = worker.request(
        "render", source=source, staged=str(staged), frames=[1, 2], output=out, params=params
    )
    assert first["source_changed"] == [1, 2] and first["rendered"] == [1, 2]
    assert not list(staged.parent.glob("*.exr"))  # promoted
    for f in (1, 2):
        stage(f, f, "02:00:00:00")  # the same pictures, another header
    again = worker.request(
        "render", source=source, staged=str(staged), frames=[1, 2], output=out, params=params
    )
    assert again["source_changed"] == [] and again["skipped"] == [1, 2] and again["rendered"] == []
    assert not list(staged.parent.glob("*.exr"))  # dropped
    stage(2, 9, "02:00:00:00")  # frame 2 changed upstream
    changed = worker.request(
        "render", source=source, staged=str(staged), frames=[1, 2], output=out, params=params
    )
    assert changed["source_changed"] == [2] and changed["rendered"] == [2] and changed["skipped"] == [1]


def test_a_model_replaced_under_the_same_path_is_used(worker: client.WorkerClient, tmp_path: Path) -> None:
    """The worker remembers a job's plan between requests; a retrained model copied over the old file
    must still be the one that renders (the engine is chosen by the file's sha256)."""
    path, _ = make_model(tmp_path, "g.onnx")
    source = write_sequence(tmp_path / "src", [1], (64, 48))
    out = str(tmp_path / "out" / "o.####.exr")
    params = {"model": str(path), "bit_depth": "float"}
    assert worker.request("render", source=source, frames=[1], output=out, params=params)["rendered"] == [1]
    before, _ = read_image(out.replace("####", "0001"))
    make_model(tmp_path, "g.onnx", net=StandIn(seed=7))  # retrained, same path
    again = worker.request("render", source=source, frames=[1], output=out, params=params)
    assert again["rendered"] == [1]  # the old frame's render key names the old model: redone
    after, _ = read_image(out.replace("####", "0001"))
    assert not np.array_equal(before, after)
    cli = tmp_path / "cli" / "o.####.exr"
    assert remaster_render(source, "--model", str(path), "--out", str(cli), "--bit-depth", "float") == 0
    assert np.array_equal(after, read_image(str(cli).replace("####", "0001"))[0])
