"""The ``demo`` verb's surface: arguments, refusals before any work, no torch at import time."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from remaster_core.cli import demo as demo_cli
from remaster_core.demo import pipeline
from remaster_core.demo.pipeline import TorchMissing, prepare_out, run_demo
from remaster_core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remaster")
    demo_cli.add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(["demo", *argv])


def test_the_verb_parses_its_options_and_defaults() -> None:
    args = _parse([])
    assert (args.out, args.preset, args.seed, args.steps, args.force) == (
        Path("remaster-demo"),
        "tiny",
        1,
        None,
        False,
    )
    assert args.run is demo_cli.run
    args = _parse(["--out", "d", "--preset", "small", "--seed", "3", "--steps", "50", "--force"])
    assert (args.out, args.preset, args.seed, args.steps, args.force) == (Path("d"), "small", 3, 50, True)


@pytest.mark.parametrize("argv", [["--preset", "huge"], ["--steps", "0"], ["--steps", "x"]])
def test_bad_options_are_refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert "demo" in capsys.readouterr().err


def test_a_non_empty_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"not empty.*--force"):
        run_demo(tmp_path, "tiny")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_removes_only_what_a_demo_wrote(tmp_path: Path) -> None:
    with prepare_out(tmp_path, force=False):  # an earlier demo, recorded in its marker
        for name in ("reel", "pairs", "run"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "f").write_text("old")
        (tmp_path / "report.html").write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    prepare_out(tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_missing_torch_is_reported_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        pipeline.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    out = tmp_path / "demo"
    with pytest.raises(TorchMissing, match=r"torch is not installed.*train extra"):
        run_demo(out, "tiny")
    assert not out.exists()


def test_unknown_preset_and_bad_steps_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown demo preset 'huge'"):
        run_demo(tmp_path / "d", "huge")
    with pytest.raises(InputError, match="--steps must be at least 1"):
        run_demo(tmp_path / "d", "tiny", steps=0)


def test_importing_the_verb_and_the_demo_does_not_import_torch() -> None:
    code = (
        "import sys, argparse\n"
        "import remaster_core.demo, remaster_core.demo.report, remaster_core.cli.demo as d\n"
        "p = argparse.ArgumentParser(); d.add_parser(p.add_subparsers())\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
