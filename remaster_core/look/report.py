"""Score a render against its reference, a whole sequence at once: ``score_sequences`` -> ``LookReport``.

The frames stream through (one pair in memory, plus the previous one for steadiness): float32 R'G'B'
(H, W, 3) code values, render and reference of the same size, clipped to 0..1 before anything is
measured (a delivered file holds 0..1; the film scan is 0..1). A frame holding NaN or infinity is
refused. The report holds PSNR and SSIM (``fidelity``), grain, detail and steadiness, and the settings
used; ``to_dict()`` is JSON-able (finite numbers, or None with a reason), ``format_table`` a text table.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from remaster_core.errors import InputError
from remaster_core.look.detail import DetailAccumulator, DetailResult
from remaster_core.look.fidelity import SquaredError, ssim
from remaster_core.look.grain import GrainMeter, GrainResult
from remaster_core.look.motion import MotionTracker
from remaster_core.look.ratio import Ratio
from remaster_core.look.regions import CHANNELS, LookParams, frame_planes
from remaster_core.look.steadiness import SteadinessAccumulator, SteadinessResult

MISMATCH = "a reference of another size or length than the render"


@dataclass(frozen=True)
class FidelityResult:
    """PSNR and SSIM of the whole sequence (``look.fidelity``), every pixel counted.

    Attributes:
        psnr_db: PSNR in dB (peak 1.0) pooled over every frame (their squared errors summed before the
            log), or None when the render equals the reference (``reason`` says so).
        ssim: mean SSIM of the frames (-1..1, 1 identical).
        reason: why ``psnr_db`` is None, else None.
    """

    psnr_db: float | None
    ssim: float
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"psnr_db": self.psnr_db, "ssim": self.ssim, "reason": self.reason}


@dataclass(frozen=True)
class LookReport:
    """How a render looks against its reference (see ``grain``, ``detail``, ``steadiness``).

    Attributes:
        frames: frame pairs scored; width, height: their size in px.
        fidelity, grain, detail, steadiness: the measures.
        params: the settings they used.
    """

    frames: int
    width: int
    height: int
    fidelity: FidelityResult
    grain: GrainResult
    detail: DetailResult
    steadiness: SteadinessResult
    params: LookParams

    def to_dict(self) -> dict[str, object]:
        """JSON-able (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "fidelity": self.fidelity.to_dict(),
            "grain": self.grain.to_dict(),
            "detail": self.detail.to_dict(),
            "steadiness": self.steadiness.to_dict(),
            "params": self.params.to_dict(),
        }


