"""SMPTE timecode: labels <-> frame counts (OpenTimelineIO's ``opentime``), and a video file's start timecode.

Arithmetic. A timecode label is turned into a frame count and back only here, with ``opentime`` (the
drop-frame rules of SMPTE 12M live there, not in this project): ``timecode_frames("00:59:59;28",
30000/1001)`` is 107890, ``timecode_label(107892, 30000/1001, drop=True)`` is ``"01:00:00;00"``. A ``;``
(or ``.``) before the frames marks drop frame, which exists at 29.97 and 59.94 only; 23.976 timecode is
counted at 24 (non-drop), 29.97 non-drop at 30. A drop-frame label that does not exist (``00:01:00;00``:
frames 0 and 1 of every minute but each tenth are skipped) is refused rather than moved.

Reading (``read_video_timecode``), first match wins:

1. a ``timecode`` tag of the container or of any of its streams (QuickTime/MP4 ``tmcd`` track, DV
   subcode, MXF): the timecode of the file's first frame;
2. the first MPEG-2 GOP header's timecode among the first ``GOP_SEARCH_FRAMES`` decoded frames (FFmpeg
   hands it out as frame metadata; PyAV's ``stream.metadata`` stays empty for it): the frame carrying it
   has that label, so frame 0 has it minus that frame's index. Only the first GOP is used: FFmpeg's own
   MPEG-2 encoder numbers later GOP headers of B-frame streams by coded order, and its decoder attaches
   them a frame early, so later labels are not trustworthy enough to check a reel against.
3. none: ``None`` (the caller states and logs its default).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from opentimelineio import opentime

from remaster_core.errors import InputError, MediaError

log = logging.getLogger("remaster.io.timecode")

GOP_SEARCH_FRAMES = 60
"""How many decoded frames are searched for the first GOP timecode (two seconds of 29.97)."""

_LABEL = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;.])(\d{2})$")
_DROP_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))


@dataclass(frozen=True)
class VideoTimecode:
    """A video file's timecode: ``start`` labels frame 0; ``origin`` says where it was read."""

    start: str
    origin: str


def is_drop_frame(label: str) -> bool:
    """Whether ``label`` is written as drop frame (``;`` or ``.`` before the frames)."""
    return label[8:9] in (";", ".")


def timecode_frames(label: str, rate: Fraction, *, where: str = "timecode") -> int:
    """The frame count of ``label`` (from 00:00:00:00) at ``rate``; drop frame when written with ``;``.

    Raises:
        InputError: not ``HH:MM:SS:FF``, frames not below the nominal rate, drop frame at a rate
            without it, or a drop-frame label that does not exist (``where`` names the source).
    """
    rate = Fraction(rate)
    match = _LABEL.match(label)
    nominal = round(rate)
    if match is None or int(match.group(5)) >= nominal:
        raise InputError(
            f"{where}: {label!r} is not HH:MM:SS:FF (HH:MM:SS;FF for drop frame) with frames below {nominal}"
        )
    drop = match.group(4) != ":"
    if drop and rate not in _DROP_RATES:
        raise InputError(
            f"{where}: {label!r} is drop frame, which exists only at 29.97 and 59.94 fps, not {float(rate):.3f}"
        )
    text = label.replace(".", ";")
    frames = round(opentime.from_timecode(text, float(rate)).value)
    if drop and timecode_label(frames, rate, drop=True) != text:
        raise InputError(
            f"{where}: {label!r} does not exist in drop-frame timecode (frames 00 and 01 of every minute "
            "but each tenth are skipped); check the source"
        )
    return frames


def timecode_label(frames: int, rate: Fraction, *, drop: bool = False) -> str:
    """The label of frame count ``frames`` at ``rate`` (drop frame with ``drop``, 29.97/59.94 only).

    Counts wrap at 24 hours, as timecode does.
    """
    rate = Fraction(rate)
    if drop and rate not in _DROP_RATES:
        raise InputError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not {float(rate):.3f}")
    per_day = round(opentime.from_timecode("23:59:59;29" if drop else "23:59:59:00", float(rate)).value)
    per_day += 1 if drop else round(rate)
    return str(opentime.to_timecode(opentime.RationalTime(frames % per_day, float(rate)), float(rate), drop))


def read_video_timecode(path: str | Path) -> VideoTimecode | None:
    """The timecode of frame 0 of ``path`` (see the module docstring), or None when it carries none.

    A malformed tag is logged and skipped. Raises ``MediaError`` only for a file PyAV cannot open.
    """
    path = Path(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: cannot be read as a video file ({exc})") from exc
    try:
        tags = [("container", container.metadata)] + [
            (f"stream {s.index} ({s.type})", s.metadata) for s in container.streams
        ]
        for origin, metadata in tags:
            label = (metadata or {}).get("timecode")
            if label and _LABEL.match(label):
                return VideoTimecode(label, f"{origin} timecode tag")
            if label:
                log.warning("%s: %s timecode tag %r is not HH:MM:SS:FF; ignored", path, origin, label)
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index >= GOP_SEARCH_FRAMES:
                    break
                label = (frame.metadata or {}).get("timecode")
                if label and _LABEL.match(label):
                    rate = Fraction(stream.guessed_rate or stream.average_rate or 0)
                    if index == 0 or not rate:
                        return VideoTimecode(label, "first GOP header")
                    start = timecode_frames(label, rate, where=str(path)) - index
                    return VideoTimecode(
                        timecode_label(start, rate, drop=is_drop_frame(label)),
                        f"first GOP header (frame {index}: {label})",
                    )
        except av.FFmpegError as exc:
            log.warning("%s: decoding stopped while looking for a GOP timecode (%s)", path, exc)
        return None
    finally:
        container.close()
