"""EXR / DPX / TIFF / PNG through OpenImageIO: pixel round trips, metadata, and errors on bad files.

Every file here is written by OpenImageIO (through ``write_image`` or directly) and read back.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from remaster_core.errors import InputError, MediaError
from remaster_core.io import images
from remaster_core.io.images import (
    ImageMeta,
    image_size,
    read_frame,
    read_image,
    read_image_codes,
    read_meta,
    write_image,
)
from remaster_core.io.sequence import parse_pattern

REPO = Path(__file__).resolve().parents[2]
H, W = 23, 37  # odd sizes: DPX packs 10-bit samples three to a 32-bit word


def random_codes(top: int, seed: int = 0, shape: tuple[int, ...] = (H, W, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, top + 1, size=shape).astype(np.uint16)


# --- pixel round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bit_depth", "top"),
    [
        ("a.dpx", "10", 1023),
        ("a.dpx", "12", 4095),
        ("a.dpx", "16", 65535),
        ("a.tif", "16", 65535),
        ("a.png", "16", 65535),
        ("a.tif", "8", 255),
        ("a.png", "8", 255),
        ("a.dpx", "8", 255),
    ],
)
def test_integer_formats_are_exact_on_their_codes(
    tmp_path: Path, name: str, bit_depth: str, top: int
) -> None:
    """Exact: codes c written as c / max come back as c, both as codes and as round(x * max)."""
    codes = random_codes(top)
    codes[0, :3] = [0, top, top // 2]  # both ends of the range
    write_image(tmp_path / name, codes.astype(np.float32) / top, bit_depth=bit_depth)
    back, meta = read_image_codes(tmp_path / name)
    assert meta.bit_depth == bit_depth
    np.testing.assert_array_equal(back, codes)
    pixels, _ = read_image(tmp_path / name)
    assert pixels.dtype == np.float32 and pixels.shape == (H, W, 3)
    np.testing.assert_array_equal(np.rint(pixels * top), codes)


def test_every_10bit_code_survives_dpx(tmp_path: Path) -> None:
    """Exact: all 1024 codes of each channel."""
    ramp = np.arange(1024, dtype=np.uint16)
    codes = np.stack([ramp, ramp[::-1], (ramp * 7) % 1024], axis=-1).reshape(32, 32, 3)
    write_image(tmp_path / "ramp.dpx", codes.astype(np.float32) / 1023)
    np.testing.assert_array_equal(read_image_codes(tmp_path / "ramp.dpx")[0], codes)


@pytest.mark.parametrize(("name", "dtype"), [("a.png", np.uint8), ("a.tif", np.uint16), ("a.dpx", np.uint16)])
def test_uint_input_of_matching_depth_is_written_unchanged(tmp_path: Path, name: str, dtype: type) -> None:
    top = np.iinfo(dtype).max
    codes: np.ndarray = random_codes(top, seed=3).astype(dtype)
    write_image(tmp_path / name, codes, bit_depth=str(8 * np.dtype(dtype).itemsize))
    np.testing.assert_array_equal(read_image_codes(tmp_path / name)[0], codes)


def test_uint8_into_16bit_file_is_rescaled_exactly(tmp_path: Path) -> None:
    codes8 = random_codes(255, seed=4).astype(np.uint8)
    write_image(tmp_path / "a.png", codes8, bit_depth="16")
    np.testing.assert_array_equal(read_image_codes(tmp_path / "a.png")[0], codes8.astype(np.uint16) * 257)


@pytest.mark.parametrize(
    ("name", "bit_depth", "top"), [("a.dpx", "10", 1023), ("a.tif", "16", 65535), ("a.png", "8", 255)]
)
def test_float_input_is_clipped_and_rounded_to_nearest_code(
    tmp_path: Path, name: str, bit_depth: str, top: int
) -> None:
    values = np.random.default_rng(5).uniform(-0.2, 1.2, size=(H, W, 3)).astype(np.float32)
    write_image(tmp_path / name, values, bit_depth=bit_depth)
    expected = np.rint(np.clip(values, 0, 1) * np.float32(top))
    np.testing.assert_array_equal(read_image_codes(tmp_path / name)[0], expected)


def test_exr_float_is_exact_including_nan_inf_and_out_of_range(tmp_path: Path) -> None:
    values = np.random.default_rng(6).normal(0.5, 2.0, size=(H, W, 3)).astype(np.float32)
    values[0, 0] = [np.nan, np.inf, -np.inf]
    values[0, 1] = [1e-30, -0.0, 3e38]
    write_image(tmp_path / "a.exr", values, bit_depth="float")
    back, meta = read_image(tmp_path / "a.exr")
    assert meta.bit_depth == "float"
    np.testing.assert_array_equal(back, values)  # NaN == NaN for assert_array_equal


def test_exr_half_is_within_half_precision(tmp_path: Path) -> None:
    """Half keeps 11 significant bits: relative error at most 2**-11 for normal values."""
    values = np.random.default_rng(7).uniform(1e-3, 100.0, size=(H, W, 3)).astype(np.float32)
    write_image(tmp_path / "a.exr", values)  # half is the default
    back, meta = read_image(tmp_path / "a.exr")
    assert meta.bit_depth == "half"
    assert np.max(np.abs(back - values) / values) <= 2.0**-11
    exact = values.astype(np.float16)  # values already representable in half come back exactly
    write_image(tmp_path / "b.exr", exact)
    np.testing.assert_array_equal(read_image(tmp_path / "b.exr")[0], exact.astype(np.float32))


def test_exr_half_rounds_as_openimageio_does(tmp_path: Path) -> None:
    """write_image converts to half itself: bit for bit what OpenImageIO's own conversion writes, at the
    edges too (ties, subnormals, values beyond half's 65504 going to inf, NaN, signed zero)."""
    rng = np.random.default_rng(11)
    values = (rng.standard_normal((H, W, 3)) * 10.0 ** rng.uniform(-9, 6, (H, W, 3))).astype(np.float32)
    edges = [np.inf, -np.inf, np.nan, -0.0, 65504.0, 65519.0, 65520.0, 7e4, -7e4, 2.98e-8, 2.99e-8, 6.1e-5]
    values.flat[: len(edges)] = edges
    ours = tmp_path / "ours.exr"
    write_image(ours, values, bit_depth="half", compression="none")
    theirs = str(tmp_path / "theirs.exr")
    out = oiio.ImageOutput.create(theirs)
    assert out.open(theirs, oiio.ImageSpec(W, H, 3, "half")) and out.write_image(values) and out.close()
    got = [oiio.ImageInput.open(str(p)).read_image("half") for p in (ours, theirs)]
    np.testing.assert_array_equal(got[0].view(np.uint16), got[1].view(np.uint16))


def test_tiff_float_is_exact(tmp_path: Path) -> None:
    values = np.random.default_rng(8).normal(size=(H, W, 3)).astype(np.float32)
    write_image(tmp_path / "a.tif", values, bit_depth="float")
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif")[0], values)


@pytest.mark.parametrize("compression", ["zip", "piz", "dwaa", "none", "b44"])
def test_exr_compression_is_applied(tmp_path: Path, compression: str) -> None:
    values = np.random.default_rng(9).uniform(size=(H, W, 3)).astype(np.float16)
    write_image(tmp_path / "a.exr", values, compression=compression)
    inp = oiio.ImageInput.open(str(tmp_path / "a.exr"))
    assert inp is not None
    assert inp.spec().get_string_attribute("compression") == compression
    inp.close()
    if compression in ("zip", "piz", "none"):  # lossless ones
        np.testing.assert_array_equal(read_image(tmp_path / "a.exr")[0], values.astype(np.float32))


# --- channels ------------------------------------------------------------------------------------------


def test_grey_is_replicated_and_alpha_dropped(tmp_path: Path) -> None:
    grey = np.random.default_rng(10).uniform(size=(H, W)).astype(np.float32)
    write_image(tmp_path / "grey.exr", grey, bit_depth="float")
    assert image_size(tmp_path / "grey.exr") == (W, H, 1)
    rgb, _ = read_image(tmp_path / "grey.exr")
    assert rgb.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], grey)
    assert read_image(tmp_path / "grey.exr", channels=None)[0].shape == (H, W, 1)

    rgba = np.random.default_rng(11).uniform(size=(H, W, 4)).astype(np.float32)
    write_image(tmp_path / "rgba.tif", rgba, bit_depth="float")
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.tif")[0], rgba[..., :3])
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.tif", channels=None)[0], rgba)


