"""The per-shot telecine framing: exact inverse, barrel sign, nominal mapping, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.synth.geometry import (
    BROADCAST_SIZE,
    ShotGeometry,
    broadcast_sampling_maps,
    broadcast_to_film,
    covers_broadcast,
    film_to_broadcast,
    nominal_affine,
    raster_centre_and_norm,
    sample_geometry,
)


@pytest.mark.parametrize("film_size", [(960, 720), (480, 360)])
def test_round_trip_is_exact(film_size: tuple[int, int]) -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        geom = sample_geometry(rng, film_size)
        xf = rng.uniform(-20, film_size[0] + 20, 2000)
        yf = rng.uniform(-20, film_size[1] + 20, 2000)
        xb, yb = film_to_broadcast(xf, yf, geom)
        xf2, yf2 = broadcast_to_film(xb, yb, geom)
        assert np.max(np.hypot(xf2 - xf, yf2 - yf)) < 1e-4
        # and the other way round, over the whole broadcast raster
        map_x, map_y = broadcast_sampling_maps(geom)
        h, w = map_x.shape
        yy, xx = np.mgrid[0:h, 0:w]
        bx, by = film_to_broadcast(map_x.astype(np.float64), map_y.astype(np.float64), geom)
        # float32 maps hold ~1e-4 film px; the map itself is exact in float64
        assert np.max(np.hypot(bx - xx, by - yy)) < 1e-3
        fx, fy = broadcast_to_film(xx, yy, geom)
        bx, by = film_to_broadcast(fx, fy, geom)
        assert np.max(np.hypot(bx - xx, by - yy)) < 1e-4


def test_negative_k1_is_barrel() -> None:
    cx, cy, r_norm = raster_centre_and_norm()
    assert (cx, cy, r_norm) == (359.5, 239.5, 400.0)
    sx, sy, tx, ty = nominal_affine((960, 720))
    barrel = ShotGeometry(sx, sy, tx, ty, -0.025, cx, cy)
    straight = ShotGeometry(sx, sy, tx, ty, 0.0, cx, cy)
    # A film corner lands closer to the raster centre with barrel distortion ...
    corner = (0.0, 0.0)
    xb, yb = film_to_broadcast(*corner, barrel)
    xs, ys = film_to_broadcast(*corner, straight)
    assert np.hypot(xb - cx, yb - cy) < np.hypot(xs - cx, ys - cy)
    # ... by |k1| * r_norm display px at the display corner (r_u = 1): here the film corner is at r_u ~= 1.
    shrink_display = np.hypot((xs - xb) * barrel.par, ys - yb)
    assert shrink_display == pytest.approx(0.025 * 400.0, rel=0.01)
    # The centre does not move, and a point on the horizontal axis stays on it (lines through the centre
    # stay straight); an off-axis horizontal line bows outwards (towards the top edge, above centre).
    fcx, fcy = (960 - 1) / 2, (720 - 1) / 2
    assert np.allclose(film_to_broadcast(fcx, fcy, barrel), (cx, cy))
    _, y_axis = film_to_broadcast(np.array([0.0, 959.0]), np.array([fcy, fcy]), barrel)
    assert np.allclose(y_axis, cy)
    _, y_line = film_to_broadcast(np.array([0.0, fcx, 959.0]), np.full(3, 50.0), barrel)
    assert y_line[0] > y_line[1] and y_line[2] > y_line[1]  # ends pulled down towards the centre


def test_nominal_affine_maps_edges_to_edges() -> None:
    sx, sy, tx, ty = nominal_affine((960, 720))
    assert (sx, sy) == (0.75, pytest.approx(2 / 3))
    # film edges -0.5 and W-0.5 land on broadcast edges -0.5 and 719.5
    assert sx * -0.5 + tx == pytest.approx(-0.5)
    assert sx * 959.5 + tx == pytest.approx(719.5)
    assert sy * 719.5 + ty == pytest.approx(479.5)


def test_sampled_framing_is_in_range_and_covers_the_raster() -> None:
    rng = np.random.default_rng(11)
    sx0, sy0, _, _ = nominal_affine((960, 720))
    seen_ratio = []
    for _ in range(30):
        g = sample_geometry(rng, (960, 720))
        assert 0.016 <= -g.k1 <= 0.03
        assert 1.03 <= g.sx / sx0 <= 1.07 and 1.03 <= g.sy / sy0 <= 1.07
        assert covers_broadcast(g, (960, 720))
        assert ShotGeometry.from_dict(g.to_dict()) == g
        seen_ratio.append(g.sx / sx0 - g.sy / sy0)
    assert max(np.abs(seen_ratio)) > 0.01  # scales are drawn independently: non-uniform


def test_covers_broadcast_detects_a_border() -> None:
    cx, cy, _ = raster_centre_and_norm()
    sx, sy, tx, ty = nominal_affine((960, 720))
    shrunk = ShotGeometry(sx * 0.95, sy * 0.95, tx, ty, -0.02, cx, cy)  # film smaller than the raster
    assert not covers_broadcast(shrunk, (960, 720), BROADCAST_SIZE)
