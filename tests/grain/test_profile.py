"""Grain profiles measured from scans of known grain: amplitude, spectrum, level response, channels."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grain import GrainSettings, add_grain, estimate_profile, read_profile, write_profile
from remaster_core.grain.profile import (
    GrainProfile,
    ProfileAccumulator,
    grain_deficit,
    profile_from_json,
    profile_to_json,
)
from remaster_core.look import score_sequences
from remaster_core.look.regions import LookParams
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as film_grain

H, W = 256, 320


def ramp() -> np.ndarray:
    """A flat-ish picture (slow ramps: every tile flat) spanning luma 0.2..0.7."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([0.2 + 0.6 * x / W, 0.3 + 0.4 * y / H, np.full_like(x, 0.5)], -1).astype(np.float32)


def film(count: int = 4, params: GrainParams | None = None) -> list[np.ndarray]:
    """Frames of the synthetic reels' film grain (mostly monochrome, level dependent) on ``ramp``."""
    return [film_grain(ramp(), np.random.default_rng([7, k]), params or GrainParams()) for k in range(count)]


def per_channel_film(sigmas: tuple[float, float, float], count: int = 4) -> list[np.ndarray]:
    """Independent white grain of a different RMS in each channel (a scanner's noise)."""
    return [
        ramp()
        + np.random.default_rng([9, k]).standard_normal((H, W, 3)).astype(np.float32) * np.float32(sigmas)
        for k in range(count)
    ]


def synthesise(profile: GrainProfile, count: int = 4, seed: int = 0) -> list[np.ndarray]:
    return [add_grain(ramp(), profile, GrainSettings(seed=seed), shot=0, frame=k) for k in range(count)]


def test_the_profile_of_film_grain_gives_back_its_amplitude_correlation_and_level_response() -> None:
    profile = estimate_profile(film())
    # the reels' grain: std 0.012 * (0.4 + 2.4 L (1 - L)), about 0.0118 over this ramp's levels
    assert all(0.0105 < r < 0.0130 for r in profile.rms), profile.rms
    c = np.asarray(profile.correlation)
    expected = 1 / (1 + 0.35**2)  # shared part over shared + independent
    assert np.allclose(c[np.triu_indices(3, 1)], expected, atol=0.03)
    gains = np.asarray(profile.level_gain)[:, 0]  # bins of 0.1; measured 0.3-0.7 (the ramp's flat tiles)
    centres = np.arange(10) * 0.1 + 0.05
    shape = 0.4 + 2.4 * centres * (1 - centres)
    shape *= gains[3:7].mean() / shape[3:7].mean()
    assert np.allclose(gains[3:7], shape[3:7], atol=0.03)
    # beyond them the measured fall-off goes on, never above the nearest measured bin's
    assert np.all(np.diff(gains[:4]) > 0) and np.all(np.diff(gains[6:]) < 0)
    assert not profile.is_zero and profile.reason is None and profile.frames == 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthesised_grain_matches_the_film_in_amplitude_and_every_band(seed: int) -> None:
    scans = film()
    report = score_sequences(synthesise(estimate_profile(scans), seed=seed), scans)
    assert 0.8 <= report.grain.amplitude.ratio <= 1.25  # type: ignore[operator]
    for band in report.grain.bands:
        assert 0.8 <= band.power.ratio <= 1.25, band  # type: ignore[operator]
        assert all(0.8 <= c.ratio <= 1.25 for c in band.channels), band  # type: ignore[operator]


def test_coarser_grain_keeps_its_spectrum() -> None:
    scans = film(params=GrainParams(amplitude=0.02, size=1.2))
    report = score_sequences(synthesise(estimate_profile(scans)), scans)
    assert [0.8 <= b.power.ratio <= 1.25 for b in report.grain.bands] == [True] * 3, [
        b.power.ratio for b in report.grain.bands
    ]


