"""A video file's sound, decoded with PyAV and cut to a stretch of its picture's time (for review movies).

``read_audio(path, start, duration)`` decodes the first audio stream to float32 samples and returns the
stretch that plays from ``start`` seconds after the file's *first video frame* for ``duration``
seconds: the stream timestamps place the sound against the picture (a program stream's audio often
starts a few milliseconds before its video, and its decoder's delay is already in the timestamps), so
sample 0 of the result plays with the picture at ``start``. Where the sound does not reach, silence is
filled in (logged). The sample rate and channels are kept: the inverse telecine keeps the running
time, so the sound needs no resampling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from remaster_core.errors import MediaError

log = logging.getLogger("remaster.io.audio")


@dataclass(frozen=True)
class AudioTrack:
    """Sound to mux: ``samples`` float32 (N, C) in -1..1 at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        """The duration."""
        return self.samples.shape[0] / self.rate


def read_audio(path: str | Path, start: float, duration: float) -> AudioTrack | None:
    """The sound of ``path`` from ``start`` s after its first video frame, ``duration`` s long; None when
    the file has no audio stream (see the module docstring).

    Raises:
        MediaError: the file cannot be opened, or its audio does not decode.
    """
    path = Path(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: cannot be read as a media file ({exc})") from exc
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        video = container.streams.video[0] if container.streams.video else None
        origin = Fraction(0)
        if video is not None and video.start_time is not None and video.time_base is not None:
            origin = video.start_time * video.time_base
        rate = stream.rate or stream.codec_context.sample_rate
        first = round((origin + Fraction(start).limit_denominator(10**6)) * rate)  # in stream samples
        count = round(duration * rate)
        channels = stream.codec_context.channels or 1
        out = np.zeros((count, channels), np.float32)
        filled = 0
        try:
            for frame in container.decode(stream):
                data = frame.to_ndarray()
                pcm = data.T if frame.format.is_planar else data.reshape(-1, channels)
                if np.issubdtype(pcm.dtype, np.integer):
                    top = float(np.iinfo(pcm.dtype.type).max)  # type: ignore[type-var]
                    pcm = pcm.astype(np.float32) * np.float32(1.0 / top)
                at = (
                    round(frame.pts * frame.time_base * rate)
                    if frame.pts is not None and frame.time_base is not None
                    else None
                )
                if at is None:
                    continue
                a, b = max(at, first), min(at + pcm.shape[0], first + count)
                if a < b:
                    out[a - first : b - first] = pcm[a - at : b - at, :channels]
                    filled += b - a
                if at >= first + count:
                    break
        except av.FFmpegError as exc:
            raise MediaError(f"{path}: the sound does not decode ({exc})") from exc
        if filled < count:
            log.warning(
                "%s: the sound covers %.3f of the %.3f s asked; the rest is silence",
                path,
                filled / rate,
                duration,
            )
        return AudioTrack(out, int(rate))
    finally:
        container.close()
