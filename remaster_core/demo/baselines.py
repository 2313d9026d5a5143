"""The two baselines the trained model must beat, on the same resampled broadcast frames.

- **Bilinear**: the broadcast frame resampled bilinearly into the film raster, nothing else: the
  model's input, so it is the "no enhancement" reference. It is made as ``remaster align`` makes the
  training inputs (``remaster_core.align.transform.resample``, edge pixels replicated past the
  broadcast picture's border), so that the model sees at test time what it saw in training: the
  render node's resample (``remaster_core.node.resample_to_output``) is the same inside the picture but
  black outside it, and under the true framing of an overscanned shot a few percent of the film raster
  lies outside the broadcast picture (those pixels are not scored, but a black border there would
  change the model's output up to its receptive field, 63 px, inside the scored area).
- **Colour fit**: a global colour correction learned by least squares from aligned training pairs:
  each output channel is a quadratic polynomial of the input pixel's R'G'B' (1, r, g, b, r^2, g^2,
  b^2, rg, rb, gb: 10 terms, 30 coefficients in all), fitted over the valid (mask 255) pixels of the
  pairs, then applied per pixel to the bilinear frame. It models a grade (matrix, lift/gain, gamma) and
  nothing spatial (blur, noise, chroma loss). The demo fits it on exactly the pairs the trainer fits
  the model's weights on (its training split, without the shot it holds out for validation): the same
  data for both, so neither wins by seeing more. The fit itself lives in ``remaster_core.grade_fit``
  (the trainer starts G's colour path at the same fit).
"""

from __future__ import annotations

import numpy as np

from remaster_core.align.transform import Radial, Transform4, resample, sampling_maps
from remaster_core.grade_fit import TERMS, ColourFit, fit_colour, quadratic_features

__all__ = ["TERMS", "ColourFit", "bilinear_baseline", "bilinear_maps", "fit_colour", "quadratic_features"]


def bilinear_maps(
    transform: Transform4, out_size: tuple[int, int], distortion: Radial | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The sampling maps (float32 (H, W) broadcast x and y of every output pixel) of a mapping.

    Args:
        transform: output pixel -> broadcast pixel (``remaster_core.align.transform``'s convention).
        out_size: (W, H) of the output (film) raster.
        distortion: the radial lens distortion applied after ``transform``, or None.
    """
    return sampling_maps(transform, out_size, distortion)


def bilinear_baseline(broadcast: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The broadcast frame resampled bilinearly through ``maps``, edges replicated (see the module docstring).

    Args:
        broadcast: float32 R'G'B' (Hb, Wb, 3), the conformed frame.
        maps: from ``bilinear_maps``.

    Returns:
        float32 R'G'B' (H, W, 3), values as resampled (not clipped).
    """
    return resample(broadcast, maps[0], maps[1], border="replicate")
