"""The output-folder rule (``remaster_core.io.outdir``): resolved paths, no output over an input, the marker
of what a verb wrote (``--force`` deletes only that), folders that cannot be written refused up front,
and ``OSError``s of atomic writes turned into messages that name the path and the fix."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from remaster_core.errors import InputError, MediaError, OutputError, os_error_message
from remaster_core.io.atomic import write_bytes_atomic
from remaster_core.io.outdir import (
    MARKER,
    check_overlap,
    ensure_folder,
    input_location,
    prepare_output_folder,
    read_marker,
    refuse_overwrite,
)


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _mount_tmpfs(folder: Path, options: str) -> bool:
    """Mount a tmpfs on ``folder`` (root only, where the container allows it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    done = subprocess.run(command, check=False, capture_output=True)
    return done.returncode == 0


@pytest.fixture()
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only file system (a read-only tmpfs); skipped where it cannot be mounted."""
    folder = tmp_path / "ro"
    if not _mount_tmpfs(folder, "ro,size=1m"):
        pytest.skip("mounting a read-only tmpfs needs root and a container that allows mount")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB file system (tmpfs) to fill for real; skipped where it cannot be mounted."""
    folder = tmp_path / "small"
    if not _mount_tmpfs(folder, "size=256k"):
        pytest.skip("mounting a small tmpfs needs root and a container that allows mount")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


# ------------------------------------------------------------------------------------- overlap


def test_an_output_reached_through_a_symlink_is_the_input(tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    seq.mkdir()
    (seq / "p.0001.exr").write_bytes(b"input")
    (tmp_path / "lnk").symlink_to(seq)
    with pytest.raises(OutputError, match=r"--out .*lnk is the film scan .*choose an output outside"):
        check_overlap(tmp_path / "lnk", [("the film scan", seq)])
    with pytest.raises(OutputError, match="is inside"):
        check_overlap(tmp_path / "lnk" / "sub", [("the film scan", str(seq / "p.%04d.exr"))])
    with pytest.raises(OutputError, match="contains"):
        check_overlap(tmp_path, [("the broadcast", seq / "p.0001.exr")])
    with pytest.raises(OutputError, match="contains"):
        check_overlap(tmp_path / "." / "x" / "..", [("the film scan", seq)])  # ".." resolved too
    check_overlap(
        tmp_path / "out", [("the film scan", seq), ("the broadcast", seq / "p.0001.exr"), ("x", None)]
    )
    check_overlap(seq / "p.0001.exr.d", [("the broadcast", seq / "p.0001.exr")])  # beside a file is fine


def test_input_location_of_a_pattern_is_its_folder(tmp_path: Path) -> None:
    assert input_location(tmp_path / "film.%06d.dpx") == tmp_path
    assert input_location(tmp_path / "p.####.exr") == tmp_path
    assert input_location(tmp_path / "b.mpg") == tmp_path / "b.mpg"


def test_refuse_overwrite_compares_resolved_folders_and_names(tmp_path: Path) -> None:
    (tmp_path / "seq").mkdir()
    (tmp_path / "lnk").symlink_to(tmp_path / "seq")
    inputs = [tmp_path / "seq" / f"p.{f:04d}.exr" for f in (1, 2)]
    with pytest.raises(OutputError, match=r"lnk/p\.0002\.exr is the input file"):
        refuse_overwrite([tmp_path / "lnk" / "p.0002.exr"], inputs, what="the plates")
    refuse_overwrite([tmp_path / "lnk" / "q.0002.exr", tmp_path / "out" / "p.0001.exr"], inputs, what="x")


# ------------------------------------------------------------------------------------- marker


def _earlier_run(out: Path, verb: str, files: dict[str, str]) -> None:
    with prepare_output_folder(out, verb=verb, force=False, what="reel"):
        for rel, text in files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text)


def test_the_marker_lists_what_the_verb_wrote(tmp_path: Path) -> None:
    out = tmp_path / "reel"
    _earlier_run(out, "synth", {"film/f.1.dpx": "a", "truth.json": "{}"})
    doc = read_marker(out)
    assert doc is not None and doc["verb"] == "synth" and doc["complete"] is True
    assert doc["files"] == ["film/f.1.dpx", "truth.json"] and doc["kept"] == []


def test_force_deletes_only_listed_files_and_keeps_a_users_file_in_our_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "reel"
    _earlier_run(out, "synth", {"film/f.1.dpx": "a", "film/f.2.dpx": "b", "truth/x/y.png": "c", "b.mpg": "d"})
    (out / "film" / "mine.txt").write_text("mine")  # the user's, in a folder synth writes
    with pytest.raises(InputError, match=r"is not empty \(an earlier reel.*--force"):
        prepare_output_folder(out, verb="synth", force=False, what="reel")
    with caplog.at_level(logging.WARNING, logger="remaster.outdir"):
        folder = prepare_output_folder(out, verb="synth", force=True, what="reel")
    assert _tree(out) == ["film", "film/mine.txt"]  # emptied folders (truth/x) are removed, film is not
    assert folder.kept == ("film/mine.txt",)
    assert (
        "kept 1 file(s) that remaster synth did not write" in caplog.text and "film/mine.txt" in caplog.text
    )
    with folder:
        (out / "film" / "f.1.dpx").write_text("new")
    doc = read_marker(out)
    assert doc is not None and doc["files"] == ["film/f.1.dpx"] and doc["kept"] == ["film/mine.txt"]


def test_a_folder_without_marker_has_nothing_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "reel"
    (out / "film").mkdir(parents=True)
    (out / "film" / "f.1.dpx").write_text("theirs")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty"):
        prepare_output_folder(out, verb="synth", force=False, what="reel")
    with caplog.at_level(logging.WARNING, logger="remaster.outdir"):
        folder = prepare_output_folder(out, verb="synth", force=True, what="reel")
    assert _tree(out) == ["film", "film/f.1.dpx", "notes.txt"]
    assert f"the folder has no {MARKER}" in caplog.text and "kept 2 file(s)" in caplog.text
    with folder:
        (out / "film" / "f.1.dpx").write_text("ours now")  # overwritten: recorded as ours
        (out / "film" / "f.2.dpx").write_text("ours")
    doc = read_marker(out)
    assert (
        doc is not None and doc["files"] == ["film/f.1.dpx", "film/f.2.dpx"] and doc["kept"] == ["notes.txt"]
    )


def test_another_verbs_folder_is_refused_even_with_force(tmp_path: Path) -> None:
    out = tmp_path / "reel"
    _earlier_run(out, "synth", {"broadcast.mpg": "input of conform"})
    with pytest.raises(InputError, match="holds the output of 'remaster synth'"):
        prepare_output_folder(out, verb="conform", force=True, what="conform")
    assert (out / "broadcast.mpg").read_text() == "input of conform"


def test_replace_own_replaces_the_same_verbs_output_without_force(tmp_path: Path) -> None:
    out = tmp_path / "conform"
    _earlier_run(out, "conform", {"frames/frame.000009.exr": "stale"})
    prepare_output_folder(out, verb="conform", force=False, what="conform", replace_own=True)
    assert _tree(out) == []


def test_an_interrupted_run_owns_what_it_did_not_find(tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    prepare_output_folder(out, verb="align", force=True, what="pairs").start()
    (out / "shot001" / "input").mkdir(parents=True)
    (out / "shot001" / "input" / "f.exr").write_text("half written")
    (out / ".shot002.tmp-99").mkdir()  # killed here: the marker still says complete: false
    assert read_marker(out)["complete"] is False  # type: ignore[index]
    prepare_output_folder(out, verb="align", force=True, what="pairs")
    assert _tree(out) == ["notes.txt"]


def test_a_marker_alone_counts_as_empty(tmp_path: Path) -> None:
    out = tmp_path / "conform"
    prepare_output_folder(out, verb="conform", force=False, what="conform").start()  # then failed
    prepare_output_folder(out, verb="conform", force=False, what="conform")


def test_a_hand_edited_marker_never_reaches_outside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "reel"
    out.mkdir()
    (tmp_path / "precious.txt").write_text("keep")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("keep")
    (out / "link").symlink_to(tmp_path / "elsewhere")
    (out / "x").write_text("ours")
    doc = {"marker": "remaster output folder", "version": 1, "verb": "synth", "complete": True,
           "files": ["../precious.txt", str(tmp_path / "precious.txt"), "link/f", "x"], "kept": []}  # fmt: skip
    (out / MARKER).write_text(json.dumps(doc))
    prepare_output_folder(out, verb="synth", force=True, what="reel")
    assert (tmp_path / "precious.txt").read_text() == "keep" and (tmp_path / "elsewhere" / "f").is_file()
    assert _tree(out) == ["link"]


# ------------------------------------------------------------------------------------- unwritable


def test_a_path_below_a_file_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        OutputError, match=r"--out: cannot write into .*file/a/b: .*file is a file, not a folder"
    ):
        ensure_folder(tmp_path / "file" / "a" / "b")
    with pytest.raises(InputError, match="exists and is not a folder"):
        prepare_output_folder(tmp_path / "file", verb="synth", force=True, what="reel")
    assert _tree(tmp_path) == ["file"]


def test_a_name_too_long_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot create .*File name too long.*choose a shorter path"):
        ensure_folder(tmp_path / ("n" * 300) / "x")
    assert _tree(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder without write permission")
def test_a_folder_without_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(OutputError, match="is not writable"):
        ensure_folder(locked / "out")


def test_a_read_only_file_system_is_refused(read_only_dir: Path) -> None:
    with pytest.raises(OutputError, match="read-only file system"):
        prepare_output_folder(read_only_dir / "out", verb="synth", force=False, what="reel")


# ------------------------------------------------------------------------------------- atomic writes


def test_a_full_disk_leaves_no_partial_file(small_disk: Path) -> None:
    """ENOSPC for real on a 256 KiB tmpfs."""
    with pytest.raises(MediaError, match=r"big\.bin: disk full .*nothing partial was left behind"):
        write_bytes_atomic(small_disk / "big.bin", b"\0" * (1 << 20))
    assert list(small_disk.iterdir()) == []


def test_oserrors_of_a_write_name_the_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "f.bin"

    def denied(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(OutputError, match=r"cannot write .*f\.bin \(Permission denied\): permission denied"):
        write_bytes_atomic(target, b"data")
    assert _tree(tmp_path / "out") == []  # the temporary file is gone too
    monkeypatch.undo()
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        OutputError, match=r"cannot create the folder .*file/sub.*a part of the path is a file"
    ):
        write_bytes_atomic(tmp_path / "file" / "sub" / "f.bin", b"data")


def test_os_error_message_names_path_and_fix() -> None:
    exc = OSError(errno.EROFS, "Read-only file system", "/mnt/x")
    assert os_error_message(exc) == (
        "cannot write /mnt/x (Read-only file system): the file system is read-only: choose a folder on a "
        "writable disk"
    )
