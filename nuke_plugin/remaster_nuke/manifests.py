"""The checks of align.json and conform.json, in plain Python (the plugin does not import remaster_core).

The same rules as ``remaster_core.manifests``, field by field and in the same order, so both refuse the
same files and name the same field: types (no booleans for numbers, finite numbers), ranges (frame
indices, raster sizes up to ``MAX_SIDE``, positive scales, bounded lists), shots that do not overlap,
and frame patterns relative to the manifest's folder that stay inside it (symlinks resolved). A bad
file raises ``GeometryError``::

    /pairs/align.json: shots[3].transform.sx: must be a positive number, got -1; correct it or re-run remaster align

The shared vectors in ``tests/manifests/vectors`` check that this module and remaster_core agree.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from typing import Any, Callable

MAX_SIDE = 16384
MAX_FRAMES = 10000000
MAX_TEXT = 1000000
MAX_DEPTH = 16
ALIGN_VERSION = 1
CONFORM_VERSION = 1
ALIGN_FIX = "correct it or re-run remaster align"
CONFORM_FIX = "correct it or re-run remaster conform"
STATUSES = ("aligned", "rejected", "no film")
FRAME_KINDS = ("film", "orphan", "video", "progressive")
BUILDS = ("woven", "merged", "copy", "rebuilt", "orphan", "deinterlaced")
PULLDOWNS = ("3:2", "2:3:3:2")
FIELD_ORDERS = ("progressive", "tff", "bff")
INPUT_KINDS = ("ivtc", "progressive24", "flagged_progressive30")
MAX_FIELDS_PER_FRAME = 16
PAR_RANGE = (0.25, 4.0)
MAX_COORD = 1e6
MAX_SCALE = 1e4
MAX_K1 = 1.0


class GeometryError(ValueError):
    """An align.json or conform.json the plugin cannot use; the message names the file (and field)."""


class Where:
    """The manifest file, the field path inside it and the fix to suggest."""

    def __init__(self, path: str, field: str, fix: str) -> None:
        self.path = path
        self.field = field
        self.fix = fix

    def at(self, key: Any) -> Where:
        if isinstance(key, int):
            return Where(self.path, f"{self.field}[{key}]", self.fix)
        return Where(self.path, f"{self.field}.{key}" if self.field else str(key), self.fix)

    def fail(self, problem: str) -> GeometryError:
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        return GeometryError(f"{where}{problem}; {self.fix}")


def _shown(value: Any) -> str:
    if value is None:
        text = "null"
    elif value is True:
        text = "true"
    elif value is False:
        text = "false"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _span(lo: Any, hi: Any) -> str:
    return "{a}..{b}".format(a=lo if lo is not None else "-inf", b=hi if hi is not None else "inf")


def obj(where: Where, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.fail("must be an object, got " + _shown(value))
    return value


def required(where: Where, d: dict[str, Any], key: str) -> Any:
    if key not in d:
        raise where.at(key).fail("is missing")
    return d[key]


def integer(where: Where, value: Any, lo: int | None = 0, hi: int | None = MAX_FRAMES) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.fail("must be an integer, got " + _shown(value))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise where.fail(f"must be an integer in {_span(lo, hi)}, got {_shown(value)}")
    return int(value)


def number(
    where: Where, value: Any, lo: float | None = None, hi: float | None = None, positive: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        kind = "positive" if positive else "finite"
        raise where.fail(f"must be a {kind} number, got {_shown(value)}")
    x = float(value)
    if positive and x <= 0:
        raise where.fail("must be a positive number, got " + _shown(value))
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise where.fail(f"must be a number in {_span(lo, hi)}, got {_shown(value)}")
    return x


def string(where: Where, value: Any) -> str:
    if not isinstance(value, str):
        raise where.fail("must be a string, got " + _shown(value))
    if len(value) > MAX_TEXT:
        raise where.fail(f"is {len(value)} characters long, more than {MAX_TEXT}")
    return value


def boolean(where: Where, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.fail("must be true or false, got " + _shown(value))
    return value


def items(where: Where, value: Any, max_len: int = MAX_FRAMES) -> list[Any]:
    if not isinstance(value, list):
        raise where.fail("must be a list, got " + _shown(value))
    if len(value) > max_len:
        raise where.fail(f"has {len(value)} items, more than {max_len}")
    return value


def int_list(
    where: Where, value: Any, lo: int | None = 0, hi: int | None = MAX_FRAMES, increasing: bool = False
) -> list[int]:
    out = [integer(where.at(k), v, lo, hi) for k, v in enumerate(items(where, value))]
    if increasing:
        for k in range(1, len(out)):
            if out[k] <= out[k - 1]:
                raise where.at(k).fail(f"must be larger than the item before it ({out[k - 1]}), got {out[k]}")
    return out


def fraction(where: Where, value: Any) -> str:
    text = string(where, value)
    try:
        f = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise where.fail('must be a positive fraction such as "24000/1001", got ' + _shown(value)) from None
    if not 0 < f <= 1000:
        raise where.fail("must be a positive fraction up to 1000, got " + _shown(value))
    return text


def json_value(where: Where, value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise where.fail(f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            json_value(where.at(str(key)), item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(items(where, list(value))):
            json_value(where.at(k), item, depth + 1)
    elif isinstance(value, str):
        string(where, value)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise where.fail("must be a JSON value, got " + _shown(value))
    return value


def relative_path(where: Where, value: Any) -> str:
    """A path relative to the manifest's folder that stays inside it (symlinks resolved)."""
    text = string(where, value)
    if not text.strip():
        raise where.fail("must be a path relative to the manifest's folder, got an empty string")
    if os.path.isabs(text) or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise where.fail(
            "must be a path relative to the manifest's folder, got the absolute path " + _shown(text)
        )
    folder = os.path.realpath(os.path.dirname(os.path.abspath(where.path)))
    target = os.path.realpath(os.path.join(folder, text))
    if target != folder and not target.startswith(folder.rstrip(os.sep) + os.sep):
        raise where.fail(
            f"must stay inside the manifest's folder {folder}, but {_shown(text)} leads to {target}"
        )
    return text


