"""Alignment under any smooth telecine warp (``synth.warps``), judged on the written inputs, and bad input.

The measure is the issue's: the input frame (the broadcast resampled through our mapping, rounded to
half floats as the conform's EXR inputs are) against the same broadcast frame resampled through the
true mapping, by dense flow over the textured 70 % of the valid pixels (``flow_misalignment``); a
perfect answer scores its floor, about 0.003-0.005 px.

Seeds: ``CORPUS_SEEDS`` (20) were listed before these tests' thresholds were looked at; the alignment
was tuned on seeds 1-10 (the same family and picture cycle, at 480x360 and 960x720) and only checked
on these; ``bench/align.py`` scores held-out seeds 201 and 202.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from remaster_core.align.evaluate import flow_misalignment, flow_misalignment_floor
from remaster_core.align.shot import AlignmentFailure, AlignParams, align_frame, fit_shot
from remaster_core.align.transform import inside_broadcast, resample
from remaster_core.synth import warps
from remaster_core.synth.geometry import BROADCAST_PAR

PARAMS = replace(AlignParams(), fit_frames=3)
SMALL = (480, 360)
CORPUS_SEEDS = tuple(range(100, 120))
FAMILY_CYCLE = (
    "radial",
    "tangential",
    "keystone",
    "rotation",
    "field",
    "drift",
    "weave",
    "all",
    "mixed",
    "none",
)
PICTURE_CYCLE = ("camera", "astronaut", "brick", "coffee", "motorcycle_right", "chelsea", "gravel", "moon")


def _score(shot: warps.WarpedShot, frames: tuple[int, ...], params: AlignParams = PARAMS) -> list[dict]:
    """Fit on frames 1..3, then each of ``frames``: misalignment (film px), floor, valid share."""
    model = fit_shot(shot.film[1:4], shot.broadcast[1:4], BROADCAST_PAR, params)
    out = []
    for k in frames:
        fa = align_frame(shot.film[k], shot.broadcast[k], model, params)
        tx, ty = shot.truth_maps(k)
        inside = inside_broadcast(tx.astype(np.float32), ty.astype(np.float32), (720, 480), 1.0)
        written = resample(shot.broadcast[k], fa.map_x, fa.map_y).astype(np.float16).astype(np.float32)
        valid = fa.valid & inside
        err, n = flow_misalignment(written, shot.broadcast[k], tx, ty, valid)
        out.append({
            "frame": k, "err": err, "pixels": n, "valid": valid.sum() / max(inside.sum(), 1),
            "floor": flow_misalignment_floor(shot.broadcast[k], tx, ty, valid), "stats": fa.stats,
        })  # fmt: skip
    return out


@pytest.mark.parametrize(("family", "seed", "source"), [("keystone", 2, "coffee"), ("all", 1, "camera")])
def test_a_warp_the_lens_model_cannot_express_is_absorbed(family: str, seed: int, source: str) -> None:
    shot = warps.render_warped_shot(seed, family, 5, SMALL, source)
    for r in _score(shot, (0, 4)):
        assert r["err"] <= 0.1, r
        assert r["valid"] >= 0.9, r
        assert r["floor"] < 0.01


def test_flow_misalignment_measures_a_known_shift() -> None:
    shot = warps.render_warped_shot(3, "none", 1, SMALL, "astronaut")
    tx, ty = shot.truth_maps(0)
    for shift in (0.0, 0.2, 0.5):
        moved = resample(shot.broadcast[0], (tx + shift * shot.geometry.sx).astype(np.float32),
                         ty.astype(np.float32))  # fmt: skip
        err, n = flow_misalignment(moved, shot.broadcast[0], tx, ty)
        assert n > 10_000 and err == pytest.approx(shift, abs=0.02 + 0.1 * shift)


@pytest.mark.slow
@pytest.mark.parametrize("seed", CORPUS_SEEDS)
def test_corpus_every_shot_aligns_within_a_tenth_of_a_pixel(seed: int) -> None:
    family = FAMILY_CYCLE[seed % len(FAMILY_CYCLE)]
    source = PICTURE_CYCLE[seed % len(PICTURE_CYCLE)]
    shot = warps.render_warped_shot(seed, family, 5, SMALL, source)
    for r in _score(shot, (0, 4)):
        assert r["err"] <= 0.1, (family, source, r)
        assert r["valid"] >= 0.9, (family, source, r)


# --- bad input --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_warps() -> warps.WarpedShot:
    return warps.render_warped_shot(11, "all", 5, SMALL, "astronaut")


def test_film_of_another_shot_is_rejected(all_warps: warps.WarpedShot) -> None:
    other = warps.render_warped_shot(12, "all", 5, SMALL, "coffee")
    with pytest.raises(AlignmentFailure, match="feature matches|inliers|do not match"):
        fit_shot(other.film[1:4], all_warps.broadcast[1:4], BROADCAST_PAR, PARAMS)


def test_a_replaced_part_of_the_picture_is_still_rejected(all_warps: warps.WarpedShot) -> None:
    """A quarter of the broadcast replaced by another photograph: the field must not absorb that."""
    other = cv2.resize(warps.picture("gravel"), (720, 480), interpolation=cv2.INTER_AREA)
    patched = []
    for b in all_warps.broadcast[1:4]:
        b = b.copy()
        b[:, -180:] = other[:, -180:]
        patched.append(b)
    with pytest.raises(AlignmentFailure, match=r"the pictures differ in part"):
        fit_shot(all_warps.film[1:4], patched, BROADCAST_PAR, PARAMS)


def test_a_film_scan_that_is_a_crop_of_the_broadcast_is_rejected_or_exact(
    all_warps: warps.WarpedShot,
) -> None:
    """The film shows only the middle 70 % of the broadcast picture (rescanned at the same raster)."""
    h, w = all_warps.film[0].shape[:2]
    x0, y0, cw, ch = int(0.15 * w), int(0.15 * h), int(0.7 * w), int(0.7 * h)
    film = [
        cv2.resize(f[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)
        for f in all_warps.film
    ]
    try:
        model = fit_shot(film[1:4], all_warps.broadcast[1:4], BROADCAST_PAR, PARAMS)
    except AlignmentFailure as exc:
        assert "scale" in str(exc) or "inliers" in str(exc) or "residual" in str(exc), str(exc)
        return
    # accepted: then the mapping must be the crop's (film px -> the uncropped film's, then the truth)
    fa = align_frame(film[2], all_warps.broadcast[2], model, PARAMS)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ux, uy = x0 - 0.5 + (xx + 0.5) * cw / w, y0 - 0.5 + (yy + 0.5) * ch / h
    tx, ty = warps.film_to_broadcast(ux, uy, all_warps.geometry, all_warps.warp, 2)
    err, _ = flow_misalignment(
        resample(all_warps.broadcast[2], fa.map_x, fa.map_y), all_warps.broadcast[2], tx, ty, fa.valid
    )
    assert err <= 0.1


@pytest.mark.slow
def test_a_film_three_times_sharper_than_the_broadcast_aligns() -> None:
    shot = warps.render_warped_shot(13, "all", 5, (1440, 1080), "astronaut")
    for r in _score(shot, (0, 4)):
        assert r["err"] <= 0.15, r  # 0.1 px of the 480 raster is 0.3 px of this one
        assert r["valid"] >= 0.9, r


def test_a_dissolve_is_flagged_not_absorbed(all_warps: warps.WarpedShot) -> None:
    """Part way through a dissolve to another picture the broadcast no longer matches the film: the
    frame's own check (similarity, the share that differs, or its field departing in shape from the
    shot's: the pipeline masks the frame) or its mask says so."""
    model = fit_shot(all_warps.film[1:4], all_warps.broadcast[1:4], BROADCAST_PAR, PARAMS)
    other = cv2.resize(warps.picture("gravel"), (720, 480), interpolation=cv2.INTER_AREA)
    clean = align_frame(all_warps.film[4], all_warps.broadcast[4], model, PARAMS)
    mixed = align_frame(all_warps.film[4], 0.3 * all_warps.broadcast[4] + 0.7 * other, model, PARAMS)
    s = mixed.stats
    fails = (
        (s["similarity"] or 0) < PARAMS.min_similarity
        or (s["mismatch"] or 0) > PARAMS.max_mismatch
        or s["field_departure_px"] > PARAMS.max_field_departure
    )
    assert fails or s["valid_fraction"] < 0.5 * clean.stats["valid_fraction"], s
    c = clean.stats
    assert c["similarity"] >= PARAMS.min_similarity and c["mismatch"] <= PARAMS.max_mismatch
    assert c["field_departure_px"] <= PARAMS.max_field_departure
