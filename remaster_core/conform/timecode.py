"""The broadcast's timecode mapped through the inverse telecine to the conformed frames' 23.976 timecode.

Source timecode: the broadcast's own (``io.timecode.read_video_timecode``: the container's tag, else the
first MPEG-2 GOP header). A broadcast that carries none gets ``DEFAULT_SOURCE_29_97`` (``01:00:00;00``
drop frame: NTSC masters run drop frame) or, at 23.976, ``DEFAULT_SOURCE_23_976`` (``01:00:00:00``);
the default is logged as a warning and recorded (``origin`` "default").

Record timecode: 23.976 non-drop (counted at 24), one label per conformed frame, contiguous: frame k
is ``record_start + k``. The inverse telecine keeps the running time (4 film frames in 5 video frames,
both 1000/1001 slow), so ``record_start`` is the source's running time at the first field of output
frame 0, counted in 23.976 frames: ``round((2 S + f0) * 2 / 5)`` with S the frame count of the source
start label (drop-frame aware) and f0 that first field (field 2k is the first in time of broadcast
frame k). Over a regular 3:2 cadence the film frames start at fields 0, 2, 5, 7 of each ten, so this
is exact for any cadence phase. A 23.976 progressive source keeps its own count: ``S + k``. For a
non-drop source the record label reads the same hours, minutes and seconds as the source label at
every A frame; for a drop-frame source the record label runs behind the source label by the frames
drop frame skips (00:59:59;28 DF is 00:59:56:08 at 23.976): both name the same moment.

Source fields' timecode: ``source_field_label(f)`` is the label of broadcast frame f // 2 with
``.1`` (first field in time) or ``.2`` (second) appended, e.g. ``00:59:59;28.2``.

Stamped on every conformed frame (``stamp``): the record label as the file's SMPTE timecode
(``smpte:TimeCode``; EXR and DPX hold it) and the fields the frame shows as the string attribute
``remaster:source_timecode`` (space separated, in time order), which ``remaster render`` carries to
its EXR and PNG output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from remaster_core.io.images import ImageMeta
from remaster_core.io.timecode import is_drop_frame, read_video_timecode, timecode_frames, timecode_label
from remaster_core.manifests import conform as manifest

log = logging.getLogger("remaster.conform.timecode")

RECORD_RATE = Fraction(24000, 1001)
DEFAULT_SOURCE_29_97 = "01:00:00;00"
DEFAULT_SOURCE_23_976 = "01:00:00:00"
SOURCE_ATTRIBUTE = "remaster:source_timecode"
"""The image attribute that holds the source fields' timecode of a conformed (and rendered) frame."""


@dataclass(frozen=True)
class TimecodeMap:
    """Source (broadcast) and record (23.976) timecode of a conform.

    Attributes:
        source_start: label of broadcast frame 0 (``;`` for drop frame).
        source_rate: the broadcast's frame rate (30000/1001 or 24000/1001).
        origin: where ``source_start`` came from ("container timecode tag", "first GOP header", "default").
        record_start: 23.976 label of conformed frame 0.
    """

    source_start: str
    source_rate: Fraction
    origin: str
    record_start: str

    @property
    def drop_frame(self) -> bool:
        """Whether the source timecode is drop frame."""
        return is_drop_frame(self.source_start)

    def record_label(self, index: int) -> str:
        """The 23.976 record label of conformed frame ``index``."""
        start = timecode_frames(self.record_start, RECORD_RATE)
        return timecode_label(start + index, RECORD_RATE)

    def source_frame_label(self, frame: int) -> str:
        """The source label of broadcast frame ``frame``."""
        start = timecode_frames(self.source_start, self.source_rate)
        return timecode_label(start + frame, self.source_rate, drop=self.drop_frame)

    def source_field_label(self, field: int) -> str:
        """The source label of field ``field`` (2k, 2k+1: broadcast frame k), ``.1``/``.2`` appended."""
        return f"{self.source_frame_label(field // 2)}.{field % 2 + 1}"

    def to_manifest(self) -> manifest.Timecode:
        """The ``timecode`` block of conform.json."""
        rate = self.source_rate
        return manifest.Timecode(
            source_start=self.source_start,
            source_rate=f"{rate.numerator}/{rate.denominator}",
            drop_frame=self.drop_frame,
            origin=self.origin,
            record_start=self.record_start,
            record_rate=f"{RECORD_RATE.numerator}/{RECORD_RATE.denominator}",
        )


def record_start_frames(source_start: int, first_field: int, source_rate: Fraction) -> int:
    """The 23.976 frame count of conformed frame 0 (see the module docstring).

    Args:
        source_start: frame count of the source label of broadcast frame 0.
        first_field: the first field (in time) of conformed frame 0.
        source_rate: 30000/1001 (inverse telecined) or 24000/1001 (passed through).
    """
    if Fraction(source_rate) == RECORD_RATE:
        return source_start + first_field // 2
    return round(Fraction(2 * source_start + first_field) * 2 / 5)


def timecode_map(
    path: str | Path, source_rate: Fraction, first_field: int, *, start: str | None = None
) -> TimecodeMap:
    """Read the broadcast's timecode (or take ``start``) and map it (see the module docstring).

    Raises:
        InputError: ``start`` or the broadcast's label is not a timecode at ``source_rate``.
    """
    rate = Fraction(source_rate)
    origin = "given"
    if start is None:
        found = read_video_timecode(path)
        if found is None:
            start = DEFAULT_SOURCE_23_976 if rate == RECORD_RATE else DEFAULT_SOURCE_29_97
            origin = "default"
            log.warning(
                "%s: the broadcast carries no timecode (no container tag, no GOP timecode); counting from %s",
                path,
                start,
            )
        else:
            start, origin = found.start, found.origin
    if rate == RECORD_RATE and is_drop_frame(start):
        start = start[:8] + ":" + start[9:]
    frames = timecode_frames(start, rate, where=f"{path}: source timecode")
    record = timecode_label(record_start_frames(frames, first_field, rate), RECORD_RATE)
    log.info("timecode: source %s (%s), record %s at 23.976", start, origin, record)
    return TimecodeMap(start, rate, origin, record)


def stamp(meta: ImageMeta, tc: TimecodeMap, index: int, fields: list[int]) -> ImageMeta:
    """``meta`` with the record timecode of conformed frame ``index`` and its source ``fields``' labels."""
    labels = " ".join(tc.source_field_label(f) for f in sorted(fields))
    return replace(meta, timecode=tc.record_label(index), extra={**meta.extra, SOURCE_ATTRIBUTE: labels})
