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

``field_motion`` measures that motion (phase correlation, ``cv2.phaseCorrelate`` with a Hann window)
from each field to the next two, in and around the uncertain fields only (a partial decode of the
decision fields; nothing where every field is certain); ``motion_pulldown`` turns the same-parity motion
into pulldown evidence (is field i+2 a repeat of field i) and ``motion_comb`` the motion to the next
field, less the half line between the parities, into comb evidence (are fields i and i+1 one moment:
where an edit leaves a lone field, which field goes with which is a question no repeat answers, seed
1088), which ``pipeline.analyse`` adds to those comparisons before deciding again. Within
``CadenceParams.motion_window`` comparisons each side, the second least motion is a repeat's level
(telecined film repeats a field every five) and the median a step's; on a log scale a comparison at the
step level says ``+motion_gain`` ("not a repeat"), at the repeat level ``-motion_gain``, halfway
nothing. Where the two levels are less than ``motion_separation`` apart (no motion to see: a still, a
frozen or a fading picture, or video, where nothing repeats) or the correlation peak is low (two
pictures: a cut, a dissolve), it says nothing. Applied to every field (a first version), the same
evidence misplaced confident decisions elsewhere (a false cut, a film pairing), so it is confined to
where the first decision was a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.conform.cadence import CadenceParams

_MIN_SIZE = 8  # fields smaller than this (either side) give no motion


def comparisons_to_measure(uncertain: np.ndarray, n_fields: int, window: int) -> np.ndarray:
    """(N-2,) bool: the same-parity comparisons (field i against i+2) to measure: for each uncertain
    field u (``uncertain``: (N,) bool) those from u-2, u-1 and u (the two that hold it and the one that
    spans it), and ``window`` + 2 comparisons each side of them, which give the levels to judge them
    against."""
    n = max(n_fields - 2, 0)
    touch = np.zeros(n, bool)
    if n == 0:
        return touch
    idx = np.nonzero(uncertain)[0]
    for i in idx:
        touch[max(0, i - 2) : min(n, i + 1)] = True  # i-2 -> i, i-1 -> i+1, i -> i+2
    spread = window + 2
    wanted = np.zeros(n, bool)
    for i in np.nonzero(touch)[0]:
        wanted[max(0, i - spread) : i + spread + 1] = True
    return wanted


@dataclass(frozen=True)
class FieldMotion:
    """How far the picture moves between fields, measured by phase correlation (``field_motion``), in px
    of the decision raster; NaN (and a response of 0) where not measured.

    Attributes:
        shift: (N-2,) float32, from field i to field i+2 (same parity): the offset's length.
        response: (N-2,) float32, that correlation peak's height (about 1 for one picture moved, near 0
            for two pictures).
        across_dx, across_dy: (N-2,) float32, the offset from field i to field i+1 (the other parity,
            so it holds the half line between the two parities besides any motion).
        across_response: (N-2,) float32, that peak's height.
    """

    shift: np.ndarray
    response: np.ndarray
    across_dx: np.ndarray
    across_dy: np.ndarray
    across_response: np.ndarray


def field_motion(fields: Iterable[np.ndarray], wanted: np.ndarray) -> FieldMotion:
    """How far the picture moves from field i to fields i+1 and i+2, for the ``wanted`` i ((N-2,) bool).

    Args:
        fields: the decision fields (``fields.decision_luma``: (h, w) float32) in temporal order; read
            only up to the last one a wanted comparison needs.
        wanted: (N-2,) bool.
    """
    n = wanted.shape[0]
    out = FieldMotion(*(np.full(n, np.nan, np.float32) for _ in range(5)))
    out.response[:] = 0.0
    out.across_response[:] = 0.0
    idx = np.nonzero(wanted)[0]
    if idx.size == 0:
        return out
    last = int(idx[-1]) + 2
    needed = np.zeros(n + 2, bool)
    for step in (0, 1, 2):
        needed[idx + step] = True
    kept: dict[int, np.ndarray] = {}
    windows: dict[tuple[int, int], np.ndarray] = {}

    def correlate(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float] | None:
        h, w = a.shape
        if a.shape != b.shape or h < _MIN_SIZE or w < _MIN_SIZE:
            return None
        if (h, w) not in windows:
            windows[(h, w)] = cv2.createHanningWindow((w, h), cv2.CV_32F)
        (dx, dy), peak = cv2.phaseCorrelate(a, b, windows[(h, w)])
        return (dx, dy, peak) if np.isfinite(dx) and np.isfinite(dy) and np.isfinite(peak) else None

    for i, field in enumerate(fields):
        if i > last:
            break
        if needed[i]:
            kept[i] = np.ascontiguousarray(field, dtype=np.float32)
        for j, same in ((i - 2, True), (i - 1, False)):
            if j < 0 or j >= n or not wanted[j] or j not in kept or i not in kept:
                continue
            found = correlate(kept[j], kept[i])
            if found is None:
                continue
            dx, dy, peak = found
            if same:
                out.shift[j], out.response[j] = np.hypot(dx, dy), peak
            else:
                out.across_dx[j], out.across_dy[j], out.across_response[j] = dx, dy, peak
        kept.pop(i - 2, None)  # field i-2 has served all its comparisons
    return out


