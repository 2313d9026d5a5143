"""The conform's shots as an editor's cut list: an OpenTimelineIO timeline and a CMX 3600 EDL, and back.

Written (``write_editorial``) beside conform.json, at 23.976 (the conformed frames' rate)::

    editorial/shots.otio    one video track, one clip per shot
    editorial/shots.edl     CMX 3600 (``otio-cmx3600-adapter``, Avid style), one cut event per shot

Each clip's source is the conformed reel (reel name ``REEL_NAME``; its media reference the frame
sequence, ``frames/frame.%06d.exr``, whose frame k carries the record timecode ``record_start + k``):
so an event's source and record timecode are both the 23.976 record timecode of its frames
(``conform.timecode``), and the timeline starts at ``record_start``. The broadcast's own timecode of
the shot's first and last fields (29.97, drop frame as the broadcast runs) is in each clip's metadata
(``remaster.broadcast_in`` / ``broadcast_out``, with the shot's conformed ``first``/``last``) and, in
the EDL, in a comment line under the event (``* BROADCAST 29.97 IN: 00:59:59;28.1 OUT: ...``).

Read (``read_cuts``): an EDL (``.edl``, read at 23.976) or an OpenTimelineIO file (``.otio`` or any
other format the installed adapters read): every clip of the first video track is an event, its
record range (the track position, plus the timeline's ``global_start_time``) is mapped to conformed
frames through the record timecode. A cut is every event's first frame but frame 0. Transitions are
taken at their cut point; the frames of a gap stay in the shot before it (the next clip starts a new
one). An event
that starts before the reel's first frame or ends after its last one, or that overlaps the event before
it, is an ``InputError`` naming the event, its timecode and the reel's range: the list does not fit
this broadcast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime

from remaster_core.conform.timecode import RECORD_RATE, TimecodeMap
from remaster_core.errors import InputError
from remaster_core.io.atomic import atomic_path
from remaster_core.io.timecode import timecode_frames, timecode_label

log = logging.getLogger("remaster.conform.editorial")

OTIO_NAME = "editorial/shots.otio"
EDL_NAME = "editorial/shots.edl"
REEL_NAME = "CONFORM"
_RATE = float(RECORD_RATE)


@dataclass(frozen=True)
class Shot:
    """Conformed frames ``first..last`` (inclusive) of one shot."""

    first: int
    last: int


def shots_from_cuts(cuts: Sequence[int], frame_count: int) -> list[Shot]:
    """The shots of a reel of ``frame_count`` frames cut at ``cuts`` (first frames, 0 optional)."""
    starts = sorted({0, *cuts})
    ends = [*starts[1:], frame_count]
    return [Shot(a, b - 1) for a, b in zip(starts, ends, strict=True) if a < frame_count]


def _rt(frames: int) -> opentime.RationalTime:
    return opentime.RationalTime(frames, _RATE)


def _field_of_last(shot: Shot, fields: Sequence[Sequence[int]] | None, last: bool) -> int:
    if fields is None:
        return 2 * (shot.last if last else shot.first) + (1 if last else 0)
    return max(fields[shot.last]) if last else min(fields[shot.first])


def shots_timeline(
    shots: Sequence[Shot],
    tc: TimecodeMap,
    *,
    name: str,
    frames_pattern: str,
    frame_fields: Sequence[Sequence[int]] | None = None,
) -> otio.schema.Timeline:
    """The shots as a timeline (see the module docstring).

    Args:
        shots: the shots, in order, covering the reel.
        tc: the conform's timecode.
        name: the timeline's name (the broadcast's file name).
        frames_pattern: the conformed frames' printf pattern, relative to the conform folder.
        frame_fields: the fields of every conformed frame (conform.json ``frames[k].fields``), for the
            broadcast timecode of each shot; None: two fields per frame from field 0.
    """
    record0 = timecode_frames(tc.record_start, RECORD_RATE)
    total = shots[-1].last + 1 if shots else 0
    timeline = otio.schema.Timeline(name=name, global_start_time=_rt(record0))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    folder, base = os.path.split(frames_pattern)
    prefix, _, rest = base.partition("%")
    digits = int(rest.split("d")[0] or 0) if rest[:1].isdigit() else 0
    suffix = rest.split("d", 1)[1] if "d" in rest else ""
    reference = otio.schema.ImageSequenceReference(
        target_url_base=folder + "/",
        name_prefix=prefix,
        name_suffix=suffix,
        start_frame=0,
        frame_zero_padding=digits,
        rate=_RATE,
        available_range=opentime.TimeRange(_rt(record0), _rt(total)),
    )
    for number, shot in enumerate(shots):
        clip = otio.schema.Clip(
            name=f"shot{number:03d}",
            media_reference=reference.clone(),
            source_range=opentime.TimeRange(_rt(record0 + shot.first), _rt(shot.last - shot.first + 1)),
        )
        clip.metadata["cmx_3600"] = {"reel": REEL_NAME}
        clip.metadata["remaster"] = {
            "first": shot.first,
            "last": shot.last,
            "broadcast_in": tc.source_field_label(_field_of_last(shot, frame_fields, last=False)),
            "broadcast_out": tc.source_field_label(_field_of_last(shot, frame_fields, last=True)),
        }
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


def _edl_text(timeline: otio.schema.Timeline) -> str:
    """CMX 3600 text of ``timeline``, with a broadcast-timecode comment under each event."""
    # the adapter places record timecode by the track's own range (as its reader does), not by
    # global_start_time: hand it a copy whose track starts at -record_start
    edl = timeline.clone()
    start = edl.global_start_time or _rt(0)
    track = edl.tracks[0]
    track.source_range = opentime.TimeRange(opentime.RationalTime(0, _RATE) - start, track.duration())
    edl.global_start_time = None
    text = otio.adapters.write_to_string(edl, adapter_name="cmx_3600", rate=_RATE, style="avid")
    comments = {
        f"* FROM CLIP NAME:  {clip.name}": "* BROADCAST 29.97 IN: {broadcast_in} OUT: {broadcast_out}".format(
            **clip.metadata["remaster"]
        )
        for clip in timeline.tracks[0]
        if isinstance(clip, otio.schema.Clip) and "remaster" in clip.metadata
    }
    lines: list[str] = []
    for line in text.splitlines():
        lines.append(line)
        if line.strip() in comments:
            lines.append(comments[line.strip()])
    return "\n".join(lines) + "\n"


def write_editorial(folder: str | Path, timeline: otio.schema.Timeline) -> dict[str, str]:
    """Write ``timeline`` as ``folder/editorial/shots.otio`` and ``.edl`` (atomically); returns
    ``{"otio": ..., "edl": ...}``, the paths relative to ``folder`` (conform.json's ``editorial``)."""
    folder = Path(folder)
    (folder / OTIO_NAME).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / OTIO_NAME) as tmp:
        tmp.write_text(otio.adapters.write_to_string(timeline, adapter_name="otio_json"), encoding="utf-8")
    with atomic_path(folder / EDL_NAME) as tmp:
        tmp.write_text(_edl_text(timeline), encoding="utf-8")
    return {"otio": OTIO_NAME, "edl": EDL_NAME}


