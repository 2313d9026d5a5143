"""The frame range of a shot entry in ``conform.json`` and ``align.json``, checked once for both readers.

Standard library only, Python 3.7+: used by ``remaster_core.manifests`` and by the Nuke plugin's checks
(``remaster_nuke/manifests.py``). Errors are raised through the ``Where`` given (see
``remaster_spec.manifest_fields``), so each reader raises its own type with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remaster_spec.manifest_fields import Where, integer, items, required


def conform_shot_range(where: Where, d: Mapping[str, Any], frame_count: int) -> tuple[int, int]:
    """A conform shot's ``first`` and ``last`` (inclusive): conformed frames, ``first <= last``."""
    first = integer(where.at("first"), required(where, d, "first"), 0, frame_count - 1)
    last = integer(where.at("last"), required(where, d, "last"), 0, frame_count - 1)
    if last < first:
        where.at("last").fail(f"must be at least first ({first}), got {last}")
    return first, last


def film_jumps(
    where: Where, value: Any, first: int, last: int, film_first: int | None
) -> tuple[tuple[int, int], ...]:
    """A conform shot's ``film_jumps``: ``[[frame, film], ...]``, where an edit made after the telecine
    dropped film frames inside the shot: from conformed frame ``frame`` (``first < frame <= last``,
    increasing) the shot shows film index ``film`` and on, beyond where the film before it would have
    run (``film_index``). Absent or null: none. A shot without film has none."""
    if value is None:
        return ()
    listed = items(where, value)
    if film_first is None:
        if listed:
            where.fail("is given for a shot without film (film_first is null)")
        return ()
    out: list[tuple[int, int]] = []
    for k, item in enumerate(listed):
        at = where.at(k)
        pair = items(at, item)
        if len(pair) != 2:
            at.fail(f"must be [frame, film index], got {len(pair)} values")
        frame = integer(at.at(0), pair[0], first + 1, last)
        film = integer(at.at(1), pair[1], None)
        if out and frame <= out[-1][0]:
            at.at(0).fail(f"must be after the previous jump's frame ({out[-1][0]}), got {frame}")
        before = film_index((film_first, first), tuple(out), frame)
        if film <= before:
            at.at(1).fail(f"must be past the film index the shot would show there ({before}), got {film}")
        out.append((frame, film))
    return tuple(out)


def film_index(start: tuple[int, int], jumps: tuple[tuple[int, int], ...], frame: int) -> int:
    """The film index a shot shows at conformed ``frame``: ``start`` = (film_first, first) and on,
    one film frame per conformed frame, restarting at each of ``jumps`` (``film_jumps``) at or before it."""
    film, at = start
    for j_frame, j_film in jumps:
        if j_frame <= frame:
            film, at = j_film, j_frame
    return film + (frame - at)


def align_shot_range(where: Where, d: Mapping[str, Any]) -> tuple[int, int, int | None, int | None]:
    """An align shot's ``(first, last, broadcast_first, broadcast_last)``.

    ``first..last`` are the shot's conformed frames (each falls back on its ``broadcast_`` key when
    absent, as files written before those keys existed have them); ``broadcast_first..broadcast_last``,
    each optional, is the part with pairs and lies inside it.
    """
    bf, bl = d.get("broadcast_first"), d.get("broadcast_last")
    b_first = None if bf is None else integer(where.at("broadcast_first"), bf)
    b_last = None if bl is None else integer(where.at("broadcast_last"), bl)
    if "first" not in d and b_first is None:
        where.at("first").fail("is missing")
    if "last" not in d and b_last is None:
        where.at("last").fail("is missing")
    first = integer(where.at("first"), d["first"]) if "first" in d else b_first
    last = integer(where.at("last"), d["last"]) if "last" in d else b_last
    assert first is not None and last is not None
    if last < first:
        where.at("last").fail(f"must be at least first ({first}), got {last}")
    if b_first is not None and not first <= b_first <= last:
        where.at("broadcast_first").fail(f"must be within first..last ({first}..{last}), got {b_first}")
    low = b_first if b_first is not None else first
    if b_last is not None and not low <= b_last <= last:
        where.at("broadcast_last").fail(f"must be within broadcast_first..last ({low}..{last}), got {b_last}")
    return first, last, b_first, b_last
