"""Steadiness (remaster_core.look.steadiness): a flickering render against a steady one with the same motion.

The reference: a photograph panned 2 px right and 1 px down per frame (whole pixels: crops of one
picture, so no resampling differs between frames) with independent grain (std 0.01) each frame. Its
own change after motion compensation is its low-passed grain, about 0.01 / (2 sqrt(pi) 2) * sqrt(2)
= 0.002 code values RMS. A steady render (same motion, its own grain of the same strength) changes as
much: ratio 1, within the spread of two grain draws and of the flow (10%). A render whose gain wobbles
by +-3% frame to frame (a mean level near 0.4, so a change of about 0.024 RMS) is ten times less steady;
+-1% about four times.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from remaster_core.look import score_sequences
from remaster_core.synth.scenes import GrainParams, add_grain, load_picture, render_view
from tests.look import SIZE, photo, white_grain

FRAMES = 6


def _pan() -> list[np.ndarray]:
    big = photo()
    return [big[t : t + SIZE, 2 * t : 2 * t + SIZE] for t in range(FRAMES)]


def test_flicker_is_less_steady_than_the_film_and_a_steady_render_as_steady() -> None:
    rng = np.random.default_rng(5)
    frames = _pan()
    reference = [f + white_grain(rng, 0.01) for f in frames]
    steady = score_sequences([f + white_grain(rng, 0.01) for f in frames], reference).steadiness
    assert steady.reason is None and steady.pairs == FRAMES - 1 and steady.skipped == 0
    assert steady.change.reference == pytest.approx(0.002, rel=0.5)
    assert steady.change.ratio == pytest.approx(1.0, abs=0.1)
    ratios = {}
    for wobble in (0.01, 0.03):
        gains = [np.float32(1 + wobble * (-1) ** t) for t in range(FRAMES)]
        flicker = [(f + white_grain(rng, 0.01)) * g for f, g in zip(frames, gains, strict=True)]
        result = score_sequences(flicker, reference).steadiness
        assert result.change.ratio is not None
        ratios[wobble] = result.change.ratio
    assert ratios[0.01] > 2.5 and ratios[0.03] > 6.0 and ratios[0.03] > 2 * ratios[0.01]


def test_grain_as_strong_as_the_films_reads_as_steady_as_the_film() -> None:
    """A photograph panned 1 px a frame (resampled, as a camera move is) under film grain (``remaster
    synth``'s, 1 px, std 0.015), the render's grain drawn afresh: the flow computed on the grainy
    reference follows its grain a little, and warping by it cancelled part of the reference's own grain
    change (this perfect grain synthesis read 1.14 on both draws). Following the global motion where the
    flow does not move on its own, it reads within 5 % of 1 (1.016)."""
    picture = load_picture("motorcycle")
    h, w = picture.shape[:2]
    clean = [render_view(picture, (w / 2 + t, h / 2), 1.0, (SIZE, SIZE)) for t in range(FRAMES)]
    stock = GrainParams(amplitude=0.015, size=1.0, colour=0.3, floor=1.0, peak=0.5)
    for seed in range(2):
        reference = [add_grain(c, np.random.default_rng([seed, 1, k]), stock) for k, c in enumerate(clean)]
        render = [add_grain(c, np.random.default_rng([seed, 2, k]), stock) for k, c in enumerate(clean)]
        ratio = score_sequences(render, reference).steadiness.change.ratio
        assert ratio == pytest.approx(1.0, abs=0.05), (seed, ratio)


def test_an_object_moving_on_its_own_is_followed_and_its_flicker_found() -> None:
    """A picture (128 px) moving 6 px a frame over a still background under film grain: its flow is far
    off the global motion and is followed, so a render with the grain drawn afresh reads as steady as
    the film (1.03), and one whose moving object alone flickers by +-3 % reads less steady (1.25)."""
    background = cv2.resize(load_picture("coffee"), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    thing = cv2.resize(load_picture("astronaut"), (128, 128), interpolation=cv2.INTER_AREA)
    stock = GrainParams(amplitude=0.015, size=1.0, colour=0.3, floor=1.0, peak=0.5)

    def frame(t: int, gain: float = 1.0) -> np.ndarray:
        out = background.astype(np.float32).copy()
        out[128:256, 40 + 6 * t : 168 + 6 * t] = thing * np.float32(gain)
        return out

    def grainy(pictures: list[np.ndarray], draw: int) -> list[np.ndarray]:
        return [add_grain(f, np.random.default_rng([draw, k]), stock) for k, f in enumerate(pictures)]

    reference = grainy([frame(t) for t in range(FRAMES)], 1)
    steady = score_sequences(grainy([frame(t) for t in range(FRAMES)], 2), reference).steadiness
    flicker = grainy([frame(t, 1 + 0.03 * (-1) ** t) for t in range(FRAMES)], 2)
    flickering = score_sequences(flicker, reference).steadiness
    assert steady.change.ratio == pytest.approx(1.0, abs=0.06)
    assert flickering.change.ratio > 1.15


def test_a_single_flicker_is_found_as_the_worst_pair() -> None:
    rng = np.random.default_rng(6)
    frames = _pan()
    reference = [f + white_grain(rng, 0.01) for f in frames]
    render = [f + white_grain(rng, 0.01) for f in frames]
    render[3] = render[3] * np.float32(1.05)  # one bright frame: pairs 2-3 and 3-4 change
    result = score_sequences(render, reference).steadiness
    assert result.worst_pair in (2, 3) and result.worst_ratio is not None and result.worst_ratio > 5


def test_a_cut_is_skipped_not_scored() -> None:
    rng = np.random.default_rng(7)
    frames = _pan()
    other = np.ascontiguousarray(np.rot90(photo(), 2)[:SIZE, :SIZE])  # another shot after frame 2
    frames = frames[:3] + [other, other]
    reference = [f + white_grain(rng, 0.01) for f in frames]
    render = [f + white_grain(rng, 0.01) for f in frames]
    result = score_sequences(render, reference).steadiness
    assert result.skipped == 1 and result.pairs == 3
    assert result.change.ratio == pytest.approx(1.0, abs=0.15)


def test_one_frame_or_a_still_noiseless_reference_gives_a_reason_not_a_number() -> None:
    frame = _pan()[0]
    one = score_sequences([frame], [frame])
    assert one.steadiness.change.ratio is None and "at least two" in str(one.steadiness.reason)
    still = score_sequences([frame] * 3, [frame] * 3)
    assert still.steadiness.change.ratio is None and "no measurable frame-to-frame change" in str(
        still.steadiness.change.reason
    )
    for report in (one, still):
        json.dumps(report.to_dict(), allow_nan=False)
