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
    names = [v.name for v in VERBS]
    for name in names:
        assert name in out
    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    assert sorted(sub.choices) == sorted(names)  # type: ignore[union-attr]


def test_every_verb_has_help() -> None:
    for verb in VERBS:
        name = verb.name
        proc = subprocess.run(
            [sys.executable, "-m", "remaster_core", name, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage: remaster " + name in proc.stdout


def test_the_verb_table_says_what_each_verb_module_says() -> None:
    """``remaster --help`` (no verb imported) prints exactly what the full parser (every verb) prints."""
    assert build_parser(only="").format_help() == build_parser().format_help()
    for verb in VERBS:
        assert build_parser(only=verb.name).format_help() == build_parser().format_help()


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "remaster_core", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("remaster ")