def _checked(frame: object, index: int, which: str) -> np.ndarray:
    """The frame as float32 (H, W, 3) clipped to 0..1, or InputError naming it."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise InputError(f"frame {index} of the {which}: expected an RGB array (H, W, 3), got {shape}")
    bad = int(np.count_nonzero(~np.isfinite(frame)))
    if bad:
        raise InputError(
            f"frame {index} of the {which} holds NaN or infinity in {bad} samples; fix the file (or the "
            "render that wrote it) before scoring it"
        )
    return np.clip(frame, 0.0, 1.0).astype(np.float32, copy=False)


def _pairs(
    renders: Iterable[np.ndarray], references: Iterable[np.ndarray], tile: int
) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    missing = object()
    for i, (render, reference) in enumerate(itertools.zip_longest(renders, references, fillvalue=missing)):
        if render is missing or reference is missing:
            longer, shorter = ("reference", "render") if render is missing else ("render", "reference")
            raise InputError(f"the {longer} has more frames than the {shorter} ({i}): {MISMATCH}")
        r = _checked(render, i, "render")
        f = _checked(reference, i, "reference")
        if r.shape != f.shape:
            raise InputError(
                f"frame {i}: the render is {r.shape[1]}x{r.shape[0]}, the reference {f.shape[1]}x{f.shape[0]}: "
                f"{MISMATCH}"
            )
        if min(r.shape[:2]) < tile:
            raise InputError(
                f"frame {i}: {r.shape[1]}x{r.shape[0]} is smaller than one {tile} px tile; too small to score"
            )
        yield r, f


def score_sequences(
    renders: Iterable[np.ndarray], references: Iterable[np.ndarray], params: LookParams | None = None
) -> LookReport:
    """Score a render sequence against its reference, frame i against frame i.

    Args:
        renders, references: float32 R'G'B' (H, W, 3) frames, the same count and size (values are
            clipped to 0..1). Iterables are consumed once, in order.
        params: the measures' settings (default ``LookParams()``).

    Raises:
        InputError: no frames, frames of another size or count in one sequence than in the other, an
            array that is not (H, W, 3), a frame smaller than one tile, or NaN / infinity in a frame.
    """
    params = params or LookParams()
    squared = SquaredError()
    ssims: list[float] = []
    grain = GrainMeter(params)
    detail = DetailAccumulator(params)
    steady = SteadinessAccumulator(params)
    tracker = MotionTracker(params)
    shape: tuple[int, ...] | None = None
    for render, reference in _pairs(renders, references, params.tile):
        if shape is not None and render.shape != shape:
            raise InputError(
                f"frame {len(ssims)} is {render.shape[1]}x{render.shape[0]}, frame 0 {shape[1]}x{shape[0]}: "
                "every frame of a sequence must have one size"
            )
        shape = render.shape
        whole = np.ones(render.shape[:2], bool)
        squared.add(render, reference, whole)
        ssims.append(ssim(render, reference, whole))
        planes = frame_planes(render, reference, params)
        motion = tracker.next(reference)
        grain.add(render, reference, planes, motion)
        detail.add(planes)
        steady.add(render, reference, motion)
    if shape is None:
        raise InputError("no frames to score: the render and the reference are both empty")
    psnr = squared.psnr()
    fidelity = (
        FidelityResult(
            None, float(np.mean(ssims)), "the render equals the reference (no error: PSNR is infinite)"
        )
        if psnr == float("inf")
        else FidelityResult(psnr, float(np.mean(ssims)))
    )
    return LookReport(
        frames=len(ssims),
        width=shape[1],
        height=shape[0],
        fidelity=fidelity,
        grain=grain.result(),
        detail=detail.result(),
        steadiness=steady.result(),
        params=params,
    )


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _row(label: str, r: Ratio, fmt: str) -> str:
    note = f"  ({r.reason})" if r.reason else ""
    if r.interval is not None:
        note = f"  (90 %: {r.interval[0]:.3f}-{r.interval[1]:.3f})" + note
    return f"{label:<32}{_num(r.render, fmt):>12}{_num(r.reference, fmt):>12}{_num(r.ratio, '.3f'):>9}{note}"


def format_table(report: LookReport, frames: Sequence[int] | None = None) -> str:
    """The report as a text table: one row per measure (render, reference, ratio), reasons beside.

    ``frames``: the render's frame numbers in scored order, to name the worst pair by them (default:
    its position among the scored frames, from 0).
    """
    f, g, d, s = report.fidelity, report.grain, report.detail, report.steadiness
    lines = [
        f"{report.frames} frame(s), {report.width}x{report.height}",
        f"{'measure':<32}{'render':>12}{'reference':>12}{'ratio':>9}",
        f"{'PSNR dB':<32}{_num(f.psnr_db, '.2f'):>12}" + (f"  ({f.reason})" if f.reason else ""),
        f"{'SSIM':<32}{f.ssim:>12.4f}",
        _row(f"grain RMS ({g.flat_tiles}/{g.tiles} flat {g.tile} px tiles)", g.amplitude, ".5f"),
        f"  measured on {'frame differences (motion compensated)' if g.temporal else 'single frames'}"
        + (
            f"; {g.structured_tiles} flat tiles left out, not grain-like (specks)"
            if g.structured_tiles
            else ""
        ),
    ]
    if g.reason is None:
        for name, r in zip(CHANNELS, g.channels, strict=True):
            lines.append(_row(f"  {name}", r, ".5f"))
        for band in g.bands:
            lines.append(_row(f"  power {band.low:.4g}-{band.high:.4g} c/px", band.power, ".3g"))
        for level in g.levels:
            lines.append(_row(f"  RMS at luma {level.low:.1f}-{level.high:.1f}", level.amplitude, ".5f"))
    lines.append(_row(f"detail ({d.textured_tiles}/{d.tiles} textured)", d.energy, ".3g"))
    lines.append(_row(f"steadiness ({s.pairs} pairs)", s.change, ".5f"))
    if s.worst_pair is not None and s.worst_ratio is not None:
        first, second = (
            (s.worst_pair, s.worst_pair + 1) if frames is None else frames[s.worst_pair : s.worst_pair + 2]
        )
        lines.append(f"  least steady pair: frames {first}-{second}, ratio {s.worst_ratio:.3f}")
    if s.skipped:
        lines.append(f"  {s.skipped} pair(s) skipped (cuts or no reliable flow)")
    return "\n".join(lines)
