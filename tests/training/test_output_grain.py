"""The part of a large frame the output's grain is measured on: where its target has flat tiles."""

from __future__ import annotations

import numpy as np

from remaster_core.look.regions import LookParams
from training.output_grain import MAX_SIDE, _window


def test_the_window_goes_where_the_target_is_flat() -> None:
    """A 2K-like frame, textured but for a flat sky in its top right corner: the window covers it."""
    h, w = 1200, 1800
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    picture = 0.5 + 0.2 * np.sin(xx / 3.0) * np.sin(yy / 3.0)
    picture[:400, 1300:] = 0.3  # the sky
    target = np.repeat(picture[..., None], 3, axis=2)
    rows, cols = _window(target, LookParams())
    assert rows.stop - rows.start == MAX_SIDE and cols.stop - cols.start == MAX_SIDE
    assert rows.start == 0 and cols.start >= 1280 and cols.stop <= w
    # a frame smaller than the window is taken whole; one smaller than a tile too
    small = target[:300, :400]
    assert _window(small, LookParams()) == (slice(0, 300), slice(0, 400))
    assert _window(target[:40, :40], LookParams()) == (slice(0, 40), slice(0, 40))


def test_each_sampled_frame_is_measured_with_the_one_before_it_in_its_shot() -> None:
    from dataclasses import dataclass
    from pathlib import Path

    from training.grain import predecessors

    @dataclass(frozen=True)
    class Pair:
        shot: int
        frame: int
        target: Path

    frames = [Pair(0, 10, Path("a")), Pair(0, 11, Path("b")), Pair(0, 13, Path("c")), Pair(2, 14, Path("d"))]
    before = predecessors(frames)
    assert before == {(0, 11): frames[0]}  # 13 follows a gap, 10 and 14 begin their shots
