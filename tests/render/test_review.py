"""Review movies from rendered frames: codec by extension, timecode, refusal of an incomplete render."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from remaster_core.errors import InputError
from remaster_core.io.images import ImageMeta
from remaster_core.render.outputs import output_meta, output_spec, write_frame
from remaster_core.render.review import review_codec, write_review
from tests.render import picture


def _probe(movie: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(movie)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_h264_review_with_an_explicit_timecode_and_the_frames_rate(tmp_path: Path) -> None:
    spec = output_spec(str(tmp_path / "r.####.png"))
    for f in range(10, 16):
        meta = ImageMeta(frame_rate=Fraction(25))
        write_frame(spec, f, picture(64, 48, f), output_meta(meta, spec, "k" * 32))
    movie = write_review(
        tmp_path / "review.mp4", spec, range(10, 16), fps=Fraction(25), timecode="10:00:00:00"
    )
    info = _probe(movie)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == "h264" and int(video["nb_frames"]) == 6
    assert video["r_frame_rate"] == "25/1"
    tags = {**info["format"].get("tags", {}), **video.get("tags", {})}
    assert tags.get("timecode") == "10:00:00:00"


def test_an_incomplete_render_gets_no_review(tmp_path: Path) -> None:
    spec = output_spec(str(tmp_path / "r.####.exr"))
    for f in (1, 2, 4):
        write_frame(spec, f, picture(32, 24, f), output_meta(None, spec, "k" * 32))
    with pytest.raises(InputError, match=r"1 rendered frame\(s\) missing \(3"):
        write_review(tmp_path / "review.mov", spec, [1, 2, 3, 4])
    assert not (tmp_path / "review.mov").exists()
    with pytest.raises(InputError, match=".mov"):
        review_codec(tmp_path / "review.avi")
    assert review_codec("a.mov") == "prores_hq" and review_codec("a.MP4") == "h264"
