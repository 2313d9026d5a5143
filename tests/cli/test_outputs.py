"""Regression tests through the CLI for the output-folder rule (``remaster_core.io.outdir``), each a defect
a fuzzing sweep found: an output reached through a symlink overwrote the input frames; ``synth --force``
deleted a user's file in ``film/``; an output folder that cannot be written, or ``--out ""``, gave a
traceback or wrote into the current folder; a full disk left partial files. Every case must end in one
line naming the path and the fix, exit code 2, and nothing written anywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from remaster_core.cli import main
from remaster_core.errors import EXIT_BAD_INPUT, EXIT_OK
from remaster_core.io.outdir import MARKER, read_marker
from tests.align import conform_from_truth
from tests.render import model, write_sequence


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _mount_tmpfs(folder: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    return subprocess.run(command, check=False, capture_output=True).returncode == 0


@pytest.fixture()
def tmpfs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A tmpfs mounted with ``request.param`` (root, where the container allows mount), else skipped."""
    folder = tmp_path / "mnt"
    if not _mount_tmpfs(folder, request.param):
        pytest.skip("mounting a tmpfs needs root and a container that allows mount")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("outputs-model"))


# --------------------------------------------------------------------------------- the defects


def test_render_refuses_an_output_reached_through_a_symlink_to_the_input(
    onnx_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = write_sequence(tmp_path / "seq", [1, 2])
    (tmp_path / "lnk").symlink_to(tmp_path / "seq")
    before = _tree(tmp_path / "seq")
    out = str(tmp_path / "lnk" / "plate.####.exr")
    assert main(["-q", "render", pattern, "--model", str(onnx_model), "--out", out]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "lnk/plate.0001.exr is the input file" in err and "choose another output" in err
    assert _tree(tmp_path / "seq") == before  # not one input frame touched, no log folder either


def test_synth_force_keeps_a_users_file_in_film(tiny_reel: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    shutil.copytree(tiny_reel, out)  # an earlier reel, with its marker
    (out / "film" / "mine.txt").write_text("mine")
    (out / "notes.txt").write_text("mine too")
    stale = out / "film" / "film.000099.dpx"  # a frame synth wrote before, listed in its marker
    stale.write_bytes(b"old")
    doc = json.loads((out / MARKER).read_text())
    (out / MARKER).write_text(json.dumps({**doc, "files": [*doc["files"], "film/film.000099.dpx"]}))
    assert main(["-q", "synth", "--preset", "tiny", "--out", str(out), "--force"]) == EXIT_OK
    assert (out / "film" / "mine.txt").read_text() == "mine" and (out / "notes.txt").read_text() == "mine too"
    assert not stale.exists() and (out / "truth.json").is_file()
    marker = read_marker(out)
    assert marker is not None and marker["complete"] and "film/mine.txt" not in marker["files"]
    assert sorted(marker["kept"]) == ["film/mine.txt", "notes.txt"]


def test_worker_never_promotes_an_undecodable_staged_frame(onnx_model: Path, tmp_path: Path) -> None:
    from tests.worker import worker_argv, worker_env  # puts the Nuke plugin's package on the path

    from remaster_nuke import client  # isort: skip

    source = write_sequence(tmp_path / "source", [1, 2])
    staged = write_sequence(tmp_path / "staged", [1, 2])  # new pictures for both frames ...
    bad = Path(staged.replace("####", "0002"))
    bad.write_bytes(bad.read_bytes()[:300])  # ... the second one truncated (a host killed mid-write)
    before = _tree(tmp_path / "source")
    worker = client.WorkerClient(worker_argv(), str(tmp_path / "logs" / "worker.log"), env=worker_env())
    try:
        with pytest.raises(client.RequestFailed, match=r"staged frame 2 .*does not decode.*was kept") as info:
            worker.request(
                "render",
                source=source,
                staged=staged,
                frames=[1, 2],
                output=str(tmp_path / "out" / "o.####.exr"),
                params={"model": str(onnx_model)},
            )
        assert info.value.kind == "input"
    finally:
        worker.close()
    assert _tree(tmp_path / "source") == before  # neither frame replaced: the good one waits for the bad
    assert bad.is_file() and Path(staged.replace("####", "0001")).is_file()


# --------------------------------------------------------------------------------- --out ""


@pytest.mark.parametrize(
    "argv",
    [
        ["synth", "--out", ""],
        ["conform", "b.mpg", "--out", " "],
        ["align", "--conform", "c", "--out", ""],
        ["train", "--pairs", "p", "--out", ""],
        ["export", "run", "--out", ""],
        ["render", "seq", "--model", "m.onnx", "--out", ""],
        ["demo", "--out", ""],
    ],
    ids=lambda argv: argv[0],
)
def test_an_empty_out_is_a_usage_error(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == EXIT_BAD_INPUT
    assert "an empty path would write into the current folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- unwritable --out


def _verb_argv(verb: str, out: Path, tmp_path: Path, onnx_model: Path, tiny_reel: Path) -> list[str]:
    """The cheapest command line of ``verb`` that gets as far as writing ``out``."""
    if verb == "synth":
        return ["synth", "--preset", "tiny", "--out", str(out)]
    if verb == "conform":
        return ["conform", str(tiny_reel / "broadcast.mpg"), "--out", str(out)]
    if verb == "align":
        shots = [{"first": 0, "last": 3, "film_first": None}]
        conform, film = conform_from_truth(tiny_reel, tmp_path / "conform", shots=shots)
        return ["align", "--conform", str(conform), "--film", str(film), "--out", str(out)]
    if verb == "train":
        (tmp_path / "pairs").mkdir()
        return ["train", "--pairs", str(tmp_path / "pairs"), "--out", str(out), "--steps", "1"]
    if verb == "export":
        return ["export", str(tmp_path / "run"), "--out", str(out / "m.onnx")]
    if verb == "render":
        pattern = write_sequence(tmp_path / "seq", [1])
        return ["render", pattern, "--model", str(onnx_model), "--out", str(out / "o.####.exr")]
    return ["demo", "--out", str(out)]


VERBS = ["synth", "conform", "align", "train", "export", "render", "demo"]


@pytest.mark.parametrize("verb", VERBS)
def test_an_output_below_a_file_is_refused_naming_it(
    verb: str,
    onnx_model: Path,
    tiny_reel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file").write_text("x")
    argv = _verb_argv(verb, tmp_path / "file" / "out", tmp_path, onnx_model, tiny_reel)
    before = _tree(tmp_path)
    assert main(["-q", *argv]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{tmp_path / 'file'} is a file, not a folder; choose another path" in err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("tmpfs", ["ro,size=1m"], indirect=True)
@pytest.mark.parametrize("verb", ["synth", "render", "demo"])
def test_an_output_on_a_read_only_file_system_is_refused(
    verb: str,
    tmpfs: Path,
    onnx_model: Path,
    tiny_reel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = _verb_argv(verb, tmpfs / "out", tmp_path, onnx_model, tiny_reel)
    assert main(["-q", *argv]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{tmpfs} is on a read-only file system" in err


@pytest.mark.parametrize("tmpfs", ["size=256k"], indirect=True)
def test_synth_on_a_full_disk_says_so_and_leaves_no_partial_file(
    tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC for real: a 256 KiB tmpfs fills while the film frames are written."""
    out = tmpfs / "reel"
    assert main(["-q", "synth", "--preset", "tiny", "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "disk full" in err and "Traceback" not in err
    failed = re.search(r"error: (\S+\.(?:dpx|png))", err)
    assert failed is not None and not Path(failed.group(1)).exists()  # the frame it was writing: absent
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # and no temporary file left


def test_conform_refuses_to_write_over_its_broadcast(tiny_reel: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    broadcast = tmp_path / "in" / "b.mpg"
    shutil.copyfile(tiny_reel / "broadcast.mpg", broadcast)
    (tmp_path / "lnk").symlink_to(tmp_path / "in")
    code = main(["-q", "conform", str(broadcast), "--out", str(tmp_path / "lnk"), "--force"])
    assert code == EXIT_BAD_INPUT and sorted(p.name for p in (tmp_path / "in").iterdir()) == ["b.mpg"]
