"""``align.json``, the manifest ``remaster align`` writes into PAIRS: one definition, one reader.

Layout (version 1; written by ``remaster_core.align.pairs``; a reader needs only ``broadcast`` and
``shots``, the rest is checked when present)::

    version         1
    conform, film   the conform folder and film sequence it was made from (as given, informational)
    output_format   {width, height, pixel_aspect}: the film raster, or null (no film frame was read)
    broadcast       {width, height, pixel_aspect}: the conformed frames
    conventions     {geometry, paths, status, residuals, mask}: texts for a person
    summary         {aligned, rejected, "no film", pairs}: counts
    params          the settings used (free form)
    colour          optional (``ColourSpaces``): {working, film, broadcast, config, film_source}: the
                    OpenColorIO colour spaces of the pairs; absent: code values as decoded (older files)
    shots           one entry per conformed shot (``AlignShot``), frame ranges not overlapping

Each shot: ``index``, conformed frames ``first..last`` (``broadcast_first..broadcast_last`` the part
with pairs), ``status`` ("aligned", "rejected", "no film"), ``reason``, ``film_first``, ``transform``
{tx, ty, sx, sy} (``Transform4``; null: the nominal fit), ``distortion`` {k1, cx, cy, par, r_norm}
(``Radial``) or null, ``transform_source``, the ``input``/``target``/``mask`` frame patterns (relative
to PAIRS and inside it, or null), and for aligned shots ``film_frame_number``, ``frame_count``,
``residuals``, ``sparse_transform``, ``masked_frames`` and per-frame ``frames`` statistics, and
optionally ``film_keycode``: the keycode of the shot's first film frame (``"MM TT PPPPPP CCCC+OO"``, as
``io.images.keycode_text`` writes it) when its scan file carries one.

``read_align`` checks types, ranges and paths and raises ``InputError`` naming the file and the field
(``align.json: shots[3].transform.sx: must be a positive number, got -1; ...``); keys it does not know
are ignored, a ``version`` newer than ``VERSION`` is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remaster_spec.frame_range import MAX_FRAMES
from remaster_spec.manifest_fields import (
    integer,
    items,
    json_value,
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
from remaster_spec.manifest_shots import align_shot_range

# the file's name, version, vocabulary and bounds: declared once in remaster_spec (the plugin reads them)
from remaster_spec.manifest_vocab import ALIGN_FILENAME as FILENAME
from remaster_spec.manifest_vocab import ALIGN_FIX as FIX
from remaster_spec.manifest_vocab import ALIGN_VERSION as VERSION
from remaster_spec.manifest_vocab import MAX_COORD, MAX_K1, MAX_SCALE, MAX_SIDE, PAR_RANGE, STATUSES

from remaster_core.errors import InputError
from remaster_core.io.atomic import write_json_atomic
from remaster_core.manifests._fields import Where, with_optional

if TYPE_CHECKING:  # at run time imported where used: remaster_core.align's package imports this module
    from remaster_core.align.transform import Radial, Transform4


def transform_from_dict(d: Any, where: Where) -> Transform4:
    """A checked ``Transform4``: finite translations, positive scales (both bounded)."""
    from remaster_core.align.transform import Transform4

    d = obj(where, d)
    tx, ty = (number(where.at(k), required(where, d, k), -MAX_COORD, MAX_COORD) for k in ("tx", "ty"))
    sx, sy = (
        number(where.at(k), required(where, d, k), None, MAX_SCALE, positive=True) for k in ("sx", "sy")
    )
    return Transform4.from_dict({"tx": tx, "ty": ty, "sx": sx, "sy": sy})


def radial_from_dict(d: Any, where: Where) -> Radial:
    """A checked ``Radial``: |k1| <= ``MAX_K1``, finite centre, plausible aspect, positive radius."""
    from remaster_core.align.transform import Radial

    d = obj(where, d)
    return Radial.from_dict(
        {
            "k1": number(where.at("k1"), required(where, d, "k1"), -MAX_K1, MAX_K1),
            "cx": number(where.at("cx"), required(where, d, "cx"), -MAX_COORD, MAX_COORD),
            "cy": number(where.at("cy"), required(where, d, "cy"), -MAX_COORD, MAX_COORD),
            "par": number(where.at("par"), required(where, d, "par"), *PAR_RANGE, positive=True),
            "r_norm": number(
                where.at("r_norm"), required(where, d, "r_norm"), None, MAX_COORD, positive=True
            ),
        }
    )


@dataclass(frozen=True)
class Raster:
    """A raster's ``width`` x ``height`` (1..``MAX_SIDE``) and pixel aspect (None: not recorded, square)."""

    width: int
    height: int
    pixel_aspect: float | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(W, H)."""
        return self.width, self.height

    @property
    def par(self) -> float:
        """The pixel aspect, 1 when not recorded."""
        return 1.0 if self.pixel_aspect is None else self.pixel_aspect

    def to_dict(self) -> dict[str, Any]:
        return with_optional({"width": self.width, "height": self.height}, pixel_aspect=self.pixel_aspect)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> Raster:
        d = obj(where, d)
        return cls(
            integer(where.at("width"), required(where, d, "width"), 1, MAX_SIDE),
            integer(where.at("height"), required(where, d, "height"), 1, MAX_SIDE),
            optional(
                where.at("pixel_aspect"),
                d.get("pixel_aspect"),
                lambda w, v: number(w, v, *PAR_RANGE, positive=True),
            ),
        )


@dataclass(frozen=True)
class MaskedFrame:
    """A frame whose own check failed: its mask is all zero."""

    frame: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> MaskedFrame:
        d = obj(where, d)
        return cls(
            integer(where.at("frame"), required(where, d, "frame")),
            string(where.at("reason"), d.get("reason", "")),
        )


@dataclass(frozen=True)
class AlignShot:
    """One shot of ``align.json`` (see the module docstring). ``transform`` None means the nominal fit.

    The optional fields are None when the file does not hold them; ``frames`` are free-form per-frame
    statistics (each with its ``frame``), ``residuals`` free-form numbers.
    """

    index: int
    first: int
    last: int
    status: str = "aligned"
    reason: str | None = None
    broadcast_first: int | None = None
    broadcast_last: int | None = None
    film_first: int | None = None
    transform: Transform4 | None = None
    distortion: Radial | None = None
    input: str | None = None
    target: str | None = None
    mask: str | None = None
    transform_source: str | None = None
    film_frame_number: int | None = None
    frame_count: int | None = None
    residuals: Mapping[str, Any] | None = None
    sparse_transform: Transform4 | None = None
    masked_frames: tuple[MaskedFrame, ...] | None = None
    frames: tuple[Mapping[str, Any], ...] | None = None
    film_keycode: str | None = None

    @property
    def patterns(self) -> dict[str, str]:
        """The shot's ``input``, ``target`` and ``mask`` patterns that are set (relative to PAIRS)."""
        return {k: v for k, v in (("input", self.input), ("target", self.target), ("mask", self.mask)) if v}

    def shifted(self, offset: int) -> AlignShot:
        """The same shot with its frame ranges moved by ``offset``."""

        def move(v: int | None) -> int | None:
            return None if v is None else v + offset

        return replace(
            self,
            first=self.first + offset,
            last=self.last + offset,
            broadcast_first=move(self.broadcast_first),
            broadcast_last=move(self.broadcast_last),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "index": self.index,
            "first": self.first,
            "last": self.last,
            "status": self.status,
            "reason": self.reason,
            "broadcast_first": self.broadcast_first,
            "broadcast_last": self.broadcast_last,
            "film_first": self.film_first,
        }
        with_optional(d, film_frame_number=self.film_frame_number, frame_count=self.frame_count)
        d["transform"] = None if self.transform is None else self.transform.to_dict()
        d["distortion"] = None if self.distortion is None else self.distortion.to_dict()
        with_optional(
            d,
            residuals=None if self.residuals is None else dict(self.residuals),
            sparse_transform=None if self.sparse_transform is None else self.sparse_transform.to_dict(),
            masked_frames=None if self.masked_frames is None else [m.to_dict() for m in self.masked_frames],
            frames=None if self.frames is None else [dict(f) for f in self.frames],
        )
        d.update({"input": self.input, "target": self.target, "mask": self.mask})
        return with_optional(d, transform_source=self.transform_source, film_keycode=self.film_keycode)

    @classmethod
    def from_dict(cls, d: Any, where: Where, position: int) -> AlignShot:
        """Check one shot entry (``position`` is its place in the list: the default ``index``)."""
        d = obj(where, d)
        first, last, b_first, b_last = align_shot_range(where, d)
        status = one_of(where.at("status"), d.get("status", "aligned"), STATUSES)
        count = d.get("frame_count")
        residuals, masked, frames = d.get("residuals"), d.get("masked_frames"), d.get("frames")
        masked_at, frames_at = where.at("masked_frames"), where.at("frames")

        def path(key: str) -> str | None:
            return optional(where.at(key), d.get(key), relative_path)

        def transform(key: str) -> Transform4 | None:
            return optional(where.at(key), d.get(key), lambda w, v: transform_from_dict(v, w))

        return cls(
            index=integer(where.at("index"), d.get("index", position)),
            first=first,
            last=last,
            status=status,
            reason=optional(where.at("reason"), d.get("reason"), string),
            broadcast_first=b_first,
            broadcast_last=b_last,
            film_first=optional(
                where.at("film_first"), d.get("film_first"), lambda w, v: integer(w, v, -MAX_FRAMES)
            ),
            transform=transform("transform"),
            distortion=optional(
                where.at("distortion"), d.get("distortion"), lambda w, v: radial_from_dict(v, w)
            ),
            input=path("input"),
            target=path("target"),
            mask=path("mask"),
            transform_source=optional(where.at("transform_source"), d.get("transform_source"), string),
            film_frame_number=optional(
                where.at("film_frame_number"),
                d.get("film_frame_number"),
                lambda w, v: integer(w, v, -MAX_FRAMES),
            ),
            frame_count=None
            if count is None
            else integer(where.at("frame_count"), count, 0, last - first + 1),
            residuals=None
            if residuals is None
            else json_value(where.at("residuals"), obj(where.at("residuals"), residuals)),
            sparse_transform=transform("sparse_transform"),
            masked_frames=None
            if masked is None
            else tuple(
                MaskedFrame.from_dict(m, masked_at.at(k)) for k, m in enumerate(items(masked_at, masked))
            ),
            frames=None
            if frames is None
            else tuple(_frame_stats(f, frames_at.at(k)) for k, f in enumerate(items(frames_at, frames))),
            film_keycode=optional(where.at("film_keycode"), d.get("film_keycode"), string),
        )


