"""Atomic writes: the final file is complete or absent, whatever happens during the write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from remaster_core.errors import MediaError
from remaster_core.io.atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[2]


def test_atomic_path_temp_is_hidden_beside_final_and_keeps_extension(tmp_path: Path) -> None:
    final = tmp_path / "new" / "deeper" / "plate.1001.exr"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent and tmp.parent.is_dir()  # parent folders created first
        assert tmp.name.startswith(".plate.1001.exr.tmp-") and tmp.suffix == ".exr"
        assert not final.exists()
        tmp.write_bytes(b"pixels")
    assert final.read_bytes() == b"pixels"
    assert os.listdir(final.parent) == ["plate.1001.exr"]


def test_exception_removes_temp_and_keeps_old_final(tmp_path: Path) -> None:
    final = tmp_path / "manifest.json"
    final.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("boom")
    assert final.read_text() == "old"
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="produced no file"), atomic_path(tmp_path / "out.exr"):
        pass
    assert os.listdir(tmp_path) == []


def test_text_bytes_and_json(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "b.txt", "naïve\n")
    write_json_atomic(tmp_path / "c.json", {"z": 1, "a": [1.5, None]})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "naïve\n"
    text = (tmp_path / "c.json").read_text()
    assert text == '{\n  "z": 1,\n  "a": [\n    1.5,\n    null\n  ]\n}\n'  # indent 2, key order kept
    assert json.loads(text) == {"z": 1, "a": [1.5, None]}


def test_json_refuses_nan_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"c\.json.*NaN"):
        write_json_atomic(tmp_path / "c.json", {"loss": float("nan")})
    assert os.listdir(tmp_path) == []


def test_file_size_limit_gives_media_error_and_leaves_nothing(tmp_path: Path) -> None:
    """A real EFBIG: the child process may not write files over 4 KiB (RLIMIT_FSIZE)."""
    child = textwrap.dedent(
        f"""
        import resource, signal
        from remaster_core.errors import MediaError
        from remaster_core.io.atomic import write_bytes_atomic
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        write_bytes_atomic({str(tmp_path / "small.bin")!r}, b"x" * 1000)
        try:
            write_bytes_atomic({str(tmp_path / "big.bin")!r}, b"x" * 100_000)
        except MediaError as exc:
            print("MediaError:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", child], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "MediaError:" in result.stdout and "big.bin" in result.stdout and "disk full" in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["small.bin"]  # no partial big.bin, no temp file
