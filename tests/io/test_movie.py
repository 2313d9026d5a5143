"""Review movies: written with PyAV, checked with ffprobe and decoded back with our own reader."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.io.movie import write_movie
from remaster_core.io.video import iter_rgb_frames, probe_video

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs the ffprobe CLI")


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-count_frames",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def patches(height: int, width: int, count: int) -> list[np.ndarray]:
    """Flat colour patches (so chroma subsampling is exact inside them) that change a little each frame."""
    frames = []
    for i in range(count):
        rgb = np.empty((height, width, 3), np.float32)
        rgb[:, : width // 3] = (0.75, 0.75, 0.1 + 0.02 * i)
        rgb[:, width // 3 : 2 * width // 3] = (0.1, 0.6, 0.75)
        rgb[:, 2 * width // 3 :] = (0.9, 0.2, 0.3)
        frames.append(rgb)
    return frames


def patch_means(rgb: np.ndarray, width: int) -> np.ndarray:
    """Mean colour of the inner part of each of the three patches: (3, 3)."""
    third = width // 3
    return np.array(
        [rgb[4:-4, k * third + 4 : (k + 1) * third - 4].mean(axis=(0, 1)) for k in range(3)], dtype=np.float32
    )


def video_stream(probe: dict) -> dict:
    return next(s for s in probe["streams"] if s["codec_type"] == "video")


def timecode_track(probe: dict) -> str | None:
    """The start timecode of the QuickTime timecode (tmcd) track, None when there is no such track."""
    tracks = [s for s in probe["streams"] if s.get("codec_tag_string") == "tmcd"]
    return tracks[0]["tags"]["timecode"] if tracks else None


def test_prores_hq_movie(tmp_path: Path) -> None:
    frames = patches(72, 96, 5)
    path = write_movie(
        tmp_path / "review.mov", iter(frames), fps=Fraction(24000, 1001), pixel_aspect=Fraction(8, 9)
    )
    assert path == tmp_path / "review.mov"
    probe = ffprobe(path)
    video = video_stream(probe)
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("prores", "HQ", "yuv422p10le")
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (96, 72, 5)
    assert video["r_frame_rate"] == "24000/1001" and video["sample_aspect_ratio"] == "8:9"
    assert (video["color_space"], video["color_primaries"], video["color_transfer"]) == ("bt709",) * 3
    assert video["color_range"] == "tv"
    assert timecode_track(probe) == "01:00:00:00"
    info = probe_video(path)
    assert (info.matrix, info.range, info.frame_count) == ("bt709", "limited", 5)
    decoded = list(iter_rgb_frames(path))
    assert len(decoded) == 5
    for got, want in zip(decoded, frames, strict=True):
        # 10-bit 4:2:2 ProRes HQ on flat patches: within a few 10-bit codes.
        np.testing.assert_allclose(patch_means(got, 96), patch_means(want, 96), atol=0.004)
    assert not [p.name for p in tmp_path.iterdir() if p.name != "review.mov"]  # no temp file left


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_h264_movie_with_odd_size_and_drop_frame_timecode(tmp_path: Path, suffix: str) -> None:
    frames = patches(47, 65, 4)
    path = write_movie(
        tmp_path / f"review{suffix}",
        frames,
        fps=Fraction(30000, 1001),
        codec="h264",
        timecode="00:59:59;28",
        matrix="bt601",
    )
    probe = ffprobe(path)
    video = video_stream(probe)
    assert (video["codec_name"], video["pix_fmt"], int(video["nb_read_frames"])) == ("h264", "yuv420p", 4)
    assert (video["width"], video["height"]) == (66, 48)  # padded to even for 4:2:0
    assert video["color_space"] == "smpte170m"
    assert timecode_track(probe) == "00:59:59;28"
    info = probe_video(path)
    assert info.matrix == "bt601" and info.fps == Fraction(30000, 1001)
    got = next(iter_rgb_frames(path))
    np.testing.assert_allclose(got[47, :65], got[46, :65])  # the padding row repeats the last row
    # 8-bit 4:2:0 at CRF 16 on flat patches: within a few 8-bit codes.
    np.testing.assert_allclose(patch_means(got[:47, :65], 65), patch_means(frames[0], 65), atol=0.012)


def test_no_timecode(tmp_path: Path) -> None:
    path = write_movie(tmp_path / "plain.mov", patches(16, 16, 2), fps=Fraction(24), timecode=None)
    probe = ffprobe(path)
    assert timecode_track(probe) is None
    assert len(probe["streams"]) == 1 and "timecode" not in video_stream(probe).get("tags", {})


def test_bad_requests_are_refused_before_writing(tmp_path: Path) -> None:
    frames = patches(16, 16, 1)
    with pytest.raises(InputError, match="must end in .mov"):
        write_movie(tmp_path / "a.mp4", frames, fps=Fraction(24))
    with pytest.raises(InputError, match="timecode"):
        write_movie(tmp_path / "a.mov", frames, fps=Fraction(24), timecode="01:00:00:24")
    with pytest.raises(InputError, match="drop-frame"):
        write_movie(tmp_path / "a.mov", frames, fps=Fraction(24), timecode="01:00:00;00")
    with pytest.raises(InputError, match="frames must be float"):
        write_movie(tmp_path / "a.mov", [np.zeros((16, 16, 3), np.uint8)], fps=Fraction(24))
    with pytest.raises(InputError, match="no frames"):
        write_movie(tmp_path / "a.mov", [], fps=Fraction(24))
    assert list(tmp_path.iterdir()) == []


def test_a_bad_frame_leaves_nothing_behind(tmp_path: Path) -> None:
    frames = patches(16, 16, 3)
    frames[2][3, 3, 1] = np.nan
    with pytest.raises(
        InputError, match=r"frame 2 holds 1 NaN, 0 \+Inf and 0 -Inf values \(first at y=3, x=3"
    ):
        write_movie(tmp_path / "broken.mov", frames, fps=Fraction(24))
    frames = patches(16, 16, 2) + patches(16, 18, 1)
    with pytest.raises(InputError, match="frame 2 is 18x16, the first was 16x16"):
        write_movie(tmp_path / "broken.mov", frames, fps=Fraction(24), codec="h264")
    assert list(tmp_path.iterdir()) == []
