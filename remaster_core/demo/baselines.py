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
  data for both, so neither wins by seeing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.align.transform import Radial, Transform4, resample, sampling_maps
from remaster_core.errors import InputError
from remaster_core.io.images import read_image

TERMS = ("1", "r", "g", "b", "r^2", "g^2", "b^2", "rg", "rb", "gb")


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


def quadratic_features(rgb: np.ndarray) -> np.ndarray:
    """The 10 polynomial terms of ``TERMS`` for every pixel: float64 (N, 10) from float RGB (..., 3)."""
    x = np.asarray(rgb, np.float64).reshape(-1, 3)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    return np.stack([np.ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b], axis=1)


@dataclass(frozen=True)
class ColourFit:
    """A fitted quadratic colour correction.

    Attributes:
        coefficients: float64 (10, 3): output channel c = ``quadratic_features(x) @ coefficients[:, c]``.
        pixels: how many pixels it was fitted on; frames: from how many pairs.
        rms_fit: RMS residual on the fitting pixels (code values 0..1).
    """

    coefficients: np.ndarray
    pixels: int
    frames: int
    rms_fit: float

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Correct float32 R'G'B' (H, W, 3) -> float32 (H, W, 3), not clipped."""
        h, w = rgb.shape[:2]
        out = quadratic_features(rgb) @ self.coefficients
        return out.reshape(h, w, 3).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: coefficients per term and channel, and the fit's size and residual."""
        return {
            "terms": list(TERMS),
            "coefficients_rgb": [[round(float(v), 6) for v in row] for row in self.coefficients],
            "pixels": self.pixels,
            "frames": self.frames,
            "rms_fit": round(self.rms_fit, 6),
        }


def fit_colour(frames: Sequence[tuple[Path, Path, Path]], *, stride: int = 3) -> ColourFit:
    """Least-squares quadratic colour fit on aligned pairs (see the module docstring).

    Args:
        frames: (input, target, mask) files of the pairs (the demo passes the trainer's training split).
        stride: use every ``stride``-th pixel in x and y of each frame (neighbouring pixels add little:
            the fit has 30 unknowns and sees hundreds of thousands of pixels).

    Raises:
        InputError: no pair, or no valid pixel in them.
    """
    if not frames:
        raise InputError("no aligned pair to fit the colour baseline on")
    ata = np.zeros((len(TERMS), len(TERMS)))
    atb = np.zeros((len(TERMS), 3))
    btb = np.zeros(3)
    pixels = 0
    for inp_path, tgt_path, mask_path in frames:
        inp = read_image(inp_path)[0][::stride, ::stride]
        tgt = read_image(tgt_path)[0][::stride, ::stride]
        mask = read_image(mask_path, channels=None)[0][::stride, ::stride, 0] > 0.5
        if not mask.any():
            continue
        a = quadratic_features(inp[mask])
        b = np.asarray(tgt[mask], np.float64)
        ata += a.T @ a
        atb += a.T @ b
        btb += np.sum(b * b, axis=0)
        pixels += int(mask.sum())
    if pixels == 0:
        raise InputError(f"{frames[0][2]} and the other masks: no valid pixel to fit the colour baseline on")
    coefficients = np.linalg.solve(ata + 1e-9 * np.eye(len(TERMS)), atb)
    # residual sum of squares from the normal equations: b'b - 2 c'A'b + c'A'Ac, per channel
    rss = btb - 2 * np.sum(coefficients * atb, axis=0) + np.sum(coefficients * (ata @ coefficients), axis=0)
    rms = float(np.sqrt(max(float(np.sum(rss)), 0.0) / (3 * pixels)))
    return ColourFit(coefficients, pixels, len(frames), rms)
