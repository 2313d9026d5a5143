"""The field checks of the manifest readers, declared once: one JSON value in, a typed value out, or an error.

Standard library only, Python 3.7+: used by ``remaster_core.manifests`` (which raises ``InputError``)
and by the Nuke plugin's checks (``remaster_nuke/manifests.py``, which raises ``GeometryError``). Each
side subclasses ``Where`` with its own ``error`` type; every check here takes the ``Where`` of the value
(the file, the field path such as ``shots[3].transform.sx`` and the fix to suggest) and raises that
type, worded as::

    /pairs/align.json: shots[3].transform.sx: must be a positive number, got -1; correct it or re-run remaster align

JSON booleans are never accepted as numbers (``true`` is not 1), numbers must be finite, lists and
strings are bounded. The shared vectors in ``tests/manifests/vectors`` check both readers against them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, ClassVar, NoReturn, TypeVar

from remaster_spec.frame_range import MAX_FRAMES

T = TypeVar("T")
W = TypeVar("W", bound="Where")

MAX_TEXT = 1000000
"""Longest string."""
MAX_DEPTH = 16
"""Deepest nesting of free-form blocks (``params``, ``residuals``)."""


@dataclass(frozen=True)
class Where:
    """Where a value sits: the manifest file, the field path inside it, and what to do about a bad value.

    ``error`` is the exception ``fail`` raises; each reader subclasses ``Where`` to set its own.
    """

    path: str | os.PathLike[str]
    field: str
    fix: str
    error: ClassVar[type[Exception]] = ValueError

    def at(self: W, key: str | int) -> W:  # noqa: PYI019 (typing.Self is Python 3.11+, Nuke has 3.7+)
        """The path of a key (``.key``) or a list item (``[k]``) below this one."""
        if isinstance(key, int):
            return type(self)(self.path, f"{self.field}[{key}]", self.fix)
        return type(self)(self.path, f"{self.field}.{key}" if self.field else key, self.fix)

    def fail(self, problem: str) -> NoReturn:
        """Raise ``error`` for a bad value here: ``PATH: FIELD: PROBLEM; FIX``."""
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        raise self.error(f"{where}{problem}; {self.fix}")


def shown(value: Any) -> str:
    """A value as the message shows it (JSON-like, shortened)."""
    text = (
        "null" if value is None else ("true" if value is True else "false" if value is False else repr(value))
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _span(lo: float | None, hi: float | None) -> str:
    return f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"


def obj(where: Where, value: Any) -> dict[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        where.fail(f"must be an object, got {shown(value)}")
    return value


def required(where: Where, d: Mapping[str, Any], key: str) -> Any:
    """``d[key]``; an error naming ``key`` when it is missing."""
    if key not in d:
        where.at(key).fail("is missing")
    return d[key]


def optional(where: W, value: Any, check: Callable[[W, Any], T]) -> T | None:
    """None for null, else ``check(where, value)``."""
    return None if value is None else check(where, value)


def integer(where: Where, value: Any, lo: int | None = 0, hi: int | None = MAX_FRAMES) -> int:
    """An integer (not a boolean, not 1.5) in ``lo..hi`` (None: unbounded on that side)."""
    if isinstance(value, bool) or not isinstance(value, int):
        where.fail(f"must be an integer, got {shown(value)}")
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        where.fail(f"must be an integer in {_span(lo, hi)}, got {shown(value)}")
    return n


def number(
    where: Where, value: Any, lo: float | None = None, hi: float | None = None, *, positive: bool = False
) -> float:
    """A finite number (not a boolean) in ``lo..hi``; with ``positive``, above 0 as well."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        where.fail(f"must be a {'positive' if positive else 'finite'} number, got {shown(value)}")
    x = float(value)
    if positive and x <= 0:
        where.fail(f"must be a positive number, got {shown(value)}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        where.fail(f"must be a number in {_span(lo, hi)}, got {shown(value)}")
    return x


def string(where: Where, value: Any) -> str:
    """A string of at most ``MAX_TEXT`` characters."""
    if not isinstance(value, str):
        where.fail(f"must be a string, got {shown(value)}")
    if len(value) > MAX_TEXT:
        where.fail(f"is {len(value)} characters long, more than {MAX_TEXT}")
    return value


def one_of(where: Where, value: Any, allowed: tuple[str, ...]) -> str:
    """A string among ``allowed`` (a vocabulary of ``remaster_spec.manifest_vocab``)."""
    text = string(where, value)
    if text not in allowed:
        where.fail(f"must be one of {', '.join(allowed)}, got {text!r}")
    return text


def boolean(where: Where, value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        where.fail(f"must be true or false, got {shown(value)}")
    return value


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
        f = None
    if f is None:
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
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(items(where, list(value))):
            json_value(where.at(k), item, depth + 1)
    elif isinstance(value, str):
        string(where, value)
    elif value is not None and not isinstance(value, (bool, int, float)):
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
    folder = os.path.realpath(os.path.dirname(os.path.abspath(where.path)))
    target = os.path.realpath(os.path.join(folder, text))
    if target != folder and not target.startswith(folder.rstrip(os.sep) + os.sep):
        where.fail(f"must stay inside the manifest's folder {folder}, but {shown(text)} leads to {target}")
    return text


def ranges_apart(where: Where, ranges: list[tuple[int, int, int]]) -> None:
    """Check that ``(item, first, last)`` frame ranges do not overlap (in any order)."""
    ordered = sorted(ranges, key=lambda r: (r[1], r[2]))
    for (k0, a0, b0), (k1, a1, b1) in zip(ordered, ordered[1:]):
        if a1 <= b0:
            where.at(k1).fail(f"frames {a1}..{b1} overlap {where.field}[{k0}] (frames {a0}..{b0})")


def version(top: Where, d: Mapping[str, Any], newest: int) -> int:
    """The document's ``version`` (1 when absent); refused when newer than ``newest``, what this reads."""
    found = integer(top.at("version"), d.get("version", 1), 1, None)
    if found > newest:
        top.at("version").fail(f"is {found}, newer than this remaster reads ({newest}); upgrade remaster")
    return found


def load_json(top: Where) -> dict[str, Any]:
    """The JSON object in the file ``top.path``; ``top.fail`` for a missing or unreadable file, bad JSON
    or another JSON value (``PATH: no such file; FIX``)."""
    problem = ""
    try:
        with open(top.path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        problem = "no such file"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        problem = f"cannot read it as JSON ({exc})"
    if problem:
        top.fail(problem)
    if not isinstance(doc, dict):
        top.fail(f"not a JSON object but {type(doc).__name__}")
    return doc
