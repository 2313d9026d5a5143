"""Write a review movie (ProRes 422 HQ or H.264) from R'G'B' frames, with colour tags and timecode.

The R'G'B' -> Y'CbCr step is ours (``remaster_core.color``), not swscale's, so the matrix written in the
tags is exactly the one used: ``matrix="bt709"`` (the default, HD review) tags BT.709 matrix, primaries
and transfer; ``"bt601"`` tags SMPTE 170M for all three. Frames are taken as gamma-encoded code values
in 0..1 for that system; no transfer function is applied. Always limited ("tv") range.

- ``prores_hq``: ProRes 422 HQ (FFmpeg ``prores_ks`` profile 3, vendor ``apl0``), 10-bit 4:2:2, in .mov.
- ``h264``: H.264 High (``libx264``, CRF 16, preset medium), 8-bit 4:2:0, in .mov or .mp4.

Odd sizes: a dimension that the chroma is subsampled along is padded to even with one replicated
column / row (logged), so the movie can be one pixel wider (both codecs) or taller (H.264) than the
frames. libx264 refuses odd 4:2:0 sizes outright, and ``prores_ks`` accepts an odd width but its last
chroma column then decodes as garbage (measured with FFmpeg's own decoder), so neither is left odd.

Chroma is subsampled with co-sited horizontal siting ([1, 2, 1] / 4) and, for 4:2:0, centred vertical
siting (MPEG-2 / H.264 "left" chroma location), matching what ``remaster_core.io.video`` reads back.
Code values are clipped to the legal range that keeps the SDI-reserved codes free (8 bit 1..254, 10 bit
4..1019): super-whites up to about 109% survive, anything beyond is clipped.

The timecode (``HH:MM:SS:FF``, or ``HH:MM:SS;FF`` for drop frame at 29.97 / 59.94) is written as the
container's timecode track (QuickTime ``tmcd``, which both .mov and .mp4 carry here). Pixel aspect is
written as the stream's sample aspect ratio. Sound (optional, ``io.audio.AudioTrack``) starts with the
first frame: 24-bit PCM in .mov, AAC in .mp4. The file appears atomically (temp file, then rename).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from remaster_core.color import YCbCrMatrix, downsample_chroma, quantise_codes, rgb_to_ycbcr
from remaster_core.errors import InputError, MediaError
from remaster_core.io.atomic import atomic_path
from remaster_core.io.audio import AudioTrack
from remaster_core.io.finite import check_finite
from remaster_core.progress import progress

log = logging.getLogger("remaster.io.movie")

MovieCodec = Literal["prores_hq", "h264"]

# libavutil enum values: AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic share these
# numbers for the two systems we write (1 = BT.709, 6 = SMPTE 170M); AVCOL_RANGE_MPEG = 1.
_COLOR_TAG = {"bt709": 1, "bt601": 6}
_RANGE_LIMITED = 1
_TIMECODE = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2})$")


@dataclass(frozen=True)
class _Encoding:
    encoder: str
    pix_fmt: str
    bit_depth: int
    chroma: tuple[int, int]  # (fx, fy)
    options: dict[str, str]
    suffixes: tuple[str, ...]
    legal: tuple[int, int]  # lowest and highest code written


_PRORES_HQ = _Encoding(
    "prores_ks", "yuv422p10le", 10, (2, 1), {"profile": "3", "vendor": "apl0"}, (".mov",), (4, 1019)
)
_H264 = _Encoding(
    "libx264", "yuv420p", 8, (2, 2), {"crf": "16", "preset": "medium"}, (".mov", ".mp4"), (1, 254)
)


def _encoding(codec: MovieCodec) -> _Encoding:
    if codec == "prores_hq":
        return _PRORES_HQ
    if codec == "h264":
        return _H264
    raise InputError(f"unknown movie codec {codec!r}: use 'prores_hq' or 'h264'")


def _check_timecode(path: Path, timecode: str, fps: Fraction) -> None:
    match = _TIMECODE.match(timecode)
    nominal = math.ceil(fps)
    if match is None or int(match.group(5)) >= nominal:
        raise InputError(
            f"{path}: timecode {timecode!r} is not HH:MM:SS:FF (or HH:MM:SS;FF for drop frame) "
            f"with FF below {nominal} at {float(fps):.3f} fps"
        )
    if match.group(4) == ";" and fps not in (Fraction(30000, 1001), Fraction(60000, 1001)):
        raise InputError(f"{path}: drop-frame timecode {timecode!r} needs 29.97 or 59.94 fps, not {fps}")


def _check_frame(path: Path, index: int, rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"{path}: frame {index} has shape {rgb.shape}; frames must be RGB (H, W, 3)")
    if size is not None and rgb.shape[:2] != size:
        raise InputError(
            f"{path}: frame {index} is {rgb.shape[1]}x{rgb.shape[0]}, the first was {size[1]}x{size[0]}"
        )
    if not np.issubdtype(rgb.dtype, np.floating):
        raise InputError(f"{path}: frame {index} is {rgb.dtype}; frames must be float R'G'B' in 0..1")
    rgb = rgb.astype(np.float32, copy=False)
    check_finite(rgb, f"{path}: frame {index}", "fix the frame before writing")
    return rgb


def _pad_even(rgb: np.ndarray, enc: _Encoding) -> np.ndarray:
    """Pad by one replicated row / column where the chroma subsampling needs an even size."""
    pad_w = rgb.shape[1] % 2 if enc.chroma[0] == 2 else 0
    pad_h = rgb.shape[0] % 2 if enc.chroma[1] == 2 else 0
    if not (pad_h or pad_w):
        return rgb
    return np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _fill_plane(plane: av.video.plane.VideoPlane, codes: np.ndarray) -> None:
    rows = np.frombuffer(memoryview(plane), dtype=codes.dtype).reshape(
        plane.height, plane.line_size // codes.itemsize
    )
    rows[:, : plane.width] = codes


def _video_frame(rgb: np.ndarray, enc: _Encoding, matrix: YCbCrMatrix) -> av.VideoFrame:
    """R'G'B' float32 (H, W, 3) -> an ``av.VideoFrame`` of ``enc.pix_fmt`` with colour properties set."""
    y, cb, cr = rgb_to_ycbcr(rgb, matrix=matrix, range="limited", bit_depth=enc.bit_depth)
    fx, fy = enc.chroma
    low, high = enc.legal
    frame = av.VideoFrame(rgb.shape[1], rgb.shape[0], enc.pix_fmt)
    planes = (y, downsample_chroma(cb, fx=fx, fy=fy), downsample_chroma(cr, fx=fx, fy=fy))
    for plane, codes in zip(frame.planes, planes, strict=True):
        _fill_plane(plane, np.clip(quantise_codes(codes, enc.bit_depth), low, high))
    frame.colorspace = _COLOR_TAG[matrix]
    frame.color_primaries = _COLOR_TAG[matrix]
    frame.color_trc = _COLOR_TAG[matrix]
    frame.color_range = _RANGE_LIMITED
    return frame