def test_grain_that_differs_per_channel_is_measured_and_synthesised_per_channel() -> None:
    scans = per_channel_film((0.02, 0.01, 0.0))
    profile = estimate_profile(scans)
    assert profile.rms[0] == pytest.approx(0.02, rel=0.08) and profile.rms[1] == pytest.approx(0.01, rel=0.08)
    assert profile.rms[2] == 0.0  # below the floor: no grain in blue
    assert abs(profile.correlation[0][1]) < 0.05  # independent channels
    out = synthesise(profile)
    assert np.array_equal(np.stack(out)[..., 2], np.stack([ramp()] * 4)[..., 2])  # nothing added to blue
    report = score_sequences(out, scans)
    for c in (0, 1):
        assert 0.9 <= report.grain.channels[c].ratio <= 1.1  # type: ignore[operator]


def test_a_scan_without_grain_gives_a_zero_profile_and_no_synthesis() -> None:
    clean = [ramp() for _ in range(2)]
    profile = estimate_profile(clean)
    assert profile.is_zero and profile.rms == (0.0, 0.0, 0.0) and "no grain" in (profile.reason or "")
    picture = ramp()
    assert add_grain(picture, profile, GrainSettings(), shot=0, frame=0) is picture


def test_a_scan_speckled_all_over_gives_a_zero_profile_that_says_why() -> None:
    """Specks on every flat tile (a dense star field: 1 % of the pixels, 8 grain sigmas) are not grain:
    every tile is left out, and the profile says so rather than reading the specks as grain; the
    film-look measure of a render against it says the same."""
    rng = np.random.default_rng(9)
    scans = film(2)
    for scan in scans:
        specks = rng.random((H, W)) < 0.01
        scan[specks] = np.clip(scan[specks] + 0.1, 0.0, 1.0)
    profile = estimate_profile(scans)
    assert profile.is_zero and "sparse fine structure" in (profile.reason or "")
    grain = score_sequences(scans[:1], scans[:1]).grain
    assert grain.amplitude.ratio is None and grain.structured_tiles > 0 and grain.flat_tiles == 0
    assert "sparse fine structure" in (grain.reason or "")


