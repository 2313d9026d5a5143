"""``conform.json``, the manifest ``remaster conform`` writes into its folder: one definition, one reader.

Layout (version 1; every key below is written by ``remaster_core.conform.pipeline``; a reader needs
only ``frames_pattern``, ``frame_count`` and ``shots``, the rest is checked when present)::

    version             1
    source, fps, source_fps, field_order, input_kind, pixel_aspect   the broadcast and the output rate
    frame_count         output (conformed) frames, numbered from 0
    source_frame_count, field_count   broadcast frames decoded, and their fields
    frames_pattern      "frames/frame.%06d.exr": relative to the folder, inside it
    image_format, colour, clipped_fraction, fields_note, cuts_note   how the frames were written
    frames              one record per output frame (``FrameRecord``: which fields built it)
    cuts                output index of the first frame of every shot but the first
    shots               {first, last (inclusive), film_first (film index at ``first``, or null),
                        match_score[, z][, film_jumps]}: in range, not overlapping; film_jumps
                        [[frame, film], ...] where an edit after telecine dropped film frames inside
                        the shot (from ``frame`` on it shows film index ``film`` and on)
    orphans, combed, video_frames, cadence_breaks   output frame (field for breaks) indices
    uncertain_cadence   output frames whose cadence was decided on little evidence (optional): another
                        phase explains their fields about as well (``FrameRecord.cadence_margin``), or
                        a 3-field frame's third field is no repeat of its first by the evidence
                        (``CadenceParams.repeat_against``)
    joined_cuts         with a film scan (optional): output frames where the picture jumped like a cut but
                        the film runs on across it with a few frames dropped (an edit inside a film
                        shot): not in ``cuts``, a film jump of their shot
    overrides, decode_error   the override file used, the error that stopped decoding (or null)
    offset, offset_match, film   with a film scan only: the temporal offset and the film sequence
    timecode            {source_start, source_rate, drop_frame, origin, record_start, record_rate}: the
                        broadcast's timecode and the 23.976 record timecode of frame 0 (optional)
    editorial           {otio, edl}: the shots as an OpenTimelineIO timeline and a CMX 3600 EDL,
                        relative to the folder (optional)
    cuts_file           the editor's cut list the cuts were taken from (``conform --cuts``), or absent

``read_conform`` checks types, ranges and paths and raises ``InputError`` naming the file and the
field (``conform.json: shots[2].last: ...``); keys it does not know are ignored (a newer writer's
additions), a ``version`` newer than ``VERSION`` is refused.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from remaster_spec.frame_range import MAX_FRAMES
from remaster_spec.manifest_fields import (
    boolean,
    fraction,
    int_list,
    integer,
    items,
    load_json,
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
from remaster_spec.manifest_shots import conform_shot_range, film_index, film_jumps

# the file's name, version, vocabularies and bounds: declared once in remaster_spec (the plugin reads them)
from remaster_spec.manifest_vocab import (
    BUILDS,
    FIELD_ORDERS,
    FRAME_KINDS,
    INPUT_KINDS,
    MAX_FIELDS_PER_FRAME,
    PULLDOWNS,
)
from remaster_spec.manifest_vocab import CONFORM_FILENAME as FILENAME
from remaster_spec.manifest_vocab import CONFORM_FIX as FIX
from remaster_spec.manifest_vocab import CONFORM_VERSION as VERSION

from remaster_core.errors import InputError
from remaster_core.io.atomic import write_json_atomic
from remaster_core.manifests._fields import Where, with_optional

_ANY = MAX_FRAMES  # bound of signed indices (film offsets may be negative)


@dataclass(frozen=True)
class Weave:
    """The two fields woven into a film frame, and the other decode of a repeated field merged in."""

    top: int
    bottom: int
    merged_with: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return with_optional({"top": self.top, "bottom": self.bottom}, merged_with=self.merged_with)

    @classmethod
    def from_dict(cls, d: Any, where: Where, fields_hi: int) -> Weave:
        d = obj(where, d)
        return cls(
            integer(where.at("top"), required(where, d, "top"), 0, fields_hi),
            integer(where.at("bottom"), required(where, d, "bottom"), 0, fields_hi),
            optional(where.at("merged_with"), d.get("merged_with"), lambda w, v: integer(w, v, 0, fields_hi)),
        )


@dataclass(frozen=True)
class FrameRecord:
    """How output frame ``index`` was built from the broadcast's fields (field 2k: first of frame k).

    Attributes:
        kind: "film" (``weave``), "orphan" (``keep`` rebuilt), "video" (``keep`` deinterlaced with
            ``temporal``) or "progressive" (passed through).
        fields: every field of the run the frame stands for, in temporal order.
        phase: cadence phase 0..9 of the run's first field (None for video and progressive).
        pulldown: the pattern ``phase`` belongs to (optional, ``PULLDOWNS``): written as "2:3:3:2" for a
            frame of 2:3:3:2 pulldown (phases of its own cycle ``At Ab Bt Bb Bt Cb Ct Cb Dt Db``);
            absent means 3:2.
        comb, combed: the weave's comb score and whether it combs (film).
        cadence_margin: how much more (cost units of ``conform.cadence``) the cheapest decision that
            gives any of the frame's fields another phase costs (optional; absent for progressive
            input or where no other phase is possible): small in a still or frozen stretch that holds
            an edit made after the telecine, whose fields nothing tells apart.
        built: how the frame was built (optional, ``BUILDS``): "woven" (``weave``), "merged" (``weave``
            with the other decode of its repeated field merged in), "copy" (``weave`` of the clean decode
            of a repeated field, its other decode being damaged), "rebuilt" (a film frame rebuilt from
            its clean field ``keep``, its other field damaged: coded with a field of another shot),
            "orphan" (rebuilt from its only field ``keep``), "deinterlaced" (video).
    """

    index: int
    kind: str
    fields: tuple[int, ...]
    phase: int | None = None
    weave: Weave | None = None
    comb: float | None = None
    combed: bool | None = None
    keep: int | None = None
    temporal: tuple[int, ...] | None = None
    built: str | None = None
    pulldown: str | None = None
    cadence_margin: float | None = None

    def used_fields(self) -> list[int]:
        """The fields whose pixels the frame shows (the woven pair, or the kept field, else all)."""
        if self.weave is not None:
            merged = [self.weave.merged_with] if self.weave.merged_with is not None else []
            return [self.weave.top, self.weave.bottom, *merged]
        if self.keep is not None:
            return [self.keep]
        return list(self.fields)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "kind": self.kind, "fields": list(self.fields)}
        if self.kind == "progressive":
            return d
        d["phase"] = self.phase
        if self.kind == "film":
            d["weave"] = None if self.weave is None else self.weave.to_dict()
            d["comb"] = self.comb
            d["combed"] = self.combed
        else:
            d["keep"] = self.keep
            if self.kind == "video":
                d["temporal"] = None if self.temporal is None else list(self.temporal)
        if self.kind == "film":
            with_optional(d, keep=self.keep)
        return with_optional(d, built=self.built, pulldown=self.pulldown, cadence_margin=self.cadence_margin)

    @classmethod
    def from_dict(cls, d: Any, where: Where, index: int, fields_hi: int) -> FrameRecord:
        d = obj(where, d)
        got = integer(where.at("index"), required(where, d, "index"))
        if got != index:
            where.at("index").fail(f"must be {index} (frames are listed in order from 0), got {got}")
        kind = one_of(where.at("kind"), required(where, d, "kind"), FRAME_KINDS)
        fields_at = where.at("fields")
        fields = int_list(fields_at, required(where, d, "fields"), 0, fields_hi)
        if not 1 <= len(fields) <= MAX_FIELDS_PER_FRAME:
            fields_at.fail(f"must list 1 to {MAX_FIELDS_PER_FRAME} fields, got {len(fields)}")
        weave = d.get("weave")
        temporal = d.get("temporal")
        comb, combed, keep, phase = d.get("comb"), d.get("combed"), d.get("keep"), d.get("phase")
        built = optional(where.at("built"), d.get("built"), lambda w, v: one_of(w, v, BUILDS))
        pulldown = optional(where.at("pulldown"), d.get("pulldown"), lambda w, v: one_of(w, v, PULLDOWNS))
        margin = optional(where.at("cadence_margin"), d.get("cadence_margin"), lambda w, v: number(w, v, 0.0))
        return cls(
            index,
            kind,
            fields,
            None if phase is None else integer(where.at("phase"), phase, 0, 9),
            None if weave is None else Weave.from_dict(weave, where.at("weave"), fields_hi),
            None if comb is None else number(where.at("comb"), comb),
            None if combed is None else boolean(where.at("combed"), combed),
            None if keep is None else integer(where.at("keep"), keep, 0, fields_hi),
            None if temporal is None else int_list(where.at("temporal"), temporal, 0, fields_hi),
            built,
            pulldown,
            margin,
        )


@dataclass(frozen=True)
class ConformShot:
    """One shot: output frames ``first..last`` inclusive; ``film_first`` the film index (k-th frame of
    the scan on disk) shown at ``first``, may be negative (the film starts inside the shot), or None;
    ``film_jumps``: ((frame, film index), ...) where an edit made after the telecine dropped film frames
    inside the shot (``film_index``)."""

    first: int
    last: int
    film_first: int | None
    match_score: float | None = None
    z: float | None = None
    film_jumps: tuple[tuple[int, int], ...] = ()

    def film_index(self, frame: int) -> int | None:
        """The film index shown at output ``frame`` (of this shot), or None without film."""
        if self.film_first is None:
            return None
        return film_index((self.film_first, self.first), self.film_jumps, frame)

    def to_dict(self, *, with_z: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "first": self.first,
            "last": self.last,
            "film_first": self.film_first,
            "match_score": self.match_score,
        }
        if with_z or self.z is not None:
            d["z"] = self.z
        if self.film_jumps:
            d["film_jumps"] = [list(j) for j in self.film_jumps]
        return d

    @classmethod
    def from_dict(cls, d: Any, where: Where, frame_count: int) -> ConformShot:
        d = obj(where, d)
        first, last = conform_shot_range(where, d, frame_count)
        ff, score, z = d.get("film_first"), d.get("match_score"), d.get("z")
        film_first = None if ff is None else integer(where.at("film_first"), ff, -_ANY, _ANY)
        return cls(
            first,
            last,
            film_first,
            None if score is None else number(where.at("match_score"), score, -1.0, 1.0),
            None if z is None else number(where.at("z"), z),
            film_jumps(where.at("film_jumps"), d.get("film_jumps"), first, last, film_first),
        )


@dataclass(frozen=True)
class OffsetMatch:
    """How the temporal offset was found (``conform.offset``)."""

    matched: bool
    message: str
    global_offset: int | None
    global_score: float | None
    global_z: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> OffsetMatch:
        d = obj(where, d)
        return cls(
            boolean(where.at("matched"), required(where, d, "matched")),
            string(where.at("message"), d.get("message", "")),
            optional(
                where.at("global_offset"), d.get("global_offset"), lambda w, v: integer(w, v, -_ANY, _ANY)
            ),
            optional(where.at("global_score"), d.get("global_score"), lambda w, v: number(w, v, -1.0, 1.0)),
            optional(where.at("global_z"), d.get("global_z"), number),
        )


@dataclass(frozen=True)
class FilmInfo:
    """The film scan the offset was found in: its pattern, frame count and first frame number."""

    pattern: str
    frame_count: int
    first_frame_number: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"pattern": self.pattern, "frame_count": self.frame_count}
        return with_optional(d, first_frame_number=self.first_frame_number)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> FilmInfo:
        d = obj(where, d)
        return cls(
            string(where.at("pattern"), required(where, d, "pattern")),
            integer(where.at("frame_count"), required(where, d, "frame_count")),
            optional(
                where.at("first_frame_number"),
                d.get("first_frame_number"),
                lambda w, v: integer(w, v, -_ANY, _ANY),
            ),
        )


@dataclass(frozen=True)
class Colour:
    """The broadcast's Y'CbCr matrix and range the frames were converted with, and the transfer note."""

    matrix: str
    range: str
    transfer: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> Colour:
        d = obj(where, d)
        return cls(*(string(where.at(k), required(where, d, k)) for k in ("matrix", "range", "transfer")))


_TIMECODE_LABEL = re.compile(r"^\d{2}:[0-5]\d:[0-5]\d[:;.]\d{2}$")


def _label(where: Where, value: Any) -> str:
    text = string(where, value)
    if not _TIMECODE_LABEL.match(text):
        where.fail(f"must be a timecode HH:MM:SS:FF (HH:MM:SS;FF for drop frame), got {text!r}")
    return text


@dataclass(frozen=True)
class Timecode:
    """Source (broadcast) and record (23.976, non-drop) timecode: conformed frame k is ``record_start + k``;
    field f is broadcast frame f // 2 of the source, counted from ``source_start`` (``conform.timecode``)."""

    source_start: str
    source_rate: str
    drop_frame: bool
    origin: str
    record_start: str
    record_rate: str = "24000/1001"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> Timecode:
        d = obj(where, d)
        return cls(
            _label(where.at("source_start"), required(where, d, "source_start")),
            fraction(where.at("source_rate"), required(where, d, "source_rate")),
            boolean(where.at("drop_frame"), required(where, d, "drop_frame")),
            string(where.at("origin"), d.get("origin", "")),
            _label(where.at("record_start"), required(where, d, "record_start")),
            fraction(where.at("record_rate"), d.get("record_rate", "24000/1001")),
        )


