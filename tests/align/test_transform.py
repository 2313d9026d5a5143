"""The mapping convention: nominal transform, radial distortion (same as the synth truth), resampling."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.align.transform import (
    Radial,
    Transform4,
    inside_broadcast,
    map_points,
    nominal_transform,
    resample,
    sampling_maps,
)
from remaster_core.synth.geometry import BROADCAST_PAR, ShotGeometry, film_to_broadcast, nominal_affine


def test_nominal_transform_is_edge_to_edge_when_the_display_aspects_agree() -> None:
    t = nominal_transform((720, 480), 8 / 9, (960, 720))
    sx, sy, tx, ty = nominal_affine((960, 720), (720, 480))
    assert (t.sx, t.sy, t.tx, t.ty) == pytest.approx((sx, sy, tx, ty))
    # the film edges (-0.5 and W - 0.5) land on the broadcast edges
    xb, yb = t.apply(np.array([-0.5, 959.5]), np.array([-0.5, 719.5]))
    assert xb == pytest.approx([-0.5, 719.5]) and yb == pytest.approx([-0.5, 479.5])


def test_nominal_transform_keeps_display_proportions_and_centres() -> None:
    # a 4:3 broadcast into a 16:9 output: pillarboxed, equal display scale on both axes
    t = nominal_transform((720, 480), 8 / 9, (1920, 1080))
    assert t.sy == pytest.approx(480 / 1080)
    assert t.sx * (8 / 9) == pytest.approx(t.sy)  # one output pixel covers a square of the display
    xb, yb = t.apply(np.array([(1920 - 1) / 2]), np.array([(1080 - 1) / 2]))
    assert xb[0] == pytest.approx(359.5) and yb[0] == pytest.approx(239.5)
    left, _ = t.invert(np.array([-0.5]), np.array([0.0]))
    assert left[0] == pytest.approx((1920 - 1440) / 2 - 0.5)  # 1440 px wide picture, centred
    with pytest.raises(ValueError):
        nominal_transform((720, 480), 0.0, (960, 720))


def test_radial_after_affine_equals_the_synth_truth_mapping() -> None:
    geom = ShotGeometry(0.78, 0.70, -14.0, -12.5, -0.027, 359.5, 239.5, BROADCAST_PAR, 400.0)
    xs, ys = np.meshgrid(np.linspace(0, 959, 13), np.linspace(0, 719, 11))
    ours = map_points(
        xs, ys, Transform4(geom.tx, geom.ty, geom.sx, geom.sy), Radial.for_raster((720, 480), 8 / 9, geom.k1)
    )
    truth = film_to_broadcast(xs, ys, geom)
    assert np.max(np.abs(ours[0] - truth[0])) < 1e-9 and np.max(np.abs(ours[1] - truth[1])) < 1e-9
    assert Radial.for_raster((720, 480), 8 / 9).r_norm == pytest.approx(400.0)


def test_radial_invert_round_trip_and_barrel_sign() -> None:
    radial = Radial.for_raster((720, 480), 8 / 9, -0.03)
    x, y = np.array([0.0, 719.0, 359.5, 100.0]), np.array([0.0, 479.0, 239.5, 300.0])
    dx, dy = radial.apply(x, y)
    ux, uy = radial.invert(dx, dy)
    assert np.max(np.abs(ux - x)) < 1e-9 and np.max(np.abs(uy - y)) < 1e-9
    assert dx[0] > 0 and dy[0] > 0  # barrel: the corner is pulled towards the centre
    assert (dx[2], dy[2]) == pytest.approx((359.5, 239.5))


def test_transform_dict_round_trip() -> None:
    t = Transform4(1.5, -2.25, 0.75, 0.6667)
    assert Transform4.from_dict(t.to_dict()) == t
    r = Radial.for_raster((720, 480), 8 / 9, -0.02)
    assert Radial.from_dict(r.to_dict()) == r


def test_resample_is_bilinear_and_keeps_code_values() -> None:
    rng = np.random.default_rng(0)
    broadcast = rng.uniform(-0.1, 1.2, size=(48, 72, 3)).astype(np.float32)  # out-of-range values kept
    ident = sampling_maps(Transform4(0.0, 0.0, 1.0, 1.0), (72, 48))
    assert np.array_equal(resample(broadcast, *ident), broadcast)
    half = sampling_maps(Transform4(0.5, 0.0, 1.0, 1.0), (71, 48))
    out = resample(broadcast, *half)
    expected = 0.5 * (broadcast[:, :-1] + broadcast[:, 1:])
    assert np.max(np.abs(out - expected)) < 1e-6
    # residual added in broadcast px; black border outside
    shifted = sampling_maps(
        Transform4(0.0, 0.0, 1.0, 1.0), (72, 48), residual=(np.full((48, 72), 100.0), np.zeros((48, 72)))
    )
    assert np.all(resample(broadcast, *shifted, border="black") == 0)
    assert not inside_broadcast(*shifted, (72, 48)).any()
    assert inside_broadcast(*ident, (72, 48), margin=1.0).mean() == pytest.approx((70 * 46) / (72 * 48))
    with pytest.raises(ValueError):
        resample(broadcast, *ident, border="wrap")
