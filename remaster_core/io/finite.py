"""Non-finite pixels (NaN, +Inf, -Inf): counted apart and named in one message, wherever frames are checked.

A float file (EXR, float TIFF) can hold NaN and infinities; no step of remaster can use them (a bilinear
resample turns an infinity into NaN, a least-squares fit fails on either). Readers that hand frames to
an algorithm check them with ``check_finite``; ``describe_nonfinite`` is the message's body, shared so
that every report counts the three kinds the same way.
"""

from __future__ import annotations

import numpy as np

from remaster_core.errors import InputError


def describe_nonfinite(pixels: np.ndarray) -> str | None:
    """``"576 NaN, 0 +Inf and 12 -Inf values (first at y=0, x=0, channel R)"``, or None when every value
    of ``pixels`` is finite.

    Args:
        pixels: float array (H, W, C) or a batch (N, H, W, C); the first non-finite value is located by
            its frame (batches only), row, column and channel (R, G, B, A, or the channel's index).
    """
    values = np.asarray(pixels)
    if not np.issubdtype(values.dtype, np.floating):
        return None
    # min and max propagate NaN and show infinities: one cheap pass each, the counts only on failure
    if values.size == 0 or np.isfinite(values.min()) and np.isfinite(values.max()):
        return None
    nan = int(np.count_nonzero(np.isnan(values)))
    pos = int(np.count_nonzero(values == np.inf))
    neg = int(np.count_nonzero(values == -np.inf))
    first = [int(v) for v in np.argwhere(~np.isfinite(values))[0]]
    names = "RGBA" if values.shape[-1] <= 4 else ""
    channel = names[first[-1]] if names else str(first[-1])
    where = [f"frame {first[0]}"] if values.ndim == 4 else []
    if values.ndim >= 3:
        where += [f"y={first[-3]}", f"x={first[-2]}", f"channel {channel}"]
    else:
        where += [f"index {tuple(first)}"]
    return f"{nan} NaN, {pos} +Inf and {neg} -Inf values (first at {', '.join(where)})"


def check_finite(pixels: np.ndarray, where: str, fix: str) -> None:
    """Raise ``InputError`` ``"<where> holds <counts>; <fix>"`` when ``pixels`` hold NaN or infinities.

    Args:
        pixels: the frame (H, W, C) or batch (N, H, W, C) as read.
        where: the file or frame the pixels came from (the message starts with it).
        fix: what the user does about it, e.g. ``"re-run remaster conform"``.
    """
    found = describe_nonfinite(pixels)
    if found is not None:
        raise InputError(f"{where} holds {found}; {fix}")
