"""docs/cli.md is generated from the CLI's help: it must match the code."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps help to the terminal width
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_docs.py"))
    expected = gen["render"]()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run `COLUMNS=100 .venv/bin/python scripts/gen_docs.py`"
