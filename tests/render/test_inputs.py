"""Frame sources: image sequences, conform folders and a broadcast video conformed on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remaster_core.conform.pipeline import conform
from remaster_core.errors import InputError, MediaError
from remaster_core.io.images import ImageMeta, write_image
from remaster_core.render.inputs import open_source
from tests.render import picture, write_sequence


@pytest.fixture(scope="module")
def conformed(tiny_reel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conformed") / "conform"
    conform(tiny_reel / "broadcast.mpg", out)
    return out


def test_sequence_by_pattern_or_folder(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path, range(1001, 1006))
    for arg in (pattern, str(tmp_path)):
        src = open_source(arg)
        assert src.kind == "sequence" and src.size == (64, 48) and src.pixel_aspect == 1.0
        assert src.available() == [1001, 1002, 1003, 1004, 1005]
    got = list(src.read([1002, 1004]))
    assert [f.frame for f in got] == [1002, 1004] and all(f.error is None for f in got)
    assert got[1].rgb.shape == (48, 64, 3) and got[1].meta.timecode == "01:00:00:03"
    assert src.identity(1002) != src.identity(1004)


def test_ntsc_raster_defaults_to_8_9_unless_overridden(tmp_path: Path) -> None:
    write_image(tmp_path / "b.0000.png", picture(720, 480, 0))
    assert open_source(str(tmp_path)).pixel_aspect == pytest.approx(8 / 9)
    assert open_source(str(tmp_path), pixel_aspect=10 / 11).pixel_aspect == pytest.approx(10 / 11)
    write_image(tmp_path / "c" / "c.0000.exr", picture(720, 480, 0), meta=ImageMeta(pixel_aspect=0.9))
    assert open_source(str(tmp_path / "c")).pixel_aspect == pytest.approx(0.9)


def test_bad_frames_are_reported_per_frame(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path, range(1, 6))
    (tmp_path / "plate.0003.exr").write_bytes(b"not an exr at all")
    (tmp_path / "plate.0004.exr").unlink()
    write_image(tmp_path / "plate.0005.exr", picture(32, 24, 5))
    src = open_source(pattern)
    got = {f.frame: f for f in src.read([1, 3, 4, 5])}
    assert got[1].error is None
    assert "frame 3" in got[3].error and "plate.0003.exr" in got[3].error
    assert "frame 4" in got[4].error
    assert "32x24" in got[5].error and "64x48" in got[5].error
    with pytest.raises(MediaError, match="frame 4"):
        src.identity(4)


def test_what_is_not_an_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "nothing")
    write_image(tmp_path / "single.exr", picture(8, 8, 0))
    with pytest.raises(InputError, match="single image"):
        open_source(tmp_path / "single.exr")
    with pytest.raises(InputError, match="no frames"):
        open_source(str(tmp_path / "none.####.exr"))
    (tmp_path / "video.mpg").write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="video.mpg"):
        open_source(tmp_path / "video.mpg")


def test_video_conformed_on_the_fly_matches_the_conform_folder(tiny_reel: Path, conformed: Path) -> None:
    video = open_source(tiny_reel / "broadcast.mpg")
    folder = open_source(conformed)
    assert (video.kind, folder.kind) == ("video", "conform")
    assert video.size == folder.size == (720, 480)
    assert video.pixel_aspect == pytest.approx(8 / 9) and folder.pixel_aspect == pytest.approx(8 / 9)
    assert video.available() == folder.available() == list(range(40))
    wanted = [0, 7, 23, 39]
    on_the_fly = {f.frame: f.rgb for f in video.read(wanted)}
    from_disk = {f.frame: f.rgb for f in folder.read(wanted)}
    for frame in wanted:
        # the conform folder holds half floats (step 1/2048 below 1); on the fly is float32
        assert np.abs(on_the_fly[frame] - from_disk[frame]).max() < 1e-3, frame
    beyond = list(video.read([38, 45]))
    assert beyond[0].error is None and "frame 45" in beyond[1].error and "40 frames" in beyond[1].error
    assert video.identity(3) != video.identity(4)
