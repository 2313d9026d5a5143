"""remaster_core.colour_management: the config, names, conversions, file tags; the DPX keycode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from remaster_core import colour_management as cm
from remaster_core.errors import InputError
from remaster_core.io.images import ImageMeta, keycode_text, read_image, read_meta, write_image
from remaster_core.manifests.align import ColourSpaces, read_align, write_align


@pytest.fixture(scope="module")
def config() -> cm.ColourConfig:
    return cm.load_config(cm.DEFAULT_CONFIG)


def _picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (6, 7, 3)).astype(np.float32)


def test_the_built_in_studio_config_has_the_spaces_remaster_names(config: cm.ColourConfig) -> None:
    for name in ("ACEScg", "ACEScct", "ADX10", "Camera Rec.709", "Linear Rec.709 (sRGB)"):
        assert config.resolve(name) == name
    assert config.resolve("acescct_ap1") == "ACEScct"  # an alias
    assert config.resolve("scene_linear") == "ACEScg"  # a role


def test_an_unknown_name_lists_the_closest_ones(config: cm.ColourConfig) -> None:
    with pytest.raises(InputError) as err:
        config.resolve("ACEScgg", "--working-colorspace")
    assert "--working-colorspace 'ACEScgg'" in str(err.value)
    assert "did you mean 'ACEScg'" in str(err.value)


def test_a_config_file_that_does_not_parse_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "studio.ocio"
    bad.write_text("ocio_profile_version: 2\ncolorspaces: [this is: not: yaml\n")
    with pytest.raises(InputError) as err:
        cm.load_config(bad)
    assert str(bad) in str(err.value) and "cannot be loaded" in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        cm.load_config(tmp_path / "missing.ocio")


def test_ocio_env_names_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")
    assert cm.config_source() == "ocio://cg-config-latest"
    assert cm.config_source("given.ocio") == "given.ocio"
    monkeypatch.delenv("OCIO")
    assert cm.config_source() == cm.DEFAULT_CONFIG


def test_conversions_round_trip_and_the_same_space_is_untouched(config: cm.ColourConfig) -> None:
    x = _picture()
    assert cm.convert(x, config, "ACEScct", "ACEScct") is x
    log = cm.convert(x, config, "Camera Rec.709", "ADX10")
    assert log.dtype == np.float32 and log.shape == x.shape
    assert not np.allclose(log, x, atol=0.01)
    np.testing.assert_allclose(cm.convert(log, config, "ADX10", "Camera Rec.709"), x, atol=1e-4)


def test_openimageio_s_own_ocio_agrees_with_pyopencolorio(config: cm.ColourConfig) -> None:
    x = _picture(1)
    ours = cm.convert(x, config, "Camera Rec.709", "ADX10")
    theirs = oiio.ImageBufAlgo.colorconvert(
        oiio.ImageBuf(x.copy()), "Camera Rec.709", "ADX10", colorconfig=cm.DEFAULT_CONFIG
    )
    pixels = theirs.get_pixels(oiio.FLOAT)
    assert not theirs.has_error and pixels is not None
    np.testing.assert_allclose(pixels, ours, atol=1e-5)


def test_display_view_defaults_and_unknown_view(config: cm.ColourConfig) -> None:
    display, view = cm.display_view(config, None, None)
    assert display == cm.REVIEW_DISPLAY and view
    with pytest.raises(InputError, match="did you mean 'Video \\(colorimetric\\)'"):
        cm.display_view(config, None, "video")
    shown = cm.to_display(_picture(), config, "ACEScct", display, view)
    assert shown.shape == (6, 7, 3) and np.isfinite(shown).all()


@pytest.mark.parametrize(
    ("ext", "name", "bits"),
    [(".exr", "ACEScct", "half"), (".exr", "Camera Rec.709", "half"), (".dpx", "ADX10", "10"),
     (".dpx", "ACEScct", "10"), (".png", "ACEScg", "16")],
)  # fmt: skip
def test_every_file_reads_back_the_colour_space_it_was_tagged_with(
    tmp_path: Path, config: cm.ColourConfig, ext: str, name: str, bits: str
) -> None:
    path = tmp_path / f"frame{ext}"
    write_image(path, _picture(), meta=cm.tag_meta(ImageMeta(), config, name, ext), bit_depth=bits)
    found, how = cm.colorspace_of(read_meta(path), config)
    assert found == name, how


def test_dpx_and_exr_carry_the_standard_fields_too(tmp_path: Path, config: cm.ColourConfig) -> None:
    dpx, exr = tmp_path / "f.dpx", tmp_path / "f.exr"
    write_image(dpx, _picture(), meta=cm.tag_meta(ImageMeta(), config, "ADX10", ".dpx"))
    assert read_meta(dpx).extra["dpx:Transfer"] == "Printing density"
    write_image(exr, _picture(), meta=cm.tag_meta(ImageMeta(), config, "ADX10", ".exr"))
    assert read_meta(exr).colorspace == "ocio:adx10_apd_scene"  # OpenEXR's colorInteropID


def test_untagged_and_transfer_only_files(tmp_path: Path, config: cm.ColourConfig) -> None:
    plain = tmp_path / "plain.dpx"
    write_image(plain, _picture())
    assert cm.colorspace_of(read_meta(plain), config)[0] is None
    printing = tmp_path / "printing.dpx"
    write_image(printing, _picture(), meta=ImageMeta(extra={"dpx:Transfer": "Printing density"}))
    assert cm.colorspace_of(read_meta(printing), config)[0] == "ADX10"


STUDIO_CONFIG = """ocio_profile_version: 2
roles:
  default: raw
  scene_linear: lin
