"""Detail energy in textured regions (remaster_core.look.detail): blur lowers it, grain does not count."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remaster_core.look import score_sequences
from tests.look import SIZE, photo, white_grain


def _reference() -> np.ndarray:
    return photo()[:SIZE, :SIZE]


def test_an_identical_render_has_all_the_detail() -> None:
    film = _reference()
    detail = score_sequences([film], [film]).detail
    assert detail.reason is None and detail.textured_tiles > 5  # the astronaut's suit, flag, face
    assert detail.energy.ratio == pytest.approx(1.0, abs=1e-12)


def test_a_blurred_render_has_less_detail_the_more_it_is_blurred() -> None:
    film = _reference()
    ratios = []
    for sigma in (0.5, 1.0, 2.0, 3.0):
        render = cv2.GaussianBlur(film, (0, 0), sigma)
        detail = score_sequences([render], [film]).detail
        assert detail.energy.ratio is not None
        ratios.append(detail.energy.ratio)
        for channel in detail.channels:
            assert channel.ratio is not None and channel.ratio < 1.0
    assert 1.0 > ratios[0] > ratios[1] > ratios[2] > ratios[3] > 0.0
    assert ratios[0] > 0.7 and ratios[3] < 0.2  # a slight softening costs little, a heavy one most


def test_grain_is_taken_out_of_the_detail() -> None:
    """The same picture with twice the film's grain has the film's detail; a blurred one with the
    film's grain still has less."""
    rng = np.random.default_rng(4)
    film = _reference()
    reference = [film + white_grain(rng, 0.01) for _ in range(3)]
    grainier = score_sequences([film + white_grain(rng, 0.02) for _ in range(3)], reference).detail
    assert grainier.grain_subtracted
    assert grainier.energy.ratio == pytest.approx(1.0, abs=0.1)
    soft = cv2.GaussianBlur(film, (0, 0), 1.5)
    blurred = score_sequences([soft + white_grain(rng, 0.01) for _ in range(3)], reference).detail
    assert blurred.energy.ratio is not None and blurred.energy.ratio < 0.6


def test_a_flat_reference_has_no_detail_to_compare_to() -> None:
    flat = np.full((128, 128, 3), 0.4, np.float32)
    detail = score_sequences([flat], [flat]).detail
    assert detail.textured_tiles == 0 and detail.energy.ratio is None
    assert detail.reason is not None and "no textured region" in detail.reason
