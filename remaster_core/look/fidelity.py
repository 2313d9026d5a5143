"""PSNR and SSIM over a validity mask: how close a render is to its reference, pixel by pixel.

Both reward softness (a blurred render loses little PSNR on grain, and SSIM prefers a clean picture to
a grainy one that matches the film's texture): read them beside the film-look measures of
``remaster_core.look`` (grain, detail, steadiness), never alone.

Both compare float32 RGB (H, W, 3) R'G'B' code values, clipped to 0..1 first (what a delivered file
holds; the film scan is 0..1), with a peak of 1.0. The mask (bool (H, W)) says which pixels count
(the demo uses the film pixels the broadcast picture covers; ``remaster evaluate`` every pixel).

- PSNR: ``10 log10(1 / MSE)`` in dB, MSE over the masked pixels and the three channels; inf for a
  perfect match. ``SquaredError`` pools the squared errors of several frames before the log: one PSNR
  per shot in which every frame weighs by its error (an average of per-frame dBs lets an easy frame's
  high score hide a bad one).
- SSIM: Wang et al. 2004, exactly as ``skimage.metrics.structural_similarity`` computes it with a
  Gaussian window (sigma 1.5, 11 taps, mirrored edges, K1 0.01, K2 0.03, population covariances as in
  the paper; reimplemented with OpenCV filters, equal to scikit-image's to about 1e-14), per channel,
  the SSIM map averaged over the masked pixels at least 5 px (about 3 sigma) from an unmasked one or
  the frame edge, then over channels. Range -1..1, 1 for identical pictures.

Shape and mask mistakes raise ``ValueError`` (they are the caller's bug, not the user's input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SSIM_SIGMA = 1.5
_SSIM_TAPS = 11  # scikit-image's window: radius int(3.5 * sigma + 0.5) = 5
_SSIM_K1, _SSIM_K2 = 0.01, 0.03
_SSIM_MARGIN = 5  # px: the window's reach (about 3 sigma), where the SSIM map mixes in outside pixels


def _check(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
    if output.shape != target.shape or output.ndim != 3 or output.shape[2] != 3:
        raise ValueError(f"metrics: output {output.shape} and target {target.shape} must both be (H, W, 3)")
    if mask.shape != output.shape[:2]:
        raise ValueError(f"metrics: mask {mask.shape} does not match the images {output.shape[:2]}")
    if not mask.any():
        raise ValueError("metrics: the mask selects no pixel")


@dataclass
class SquaredError:
    """Running sum of squared errors and sample count (for PSNR pooled over frames)."""

    total: float = 0.0
    count: int = 0

    def add(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
        """Add the masked squared errors of one frame (float32 RGB (H, W, 3), bool (H, W))."""
        _check(output, target, mask)
        diff = np.clip(output, 0.0, 1.0)[mask] - np.clip(target, 0.0, 1.0)[mask]
        self.total += float(np.sum(diff.astype(np.float64) ** 2))
        self.count += diff.size

    def psnr(self) -> float:
        """PSNR in dB of everything added (peak 1.0); inf for a perfect match."""
        if self.count == 0:
            raise ValueError("pooled PSNR of no pixels")
        mse = self.total / self.count
        return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def psnr(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, peak 1.0) of ``output`` against ``target`` over ``mask``; both clipped to 0..1.

    Args:
        output, target: float32 RGB (H, W, 3) code values.
        mask: bool (H, W), the pixels that count.
    """
    acc = SquaredError()
    acc.add(output, target, mask)
    return acc.psnr()


def ssim_mask(mask: np.ndarray) -> np.ndarray:
    """The pixels whose SSIM window lies inside ``mask`` (bool (H, W)): eroded by the window's reach,
    and away from the frame edges."""
    k = 2 * _SSIM_MARGIN + 1
    inner = cv2.erode(
        mask.astype(np.uint8), np.ones((k, k), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    return inner.astype(bool)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM map (float64 (H, W), -1..1) of two float64 (H, W) planes with a data range of 1.0.

    scikit-image's ``structural_similarity(a, b, data_range=1, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, full=True)[1]``: Gaussian-weighted local means, variances and
    covariance (edges mirrored: ``dcba|abcd``), then ``(2 mu_a mu_b + C1)(2 cov + C2) /
    ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))``.
    """
    k = cv2.getGaussianKernel(_SSIM_TAPS, SSIM_SIGMA, cv2.CV_64F)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(x, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = _SSIM_K1**2, _SSIM_K2**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM of ``output`` against ``target`` over ``mask`` (see the module docstring); both clipped.

    Args:
        output, target: float32 RGB (H, W, 3) code values.
        mask: bool (H, W), the pixels that count (eroded here by the window's reach).
    """
    _check(output, target, mask)
    inner = ssim_mask(mask)
    if not inner.any():
        raise ValueError("metrics: the mask is too thin for an SSIM window")
    a = np.clip(output, 0.0, 1.0).astype(np.float64)
    b = np.clip(target, 0.0, 1.0).astype(np.float64)
    values = [float(np.mean(ssim_map(a[..., c], b[..., c])[inner])) for c in range(3)]
    return float(np.mean(values))
