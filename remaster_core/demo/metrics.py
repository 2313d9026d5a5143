"""Image quality measures of the demo's evaluation: PSNR and SSIM over a validity mask.

Both compare float32 RGB (H, W, 3) R'G'B' code values, clipped to 0..1 first (what a delivered file
holds; the film scan is 0..1), with a peak of 1.0. The mask (bool (H, W)) says which pixels count: the
demo uses the film pixels the broadcast picture covers (the telecine's overscan crops the film's
edges, and nothing can recover what the broadcast never saw).

- PSNR: ``10 log10(1 / MSE)``, MSE over the masked pixels and the three channels. ``SquaredError``
  pools the squared errors of several frames before the log: one PSNR per shot in which every frame
  weighs by its error (an average of per-frame dBs lets an easy frame's high score hide a bad one).
- SSIM: Wang et al. 2004 as ``skimage.metrics.structural_similarity`` computes it (Gaussian window
  sigma 1.5, K1 0.01, K2 0.03, population covariances as in the paper), per channel, the SSIM map
  averaged over the masked pixels at least 5 px (about 3 sigma) from an unmasked one or the frame
  edge, then over channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

SSIM_SIGMA = 1.5
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
    values = []
    for c in range(3):
        _, smap = structural_similarity(
            a[..., c], b[..., c], data_range=1.0, gaussian_weights=True, sigma=SSIM_SIGMA,
            use_sample_covariance=False, full=True,
        )  # fmt: skip
        values.append(float(np.mean(smap[inner])))
    return float(np.mean(values))
