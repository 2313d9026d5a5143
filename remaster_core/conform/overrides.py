"""Match override file (TIVTC-style): a person corrects the cadence decision for ranges of fields.

Format: plain text, one override per line, ``#`` starts a comment, blank lines are ignored. Field
numbers are positions in the broadcast's field stream from 0 (field 2k is the first field in time of
video frame k, field 2k+1 its second), exactly as ``conform.json`` lists them under ``frames``.
Ranges are inclusive; a single field may be given as ``fields 57``.

::

    # field 120 is the first field of an "A" film frame (cadence phase 0: At Ab Bt Bb Bt Cb Ct Db Dt Db,
    # phases 0..9); the 3:2 cadence runs on unbroken from there to field 139
    fields 120-139 phase 0
    # 2:3:3:2 pulldown (At Ab Bt Bb Bt Cb Ct Cb Dt Db, phases 0..9) from field 400
    fields 400-459 phase 0 2:3:3:2
    # video-originated: deinterlace, 29.97 -> 23.976 by dropping one frame in five
    fields 300-359 video
    # film: never treat these fields as video
    fields 360-999 film

``phase P`` pins field A of the range to phase P of 3:2 pulldown (``phase P 2:3:3:2``: of 2:3:3:2)
and every later field of the range to the next phase; P must have the parity of A (even phases are
first fields). Later lines win where ranges
overlap. The decision then runs as usual around the pinned fields, so a correction in one place
does not disturb the rest of the reel. The fields a frame was built from, and its phase, are in
``conform.json`` and the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from remaster_core.conform.cadence import PATTERNS, PHASES, STATES, VIDEO, state_of
from remaster_core.errors import InputError
from remaster_core.io.frame_range import MAX_FRAMES

Action = Literal["phase", "video", "film"]
MAX_FIELD = 2 * MAX_FRAMES
"""The largest field number an override may name (two fields a frame, ``MAX_FRAMES`` frames)."""
MAX_BYTES = 16 << 20
"""The largest override file read."""
_LINE = re.compile(
    r"fields\s+(\d+)(?:\s*-\s*(\d+))?\s+(phase\s+(\d+)(?:\s+(3:2|2:3:3:2))?|video|film)", re.IGNORECASE
)


@dataclass(frozen=True)
class Override:
    """One line of an override file: fields ``first..last`` (inclusive) get ``action``."""

    first: int
    last: int
    action: Action
    phase: int | None = None
    line: int = 0
    pattern: str = PATTERNS[0]


def parse_overrides(text: str, source: str = "<overrides>") -> list[Override]:
    """Parse override text (see the module docstring). ``InputError`` names the line of a bad entry."""
    out: list[Override] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise InputError(
                f"{source}, line {number}: cannot read {raw.strip()!r}; write e.g. 'fields 120-139 phase 0', "
                "'fields 300-359 video' or 'fields 360-999 film'"
            )
        for number_text in (m.group(1), m.group(2)):
            if number_text is not None and (len(number_text) > 12 or int(number_text) > MAX_FIELD):
                raise InputError(
                    f"{source}, line {number}: field {number_text[:20]}{'...' if len(number_text) > 20 else ''} "
                    f"is past any broadcast (fields are numbered 0..{MAX_FIELD})"
                )
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise InputError(f"{source}, line {number}: the range {first}-{last} runs backwards")
        if m.group(4) is not None:
            if len(m.group(4)) > 2 or int(m.group(4)) >= PHASES:
                raise InputError(f"{source}, line {number}: phase {m.group(4)[:20]} does not exist (0..9)")
            phase = int(m.group(4))
            if phase % 2 != first % 2:
                raise InputError(
                    f"{source}, line {number}: field {first} is a {'first' if first % 2 == 0 else 'second'} "
                    f"field, so its phase must be {'even' if first % 2 == 0 else 'odd'}, not {phase}"
                )
            out.append(Override(first, last, "phase", phase, number, m.group(5) or PATTERNS[0]))
        else:
            out.append(Override(first, last, m.group(3).lower(), None, number))  # type: ignore[arg-type]
    return out


def read_overrides(path: str | Path) -> list[Override]:
    """Read and parse an override file; ``InputError`` if it is missing or malformed."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(
                f"{path}: an override file of {path.stat().st_size} bytes; the limit is {MAX_BYTES}"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the override file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: the override file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    return parse_overrides(text, str(path))


def allowed_states(overrides: list[Override], n_fields: int) -> np.ndarray | None:
    """The (N, STATES) bool mask of states each field may take, or None when there are no overrides.

    Ranges beyond the stream's end are cut to it (``InputError`` if one starts past the end).
    """
    if not overrides:
        return None
    allowed = np.ones((n_fields, STATES), dtype=bool)
    for o in overrides:
        if o.first >= n_fields:
            raise InputError(
                f"override line {o.line}: field {o.first} is past the end of the broadcast ({n_fields} fields)"
            )
        last = min(o.last, n_fields - 1)
        rows = np.arange(o.first, last + 1)
        if o.action == "video":
            allowed[rows] = False
            allowed[rows, VIDEO] = True
        elif o.action == "film":
            allowed[rows] = True
            allowed[rows, VIDEO] = False
        else:
            assert o.phase is not None
            allowed[rows] = False
            allowed[rows, state_of(0, o.pattern) + (o.phase + rows - o.first) % PHASES] = True
    return allowed