def test_specks_on_part_of_a_scan_leave_those_tiles_out_and_the_rest_measured() -> None:
    """Specks on the left third only: those tiles are left out, the other two thirds read the grain the
    unspeckled scans read (their own tiles: within 5 %)."""
    rng = np.random.default_rng(10)
    clean = film(2)
    scans = [f.copy() for f in clean]
    for scan in scans:
        specks = rng.random((H, W)) < 0.01
        specks[:, W // 3 :] = False
        scan[specks] = np.clip(scan[specks] + 0.1, 0.0, 1.0)
    acc = ProfileAccumulator()
    for scan in scans:
        acc.add(scan)
    pooled = acc.single[-1] if acc.single[0].flat_tiles == 0 else acc.single[0]
    assert 0 < pooled.structured_tiles < pooled.flat_tiles
    profile = acc.result()
    for got, truth in zip(profile.rms, estimate_profile(clean).rms, strict=True):
        assert got == pytest.approx(truth, rel=0.05)


def test_a_busy_scan_gives_a_zero_profile_with_the_reason() -> None:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    busy = np.repeat((0.5 + 0.4 * np.sin(x / 3.0) * np.cos(y / 4.0))[..., None], 3, axis=2)
    profile = estimate_profile([busy])
    assert profile.is_zero and "no flat region" in (profile.reason or "")


def islands() -> np.ndarray:
    """A picture textured all over but for flat 56 px squares centred on every fourth 32 px tile: no
    64 px tile is flat (each holds texture), the 32 px tiles inside the squares are (12 px of margin)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    picture = 0.5 + 0.2 * np.sin(x / 2.5) * np.sin(y / 2.5)
    for top in range(20, H - 56, 64):
        for left in range(20, W - 56, 64):
            picture[top : top + 56, left : left + 56] = 0.35 + 0.3 * ((top + left) % 128 == 20)
    return np.repeat(picture[..., None], 3, axis=2).astype(np.float32)


def test_a_scan_with_no_flat_64_px_tile_is_measured_on_32_px_tiles() -> None:
    scans = [film_grain(islands(), np.random.default_rng([11, k]), GrainParams()) for k in range(4)]
    profile = estimate_profile(scans)
    reference = estimate_profile(film())  # the same grain on a flat picture, 64 px tiles
    assert profile.tile == 32 and reference.tile == 64 and profile.flat_tiles > 0
    assert np.allclose(profile.rms, reference.rms, rtol=0.15), (profile.rms, reference.rms)
    report = score_sequences(synthesise(profile), film())
    assert 0.8 <= report.grain.amplitude.ratio <= 1.25  # type: ignore[operator]
    # the same picture without grain: still nothing to synthesise
    clean = estimate_profile([islands() for _ in range(2)])
    assert clean.is_zero and "no grain" in (clean.reason or "")


def test_only_the_grain_an_output_lacks_is_synthesised_on_it() -> None:
    """An output that already carries the film's coarse grain (a model reproduces what survives in the
    broadcast): the full profile on top doubles the coarse bands, the deficit does not."""
    scans = film(6)
    clean = ramp()
    # outputs that carry the coarse part of the film's grain
    outputs = [clean + cv2.GaussianBlur(f - clean, (0, 0), 0.8) for f in scans]
    acc = ProfileAccumulator()
    for out, ref in zip(outputs, scans, strict=True):
        acc.add(out, reference=ref)
    carried = acc.result()
    profile = estimate_profile(scans)
    deficit = grain_deficit(profile, carried)
    assert all(0 < d < f for d, f in zip(deficit.rms, profile.rms, strict=True))
    assert deficit.correlation == profile.correlation and deficit.level_gain == profile.level_gain

    def score(p: GrainProfile) -> list[float]:
        grainy = [add_grain(o, p, GrainSettings(seed=3), shot=0, frame=k) for k, o in enumerate(outputs)]
        g = score_sequences(grainy, scans).grain
        return [g.amplitude.ratio, *(b.power.ratio for b in g.bands)]

    with_deficit, with_full = score(deficit), score(profile)
    assert all(0.8 <= r <= 1.25 for r in with_deficit), with_deficit
    assert with_full[-1] > 1.5, with_full  # the coarse band: the output's own grain plus as much again


def test_a_deficit_needs_one_tile_and_no_grain_stays_no_grain() -> None:
    scans = film(2)
    profile = estimate_profile(scans)
    acc = ProfileAccumulator(LookParams(tile=32))
    for f in scans:
        acc.add(f, reference=f)
    with pytest.raises(InputError, match="64 px tiles and the output's on 32"):
        grain_deficit(profile, acc.result())
    assert grain_deficit(profile, profile).is_zero  # an output carrying all of it: nothing to add
    flat = estimate_profile([ramp()])
    assert grain_deficit(flat, profile) == flat
    with pytest.raises(InputError, match="reference shape"):
        ProfileAccumulator().add(scans[0], reference=scans[0][:10])


def test_round_trip_through_json_and_a_file(tmp_path: Path) -> None:
    profile = estimate_profile(film(2))
    assert GrainProfile.from_dict(profile.to_dict()) == profile
    assert profile_from_json(profile_to_json(profile), "meta") == profile
    path = write_profile(tmp_path / "grain.json", profile)
    assert read_profile(path) == profile


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"spectrum": {"R": [-1.0, 0.0], "G": [0.0, 0.0], "B": [0.0, 0.0]}}, "spectrum"),
        ({"spectrum": {"R": [math.nan, 0.0], "G": [0.0, 0.0], "B": [0.0, 0.0]}}, "spectrum"),
        ({"correlation": [[1, 2, 0], [2, 1, 0], [0, 0, 1]]}, "correlation"),
        ({"level_gain": [[1, 1, 1]]}, "level_gain"),
        ({"version": 99}, "version"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(change: dict, field: str) -> None:
    data = {**estimate_profile(film(1)).to_dict(), **change}
    with pytest.raises(InputError, match=f"where.json: grain profile field '{field}'"):
        GrainProfile.from_dict(data, where="where.json")


def test_a_file_that_is_not_a_profile_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "grain.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="grain.json: not a grain profile"):
        read_profile(bad)
    with pytest.raises(InputError, match="no grain profile there"):
        read_profile(tmp_path / "missing.json")


def test_consecutive_scans_of_a_star_field_give_the_grain_not_the_stars() -> None:
    """Fine structure that leaves every tile flat (a star field, ``tests.look.test_grain_sample``) is
    no grain: single frames leave its tiles out (not grain-like) and say why the profile is zero;
    consecutive frames cancel it in their difference and give back the
    grain the flat ramp alone gives, and synthesis from that profile matches the film's grain."""
    from tests.look.test_grain_sample import stars

    sky = stars(max(H, W))[:H, :W, None]
    scans = [f + sky for f in film(4)]
    grain_only = estimate_profile(film(4))
    over_frames = estimate_profile(scans, consecutive=True)
    alone = estimate_profile(scans)
    assert over_frames.temporal and not alone.temporal
    assert over_frames.to_dict()["temporal"] is True
    assert GrainProfile.from_dict(over_frames.to_dict()).temporal
    for got, truth in zip(over_frames.rms, grain_only.rms, strict=True):
        assert got == pytest.approx(truth, rel=0.05)
    assert alone.is_zero and "sparse fine structure" in (alone.reason or "")
    report = score_sequences([f + sky for f in synthesise(over_frames)], scans)
    assert report.grain.temporal and 0.9 <= report.grain.amplitude.ratio <= 1.1  # type: ignore[operator]
    for band in report.grain.bands:
        assert 0.8 <= band.power.ratio <= 1.25, band  # type: ignore[operator]


