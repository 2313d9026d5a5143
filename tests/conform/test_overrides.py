"""The match override file: its format, its errors, and the states it allows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remaster_core.conform.cadence import STATES, VIDEO
from remaster_core.conform.overrides import allowed_states, parse_overrides, read_overrides
from remaster_core.errors import InputError


def test_parse_all_actions_with_comments() -> None:
    text = "# fix the cut\nfields 120-139 phase 0   # A frame\n\nfields 300-359 video\nFIELDS 7 film\n"
    got = parse_overrides(text)
    assert [(o.first, o.last, o.action, o.phase, o.line) for o in got] == [
        (120, 139, "phase", 0, 2),
        (300, 359, "video", None, 4),
        (7, 7, "film", None, 5),
    ]


@pytest.mark.parametrize(
    "line, words",
    [
        ("fields 10-5 film", "backwards"),
        ("fields 11-20 phase 0", "phase must be odd"),
        ("fields 10-20 phase 12", "does not exist"),
        ("frame 57 = fields 284,285", "cannot read"),
    ],
)
def test_bad_lines_name_the_line(line: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as exc:
        parse_overrides("# ok\n" + line, "fix.txt")
    assert "fix.txt, line 2" in str(exc.value)


def test_allowed_states_masks() -> None:
    mask = allowed_states(parse_overrides("fields 2-5 phase 2\nfields 8-9 video\nfields 10 film"), 12)
    assert mask is not None and mask.shape == (12, STATES)
    assert [int(np.flatnonzero(mask[i])[0]) for i in range(2, 6)] == [2, 3, 4, 5]
    assert mask[2].sum() == 1 and mask[0].all()
    assert mask[8, VIDEO] and mask[8].sum() == 1
    assert not mask[10, VIDEO] and mask[10].sum() == STATES - 1
    assert allowed_states([], 12) is None
    with pytest.raises(InputError, match="past the end"):
        allowed_states(parse_overrides("fields 40-50 film"), 12)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the override file"):
        read_overrides(tmp_path / "nope.txt")


def test_a_phase_of_2332_pulldown_can_be_pinned() -> None:
    from remaster_core.conform.cadence import pattern_of, phase_of

    (o,) = parse_overrides("fields 4-7 phase 4 2:3:3:2")
    assert (o.phase, o.pattern) == (4, "2:3:3:2")
    assert parse_overrides("fields 4-7 phase 4")[0].pattern == "3:2"
    mask = allowed_states([o], 10)
    assert mask is not None
    pinned = [int(np.flatnonzero(mask[i])[0]) for i in range(4, 8)]
    assert all(mask[i].sum() == 1 for i in range(4, 8))
    assert [phase_of(s) for s in pinned] == [4, 5, 6, 7] and {pattern_of(s) for s in pinned} == {"2:3:3:2"}
