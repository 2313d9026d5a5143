"""The cadence's second look: how far the picture moves between same-parity fields tells a repeat from
a film frame's step where a dark, slow picture leaves combing and repeats in the coding noise."""

from __future__ import annotations

import cv2
import numpy as np

from remaster_core.conform.cadence import CadenceParams
from remaster_core.conform.motion import (
    FieldMotion,
    comparisons_to_measure,
    field_motion,
    motion_comb,
    motion_pulldown,
)
from tests.conform import _picture

H, W = 120, 176  # a decision field


def _dark_pan_fields(sources: list[int], speed: float, seed: int = 0) -> list[np.ndarray]:
    """Decision-like fields (H, W) float32: a photograph at a tenth of its level (a dark shot) panned by
    ``speed`` px a film frame, field k showing film frame ``sources[k]``, with coding-like noise."""
    rng = np.random.default_rng(seed)
    pic = cv2.cvtColor(_picture("coffee"), cv2.COLOR_RGB2GRAY) * np.float32(0.1)
    out = []
    for k, s in enumerate(sources):
        m = np.float32([[1, 0, 20 + speed * s], [0, 1, 20 + (k % 2) * 0.5]])
        view = cv2.warpAffine(pic, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        out.append((view + rng.normal(0, 0.5, view.shape)).astype(np.float32))
    return out


def _pulldown_sources(n_frames: int) -> list[int]:
    """Film frame of each field of a 3:2 pulldown (3, 2, 3, 2 fields a frame)."""
    return [f for k in range(n_frames) for f in [k] * (3 if k % 2 == 0 else 2)]


def test_comparisons_to_measure_cover_the_uncertain_fields_and_their_window() -> None:
    uncertain = np.zeros(40, bool)
    uncertain[20] = True
    touched = comparisons_to_measure(uncertain, 40, 0)
    assert np.nonzero(touched)[0].tolist() == [16, 17, 18, 19, 20, 21, 22]  # 18 -> 20 and 20 -> 22, +-2
    wanted = comparisons_to_measure(uncertain, 40, 7)
    assert wanted[18 - 9] and wanted[20 + 9] and not wanted[18 - 10] and not wanted[20 + 10]
    assert not comparisons_to_measure(np.zeros(40, bool), 40, 7).any()
    short = np.zeros(8, bool)  # a reel shorter than the window
    short[3] = True
    assert comparisons_to_measure(short, 8, 7).tolist() == [True] * 6
    assert comparisons_to_measure(np.ones(2, bool), 2, 7).shape == (0,)


def test_field_motion_tells_a_repeat_from_a_step_in_a_dark_slow_pan() -> None:
    sources = _pulldown_sources(12)
    fields = _dark_pan_fields(sources, speed=1.2)
    wanted = np.ones(len(fields) - 2, bool)
    wanted[:3] = False
    motion = field_motion(iter(fields), wanted)
    shift, response = motion.shift, motion.response
    assert np.isnan(shift[:3]).all() and (response[:3] == 0).all() and np.isnan(motion.across_dy[:3]).all()
    repeat = np.array([sources[i] == sources[i + 2] for i in range(len(fields) - 2)])
    measured = wanted & np.isfinite(shift)
    assert measured.sum() == wanted.sum()
    assert shift[measured & repeat].max() < 0.15
    assert shift[measured & ~repeat].min() > 0.9
    assert (response[measured] > 0.3).all()
    # the next field, of the other parity: the half line (0.5 px here; phase correlation reads it
    # 0.1-0.2 px off) alone within a film frame
    one = np.array([sources[i] == sources[i + 1] for i in range(len(fields) - 2)])
    residual = np.hypot(motion.across_dx, np.abs(motion.across_dy) - 0.5)
    assert residual[measured & one].max() < 0.3 and residual[measured & ~one].min() > 0.9  # 0.1-0.2: bias


def _motion(shift: np.ndarray, dx: np.ndarray, dy: np.ndarray, response: float = 1.0) -> FieldMotion:
    n = shift.shape[0]
    return FieldMotion(
        shift.astype(np.float32), np.full(n, response, np.float32), dx.astype(np.float32),
        dy.astype(np.float32), np.full(n, response, np.float32),
    )  # fmt: skip


def test_motion_pulldown_says_repeat_and_step_and_nothing_without_motion() -> None:
    p = CadenceParams()
    sources = _pulldown_sources(16)
    n = len(sources) - 2
    repeat = np.array([sources[i] == sources[i + 2] for i in range(n)])
    shift = np.where(repeat, 0.05, 1.2)
    none = np.zeros(n)
    touched = np.ones(n, bool)
    ev = motion_pulldown(_motion(shift, none, none), touched, p)
    assert (ev[repeat] < -1.5).all() and (ev[~repeat] > 1.5).all()
    assert not motion_pulldown(_motion(shift, none, none), np.zeros(n, bool), p).any()  # only where asked
    # a still picture (nothing moves but the noise) and two pictures (a low peak) say nothing
    assert not motion_pulldown(_motion(np.full(n, 0.05), none, none), touched, p).any()
    assert not motion_pulldown(_motion(shift, none, none, response=0.1), touched, p).any()
    # not measured: no evidence, no level
    gaps = shift.copy()
    gaps[::2] = np.nan
    ev = motion_pulldown(_motion(gaps, none, none), touched, p)
    assert (ev[::2] == 0).all()


def test_motion_comb_says_one_moment_or_two_past_the_half_line() -> None:
    """The pair of fields i, i+1 differs by the half line between the parities (+-0.6 px here, its sign
    alternating with i) and, across two film frames, by the camera's step (1 px across)."""
    p = CadenceParams()
    sources = _pulldown_sources(16)
    n = len(sources) - 2
    repeat = np.array([sources[i] == sources[i + 2] for i in range(n)])
    one = np.array([sources[i] == sources[i + 1] for i in range(n)])
    half = np.where(np.arange(n) % 2 == 0, -0.6, 0.6)
    motion = _motion(np.where(repeat, 0.05, 1.0), np.where(one, 0.02, 1.0), half + 0.01)
    ev = motion_comb(motion, np.ones(n + 1, bool), p)
    assert ev.shape == (n + 1,) and ev[-1] == 0
    assert (ev[:n][one] < -1.5).all() and (ev[:n][~one] > 1.5).all()
    assert not motion_comb(motion, np.zeros(n + 1, bool), p).any()
    # nothing moves: no levels, nothing said
    still = _motion(np.full(n, 0.05), np.full(n, 0.02), half)
    assert not motion_comb(still, np.ones(n + 1, bool), p).any()


def test_motion_comb_takes_the_half_line_from_the_pairs_inside_a_run() -> None:
    """A step with a vertical part moves the pairs across two film frames off the half line: 2 in 5
    pairs of a parity (more past an edit that leaves a lone field) sit there, and the median of a
    parity's pairs falls between the two (stress seeds 1167, 1168). The pairs either side of a repeat
    are one moment and give the half line."""
    p = CadenceParams()
    counts = [3, 2, 3, 2, 3, 2, 1, 2, 3, 2, 3, 2, 3]  # an edit after the telecine leaves a lone field
    frames = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14]
    sources = np.array([f for f, c in zip(frames, counts, strict=True) for _ in range(c)])
    n = len(sources) - 2
    step = (sources[2:] - sources[:-2]).astype(np.float64)
    across = (sources[1 : n + 1] - sources[:n]).astype(np.float64)
    half = np.where(np.arange(n) % 2 == 0, -0.6, 0.6)
    motion = _motion(np.where(step == 0, 0.05, step), 0.3 * across + 0.01, half + 0.95 * across)
    ev = motion_comb(motion, np.ones(n + 1, bool), p)[:n]
    one = across == 0
    assert (ev[one] < -1.5).all() and (ev[~one & (ev != 0)] > 1.5).all()
    assert (ev[:-2] != 0).all()  # the last pairs have a single one-moment pair of their parity in reach