def test_the_previous_frame_needs_its_reference_and_the_same_shape() -> None:
    scans = film(2)
    with pytest.raises(InputError, match="previous frame's reference"):
        ProfileAccumulator().add(scans[1], reference=scans[1], previous=scans[0])
    with pytest.raises(InputError, match="not the frame's shape"):
        ProfileAccumulator().add(scans[1], previous=scans[0][:100])


def test_a_deficit_takes_only_the_share_of_the_output_that_survives() -> None:
    from remaster_core.grain.profile import ring_frequencies

    profile = estimate_profile(film(2))
    half = grain_deficit(profile, profile, np.full(len(profile.spectrum[0]), 0.5))
    for got, full in zip(half.spectrum, profile.spectrum, strict=True):
        assert np.allclose(got, 0.5 * np.asarray(full))
    assert grain_deficit(profile, profile).is_zero  # all of it survives: nothing to add
    assert ring_frequencies(profile)[1] == pytest.approx(1 / profile.tile)
    with pytest.raises(InputError, match="passed shares"):
        grain_deficit(profile, profile, np.ones(3))


def test_a_deficit_leaves_no_band_with_more_than_the_film() -> None:
    """An output with 1.3 times the film's grain in the lower half of the finest band's rings and a third
    of it in the upper half (a model that makes grain too coarse and too soft at once): ring by ring the
    deficit would fill the upper rings and leave the excess, so the band held more than the film's.
    The deficit is scaled down there until output plus deficit hold the film's power in the band,
    keeping its shape; the coarser bands, which the output matches, get nothing."""
    from dataclasses import replace

    from remaster_core.grain.profile import _radius_grid, ring_frequencies

    profile = estimate_profile(film(2))
    f = ring_frequencies(profile)
    fine = (f > 1 / 4) & (f <= 1 / 2)
    mid = (1 / 4 + 1 / 2) / 2
    factor = np.where(fine & (f <= mid), 1.3, np.where(fine, 1 / 3, 1.0))
    output = replace(
        profile, spectrum=tuple(tuple(float(v) for v in np.asarray(c) * factor) for c in profile.spectrum)
    )
    deficit = grain_deficit(profile, output)
    bins = np.bincount(np.rint(_radius_grid(profile.tile) * profile.tile).astype(int).ravel())[: f.size]
    w = np.where(fine, bins, 0).astype(float)
    for film_c, out_c, def_c in zip(profile.spectrum, output.spectrum, deficit.spectrum, strict=True):
        film_c, out_c, def_c = np.asarray(film_c), np.asarray(out_c), np.asarray(def_c)
        per_ring = np.maximum(film_c - out_c, 0.0)
        assert out_c @ w < film_c @ w < (out_c + per_ring) @ w  # ring by ring: the band over
        assert (out_c + def_c) @ w == pytest.approx(film_c @ w, rel=1e-6)  # capped: the film's
        upper = fine & (f > mid)
        assert np.allclose(def_c[upper] / per_ring[upper], def_c[upper][0] / per_ring[upper][0])  # its shape
        assert np.allclose(def_c[~fine], 0.0)