def write_movie(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    fps: Fraction,
    codec: MovieCodec = "prores_hq",
    timecode: str | None = "01:00:00:00",
    pixel_aspect: Fraction = Fraction(1),
    matrix: YCbCrMatrix = "bt709",
    audio: AudioTrack | None = None,
) -> Path:
    """Encode R'G'B' frames into a review movie and return its path (written atomically).

    Args:
        path: the movie to write: .mov for ``prores_hq``; .mov or .mp4 for ``h264``.
        frames: float32 R'G'B' (H, W, 3), gamma-encoded for ``matrix``'s system, 0..1 (values a little
            outside are kept as super-white / sub-black code values, see the module docstring). All the
            same size.
        fps: frame rate, e.g. ``Fraction(24000, 1001)``.
        codec: "prores_hq" (ProRes 422 HQ, 10-bit 4:2:2) or "h264" (libx264, 8-bit 4:2:0, CRF 16).
        timecode: start timecode (``HH:MM:SS:FF``; ``;`` before FF for drop frame), or None for none.
        pixel_aspect: sample aspect ratio written to the stream (8/9 for NTSC 4:3 at 720 wide).
        matrix: Y'CbCr matrix used and tagged: "bt709" or "bt601".
        audio: sound starting with the first frame (``io.audio``): 24-bit PCM in .mov, AAC 256 kb/s in
            .mp4, at its own rate; cut or padded with silence to the picture's length.

    Returns:
        ``Path(path)``.

    Raises:
        InputError: bad arguments (extension, timecode, frame shapes, NaN, no frames).
        MediaError: the encoder is missing from this PyAV build or fails.
    """
    path = Path(path)
    enc = _encoding(codec)
    if path.suffix.lower() not in enc.suffixes:
        raise InputError(f"{path}: a {codec} movie must end in {' or '.join(enc.suffixes)}")
    if matrix not in _COLOR_TAG:
        raise InputError(f"{path}: matrix must be 'bt709' or 'bt601', not {matrix!r}")
    fps = Fraction(fps)
    if fps <= 0:
        raise InputError(f"{path}: fps must be positive, got {fps}")
    if timecode is not None:
        _check_timecode(path, timecode, fps)
    if enc.encoder not in av.codecs_available:
        raise MediaError(
            f"{path}: this PyAV build has no {enc.encoder} encoder; write codec='prores_hq' instead"
        )
    fmt = "mp4" if path.suffix.lower() == ".mp4" else "mov"
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w", format=fmt, options={"movflags": "+faststart"})
        try:
            written = _encode(
                path, container, frames, enc, fps, timecode, Fraction(pixel_aspect), matrix, audio, fmt
            )
        except av.FFmpegError as exc:
            raise MediaError(f"{path}: encoding with {enc.encoder} failed ({exc})") from exc
        finally:
            container.close()
        if written == 0:
            raise InputError(f"{path}: no frames to write")
    log.info("wrote %s: %d frames, %s, %s fps", path, written, codec, fps)
    return path


