"""What `remaster train` says about its film's grain profile when the film could not measure it well."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from remaster_core.io.images import write_image
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as film_grain
from training.grain import write_run_profile


@dataclass(frozen=True)
class Pair:
    shot: int
    frame: int
    target: Path


def scans(tmp_path: Path, picture: np.ndarray, count: int = 3) -> list[Pair]:
    out = []
    for k in range(count):
        path = tmp_path / f"target.{k:04d}.exr"
        write_image(path, film_grain(picture, np.random.default_rng([5, k]), GrainParams()))
        out.append(Pair(0, k, path))
    return out


def busy_but_for(flat_tiles: int, level: float) -> np.ndarray:
    """256x320, textured all over but for ``flat_tiles`` 64 px tiles of flat grey ``level`` in its top row."""
    y, x = np.mgrid[0:256, 0:320].astype(np.float32)
    picture = 0.5 + 0.2 * np.sin(x / 2.0) * np.sin(y / 2.0)
    picture[:64, : 64 * flat_tiles] = level
    return np.repeat(picture[..., None], 3, axis=2).astype(np.float32)


def test_a_film_with_few_flat_tiles_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = scans(tmp_path, busy_but_for(1, 0.45))
    with caplog.at_level(logging.WARNING, logger="remaster.train"):
        profile = write_run_profile(frames, tmp_path / "run")
    assert not profile.is_zero and profile.flat_tiles < 8
    assert "rests on" in caplog.text and "fewer than 8" in caplog.text
    assert (tmp_path / "run" / "grain.json").is_file()


def test_a_film_with_enough_flat_tiles_says_only_where_its_levels_were_not_measured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = scans(tmp_path, np.full((256, 320, 3), 0.45, np.float32))
    with caplog.at_level(logging.WARNING, logger="remaster.train"):
        profile = write_run_profile(frames, tmp_path / "run")
    assert profile.flat_tiles >= 8
    assert "rests on" not in caplog.text
    assert "hold no luma 0.0-0.4, 0.5-1.0" in caplog.text  # a flat grey film: its level alone measured
