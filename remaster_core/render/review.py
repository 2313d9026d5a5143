"""A review movie assembled from rendered frames: ProRes 422 HQ or H.264, with timecode.

``write_review(movie, output, frames)`` reads the rendered frames in frame order and encodes them with
``io.movie.write_movie`` (BT.709 tags, limited range; frames are taken as R'G'B' code values, as the
model writes them). Every frame must exist and decode: a review of an incomplete render would hide the
gap, so a missing frame is an ``InputError`` naming it.

Timecode, first match wins: the ``timecode`` argument; the first frame's own timecode (EXR and DPX keep
the input's: a render of a conform folder carries the conform's 23.976 record timecode); ``01:00:00:00``.
Frame rate: the ``fps`` argument; the first frame's; 24000/1001.

With the conform folder the frames were rendered from (``ReviewOptions.conform``):

- sound: the broadcast's audio (conform.json ``source``), muxed uncut and unresampled: the inverse
  telecine keeps the running time, so the n-th movie frame plays while the sound of its own fields
  plays, within the cadence's jitter (a film frame's first field is 0, 2, 5 or 7 fields into a 3:2
  cycle, against 0, 2.5, 5, 7.5 for even spacing). The sound starts at the median over the frames of
  (first field's time - movie time) (``sound_start``), which centres that jitter: within 0.75 field
  (12.5 ms) over a regular cadence. The drift of every frame (its first field's time against its movie time) is
  measured and logged; beyond one frame (an orphan or a dropped stretch moves the pictures against the
  sound) it is a warning naming the first frame concerned. A broadcast without sound, or no longer
  where conform.json says, gives a silent movie (logged).
- burn-ins (``burn_in``): record timecode, frame number and shot number, top left of every frame.
- colour (``display``, ``view``, ``ocio_config``): each frame is read in the colour space its tag
  names (``colour_management.colorspace_of``; untagged: the broadcast's). With a ``view`` (or a
  ``display``) it is shown through that OCIO display/view (``colour_management.to_display``; display
  default ``REVIEW_DISPLAY``, Rec.1886 Rec.709, as the movie is tagged); without, a frame tagged with
  another space than the broadcast's is converted to the broadcast's (the movie's code values are
  video, as its BT.709 tags say); the compared broadcast frame is shown the same way.
- compare (``compare``): "side-by-side" puts the conformed broadcast frame (scaled to the render's
  height at its display aspect) left of the render; "wipe" shows the broadcast frame (scaled to the
  render's raster) on the left half and the render on the right, split by a white line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from remaster_core import colour_management as cm
from remaster_core.errors import InputError
from remaster_core.io.audio import AudioTrack, read_audio
from remaster_core.io.images import ImageMeta, read_image, read_meta
from remaster_core.io.movie import MovieCodec, write_movie
from remaster_core.io.sequence import format_frame_range
from remaster_core.io.timecode import is_drop_frame, timecode_frames, timecode_label
from remaster_core.manifests.conform import ConformManifest, read_conform
from remaster_core.render.outputs import OutputSpec

log = logging.getLogger("remaster.render.review")

DEFAULT_FPS = Fraction(24000, 1001)
DEFAULT_TIMECODE = "01:00:00:00"
COMPARE_MODES = ("side-by-side", "wipe")
FIELD_SECONDS = Fraction(1001, 60000)


@dataclass(frozen=True)
class ReviewOptions:
    """What a supervisor's review movie shows besides the render (see the module docstring).

    Attributes:
        conform: the conform folder the frames were rendered from (sound, shots, broadcast frames), or None.
        audio: mux the broadcast's sound (needs ``conform``).
        burn_in: burn in timecode, frame and shot.
        compare: None, "side-by-side" or "wipe" (needs ``conform``).
        display, view: the OCIO display and view the frames are shown through, or None (see the module
            docstring); ocio_config: the config (None: ``$OCIO``, else the built-in studio config).
    """

    conform: str | Path | None = None
    audio: bool = True
    burn_in: bool = False
    compare: str | None = None
    display: str | None = None
    view: str | None = None
    ocio_config: str | None = None


def _review_colour(opts: ReviewOptions) -> Callable[[np.ndarray, ImageMeta], np.ndarray]:
    """The function that turns a frame (pixels, metadata) into the movie's code values (module docstring)."""
    config = cm.load_config(opts.ocio_config)
    video = config.resolve(cm.BROADCAST_DEFAULT) if config.has(cm.BROADCAST_DEFAULT) else None
    shown = cm.display_view(config, opts.display, opts.view) if opts.view or opts.display else None

    def convert(rgb: np.ndarray, meta: ImageMeta) -> np.ndarray:
        space = cm.colorspace_of(meta, config)[0] or video
        if space is None:
            return rgb
        if shown is not None:
            return cm.to_display(rgb, config, space, *shown)
        return cm.convert(rgb, config, space, video) if video is not None else rgb

    return convert


