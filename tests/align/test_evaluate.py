"""The accuracy measures the bars are checked with: exact mapping error, corners, block registration."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.align.evaluate import (
    corner_error,
    mapping_error,
    picture_displacement,
    registration_error,
    truth_maps,
)
from remaster_core.align.transform import Transform4, resample
from tests.align import SyntheticShot


def test_mapping_and_corner_errors_are_in_film_pixels(shot_960: SyntheticShot) -> None:
    geom = shot_960.geometry
    tx, ty = truth_maps(geom, (960, 720))
    assert mapping_error(tx, ty, geom) == pytest.approx(0.0, abs=1e-9)
    # half a broadcast pixel to the right is 0.5 / sx film pixels
    assert mapping_error(tx + 0.5, ty, geom) == pytest.approx(0.5 / geom.sx)
    affine = Transform4(geom.tx, geom.ty, geom.sx, geom.sy)
    assert corner_error(affine, geom, (960, 720)) == pytest.approx(0.0, abs=1e-9)
    assert corner_error(Transform4(geom.tx + geom.sx * 0.3, geom.ty, geom.sx, geom.sy), geom, (960, 720)) == (
        pytest.approx(0.3)
    )


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.3, 0.8])
def test_registration_error_measures_a_known_misalignment(shot_960: SyntheticShot, shift: float) -> None:
    broadcast = shot_960.broadcast[0]
    h, w = 360, 480
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    reference = resample(broadcast, xx * 1.2 + 40, yy * 1.1 + 30)
    image = resample(broadcast, (xx + shift) * 1.2 + 40, yy * 1.1 + 30)  # content moved by `shift` px
    rms, blocks = registration_error(image, reference)
    assert blocks > 100
    assert rms == pytest.approx(shift, abs=0.02 + 0.05 * shift)


@pytest.mark.parametrize(("shift", "zoom"), [(0.0, 0.0), (0.2, 0.0), (0.0, 5e-4)])
def test_picture_displacement_measures_a_shift_and_a_zoom(
    shot_960: SyntheticShot, shift: float, zoom: float
) -> None:
    """A conformed frame shifted by ``shift`` px (x) or magnified by ``1 + zoom`` about its centre."""
    broadcast = shot_960.broadcast[0]
    h, w = broadcast.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    moved = resample(broadcast, cx + (xx - cx) * (1 - zoom) - shift, cy + (yy - cy) * (1 - zoom))
    dx, dy = picture_displacement(moved, resample(broadcast, xx, yy))
    if zoom == 0:
        assert dx == pytest.approx(shift, abs=0.02) and dy == pytest.approx(0.0, abs=0.02)
        return
    # a pixel moves by zoom times its distance from the centre: over the whole frame an RMS of
    # zoom * w / sqrt(12) in x; the measure counts the textured 30 %, wherever they lie
    for got, side in ((dx, w), (dy, h)):
        assert 0.5 * zoom * side / np.sqrt(12) < got < 1.3 * zoom * side / np.sqrt(12)
