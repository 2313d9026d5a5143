"""What a model was trained on, and the render-time guard that keeps it there.

A model knows the colours it has seen only as well as its training pairs cover them. ``Coverage``
records, from the training pairs (``remaster_core.grade.sample_pairs``):

- the input colours: a coarse 3D histogram of input R'G'B' (``BINS`` bins a side over 0..1), of which
  the bins holding at least ``MIN_SHARE`` of the pixels (and at least ``MIN_COUNT``) are *occupied*, and
  the per-channel input range (0.1 and 99.9 percentiles);
- the targets' range: per channel, the 0.01 and 99.99 percentiles of the film values.

``guard_frame`` applies it to one rendered frame (the runtime, ``remaster_core.node``):

1. an input pixel is *covered* when its histogram bin is occupied and every channel lies within the
   input range widened by ``RANGE_TOLERANCE``;
2. the covered map is box-blurred over ``BLEND_RADIUS`` pixels into a weight w in 0..1 (a region, not
   isolated pixels, decides; no seams);
3. ``out = f(x) + w * (model(x) - f(x))``: where the input leaves the training colours the output
   falls back to ``f``, the model's own grade (``remaster_core.grade.Grade``, closed-form and bounded),
   never to something worse than it; or, for a run whose grade was never scored on a shot it was not
   fitted on (``Guard.grade_fallback`` false: a single film shot, validated on its own frames), to the
   input itself, the bilinear baseline: a grade fitted on one shot's palette has no evidence for
   colours outside it, and measured there it was worse than no correction;
4. the result is clipped, per channel, to the targets' range widened by ``margin`` (``MARGIN`` code
   values by default): no output value leaves what the film ever held by more than that.

``GuardReport`` says what it did: the fraction of pixels outside the coverage, of those blended and of
values clipped; a frame is *flagged* when more than ``FLAG_FRACTION`` of its pixels were outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from remaster_core.errors import InputError
from remaster_core.grade import Grade, PixelSample, input_range

BINS = 16
MIN_COUNT = 4
MIN_SHARE = 2e-6
RANGE_TOLERANCE = 0.02
TARGET_PERCENTILES = (0.01, 99.99)
MARGIN = 0.05
BLEND_RADIUS = 16
FLAG_FRACTION = 0.01


@dataclass(frozen=True)
class Coverage:
    """The training pairs' colour coverage (see the module docstring).

    Attributes:
        occupied: bool (BINS, BINS, BINS), indexed [r, g, b] bin.
        input_lo, input_hi: float64 (3,) input range.
        target_lo, target_hi: float64 (3,) target range.
        margin: output values are kept within the target range widened by this (code values).
        pixels: the sample's size.
    """

    occupied: np.ndarray
    input_lo: np.ndarray
    input_hi: np.ndarray
    target_lo: np.ndarray
    target_hi: np.ndarray
    margin: float = MARGIN
    pixels: int = 0

    @property
    def occupancy(self) -> float:
        """Share of the histogram's bins that are occupied."""
        return float(self.occupied.mean())

    def covered(self, rgb: np.ndarray) -> np.ndarray:
        """bool (...) : which pixels of float R'G'B' (..., 3) lie inside the coverage."""
        x = np.asarray(rgb, np.float32)
        bins = self.occupied.shape[0]
        idx = np.clip((x * bins).astype(np.int32), 0, bins - 1)
        inside = self.occupied[idx[..., 0], idx[..., 1], idx[..., 2]]
        lo = (self.input_lo - RANGE_TOLERANCE).astype(np.float32)
        hi = (self.input_hi + RANGE_TOLERANCE).astype(np.float32)
        inside &= ((x >= lo) & (x <= hi)).all(axis=-1)
        return inside

    def output_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (3,) lower and upper output bounds: the target range widened by ``margin``."""
        return (
            (self.target_lo - self.margin).astype(np.float32),
            (self.target_hi + self.margin).astype(np.float32),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the occupied bins as hex of the packed bits (r-major)."""
        return {
            "bins": int(self.occupied.shape[0]),
            "occupied_hex": np.packbits(self.occupied.reshape(-1)).tobytes().hex(),
            "occupancy": round(self.occupancy, 6),
            "input_lo": np.round(self.input_lo, 6).tolist(),
            "input_hi": np.round(self.input_hi, 6).tolist(),
            "target_lo": np.round(self.target_lo, 6).tolist(),
            "target_hi": np.round(self.target_hi, 6).tolist(),
            "margin": float(self.margin),
            "pixels": int(self.pixels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "coverage") -> Coverage:
        """Inverse of ``to_dict``. Raises InputError naming ``where`` and the bad field."""
        try:
            bins = int(data["bins"])
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(str(data["occupied_hex"])), np.uint8))
            occupied = bits[: bins**3].astype(bool).reshape(bins, bins, bins)
            arrays = [
                np.asarray(data[k], np.float64) for k in ("input_lo", "input_hi", "target_lo", "target_hi")
            ]
            margin = float(data.get("margin", MARGIN))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: not a colour coverage record ({type(exc).__name__}: {exc})") from None
        if any(a.shape != (3,) or not np.isfinite(a).all() for a in arrays) or not margin >= 0:
            raise InputError(f"{where}: coverage ranges must be three finite numbers each, margin >= 0")
        input_lo, input_hi, target_lo, target_hi = arrays
        return cls(
            occupied,
            input_lo,
            input_hi,
            target_lo,
            target_hi,
            margin=margin,
            pixels=int(data.get("pixels", 0)),
        )


