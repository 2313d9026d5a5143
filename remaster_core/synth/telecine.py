"""3:2 telecine and interlaced encode of a synthetic reel's 24p frames, with ffmpeg.

The 23.976p frames (8-bit RGB PNGs) become a 29.97 interlaced video by a real telecine: ffmpeg's
``telecine`` filter with ``pattern=23``. Its behaviour (libavfilter/vf_telecine.c, checked against
ffmpeg 5.1 output) is: input frame j is held for ``pattern[j mod 2]`` fields (2, 3, 2, 3, ...); a frame
held for 2 fields on an even field boundary is output as is; a held-over field is woven with the next
frame's field, the temporally *earlier* field taking the ``first_field`` parity; a single field left
at the end is dropped. With top field first the 4-frame cycle A B C D gives the output frames
``AA BB BC CD DD`` as (top, bottom) sources: 5 video frames per 4 film frames, 30000/1001 fps.

``pulldown_phase`` p in 0..3 is the cadence position (A, B, C or D) that the first 24p frame takes.
It is made by prepending p pad frames (``tpad``, clones of the first frame) before ``telecine``
and trimming (``trim=start_frame=k``) every output frame that holds a pad field. Phase 2 therefore
opens with ``CD``: the first 24p frame's bottom field was in the trimmed ``BC`` and only its top field
survives, as when a broadcast starts mid-cadence. ``telecine_mapping`` simulates exactly this and is
the truth the reel records; the tests decode the encoded video and check every field against it.

Chroma: the RGB PNGs are converted once to Y'CbCr BT.601 limited range 4:2:2 (progressive, so the
telecine weaves whole chroma lines with their luma lines), then to the codec's subsampling
interlace-aware (``scale=interl=1``: 4:2:0 chroma of each field from that field only, as MPEG-2
interlaced expects).

Codecs (``CODECS``):
- ``mpeg2`` (required): MPEG-2 MP@ML 4:2:0, interlaced DCT and motion estimation, top field first,
  ~8 Mb/s, GOP 15, 2 B-frames, in an MPEG-2 program stream (``-f vob``) ``broadcast.mpg``.
- ``dv``: DV25 NTSC 4:1:1, bottom field first (as DV is), ``broadcast.dv``; the telecine then weaves
  with ``first_field=b``.
- ``prores``: ProRes 422 HQ (``prores_ks``) 10-bit 4:2:2, interlaced, top field first, ``broadcast.mov``.
All are tagged BT.601 (SMPTE 170M primaries, transfer and matrix), limited range, sample aspect 8:9.
Encodes run with ``-threads 1`` and bit-exact flags, so the same frames give the same bytes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from remaster_core.errors import MediaError
from remaster_core.io.atomic import atomic_path

log = logging.getLogger("remaster.synth.telecine")

PATTERN = "23"
FPS_24P = "24000/1001"
FPS_VIDEO = "30000/1001"


@dataclass(frozen=True)
class CodecSpec:
    """How to encode one broadcast codec. ``first_field`` is "t" (top) or "b" (bottom)."""

    name: str
    extension: str
    muxer: str
    first_field: str
    pix_fmt: str
    encoder_args: tuple[str, ...]

    @property
    def field_order(self) -> str:
        """``tff`` or ``bff``."""
        return "tff" if self.first_field == "t" else "bff"


CODECS: dict[str, CodecSpec] = {
    "mpeg2": CodecSpec(
        name="mpeg2video",
        extension=".mpg",
        muxer="vob",
        first_field="t",
        pix_fmt="yuv420p",
        encoder_args=(
            "-c:v", "mpeg2video", "-flags:v", "+ilme+ildct+bitexact", "-top", "1", "-alternate_scan", "1",
            "-b:v", "8M", "-maxrate", "9.8M", "-bufsize", "1835k", "-g", "15", "-bf", "2",
        ),
    ),
    "dv": CodecSpec(
        name="dvvideo",
        extension=".mov",
        muxer="mov",
        first_field="b",
        pix_fmt="yuv411p",
        encoder_args=("-c:v", "dvvideo", "-flags:v", "+ildct+bitexact", "-top", "0", "-movflags", "+write_colr"),
    ),
    "prores": CodecSpec(
        name="prores",
        extension=".mov",
        muxer="mov",
        first_field="t",
        pix_fmt="yuv422p10le",
        encoder_args=(
            "-c:v", "prores_ks", "-profile:v", "3", "-flags:v", "+ildct+bitexact", "-top", "1",
            "-vendor", "apl0", "-movflags", "+write_colr",
        ),
    ),
}  # fmt: skip

_COLOUR_TAGS = (
    "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-colorspace", "smpte170m",
    "-color_range", "tv",
)  # fmt: skip


def _woven_frames(n_frames: int, phase: int, first_field: str) -> list[tuple[int, int]]:
    """vf_telecine on ``phase`` pad frames (indices -phase..-1) then frames 0..n_frames-1: (top, bottom)."""
    out: list[tuple[int, int]] = []
    held: int | None = None
    for pos, src in enumerate(range(-phase, n_frames)):
        fields = int(PATTERN[pos % len(PATTERN)])
        if held is not None:
            out.append((held, src) if first_field == "t" else (src, held))
            fields -= 1
            held = None
        while fields >= 2:
            out.append((src, src))
            fields -= 2
        if fields == 1:
            held = src
    return out


def telecine_mapping(n_frames: int, phase: int, first_field: str = "t") -> list[tuple[int, int]]:
    """The source 24p frame of each field of each output video frame, as ffmpeg makes it.

    Args:
        n_frames: number of 24p frames fed to the telecine.
        phase: pulldown phase 0..3 (cadence position of the first 24p frame, see the module docstring).
        first_field: "t" or "b", the field the telecine puts first in time.

    Returns:
        One ``(top_src, bottom_src)`` pair of 24p indices per output frame, in output order. Its length
        is the video frame count: ``(5 * (N // 2) + 2 * (N % 2)) // 2 - k(phase)`` with ``N = n_frames +
        phase`` and ``k = (0, 1, 3, 4)[phase]`` frames trimmed (for either field order).
    """
    if phase not in (0, 1, 2, 3):
        raise ValueError(f"pulldown phase must be 0, 1, 2 or 3, got {phase}")
    if first_field not in ("t", "b"):
        raise ValueError(f"first_field must be 't' or 'b', got {first_field!r}")
    return [(t, b) for t, b in _woven_frames(n_frames, phase, first_field) if t >= 0 and b >= 0]


def _pad_frame_count(phase: int, first_field: str) -> int:
    """How many leading output frames hold a pad field (``trim`` removes them): 0, 1, 3, 4 for phase 0..3."""
    woven = _woven_frames(4, phase, first_field)
    return sum(1 for t, b in woven if t < 0 or b < 0)


def filter_graph(phase: int, spec: CodecSpec) -> str:
    """The ``-vf`` chain: RGB -> BT.601 limited 4:2:2, pad, telecine, trim, interlaced chroma subsampling."""
    flags = "accurate_rnd+full_chroma_int+bitexact"
    steps = [f"scale=out_color_matrix=bt601:out_range=tv:flags=bicubic+{flags}", "format=yuv422p"]
    k = _pad_frame_count(phase, spec.first_field)
    if phase:
        steps.append(f"tpad=start={phase}:start_mode=clone")
    steps.append(f"telecine=first_field={spec.first_field}:pattern={PATTERN}")
    if k:
        steps.append(f"trim=start_frame={k}")
        steps.append("setpts=PTS-STARTPTS")
    steps.append(f"scale=interl=1:flags=bicubic+{flags}")
    steps.append(f"format={spec.pix_fmt}")
    steps.append("setsar=8/9")
    # Tag every frame (encoders such as prores_ks write the frame's tags, not the stream's).
    steps.append("setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m")
    return ",".join(steps)


def ffmpeg_binary() -> str:
    """Path of the ``ffmpeg`` executable, or a ``MediaError`` saying how to get one."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MediaError(
            "ffmpeg was not found on PATH: it is needed to telecine and encode the synthetic broadcast; "
            "install it (Debian/Ubuntu: apt-get install ffmpeg) and run again"
        )
    return exe


# the audio codec each muxer takes: MPEG-1 Layer II in a program stream, PCM in QuickTime
_AUDIO_ARGS = {"vob": ("-c:a", "mp2", "-b:a", "224k"), "mov": ("-c:a", "pcm_s16le")}


def encode_broadcast(
    frames_pattern: Path,
    n_frames: int,
    out_path: Path,
    *,
    codec: str,
    phase: int,
    timecode: str | None = None,
    audio: Path | None = None,
) -> None:
    """Telecine and encode the 24p PNG sequence ``frames_pattern`` (printf, numbered from 0) to ``out_path``.

    ``timecode``: the start timecode (``HH:MM:SS;FF`` drop frame), written by ffmpeg as the MPEG-2 GOP
    timecode (``mpeg2``) or the QuickTime ``tmcd`` track (``dv``, ``prores``). ``audio``: a WAV file muxed
    as the broadcast's sound (MP2 224 kb/s in the program stream, 16-bit PCM in QuickTime), starting
    with the first video frame. Written atomically. Raises ``MediaError`` with ffmpeg's last lines if
    ffmpeg fails.
    """
    if codec not in CODECS:
        raise MediaError(f"unknown broadcast codec {codec!r}; choose one of {', '.join(CODECS)}")
    if n_frames < 2:
        raise MediaError(f"cannot telecine {n_frames} frame(s) of {frames_pattern}: need at least 2")
    spec = CODECS[codec]
    exe = ffmpeg_binary()
    with atomic_path(out_path) as tmp:
        cmd = [
            exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-framerate", FPS_24P, "-start_number", "0", "-i", str(frames_pattern),
            *(("-i", str(audio), "-map", "0:v", "-map", "1:a", *_AUDIO_ARGS[spec.muxer]) if audio else ()),
            *(("-timecode", timecode) if timecode else ()),
            "-vf", filter_graph(phase, spec),
            "-threads", "1", "-fflags", "+bitexact", *spec.encoder_args, *_COLOUR_TAGS,
            "-f", spec.muxer, str(tmp),
        ]  # fmt: skip
        log.debug("encode: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
            raise MediaError(
                f"ffmpeg failed to telecine/encode {frames_pattern} into {out_path} (exit {proc.returncode}):\n"
                f"{tail}"
            )