def ranges_apart(where: Where, ranges: list[tuple[int, int, int]]) -> None:
    ordered = sorted(ranges, key=lambda r: (r[1], r[2]))
    for (k0, a0, b0), (k1, a1, b1) in zip(ordered, ordered[1:]):
        if a1 <= b0:
            raise where.at(k1).fail(f"frames {a1}..{b1} overlap {where.field}[{k0}] (frames {a0}..{b0})")


def optional(where: Where, value: Any, check: Callable[[Where, Any], Any]) -> Any:
    return None if value is None else check(where, value)


def _version(top: Where, d: dict[str, Any], newest: int) -> None:
    version = integer(top.at("version"), d.get("version", 1), 1, None)
    if version > newest:
        raise top.at("version").fail(
            f"is {version}, newer than this remaster reads ({newest}); upgrade remaster"
        )


# --------------------------------------------------------------------------------------------- conform


def _conform_shot(where: Where, d: Any, n: int) -> tuple[int, int]:
    d = obj(where, d)
    first = integer(where.at("first"), required(where, d, "first"), 0, n - 1)
    last = integer(where.at("last"), required(where, d, "last"), 0, n - 1)
    if last < first:
        raise where.at("last").fail(f"must be at least first ({first}), got {last}")
    optional(where.at("film_first"), d.get("film_first"), lambda w, v: integer(w, v, -MAX_FRAMES, MAX_FRAMES))
    optional(where.at("match_score"), d.get("match_score"), lambda w, v: number(w, v, -1.0, 1.0))
    optional(where.at("z"), d.get("z"), number)
    return first, last


