"""Probe and decode broadcast video (MPEG-2, DV, ProRes, H.264, ...) with PyAV: Y'CbCr planes, fields, RGB.

The decode path keeps the stored samples: ``iter_ycbcr_frames`` hands out the raw Y', Cb, Cr planes
(code values, chroma still subsampled), so inverse telecine can work on fields without any resampling
or colour conversion in between. ``frame_to_rgb`` is the one place where planes become R'G'B', with
the matrix and range named (``remaster_core.color``) and 4:2:0 chroma upsampled field by field when
the picture is interlaced.

What the stream metadata decides, and the defaults when it is silent (see ``probe_video``):

- field order: the container / codec field order (PyAV ``stream.codec_context.field_order``: PyAV has
  no per-frame ``top_field_first``). Raw DV at SD sizes carries none: DV 525/60 and 625/50 are
  bottom field first by definition (IEC 61834, SMPTE 314M), so "bff" is reported for them.
- matrix: the stream's colorspace tag (SMPTE 170M / BT.470BG -> bt601, BT.709 -> bt709); untagged:
  bt601 for height <= 576 (SD), bt709 above. Other tags (BT.2020, SMPTE 240M) fall back to that default
  with a logged warning: pass ``matrix=`` explicitly for such sources.
- range: the colour range tag, or a ``yuvj*`` pixel format, for full; limited otherwise.
- pixel aspect: the stream's sample aspect ratio, else the codec's, else 1.
- frame count: the container's index when it has one (MOV/MP4: exact); otherwise the video packets
  are counted (exact, a demux-only pass, which is cheap) when the file is SD or under 2 GiB; otherwise
  estimated from duration x rate (``frame_count_exact`` says which).

Broken files. Decoding yields every frame that decodes and then raises ``MediaError`` naming the file
and the index of the first frame that could not be produced, when any of these is seen: the demuxer
or decoder reports an error; a packet or frame is flagged corrupt; a packet reaches past the end of
the file (a truncated fixed-size frame, e.g. raw DV); or the decoded frames stop more than half a frame
short of where the stream's own timestamps say it ends (a truncated MPEG program stream: its demuxer
silently drops the cut last frame). A gap of missing timestamps in mid-stream is only logged as a
warning (captures have legitimate discontinuities). Bitstream damage the decoder conceals without
reporting (as ``ffmpeg`` would) is not detected. Frames are never skipped silently after an error.

Limitation: MPEG-2 soft telecine (repeat_first_field) is decoded as the coded frames; PyAV exposes
neither ``repeat_pict`` nor a per-frame field order, so such a stream is not expanded to 29.97 here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from remaster_core.color import Range, YCbCrMatrix, upsample_chroma, upsample_field_chroma, ycbcr_to_rgb
from remaster_core.errors import MediaError

log = logging.getLogger("remaster.io.video")

FieldOrder = Literal["tff", "bff", "progressive", "unknown"]
Parity = Literal["top", "bottom"]

# libavutil AVFieldOrder: UNKNOWN, PROGRESSIVE, TT, BB, TB (top coded first, bottom displayed first),
# BT (bottom coded first, top displayed first). We report the *display* order.
_FIELD_ORDER_BY_AV = {0: "unknown", 1: "progressive", 2: "tff", 3: "bff", 4: "bff", 5: "tff"}
# libavutil AVColorSpace values.
_AVCOL_SPC_BT709 = 1
_AVCOL_SPC_UNSPECIFIED = 2
_AVCOL_SPC_BT601 = {5, 6}  # BT470BG (625-line), SMPTE170M (525-line): the same matrix
# libavutil AVColorRange values.
_AVCOL_RANGE_JPEG = 2

_SD_MAX_HEIGHT = 576
_COUNT_PACKETS_MAX_BYTES = 2 * 1024**3

FIELD_PICTURE_CODECS = frozenset({"prores"})
"""FFmpeg decoder names of codecs that code an interlaced frame's two fields as two separate pictures
(Apple ProRes in its interlaced modes). Measured on the stress reels (``synth.stress``): a field that
shares its frame with a field of another shot weaves about 5 dB better than it rebuilds with ProRes,
while with MPEG-2 and DV it decodes worse than its partner (DV, seed 985: rebuilt from the clean field
44.3 dB, woven 42.9)."""


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learned about a file's first video stream.

    Attributes:
        path: the file.
        codec: FFmpeg decoder name ("mpeg2video", "dvvideo", "prores", "h264", ...).
        width, height: coded picture size in pixels.
        fps: frame rate (30000/1001 for NTSC 29.97, interlaced or not).
        frame_count: number of frames; exact when ``frame_count_exact`` (index or packet count),
            otherwise estimated from duration x fps.
        field_order: "tff", "bff", "progressive" or "unknown" (display order of the fields).
        pixel_aspect: sample aspect ratio (8/9 for NTSC 4:3 at 720x480 per ffmpeg's convention; 1 if unknown).
        matrix, range: the Y'CbCr matrix and code range to convert with (tagged, or defaulted: see module doc).
        pix_fmt: FFmpeg pixel format of the decoded planes ("yuv420p", "yuv411p", "yuv422p10le", ...).
        bit_depth: bits per code value (8 or 10 usually).
        chroma_subsampling: (horizontal, vertical) factors: (2, 2) 4:2:0, (2, 1) 4:2:2, (4, 1) 4:1:1, (1, 1) 4:4:4.
        frame_count_exact: whether ``frame_count`` is exact.
        fields_coded_apart: the codec codes the two fields of an interlaced frame as two pictures
            (``FIELD_PICTURE_CODECS``), so a frame whose fields show two shots costs neither field its
            quality; MPEG-2 and H.264 (frame pictures, predicted from each other) and DV (one intra
            frame, its DCT blocks mixing the fields where they differ) code the two together.
    """

    path: Path
    codec: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    field_order: FieldOrder
    pixel_aspect: Fraction
    matrix: YCbCrMatrix
    range: Range
    pix_fmt: str
    bit_depth: int
    chroma_subsampling: tuple[int, int]
    frame_count_exact: bool = True
    fields_coded_apart: bool = False


