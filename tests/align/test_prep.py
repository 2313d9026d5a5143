"""``prep.local_mean``: the wide Gaussian on the half raster against OpenCV's full blur, on a photograph."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from remaster_core.align.prep import local_mean, luma
from remaster_core.synth.scenes import load_picture


def _full(image: np.ndarray, sigma: float) -> np.ndarray:
    k = 2 * math.ceil(3.0 * sigma) + 1
    return cv2.GaussianBlur(image, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)


@pytest.mark.parametrize("size", [(720, 540), (719, 541), (360, 270)])
@pytest.mark.parametrize("sigma", [3.0, 4.0, 6.0])
def test_the_half_raster_blur_is_the_gaussian(size: tuple[int, int], sigma: float) -> None:
    """Within 0.5 % of the high-pass picture's RMS (measured 0.12-0.15 %), borders included, at odd sizes
    too; non-negative where the image is (it blurs variances)."""
    picture = cv2.resize(luma(load_picture("astronaut")), size, interpolation=cv2.INTER_AREA)
    ours, full = local_mean(picture, sigma), _full(picture, sigma)
    assert ours.shape == picture.shape and ours.dtype == np.float32
    high = picture - full
    assert np.sqrt(np.mean((ours - full) ** 2)) <= 0.005 * np.sqrt(np.mean(high**2))
    squares = (picture - 0.5) ** 2
    assert local_mean(squares, sigma).min() >= 0.0


def test_the_half_raster_blur_barely_depends_on_the_pixel_grid() -> None:
    """Shifting the picture by a pixel shifts the local mean by a pixel: within 0.1 % of the high-pass RMS
    away from the borders (decimating without pyrDown's prefilter would alias)."""
    picture = cv2.resize(luma(load_picture("astronaut")), (720, 540), interpolation=cv2.INTER_AREA)
    sigma = 4.0
    shifted = np.ascontiguousarray(np.roll(picture, 1, axis=1))
    moved = np.roll(local_mean(picture, sigma), 1, axis=1)
    inner = (slice(20, -20), slice(20, -20))
    high = picture - _full(picture, sigma)
    assert np.sqrt(np.mean((local_mean(shifted, sigma) - moved)[inner] ** 2)) <= 1e-3 * np.sqrt(
        np.mean(high**2)
    )