def _frame_record(where: Where, d: Any, index: int, hi: int) -> None:
    d = obj(where, d)
    got = integer(where.at("index"), required(where, d, "index"))
    if got != index:
        raise where.at("index").fail(f"must be {index} (frames are listed in order from 0), got {got}")
    kind = string(where.at("kind"), required(where, d, "kind"))
    if kind not in FRAME_KINDS:
        raise where.at("kind").fail("must be one of {k}, got {v!r}".format(k=", ".join(FRAME_KINDS), v=kind))
    fields = int_list(where.at("fields"), required(where, d, "fields"), 0, hi)
    if not 1 <= len(fields) <= MAX_FIELDS_PER_FRAME:
        raise where.at("fields").fail(f"must list 1 to {MAX_FIELDS_PER_FRAME} fields, got {len(fields)}")
    optional(where.at("phase"), d.get("phase"), lambda w, v: integer(w, v, 0, 9))
    weave = d.get("weave")
    if weave is not None:
        wat = where.at("weave")
        weave = obj(wat, weave)
        integer(wat.at("top"), required(wat, weave, "top"), 0, hi)
        integer(wat.at("bottom"), required(wat, weave, "bottom"), 0, hi)
        optional(wat.at("merged_with"), weave.get("merged_with"), lambda w, v: integer(w, v, 0, hi))
    optional(where.at("comb"), d.get("comb"), number)
    optional(where.at("combed"), d.get("combed"), boolean)
    optional(where.at("keep"), d.get("keep"), lambda w, v: integer(w, v, 0, hi))
    optional(where.at("temporal"), d.get("temporal"), lambda w, v: int_list(w, v, 0, hi))
    built = d.get("built")
    if built is not None and string(where.at("built"), built) not in BUILDS:
        raise where.at("built").fail("must be one of {b}, got {v!r}".format(b=", ".join(BUILDS), v=built))
    pulldown = d.get("pulldown")
    if pulldown is not None and string(where.at("pulldown"), pulldown) not in PULLDOWNS:
        raise where.at("pulldown").fail(
            "must be one of {p}, got {v!r}".format(p=", ".join(PULLDOWNS), v=pulldown)
        )


