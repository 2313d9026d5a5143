"""Review movies from rendered frames: codec by extension, timecode, refusal of an incomplete render."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
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


def _render_like(conform_dir: Path, out: Path) -> tuple[object, int]:
    """Write the conformed frames as a render would (input metadata carried, key stamped)."""
    from remaster_core.io.images import read_image
    from remaster_core.manifests import read_conform

    manifest = read_conform(conform_dir)
    spec = output_spec(str(out / "r.####.exr"))
    for k in range(manifest.frame_count):
        rgb, meta = read_image(manifest.frames_path % k)
        write_frame(spec, k, rgb, output_meta(meta, spec, "k" * 32))
    return spec, manifest.frame_count


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "compare"), [(".mov", "wipe"), (".mp4", "side-by-side")])
def test_a_supervisors_review_has_the_broadcasts_sound_in_sync_burn_ins_and_a_comparison(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, suffix: str, compare: str
) -> None:
    from remaster_core.io.audio import read_audio
    from remaster_core.io.images import read_meta
    from remaster_core.render.review import ReviewOptions
    from remaster_core.synth.audio import CLICK_SECONDS, find_clicks
    from tests.conform.timecode_reel import timecode_reel

    reel = timecode_reel(tmp_path_factory)
    spec, count = _render_like(reel.conform, tmp_path / "render")
    assert read_meta(spec.path(0)).extra["remaster:source_timecode"] == "00:59:59;28.1"  # carried by render
    options = ReviewOptions(conform=reel.conform, burn_in=True, compare=compare)
    movie = write_review(tmp_path / f"review{suffix}", spec, range(count), options=options)
    info = _probe(movie)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert int(video["nb_frames"]) == count and video["r_frame_rate"] == "24000/1001"
    assert int(video["width"]) == (1360 if compare == "side-by-side" else 720)
    tags = {**info["format"].get("tags", {}), **video.get("tags", {})}
    assert tags.get("timecode") == "00:59:56:08"  # the conform's record timecode, carried by the render
    assert audio["codec_name"] == ("pcm_s24le" if suffix == ".mov" else "aac")
    # sync: a click at every shot's first field; in the movie it must play within one frame of the
    # picture of that shot's first frame, over the whole reel
    frame = float(Fraction(1001, 24000))
    sound = read_audio(movie, 0.0, count * frame)
    assert sound is not None
    clicks = find_clicks(sound.samples[:, 0], sound.rate)
    cuts = reel.truth["cuts_24p"]  # conformed index = 24p index on this reel
    assert len(clicks) == len(cuts)
    drift = [c - CLICK_SECONDS / 2 - k * frame for c, k in zip(clicks, cuts, strict=True)]
    assert max(abs(d) for d in drift) < frame, drift
    assert max(abs(d) for d in drift) <= 0.75 * 1001 / 60000 + 0.002  # the cadence's jitter, no more


def test_burn_ins_mark_the_top_left_corner_only_and_the_compare_modes_keep_the_render() -> None:
    from remaster_core.render.review import burn_in, compose

    frame = picture(320, 240, 1)
    marked = burn_in(frame, ["TC 00:59:56:08", "frame 12", "shot 1"])
    changed = np.argwhere(np.any(marked != frame, axis=2))
    assert changed.size and changed[:, 0].max() < 120 and changed[:, 1].max() < 200
    assert np.array_equal(marked[130:], frame[130:])
    broadcast = picture(360, 240, 2)
    wipe = compose(frame, broadcast, "wipe", 8 / 9)
    assert wipe.shape == frame.shape and np.array_equal(wipe[:, 170:], frame[:, 170:])
    side = compose(frame, broadcast, "side-by-side", 8 / 9)
    assert side.shape == (240, 320 + 320, 3) and np.array_equal(side[:, 320:], frame)
    with pytest.raises(InputError, match="choose one of"):
        compose(frame, broadcast, "split", 1.0)
