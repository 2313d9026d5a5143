"""Probe and decode real files made by the ffmpeg CLI: interlaced MPEG-2, DV 4:1:1, ProRes 4:2:2 10-bit, H.264 HD."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from remaster_core.errors import MediaError
from remaster_core.io.video import (
    field_to_rgb,
    frame_to_rgb,
    iter_fields,
    iter_rgb_frames,
    iter_ycbcr_frames,
    probe_video,
    split_fields,
    weave,
)

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI to make test media"
)

NTSC = "30000/1001"
# 75% bars, 8-bit limited-range codes as published (see tests/io/test_color.py) and their R'G'B'.
BARS_RGB = 0.75 * np.array(
    [[1, 1, 1], [1, 1, 0], [0, 1, 1], [0, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32
)
BARS_CODES = {
    "bt601": [[180, 128, 128], [162, 44, 142], [131, 156, 44], [112, 72, 58]]
    + [[84, 184, 198], [65, 100, 212], [35, 212, 114], [16, 128, 128]],
    "bt709": [[180, 128, 128], [168, 44, 136], [145, 147, 44], [133, 63, 52]]
    + [[63, 193, 204], [51, 109, 212], [28, 212, 120], [16, 128, 128]],
}
TAGS = {
    "bt601": ["-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-colorspace", "smpte170m"],
    "bt709": ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"],
}


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def ffprobe_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-select_streams", "v:0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["streams"][0]


def make_testsrc_mpeg2(path: Path, *, top: int, frames: int) -> Path:
    """Interlaced NTSC MPEG-2 (720x480, 4:2:0, SAR 8/9, tagged SMPTE 170M) from ffmpeg's testsrc2."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=720x480:rate={NTSC}", "-frames:v", str(frames),
        "-vf", "setsar=8/9", "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", str(top),
        "-b:v", "8M", "-pix_fmt", "yuv420p", *TAGS["bt601"], "-color_range", "tv", path,
    )  # fmt: skip
    return path


def bar_planes(matrix: str, width: int, height: int, fx: int, fy: int, scale: int = 1) -> list[np.ndarray]:
    """Y, Cb, Cr code planes of 8 vertical 75% bars, chroma subsampled (co-sited) by (fx, fy)."""
    codes = np.array(BARS_CODES[matrix]) * scale
    bar = np.arange(width) * 8 // width
    full = [np.tile(codes[bar, c], (height, 1)) for c in range(3)]
    return [full[0], full[1][::fy, ::fx], full[2][::fy, ::fx]]


def raw_bars(
    path: Path, matrix: str, width: int, height: int, fx: int, fy: int, frames: int, bits: int
) -> Path:
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    planes = bar_planes(matrix, width, height, fx, fy, scale=2 ** (bits - 8))
    one = b"".join(p.astype(dtype).tobytes() for p in planes)
    path.write_bytes(one * frames)
    return path


def bar_centres(rgb: np.ndarray) -> np.ndarray:
    """Mean R'G'B' of the middle half of each of the 8 bars, away from edges: (8, 3)."""
    height, width, _ = rgb.shape
    bar_w = width // 8
    rows = slice(height // 4, 3 * height // 4)
    return np.array(
        [rgb[rows, i * bar_w + bar_w // 4 : (i + 1) * bar_w - bar_w // 4].mean(axis=(0, 1)) for i in range(8)]
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("video")
    files = {
        "mpeg2_tff": make_testsrc_mpeg2(d / "tff.mpg", top=1, frames=30),
        "mpeg2_bff": make_testsrc_mpeg2(d / "bff.mpg", top=0, frames=4),
    }
    # Colour bars, one clip per codec family, from raw planes of the published codes (no swscale involved).
    raw = raw_bars(d / "bars420.yuv", "bt601", 720, 480, 2, 2, 4, 8)
    files["bars_mpeg2"] = d / "bars.mpg"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "720x480", "-r", NTSC, "-i", raw,
        "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1", "-b:v", "9M", *TAGS["bt601"],
        "-color_range", "tv", files["bars_mpeg2"],
    )  # fmt: skip
    raw = raw_bars(d / "bars411.yuv", "bt601", 720, 480, 4, 1, 4, 8)
    files["bars_dv"] = d / "bars.dv"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv411p", "-s", "720x480", "-r", NTSC, "-i", raw,
        "-c:v", "dvvideo", files["bars_dv"],
    )  # fmt: skip
    raw = raw_bars(d / "bars422.yuv", "bt601", 720, 486, 2, 1, 3, 10)
    files["bars_prores"] = d / "bars.mov"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv422p10le", "-s", "720x486", "-r", NTSC, "-i", raw,
        "-c:v", "prores_ks", "-profile:v", "3", *TAGS["bt601"], files["bars_prores"],
    )  # fmt: skip
    raw = raw_bars(d / "bars709.yuv", "bt709", 1280, 720, 2, 2, 3, 8)
    files["bars_h264"] = d / "bars709.mp4"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "24000/1001", "-i", raw,
        "-c:v", "libx264", "-crf", "8", *TAGS["bt709"], files["bars_h264"],
    )  # fmt: skip
    files["hd_untagged"] = d / "untagged.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=24", "-frames:v", "2", "-c:v", "libx264",
        "-pix_fmt", "yuv420p", files["hd_untagged"],
    )  # fmt: skip
    return files


