"""A review movie assembled from rendered frames: ProRes 422 HQ or H.264, with timecode.

``write_review(movie, output, frames)`` reads the rendered frames in frame order and encodes them with
``io.movie.write_movie`` (BT.709 tags, limited range; frames are taken as R'G'B' code values, as the
model writes them). Every frame must exist and decode: a review of an incomplete render would hide the
gap, so a missing frame is an ``InputError`` naming it.

Timecode, first match wins: the ``timecode`` argument; the first frame's own timecode (EXR and DPX keep
the input's); ``01:00:00:00``. Frame rate: the ``fps`` argument; the first frame's; 24000/1001.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from remaster_core.errors import InputError
from remaster_core.io.images import read_image, read_meta
from remaster_core.io.movie import MovieCodec, write_movie
from remaster_core.io.sequence import format_frame_range
from remaster_core.render.outputs import OutputSpec

log = logging.getLogger("remaster.render.review")

DEFAULT_FPS = Fraction(24000, 1001)
DEFAULT_TIMECODE = "01:00:00:00"


def review_codec(path: str | Path) -> MovieCodec:
    """The codec for a movie path: ProRes 422 HQ for ``.mov``, H.264 for ``.mp4``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mov":
        return "prores_hq"
    if suffix == ".mp4":
        return "h264"
    raise InputError(f"review movie {path}: use .mov (ProRes 422 HQ) or .mp4 (H.264)")


def write_review(
    movie: str | Path,
    output: OutputSpec,
    frames: Sequence[int],
    *,
    codec: MovieCodec | None = None,
    fps: Fraction | None = None,
    timecode: str | None = None,
) -> Path:
    """Encode the rendered ``frames`` of ``output`` into ``movie`` (see the module docstring).

    Args:
        movie: the movie file (.mov or .mp4).
        output: where the frames are.
        frames: the frames, encoded in ascending order.
        codec: "prores_hq" or "h264"; None: from the extension (``review_codec``).
        fps: frame rate; None: the first frame's, else 24000/1001.
        timecode: start timecode ``HH:MM:SS:FF``; None: the first frame's, else 01:00:00:00.

    Returns:
        The movie's path.

    Raises:
        InputError: no frames, a missing frame (all missing ones are listed), a bad extension or timecode.
        MediaError: a frame that does not decode, or the encoder failing.
    """
    ordered = sorted(set(frames))
    if not ordered:
        raise InputError(f"review movie {movie}: no frames to encode")
    missing = [f for f in ordered if not output.path(f).is_file()]
    if missing:
        raise InputError(
            f"review movie {movie}: {len(missing)} rendered frame(s) missing ({format_frame_range(missing)}, "
            f"e.g. {output.path(missing[0])}); finish the render first"
        )
    first = read_meta(output.path(ordered[0]))
    codec = codec or review_codec(movie)
    rate = fps or first.frame_rate or DEFAULT_FPS
    start = timecode or first.timecode or DEFAULT_TIMECODE

    def pictures() -> Iterator[np.ndarray]:
        for frame in ordered:
            rgb, _ = read_image(output.path(frame))
            yield rgb

    path = write_movie(movie, pictures(), fps=rate, codec=codec, timecode=start)
    log.info("review movie %s: %d frames, %s, %s fps, timecode %s", path, len(ordered), codec, rate, start)
    return path
