"""The checks of align.json and conform.json, in plain Python (the plugin does not import remaster_core).

The same rules as ``remaster_core.manifests``, field by field and in the same order, so both refuse the
same files and name the same field: types (no booleans for numbers, finite numbers), ranges (frame
indices, raster sizes up to ``MAX_SIDE``, positive scales, bounded lists), shots that do not overlap,
and frame patterns relative to the manifest's folder that stay inside it (symlinks resolved). A bad
file raises ``GeometryError``::

    /pairs/align.json: shots[3].transform.sx: must be a positive number, got -1; correct it or re-run remaster align

The field checks, shot ranges, vocabularies and bounds are declared once, for remaster_core and this
module alike, in ``remaster_spec`` (``manifest_fields``, ``manifest_shots``, ``manifest_vocab``; standard
library only). The shared vectors in ``tests/manifests/vectors`` check that this module and
remaster_core agree.
"""

from __future__ import annotations

from typing import Any

from remaster_spec import manifest_fields
from remaster_spec.frame_range import MAX_FRAMES
from remaster_spec.manifest_fields import (
    boolean,
    fraction,
    int_list,
    integer,
    items,
    json_value,
    number,
    obj,
    one_of,
    optional,
    ranges_apart,
    relative_path,
    required,
    string,
    version,
)
from remaster_spec.manifest_shots import align_shot_range, conform_shot_range, film_jumps
from remaster_spec.manifest_vocab import (
    ALIGN_FIX,
    ALIGN_VERSION,
    BUILDS,
    CONFORM_FIX,
    CONFORM_VERSION,
    FIELD_ORDERS,
    FRAME_KINDS,
    INPUT_KINDS,
    MAX_COORD,
    MAX_FIELDS_PER_FRAME,
    MAX_K1,
    MAX_SCALE,
    MAX_SIDE,
    PAR_RANGE,
    PULLDOWNS,
    STATUSES,
)


class GeometryError(ValueError):
    """An align.json or conform.json the plugin cannot use; the message names the file (and field)."""


class Where(manifest_fields.Where):
    """The manifest file, the field path inside it and the fix to suggest; ``fail`` raises ``GeometryError``."""

    error = GeometryError


# --------------------------------------------------------------------------------------------- conform


def _conform_shot(where: Where, d: Any, n: int) -> tuple[int, int]:
    d = obj(where, d)
    first, last = conform_shot_range(where, d, n)
    film_first = optional(
        where.at("film_first"), d.get("film_first"), lambda w, v: integer(w, v, -MAX_FRAMES, MAX_FRAMES)
    )
    optional(where.at("match_score"), d.get("match_score"), lambda w, v: number(w, v, -1.0, 1.0))
    optional(where.at("z"), d.get("z"), number)
    film_jumps(where.at("film_jumps"), d.get("film_jumps"), first, last, film_first)
    return first, last


def _frame_record(where: Where, d: Any, index: int, hi: int) -> None:
    d = obj(where, d)
    got = integer(where.at("index"), required(where, d, "index"))
    if got != index:
        where.at("index").fail(f"must be {index} (frames are listed in order from 0), got {got}")
    one_of(where.at("kind"), required(where, d, "kind"), FRAME_KINDS)
    fields = int_list(where.at("fields"), required(where, d, "fields"), 0, hi)
    if not 1 <= len(fields) <= MAX_FIELDS_PER_FRAME:
        where.at("fields").fail(f"must list 1 to {MAX_FIELDS_PER_FRAME} fields, got {len(fields)}")
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
    optional(where.at("built"), d.get("built"), lambda w, v: one_of(w, v, BUILDS))
    optional(where.at("pulldown"), d.get("pulldown"), lambda w, v: one_of(w, v, PULLDOWNS))


def check_conform(d: Any, path: str) -> dict[str, Any]:
    """Check a conform.json document (read from ``path``) as ``remaster_core.manifests.conform`` does.

    Raises:
        GeometryError: the first bad field, named.
    """
    top = Where(path, "", CONFORM_FIX)
    d = obj(top, d)
    version(top, d, CONFORM_VERSION)
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
            frames_at.fail(f"lists {len(records)} frames but frame_count is {n}")
        for k, r in enumerate(records):
            _frame_record(frames_at.at(k), r, k, hi)

    def frame_list(key: str) -> None:
        optional(top.at(key), d.get(key), lambda w, v: int_list(w, v, 0, n - 1, increasing=True))

    def text(key: str) -> None:
        optional(top.at(key), d.get(key), string)

    def choice(key: str, allowed: tuple[str, ...]) -> None:
        optional(top.at(key), d.get(key), lambda w, v: one_of(w, v, allowed))

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
    first, last, _, _ = align_shot_range(where, d)
    one_of(where.at("status"), d.get("status", "aligned"), STATUSES)
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
    version(top, d, ALIGN_VERSION)
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