# ------------------------------------------------------------------------------------------------ probe


def test_fixture_is_really_interlaced_top_field_first(media: dict[str, Path]) -> None:
    assert ffprobe_stream(media["mpeg2_tff"])["field_order"] == "tt"
    assert ffprobe_stream(media["mpeg2_bff"])["field_order"] == "bb"


def test_probe_interlaced_ntsc_mpeg2(media: dict[str, Path]) -> None:
    info = probe_video(media["mpeg2_tff"])
    assert info.path == media["mpeg2_tff"]
    assert (info.codec, info.width, info.height) == ("mpeg2video", 720, 480)
    assert info.fps == Fraction(30000, 1001)
    assert (info.frame_count, info.frame_count_exact) == (30, True)
    assert info.field_order == "tff"
    assert info.pixel_aspect == Fraction(8, 9)
    assert (info.matrix, info.range) == ("bt601", "limited")
    assert (info.pix_fmt, info.bit_depth, info.chroma_subsampling) == ("yuv420p", 8, (2, 2))
    assert not info.fields_coded_apart  # frame pictures: the two fields coded together
    assert probe_video(str(media["mpeg2_bff"])).field_order == "bff"


def test_probe_dv_prores_h264(media: dict[str, Path]) -> None:
    dv = probe_video(media["bars_dv"])
    # Raw DV carries no field order; DV 525/60 is bottom field first by definition. Untagged SD -> BT.601.
    assert (dv.codec, dv.pix_fmt, dv.chroma_subsampling, dv.field_order) == (
        "dvvideo",
        "yuv411p",
        (4, 1),
        "bff",
    )
    assert (dv.matrix, dv.frame_count, dv.fps, dv.pixel_aspect) == (
        "bt601",
        4,
        Fraction(30000, 1001),
        Fraction(8, 9),
    )
    prores = probe_video(media["bars_prores"])
    assert (prores.codec, prores.pix_fmt, prores.bit_depth, prores.chroma_subsampling) == (
        "prores",
        "yuv422p10le",
        10,
        (2, 1),
    )
    assert (prores.height, prores.frame_count, prores.matrix) == (486, 3, "bt601")
    assert prores.fields_coded_apart and not dv.fields_coded_apart
    hd = probe_video(media["bars_h264"])
    assert (hd.codec, hd.width, hd.height, hd.matrix, hd.fps) == (
        "h264",
        1280,
        720,
        "bt709",
        Fraction(24000, 1001),
    )
    assert hd.field_order == "progressive"
    assert probe_video(media["hd_untagged"]).matrix == "bt709"  # untagged HD defaults to BT.709


# ----------------------------------------------------------------------------------------------- decode


def test_decode_planes(media: dict[str, Path]) -> None:
    frames = list(iter_ycbcr_frames(media["mpeg2_tff"]))
    assert [f.index for f in frames] == list(range(30))
    first = frames[0]
    assert first.y.shape == (480, 720) and first.y.dtype == np.uint8
    assert first.cb.shape == first.cr.shape == (240, 360)
    assert first.interlaced and all(f.interlaced for f in frames)
    assert len({f.pts for f in frames}) == 30
    dv = next(iter_ycbcr_frames(media["bars_dv"]))
    assert dv.cb.shape == (480, 180) and dv.interlaced
    prores = next(iter_ycbcr_frames(media["bars_prores"]))
    assert prores.y.dtype == np.uint16 and prores.cb.shape == (486, 360)
    assert 64 <= int(prores.y.min()) and int(prores.y.max()) <= 940 and int(prores.y.max()) > 255


