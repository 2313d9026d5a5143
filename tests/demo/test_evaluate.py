"""Pieces of the held-out evaluation: the true framing as the render's mapping, coverage, conform checks."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.align.transform import Transform4, map_points
from remaster_core.demo.baselines import bilinear_baseline, bilinear_maps
from remaster_core.demo.evaluate import (
    check_conform,
    coverage_mask,
    registration_maps,
    true_mapping,
    warped_truth,
)
from remaster_core.demo.pipeline import held_out_frames
from remaster_core.errors import InputError
from remaster_core.manifests.conform import ConformManifest, ConformShot
from remaster_core.synth import warps
from remaster_core.synth.geometry import BROADCAST_SIZE, film_to_broadcast, sample_geometry


@pytest.mark.parametrize("film_size", [(480, 360), (960, 720)])
def test_true_mapping_is_the_synth_framing_exactly(film_size: tuple[int, int]) -> None:
    geometry = sample_geometry(np.random.default_rng(3), film_size)
    transform, radial = true_mapping(geometry.to_dict())
    rng = np.random.default_rng(4)
    x = rng.uniform(0, film_size[0] - 1, 500)
    y = rng.uniform(0, film_size[1] - 1, 500)
    xb, yb = map_points(x, y, transform, radial)
    tx, ty = film_to_broadcast(x, y, geometry)
    np.testing.assert_allclose(xb, tx, atol=1e-9)
    np.testing.assert_allclose(yb, ty, atol=1e-9)


def test_coverage_is_the_part_of_the_film_the_overscanned_broadcast_saw() -> None:
    film_size = (480, 360)
    geometry = sample_geometry(np.random.default_rng(5), film_size)  # zoomed in 3-7 %: film edges cropped
    mask = coverage_mask(*true_mapping(geometry.to_dict()), film_size, BROADCAST_SIZE)
    assert mask.shape == (360, 480)
    assert 0.8 < mask.mean() < 0.99
    assert mask[180, 240] and not mask[0, 0] and not mask[-1, -1]
    # each covered film pixel lands inside the broadcast raster, each uncovered one outside it
    yy, xx = np.nonzero(~mask)
    xb, yb = film_to_broadcast(xx, yy, geometry)
    w, h = BROADCAST_SIZE
    assert np.all((xb < 0) | (xb > w - 1) | (yb < 0) | (yb > h - 1))


def _truth(counts: list[int], missing: set[int], leader: int = 4) -> dict:
    shots, first = [], leader
    for k, n in enumerate(counts):
        shots.append({"index": k, "first_24p": first, "n_frames": n, "missing_film": k in missing})
        first += n
    return {"frames24p": {"count": first}, "shots": shots}


def _conform(frame_count: int, firsts: list[int]) -> ConformManifest:
    """A conform of ``frame_count`` frames cut into shots starting at ``firsts``."""
    lasts = [*(f - 1 for f in firsts[1:]), frame_count - 1]
    shots = tuple(ConformShot(a, b, None) for a, b in zip(firsts, lasts, strict=True))
    return ConformManifest("frames/frame.%06d.exr", frame_count, shots)


def test_check_conform_maps_reel_shots_to_conform_shots_by_their_first_frame() -> None:
    truth = _truth([6, 8, 7], {1})
    # leader (0-3) is a shot of its own; the cut at frame 10 was missed, so shot 1 has no conform shot
    conform = _conform(25, [0, 4, 18])
    assert check_conform(truth, conform) == {0: 1, 1: None, 2: 2}
    assert held_out_frames(truth) == list(range(10, 18))


def test_check_conform_refuses_a_conform_that_lost_frames() -> None:
    truth = _truth([6, 8], {1})
    with pytest.raises(InputError, match="lost or added frames"):
        check_conform(truth, _conform(17, [0]))


def test_a_warped_shot_is_scored_on_its_warped_framing() -> None:
    """A reel made with --telecine-warp: the evaluation's input is the broadcast resampled through the
    geometry *and* the shot's warp of that frame, so a broadcast made through the warp comes back onto
    the film (a smooth picture: within bilinear's error), where the geometry alone leaves it a pixel or
    more off (which would make PSNR reward blur)."""
    film_size = (480, 360)
    rng = np.random.default_rng(5)
    geometry = sample_geometry(rng, film_size)
    warp = warps.sample_warp(rng, "all", 8, geometry, film_size)
    assert warp is not None

    def picture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (0.5 + 0.4 * np.sin(x / 4.0) * np.cos(y / 5.0)).astype(np.float32)

    yy, xx = np.mgrid[0 : BROADCAST_SIZE[1], 0 : BROADCAST_SIZE[0]].astype(np.float64)
    broadcast = np.repeat(picture(xx, yy)[..., None], 3, axis=2)
    transform, radial = true_mapping(geometry.to_dict())
    plain = bilinear_maps(transform, film_size, radial)
    for k in (0, 7):
        maps, mask = warped_truth(geometry, warp, k, film_size, broadcast.shape)
        bx, by = warps.truth_maps(geometry, warp, k, film_size)
        film = picture(bx, by)
        assert 0.5 < mask.mean() <= 1.0
        warped_error = np.abs(bilinear_baseline(broadcast, maps)[..., 0] - film)[mask].mean()
        plain_error = np.abs(bilinear_baseline(broadcast, plain)[..., 0] - film)[mask].mean()
        assert warped_error < 0.01 < plain_error, (warped_error, plain_error)


def test_a_frame_rendered_with_another_framing_is_registered_back_onto_the_film() -> None:
    """A missing shot is rendered with the reel's framing, not its own: the registration maps bring such
    a delivered frame back onto the film (a smooth picture: within two bilinear resamples' error) where
    comparing it pixel for pixel leaves it several pixels off; pixels the delivered raster never covered
    are left out."""
    film_size = (480, 360)
    rng = np.random.default_rng(8)
    geometry = sample_geometry(rng, film_size)
    warp = warps.sample_warp(rng, "all", 8, geometry, film_size)
    assert warp is not None
    other, radial = true_mapping(sample_geometry(np.random.default_rng(9), film_size).to_dict())
    delivered = (Transform4(other.tx + 20.0, other.ty - 12.0, other.sx, other.sy), radial)  # far off

    def picture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (0.5 + 0.4 * np.sin(x / 4.0) * np.cos(y / 5.0)).astype(np.float32)

    yy, xx = np.mgrid[0 : BROADCAST_SIZE[1], 0 : BROADCAST_SIZE[0]].astype(np.float64)
    broadcast = np.repeat(picture(xx, yy)[..., None], 3, axis=2)
    rendered = bilinear_baseline(broadcast, bilinear_maps(delivered[0], film_size, delivered[1]))
    maps, mask = warped_truth(geometry, warp, 3, film_size, broadcast.shape)
    film = picture(*(m.astype(np.float64) for m in maps))
    (rx, ry), inside = registration_maps(maps, delivered, film_size)
    both = mask & inside
    assert 0.5 < both.mean() < mask.mean() - 0.01
    registered = bilinear_baseline(rendered, (rx, ry))[..., 0]
    error = np.abs(registered - film)[both].mean()
    unregistered = np.abs(rendered[..., 0] - film)[both].mean()
    assert error < 0.015 < unregistered, (error, unregistered)
    # film pixels whose content the delivered frame does not hold are out, and only those
    px, py = rx[~inside], ry[~inside]
    assert np.all((px < 0) | (py < 0) | (px > film_size[0] - 1) | (py > film_size[1] - 1))
