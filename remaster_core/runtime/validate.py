"""Check frames before they reach the model: dtype, shape, channels, NaN/Inf, value range.

Every refusal is an ``InputError`` that names the frame (the caller's ``where``: a file and frame
number) and says what to do. Superwhites slightly above 1 are fine; values far outside the model's
range mean the frame was not normalised (8-bit code values, scene-linear light) and would give garbage.
"""

from __future__ import annotations

import math

import numpy as np

from remaster_core.errors import InputError
from remaster_core.io.finite import describe_nonfinite

SANE_BELOW = 0.5
"""How far below the model's range (in units of its span) a value may go: -0.5 for 0..1."""
SANE_ABOVE = 3.0
"""How far above the top of the model's range (in units of its span) a value may go: 4.0 for 0..1."""


def sane_range(value_range: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """The (low, high) values accepted for a model reading ``value_range`` (-0.5..4 for 0..1)."""
    lo, hi = value_range
    span = hi - lo
    return lo - SANE_BELOW * span, hi + SANE_ABOVE * span


def check_frames(
    frame: object, *, min_size: int, where: str = "frame", value_range: tuple[float, float] = (0.0, 1.0)
) -> tuple[np.ndarray, bool]:
    """Validate one frame (H, W, 3) or a batch (N, H, W, 3) of RGB code values in ``value_range``.

    Args:
        frame: float32 or float16 array, RGB in the last axis.
        min_size: the smallest H and W the model accepts.
        where: names the frame in messages (e.g. ``"plate.1001.exr"``).
        value_range: the range the frame's values are meant to be in (0..1).

    Returns:
        (frames, single): frames as a float32 (N, H, W, 3) array (a view when already float32),
        and whether the input was a single (H, W, 3) frame.

    Raises:
        InputError: wrong type/dtype/shape/channel count, too small, NaN/Inf, or values out of range.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{where}: expected a numpy array (H, W, 3) float32 RGB, got {type(frame).__name__}")
    if frame.dtype not in (np.float32, np.float16):
        if np.issubdtype(frame.dtype, np.integer):
            top = np.iinfo(frame.dtype).max
            raise InputError(
                f"{where}: frame is {frame.dtype} (integer code values); the model takes float32 RGB "
                f"0..1: normalise it first, e.g. frame.astype(np.float32) / {top}"
            )
        raise InputError(
            f"{where}: frame dtype is {frame.dtype}; the engine takes float32 (or float16) RGB 0..1: "
            "convert it with frame.astype(np.float32)"
        )
    if frame.ndim not in (3, 4):
        raise InputError(
            f"{where}: frame has shape {frame.shape}; expected (H, W, 3) or a batch (N, H, W, 3), RGB last"
        )
    channels = frame.shape[-1]
    if channels != 3:
        if channels == 4:
            hint = "it has 4 channels (RGBA?): split the alpha off (frame[..., :3]) and re-attach it after"
        elif channels == 1:
            hint = (
                "it has 1 channel: repeat it to RGB (np.repeat(frame, 3, axis=-1)) or run a greyscale model"
            )
        elif frame.shape[0] == 3 or (frame.ndim == 4 and frame.shape[1] == 3):
            hint = "the channels look first (C, H, W): transpose to (H, W, 3)"
        else:
            hint = f"it has {channels} channels: split the channels first and pass RGB only"
        raise InputError(f"{where}: frame has shape {frame.shape}; the model takes 3 channels (RGB): {hint}")
    single = frame.ndim == 3
    frames = frame[None] if single else frame
    n, height, width = frames.shape[:3]
    if n < 1 or height < min_size or width < min_size:
        raise InputError(
            f"{where}: frame is {width}x{height} (batch {n}); the model needs at least {min_size}x{min_size} "
            "pixels and one frame"
        )
    frames = frames.astype(np.float32, copy=False)
    # min and max propagate NaN and show Inf: one cheap pass each; the detailed count only on failure
    vmin, vmax = float(frames.min()), float(frames.max())
    if not (math.isfinite(vmin) and math.isfinite(vmax)):
        found = describe_nonfinite(frames[0] if single else frames)
        raise InputError(
            f"{where}: frame contains {found}; fix the source or the step that made it (a division by zero?)"
        )
    low, high = sane_range(value_range)
    if vmin < low or vmax > high:
        outside = int(np.count_nonzero((frames < low) | (frames > high)))
        raise InputError(
            f"{where}: {outside} values outside {low:g}..{high:g} (min {vmin:g}, max {vmax:g}); the model "
            f"takes RGB code values {value_range[0]:g}..{value_range[1]:g} (superwhites a little above "
            "are fine): was the frame normalised (8-bit / 255, 16-bit / 65535), or is it scene-linear? "
            "Convert it to display-referred code values first"
        )
    return frames, single
