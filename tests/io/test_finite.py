"""Non-finite pixels are counted by kind (NaN, +Inf, -Inf) and located, in one message shape."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.io.finite import check_finite, describe_nonfinite


def test_nan_and_both_infinities_are_counted_apart_and_the_first_is_located() -> None:
    frame = np.full((6, 8, 3), 0.5, np.float32)
    assert describe_nonfinite(frame) is None
    frame[2, 5, 1] = -np.inf
    frame[4, 0, 0] = -np.inf
    frame[3, 3, 2] = np.nan
    frame[5, 7, 0] = np.inf
    assert describe_nonfinite(frame) == "1 NaN, 1 +Inf and 2 -Inf values (first at y=2, x=5, channel G)"
    batch = np.stack([np.zeros_like(frame), frame])
    assert (
        describe_nonfinite(batch) == "1 NaN, 1 +Inf and 2 -Inf values (first at frame 1, y=2, x=5, channel G)"
    )
    assert describe_nonfinite(np.zeros((2, 2, 3), np.uint16)) is None  # integer pixels are always finite


def test_check_finite_names_where_and_the_fix() -> None:
    frame = np.zeros((2, 2, 3), np.float16)
    check_finite(frame, "plate.0001.exr", "fix it")
    frame[1, 1, 2] = -np.inf
    with pytest.raises(
        InputError, match=r"^plate\.0001\.exr holds 0 NaN, 0 \+Inf and 1 -Inf values .*; fix it$"
    ):
        check_finite(frame, "plate.0001.exr", "fix it")