@dataclass
class YCbCrFrame:
    """One decoded picture as stored: code values, chroma not upsampled.

    Attributes:
        index: position in the decoder's output (presentation) order, from 0 for the file's first frame.
        y: (H, W) luma codes, uint8 (8-bit) or uint16 (10/12/16-bit, value range 0..2^bit_depth-1).
        cb, cr: chroma planes as stored, same dtype: (ceil(H/fy), ceil(W/fx)) for subsampling (fx, fy).
        interlaced: the decoder's ``interlaced_frame`` flag (an interlaced-coded picture: for 4:2:0 its
            chroma rows alternate fields).
        pts: presentation timestamp in the stream's time base, or None (elementary streams, woven frames).
    """

    index: int
    y: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    interlaced: bool
    pts: int | None = None


@dataclass
class Field:
    """One field of a frame: its own lines only.

    Attributes:
        parity: "top" (frame rows 0, 2, 4, ...) or "bottom" (rows 1, 3, 5, ...).
        y: (ceil(H/2) or floor(H/2), W) luma codes of that field.
        cb, cr: chroma rows 0::2 (top) / 1::2 (bottom) of the frame's chroma planes. For interlaced 4:2:0
            these are exactly that field's chroma; for 4:2:2 / 4:1:1 the chroma of the field's lines; for a
            progressive 4:2:0 picture an approximation (its chroma rows are shared by both fields).
        frame_index: index of the frame the field came from.
    """

    parity: Parity
    y: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    frame_index: int


# --------------------------------------------------------------------------------------------- probing


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise MediaError(f"{path}: not a file; give the path of a video file")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(
            f"{path}: cannot be read as a video file ({exc}); check that it is a video "
            "(MPEG-2, DV, ProRes, H.264) and that its start is not damaged"
        ) from exc
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        container.close()
        raise MediaError(f"{path}: has no video stream (format {container.format.name}, holds {kinds})")
    return container


