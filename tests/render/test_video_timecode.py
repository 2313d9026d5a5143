"""A render made straight from a broadcast video (conformed on the fly) carries the timecode a conform
folder's frames carry: the 23.976 record timecode and the source fields' timecode."""

from __future__ import annotations

from pathlib import Path

import pytest

from remaster_core.cli import main
from remaster_core.conform.timecode import SOURCE_ATTRIBUTE
from remaster_core.io.images import read_meta
from remaster_core.manifests.conform import read_conform
from tests.conform.timecode_reel import timecode_reel

pytestmark = pytest.mark.slow


def test_a_render_from_the_video_is_stamped_like_the_conformed_frames(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    reel = timecode_reel(tmp_path_factory)
    conform = read_conform(reel.conform)
    frames = [0, 1, 2, 3, 4, conform.frame_count - 1]
    out = tmp_path / "render" / "frame.####.exr"
    # --mix 0: the bilinear picture alone, no model needed; the timecode is what is checked
    code = main(
        ["-q", "render", str(reel.broadcast), "--model", str(tmp_path / "none.onnx"), "--mix", "0",
         "--out", str(out), "--frames", " ".join(map(str, frames)), "--format", "360x270"]
    )  # fmt: skip
    assert code == 0
    for frame in frames:
        rendered = read_meta(tmp_path / "render" / f"frame.{frame:04d}.exr")
        conformed = read_meta(conform.frames_path % frame)
        assert rendered.timecode is not None and rendered.timecode == conformed.timecode, frame
        assert rendered.extra[SOURCE_ATTRIBUTE] == conformed.extra[SOURCE_ATTRIBUTE], frame