@pytest.mark.parametrize(
    ("name", "bit_depth"), [("a.png", "16"), ("a.png", "8"), ("a.tif", "16"), ("a.dpx", "16")]
)
def test_rgba_is_read_as_stored_never_premultiplied(tmp_path: Path, name: str, bit_depth: str) -> None:
    """Exact, alpha included; colour under alpha 0 survives (PNG stores unassociated alpha)."""
    top = 2 ** int(bit_depth) - 1
    codes = random_codes(top, seed=14, shape=(H, W, 4))
    codes[0, 0] = [top // 2, top // 3, top, 0]
    write_image(tmp_path / name, codes.astype(np.float32) / top, bit_depth=bit_depth)
    np.testing.assert_array_equal(read_image_codes(tmp_path / name)[0], codes)


def test_known_oiio_bug_10bit_rgba_dpx_is_flagged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenImageIO 3.2 reads the last alpha of each row wrong when width * 4 % 3 == 1 (here W=37)."""
    monkeypatch.setattr(images, "_warned", set())
    codes = random_codes(1023, seed=15, shape=(H, W, 4))
    write_image(tmp_path / "a.dpx", codes.astype(np.float32) / 1023)
    with caplog.at_level(logging.WARNING, logger="remaster.io.images"):
        back, _ = read_image_codes(tmp_path / "a.dpx")
    assert "misreads the alpha of the last column" in caplog.text
    np.testing.assert_array_equal(back[..., :3], codes[..., :3])
    np.testing.assert_array_equal(back[:, :-1, 3], codes[:, :-1, 3])


def test_unknown_channel_layout_is_refused_for_rgb(tmp_path: Path) -> None:
    path = tmp_path / "aov.exr"
    spec = oiio.ImageSpec(8, 8, 5, "half")
    spec.channelnames = ("diffuse.X", "diffuse.Y", "diffuse.Z", "depth.Z", "id")
    out = oiio.ImageOutput.create(str(path))
    assert out is not None
    assert out.open(str(path), spec) and out.write_image(np.zeros((8, 8, 5), np.float32)) and out.close()
    with pytest.raises(MediaError, match=r"aov\.exr: 5 channels"):
        read_image(path)
    assert read_image(path, channels=None)[0].shape == (8, 8, 5)


def test_exr_data_window_is_placed_in_display_window(tmp_path: Path) -> None:
    """A Nuke-style EXR whose data window (bbox) is smaller than its format."""
    path = tmp_path / "bbox.exr"
    spec = oiio.ImageSpec(4, 3, 3, "float")
    spec.x, spec.y, spec.full_x, spec.full_y, spec.full_width, spec.full_height = 5, 2, 0, 0, 10, 6
    data = np.arange(4 * 3 * 3, dtype=np.float32).reshape(3, 4, 3) + 1
    out = oiio.ImageOutput.create(str(path))
    assert out is not None
    assert out.open(str(path), spec) and out.write_image(data) and out.close()
    image, _ = read_image(path)
    assert image.shape == (6, 10, 3) and image_size(path) == (10, 6, 3)
    np.testing.assert_array_equal(image[2:5, 5:9], data)
    assert image.sum() == data.sum()  # zero elsewhere


# --- metadata ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "colorspace", "extra"),
    [
        ("a.exr", "lin_ap1_scene", {"ImageDescription": "reel 3", "Orientation": 1}),
        ("a.dpx", "lin_rec709_scene", {"dpx:Transfer": "Linear", "dpx:Colorimetric": "User defined"}),
        ("b.dpx", "KodakLog", {"dpx:Transfer": "Logarithmic", "ImageDescription": "scan"}),
    ],
)
@pytest.mark.parametrize("timecode", ["01:02:03:04", "23:59:59;29"])
def test_metadata_round_trips(tmp_path: Path, name: str, colorspace: str, extra: dict, timecode: str) -> None:
    meta = ImageMeta(
        pixel_aspect=0.9,
        timecode=timecode,
        colorspace=colorspace,
        frame_rate=Fraction(24000, 1001),
        extra=extra,
    )
    write_image(tmp_path / name, np.full((H, W, 3), 0.5, np.float32), meta=meta)
    for got in (read_meta(tmp_path / name), read_image(tmp_path / name)[1]):
        assert got.pixel_aspect == pytest.approx(0.9, rel=1e-6)
        assert got.timecode == timecode
        assert got.colorspace == colorspace
        assert got.frame_rate == Fraction(24000, 1001)
        assert got.extra.items() >= extra.items()


def test_colourspace_names_follow_color_interop_ids(tmp_path: Path) -> None:
    write_image(tmp_path / "a.exr", np.zeros((4, 4, 3), np.float32), meta=ImageMeta(colorspace="ACEScg"))
    assert read_meta(tmp_path / "a.exr").colorspace == "lin_ap1_scene"


def test_metadata_carries_from_file_to_file(tmp_path: Path) -> None:
    """Read a 10-bit log DPX and write it again with its own metadata: same depth, same tags."""
    meta = ImageMeta(
        pixel_aspect=0.9, timecode="10:00:00:00", colorspace="KodakLog", extra={"dpx:LowData": 95}
    )
    write_image(tmp_path / "in.dpx", random_codes(1023).astype(np.float32) / 1023, meta=meta)
    pixels, meta_in = read_image(tmp_path / "in.dpx")
    write_image(tmp_path / "out.dpx", pixels, meta=meta_in)
    assert read_meta(tmp_path / "out.dpx") == meta_in
    np.testing.assert_array_equal(
        read_image_codes(tmp_path / "out.dpx")[0], read_image_codes(tmp_path / "in.dpx")[0]
    )


def test_colourspace_the_format_would_mislabel_is_refused(tmp_path: Path) -> None:
    """DPX records only a transfer curve: ACEScg would read back as linear Rec.709."""
    with pytest.raises(
        InputError, match=r"a\.dpx: DPX cannot record colour space 'ACEScg'.*lin_rec709_scene"
    ):
        write_image(tmp_path / "a.dpx", np.zeros((4, 4, 3), np.float32), meta=ImageMeta(colorspace="ACEScg"))
    assert os.listdir(tmp_path) == []


def test_metadata_the_format_cannot_hold_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="remaster.io.images"):
        write_image(
            tmp_path / "a.tif", np.zeros((4, 4, 3), np.float32), meta=ImageMeta(timecode="01:00:00:00")
        )
    assert read_meta(tmp_path / "a.tif").timecode is None
    assert "TIF files cannot record timecode" in caplog.text


def test_bad_timecode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="timecode '25:00:00:00'"):
        write_image(
            tmp_path / "a.exr", np.zeros((4, 4, 3), np.float32), meta=ImageMeta(timecode="25:00:00:00")
        )


# --- bad input -----------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"nope\.exr: no such file"):
        read_image(tmp_path / "nope.exr")


def test_garbage_exr_names_file_and_oiio_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.exr"
    path.write_bytes(np.random.default_rng(12).bytes(4000))
    with pytest.raises(MediaError, match=r"garbage\.exr: cannot read this image \(.*not an OpenEXR file"):
        read_image(path)


@pytest.mark.parametrize("keep", [0.5, 0.02])  # cut in the pixels, cut in the header
def test_truncated_exr_names_the_file(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "plate.1001.exr"
    write_image(
        path, np.random.default_rng(13).uniform(size=(64, 64, 3)).astype(np.float32), compression="none"
    )
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(MediaError, match=r"plate\.1001\.exr: cannot read") as info:
        read_image(path)
    assert "(" in str(info.value) and "no data" not in str(info.value)  # OpenImageIO's own words


def test_truncated_dpx_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.dpx"
    write_image(path, random_codes(1023).astype(np.float32) / 1023)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"scan\.dpx: cannot read"):
        read_image(path)


def test_read_frame_names_frame_and_pattern(tmp_path: Path) -> None:
    seq = parse_pattern(str(tmp_path / "plate.####.exr"))
    write_image(seq.path(1001), np.zeros((4, 4, 3), np.float32))
    assert read_frame(seq, 1001)[0].shape == (4, 4, 3)
    with pytest.raises(
        MediaError, match=r"frame 1002 of .*plate\.####\.exr: .*plate\.1002\.exr: no such file"
    ):
        read_frame(seq, 1002)


def test_read_codes_of_a_float_file_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "a.exr", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(MediaError, match="holds half samples"):
        read_image_codes(tmp_path / "a.exr")


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("a.jpg", {}, "cannot write .jpg files"),
        ("a", {}, "cannot write extensionless files"),
        ("a.dpx", {"bit_depth": "half"}, "bit depth 'half'"),
        ("a.exr", {"bit_depth": "16"}, "bit depth '16'"),
        ("a.exr", {"compression": "jpeg"}, "compression 'jpeg'"),
        ("a.dpx", {"compression": "zip"}, "compression 'zip'"),
    ],
)
def test_unsupported_writes(tmp_path: Path, name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        write_image(tmp_path / name, np.zeros((4, 4, 3), np.float32), **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["a.dpx", "a.png", "a.tif"])
def test_nan_is_refused_for_integer_files(tmp_path: Path, name: str) -> None:
    image = np.zeros((4, 4, 3), np.float32)
    image[1, 2, 0] = np.nan
    image[3, 3, 1] = np.inf
    image[0, 3, 2] = -np.inf
    with pytest.raises(
        InputError,
        match=r"a\.\w+: the image holds 1 NaN, 1 \+Inf and 1 -Inf values \(first at y=0, x=3, channel B\)",
    ):
        write_image(tmp_path / name, image)
    assert os.listdir(tmp_path) == []


def test_a_file_whose_contents_are_another_format_than_its_extension_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "frame.png", np.full((4, 6, 3), 0.5, np.float32), bit_depth="8")
    os.replace(tmp_path / "frame.png", tmp_path / "frame.0001.dpx")
    for read in (read_image, image_size):
        with pytest.raises(MediaError, match=r"frame\.0001\.dpx: the file's contents are png, not the dpx"):
            read(tmp_path / "frame.0001.dpx")


def test_bad_array_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "a.exr", np.zeros((4, 4, 5), np.float32))
    with pytest.raises(ValueError, match="int32"):
        write_image(tmp_path / "a.exr", np.zeros((4, 4, 3), np.int32))


def test_write_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "plate.1001.exr"
    write_image(path, np.zeros((4, 4, 3), np.float32))
    write_image(path, np.ones((4, 4, 3), np.float32))
    assert os.listdir(tmp_path) == ["plate.1001.exr"]
    assert read_image(path)[0].min() == 1.0


def test_full_disk_during_image_write_leaves_nothing(tmp_path: Path) -> None:
    """A real EFBIG (RLIMIT_FSIZE in a child process) while OpenImageIO writes each format."""
    child = textwrap.dedent(
        f"""
        import resource, signal
        import numpy as np
        from remaster_core.errors import MediaError
        from remaster_core.io.images import write_image
        image = np.random.default_rng(0).uniform(size=(256, 256, 3)).astype(np.float32)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        for name in ("a.exr", "a.dpx", "a.tif", "a.png"):
            try:
                write_image({str(tmp_path)!r} + "/" + name, image)
                print("written", name)
            except MediaError as exc:
                print("MediaError", name, exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", child], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["MediaError", f"a.{e}"] for e in ("exr", "dpx", "tif", "png")
    ]
    assert all(str(tmp_path) in line for line in lines)
    assert os.listdir(tmp_path) == []