def _planar_yuv_layout(path: Path, pix_fmt: str) -> tuple[int, tuple[int, int]]:
    """Bit depth and (fx, fy) chroma subsampling of a planar Y'CbCr pixel format, or MediaError."""
    remedy = "transcode it first, e.g. ffmpeg -i IN -c:v prores_ks -profile:v 3 -pix_fmt yuv422p10le OUT.mov"
    fmt = av.VideoFormat(pix_fmt, 64, 64)
    comps = fmt.components
    planar = len(comps) >= 3 and [c.plane for c in comps[:3]] == [0, 1, 2] and not fmt.is_rgb
    if not planar or fmt.is_big_endian or len({c.bits for c in comps[:3]}) != 1:
        raise MediaError(f"{path}: pixel format {pix_fmt} is not planar Y'CbCr; {remedy}")
    fx, fy = 64 // fmt.chroma_width(), 64 // fmt.chroma_height()
    if fx not in (1, 2, 4) or fy not in (1, 2):
        raise MediaError(f"{path}: chroma subsampling of {pix_fmt} is not supported; {remedy}")
    return comps[0].bits, (fx, fy)


def _matrix(path: Path, colorspace: int, height: int) -> YCbCrMatrix:
    default: YCbCrMatrix = "bt601" if height <= _SD_MAX_HEIGHT else "bt709"
    if colorspace == _AVCOL_SPC_BT709:
        return "bt709"
    if colorspace in _AVCOL_SPC_BT601:
        return "bt601"
    if colorspace != _AVCOL_SPC_UNSPECIFIED:
        log.warning(
            "%s: colorspace tag %d is neither BT.601 nor BT.709; using %s (pass matrix= to override)",
            path,
            colorspace,
            default,
        )
    return default


def _fps(path: Path, stream: av.video.stream.VideoStream) -> Fraction:
    # guessed_rate is av_guess_frame_rate (what ffmpeg uses); average_rate is wrong for raw DV (60000/1).
    for rate in (stream.guessed_rate, stream.codec_context.framerate, stream.average_rate):
        if rate:
            return Fraction(rate)
    raise MediaError(f"{path}: the video stream has no frame rate")


def _count_frames(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream, fps: Fraction
) -> tuple[int, bool]:
    if stream.frames > 0:
        return stream.frames, True
    height = stream.codec_context.height
    if height <= _SD_MAX_HEIGHT or path.stat().st_size <= _COUNT_PACKETS_MAX_BYTES:
        try:
            return sum(1 for packet in container.demux(stream) if packet.size), True
        except av.FFmpegError as exc:
            raise MediaError(f"{path}: the file cannot be read to its end ({exc}); it is corrupt") from exc
    if stream.duration is not None and stream.time_base is not None:
        seconds = stream.duration * stream.time_base
    elif container.duration is not None:
        seconds = Fraction(container.duration, av.time_base)
    else:
        raise MediaError(f"{path}: neither an index nor a duration to count frames with")
    return round(seconds * fps), False


def _info(path: Path, container: av.container.InputContainer, *, count_frames: bool) -> VideoInfo:
    stream = container.streams.video[0]
    cc = stream.codec_context
    pix_fmt = cc.pix_fmt
    if pix_fmt is None:
        raise MediaError(f"{path}: the decoder reports no pixel format; the stream cannot be decoded")
    bit_depth, subsampling = _planar_yuv_layout(path, pix_fmt)
    fps = _fps(path, stream)
    field_order: FieldOrder = _FIELD_ORDER_BY_AV.get(int(cc.field_order), "unknown")  # type: ignore[assignment]
    if field_order == "unknown" and cc.name == "dvvideo" and cc.height <= _SD_MAX_HEIGHT:
        field_order = "bff"
    sar = stream.sample_aspect_ratio or cc.sample_aspect_ratio
    full = cc.color_range == _AVCOL_RANGE_JPEG or pix_fmt.startswith("yuvj")
    frame_count, exact = _count_frames(path, container, stream, fps) if count_frames else (0, False)
    return VideoInfo(
        path=path,
        codec=cc.name,
        width=cc.width,
        height=cc.height,
        fps=fps,
        frame_count=frame_count,
        field_order=field_order,
        pixel_aspect=Fraction(sar) if sar else Fraction(1),
        matrix=_matrix(path, int(cc.colorspace), cc.height),
        range="full" if full else "limited",
        pix_fmt=pix_fmt,
        bit_depth=bit_depth,
        chroma_subsampling=subsampling,
        frame_count_exact=exact,
        fields_coded_apart=cc.name in FIELD_PICTURE_CODECS,
    )


