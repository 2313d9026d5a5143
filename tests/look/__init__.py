"""Synthetic pictures with known grain, detail and motion for the film-look measures' tests."""

from __future__ import annotations

import cv2
import numpy as np

from remaster_core.synth.scenes import load_picture

SIZE = 384  # 6 x 6 tiles of 64 px


def smooth_picture(size: int = SIZE) -> np.ndarray:
    """A flat-looking R'G'B' picture, float32 (size, size, 3): a horizontal ramp 0.3..0.7 and a gentle
    vertical wave (RMS gradient about 0.001 per px, well under the flat threshold), every 64 px tile flat,
    luma spread over the 0.2-0.4, 0.4-0.6 and 0.6-0.8 level bins."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 0.3 + 0.4 * xx / size + 0.05 * np.sin(2 * np.pi * yy / size)
    return np.stack([base, 0.9 * base + 0.05, 0.8 * base + 0.1], axis=-1).astype(np.float32)


def photo(size: int = SIZE + 64) -> np.ndarray:
    """A textured photograph (scikit-image's astronaut), float32 (size, size, 3) 0..1."""
    return cv2.resize(load_picture("astronaut"), (size, size), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )


def white_grain(
    rng: np.random.Generator, sigma: float | tuple[float, float, float], size: int = SIZE
) -> np.ndarray:
    """White Gaussian noise float32 (size, size, 3), standard deviation ``sigma`` (one, or per channel)."""
    return (rng.normal(0.0, 1.0, (size, size, 3)) * np.asarray(sigma, np.float64)).astype(np.float32)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """The 1-D Gaussian kernel (float64 (taps,)) that colours the grain: 4 sigma each side, normalised."""
    taps = 2 * int(np.ceil(4 * sigma)) + 1
    return cv2.getGaussianKernel(taps, sigma, cv2.CV_64F).ravel()


def coloured_grain(
    rng: np.random.Generator, sigma: float, kernel_sigma: float, size: int = SIZE
) -> np.ndarray:
    """White noise of std ``sigma`` filtered by the separable Gaussian ``gaussian_kernel(kernel_sigma)``."""
    k = gaussian_kernel(kernel_sigma)
    noise = white_grain(rng, sigma, size).astype(np.float64)
    return cv2.sepFilter2D(noise, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT).astype(np.float32)
