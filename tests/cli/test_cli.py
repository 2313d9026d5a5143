"""The console command: help lists only working verbs; errors become exit codes, not tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from remaster_core.cli import VERBS, build_parser, main


def test_help_lists_exactly_the_registered_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    names = [v.__name__.rsplit(".", 1)[1] for v in VERBS]
    for name in names:
        assert name in out
    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    assert sorted(sub.choices) == sorted(names)  # type: ignore[union-attr]


def test_every_verb_has_help() -> None:
    for verb in VERBS:
        name = verb.__name__.rsplit(".", 1)[1]
        proc = subprocess.run(
            [sys.executable, "-m", "remaster_core", name, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage: remaster " + name in proc.stdout


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "remaster_core", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("remaster ")
