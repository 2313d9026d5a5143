"""Telecine warps (``synth.warps``): exact truth both ways, every family, the reel's plan unchanged by them."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.synth import warps
from remaster_core.synth.geometry import film_to_broadcast as geometry_to_broadcast
from remaster_core.synth.geometry import sample_geometry
from remaster_core.synth.presets import get_preset
from remaster_core.synth.reel import plan_reel

FILM = (960, 720)


def _warp(family: str, seed: int = 0, n: int = 6) -> tuple[warps.TelecineWarp | None, object]:
    rng = np.random.default_rng(seed)
    geom = sample_geometry(rng, FILM)
    return warps.sample_warp(rng, family, n, geom, FILM), geom


@pytest.mark.parametrize("family", warps.FAMILIES)
def test_truth_is_exact_both_ways_and_covers_the_broadcast(family: str) -> None:
    warp, geom = _warp(family)
    xx, yy = np.meshgrid(np.arange(0.0, 960, 37), np.arange(0.0, 720, 29))
    for k in (0, 3, 5):
        bx, by = warps.film_to_broadcast(xx, yy, geom, warp, k)
        fx, fy = warps.broadcast_to_film(bx, by, geom, warp, k)
        assert np.abs(fx - xx).max() < 1e-8 and np.abs(fy - yy).max() < 1e-8
    assert warps.covers(geom, warp, FILM)
    gx, gy = geometry_to_broadcast(xx, yy, geom)
    extra = np.hypot(bx - gx, by - gy).max()
    if family == "none":
        assert warp is None and extra == 0.0
    else:
        assert 0.1 < extra < 12.0, f"{family}: {extra:.2f} broadcast px beyond the lens model"
        assert warps.TelecineWarp.from_dict(warp.to_dict()) == warp


def test_each_kind_is_what_it_says() -> None:
    warp, geom = _warp("rotation")
    assert warp is not None and 0.0 < abs(warp.rotation_deg) <= 1.0 and warp.radial == (0.0, 0.0, 0.0)
    weave, _ = _warp("weave", n=30)
    assert weave is not None and len(weave.weave) == 30 and np.abs(np.array(weave.weave)).max() <= 1.0
    drift, geom = _warp("drift")
    assert drift is not None
    a = np.array(drift.displacement(np.array([10.0]), np.array([10.0]), 0, geom))
    b = np.array(drift.displacement(np.array([10.0]), np.array([10.0]), 5, geom))
    assert np.allclose(a, 0.0) and 0.3 < np.hypot(*(b - a).ravel()) < 4.0  # drifts over the shot
    every, _ = _warp("all")
    assert every is not None and every.field and every.weave and any(every.radial) and any(every.keystone)
    with pytest.raises(InputError, match="unknown telecine warp"):
        _warp("wobble")


def test_a_warped_reel_plan_keeps_everything_else() -> None:
    preset = get_preset("tiny")
    plain, warped = plan_reel(preset, 4), plan_reel(preset, 4, "mixed")
    for a, b in zip(plain.shots, warped.shots, strict=True):
        assert a.geometry == b.geometry and a.camera == b.camera and a.warp is None
        assert b.warp is not None and b.warp.n_frames == b.n_frames
    assert plain.grade == warped.grade and plain.degrade == warped.degrade
