"""Frame ranges for ``remaster_core``: the one grammar, declared in ``remaster_spec.frame_range``.

The grammar (Nuke's ``1-10 20 30-40x2``, the render managers' ``1-10,20``, bounds, what is refused)
is documented and implemented once in ``remaster_spec/frame_range.py`` (standard library only, shared
with the Nuke plugin). This module gives it to ``remaster_core`` with the project's error type:
a range that cannot be read raises ``InputError`` (exit code 2) with the grammar's message.
"""

from __future__ import annotations

from collections.abc import Sequence

from remaster_spec import frame_range as _grammar
from remaster_spec.frame_range import MAX_FRAME, MAX_FRAMES, format_frame_range

from remaster_core.errors import InputError

__all__ = ["MAX_FRAME", "MAX_FRAMES", "check_frame_numbers", "format_frame_range", "parse_frame_range"]


def parse_frame_range(text: str) -> list[int]:
    """The frame numbers of ``text``, sorted, without duplicates (see ``remaster_spec.frame_range``).

    Raises:
        InputError: text the grammar refuses; the message quotes ``text`` and says what to write.
    """
    try:
        return _grammar.parse_frame_range(text)
    except _grammar.FrameRangeError as exc:
        raise InputError(str(exc)) from None


def check_frame_numbers(frames: Sequence[int], what: str) -> list[int]:
    """``frames`` sorted, without duplicates, within the grammar's bounds.

    Raises:
        InputError: a frame number out of bounds or too many frames; the message names ``what``.
    """
    try:
        return _grammar.check_frame_numbers(frames, what)
    except _grammar.FrameRangeError as exc:
        raise InputError(str(exc)) from None
