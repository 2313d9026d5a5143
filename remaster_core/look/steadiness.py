"""Steadiness: does the render change from frame to frame more than the film does (flicker, crawl, boil)?

For each pair of consecutive frames (t, t+1), both sequences low-passed (Gaussian
``LookParams.steady_sigma``, so independent grain mostly averages away and what the eye sees move
stays), frame t is motion-compensated onto frame t+1 and what is left is the change:

    change = low(frame[t+1]) - warp(low(frame[t]), flow)

The flow is DIS optical flow (OpenCV, medium preset) computed on the REFERENCE pair's low-passed luma
(8-bit) only and applied to both sequences, so the render is judged on the film's own motion: a render that flickers
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

import cv2
import numpy as np

from remaster_core.look.ratio import Ratio, ratio_of, unmeasured
from remaster_core.look.regions import LookParams, gaussian, luma


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


def _u8(plane: np.ndarray) -> np.ndarray:
    return np.clip(plane * 255.0 + 0.5, 0, 255).astype(np.uint8)


def compensation(
    previous: np.ndarray, current: np.ndarray, fb_threshold: float, dis: cv2.DISOpticalFlow
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel of ``current`` was in ``previous`` (uint8 (H, W) luma), and whether to trust it.

    Returns:
        (map_x, map_y, valid): float32 (H, W) sampling maps into ``previous`` for ``cv2.remap``, and bool
        (H, W): inside the frame and forward-backward consistent within ``fb_threshold`` px.
    """
    back = dis.calc(current, previous, None)  # current(x) ~ previous(x + back(x))
    fwd = dis.calc(previous, current, None)  # previous(y) ~ current(y + fwd(y))
    h, w = current.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xx + back[..., 0], yy + back[..., 1]
    there = cv2.remap(fwd, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fb = np.hypot(back[..., 0] + there[..., 0], back[..., 1] + there[..., 1])
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return map_x, map_y, inside & (fb <= fb_threshold)


class SteadinessAccumulator:
    """Takes the frame pairs of two sequences in order (``add``); ``result()`` gives the ``SteadinessResult``."""

    def __init__(self, params: LookParams) -> None:
        self.params = params
        self.frames = 0
        self.pairs = 0
        self.skipped = 0
        self._sq_render = 0.0
        self._sq_reference = 0.0
        self._count = 0
        self._worst: tuple[int, float] | None = None
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def add(self, render: np.ndarray, reference: np.ndarray) -> None:
        """Add the next frame of each sequence (float32 (H, W, 3), 0..1, same size)."""
        p = self.params
        low_render = gaussian(render, p.steady_sigma)
        low_reference = gaussian(reference, p.steady_sigma)
        grey = _u8(luma(low_reference))  # the flow follows what is compared, not the grain
        previous, self._previous = self._previous, (low_render, low_reference, grey)
        self.frames += 1
        if previous is None:
            return
        prev_render, prev_reference, prev_grey = previous
        map_x, map_y, valid = compensation(prev_grey, grey, p.fb_threshold, self._dis)
        if np.count_nonzero(valid) < p.min_valid * valid.size:
            self.skipped += 1
            return
        sq = []
        for low, prev in ((low_render, prev_render), (low_reference, prev_reference)):
            warped = cv2.remap(prev, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            diff = (low - warped)[valid].astype(np.float64)
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
