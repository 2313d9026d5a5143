"""The model's global grade: a quadratic colour correction with a prior towards an affine one, bounded
outside the training colours, fitted in closed form.

The grade is the low-capacity part of G that carries the broadcast -> film colour mapping (G adds to it
only what a grade cannot do, see ``training.model``). For an input pixel x (R'G'B' code values)::

    xc = clip(x, lo, hi)                         per channel, to the training inputs' range
    c  = xc - 0.5
    grade(x) = bias + W @ [c_r, c_g, c_b, c_r^2, c_g^2, c_b^2, c_r c_g, c_r c_b, c_g c_b]
               + slope @ (x - xc)

- ``[lo, hi]``: per channel, the 0.1 and 99.9 percentiles of the training inputs. Outside them the
  grade continues along straight lines (``slope``: the least-squares *affine* fit's matrix): no
  curvature is extrapolated, so a colour darker or more saturated than anything in training moves the
  output only as much as an affine fit says.
- Inside, the quadratic is fitted by ridge least squares with a penalty ``ridge`` on the six
  second-order coefficients (a prior towards the affine fit; 0 is exactly the least-squares colour fit
  of ``remaster_core.grade_fit``, the demo's baseline).

Why this form, and why ``ridge`` is chosen per run on the held-out shots (``training.colour_init``):
docs/training.md, "The grade". Measured there against free tone curves (one per channel plus a matrix,
and nine free curves): curves fitted to one palette bent to it and lost up to 1.4 dB on other pictures,
where the quadratic held; on a palette far from the missing shot's the plain quadratic lost 2.3 dB to
no correction and the ridge prior gave it back.

The same arithmetic runs in G's grade module (``training.model.GradePath``: clip, products, 1x1
convolutions; exportable) and in ``Grade.apply`` (numpy: the runtime's guard).

``sample_pairs`` reads (input, target, mask) files once and keeps a bounded random sample of the valid,
finite pixels, from which the grade, the colour-coverage record (``remaster_core.guard``) and the
colour-fit baseline are all computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.errors import InputError
from remaster_core.grade_fit import spread
from remaster_core.io.images import read_image

RANGE_PERCENTILES = (0.1, 99.9)
MIN_SPAN = 0.05  # a channel's range is at least this wide (a near-constant channel)
RIDGES = (0.0, 1e-3, 1e-2, 1e-1)
"""The prior strengths a run chooses from on its held-out shots (``training.colour_init``)."""
RIDGE_EVIDENCE_DB = 0.3
"""A prior replaces the plain colour fit (0) only when it scores this much better on the held-out shots."""
DEFAULT_RIDGE = 1e-3
"""The prior when nothing can choose (one aligned shot: no whole shot is held out)."""
TERMS = ("r", "g", "b", "r^2", "g^2", "b^2", "rg", "rb", "gb")
"""The terms of the centred colour ``c = clip(x) - 0.5`` that ``W`` weighs, in order."""


@dataclass(frozen=True)
class PixelSample:
    """Valid, finite pixels drawn from aligned pairs: ``input`` and ``target`` float32 (n, 3)."""

    input: np.ndarray
    target: np.ndarray
    frames: int


def sample_pairs(
    frames: Sequence[tuple[Path, Path, Path]],
    *,
    max_frames: int | None = 200,
    max_pixels: int = 1_000_000,
    stride: int = 2,
    seed: int = 0,
) -> PixelSample:
    """A random sample of the valid (mask > 0.5), finite pixels of the pairs ``frames``.

    Args:
        frames: (input, target, mask) files.
        max_frames: at most this many frames, evenly spread (None: all).
        max_pixels: at most about this many pixels in all (an equal share a frame).
        stride: every ``stride``-th pixel in x and y before the random draw.
        seed: the draw's seed (the sample is a function of the files and the seed).

    Raises:
        InputError: no pair, or no valid finite pixel in them (e.g. targets that are all NaN).
    """
    if not frames:
        raise InputError("no aligned pair to fit the grade on")
    used = spread(frames, max_frames)
    share = max(1, max_pixels // len(used))
    rng = np.random.default_rng(seed)
    inputs, targets = [], []
    for inp_path, tgt_path, mask_path in used:
        inp = read_image(inp_path)[0][::stride, ::stride].reshape(-1, 3)
        tgt = read_image(tgt_path)[0][::stride, ::stride].reshape(-1, 3)
        mask = read_image(mask_path, channels=None)[0][::stride, ::stride, 0].reshape(-1) > 0.5
        # NaN/Inf pixels (a damaged EXR, a scan with dropouts) are left out, not averaged in
        mask &= np.isfinite(inp).all(axis=-1) & np.isfinite(tgt).all(axis=-1)
        index = np.flatnonzero(mask)
        if index.size > share:
            index = rng.choice(index, share, replace=False)
        inputs.append(inp[index].astype(np.float32))
        targets.append(tgt[index].astype(np.float32))
    x, y = np.concatenate(inputs), np.concatenate(targets)
    if len(x) == 0:
        raise InputError(
            f"{frames[0][2]} and the other masks: no valid pixel with finite input and target values to fit "
            "the grade on; check the pairs for NaN/Inf (EXR targets) and the masks"
        )
    return PixelSample(x, y, len(used))


def grade_features(xc: np.ndarray) -> np.ndarray:
    """The ``TERMS`` of clipped colours ``xc`` (n, 3): float64 (n, 9)."""
    c = np.asarray(xc, np.float64).reshape(-1, 3) - 0.5
    return np.concatenate(
        [c, c * c, c[:, [0]] * c[:, [1]], c[:, [0]] * c[:, [2]], c[:, [1]] * c[:, [2]]], axis=1
    )


@dataclass(frozen=True)
class Grade:
    """A fitted grade (see the module docstring).

    Attributes:
        lo, hi: float64 (3,) the input range the quadratic is evaluated in.
        weight: float64 (3, 9): output channel k = ``bias[k] + weight[k] @ TERMS``.
        bias: float64 (3,).
        slope: float64 (3, 3): output k per unit of input c outside ``[lo_c, hi_c]``.
        ridge: the prior's strength it was fitted with.
        pixels: how many pixels it was fitted on; rms_fit: RMS residual on them (code values).
    """

    lo: np.ndarray
    hi: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    slope: np.ndarray
    ridge: float = 0.0
    pixels: int = 0
    rms_fit: float = 0.0

    @classmethod
    def identity(cls) -> Grade:
        """``grade(x) == x`` for every x."""
        weight = np.zeros((3, 9))
        weight[:, :3] = np.eye(3)
        return cls(np.zeros(3), np.ones(3), weight, np.full(3, 0.5), np.eye(3))

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """float R'G'B' (..., 3) -> float32 (..., 3), not clipped (the same arithmetic as G's path)."""
        x = np.asarray(rgb, np.float32)
        xc = np.minimum(np.maximum(x, self.lo.astype(np.float32)), self.hi.astype(np.float32))
        out = grade_features(xc) @ self.weight.T + self.bias
        out += (x - xc).reshape(-1, 3).astype(np.float64) @ self.slope.T
        return out.reshape(x.shape).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (checkpoints, ONNX metadata)."""
        return {
            "kind": "bounded-quadratic",
            "terms": list(TERMS),
            "lo": np.round(self.lo, 8).tolist(),
            "hi": np.round(self.hi, 8).tolist(),
            "weight": np.round(self.weight, 8).tolist(),
            "bias": np.round(self.bias, 8).tolist(),
            "slope": np.round(self.slope, 8).tolist(),
            "ridge": float(self.ridge),
            "pixels": int(self.pixels),
            "rms_fit": round(float(self.rms_fit), 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "grade") -> Grade:
        """Inverse of ``to_dict``. Raises InputError naming ``where`` and the bad field."""
        try:
            arrays = [np.asarray(data[k], np.float64) for k in ("lo", "hi", "weight", "bias", "slope")]
            extra = (
                float(data.get("ridge", 0.0)),
                int(data.get("pixels", 0)),
                float(data.get("rms_fit", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: not a grade ({type(exc).__name__}: {exc})") from None
        shapes = [a.shape for a in arrays]
        if shapes != [(3,), (3,), (3, 9), (3,), (3, 3)]:
            raise InputError(
                f"{where}: grade arrays of shapes lo, hi, weight, bias, slope {shapes}; expected "
                "(3,), (3,), (3, 9), (3,), (3, 3)"
            )
        if not all(np.isfinite(a).all() for a in arrays) or not (arrays[1] > arrays[0]).all():
            raise InputError(f"{where}: grade values are not finite, or its range is empty (hi <= lo)")
        lo, hi, weight, bias, slope = arrays
        return cls(lo, hi, weight, bias, slope, ridge=extra[0], pixels=extra[1], rms_fit=extra[2])


def affine_fit(sample: PixelSample) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``target ~ A @ input + b``: (A float64 (3, 3), b (3,))."""
    x = np.concatenate([sample.input.astype(np.float64), np.ones((len(sample.input), 1))], axis=1)
    coef = np.linalg.solve(x.T @ x + 1e-9 * np.eye(4), x.T @ sample.target.astype(np.float64))
    return coef[:3].T.copy(), coef[3].copy()


def input_range(sample: PixelSample) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (lo, hi) of the sample's inputs: ``RANGE_PERCENTILES``, at least ``MIN_SPAN`` apart."""
    lo, hi = (np.percentile(sample.input, p, axis=0).astype(np.float64) for p in RANGE_PERCENTILES)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, np.full(3, MIN_SPAN / 2))
    return centre - half, centre + half


def fit_grade(sample: PixelSample, *, ridge: float = DEFAULT_RIDGE) -> Grade:
    """The closed-form grade of ``sample`` (see the module docstring).

    Args:
        ridge: weight of the penalty on the second-order coefficients, relative to the mean squared
            error (0: the plain least-squares quadratic).
    """
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    lo, hi = input_range(sample)
    slope, _ = affine_fit(sample)
    xc = np.clip(sample.input, lo, hi)
    feats = np.concatenate([np.ones((len(xc), 1)), grade_features(xc)], axis=1)
    y = sample.target.astype(np.float64)
    n = len(feats)
    penalty = np.zeros((10, 10))
    penalty[4:, 4:] = np.eye(6)
    coef = np.linalg.solve(feats.T @ feats / n + ridge * penalty + 1e-9 * np.eye(10), feats.T @ y / n)
    rms = float(np.sqrt(np.mean((feats @ coef - y) ** 2)))
    return Grade(lo, hi, coef[1:].T.copy(), coef[0].copy(), slope, ridge=float(ridge), pixels=n, rms_fit=rms)
