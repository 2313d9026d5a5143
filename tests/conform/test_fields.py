"""Field measures: combing of woven pairs and repeats, on pictures with known motion."""

from __future__ import annotations

import numpy as np

from remaster_core.conform.fields import decision_luma, measure_fields, weave_rows, weave_zigzag, zigzag


def _texture(rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """A (96, 128) float32 picture with detail at many scales, shifted right by ``shift`` px."""
    import cv2

    base = rng.normal(0, 1, (96, 160)).astype(np.float32)
    base = cv2.GaussianBlur(base, (0, 0), 2.0) * 400 + 128
    m = np.float32([[1, 0, shift], [0, 1, 0]])
    return cv2.warpAffine(base, m, (160, 96), flags=cv2.INTER_CUBIC)[:, 16:144]


def test_weave_zigzag_equals_zigzag_of_the_woven_frame() -> None:
    rng = np.random.default_rng(0)
    a, b = _texture(rng), _texture(rng, 3.0)
    top, bottom = a[0::2], b[1::2]
    assert np.isclose(weave_zigzag(top, bottom), zigzag(weave_rows(top, bottom, True)), rtol=1e-5)


def test_two_moments_comb_more_than_one() -> None:
    rng = np.random.default_rng(1)
    frame = _texture(rng)
    moved = _texture(np.random.default_rng(1), 2.0)
    same = weave_zigzag(frame[0::2], frame[1::2])
    mixed = weave_zigzag(frame[0::2], moved[1::2])
    assert mixed > 3 * same
    # a progressive picture combs less when woven than inside one of its fields (lines twice as far)
    assert same < zigzag(frame[0::2])


def test_measure_fields_shapes_and_repeats() -> None:
    rng = np.random.default_rng(2)
    frames = [_texture(rng, 1.5 * k) for k in range(3)]
    # fields: A top, A bottom, B top, B bottom, B top (the repeat), C bottom
    fields = [
        frames[0][0::2],
        frames[0][1::2],
        frames[1][0::2],
        frames[1][1::2],
        frames[1][0::2],
        frames[2][1::2],
    ]
    m = measure_fields(fields, "top")
    assert m.field_count == 6 and m.comb.shape == (5,) and m.dup.shape == (4,) and m.intra.shape == (6,)
    assert m.dup[2] == 0.0  # field 4 repeats field 2 exactly
    assert m.dup[0] > 1.0 and m.dup[3] > 1.0
    assert m.comb[1] > 2 * max(m.comb[0], m.comb[2])  # A bottom | B top: two moments


def test_decision_luma_scales_ten_bit_codes() -> None:
    y10 = np.full((4, 8), 940, np.uint16)
    y8 = decision_luma(y10, bit_depth=10)
    assert y8.shape == (4, 4) and y8.dtype == np.float32 and np.allclose(y8, 235.0)