def probe_video(path: str | Path) -> VideoInfo:
    """Describe the first video stream of ``path`` (see the module docstring for defaults).

    Raises:
        MediaError: the file is missing, is not a readable media file, has no video stream, or stores
            its pictures in a pixel format that is not planar Y'CbCr.
    """
    path = Path(path)
    container = _open(path)
    try:
        return _info(path, container, count_frames=True)
    finally:
        container.close()


# --------------------------------------------------------------------------------------------- decoding


def _plane_arrays(frame: av.VideoFrame, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy the first three planes out of ``frame``, dropping each row's line padding."""
    out = []
    for plane in frame.planes[:3]:
        rows = np.frombuffer(memoryview(plane), dtype=dtype).reshape(
            plane.height, plane.line_size // dtype.itemsize
        )
        out.append(rows[:, : plane.width].copy())
    return out[0], out[1], out[2]


def _broken(path: Path, index: int, reason: str) -> MediaError:
    if index == 0:
        return MediaError(
            f"{path}: the video breaks at frame 0 ({reason}); no frame decoded. "
            "The file is corrupt: copy or capture it again"
        )
    return MediaError(
        f"{path}: the video breaks at frame {index} ({reason}); frames 0..{index - 1} decoded. "
        "The file is truncated or corrupt: copy or capture it again, or keep what decodes "
        f"(ffmpeg -i {path} -frames:v {index} OUT)"
    )


def _decode(path: Path, container: av.container.InputContainer, dtype: np.dtype) -> Iterator[YCbCrFrame]:
    """Decode every frame of the first video stream; raise MediaError (after the good frames) if it breaks."""
    stream = container.streams.video[0]
    stream.codec_context.thread_type = "AUTO"
    fps = _fps(path, stream)
    frame_ticks = float(1 / (fps * stream.time_base)) if stream.time_base else 0.0
    file_size = path.stat().st_size
    first_format: str | None = None
    end_pts: int | None = None
    index = 0
    problem: str | None = None
    packets = container.demux(stream)
    while problem is None:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            problem = f"demuxer error: {exc}"
            break
        if (
            packet.size
            and packet.pos is not None
            and packet.pos >= 0
            and packet.pos + packet.size > file_size
        ):
            problem = f"the data of a frame reaches past the end of the file ({file_size} bytes)"
            break
        if packet.is_corrupt:
            problem = "the container marks its packet corrupt"
            break
        try:
            decoded = stream.codec_context.decode(packet if packet.size else None)
        except av.FFmpegError as exc:
            # No flush here: with frame threads the error can belong to an earlier packet than this one,
            # and frames flushed after it would be numbered wrongly. Stop at the first frame not produced.
            raise _broken(path, index, f"decoder error: {exc}") from exc
        for frame in decoded:
            this_format = f"{frame.format.name} {frame.width}x{frame.height}"
            if frame.is_corrupt:
                raise _broken(path, index, "the decoder marks it corrupt")
            if first_format is None:
                first_format = this_format
            if this_format != first_format:
                raise _broken(path, index, f"the picture changes from {first_format} to {this_format}")
            if frame.pts is not None:
                if end_pts is not None and frame_ticks and frame.pts - end_pts > 0.75 * frame_ticks:
                    log.warning(
                        "%s: timestamps jump before frame %d: about %.1f frame(s) missing",
                        path,
                        index,
                        (frame.pts - end_pts) / frame_ticks,
                    )
                end_pts = frame.pts + (frame.duration or round(frame_ticks))
            yield _ycbcr(frame, index, dtype)
            index += 1
    if problem is not None:
        # The demuxer stopped early; the frames still inside the decoder (reordering, threads) come from
        # packets that were accepted without error: hand them out. An error while flushing keeps none.
        try:
            pending = stream.codec_context.decode(None)
        except av.FFmpegError:
            pending = []
        for frame in pending:
            yield _ycbcr(frame, index, dtype)
            index += 1
        raise _broken(path, index, problem)
    if end_pts is not None and stream.duration and stream.start_time is not None and frame_ticks:
        missing = (stream.start_time + stream.duration - end_pts) / frame_ticks
        if missing > 0.5:
            raise _broken(path, index, f"the stream's timestamps go on for {missing:.1f} more frame(s)")


def _ycbcr(frame: av.VideoFrame, index: int, dtype: np.dtype) -> YCbCrFrame:
    y, cb, cr = _plane_arrays(frame, dtype)
    return YCbCrFrame(index, y, cb, cr, bool(frame.interlaced_frame), frame.pts)


def iter_ycbcr_frames(path: str | Path, *, start: int = 0, count: int | None = None) -> Iterator[YCbCrFrame]:
    """Yield decoded pictures as raw Y'CbCr planes (no resampling, no conversion), in presentation order.

    Args:
        path: the video file.
        start: index of the first frame to yield (frames before it are decoded and dropped: exact, no seek).
        count: how many frames to yield at most; None for all.

    Yields:
        ``YCbCrFrame`` with uint8 planes for 8-bit streams, uint16 for deeper ones.

    Raises:
        MediaError: missing / unreadable file, no video stream, unsupported pixel format; or, after every
            good frame was yielded, a truncated or corrupt stream (the message names the frame index).
    """
    path = Path(path)
    if start < 0 or (count is not None and count < 0):
        raise ValueError(f"start and count must be >= 0, got start={start}, count={count}")
    container = _open(path)
    try:
        info = _info(path, container, count_frames=False)
        dtype = np.dtype(np.uint8 if info.bit_depth <= 8 else np.uint16)
        if count == 0:
            return
        for frame in _decode(path, container, dtype):
            if frame.index < start:
                continue
            yield frame
            if count is not None and frame.index + 1 >= start + count:
                return
    finally:
        container.close()


# --------------------------------------------------------------------------------------------- fields


def split_fields(frame: YCbCrFrame) -> tuple[Field, Field]:
    """Split a frame into its (top, bottom) fields: luma rows 0::2 / 1::2, chroma rows 0::2 / 1::2.

    The planes are copies. ``weave(*split_fields(f))`` gives back ``f``'s planes exactly.
    """
    top = Field(
        "top",
        np.ascontiguousarray(frame.y[0::2]),
        np.ascontiguousarray(frame.cb[0::2]),
        np.ascontiguousarray(frame.cr[0::2]),
        frame.index,
    )
    bottom = Field(
        "bottom",
        np.ascontiguousarray(frame.y[1::2]),
        np.ascontiguousarray(frame.cb[1::2]),
        np.ascontiguousarray(frame.cr[1::2]),
        frame.index,
    )
    return top, bottom


def _interleave(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    out = np.empty((top.shape[0] + bottom.shape[0], top.shape[1]), dtype=top.dtype)
    out[0::2] = top
    out[1::2] = bottom
    return out


def weave(top: Field, bottom: Field, *, index: int | None = None, interlaced: bool = True) -> YCbCrFrame:
    """Interleave a top and a bottom field (possibly from different frames) into one frame.

    The inverse of ``split_fields``. The top field must have as many lines as the bottom one or one more.

    Args:
        top, bottom: fields of parity "top" and "bottom", same width and dtype.
        index: the woven frame's index; defaults to ``top.frame_index``.
        interlaced: flag of the result. True (the default) keeps 4:2:0 chroma upsampled per field in
            ``frame_to_rgb``, right for fields of interlaced-coded pictures; pass False when both fields
            come from one progressive-coded picture.

    Returns:
        ``YCbCrFrame`` with ``pts=None``.
    """
    if top.parity != "top" or bottom.parity != "bottom":
        raise ValueError(f"weave needs a top and a bottom field, got {top.parity} and {bottom.parity}")
    for name in ("y", "cb", "cr"):
        t, b = getattr(top, name), getattr(bottom, name)
        if t.shape[1:] != b.shape[1:] or t.dtype != b.dtype or t.shape[0] - b.shape[0] not in (0, 1):
            raise ValueError(
                f"fields do not fit together: {name} {t.shape} {t.dtype} (frame {top.frame_index}) vs "
                f"{b.shape} {b.dtype} (frame {bottom.frame_index})"
            )
    return YCbCrFrame(
        top.frame_index if index is None else index,
        _interleave(top.y, bottom.y),
        _interleave(top.cb, bottom.cb),
        _interleave(top.cr, bottom.cr),
        interlaced,
        None,
    )


def iter_fields(
    path: str | Path,
    *,
    start: int = 0,
    count: int | None = None,
    field_order: Literal["tff", "bff"] | None = None,
) -> Iterator[Field]:
    """Yield the fields of frames ``start .. start+count-1`` in temporal order.

    Args:
        path: the video file.
        start, count: the frame range, as in ``iter_ycbcr_frames`` (two fields per frame).
        field_order: override the stream's field order. By default the probed order is used: "tff" gives
            top then bottom, "bff" bottom then top; a progressive stream gives top then bottom.

    Raises:
        MediaError: as ``iter_ycbcr_frames``; also when the stream's field order is unknown and none was given.
    """
    path = Path(path)
    if field_order is None:
        container = _open(path)
        try:
            probed = _info(path, container, count_frames=False).field_order
        finally:
            container.close()
        if probed == "unknown":
            raise MediaError(
                f"{path}: the stream does not say which field comes first; "
                "pass field_order='tff' or 'bff' (check with ffmpeg's idet filter)"
            )
        field_order = "bff" if probed == "bff" else "tff"
    for frame in iter_ycbcr_frames(path, start=start, count=count):
        top, bottom = split_fields(frame)
        if field_order == "tff":
            yield top
            yield bottom
        else:
            yield bottom
            yield top


# --------------------------------------------------------------------------------------------- RGB


def frame_to_rgb(
    frame: YCbCrFrame,
    info: VideoInfo,
    *,
    matrix: YCbCrMatrix | None = None,
    range: Range | None = None,
    clip: bool = False,
) -> np.ndarray:
    """Convert a decoded frame to R'G'B' float32 (H, W, 3), 0..1 for in-range codes (gamma-encoded).

    Chroma is upsampled with MPEG-2 siting, per field when ``frame.interlaced`` (see
    ``remaster_core.color``); then Y'CbCr -> R'G'B' with ``info.matrix`` / ``info.range`` unless
    overridden, at ``info.bit_depth``. Super-whites stay above 1 unless ``clip``.
    """
    height, width = frame.y.shape
    cb = upsample_chroma(frame.cb, width=width, height=height, interlaced=frame.interlaced)
    cr = upsample_chroma(frame.cr, width=width, height=height, interlaced=frame.interlaced)
    return ycbcr_to_rgb(
        frame.y,
        cb,
        cr,
        matrix=matrix or info.matrix,
        range=range or info.range,
        bit_depth=info.bit_depth,
        clip=clip,
    )


def field_to_rgb(
    field: Field,
    info: VideoInfo,
    *,
    matrix: YCbCrMatrix | None = None,
    range: Range | None = None,
    clip: bool = False,
) -> np.ndarray:
    """Convert one field to R'G'B' float32 (field lines, W, 3): half height, no vertical interpolation of luma.

    4:2:0 field chroma is upsampled at the field's own siting (phase 1/4 for top, 3/4 for bottom, in
    field lines). Useful for field matching; for display, resize vertically by the pixel aspect.
    """
    height, width = field.y.shape
    cb = upsample_field_chroma(field.cb, width=width, height=height, parity=field.parity)
    cr = upsample_field_chroma(field.cr, width=width, height=height, parity=field.parity)
    return ycbcr_to_rgb(
        field.y,
        cb,
        cr,
        matrix=matrix or info.matrix,
        range=range or info.range,
        bit_depth=info.bit_depth,
        clip=clip,
    )


def iter_rgb_frames(
    path: str | Path,
    *,
    matrix: YCbCrMatrix | None = None,
    range: Range | None = None,
    start: int = 0,
    count: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield frames as R'G'B' float32 (H, W, 3), via ``iter_ycbcr_frames`` and ``frame_to_rgb``.

    The matrix and range are the probed ones unless given. Errors as ``iter_ycbcr_frames``.
    """
    path = Path(path)
    container = _open(path)
    try:
        info = _info(path, container, count_frames=False)
    finally:
        container.close()
    for frame in iter_ycbcr_frames(path, start=start, count=count):
        yield frame_to_rgb(frame, info, matrix=matrix, range=range)