def _levels(
    shift: np.ndarray, trusted: np.ndarray, i: int, params: CadenceParams
) -> tuple[float, float] | None:
    """log(repeat level + eps), log(step level + eps) of the same-parity motion within
    ``motion_window`` of comparison ``i``, or None where they are not ``motion_separation`` apart."""
    p = params
    n = shift.shape[0]
    lo, hi = max(0, i - p.motion_window), min(n, i + p.motion_window + 1)
    near = shift[lo:hi][trusted[lo:hi]]
    if near.size < 5:  # two repeats and a few steps at least
        return None
    low = float(np.log(np.partition(near, 1)[1] + p.motion_eps))  # the second least: one outlier is noise
    high = float(np.log(np.median(near) + p.motion_eps))
    return (low, high) if high - low >= np.log(p.motion_separation) else None


def _said(value: float, levels: tuple[float, float], params: CadenceParams) -> np.float32:
    """Evidence (> 0: a step) of a motion ``value`` px against the (log) repeat and step levels."""
    low, high = levels
    level = (2.0 * np.log(value + params.motion_eps) - low - high) / (high - low)
    return np.float32(np.clip(params.motion_gain * level, -params.clip, params.clip_not_repeat))


def motion_pulldown(motion: FieldMotion, touched: np.ndarray, params: CadenceParams) -> np.ndarray:
    """(N-2,) float32 pulldown evidence from the motion (> 0: field i+2 is not a repeat of field i), for
    the comparisons in ``touched`` ((N-2,) bool) and 0 elsewhere (see the module docstring); a
    comparison not measured says nothing and sets no level."""
    shift = motion.shift
    out = np.zeros(shift.shape[0], np.float32)
    trusted = np.isfinite(shift) & (motion.response >= params.motion_min_response)
    for i in np.nonzero(touched & trusted)[0].tolist():
        levels = _levels(shift, trusted, i, params)
        if levels is not None:
            out[i] = _said(float(shift[i]), levels, params)
    return out


def _repeats(motion: FieldMotion, params: CadenceParams) -> np.ndarray:
    """(N-2,) bool: the comparisons whose motion is nearer (on a log scale) the repeat level than the
    step level, ``motion_pulldown``'s evidence below 0 wherever there is motion: field i+2 repeats
    field i."""
    return motion_pulldown(motion, np.ones(motion.shift.shape[0], bool), params) < 0


def motion_comb(motion: FieldMotion, touched: np.ndarray, params: CadenceParams) -> np.ndarray:
    """(N-1,) float32 comb evidence from the motion (> 0: fields i and i+1 are two moments), for the
    pairs in ``touched`` ((N-1,) bool) and 0 elsewhere. Two fields of one film frame differ by the half
    line between the parities alone; two film frames also by the camera's step. The half line is taken
    from the stretch itself: the median vertical offset of the pairs that start on the same parity
    within ``motion_window`` and are known to be one moment, those inside a 3-field run (fields i, i+1
    and i+1, i+2 where field i+2 repeats field i by its motion, ``_repeats``); at least two of them, or
    nothing is said. What is left is judged against the same-parity repeat and step levels as
    ``motion_pulldown`` judges a repeat (looked-at seed 1088's edit leaving a lone field in a dark pan
    at 1 px a frame: one moment 0.04-0.1 px, two 0.3-0.45). The median of all the pairs of a parity
    is no half line: 2 in 5 of them are run boundaries (two moments), more where an edit leaves a lone
    field, and within a window of 7 the median fell between the two (stress seeds 1167 and 1168: an
    edit's lone field, or a run, misplaced by it)."""
    p = params
    n = motion.shift.shape[0]
    out = np.zeros(n + 1, np.float32)
    trusted = np.isfinite(motion.shift) & (motion.response >= p.motion_min_response)
    across = np.isfinite(motion.across_dy) & (motion.across_response >= p.motion_min_response)
    repeats = _repeats(motion, p)
    inside = repeats.copy()  # pairs inside a 3-field run: i, i+1 and i+1, i+2 around a repeat i -> i+2
    inside[1:] |= repeats[:-1]
    parity = np.arange(n) % 2
    for i in np.nonzero(touched[:n] & across)[0].tolist():
        levels = _levels(motion.shift, trusted, i, p)
        lo, hi = max(0, i - p.motion_window), min(n, i + p.motion_window + 1)
        alike = across[lo:hi] & inside[lo:hi] & (parity[lo:hi] == parity[i])
        if levels is None or alike.sum() < 2:
            continue
        half_line = float(np.median(motion.across_dy[lo:hi][alike]))
        residual = float(np.hypot(motion.across_dx[i], motion.across_dy[i] - half_line))
        out[i] = _said(residual, levels, p)
    return out
