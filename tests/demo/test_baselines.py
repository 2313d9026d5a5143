"""The demo's baselines: the quadratic colour fit on real pair files, and the bilinear resample."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.align.transform import Radial, Transform4
from remaster_core.demo.baselines import (
    TERMS,
    ColourFit,
    bilinear_baseline,
    bilinear_maps,
    fit_colour,
    quadratic_features,
)
from remaster_core.errors import InputError
from remaster_core.io.images import read_image, write_image
from remaster_core.node import resample_to_output
from remaster_core.synth.scenes import load_picture

# a grade the fit can represent exactly: output channel c = features(x) @ TRUE[:, c]
TRUE = np.zeros((len(TERMS), 3))
TRUE[0] = (0.04, 0.03, 0.05)  # lift
TRUE[1:4] = np.array([[0.85, 0.05, 0.0], [0.1, 0.8, 0.05], [0.0, 0.05, 0.75]])  # matrix
TRUE[4:7] = np.diag([-0.1, 0.05, 0.1])  # per-channel curvature
TRUE[7] = (0.02, -0.03, 0.0)  # rg


def _write_pairs(root: Path, n: int, *, poison: bool) -> list[tuple[Path, Path, Path]]:
    """n pairs: input EXR (a photograph), target 16-bit PNG (TRUE applied), mask PNG; with ``poison``
    the masked-out band of each target holds garbage the fit must not see."""
    photo = cv2.resize(load_picture("coffee"), (96, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    frames = []
    for k in range(n):
        inp = np.roll(photo, 7 * k, axis=1)
        target = np.clip(ColourFit(TRUE, 0, 0, 0.0).apply(inp), 0, 1)
        mask = np.ones(inp.shape[:2], bool)
        if poison:
            mask[:, :20] = False
            target[:, :20] = np.random.default_rng(k).uniform(0, 1, target[:, :20].shape)
        paths = (root / f"in.{k}.exr", root / f"target.{k}.png", root / f"mask.{k}.png")
        write_image(paths[0], inp, bit_depth="float")
        write_image(paths[1], target)
        write_image(paths[2], np.where(mask, 255, 0).astype(np.uint8), bit_depth="8")
        frames.append(paths)
    return frames


def test_quadratic_features_are_the_ten_terms_in_order() -> None:
    x = np.array([[[0.2, 0.5, 0.7]]], np.float32)
    f = quadratic_features(x)[0]
    r, g, b = (float(v) for v in x[0, 0])
    assert f == pytest.approx([1, r, g, b, r * r, g * g, b * b, r * g, r * b, g * b])
    assert len(TERMS) == f.size


def test_fit_recovers_a_quadratic_grade_from_pair_files(tmp_path: Path) -> None:
    fit = fit_colour(_write_pairs(tmp_path, 3, poison=False), stride=1)
    assert fit.frames == 3 and fit.pixels == 3 * 96 * 64
    # the target was written at 16 bits: the fit is exact to that quantisation
    assert fit.rms_fit < 2e-5
    assert np.abs(fit.coefficients - TRUE).max() < 2e-3
    d = fit.to_dict()
    assert d["terms"] == list(TERMS) and len(d["coefficients_rgb"]) == len(TERMS)


def test_fit_uses_only_the_valid_pixels(tmp_path: Path) -> None:
    fit = fit_colour(_write_pairs(tmp_path, 2, poison=True), stride=1)
    assert fit.pixels == 2 * 64 * (96 - 20)
    assert fit.rms_fit < 2e-5
    assert np.abs(fit.coefficients - TRUE).max() < 2e-3


def test_fit_leaves_out_nan_and_inf_pixels_and_spreads_max_frames(tmp_path: Path) -> None:
    frames = _write_pairs(tmp_path, 3, poison=False)
    damaged, _ = read_image(frames[1][0])
    damaged[:10] = np.nan
    damaged[10:12, :5] = np.inf
    write_image(frames[1][0], damaged, bit_depth="float")
    fit = fit_colour(frames, stride=1)
    assert fit.pixels == 3 * 96 * 64 - 10 * 96 - 2 * 5
    assert np.isfinite(fit.coefficients).all() and np.abs(fit.coefficients - TRUE).max() < 2e-3
    two = fit_colour(frames, stride=1, max_frames=2)  # the first and the last
    assert two.frames == 2 and two.pixels == 2 * 96 * 64


def test_fit_refuses_pairs_without_valid_pixels(tmp_path: Path) -> None:
    frames = _write_pairs(tmp_path, 1, poison=False)
    write_image(frames[0][2], np.zeros((64, 96), np.uint8), bit_depth="8")
    with pytest.raises(InputError, match="no valid pixel"):
        fit_colour(frames)
    with pytest.raises(InputError, match="no aligned pair"):
        fit_colour([])


def test_bilinear_baseline_equals_the_render_resample_inside_the_picture() -> None:
    broadcast = cv2.resize(load_picture("astronaut"), (720, 480), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )
    transform = Transform4(tx=-20.0, ty=-12.0, sx=1.56, sy=1.38)  # a zoomed-in (overscanned) framing
    radial = Radial.for_raster((720, 480), 8 / 9, k1=-0.02)
    maps = bilinear_maps(transform, (480, 360), radial)
    ours = bilinear_baseline(broadcast, maps)
    render = resample_to_output(broadcast, transform, (480, 360), radial)
    inside = (maps[0] >= 0) & (maps[0] <= 719) & (maps[1] >= 0) & (maps[1] <= 479)
    assert 0.5 < inside.mean() < 1.0  # the framing reaches past the broadcast picture
    np.testing.assert_array_equal(ours[inside], render[inside])
    # past the picture the render is black, the baseline (like the training inputs) repeats the edge
    outside = ~inside & ((maps[0] < -0.5) | (maps[0] > 719.5) | (maps[1] < -0.5) | (maps[1] > 479.5))
    assert outside.any()
    assert np.all(render[outside] == 0) and ours[outside].mean() > 0.05


def test_bilinear_baseline_of_the_identity_transform_is_the_frame_itself() -> None:
    broadcast = np.random.default_rng(0).uniform(0, 1, (48, 72, 3)).astype(np.float32)
    out = bilinear_baseline(broadcast, bilinear_maps(Transform4(0.0, 0.0, 1.0, 1.0), (72, 48)))
    np.testing.assert_array_equal(out, broadcast)
