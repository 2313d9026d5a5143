"""PSNR and SSIM over a mask (remaster_core.demo.metrics) against values worked out by hand."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from remaster_core.demo.metrics import SquaredError, psnr, ssim, ssim_mask
from remaster_core.synth.scenes import load_picture


def _picture() -> np.ndarray:
    rgb = load_picture("astronaut")
    return cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_AREA).astype(np.float32)


def test_psnr_of_a_constant_error_is_its_closed_form() -> None:
    target = np.full((20, 30, 3), 0.5, np.float32)
    mask = np.ones((20, 30), bool)
    # error 0.1 everywhere: MSE 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB
    assert psnr(target + np.float32(0.1), target, mask) == pytest.approx(20.0, abs=1e-4)


def test_psnr_counts_only_the_masked_pixels_and_clips_to_0_1() -> None:
    target = np.full((10, 10, 3), 0.5, np.float32)
    output = target.copy()
    output[:, :5] += np.float32(0.1)  # counted
    output[:, 5:] = 7.0  # outside the mask: ignored whatever its value
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    assert psnr(output, target, mask) == pytest.approx(20.0, abs=1e-4)
    # above 1 is clipped: an output of 3.0 against a target of 1.0 is a perfect match
    assert (
        psnr(np.full((4, 4, 3), 3.0, np.float32), np.ones((4, 4, 3), np.float32), np.ones((4, 4), bool))
        == math.inf
    )


def test_pooled_psnr_is_the_psnr_of_all_frames_together() -> None:
    rng = np.random.default_rng(0)
    targets = [rng.uniform(0.2, 0.8, (12, 16, 3)).astype(np.float32) for _ in range(3)]
    outputs = [
        t + rng.normal(0, s, t.shape).astype(np.float32)
        for t, s in zip(targets, (0.01, 0.05, 0.1), strict=True)
    ]
    mask = np.ones((12, 16), bool)
    acc = SquaredError()
    for o, t in zip(outputs, targets, strict=True):
        acc.add(o, t, mask)
    together = psnr(np.concatenate(outputs), np.concatenate(targets), np.ones((36, 16), bool))
    assert acc.psnr() == pytest.approx(together, abs=1e-9)
    # a pooled PSNR is not the mean of per-frame PSNRs: the worst frame weighs in by its error
    mean_db = np.mean([psnr(o, t, mask) for o, t in zip(outputs, targets, strict=True)])
    assert acc.psnr() < mean_db


def test_ssim_is_one_for_identical_pictures_and_falls_with_noise() -> None:
    film = _picture()
    mask = np.ones(film.shape[:2], bool)
    assert ssim(film, film, mask) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(1)
    scores = [
        ssim(film + rng.normal(0, s, film.shape).astype(np.float32), film, mask) for s in (0.01, 0.05, 0.15)
    ]
    assert scores[0] > scores[1] > scores[2] > 0.0


def test_ssim_on_a_full_mask_matches_scikit_images_mean_away_from_the_border() -> None:
    film = _picture()
    noisy = np.clip(film + np.random.default_rng(2).normal(0, 0.05, film.shape), 0, 1).astype(np.float32)
    mask = np.ones(film.shape[:2], bool)
    inner = ssim_mask(mask)
    assert not inner[:5].any() and not inner[:, -5:].any() and inner[5:-5, 5:-5].all()
    expected = np.mean(
        [
            structural_similarity(
                noisy[..., c].astype(np.float64), film[..., c].astype(np.float64), data_range=1.0,
                gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True,
            )[1][5:-5, 5:-5].mean()
            for c in range(3)
        ]
    )  # fmt: skip
    assert ssim(noisy, film, mask) == pytest.approx(expected, abs=1e-12)


def test_ssim_ignores_what_lies_outside_the_mask() -> None:
    film = _picture()
    damaged = film.copy()
    damaged[:, 100:] = 0.0  # a black band outside the mask
    mask = np.zeros(film.shape[:2], bool)
    mask[:, :80] = True  # 20 px away from the band: more than the SSIM window's reach
    assert ssim(damaged, film, mask) == pytest.approx(1.0, abs=1e-9)


def test_bad_shapes_and_empty_masks_are_refused() -> None:
    a = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="selects no pixel"):
        psnr(a, a, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="must both be"):
        psnr(a, np.zeros((8, 9, 3), np.float32), np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="too thin"):
        ssim(a, a, np.eye(8, dtype=bool))