def coverage_of(sample: PixelSample, *, bins: int = BINS, margin: float = MARGIN) -> Coverage:
    """The coverage of a training pixel sample (see the module docstring)."""
    x = np.clip(sample.input, 0.0, 1.0)
    idx = np.clip((x * bins).astype(np.int64), 0, bins - 1)
    flat = (idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2]
    counts = np.bincount(flat, minlength=bins**3).reshape(bins, bins, bins)
    occupied = counts >= max(MIN_COUNT, MIN_SHARE * len(x))
    lo, hi = input_range(sample)
    t_lo, t_hi = (np.percentile(sample.target, p, axis=0).astype(np.float64) for p in TARGET_PERCENTILES)
    return Coverage(occupied, lo, hi, t_lo, t_hi, margin=margin, pixels=len(x))


@dataclass(frozen=True)
class Guard:
    """What the runtime needs to guard a model's output: its grade and its training coverage.

    Attributes:
        grade_fallback: outside the coverage, fall back to the grade (True) or to the input (False: the
            grade was never scored on a shot it was not fitted on). Records written before this field
            existed read as True.
    """

    grade: Grade
    coverage: Coverage
    grade_fallback: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "grade": self.grade.to_dict(),
            "coverage": self.coverage.to_dict(),
            "grade_fallback": self.grade_fallback,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "guard") -> Guard:
        if not isinstance(data, dict) or "grade" not in data or "coverage" not in data:
            raise InputError(f"{where}: expected an object with 'grade' and 'coverage'")
        fallback = data.get("grade_fallback", True)
        if not isinstance(fallback, bool):
            raise InputError(f"{where}.grade_fallback: expected true or false, got {fallback!r}")
        return cls(
            Grade.from_dict(data["grade"], f"{where}.grade"),
            Coverage.from_dict(data["coverage"], f"{where}.coverage"),
            grade_fallback=fallback,
        )


@dataclass(frozen=True)
class GuardReport:
    """What ``guard_frame`` did to one frame (fractions 0..1).

    Attributes:
        outside: pixels outside the training coverage.
        blended: pixels whose output was moved towards the fallback (weight below 0.99).
        clipped: output values clipped to the target range plus margin.
    """

    outside: float
    blended: float
    clipped: float

    @property
    def flagged(self) -> bool:
        """More than ``FLAG_FRACTION`` of the pixels were outside the coverage."""
        return self.outside > FLAG_FRACTION

    def attribute(self) -> str:
        """The frame's metadata value: ``"outside=0.1234 blended=0.1000 clipped=0.0001"``."""
        return f"outside={self.outside:.4f} blended={self.blended:.4f} clipped={self.clipped:.4f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outside": round(self.outside, 6),
            "blended": round(self.blended, 6),
            "clipped": round(self.clipped, 6),
            "flagged": self.flagged,
        }


def guard_frame(resampled: np.ndarray, enhanced: np.ndarray, guard: Guard) -> tuple[np.ndarray, GuardReport]:
    """Guard one model output (see the module docstring).

    Args:
        resampled: the model's input, float32 R'G'B' (H, W, 3).
        enhanced: the model's output for it, float32 (H, W, 3).

    Returns:
        (float32 (H, W, 3) guarded output, its ``GuardReport``).
    """
    covered = guard.coverage.covered(resampled)
    outside = 1.0 - float(covered.mean()) if covered.size else 0.0
    out = np.array(enhanced, dtype=np.float32, copy=True)
    blended = 0.0
    if outside > 0.0:
        size = 2 * BLEND_RADIUS + 1
        weight = cv2.blur(covered.astype(np.float32), (size, size), borderType=cv2.BORDER_REFLECT)
        weight = np.where(covered, weight, np.minimum(weight, 0.5)).astype(np.float32)
        moved = weight < 0.99
        blended = float(moved.mean())
        if moved.any():
            source = resampled[moved]
            fallback = guard.grade.apply(source) if guard.grade_fallback else source
            w = weight[moved][:, None]
            out[moved] = fallback + w * (out[moved] - fallback)
    lo, hi = guard.coverage.output_bounds()
    clipped_mask = (out < lo) | (out > hi)
    clipped = float(clipped_mask.mean()) if out.size else 0.0
    np.clip(out, lo, hi, out=out)
    return out, GuardReport(outside=outside, blended=blended, clipped=clipped)
