"""Fixtures shared by every test package.

``tiny_reel``: one synthetic reel (``remaster synth --preset tiny``, seed 1), built once per test session
through the real CLI verb and shared read-only by every test that needs a broadcast + film pair with
known truth (conform, alignment, training, render). Its ``truth.json`` documents everything in it.
Tests must not write into it: copy what they need to modify.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY_REEL_SEED = 1


@pytest.fixture(scope="session")
def tiny_reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a complete tiny synthetic reel (film/, broadcast.mpg, truth/, truth.json)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the synthetic reel needs the ffmpeg CLI (apt-get install ffmpeg)")
    from remaster_core.cli import main

    out = tmp_path_factory.mktemp("tiny_reel") / "reel"
    code = main(["-q", "synth", "--preset", "tiny", "--seed", str(TINY_REEL_SEED), "--out", str(out)])
    assert code == 0, f"remaster synth --preset tiny failed with exit code {code}"
    return out