@dataclass(frozen=True)
class ConformManifest:
    """The content of ``conform.json`` (see the module docstring); ``path`` is the file (not compared).

    Optional keys a hand-made or older file may lack are None (or empty); ``to_dict`` writes every key
    the conform writes and leaves out only ``offset``/``offset_match``/``film`` without a film scan
    (and the descriptive keys that are None).
    """

    frames_pattern: str
    frame_count: int
    shots: tuple[ConformShot, ...]
    frames: tuple[FrameRecord, ...] | None = None
    cuts: tuple[int, ...] = ()
    fps: str = "24000/1001"
    version: int = VERSION
    source: str | None = None
    source_fps: str | None = None
    field_order: str | None = None
    input_kind: str | None = None
    pixel_aspect: str | None = None
    source_frame_count: int | None = None
    field_count: int | None = None
    image_format: str | None = None
    colour: Colour | None = None
    clipped_fraction: float | None = None
    fields_note: str | None = None
    cuts_note: str | None = None
    orphans: tuple[int, ...] | None = None
    combed: tuple[int, ...] | None = None
    video_frames: tuple[int, ...] | None = None
    cadence_breaks: tuple[int, ...] | None = None
    uncertain_cadence: tuple[int, ...] | None = None
    joined_cuts: tuple[int, ...] | None = None
    overrides: str | None = None
    decode_error: str | None = None
    offset: int | None = None
    offset_match: OffsetMatch | None = None
    film: FilmInfo | None = None
    timecode: Timecode | None = None
    editorial: dict[str, str] | None = None
    cuts_file: str | None = None
    path: Path = field(default=Path(FILENAME), compare=False, repr=False)

    @property
    def folder(self) -> Path:
        """The conform folder (the one holding the file)."""
        return self.path.parent

    @property
    def frames_path(self) -> str:
        """The frames' pattern with the folder: ``DIR/frames/frame.%06d.exr``."""
        return str(self.folder / self.frames_pattern)

    @property
    def frame_rate(self) -> Fraction:
        """``fps`` as a fraction (23.976 is 24000/1001)."""
        return Fraction(self.fps)

    @property
    def film_pattern(self) -> str | None:
        """The film sequence the conform matched, or None."""
        return None if self.film is None else self.film.pattern

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (keys and layout as ``remaster conform`` writes them)."""
        with_offset = self.offset_match is not None
        optional_keys: list[tuple[str, Any]] = [
            ("version", self.version),
            ("source", self.source),
            ("fps", self.fps),
            ("source_fps", self.source_fps),
            ("field_order", self.field_order),
            ("input_kind", self.input_kind),
            ("frame_count", self.frame_count),
            ("pixel_aspect", self.pixel_aspect),
            ("source_frame_count", self.source_frame_count),
            ("field_count", self.field_count),
            ("frames_pattern", self.frames_pattern),
            ("image_format", self.image_format),
            ("colour", None if self.colour is None else self.colour.to_dict()),
            ("clipped_fraction", self.clipped_fraction),
            ("fields_note", self.fields_note),
            ("frames", None if self.frames is None else [f.to_dict() for f in self.frames]),
            ("cuts", list(self.cuts)),
            ("cuts_note", self.cuts_note),
            ("shots", [s.to_dict(with_z=with_offset) for s in self.shots]),
            ("orphans", None if self.orphans is None else list(self.orphans)),
            ("combed", None if self.combed is None else list(self.combed)),
            ("video_frames", None if self.video_frames is None else list(self.video_frames)),
            ("cadence_breaks", None if self.cadence_breaks is None else list(self.cadence_breaks)),
            ("uncertain_cadence", None if self.uncertain_cadence is None else list(self.uncertain_cadence)),
            ("joined_cuts", None if self.joined_cuts is None else list(self.joined_cuts)),
            ("timecode", None if self.timecode is None else self.timecode.to_dict()),
            ("editorial", None if self.editorial is None else dict(self.editorial)),
            ("cuts_file", self.cuts_file),
        ]
        doc = {key: value for key, value in optional_keys if value is not None}
        doc["overrides"] = self.overrides
        doc["decode_error"] = self.decode_error
        if with_offset or self.offset is not None:
            doc["offset"] = self.offset
        if self.offset_match is not None:
            doc["offset_match"] = self.offset_match.to_dict()
        if self.film is not None:
            doc["film"] = self.film.to_dict()
        return doc

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str | os.PathLike[str]) -> ConformManifest:
        """Check ``d`` (the JSON document of the file ``source``) and build the manifest.

        Raises:
            InputError: a missing, mistyped or out-of-range field, overlapping shots, a frames pattern
                outside the folder; the message names the file and the field path.
        """
        path = Path(source)
        top = Where(path, "", FIX)
        d = obj(top, d)
        found = version(top, d, VERSION)
        n = integer(top.at("frame_count"), required(top, d, "frame_count"))
        field_count = optional(
            top.at("field_count"), d.get("field_count"), lambda w, v: integer(w, v, 0, 2 * MAX_FRAMES)
        )
        fields_hi = 2 * MAX_FRAMES if field_count is None else field_count - 1
        shots_at = top.at("shots")
        shots = tuple(
            ConformShot.from_dict(s, shots_at.at(k), n)
            for k, s in enumerate(items(shots_at, required(top, d, "shots")))
        )
        ranges_apart(shots_at, [(k, s.first, s.last) for k, s in enumerate(shots)])
        frames: tuple[FrameRecord, ...] | None = None
        if d.get("frames") is not None:
            frames_at = top.at("frames")
            records = items(frames_at, d["frames"])
            if len(records) != n:
                frames_at.fail(f"lists {len(records)} frames but frame_count is {n}")
            frames = tuple(
                FrameRecord.from_dict(r, frames_at.at(k), k, fields_hi) for k, r in enumerate(records)
            )

        def frame_list(key: str) -> tuple[int, ...] | None:
            value = d.get(key)
            return None if value is None else int_list(top.at(key), value, 0, n - 1, increasing=True)

        def text(key: str) -> str | None:
            return optional(top.at(key), d.get(key), string)

        def choice(key: str, allowed: tuple[str, ...]) -> str | None:
            return optional(top.at(key), d.get(key), lambda w, v: one_of(w, v, allowed))

        offset_match, film = d.get("offset_match"), d.get("film")
        return cls(
            frames_pattern=relative_path(top.at("frames_pattern"), required(top, d, "frames_pattern")),
            frame_count=n,
            shots=shots,
            frames=frames,
            cuts=int_list(top.at("cuts"), d.get("cuts") or [], 0, n - 1, increasing=True),
            fps=fraction(top.at("fps"), d.get("fps", "24000/1001")),
            version=found,
            source=text("source"),
            source_fps=optional(top.at("source_fps"), d.get("source_fps"), fraction),
            field_order=choice("field_order", FIELD_ORDERS),
            input_kind=choice("input_kind", INPUT_KINDS),
            pixel_aspect=optional(top.at("pixel_aspect"), d.get("pixel_aspect"), fraction),
            source_frame_count=optional(top.at("source_frame_count"), d.get("source_frame_count"), integer),
            field_count=field_count,
            image_format=text("image_format"),
            colour=optional(top.at("colour"), d.get("colour"), lambda w, v: Colour.from_dict(v, w)),
            clipped_fraction=optional(
                top.at("clipped_fraction"), d.get("clipped_fraction"), lambda w, v: number(w, v, 0.0, 1.0)
            ),
            fields_note=text("fields_note"),
            cuts_note=text("cuts_note"),
            orphans=frame_list("orphans"),
            combed=frame_list("combed"),
            video_frames=frame_list("video_frames"),
            cadence_breaks=optional(
                top.at("cadence_breaks"),
                d.get("cadence_breaks"),
                lambda w, v: int_list(w, v, 0, 2 * MAX_FRAMES),
            ),
            uncertain_cadence=frame_list("uncertain_cadence"),
            joined_cuts=frame_list("joined_cuts"),
            overrides=text("overrides"),
            decode_error=text("decode_error"),
            offset=optional(top.at("offset"), d.get("offset"), lambda w, v: integer(w, v, -_ANY, _ANY)),
            offset_match=None
            if offset_match is None
            else OffsetMatch.from_dict(offset_match, top.at("offset_match")),
            film=None if film is None else FilmInfo.from_dict(film, top.at("film")),
            timecode=optional(top.at("timecode"), d.get("timecode"), lambda w, v: Timecode.from_dict(v, w)),
            editorial=optional(top.at("editorial"), d.get("editorial"), _editorial),
            cuts_file=text("cuts_file"),
            path=path,
        )


def _editorial(where: Where, value: Any) -> dict[str, str]:
    d = obj(where, value)
    return {str(k): relative_path(where.at(str(k)), v) for k, v in d.items()}


def conform_json_path(folder_or_file: str | os.PathLike[str]) -> Path:
    """``DIR/conform.json`` for a conform folder, the path itself for a file."""
    p = Path(folder_or_file)
    return p / FILENAME if p.is_dir() or not p.suffix else p


def read_conform(folder_or_file: str | os.PathLike[str]) -> ConformManifest:
    """Read and check a conform folder's ``conform.json`` (or the file itself).

    Raises:
        InputError: no conform.json there, unreadable JSON, or a bad field (named, with the fix).
    """
    path = conform_json_path(folder_or_file)
    if not path.is_file():
        where = Path(folder_or_file)
        raise InputError(f"{where}: no conform.json there; give the folder `remaster conform --out` wrote")
    stat = path.stat()
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)  # an episode's file takes about a second to check; render reads it per chunk
def _read_cached(path: Path, mtime_ns: int, size: int) -> ConformManifest:
    return ConformManifest.from_dict(load_json(Where(path, "", FIX)), path)


def write_conform(folder: str | os.PathLike[str], manifest: ConformManifest) -> Path:
    """Write ``manifest`` as ``folder/conform.json`` atomically; returns the path."""
    path = Path(folder) / FILENAME
    write_json_atomic(path, manifest.to_dict())
    return path
