"""A second look at the fields whose cadence was decided on little evidence: how far the picture moves.

The first decision (``cadence.track_cadence``) weighs combing and field repeats. In a dark shot that
moves less than a pixel or two a frame, a repeated field and a film frame's step both differ from the
field before by about the coding noise, and a weave of two film frames hardly combs, so an edit made
after the telecine there is placed where the penalties put it: ``cadence.decision_margins`` falls
under ``CadenceParams.uncertain_margin`` and an output frame may mix two film frames (looked-at stress
seeds 1088 and 1107). How far the picture moves *as a whole* between two fields of one parity still
tells them apart: a repeated field sits within a few hundredths of a pixel of its first copy, a film
frame's step moves by the camera's motion, measured to a few hundredths over the whole field (seed
1107's dark 1.4 px-a-frame pan: repeats 0.02-0.08 px, steps 0.58-0.82 px, at the decision raster).

``motion_pulldown`` measures that motion (phase correlation, ``cv2.phaseCorrelate`` with a Hann window)
for the same-parity comparisons in and around the uncertain fields only (a partial decode of the
decision fields; nothing where every field is certain) and turns it into pulldown evidence, which
``pipeline.analyse`` adds to those comparisons before deciding again. Within ``CadenceParams.motion_window``
comparisons each side, the second least motion is a repeat's level (telecined film repeats a field every
five) and the median a step's; on a log scale a comparison at the step level says
``+motion_gain`` ("not a repeat"), at the repeat level ``-motion_gain``, halfway nothing. Where the two
levels are less than ``motion_separation`` apart (no motion to see: a still, a frozen or a fading
picture, or video, where nothing repeats) or the correlation peak is low (two pictures: a cut, a
dissolve), it says nothing. Applied to every field (a first version), the same evidence misplaced
confident decisions elsewhere (a false cut, a film pairing), so it is confined to where the first
decision was a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from remaster_core.conform.cadence import CadenceParams

_MIN_SIZE = 8  # fields smaller than this (either side) give no motion


def comparisons_to_measure(uncertain: np.ndarray, n_fields: int, window: int) -> np.ndarray:
    """(N-2,) bool: the same-parity comparisons (field i against i+2) to measure: those touching an
    uncertain field (``uncertain``: (N,) bool) and ``window`` + 2 comparisons each side of them, which
    give the levels to judge them against."""
    n = max(n_fields - 2, 0)
    touch = np.zeros(n, bool)
    if n == 0:
        return touch
    idx = np.nonzero(uncertain)[0]
    for i in idx:
        touch[max(0, i - 2) : min(n, i + 1)] = True  # comparisons i-2 -> i and i -> i+2
    spread = window + 2
    kernel = np.ones(2 * spread + 1, np.int64)
    return np.convolve(touch.astype(np.int64), kernel, mode="same") > 0


def field_motion(fields: Iterable[np.ndarray], wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far the picture moves from field i to field i+2 for the ``wanted`` comparisons ((N-2,) bool).

    Args:
        fields: the decision fields (``fields.decision_luma``: (h, w) float32) in temporal order; read
            only up to the last one a wanted comparison needs.
        wanted: (N-2,) bool.

    Returns:
        (shift, response), each (N-2,) float32: the length of the phase correlation peak's offset in
        px of the decision raster, and the peak's height (about 1 for one picture moved, near 0 for two
        pictures); NaN and 0 where not measured (not wanted, too small, flat, or not decoded).
    """
    n = wanted.shape[0]
    shift = np.full(n, np.nan, np.float32)
    response = np.zeros(n, np.float32)
    idx = np.nonzero(wanted)[0]
    if idx.size == 0:
        return shift, response
    last = int(idx[-1]) + 2
    needed = np.zeros(n + 2, bool)
    needed[idx] = True
    needed[idx + 2] = True
    kept: dict[int, np.ndarray] = {}
    windows: dict[tuple[int, int], np.ndarray] = {}
    for i, field in enumerate(fields):
        if i > last:
            break
        if needed[i]:
            kept[i] = np.ascontiguousarray(field, dtype=np.float32)
        j = i - 2
        if j >= 0 and wanted[j] and j in kept:
            a, b = kept[j], kept[i]
            h, w = a.shape
            if a.shape == b.shape and h >= _MIN_SIZE and w >= _MIN_SIZE:
                if (h, w) not in windows:
                    windows[(h, w)] = cv2.createHanningWindow((w, h), cv2.CV_32F)
                (dx, dy), peak = cv2.phaseCorrelate(a, b, windows[(h, w)])
                if np.isfinite(dx) and np.isfinite(dy) and np.isfinite(peak):
                    shift[j], response[j] = np.hypot(dx, dy), peak
        kept.pop(j, None)  # field i-2 has served both its comparisons
    return shift, response


def motion_pulldown(
    shift: np.ndarray, response: np.ndarray, touched: np.ndarray, params: CadenceParams
) -> np.ndarray:
    """(N-2,) float32 pulldown evidence from the motion (> 0: field i+2 is not a repeat of field i), for
    the comparisons in ``touched`` ((N-2,) bool) and 0 elsewhere; ``shift``, ``response`` as
    ``field_motion`` gives them (NaN: not measured, says nothing and sets no level). See the module
    docstring."""
    p = params
    n = shift.shape[0]
    out = np.zeros(n, np.float32)
    eps = p.motion_eps
    trusted = np.isfinite(shift) & (response >= p.motion_min_response)
    for i in np.nonzero(touched & trusted)[0]:
        lo, hi = max(0, i - p.motion_window), min(n, i + p.motion_window + 1)
        near = shift[lo:hi][trusted[lo:hi]]
        if near.size < 5:  # two repeats and a few steps at least
            continue
        low = float(np.log(np.partition(near, 1)[1] + eps))  # the second least: one outlier is noise
        high = float(np.log(np.median(near) + eps))
        span = high - low
        if span < np.log(p.motion_separation):
            continue
        level = (2.0 * np.log(float(shift[i]) + eps) - low - high) / span
        out[i] = np.float32(np.clip(p.motion_gain * level, -p.clip, p.clip_not_repeat))
    return out