def _source_seconds(manifest: ConformManifest, frame: int) -> Fraction:
    """Broadcast time (from its first frame) of the first field of conformed ``frame``."""
    if manifest.frames is None or not 0 <= frame < len(manifest.frames):
        return Fraction(frame) / Fraction(manifest.fps)
    return min(manifest.frames[frame].fields) * FIELD_SECONDS


def sound_start(manifest: ConformManifest, frames: Sequence[int], fps: Fraction) -> Fraction:
    """Broadcast time at which the movie's sound starts: the median of (first field's time - movie time)
    over the frames, so the cadence's jitter is centred on zero instead of on the first frame's."""
    offsets = sorted(_source_seconds(manifest, f) - Fraction(n) / fps for n, f in enumerate(frames))
    return offsets[len(offsets) // 2]


def sync_drift(manifest: ConformManifest, frames: Sequence[int], fps: Fraction) -> list[float]:
    """Seconds each frame's sound (its first field's time) is ahead (+) of its picture in the movie."""
    t0 = sound_start(manifest, frames, fps)
    return [float(_source_seconds(manifest, f) - t0 - Fraction(n) / fps) for n, f in enumerate(frames)]


def review_audio(manifest: ConformManifest, frames: Sequence[int], fps: Fraction) -> AudioTrack | None:
    """The broadcast's sound for a movie of conformed ``frames`` (see the module docstring), or None."""
    source = Path(manifest.source) if manifest.source else None
    if source is None or not source.is_file():
        log.warning("review movie: the broadcast %s is not there; the movie is silent", manifest.source)
        return None
    track = read_audio(source, float(sound_start(manifest, frames, fps)), float(len(frames) / fps))
    if track is None:
        log.info("review movie: %s has no sound; the movie is silent", source)
        return None
    drift = sync_drift(manifest, frames, fps)
    worst = max(range(len(drift)), key=lambda n: abs(drift[n]))
    frame_time = float(1 / fps)
    if abs(drift[worst]) > frame_time:
        first = next(n for n, d in enumerate(drift) if abs(d) > frame_time)
        log.warning(
            "review movie: the sound drifts %.1f ms from the picture at frame %d (first beyond one frame: "
            "frame %d); orphans or dropped video frames moved the pictures against the broadcast",
            1000 * drift[worst],
            frames[worst],
            frames[first],
        )
    else:
        log.info(
            "review movie: sound in sync within %.1f ms over %d frames", 1000 * abs(drift[worst]), len(frames)
        )
    return track


def _shot_of(manifest: ConformManifest | None, frame: int) -> int | None:
    if manifest is None:
        return None
    return next((k for k, s in enumerate(manifest.shots) if s.first <= frame <= s.last), None)


def burn_in(rgb: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``rgb`` (H, W, 3) float with ``lines`` of text top left, white on a dark box."""
    out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
    h = out.shape[0]
    scale = max(0.35, h / 900)
    thick = max(1, round(scale * 2))
    pad = max(4, round(8 * scale))
    ink = np.zeros(out.shape[:2], np.uint8)  # OpenCV draws text on 8-bit pictures only
    y = pad
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        out[max(0, y - 2) : y + th + base + 2, max(0, pad - 4) : pad + tw + 4] *= 0.3
        cv2.putText(ink, line, (pad, y + th), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
        y += th + base + pad
    alpha = (ink.astype(np.float32) / 255.0)[..., None]
    return out * (1.0 - alpha) + alpha


def compose(render: np.ndarray, broadcast: np.ndarray, mode: str, broadcast_aspect: float) -> np.ndarray:
    """The render beside (``side-by-side``) or wiped with (``wipe``) the broadcast frame (both (H, W, 3))."""
    h, w = render.shape[:2]
    if mode == "side-by-side":
        bw = max(1, round(broadcast.shape[1] * broadcast_aspect * h / broadcast.shape[0]))
        left = cv2.resize(broadcast.astype(np.float32), (bw, h), interpolation=cv2.INTER_AREA)
        return np.concatenate([left, render.astype(np.float32)], axis=1)
    if mode == "wipe":
        left = cv2.resize(broadcast.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        out = render.astype(np.float32).copy()
        half = w // 2
        out[:, :half] = left[:, :half]
        out[:, max(0, half - 1) : half + 1] = 1.0
        return out
    raise InputError(f"review compare {mode!r}: choose one of {', '.join(COMPARE_MODES)}")


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
    options: ReviewOptions | None = None,
) -> Path:
    """Encode the rendered ``frames`` of ``output`` into ``movie`` (see the module docstring).

    Args:
        movie: the movie file (.mov or .mp4).
        output: where the frames are.
        frames: the frames, encoded in ascending order.
        codec: "prores_hq" or "h264"; None: from the extension (``review_codec``).
        fps: frame rate; None: the first frame's, else 24000/1001.
        timecode: start timecode ``HH:MM:SS:FF``; None: the first frame's, else 01:00:00:00.
        options: sound, burn-ins and comparison (``ReviewOptions``); None: the frames alone.

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
    opts = options or ReviewOptions()
    if opts.compare is not None and opts.compare not in COMPARE_MODES:
        raise InputError(f"review compare {opts.compare!r}: choose one of {', '.join(COMPARE_MODES)}")
    if opts.compare is not None and opts.conform is None:
        raise InputError(
            "review movie: a comparison with the broadcast needs the conform folder as the input"
        )
    manifest = read_conform(opts.conform) if opts.conform is not None else None
    audio = review_audio(manifest, ordered, rate) if manifest is not None and opts.audio else None
    aspect = float(Fraction(manifest.pixel_aspect)) if manifest and manifest.pixel_aspect else 1.0
    start_count = timecode_frames(start, rate, where=f"review movie {movie}") if opts.burn_in else 0

    colour = _review_colour(opts)

    def pictures() -> Iterator[np.ndarray]:
        for n, frame in enumerate(ordered):
            rgb = colour(*read_image(output.path(frame)))
            if opts.compare is not None and manifest is not None:
                broadcast = colour(*read_image(manifest.frames_path % frame))
                rgb = compose(rgb, broadcast, opts.compare, aspect)
            if opts.burn_in:
                label = timecode_label(start_count + n, rate, drop=is_drop_frame(start))
                lines = [f"TC {label}", f"frame {frame}"]
                shot = _shot_of(manifest, frame)
                if shot is not None:
                    lines.append(f"shot {shot}")
                rgb = burn_in(rgb, lines)
            yield rgb

    path = write_movie(movie, pictures(), fps=rate, codec=codec, timecode=start, audio=audio)
    log.info("review movie %s: %d frames, %s, %s fps, timecode %s", path, len(ordered), codec, rate, start)
    return path
