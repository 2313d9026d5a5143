"""Tests of ``remaster_core.manifests``: the shared vectors (``vectors/cases.json``) read by remaster_core
and by the Nuke plugin's standard-library parser with the same verdicts, round trips, and the verbs'
answers to hand-edited manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def cases() -> dict[str, dict[str, Any]]:
    """``vectors/cases.json``: case name -> {file, valid, field (of an invalid case: its field path, ""
    for the file as a whole), note}."""
    loaded: dict[str, dict[str, Any]] = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))
    return loaded