def check_conform(d: Any, path: str) -> dict[str, Any]:
    """Check a conform.json document (read from ``path``) as ``remaster_core.manifests.conform`` does.

    Raises:
        GeometryError: the first bad field, named.
    """
    top = Where(path, "", CONFORM_FIX)
    d = obj(top, d)
    _version(top, d, CONFORM_VERSION)
    n = integer(top.at("frame_count"), required(top, d, "frame_count"))
    field_count = optional(
        top.at("field_count"), d.get("field_count"), lambda w, v: integer(w, v, 0, 2 * MAX_FRAMES)
    )
    hi = 2 * MAX_FRAMES if field_count is None else field_count - 1
    shots_at = top.at("shots")
    shots = [
        _conform_shot(shots_at.at(k), s, n) for k, s in enumerate(items(shots_at, required(top, d, "shots")))
    ]
    ranges_apart(shots_at, [(k, a, b) for k, (a, b) in enumerate(shots)])
    if d.get("frames") is not None:
        frames_at = top.at("frames")
        records = items(frames_at, d["frames"])
        if len(records) != n:
            raise frames_at.fail(f"lists {len(records)} frames but frame_count is {n}")
        for k, r in enumerate(records):
            _frame_record(frames_at.at(k), r, k, hi)

    def frame_list(key: str) -> None:
        optional(top.at(key), d.get(key), lambda w, v: int_list(w, v, 0, n - 1, increasing=True))

    def text(key: str) -> None:
        optional(top.at(key), d.get(key), string)

    def choice(key: str, allowed: tuple[str, ...]) -> None:
        value = optional(top.at(key), d.get(key), string)
        if value is not None and value not in allowed:
            raise top.at(key).fail("must be one of {a}, got {v!r}".format(a=", ".join(allowed), v=value))

    def colour(w: Where, v: Any) -> None:
        v = obj(w, v)
        for k in ("matrix", "range", "transfer"):
            string(w.at(k), required(w, v, k))

    def offset_match(w: Where, v: Any) -> None:
        v = obj(w, v)
        boolean(w.at("matched"), required(w, v, "matched"))
        string(w.at("message"), v.get("message", ""))
        optional(
            w.at("global_offset"), v.get("global_offset"), lambda x, y: integer(x, y, -MAX_FRAMES, MAX_FRAMES)
        )
        optional(w.at("global_score"), v.get("global_score"), lambda x, y: number(x, y, -1.0, 1.0))
        optional(w.at("global_z"), v.get("global_z"), number)

    def film(w: Where, v: Any) -> None:
        v = obj(w, v)
        string(w.at("pattern"), required(w, v, "pattern"))
        integer(w.at("frame_count"), required(w, v, "frame_count"))
        optional(
            w.at("first_frame_number"),
            v.get("first_frame_number"),
            lambda x, y: integer(x, y, -MAX_FRAMES, MAX_FRAMES),
        )

    relative_path(top.at("frames_pattern"), required(top, d, "frames_pattern"))
    int_list(top.at("cuts"), d.get("cuts") or [], 0, n - 1, increasing=True)
    fraction(top.at("fps"), d.get("fps", "24000/1001"))
    text("source")
    optional(top.at("source_fps"), d.get("source_fps"), fraction)
    choice("field_order", FIELD_ORDERS)
    choice("input_kind", INPUT_KINDS)
    optional(top.at("pixel_aspect"), d.get("pixel_aspect"), fraction)
    optional(top.at("source_frame_count"), d.get("source_frame_count"), integer)
    text("image_format")
    optional(top.at("colour"), d.get("colour"), colour)
    optional(top.at("clipped_fraction"), d.get("clipped_fraction"), lambda w, v: number(w, v, 0.0, 1.0))
    text("fields_note")
    text("cuts_note")
    for key in ("orphans", "combed", "video_frames"):
        frame_list(key)
    optional(
        top.at("cadence_breaks"), d.get("cadence_breaks"), lambda w, v: int_list(w, v, 0, 2 * MAX_FRAMES)
    )
    text("overrides")
    text("decode_error")
    optional(top.at("offset"), d.get("offset"), lambda w, v: integer(w, v, -MAX_FRAMES, MAX_FRAMES))
    optional(top.at("offset_match"), d.get("offset_match"), offset_match)
    optional(top.at("film"), d.get("film"), film)
    checked: dict[str, Any] = d
    return checked


# ----------------------------------------------------------------------------------------------- align


def _transform(where: Where, d: Any) -> None:
    d = obj(where, d)
    for k in ("tx", "ty"):
        number(where.at(k), required(where, d, k), -MAX_COORD, MAX_COORD)
    for k in ("sx", "sy"):
        number(where.at(k), required(where, d, k), None, MAX_SCALE, positive=True)


def _radial(where: Where, d: Any) -> None:
    d = obj(where, d)
    number(where.at("k1"), required(where, d, "k1"), -MAX_K1, MAX_K1)
    number(where.at("cx"), required(where, d, "cx"), -MAX_COORD, MAX_COORD)
    number(where.at("cy"), required(where, d, "cy"), -MAX_COORD, MAX_COORD)
    number(where.at("par"), required(where, d, "par"), PAR_RANGE[0], PAR_RANGE[1], positive=True)
    number(where.at("r_norm"), required(where, d, "r_norm"), None, MAX_COORD, positive=True)


def _raster(where: Where, d: Any) -> None:
    d = obj(where, d)
    integer(where.at("width"), required(where, d, "width"), 1, MAX_SIDE)
    integer(where.at("height"), required(where, d, "height"), 1, MAX_SIDE)
    optional(
        where.at("pixel_aspect"),
        d.get("pixel_aspect"),
        lambda w, v: number(w, v, PAR_RANGE[0], PAR_RANGE[1], positive=True),
    )