PLANE_FORMATS = [("mpeg2_tff", "yuv420p"), ("bars_dv", "yuv411p"), ("bars_prores", "yuv422p10le")]


@pytest.mark.parametrize(("name", "pix_fmt"), PLANE_FORMATS)
def test_planes_equal_what_the_ffmpeg_cli_decodes(media: dict[str, Path], name: str, pix_fmt: str) -> None:
    """Our plane copies (line padding dropped) hold exactly the samples ffmpeg writes as raw video."""
    frame = list(iter_ycbcr_frames(media[name], count=3))[2]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(media[name]), "-vf", "select=eq(n\\,2)", "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        check=True,
        capture_output=True,
    ).stdout
    ours = b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for p in (frame.y, frame.cb, frame.cr))
    assert len(raw) == len(ours)
    assert np.frombuffer(raw, np.uint8).tobytes() == ours


def test_start_and_count_pick_the_same_frames(media: dict[str, Path]) -> None:
    everything = list(iter_ycbcr_frames(media["mpeg2_tff"]))
    some = list(iter_ycbcr_frames(media["mpeg2_tff"], start=5, count=3))
    assert [f.index for f in some] == [5, 6, 7]
    for got, want in zip(some, everything[5:8], strict=True):
        np.testing.assert_array_equal(got.y, want.y)
        np.testing.assert_array_equal(got.cr, want.cr)
    assert list(iter_ycbcr_frames(media["mpeg2_tff"], start=28, count=10))[-1].index == 29
    assert list(iter_ycbcr_frames(media["mpeg2_tff"], count=0)) == []


BAR_CLIPS = [("bars_mpeg2", "bt601"), ("bars_dv", "bt601"), ("bars_prores", "bt601"), ("bars_h264", "bt709")]


@pytest.mark.parametrize(("name", "matrix"), BAR_CLIPS)
def test_colour_bars_decode_to_the_right_rgb(media: dict[str, Path], name: str, matrix: str) -> None:
    assert probe_video(media[name]).matrix == matrix  # picked from the tags (DV: the SD default)
    rgb = next(iter_rgb_frames(media[name]))
    assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3
    # The published codes are rounded (up to 0.0054 of R'G'B' error, see test_color); the codecs add less
    # than 0.001 on flat bars at these rates. 0.01 is 2 to 3 code values.
    np.testing.assert_allclose(bar_centres(rgb), BARS_RGB, atol=0.01)


def test_matrix_override_changes_the_colours(media: dict[str, Path]) -> None:
    wrong = next(iter_rgb_frames(media["bars_h264"], matrix="bt601"))
    assert np.abs(bar_centres(wrong) - BARS_RGB).max() > 0.05
    full = next(iter_rgb_frames(media["bars_h264"], range="full"))
    assert bar_centres(full)[7].max() == pytest.approx(16 / 255, abs=0.01)  # black is no longer 0


def test_interlaced_chroma_stays_in_its_field(tmp_path: Path) -> None:
    """Top field 75% red, bottom field 75% blue: a colour that changes between the field instants."""
    red, blue = BARS_CODES["bt601"][5], BARS_CODES["bt601"][6]
    y = np.empty((480, 720), np.uint8)
    y[0::2], y[1::2] = red[0], blue[0]
    chroma = [np.empty((240, 360), np.uint8) for _ in range(2)]
    for c, plane in enumerate(chroma, start=1):
        plane[0::2], plane[1::2] = red[c], blue[c]  # 4:2:0 interlaced: chroma rows alternate fields
    raw = tmp_path / "fields.yuv"
    raw.write_bytes((y.tobytes() + chroma[0].tobytes() + chroma[1].tobytes()) * 2)
    movie = tmp_path / "fields.mpg"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "720x480", "-r", NTSC, "-i", raw, "-c:v", "mpeg2video",
        "-flags", "+ilme+ildct", "-top", "1", "-q:v", "1", *TAGS["bt601"], movie,
    )  # fmt: skip
    info = probe_video(movie)
    frame = next(iter_ycbcr_frames(movie))
    assert frame.interlaced
    rgb = frame_to_rgb(frame, info)
    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(rgb[0::2][inner].mean(axis=(0, 1)), BARS_RGB[5], atol=0.01)
    np.testing.assert_allclose(rgb[1::2][inner].mean(axis=(0, 1)), BARS_RGB[6], atol=0.01)
    # Treating the same picture as progressive mixes the two fields' chroma: clearly wrong colours.
    frame.interlaced = False
    mixed = frame_to_rgb(frame, info)
    assert np.abs(mixed[0::2][inner].mean(axis=(0, 1)) - BARS_RGB[5]).max() > 0.1
    # A field on its own converts to its own colour too.
    top, bottom = split_fields(next(iter_ycbcr_frames(movie)))
    np.testing.assert_allclose(field_to_rgb(bottom, info)[inner].mean(axis=(0, 1)), BARS_RGB[6], atol=0.01)
    assert field_to_rgb(top, info).shape == (240, 720, 3)