def _frame_stats(d: Any, where: Where) -> Mapping[str, Any]:
    d = obj(where, d)
    integer(where.at("frame"), required(where, d, "frame"))
    json_value(where, d)
    return dict(d)


@dataclass(frozen=True)
class ColourSpaces:
    """``colour``: the OpenColorIO colour spaces of the pairs (``remaster_core.colour_management``).

    Attributes:
        working: the space the input and target frames are written in (and the model is trained in).
        film: the film scan's space; broadcast: the conformed frames'.
        config: the OCIO config they are names of (a path or ``ocio://`` URI); film_source: how the
            film's space was chosen (``--film-colorspace``, a file tag, the stated default).
    """

    working: str
    film: str | None = None
    broadcast: str | None = None
    config: str | None = None
    film_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"working": self.working, "film": self.film, "broadcast": self.broadcast, "config": self.config}
        return with_optional(d, film_source=self.film_source)

    @classmethod
    def from_dict(cls, d: Any, where: Where) -> ColourSpaces:
        d = obj(where, d)

        def text(key: str) -> str | None:
            return optional(where.at(key), d.get(key), string)

        working = string(where.at("working"), required(where, d, "working"))
        if not working:
            where.at("working").fail("must name a colour space, got ''")
        return cls(working, text("film"), text("broadcast"), text("config"), text("film_source"))


