"""A global colour correction fitted by least squares: each output channel a quadratic polynomial of R'G'B'.

The model: output channel c = ``quadratic_features(x) @ coefficients[:, c]``, with the 10 terms of
``TERMS`` (1, r, g, b, r^2, g^2, b^2, rg, rb, gb) of the input pixel's code values (30 coefficients).
It represents a grade (3x3 matrix, lift/gain, a gamma near 1) closely and nothing spatial (blur, noise,
chroma loss). Two users:

- the demo's **colour-fit baseline** (``remaster_core.demo.baselines``), which the trained model must beat;
- the trainer, which **starts** G's per-pixel colour path at this fit of its training pairs
  (``training.colour_init``), so that training begins from the baseline rather than from the identity.

The fit runs over the valid (mask > 0.5) pixels of aligned pairs through the normal equations, so its
memory does not grow with the number of frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.errors import InputError
from remaster_core.io.images import read_image

TERMS = ("1", "r", "g", "b", "r^2", "g^2", "b^2", "rg", "rb", "gb")


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


def spread(items: Sequence[Any], count: int | None) -> list[Any]:
    """At most ``count`` of ``items``, evenly spaced over the sequence (all of them when ``count`` is None)."""
    if count is None or len(items) <= count:
        return list(items)
    return [items[int(k)] for k in np.linspace(0, len(items) - 1, count).round().astype(int)]


def fit_colour_pixels(inp: np.ndarray, tgt: np.ndarray, *, frames: int = 0) -> ColourFit:
    """The same least-squares fit on pixels already read: float (n, 3) inputs and targets (finite).

    Raises:
        InputError: no pixel.
    """
    if len(inp) == 0:
        raise InputError("no pixel to fit the colour baseline on")
    a = quadratic_features(inp)
    b = np.asarray(tgt, np.float64).reshape(-1, 3)
    coefficients = np.linalg.solve(a.T @ a + 1e-9 * np.eye(len(TERMS)), a.T @ b)
    rms = float(np.sqrt(np.mean((a @ coefficients - b) ** 2)))
    return ColourFit(coefficients, len(a), frames, rms)


def fit_colour(
    frames: Sequence[tuple[Path, Path, Path]], *, stride: int = 3, max_frames: int | None = None
) -> ColourFit:
    """Least-squares quadratic colour fit on aligned pairs (see the module docstring). Pixels outside the
    mask, and pixels with a NaN or Inf in the input or the target, are left out.

    Args:
        frames: (input, target, mask) files of the pairs (the demo passes the trainer's training split).
        stride: use every ``stride``-th pixel in x and y of each frame (neighbouring pixels add little:
            the fit has 30 unknowns and sees hundreds of thousands of pixels).
        max_frames: fit on at most this many frames, evenly spaced over ``frames`` (a show's thousands of
            pairs hold no more colours than a few hundred spread over them); None: every frame.

    Raises:
        InputError: no pair, or no valid pixel in them.
    """
    if not frames:
        raise InputError("no aligned pair to fit the colour baseline on")
    ata = np.zeros((len(TERMS), len(TERMS)))
    atb = np.zeros((len(TERMS), 3))
    btb = np.zeros(3)
    pixels = 0
    used = spread(frames, max_frames)
    for inp_path, tgt_path, mask_path in used:
        inp = read_image(inp_path)[0][::stride, ::stride]
        tgt = read_image(tgt_path)[0][::stride, ::stride]
        mask = read_image(mask_path, channels=None)[0][::stride, ::stride, 0] > 0.5
        # NaN/Inf pixels (a damaged EXR) would poison every coefficient: they are left out of the fit
        mask &= np.isfinite(inp).all(axis=-1) & np.isfinite(tgt).all(axis=-1)
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
    return ColourFit(coefficients, pixels, len(used), rms)
