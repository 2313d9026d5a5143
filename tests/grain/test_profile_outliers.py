"""A grain profile is pooled from the tiles that hold grain alone (``remaster_core.grain.outliers``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from remaster_core.grain import GrainSettings, add_grain, estimate_profile
from remaster_core.grain.outliers import MIN_TILES, consistent_tiles
from remaster_core.grain.profile import ProfileAccumulator
from remaster_core.look import score_sequences
from remaster_core.look.grain_sample import chosen
from remaster_core.look.regions import LookParams
from tests.grain.test_profile import H, W, film, ramp

TILE = 64


def with_texture(frames: list[np.ndarray], tiles: list[tuple[int, int]]) -> list[np.ndarray]:
    """``frames`` with fine Gaussian texture (white, 0.03 RMS: Gaussian, so grain-like, and flat) added in
    ``tiles`` (row, col of 64 px tiles): a picture's fine structure that passed for flat. ``film`` and
    ``ramp`` are ``test_profile``'s: the reels' grain on slow ramps, every 64 px tile flat."""
    out = []
    for k, frame in enumerate(frames):
        rng = np.random.default_rng([22, k])
        f = frame.copy()
        for r, c in tiles:
            block = f[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE]
            block += rng.standard_normal((TILE, TILE, 1)).astype(np.float32) * np.float32(0.03)
        out.append(f)
    return out


def band_ratios(profile_frames: list[np.ndarray], scans: list[np.ndarray]) -> list[float]:
    profile = estimate_profile(profile_frames)
    grainy = [add_grain(ramp(), profile, GrainSettings(seed=0), shot=0, frame=k) for k in range(len(scans))]
    report = score_sequences(grainy, scans)
    return [float(b.power.ratio) for b in report.grain.bands]  # type: ignore[arg-type]


def test_tiles_with_fine_texture_are_left_out_and_the_profile_is_the_grains() -> None:
    """3 of the 20 tiles of each frame hold texture besides the grain: a plain mean put it in the
    profile's finest band; the profile pooled from the other tiles reads the clean film's grain."""
    scans = film(4)
    textured = with_texture(scans, [(0, 1), (2, 3), (3, 0)])
    profile = estimate_profile(textured)
    assert profile.tile == TILE
    assert profile.flat_tiles <= 4 * (20 - 3)  # the textured tiles are out (a clean one may be too)
    assert profile.flat_tiles >= 4 * (20 - 3) - 6
    clean = band_ratios(scans, scans)
    got = band_ratios(textured, scans)
    for a, b in zip(got, clean, strict=True):
        assert a == pytest.approx(b, rel=0.08), (got, clean)
    assert all(0.8 <= r <= 1.25 for r in got), got


def test_clean_grain_keeps_nearly_every_tile() -> None:
    profile = estimate_profile(film(4))
    assert profile.flat_tiles >= 4 * 20 - 3


def test_the_rule_needs_enough_tiles_and_leaves_out_either_side() -> None:
    rng = np.random.default_rng(3)
    shape = np.array([1.0, 1.0, 0.4])
    bands = shape * np.exp(rng.normal(0.0, 0.05, (40, 3)))
    bands[5, 0] *= 3.0  # texture: too much fine power
    bands[9, 2] *= 4.0  # shading: too much coarse power
    bands[11, 0] *= 0.2  # too little fine power (a blurred tile)
    keep = consistent_tiles(bands)
    assert not keep[[5, 9, 11]].any()
    assert np.count_nonzero(keep) >= 35
    assert consistent_tiles(bands[: MIN_TILES - 1]).all()  # too few to judge
    assert consistent_tiles(np.zeros((20, 3))).all()  # no grain anywhere: nothing to judge by


@dataclass
class Pooled:
    flat_tiles: int
    structured_tiles: int = 0


def test_a_size_that_saw_too_few_tiles_gives_way_to_one_that_saw_enough() -> None:
    """One 64 px frame-difference tile against fifteen of 32 px: the 32 px ones make the profile; the
    look metrics (any tile) keep the main size."""
    single = [Pooled(0), Pooled(24)]
    difference = [Pooled(1), Pooled(15)]
    assert chosen(single, difference, MIN_TILES) is difference[1]
    assert chosen(single, difference) is difference[0]
    # neither size saw enough: as with any tile
    few = [Pooled(0), Pooled(3)], [Pooled(1), Pooled(2)]
    assert chosen(*few, MIN_TILES) is few[1][0]
    # the main size saw enough single frames, and had differences: the differences
    assert chosen([Pooled(30), Pooled(0)], [Pooled(4), Pooled(0)], MIN_TILES).flat_tiles == 4


def test_an_outputs_grain_stays_on_the_films_tile_however_few_tiles_it_has() -> None:
    """A model output's grain is taken from the film's profile ring by ring (``grain_deficit``): it is
    measured on the film profile's tile even where that size shows fewer than ``MIN_TILES`` tiles."""
    scans = film(2)
    few = [f.copy() for f in scans]
    for f in few:  # texture over all but 3 of the 20 tiles
        y, x = np.mgrid[0:H, 0:W].astype(np.float32)
        busy = (0.15 * np.sin(x / 2.0) * np.sin(y / 2.0))[..., None]
        keep = np.zeros((H, W, 1), bool)
        keep[:TILE, : 3 * TILE] = True
        f += np.where(keep, 0.0, busy).astype(np.float32)
    free = ProfileAccumulator(LookParams(tile=TILE))
    fixed = ProfileAccumulator(LookParams(tile=TILE), one_size=True)
    for k, f in enumerate(few):
        for acc in (free, fixed):
            acc.add(
                f,
                reference=f,
                previous=few[k - 1] if k else None,
                previous_reference=few[k - 1] if k else None,
            )
    assert fixed.result().tile == TILE and not fixed.result().is_zero
    assert free.result().tile == 32  # a film profile takes the size with enough tiles