@dataclass(frozen=True)
class AlignManifest:
    """The content of ``align.json`` (see the module docstring); ``path`` is the file (not compared)."""

    broadcast: Raster
    shots: tuple[AlignShot, ...]
    output_format: Raster | None = None
    version: int = VERSION
    conform: str | None = None
    film: str | None = None
    conventions: Mapping[str, str] | None = None
    summary: Mapping[str, int] | None = None
    params: Mapping[str, Any] | None = None
    colour: ColourSpaces | None = None
    path: Path = field(default=Path(FILENAME), compare=False, repr=False)

    @property
    def folder(self) -> Path:
        """PAIRS, the folder holding the file (``input``/``target``/``mask`` are relative to it)."""
        return self.path.parent

    def shifted(self, offset: int) -> AlignManifest:
        """The manifest with every shot's frame range moved by ``offset`` (frames renumbered).

        Raises:
            InputError: a shot would start before frame 0.
        """
        for k, shot in enumerate(self.shots):
            if shot.first + offset < 0:
                Where(self.path, f"shots[{k}].first", "give an offset that keeps frame numbers >= 0").fail(
                    f"{shot.first} moved by {offset} is before frame 0"
                )
        return replace(self, shots=tuple(s.shifted(offset) for s in self.shots))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (keys and layout as ``remaster align`` writes them)."""
        d = with_optional({"version": self.version}, conform=self.conform, film=self.film)
        d["output_format"] = None if self.output_format is None else self.output_format.to_dict()
        d["broadcast"] = self.broadcast.to_dict()
        with_optional(
            d,
            conventions=None if self.conventions is None else dict(self.conventions),
            summary=None if self.summary is None else dict(self.summary),
            params=None if self.params is None else dict(self.params),
            colour=None if self.colour is None else self.colour.to_dict(),
        )
        d["shots"] = [s.to_dict() for s in self.shots]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str | os.PathLike[str]) -> AlignManifest:
        """Check ``d`` (the JSON document of the file ``source``) and build the manifest.

        Raises:
            InputError: a missing, mistyped or out-of-range field, overlapping shots, a pattern outside
                the folder; the message names the file and the field path.
        """
        path = Path(source)
        top = Where(path, "", FIX)
        d = obj(top, d)
        found = version(top, d, VERSION)
        shots_at = top.at("shots")
        raw = d.get("shots")
        shots = tuple(
            AlignShot.from_dict(s, shots_at.at(k), k)
            for k, s in enumerate(items(shots_at, [] if raw is None else raw))
        )
        ranges_apart(shots_at, [(k, s.first, s.last) for k, s in enumerate(shots)])
        output = d.get("output_format")
        conventions, summary, params = d.get("conventions"), d.get("summary"), d.get("params")
        return cls(
            broadcast=Raster.from_dict(required(top, d, "broadcast"), top.at("broadcast")),
            shots=shots,
            output_format=None if output is None else Raster.from_dict(output, top.at("output_format")),
            version=found,
            conform=optional(top.at("conform"), d.get("conform"), string),
            film=optional(top.at("film"), d.get("film"), string),
            conventions=None if conventions is None else _texts(conventions, top.at("conventions")),
            summary=None if summary is None else _counts(summary, top.at("summary")),
            params=None
            if params is None
            else dict(json_value(top.at("params"), obj(top.at("params"), params))),
            colour=optional(top.at("colour"), d.get("colour"), lambda w, v: ColourSpaces.from_dict(v, w)),
            path=path,
        )


def _texts(d: Any, where: Where) -> dict[str, str]:
    return {str(k): string(where.at(str(k)), v) for k, v in obj(where, d).items()}


def _counts(d: Any, where: Where) -> dict[str, int]:
    return {str(k): integer(where.at(str(k)), v) for k, v in obj(where, d).items()}


def read_align(path: str | os.PathLike[str]) -> AlignManifest:
    """Read and check ``align.json``.

    Raises:
        InputError: the file is missing, is not JSON, or has a bad field (named, with the fix).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such align.json; give the file `remaster align` wrote (PAIRS/align.json)")
    return AlignManifest.from_dict(load_json(Where(p, "", FIX)), p)


def write_align(folder: str | os.PathLike[str], manifest: AlignManifest) -> Path:
    """Write ``manifest`` as ``folder/align.json`` atomically; returns the path."""
    path = Path(folder) / FILENAME
    write_json_atomic(path, manifest.to_dict())
    return path
