"""Output frames: formats, render keys stamped in the header, validity checks, stale temporaries."""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from remaster_core.errors import InputError
from remaster_core.io.images import ImageMeta, read_meta
from remaster_core.render.outputs import (
    frame_status,
    output_meta,
    output_spec,
    remove_stale_temps,
    render_key,
    stamp_of,
    write_frame,
)
from tests.render import picture


def test_output_spec_defaults_and_refusals(tmp_path: Path) -> None:
    assert output_spec(str(tmp_path / "a.####.exr")).bit_depth == "half"
    assert output_spec(str(tmp_path / "a.%06d.dpx")).bit_depth == "10"
    assert output_spec(str(tmp_path / "a.####.png")).bit_depth == "16"
    assert (
        output_spec(str(tmp_path / "a.####.exr"), bit_depth="float", compression="piz").compression == "piz"
    )
    with pytest.raises(InputError, match="render writes"):
        output_spec(str(tmp_path / "a.####.tga"))
    with pytest.raises(InputError, match="bit depth"):
        output_spec(str(tmp_path / "a.####.dpx"), bit_depth="half")
    with pytest.raises(InputError, match="compression"):
        output_spec(str(tmp_path / "a.####.png"), compression="zip")
    with pytest.raises(InputError, match="frame token"):
        output_spec(str(tmp_path / "a.exr"))


def test_render_key_is_stable_and_sees_every_field() -> None:
    fields = {"model_sha256": "ab", "node": {"mix": 1.0}, "input": "file:1", "output": {"ext": ".exr"}}
    key = render_key(fields)
    assert key == render_key(dict(reversed(list(fields.items())))) and len(key) == 32
    for name, other in (("model_sha256", "ac"), ("node", {"mix": 0.5}), ("input", "file:2"), ("output", {})):
        assert render_key({**fields, name: other}) != key


@pytest.mark.parametrize("ext", [".exr", ".dpx", ".png"])
def test_a_frame_is_valid_only_with_its_key_size_and_intact_pixels(tmp_path: Path, ext: str) -> None:
    spec = output_spec(str(tmp_path / f"out.####{ext}"))
    rgb = picture(40, 30, seed=1)
    key = render_key({"frame": 7})
    assert frame_status(spec, 7, key, (40, 30)) == "missing"
    path = write_frame(spec, 7, rgb, output_meta(ImageMeta(), spec, key))
    assert stamp_of(read_meta(path), ext) == key
    assert frame_status(spec, 7, key, (40, 30)) is None
    assert frame_status(spec, 7, render_key({"frame": 8}), (40, 30)) == "rendered with other settings"
    assert "expected 41x30" in frame_status(spec, 7, key, (41, 30))
    unstamped = output_spec(str(tmp_path / f"plain.####{ext}"))
    write_frame(unstamped, 7, rgb, ImageMeta())
    assert "no render key" in frame_status(unstamped, 7, key, (40, 30))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # a damaged copy: header intact, pixels cut
    reason = frame_status(spec, 7, key, (40, 30))
    assert reason is not None and reason != "missing"


def test_output_metadata_keeps_the_input_s_and_squares_the_pixels(tmp_path: Path) -> None:
    spec = output_spec(str(tmp_path / "out.####.exr"))
    given = ImageMeta(
        pixel_aspect=8 / 9,
        timecode="01:02:03:04",
        colorspace="srgb_rec709_scene",
        frame_rate=Fraction(24000, 1001),
        extra={"ImageDescription": "reel 3", "dpx:Transfer": "Printing density"},
    )
    meta = output_meta(given, spec, "k" * 32)
    assert meta.pixel_aspect == 1.0 and "dpx:Transfer" not in meta.extra
    path = write_frame(spec, 1, picture(16, 12, seed=2), meta)
    got = read_meta(path)
    assert got.timecode == "01:02:03:04" and got.frame_rate == Fraction(24000, 1001)
    assert got.extra["ImageDescription"] == "reel 3" and got.pixel_aspect == 1.0
    assert stamp_of(got, ".exr") == "k" * 32


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    spec = output_spec(str(tmp_path / "out.####.exr"))
    dead = subprocess.Popen(["true"])  # a pid that has just exited (and been reaped)
    dead.wait()
    dead_pid = dead.pid
    stale = tmp_path / f".out.0003.exr.tmp-{dead_pid}-0a1b2c3d.exr"
    live = tmp_path / f".out.0004.exr.tmp-{os.getpid()}-0a1b2c3d.exr"
    other = tmp_path / f".out.0009.exr.tmp-{dead_pid}-0a1b2c3d.exr"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    assert remove_stale_temps(spec, range(1, 6)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()  # frame 9 is not this chunk's
