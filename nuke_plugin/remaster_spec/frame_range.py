"""Frame ranges: the one grammar of a list of frame numbers written as text, declared once.

Standard library only, Python 3.7+: this module is imported both by ``remaster_core`` (installed with
the package as ``remaster_spec``: ``remaster render --frames``, the worker) and by the Nuke plugin
(``nuke_plugin/`` is on Nuke's plugin path, so ``remaster_spec`` imports there without our binary
dependencies: the ``frames`` knob, ``batch.py --frames``). Errors are ``FrameRangeError`` (a
``ValueError``); each side turns it into its own error type. Test vectors: ``tests/vectors/
frame_ranges.json``.

Grammar::

    range  := item (sep item)*          leading and trailing white space ignored
    sep    := white space, or one comma with optional white space around it
    item   := frame | frame "-" frame | frame "-" frame "x" step
    frame  := ["-"] digits              0-9 only; at most 9 significant digits
    step   := digits                    1 or more

- Nuke's form (``1-10 20 30-40x2``), the render managers' form (``1-10,20``) and a mix
  (``1-10, 20 30-40x2``) all read the same.
- ``a-b`` is every frame from a to b, both included; ``a-bxN`` is a, a+N, a+2N, ... up to b (b included
  when it falls on the step).
- Negative frames are frame numbers like any other (Nuke allows them): ``-5``, ``-5-5``, ``-10--5``.
  Whether a frame exists is the caller's question (a conform or a video numbers its frames from 0).
- The result is sorted with duplicates removed: ``5 1-3 2`` is ``[1, 2, 3, 5]``.

Refused, with a ``FrameRangeError`` that quotes the text and says what to write:
- empty text, or an empty item (``1,,2``, ``1,``);
- a range that runs backwards (``10-1``): write ``1-10``;
- a step of 0 (``1-10x0``) or a negative one (``1-10x-2``);
- steps written another way than ``x``: ``1-10:2``, ``1-10step2`` and ``1-10by2`` (fileseq reads
  ``:`` as an interleaved order, Deadline ``step``/``by`` as a step: rather than guess, the message
  gives the ``x`` form);
- a frame or step beyond ``MAX_FRAME`` and more than ``MAX_FRAMES`` frames in all (a typo such as
  ``1-999999999999`` must not fill the memory); every item is counted before it is expanded;
- anything else (``1-a``, ``1.5``, ``1 - 5``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence


class FrameRangeError(ValueError):
    """A frame range (or list of frame numbers) that cannot be read; the message quotes it and says
    what to write."""


MAX_FRAMES = 10000000
"""The most frames a range may hold (over 100 hours at 24 fps): more is a typo, not a shot."""
MAX_FRAME = 999999999
"""The largest frame number (and step), in absolute value: 9 digits."""

_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_ITEM = re.compile(r"(-?[0-9]+)(?:-(-?[0-9]+)(?:x([0-9]+))?)?")
_OTHER_STEP = re.compile(r"(-?[0-9]+-(?:-?[0-9]+))(?::|step|by)([0-9]+)")
_EXAMPLE = "write N, A-B or A-BxSTEP, separated by spaces or commas (e.g. 1-10 20 30-40x2)"


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _number(digits: str, text: str, item: str) -> int:
    if len(digits.lstrip("-").lstrip("0")) > len(str(MAX_FRAME)):
        raise FrameRangeError(
            f"frame range {_shown(text)}: a number in {_shown(item)} is too large; frame numbers and steps "
            f"are at most {MAX_FRAME}"
        )
    return int(digits)


def parse_frame_range(text: str) -> list[int]:
    """The frame numbers of ``text`` (see the module docstring), sorted, without duplicates.

    ``"1-10 20"`` -> ``[1, ..., 10, 20]``; ``"1001-1005x2,1010"`` -> ``[1001, 1003, 1005, 1010]``.

    Raises:
        FrameRangeError: text the grammar refuses; the message quotes ``text`` and says what to write.
    """
    stripped = text.strip()
    if not stripped:
        raise FrameRangeError(
            f"empty frame range {_shown(text)}; give e.g. 1001-1100, 1001-1100x2 or 1-10 20 30-40x2"
        )
    frames: set[int] = set()
    count = 0
    for item in _SEPARATOR.split(stripped):
        m = _ITEM.fullmatch(item)
        if m is None:
            other = _OTHER_STEP.fullmatch(item)
            if other is not None:
                raise FrameRangeError(
                    f"frame range {_shown(text)}: cannot read {_shown(item)}; write the step with x: "
                    f"{other.group(1)}x{other.group(2)}"
                )
            what = _shown(item) if item else "an empty item (two commas in a row, or one at an end)"
            raise FrameRangeError(f"frame range {_shown(text)}: cannot read {what}; {_EXAMPLE}")
        first = _number(m.group(1), text, item)
        last = _number(m.group(2), text, item) if m.group(2) is not None else first
        step = _number(m.group(3), text, item) if m.group(3) is not None else 1
        if last < first:
            raise FrameRangeError(
                f"frame range {_shown(text)}: {_shown(item)} runs backwards; write {last}-{first}"
            )
        if step == 0:
            raise FrameRangeError(
                f"frame range {_shown(text)}: step 0 in {_shown(item)}; the step must be 1 or more"
            )
        count += (last - first) // step + 1
        if count > MAX_FRAMES:
            raise FrameRangeError(
                f"frame range {_shown(text)} has more than {MAX_FRAMES} frames; is it a typo?"
            )
        frames.update(range(first, last + 1, step))
    return sorted(frames)


def format_frame_range(frames: Sequence[int]) -> str:
    """Write frame numbers compactly, the inverse of ``parse_frame_range``.

    Consecutive runs become ``a-b``, runs of 3 or more at a constant step ``a-bxN``, the rest single
    numbers, joined by commas: ``[1, 2, 3, 5, 7, 9, 20]`` -> ``"1-3,5-9x2,20"``. ``[]`` -> ``""``.
    """
    values = sorted(set(frames))
    parts: list[str] = []
    i = 0
    while i < len(values):
        if i + 1 == len(values):
            parts.append(str(values[i]))
            break
        step = values[i + 1] - values[i]
        j = i + 1
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        if step == 1:
            parts.append(f"{values[i]}-{values[j]}")
        elif j - i >= 2:
            parts.append(f"{values[i]}-{values[j]}x{step}")
        else:  # two frames far apart: the second may start a run of its own
            parts.append(str(values[i]))
            j = i
        i = j + 1
    return ",".join(parts)


def check_frame_numbers(frames: Sequence[int], what: str) -> list[int]:
    """``frames`` (a list given as numbers, not text) sorted, without duplicates, within the bounds
    of a frame range (``MAX_FRAME``, ``MAX_FRAMES``).

    Raises:
        FrameRangeError: a frame number out of bounds or too many frames; the message names ``what``.
    """
    values = sorted(set(frames))
    if len(values) > MAX_FRAMES:
        raise FrameRangeError(f"{what}: {len(values)} frames, more than {MAX_FRAMES}; is it a typo?")
    outside = [f for f in (values[:1] + values[-1:]) if abs(f) > MAX_FRAME]
    if outside:
        raise FrameRangeError(
            f"{what}: frame {outside[0]} is out of range; frame numbers are at most {MAX_FRAME}"
        )
    return values