def _read_timeline(path: Path) -> otio.schema.Timeline:
    if not path.is_file():
        raise InputError(f"{path}: no such cut list; give an EDL (.edl) or an OpenTimelineIO file (.otio)")
    try:
        if path.suffix.lower() == ".edl":
            result = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=_RATE)
        else:
            result = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # noqa: BLE001 (the adapters raise their own types and plain ValueErrors)
        raise InputError(
            f"{path}: cannot read it as a cut list ({type(exc).__name__}: {exc}); give a CMX 3600 EDL at "
            "23.976 (.edl) or an OpenTimelineIO file (.otio)"
        ) from None
    if not isinstance(result, otio.schema.Timeline):
        raise InputError(f"{path}: holds a {type(result).__name__}, not a timeline; export one sequence")
    if not result.video_tracks():
        raise InputError(f"{path}: the timeline has no video track")
    return result


def read_cuts(path: str | Path, frame_count: int, tc: TimecodeMap) -> list[int]:
    """The cuts of an editor's cut list, as conformed frame indices (first frame of every shot but 0).

    Args:
        path: an EDL or an OpenTimelineIO file (see the module docstring).
        frame_count: the conformed reel's frame count.
        tc: the conform's timecode (record timecode of frame 0).

    Raises:
        InputError: an unreadable file, or events that do not fit the reel (named, with timecodes).
    """
    path = Path(path)
    timeline = _read_timeline(path)
    record0 = timecode_frames(tc.record_start, RECORD_RATE)
    reel_in = tc.record_start
    reel_out = timecode_label(record0 + frame_count - 1, RECORD_RATE)
    start = timeline.global_start_time
    offset = 0 if start is None else round(start.rescaled_to(_RATE).value)
    track = timeline.video_tracks()[0]
    if track.source_range is not None:  # an EDL read: the first record timecode is the track's -start
        offset -= round(track.source_range.start_time.rescaled_to(_RATE).value)
    starts: list[int] = []
    previous_end = -1
    number = 0
    for item in track:
        if not isinstance(item, otio.schema.Clip):
            continue
        number += 1
        span = track.range_of_child(item)
        first = offset + round(span.start_time.rescaled_to(_RATE).value) - record0
        count = round(span.duration.rescaled_to(_RATE).value)
        last = first + count - 1
        label = (
            f"event {number} ({item.name or 'unnamed'}, record {timecode_label(record0 + first, RECORD_RATE)}"
        )
        label += f" - {timecode_label(record0 + last + 1, RECORD_RATE)})"
        if count <= 0:
            continue
        if first < 0 or last >= frame_count:
            raise InputError(
                f"{path}: {label} lies outside this broadcast's conformed reel, record {reel_in} - {reel_out} "
                f"({frame_count} frames at 23.976): the cut list is for another reel or another start "
                "timecode; export it from a sequence that starts at the reel's first record timecode"
            )
        if first <= previous_end:
            raise InputError(f"{path}: {label} overlaps the event before it; give one layer of cuts")
        starts.append(first)
        previous_end = last
    if not starts:
        raise InputError(f"{path}: the cut list holds no clip on its first video track")
    return sorted(s for s in set(starts) if s > 0)


def compare_cuts(detected: Sequence[int], given: Sequence[int]) -> tuple[list[int], list[int]]:
    """(cuts the list adds, detected cuts the list removes)."""
    a, b = set(detected), set(given)
    return sorted(b - a), sorted(a - b)