def _encode(
    path: Path,
    container: av.container.OutputContainer,
    frames: Iterable[np.ndarray],
    enc: _Encoding,
    fps: Fraction,
    timecode: str | None,
    pixel_aspect: Fraction,
    matrix: YCbCrMatrix,
    audio: AudioTrack | None = None,
    fmt: str = "mov",
) -> int:
    """Encode ``frames`` into ``container`` (and ``audio`` after them); return how many were written."""
    sound: av.audio.stream.AudioStream | None = None
    if timecode is not None:
        container.metadata["timecode"] = timecode
    stream: av.video.stream.VideoStream | None = None
    size: tuple[int, int] | None = None
    count = 0
    for index, raw in enumerate(progress(frames, desc="movie", unit="frame")):
        rgb = _check_frame(path, index, np.asarray(raw), size)
        if size is None:
            size = rgb.shape[:2]
        rgb = _pad_even(rgb, enc)
        if rgb.shape[:2] != size and index == 0:
            log.info(
                "%s: %dx%d padded to %dx%d for chroma subsampling",
                path,
                size[1],
                size[0],
                rgb.shape[1],
                rgb.shape[0],
            )
        if stream is None:
            added = container.add_stream(enc.encoder, rate=fps, options=dict(enc.options))
            assert isinstance(added, av.video.stream.VideoStream)
            stream = added
            stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            stream.pix_fmt = enc.pix_fmt
            stream.time_base = 1 / fps
            cc = stream.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = _COLOR_TAG[matrix]
            cc.color_range = _RANGE_LIMITED
            cc.sample_aspect_ratio = pixel_aspect
            stream.sample_aspect_ratio = pixel_aspect
            if audio is not None:
                sound = _audio_stream(container, audio, fmt)
        frame = _video_frame(rgb, enc, matrix)
        frame.pts = index
        frame.time_base = 1 / fps
        container.mux(stream.encode(frame))
        count += 1
    if stream is not None:
        container.mux(stream.encode(None))
    if sound is not None and audio is not None:
        _encode_audio(container, sound, audio, round(count / fps * audio.rate))
    return count


def _audio_stream(
    container: av.container.OutputContainer, audio: AudioTrack, fmt: str
) -> av.audio.stream.AudioStream:
    channels = audio.samples.shape[1]
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else f"{channels}c"
    codec = "aac" if fmt == "mp4" else "pcm_s24le"
    added = container.add_stream(codec, rate=audio.rate)
    assert isinstance(added, av.audio.stream.AudioStream)
    added.layout = layout
    added.format = "fltp" if codec == "aac" else "s32"
    if codec == "aac":
        added.bit_rate = 256000
    added.time_base = Fraction(1, audio.rate)
    return added


def _encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    audio: AudioTrack,
    total: int,
) -> None:
    """Encode ``total`` samples of ``audio`` (cut, or padded with silence) in 1024-sample frames."""
    samples = np.zeros((total, audio.samples.shape[1]), np.float32)
    n = min(total, audio.samples.shape[0])
    samples[:n] = np.clip(audio.samples[:n], -1.0, 1.0)
    layout = stream.layout.name
    step = 1024
    for at in range(0, total, step):
        chunk = samples[at : at + step]
        if stream.format.name == "fltp":
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T), format="fltp", layout=layout)
        else:
            codes = np.rint(chunk.astype(np.float64) * 2147483647.0).clip(-2147483648, 2147483647)
            frame = av.AudioFrame.from_ndarray(
                codes.astype(np.int32).reshape(1, -1), format="s32", layout=layout
            )
        frame.sample_rate = audio.rate
        frame.pts = at
        frame.time_base = Fraction(1, audio.rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