def _align_shot(where: Where, d: Any, position: int) -> tuple[int, int]:
    d = obj(where, d)
    bf = optional(where.at("broadcast_first"), d.get("broadcast_first"), integer)
    bl = optional(where.at("broadcast_last"), d.get("broadcast_last"), integer)
    if "first" not in d and bf is None:
        raise where.at("first").fail("is missing")
    if "last" not in d and bl is None:
        raise where.at("last").fail("is missing")
    first = integer(where.at("first"), d["first"]) if "first" in d else bf
    last = integer(where.at("last"), d["last"]) if "last" in d else bl
    assert first is not None and last is not None
    if last < first:
        raise where.at("last").fail(f"must be at least first ({first}), got {last}")
    if bf is not None and not first <= bf <= last:
        raise where.at("broadcast_first").fail(f"must be within first..last ({first}..{last}), got {bf}")
    low = bf if bf is not None else first
    if bl is not None and not low <= bl <= last:
        raise where.at("broadcast_last").fail(
            f"must be within broadcast_first..last ({low}..{last}), got {bl}"
        )
    status = string(where.at("status"), d.get("status", "aligned"))
    if status not in STATUSES:
        raise where.at("status").fail("must be one of {s}, got {v!r}".format(s=", ".join(STATUSES), v=status))
    integer(where.at("index"), d.get("index", position))
    optional(where.at("reason"), d.get("reason"), string)
    optional(where.at("film_first"), d.get("film_first"), lambda w, v: integer(w, v, -MAX_FRAMES))
    optional(where.at("transform"), d.get("transform"), _transform)
    optional(where.at("distortion"), d.get("distortion"), _radial)
    for key in ("input", "target", "mask"):
        optional(where.at(key), d.get(key), relative_path)
    optional(where.at("transform_source"), d.get("transform_source"), string)
    optional(
        where.at("film_frame_number"), d.get("film_frame_number"), lambda w, v: integer(w, v, -MAX_FRAMES)
    )
    optional(where.at("frame_count"), d.get("frame_count"), lambda w, v: integer(w, v, 0, last - first + 1))
    optional(where.at("residuals"), d.get("residuals"), lambda w, v: json_value(w, obj(w, v)))
    optional(where.at("sparse_transform"), d.get("sparse_transform"), _transform)
    masked = d.get("masked_frames")
    if masked is not None:
        masked_at = where.at("masked_frames")
        for k, m in enumerate(items(masked_at, masked)):
            m = obj(masked_at.at(k), m)
            integer(masked_at.at(k).at("frame"), required(masked_at.at(k), m, "frame"))
            string(masked_at.at(k).at("reason"), m.get("reason", ""))
    frames = d.get("frames")
    if frames is not None:
        frames_at = where.at("frames")
        for k, f in enumerate(items(frames_at, frames)):
            f = obj(frames_at.at(k), f)
            integer(frames_at.at(k).at("frame"), required(frames_at.at(k), f, "frame"))
            json_value(frames_at.at(k), f)
    return first, last


def check_align(d: Any, path: str) -> dict[str, Any]:
    """Check an align.json document (read from ``path``) as ``remaster_core.manifests.align`` does.

    Raises:
        GeometryError: the first bad field, named.
    """
    top = Where(path, "", ALIGN_FIX)
    d = obj(top, d)
    _version(top, d, ALIGN_VERSION)
    shots_at = top.at("shots")
    raw = d.get("shots")
    shots = [
        _align_shot(shots_at.at(k), s, k) for k, s in enumerate(items(shots_at, [] if raw is None else raw))
    ]
    ranges_apart(shots_at, [(k, a, b) for k, (a, b) in enumerate(shots)])
    _raster(top.at("broadcast"), required(top, d, "broadcast"))
    optional(top.at("output_format"), d.get("output_format"), _raster)
    optional(top.at("conform"), d.get("conform"), string)
    optional(top.at("film"), d.get("film"), string)

    def texts(w: Where, v: Any) -> None:
        for k, x in obj(w, v).items():
            string(w.at(str(k)), x)

    def counts(w: Where, v: Any) -> None:
        for k, x in obj(w, v).items():
            integer(w.at(str(k)), x)

    optional(top.at("conventions"), d.get("conventions"), texts)
    optional(top.at("summary"), d.get("summary"), counts)
    optional(top.at("params"), d.get("params"), lambda w, v: json_value(w, obj(w, v)))
    checked: dict[str, Any] = d
    return checked
