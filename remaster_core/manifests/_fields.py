"""Checking helpers shared by the manifest readers: one JSON value in, a typed value out, or ``InputError``.

Every helper takes the ``Where`` of the value (the file, the field path such as
``shots[3].transform.sx`` and the fix to suggest) and raises ``InputError`` worded as::

    /pairs/align.json: shots[3].transform.sx: must be a positive number, got -1; correct it or re-run remaster align

JSON booleans are never accepted as numbers (``true`` is not 1), numbers must be finite, lists are
bounded. The Nuke plugin holds the same checks in plain Python (``remaster_nuke/manifests.py``); the
shared vectors in ``tests/manifests/vectors`` keep the two in step.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from remaster_core.errors import InputError
from remaster_core.io.frame_range import MAX_FRAMES
from remaster_core.node_params import MAX_SIDE  # noqa: F401 (re-exported to the manifests)

T = TypeVar("T")

# MAX_SIDE (largest raster width or height, the node's) and MAX_FRAMES (largest frame or field count,
# frame index and list length, the frame-range grammar's) are imported above: declared once each.
MAX_TEXT = 1_000_000
"""Longest string."""
MAX_DEPTH = 16
"""Deepest nesting of free-form blocks (``params``, ``residuals``)."""


@dataclass(frozen=True)
class Where:
    """Where a value sits: the manifest file, the field path inside it, and what to do about a bad value."""

    path: Path
    field: str
    fix: str

    def at(self, key: str | int) -> Where:
        """The path of a key (``.key``) or a list item (``[k]``) below this one."""
        if isinstance(key, int):
            return Where(self.path, f"{self.field}[{key}]", self.fix)
        return Where(self.path, f"{self.field}.{key}" if self.field else key, self.fix)

    def fail(self, problem: str) -> NoReturn:
        """Raise the ``InputError`` for a bad value here."""
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        raise InputError(f"{where}{problem}; {self.fix}")


def shown(value: Any) -> str:
    """A value as the message shows it (JSON-like, shortened)."""
    text = (
        "null" if value is None else ("true" if value is True else "false" if value is False else repr(value))
    )
    return text if len(text) <= 60 else text[:57] + "..."


def obj(where: Where, value: Any) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        where.fail(f"must be an object, got {shown(value)}")
    return value


def required(where: Where, d: Mapping[str, Any], key: str) -> Any:
    """``d[key]``; ``InputError`` naming ``key`` when it is missing."""
    if key not in d:
        where.at(key).fail("is missing")
    return d[key]


def integer(where: Where, value: Any, lo: int | None = 0, hi: int | None = MAX_FRAMES) -> int:
    """An integer (not a boolean, not 1.5) in ``lo..hi`` (None: unbounded on that side)."""
    if isinstance(value, bool) or not isinstance(value, int):
        where.fail(f"must be an integer, got {shown(value)}")
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        span = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        where.fail(f"must be an integer in {span}, got {shown(value)}")
    return n


def number(
    where: Where, value: Any, lo: float | None = None, hi: float | None = None, *, positive: bool = False
) -> float:
    """A finite number (not a boolean) in ``lo..hi``; with ``positive``, above 0 as well."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        where.fail(f"must be a {'positive' if positive else 'finite'} number, got {shown(value)}")
    x = float(value)
    if positive and x <= 0:
        where.fail(f"must be a positive number, got {shown(value)}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        span = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        where.fail(f"must be a number in {span}, got {shown(value)}")
    return x


def string(where: Where, value: Any) -> str:
    """A string of at most ``MAX_TEXT`` characters."""
    if not isinstance(value, str):
        where.fail(f"must be a string, got {shown(value)}")
    if len(value) > MAX_TEXT:
        where.fail(f"is {len(value)} characters long, more than {MAX_TEXT}")
    return value


def boolean(where: Where, value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        where.fail(f"must be true or false, got {shown(value)}")
    return value


def optional(where: Where, value: Any, check: Callable[[Where, Any], T]) -> T | None:
    """None for null, else ``check(where, value)``."""
    return None if value is None else check(where, value)


def items(where: Where, value: Any, max_len: int = MAX_FRAMES) -> list[Any]:
    """A JSON list of at most ``max_len`` items."""
    if not isinstance(value, list):
        where.fail(f"must be a list, got {shown(value)}")
    if len(value) > max_len:
        where.fail(f"has {len(value)} items, more than {max_len}")
    return value


def int_list(
    where: Where, value: Any, lo: int | None = 0, hi: int | None = MAX_FRAMES, *, increasing: bool = False
) -> tuple[int, ...]:
    """A list of integers in ``lo..hi`` (strictly increasing with ``increasing``)."""
    out = tuple(integer(where.at(k), v, lo, hi) for k, v in enumerate(items(where, value)))
    if increasing:
        for k in range(1, len(out)):
            if out[k] <= out[k - 1]:
                where.at(k).fail(f"must be larger than the item before it ({out[k - 1]}), got {out[k]}")
    return out


def fraction(where: Where, value: Any) -> str:
    """A positive rational written as text ("24000/1001", "8/9", "1"), up to 1000; returned as given."""
    text = string(where, value)
    try:
        f = Fraction(text)
    except (ValueError, ZeroDivisionError):
        where.fail(f'must be a positive fraction such as "24000/1001", got {shown(value)}')
    if not 0 < f <= 1000:
        where.fail(f"must be a positive fraction up to 1000, got {shown(value)}")
    return text


def json_value(where: Where, value: Any, depth: int = 0) -> Any:
    """Any JSON value (for free-form blocks), nested at most ``MAX_DEPTH`` deep; returned as is."""
    if depth > MAX_DEPTH:
        where.fail(f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            json_value(where.at(str(key)), item, depth + 1)
    elif isinstance(value, list | tuple):
        for k, item in enumerate(items(where, list(value))):
            json_value(where.at(k), item, depth + 1)
    elif isinstance(value, str):
        string(where, value)
    elif value is not None and not isinstance(value, bool | int | float):
        where.fail(f"must be a JSON value, got {shown(value)}")
    return value


def relative_path(where: Where, value: Any) -> str:
    """A path relative to the manifest's folder that stays inside it (symlinks resolved); returned as given.

    Absolute paths, drive letters and ``..`` escapes are refused: a manifest names only files it sits
    beside, so a copied or moved folder keeps working and a hand edit cannot point a reader elsewhere.
    """
    text = string(where, value)
    if not text.strip():
        where.fail("must be a path relative to the manifest's folder, got an empty string")
    if os.path.isabs(text) or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        where.fail(f"must be a path relative to the manifest's folder, got the absolute path {shown(text)}")
    folder = where.path.parent.resolve()
    target = (folder / text).resolve()
    if target != folder and folder not in target.parents:
        where.fail(f"must stay inside the manifest's folder {folder}, but {shown(text)} leads to {target}")
    return text


def ranges_apart(where: Where, ranges: list[tuple[int, int, int]]) -> None:
    """Check that ``(item, first, last)`` frame ranges do not overlap (in any order)."""
    ordered = sorted(ranges, key=lambda r: (r[1], r[2]))
    for (k0, a0, b0), (k1, a1, b1) in itertools.pairwise(ordered):
        if a1 <= b0:
            where.at(k1).fail(f"frames {a1}..{b1} overlap {where.field}[{k0}] (frames {a0}..{b0})")


def load_json(path: Path, fix: str) -> Mapping[str, Any]:
    """The JSON object in ``path``; ``InputError`` (naming the file and ``fix``) for an unreadable file,
    bad JSON or another JSON value."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; {fix}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc}); {fix}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a JSON object but {type(doc).__name__}; {fix}")
    return doc
