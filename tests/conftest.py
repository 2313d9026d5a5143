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

# The test files that take longest (seconds of one worker, 2-core machine, 2026-12-05: the demo's whole
# pipeline ~400, a fresh base install ~110, the colour pipeline ~75, the alignment corpus ~240 in many
# tests, the fuzzing sweep ~170), collected first so that ``scripts/test.sh`` (pytest-xdist, a file per
# worker, ``--no-loadscope-reorder``) starts them first: longest first keeps a long file from running
# alone at the end while the other worker has nothing left to do.
LONGEST_FIRST = (
    "tests/demo/test_demo.py",
    "tests/test_base_install.py",
    "tests/test_colour_pipeline.py",
    "tests/align/test_warps.py",
    "tests/fuzz/test_verbs.py",
    "tests/worker/test_worker.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the tests of ``LONGEST_FIRST`` to the front, in that order (the rest keep theirs)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    root = Path(str(config.rootpath))

    def key(item: pytest.Item) -> int:
        path = Path(str(item.path))
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        return rank.get(rel, len(LONGEST_FIRST))

    items.sort(key=key)


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
