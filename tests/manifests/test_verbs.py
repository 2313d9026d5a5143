"""Hand-edited manifests through the verbs that read them: one line on stderr naming the file and the
field, exit code 2, no traceback (``remaster render``, ``remaster align``, the worker's align offset)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from remaster_core.cli import main
from remaster_core.errors import EXIT_BAD_INPUT, InputError
from remaster_core.worker.ops import shifted_align
from tests.manifests import VECTORS, cases
from tests.render import model, run_cli, write_sequence

CASES = cases()


def _conform_folder(tmp_path: Path, edit: dict[str, Any]) -> Path:
    """A conform folder of 3 EXR frames whose conform.json has ``edit`` applied."""
    folder = tmp_path / "conform"
    write_sequence(folder / "frames", range(3), name="frame")
    for f in sorted((folder / "frames").iterdir()):  # frame.0000.exr -> frame.000000.exr
        f.rename(f.with_name(f"frame.{int(f.name.split('.')[1]):06d}.exr"))
    doc = {
        "version": 1,
        "fps": "24000/1001",
        "frame_count": 3,
        "frames_pattern": "frames/frame.%06d.exr",
        "cuts": [],
        "shots": [{"first": 0, "last": 2, "film_first": None, "match_score": None}],
        **edit,
    }
    (folder / "conform.json").write_text(json.dumps(doc))
    return folder


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("model"))


def test_render_refuses_an_edited_conform_json(onnx_model: Path, tmp_path: Path) -> None:
    folder = _conform_folder(tmp_path, {})
    out = tmp_path / "out" / "frame.####.exr"
    done = run_cli(str(folder), "--model", str(onnx_model), "--out", str(out), "--frames", "0-2")
    assert done.returncode == 0, done.stderr  # the untouched folder renders
    edits: list[tuple[dict[str, Any], str]] = [
        ({"frame_count": "3"}, "frame_count: must be an integer"),
        ({"frames_pattern": "../../elsewhere/frame.%06d.exr"}, "frames_pattern: must stay inside"),
        ({"shots": [{"first": 0, "last": 2, "film_first": None}, {"first": 1, "last": 2, "film_first": 5}]},
         "shots[1]: frames 1..2 overlap shots[0]"),
    ]  # fmt: skip
    for edit, field in edits:
        shutil.rmtree(tmp_path / "conform")
        folder = _conform_folder(tmp_path, edit)
        done = run_cli(
            str(folder), "--model", str(onnx_model), "--out", str(out), "--frames", "0-2", "--force"
        )
        assert done.returncode == EXIT_BAD_INPUT, done.stderr
        line = _error_line(done.stderr)
        assert f"{folder / 'conform.json'}: {field}" in line and "re-run remaster conform" in line, line


def test_render_refuses_an_edited_align_json(
    onnx_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _conform_folder(tmp_path, {})
    align = tmp_path / "pairs" / "align.json"
    align.parent.mkdir()
    doc = json.loads((VECTORS / CASES["align_minimal"]["file"]).read_text())
    doc["shots"][0]["transform"]["sx"] = -1
    align.write_text(json.dumps(doc))
    out = tmp_path / "out" / "frame.####.exr"
    code = main(
        [
            "-q",
            "render",
            str(folder),
            "--model",
            str(onnx_model),
            "--out",
            str(out),
            "--transform",
            str(align),
        ]
    )
    assert code == EXIT_BAD_INPUT
    line = _error_line(capsys.readouterr().err)
    assert f"{align}: shots[0].transform.sx: must be a positive number, got -1" in line, line


def test_align_refuses_an_edited_conform_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    film = tmp_path / "film"
    write_sequence(film, range(3), name="film")
    edits: list[tuple[dict[str, Any], str]] = [
        ({"shots": [{"first": 0, "last": 2, "film_first": 0}, {"first": 2, "last": 2, "film_first": 3}]},
         "shots[1]: frames 2..2 overlap shots[0]"),
        ({"shots": [{"first": 0, "last": 1e9, "film_first": 0}]}, "shots[0].last: must be an integer"),
        ({"frames_pattern": "/etc/frame.%06d.exr"}, "frames_pattern: must be a path relative"),
        ({"shots": [{"first": 0, "last": 2, "film_first": "zero"}]}, "shots[0].film_first: must be an integer"),
    ]  # fmt: skip
    for edit, field in edits:
        shutil.rmtree(tmp_path / "conform", ignore_errors=True)
        folder = _conform_folder(tmp_path, edit)
        code = main(
            ["-q", "align", "--conform", str(folder), "--film", str(film), "--out", str(tmp_path / "p")]
        )
        assert code == EXIT_BAD_INPUT
        line = _error_line(capsys.readouterr().err)
        assert f"{folder / 'conform.json'}: {field}" in line, line


def test_the_worker_refuses_an_edited_align_json(tmp_path: Path) -> None:
    """The worker reads align.json to renumber it for a plate (``align_offset``)."""
    for name in ("align_k1_absurd", "align_target_escapes", "align_shots_overlap"):
        src = VECTORS / CASES[name]["file"]
        with pytest.raises(InputError, match=re.escape(f"{src}: {CASES[name]['field']}: ")):
            shifted_align(src, 1000, tmp_path)
    good = VECTORS / CASES["align_full"]["file"]
    with pytest.raises(InputError, match=r"shots\[0\]\.first: 0 moved by -5 is before frame 0"):
        shifted_align(good, -5, tmp_path)