# ----------------------------------------------------------------------------------------------- fields


@pytest.mark.parametrize("name", ["mpeg2_tff", "bars_dv", "bars_prores"])
def test_split_and_weave_round_trip_exactly(media: dict[str, Path], name: str) -> None:
    frame = next(iter_ycbcr_frames(media[name], start=1))
    top, bottom = split_fields(frame)
    assert (top.parity, bottom.parity, top.frame_index) == ("top", "bottom", 1)
    np.testing.assert_array_equal(top.y, frame.y[0::2])
    np.testing.assert_array_equal(bottom.cb, frame.cb[1::2])
    woven = weave(top, bottom)
    assert woven.index == 1 and woven.pts is None
    for plane in ("y", "cb", "cr"):
        np.testing.assert_array_equal(getattr(woven, plane), getattr(frame, plane))


def test_weave_refuses_mismatched_fields(media: dict[str, Path]) -> None:
    top, bottom = split_fields(next(iter_ycbcr_frames(media["mpeg2_tff"])))
    with pytest.raises(ValueError, match="top and a bottom"):
        weave(bottom, top)
    narrow = split_fields(next(iter_ycbcr_frames(media["bars_dv"])))[1]
    with pytest.raises(ValueError, match="do not fit"):
        weave(top, narrow)


def test_fields_come_in_temporal_order(media: dict[str, Path]) -> None:
    tff = list(iter_fields(media["mpeg2_tff"], count=2))
    assert [(f.parity, f.frame_index) for f in tff] == [("top", 0), ("bottom", 0), ("top", 1), ("bottom", 1)]
    bff = list(iter_fields(media["mpeg2_bff"], count=1))
    assert [f.parity for f in bff] == ["bottom", "top"]
    dv = list(iter_fields(media["bars_dv"], count=1))
    assert [f.parity for f in dv] == ["bottom", "top"]
    forced = list(iter_fields(media["bars_dv"], count=1, field_order="tff"))
    assert [f.parity for f in forced] == ["top", "bottom"]


# ----------------------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mpg"
    with pytest.raises(MediaError, match="nowhere.mpg: no such file"):
        probe_video(missing)
    with pytest.raises(MediaError, match="nowhere.mpg"):
        next(iter_ycbcr_frames(missing))


def test_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mpg"
    text.write_text("these are not the pictures you are looking for\n" * 50)
    with pytest.raises(MediaError, match=r"notes\.mpg: cannot be read as a video"):
        probe_video(text)
    audio = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.1", audio)
    with pytest.raises(MediaError, match=r"tone\.wav: has no video stream"):
        probe_video(audio)


def _cut(source: Path, target: Path, size: int) -> Path:
    target.write_bytes(source.read_bytes()[:size])
    return target


@pytest.mark.parametrize("name", ["mpeg2_tff", "bars_dv", "bars_prores"])
def test_truncated_file_yields_good_frames_then_raises_with_the_frame(
    media: dict[str, Path], name: str, tmp_path: Path
) -> None:
    """Cut in half. The frames before the cut come out intact, then MediaError names the first lost frame."""
    source = media[name]
    if name == "bars_prores":
        # The index (moov) of a plain .mov sits at the end: cut a "faststart" copy, index first.
        faststart = tmp_path / "faststart.mov"
        ffmpeg("-i", source, "-c", "copy", "-movflags", "+faststart", faststart)
        source = faststart
    truncated = _cut(source, tmp_path / f"half{source.suffix}", source.stat().st_size // 2 + 1000)
    good = list(iter_ycbcr_frames(source))
    got: list = []
    with pytest.raises(MediaError) as caught:
        got.extend(iter_ycbcr_frames(truncated))  # keeps the frames yielded before the raise
    assert 0 < len(got) < len(good)
    message = str(caught.value)
    assert str(truncated) in message and f"breaks at frame {len(got)}" in message
    for a, b in zip(got, good, strict=False):
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.cb, b.cb)
