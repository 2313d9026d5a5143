"""Steadiness: does the render change from frame to frame more than the film does (flicker, crawl, boil)?

For each pair of consecutive frames (t, t+1), both sequences low-passed (Gaussian
``LookParams.steady_sigma``, so independent grain mostly averages away and what the eye sees move
stays), frame t is motion-compensated onto frame t+1 and what is left is the change:

    change = low(frame[t+1]) - warp(low(frame[t]), flow)

The flow is the REFERENCE's (``look.motion``: DIS optical flow on its low-passed luma; its global
motion wherever the flow does not move on its own, ``Motion.follow_maps``, so that the flow's pull
toward the reference's own grain does not count as the film being steadier), applied to both
sequences, so the render is judged on the film's own motion: a render that flickers
(global gain wobble), boils (texture re-invented each frame) or crawls (detail that slides over the
picture) changes where the film does not. Pixels whose flow fails the forward-backward check (more
than ``LookParams.fb_threshold`` px apart: occlusions, uncovered edges) or that come from outside the
frame are left out; a pair with fewer than ``min_valid`` of its pixels left (a cut, a flash, flow that
failed) is skipped and counted.

Reported as the RMS change (code values, over the reliable pixels of every pair and the three
channels) of the render and of the reference, and their ratio (the summary): 1 is as steady as the
film (its own grain and flow errors are the yardstick), above 1 less steady, below 1 steadier (a
grainless render is steadier than grainy film). ``worst_pair`` is where the ratio of a single pair
peaks (index of its first frame among the scored frames). One frame, or a reference that does not
change at all (below ``change_floor``), gives None and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remaster_core.look.motion import Motion
from remaster_core.look.ratio import Ratio, ratio_of, unmeasured
from remaster_core.look.regions import LookParams, gaussian


@dataclass(frozen=True)
class SteadinessResult:
    """The frame-to-frame change of a render against its reference's (see the module docstring).

    Attributes:
        change: render/reference RMS change after motion compensation (code values), the summary.
        pairs: frame pairs measured; skipped: pairs left out (too few reliable pixels).
        worst_pair: index (among the scored frames) of the first frame of the pair with the largest
            render/reference change ratio, or None; worst_ratio: that ratio.
        reason: why nothing could be measured, else None.
    """

    change: Ratio
    pairs: int
    skipped: int
    worst_pair: int | None = None
    worst_ratio: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "change": self.change.to_dict(),
            "pairs": self.pairs,
            "skipped": self.skipped,
            "worst_pair": self.worst_pair,
            "worst_ratio": self.worst_ratio,
            "reason": self.reason,
        }


class SteadinessAccumulator:
    """Takes the frames of two sequences in order, with the reference's motion (``add``); ``result()``
    gives the ``SteadinessResult``."""

    def __init__(self, params: LookParams) -> None:
        self.params = params
        self.frames = 0
        self.pairs = 0
        self.skipped = 0
        self._sq_render = 0.0
        self._sq_reference = 0.0
        self._count = 0
        self._worst: tuple[int, float] | None = None
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, render: np.ndarray, reference: np.ndarray, motion: Motion | None) -> None:
        """Add the next frame of each sequence (float32 (H, W, 3), 0..1, same size) and the reference's
        motion onto it from the frame before (``motion.MotionTracker``; None for the first frame)."""
        p = self.params
        low_render = gaussian(render, p.steady_sigma)
        low_reference = gaussian(reference, p.steady_sigma)
        previous, self._previous = self._previous, (low_render, low_reference)
        self.frames += 1
        if previous is None or motion is None:
            return
        if motion.valid_share < p.min_valid:
            self.skipped += 1
            return
        valid = motion.valid
        sq = []
        for low, prev in zip((low_render, low_reference), previous, strict=True):
            diff = (low - motion.warp(prev))[valid].astype(np.float64)
            sq.append(float(np.sum(diff * diff)))
        n = 3 * int(np.count_nonzero(valid))
        self._sq_render += sq[0]
        self._sq_reference += sq[1]
        self._count += n
        self.pairs += 1
        if sq[1] / n >= p.change_floor**2:
            pair_ratio = float(np.sqrt(sq[0] / sq[1]))
            if self._worst is None or pair_ratio > self._worst[1]:
                self._worst = (self.frames - 2, pair_ratio)

    def result(self) -> SteadinessResult:
        """The steadiness of everything added."""
        p = self.params
        if self.frames < 2:
            reason = f"{self.frames} frame(s): steadiness compares consecutive frames and needs at least two"
            return SteadinessResult(unmeasured(reason), 0, 0, reason=reason)
        if self.pairs == 0:
            reason = (
                f"all {self.skipped} frame pairs skipped: fewer than {p.min_valid:.0%} of their pixels had a "
                "reliable flow on the reference (cuts, flashes, or frames with nothing to track)"
            )
            return SteadinessResult(unmeasured(reason), 0, self.skipped, reason=reason)
        change = ratio_of(
            float(np.sqrt(self._sq_render / self._count)), float(np.sqrt(self._sq_reference / self._count)),
            floor=p.change_floor, what="frame-to-frame change",
        )  # fmt: skip
        worst = self._worst
        return SteadinessResult(
            change=change,
            pairs=self.pairs,
            skipped=self.skipped,
            worst_pair=None if worst is None else worst[0],
            worst_ratio=None if worst is None else worst[1],
        )