displays:
  Screen:
    - !<View> {name: Raw, colorspace: raw}
colorspaces:
  - !<ColorSpace>
    name: raw
    isdata: true
  - !<ColorSpace>
    name: lin
  - !<ColorSpace>
    name: the show's scanner log, as the lab delivered it
    from_scene_reference: !<LogAffineTransform> {base: 10, log_side_slope: 0.25, log_side_offset: 0.6}
"""


def test_a_studio_config_and_a_name_too_long_for_a_dpx_header(tmp_path: Path) -> None:
    path = tmp_path / "show.ocio"
    path.write_text(STUDIO_CONFIG)
    studio = cm.load_config(path)
    long_name = "the show's scanner log, as the lab delivered it"
    assert studio.resolve("scene_linear") == "lin"
    x = _picture() + 0.01
    np.testing.assert_allclose(cm.convert(x, studio, "lin", long_name), 0.25 * np.log10(x) + 0.6, atol=1e-5)
    with pytest.raises(InputError, match="DPX header cannot record it"):
        cm.tag_meta(ImageMeta(), studio, long_name, ".dpx")
    exr = tmp_path / "f.exr"
    write_image(exr, x, meta=cm.tag_meta(ImageMeta(), studio, long_name, ".exr"))
    assert cm.colorspace_of(read_meta(exr), studio)[0] == long_name


def test_a_dpx_keycode_is_read_written_and_shown(tmp_path: Path) -> None:
    keycode = (1, 2, 123456, 1234, 5, 4, 64)
    path = tmp_path / "scan.dpx"
    write_image(path, _picture(), meta=ImageMeta(keycode=keycode, timecode="01:00:00:00"))
    _, meta = read_image(path)
    assert meta.keycode == keycode
    assert keycode_text(meta.keycode) == "01 02 123456 1234+05"
    again = tmp_path / "again.dpx"
    write_image(again, _picture(), meta=meta)
    assert read_meta(again).keycode == keycode


def test_align_json_keeps_the_colour_block_and_the_keycode(tmp_path: Path) -> None:
    from tests.manifests import VECTORS

    manifest = read_align(VECTORS / "align_colour" / "align.json")
    assert manifest.colour == ColourSpaces("ACEScct", "ADX10", "Camera Rec.709", cm.DEFAULT_CONFIG,
                                           "--film-colorspace")  # fmt: skip
    assert manifest.shots[0].film_keycode == "01 02 123456 1234+05"
    write_align(tmp_path, manifest)
    assert read_align(tmp_path / "align.json") == manifest
