"""``remaster render`` as a render manager runs it: a real subprocess, exit codes, kill -9 and re-run,
a file size limit hit mid-frame, a review movie."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from remaster_core.errors import EXIT_BAD_INPUT, EXIT_MODEL, EXIT_OK, EXIT_PARTIAL
from remaster_core.io.images import read_image
from remaster_core.node import NodeParams
from remaster_core.render.job import plan_job, run_job
from remaster_core.render.outputs import output_spec
from tests.render import ROOT, cli_command, cli_env, frame_events, model, read_log, run_cli, write_sequence

KILL_FRAMES = list(range(1, 25))


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wider stand-in: tens of milliseconds a frame at 256x192, so a kill lands mid-chunk."""
    return model(tmp_path_factory.mktemp("cli-models"), "slow.onnx", width=32, convs=6)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("cli-small"), "small.onnx")


def _finals(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("out.*.exr"))}


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".out.*tmp*"))


def test_kill_9_mid_chunk_then_rerun_renders_only_the_missing_frames(
    slow_model: Path, tmp_path: Path
) -> None:
    plates = write_sequence(tmp_path / "in", KILL_FRAMES, (128, 96))
    # the uninterrupted reference, rendered in this process
    reference = tmp_path / "reference"
    node = NodeParams(model=slow_model, output_size=(256, 192))
    plan = plan_job(plates, output_spec(str(reference / "out.####.exr")), node)
    assert run_job(plan, show_progress=False).exit_code == EXIT_OK
    expected = _finals(reference)
    assert len(expected) == len(KILL_FRAMES)

    out = tmp_path / "out"
    args = (plates, "--model", str(slow_model), "--out", str(out / "out.####.exr"), "--format", "256x192")
    proc = subprocess.Popen(
        cli_command(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("out.*.exr")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    survivors = _finals(out)
    assert 0 < len(survivors) < len(KILL_FRAMES), "the kill did not land mid-chunk"
    for name, data in survivors.items():  # no partial frame: every final file is complete and right
        assert data == expected[name], name

    rerun = run_cli(*args)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    log = read_log(out / ".remaster" / "logs" / f"chunk-{KILL_FRAMES[0]}-{KILL_FRAMES[-1]}.jsonl")
    last_run = log[max(i for i, r in enumerate(log) if r["event"] == "start") :]
    rendered = {f"out.{e['frame']:04d}.exr" for e in frame_events(last_run, "rendered")}
    skipped = {f"out.{e['frame']:04d}.exr" for e in frame_events(last_run, "skipped")}
    assert skipped == set(survivors) and rendered == set(expected) - set(survivors)
    assert _finals(out) == expected  # identical to the uninterrupted run
    assert _temps(out) == []  # the killed writer's temporary file is gone too


def test_file_size_limit_mid_frame_is_a_clear_error_and_leaves_no_frame(
    small_model: Path, tmp_path: Path
) -> None:
    plates = write_sequence(tmp_path / "in", range(1, 5), (128, 96))
    out = tmp_path / "out"

    def limit() -> None:  # a float EXR frame of 128x96 is ~150 kB, the limit 64 kB: hit mid-frame
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(), not a signal

    done = run_cli(
        plates,
        "--model",
        str(small_model),
        "--out",
        str(out / "out.####.exr"),
        "--format",
        "128x96",
        "--bit-depth",
        "float",
        "--compression",
        "none",
        preexec_fn=limit,
    )
    assert done.returncode == EXIT_PARTIAL
    assert "out.0001.exr: writing failed" in done.stderr and "file size limit" in done.stderr
    assert list(out.glob("out.*.exr")) == [] and _temps(out) == []  # nothing partial, nothing corrupt
    end = read_log(out / ".remaster" / "logs" / "chunk-1-4.jsonl")[-1]
    assert end["event"] == "end" and end["rendered"] == 0 and end["failed_frames"] == "1-4"


def test_exit_codes_and_the_failed_frames_on_stderr(small_model: Path, tmp_path: Path) -> None:
    plates = write_sequence(tmp_path / "in", range(1, 6))
    (tmp_path / "in" / "plate.0003.exr").write_bytes(b"garbage")
    out = str(tmp_path / "out" / "out.####.png")
    partial = run_cli(plates, "--model", str(small_model), "--out", out, "--chunk", "2")
    assert partial.returncode == EXIT_PARTIAL
    assert "frame 3 failed" in partial.stderr and "plate.0003.exr" in partial.stderr
    assert "failed frames: 3" in partial.stderr and "4 rendered" in partial.stdout
    missing = run_cli(str(tmp_path / "nothing" / "p.####.exr"), "--model", str(small_model), "--out", out)
    assert missing.returncode == EXIT_BAD_INPUT and "no frames found" in missing.stderr
    corrupt_model = tmp_path / "corrupt.onnx"
    corrupt_model.write_bytes(small_model.read_bytes()[:200])
    bad_model = run_cli(plates, "--model", str(corrupt_model), "--out", out)
    assert bad_model.returncode == EXIT_MODEL and "corrupt.onnx" in bad_model.stderr


def test_review_movie_with_timecode(small_model: Path, tmp_path: Path) -> None:
    plates = write_sequence(tmp_path / "in", range(1001, 1013))
    out = tmp_path / "out"
    movie = tmp_path / "review.mov"
    done = run_cli(
        plates, "--model", str(small_model), "--out", str(out / "out.####.exr"), "--review", str(movie)
    )
    assert done.returncode == EXIT_OK, done.stderr
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(movie)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == "prores" and (video["width"], video["height"]) == (64, 48)
    assert int(video["nb_frames"]) == 12
    tags = {**info["format"].get("tags", {}), **video.get("tags", {})}
    assert tags.get("timecode") == "01:00:00:00"  # the first rendered frame's own timecode
    first, _ = read_image(out / "out.1001.exr")
    assert first.shape == (48, 64, 3)


def test_a_bad_frame_range_is_one_line_and_exit_code_2(small_model: Path, tmp_path: Path) -> None:
    plates = write_sequence(tmp_path / "in", range(1, 3))
    out = str(tmp_path / "out" / "out.####.png")
    bad = run_cli(plates, "--model", str(small_model), "--out", out, "--frames", "1-a")
    assert bad.returncode == EXIT_BAD_INPUT
    assert bad.stderr.strip().count("\n") == 0 and "frame range '1-a': cannot read '1-a'" in bad.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
