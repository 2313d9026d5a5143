"""One tiny synthetic reel with a drop-frame start timecode just before a ten-minute boundary and a click
track, conformed once per test session (shared by the timecode, editorial and review-movie tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from remaster_core.conform.pipeline import conform
from remaster_core.synth.presets import get_preset
from remaster_core.synth.reel import build_reel

START = "00:59:59;28"  # two frames before 01:00:00;00: a minute and a ten-minute boundary


@dataclass(frozen=True)
class TimecodeReel:
    reel: Path
    conform: Path
    truth: dict[str, Any]

    @property
    def broadcast(self) -> Path:
        return self.reel / self.truth["broadcast"]["path"]


def timecode_reel(tmp_path_factory: pytest.TempPathFactory) -> TimecodeReel:
    """Build (or reuse, within the session) the reel and its conform."""
    base = tmp_path_factory.getbasetemp() / "timecode_reel"
    reel, out = base / "reel", base / "conform"
    if not (reel / "truth.json").is_file():
        build_reel(reel, get_preset("tiny"), seed=3, timecode=START, audio="clicks", force=True)
    if not (out / "conform.json").is_file():
        conform(reel / "broadcast.mpg", out, force=True)
    return TimecodeReel(reel, out, json.loads((reel / "truth.json").read_text()))