def test_nan_and_inf_pixels_scattered_over_the_scans_are_filled_not_the_end_of_the_grain() -> None:
    """2 % of each scan's pixels NaN or Inf (the training pairs' 'NaN in targets' case): the profile is
    the clean scans' within a few percent (filled pixels carry no grain, so it may read a little low),
    on frame differences as on single frames; a tile more than ``MAX_NON_FINITE`` unreadable is left out,
    and a scan that is all NaN has no grain to measure."""
    from remaster_core.grain.profile import MAX_NON_FINITE, fill_non_finite

    clean = film(4)
    dirty = []
    for k, frame in enumerate(clean):
        rng = np.random.default_rng([11, k])
        holes = rng.random((H, W)) < 0.02
        frame = frame.copy()
        frame[holes] = np.float32(np.nan)
        frame[holes & (rng.random((H, W)) < 0.3), 1] = np.float32(np.inf)
        dirty.append(frame)
    for consecutive in (False, True):
        truth = estimate_profile(clean, consecutive=consecutive)
        got = estimate_profile(dirty, consecutive=consecutive)
        assert not got.is_zero and got.temporal == consecutive
        for g, t in zip(got.rms, truth.rms, strict=True):
            assert 0.95 * t <= g <= 1.01 * t, (consecutive, got.rms, truth.rms)
    filled, bad = fill_non_finite(dirty[0], 3.0)
    assert np.isfinite(filled).all() and bad.mean() == pytest.approx(0.02, abs=0.003)
    assert np.array_equal(filled[~bad], dirty[0][~bad])
    ramp_error = np.abs(filled[bad] - ramp()[bad]).max()
    assert ramp_error < 0.06  # a neighbourhood mean of the grainy ramp
    blotched = [f.copy() for f in clean]
    for f in blotched:
        f[:, : W // 2] = np.nan  # the left half of every tile column unreadable
    half = estimate_profile(blotched)
    assert not half.is_zero and half.flat_tiles < estimate_profile(clean).flat_tiles
    assert 0 < MAX_NON_FINITE < 0.5
    nothing = estimate_profile([np.full((H, W, 3), np.nan, np.float32)] * 2)
    assert nothing.is_zero and nothing.reason


def test_a_band_where_the_output_alone_has_more_grain_than_the_film_is_reported() -> None:
    """White film grain (flat spectrum) against an output with twice its power at 1/4-1/2 cycles/px and
    1.2 times it below: the finest band is reported (2.0), the others are within ``EXCESS``."""
    from dataclasses import replace

    from remaster_core.grain.profile import EXCESS, excess_bands, ring_frequencies, zero_profile

    base = zero_profile("test")
    film = replace(base, spectrum=((1e-6,) * len(base.spectrum[0]),) * 3)
    gain = np.where(ring_frequencies(film) > 0.25, 2.0, 1.2)
    output = replace(film, spectrum=tuple(tuple(float(v) for v in 1e-6 * gain) for _ in range(3)))
    found = excess_bands(output, film)
    assert [band for band, _ in found] == [(0.25, 0.5)] and abs(found[0][1] - 2.0) < 1e-9
    assert 1.2 < EXCESS and excess_bands(film, film) == [] and excess_bands(output, base) == []
