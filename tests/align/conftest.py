"""Fixtures of the alignment tests (helpers in ``tests/align/__init__.py``).

- ``tiny_conform``: a conform-like folder from the session's tiny reel (leader + 4 shots, shot 2
  without film), shared read-only.
- ``tiny_pairs``: ``align()`` run once on it (3 fit frames a shot, to keep the suite fast).
- ``shot_960``: a 960x720 synthetic shot of 4 frames with known geometry.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from remaster_core.align import AlignParams, AlignResult, align
from tests.align import SyntheticShot, conform_from_truth, synthetic_shot

FAST = replace(AlignParams(), fit_frames=3)


@pytest.fixture(scope="session")
def tiny_conform(tiny_reel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(conform folder, film folder) of the tiny reel, from its truth."""
    return conform_from_truth(tiny_reel, tmp_path_factory.mktemp("align") / "conform")


@pytest.fixture(scope="session")
def tiny_pairs(tiny_conform: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> AlignResult:
    """The tiny reel aligned once: PAIRS/ with align.json and report.html."""
    conform, film = tiny_conform
    return align(conform, tmp_path_factory.mktemp("align") / "pairs", film=str(film), params=FAST)


@pytest.fixture(scope="session")
def shot_960() -> SyntheticShot:
    """Four frames of a 960x720 shot (film, 24p broadcast, true framing with barrel distortion)."""
    return synthetic_shot(seed=5, n_frames=4)
