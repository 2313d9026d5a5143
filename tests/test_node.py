"""The per-frame node: describe, region of definition, resample -> engine -> mix, per-shot transforms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remaster_core.align.transform import (
    Radial,
    Transform4,
    nominal_transform,
    resample,
    sampling_maps,
)
from remaster_core.errors import InputError
from remaster_core.node import (
    NodeParams,
    describe,
    engine_for,
    read_align,
    region_of_definition,
    render_frame,
    resample_frame,
    resample_to_output,
)
from tests.render import model, picture, write_align_json


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("node"))


def ramp(width: int, height: int) -> np.ndarray:
    """A frame whose channels are linear in the pixel coordinates: R = x / 100, G = y / 100, B = 0.5."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([x / 100, y / 100, np.full_like(x, 0.5)], axis=-1)


def test_describe_states_inputs_and_parameters_with_defaults() -> None:
    d = describe()
    json.dumps(d)  # a host can ship it as JSON
    assert [i["name"] for i in d["inputs"]] == ["Source", "Reference"]
    assert [i["required"] for i in d["inputs"]] == [True, False]
    params = {p["name"]: p for p in d["parameters"]}
    assert set(params) == {
        "model",
        "output_size",
        "transform",
        "tile",
        "overlap",
        "precision",
        "provider",
        "mix",
        "batch",
        "threads",
        "memory_mb",
        "grain_amount",
        "grain_size",
        "grain_seed",
    }
    defaults = NodeParams(model=Path("m.onnx"))
    assert params["mix"]["default"] == defaults.mix == 1.0 and params["mix"]["range"] == [0.0, 1.0]
    assert (
        params["precision"]["choices"] == ["fp32", "fp16", "bf16"]
        and params["precision"]["default"] == "fp32"
    )
    assert params["provider"]["default"] == defaults.provider
    assert params["tile"]["default"] is None


def test_region_of_definition() -> None:
    fixed = NodeParams(model=Path("m.onnx"), output_size=(1440, 1080))
    assert region_of_definition(fixed, (720, 480), 8 / 9) == (1440, 1080)
    free = NodeParams(model=Path("m.onnx"))
    assert region_of_definition(free, (720, 480), 8 / 9) == (640, 480)  # display aspect, square pixels
    assert region_of_definition(free, (64, 48), 1.0) == (64, 48)


@pytest.mark.parametrize(
    "kwargs",
    [{"mix": 1.5}, {"mix": float("nan")}, {"output_size": (0, 10)}, {"provider": "gpu"}, {"tile": 0}],
)
def test_bad_parameters_are_input_errors(kwargs: dict) -> None:
    with pytest.raises(InputError):
        NodeParams(model=Path("m.onnx"), **kwargs)


def test_nominal_resample_puts_each_output_pixel_where_the_transform_says() -> None:
    """A linear ramp survives bilinear resampling exactly, so the output must read back the broadcast
    coordinates of the nominal transform: xb = sx * x + tx (pixel aspect 8/9 honoured)."""
    src = ramp(90, 60)
    params = NodeParams(model=Path("unused.onnx"), output_size=(120, 90), mix=0.0)
    out = render_frame(src, params, pixel_aspect=8 / 9)
    assert out.shape == (90, 120, 3) and out.dtype == np.float32
    t = nominal_transform((90, 60), 8 / 9, (120, 90))
    assert t.sx * 8 / 9 == pytest.approx(t.sy)  # equal display scale on both axes
    y, x = np.mgrid[0:90, 0:120]
    xb, yb = t.apply(x, y)
    inside = (xb >= 0) & (xb <= 89) & (yb >= 0) & (yb <= 59)
    assert inside.mean() > 0.8
    # cv2.remap quantises positions to 1/32 px: 1/64 px at most, i.e. 1.6e-4 on this ramp
    np.testing.assert_allclose(out[..., 0][inside], xb[inside] / 100, atol=2.5e-4)
    np.testing.assert_allclose(out[..., 1][inside], yb[inside] / 100, atol=2.5e-4)


def test_borders_replicate_inside_the_picture_and_are_black_outside() -> None:
    src = np.full((48, 64, 3), 0.7, np.float32)
    edge = NodeParams(model=Path("unused.onnx"), output_size=(128, 96), mix=0.0)
    up = render_frame(src, edge)  # 2x up, edge to edge: samples at -0.25 px stay inside the picture
    np.testing.assert_array_equal(up, np.full_like(up, 0.7))
    boxed = NodeParams(model=Path("unused.onnx"), output_size=(128, 64), mix=0.0)
    out = render_frame(src, boxed)  # 4:3 into 2:1: pillar-boxed
    cols = out[32]
    assert (cols[:10] == 0).all() and (cols[-10:] == 0).all()
    assert np.allclose(cols[30:98], 0.7)


def test_render_is_resample_then_model_then_mix(model_path: Path) -> None:
    src = picture(64, 48, seed=3)
    params = NodeParams(model=model_path, output_size=(96, 72), provider="cpu")
    engine = engine_for(params)
    resampled = resample_to_output(src, nominal_transform((64, 48), 1.0, (96, 72)), (96, 72))
    expected = engine.run(resampled)
    np.testing.assert_array_equal(render_frame(src, params), expected)
    quarter = NodeParams(model=model_path, output_size=(96, 72), provider="cpu", mix=0.25)
    np.testing.assert_allclose(render_frame(src, quarter), 0.25 * expected + 0.75 * resampled, atol=1e-6)
    before = engine.stats.frames
    off = NodeParams(model=model_path, output_size=(96, 72), provider="cpu", mix=0.0)
    np.testing.assert_array_equal(render_frame(src, off), resampled)
    assert engine.stats.frames == before  # mix 0 never runs the model


def test_the_model_sees_the_edges_replicated_and_the_output_is_black_beyond_the_picture(
    model_path: Path,
) -> None:
    """An output raster that runs past the broadcast picture (pillar bars, a telecine's overscan): the
    model's input there holds the picture's edge pixels, as in training (a black border would change
    its output inside the picture, up to its receptive field); the final picture is black there."""
    src = picture(64, 48, seed=5)
    params = NodeParams(model=model_path, output_size=(128, 64), provider="cpu")  # 4:3 into 2:1
    engine = engine_for(params)
    mapping = nominal_transform((64, 48), 1.0, (128, 64))
    resampled = resample_frame(src, mapping, (128, 64))
    assert resampled.outside is not None and 0.1 < resampled.outside.mean() < 0.4
    assert (resampled.picture[resampled.outside] != 0).any()  # replicated, not black
    out = render_frame(src, params)
    inside = ~resampled.outside
    np.testing.assert_array_equal(out[inside], engine.run(resampled.picture)[inside])
    assert (out[resampled.outside] == 0).all()
    black_input = engine.run(resample_to_output(src, mapping, (128, 64)))
    assert np.abs(black_input - out)[inside].max() > 1e-3  # the border would have reached inside
    off = NodeParams(model=model_path, output_size=(128, 64), provider="cpu", mix=0.0)
    np.testing.assert_array_equal(render_frame(src, off), resampled.output())


def test_frame_transform_and_distortion_override_the_nominal(model_path: Path) -> None:
    src = picture(64, 48, seed=4)
    params = NodeParams(model=model_path, output_size=(80, 60), provider="cpu", mix=0.0)
    t = Transform4(tx=3.25, ty=-1.5, sx=0.7, sy=0.75)
    radial = Radial.for_raster((64, 48), 1.0, k1=-0.05)
    out = render_frame(src, params, transform=t, distortion=radial)
    mx, my = sampling_maps(t, (80, 60), radial)
    direct = resample(src, mx, my, border="replicate")
    inside = (mx >= -0.5) & (mx <= 63.5) & (my >= -0.5) & (my <= 47.5)
    np.testing.assert_array_equal(out[inside], direct[inside])
    assert (out[~inside] == 0).all()
    fixed = NodeParams(model=model_path, output_size=(80, 60), provider="cpu", mix=0.0, transform=t)
    np.testing.assert_array_equal(render_frame(src, fixed), render_frame(src, params, transform=t))


def test_render_frame_rejects_what_is_not_float_rgb(model_path: Path) -> None:
    params = NodeParams(model=model_path, provider="cpu")
    with pytest.raises(InputError, match="RGB"):
        render_frame(np.zeros((48, 64), np.float32), params)
    with pytest.raises(InputError, match="float"):
        render_frame(np.zeros((48, 64, 3), np.uint8), params)
    bad = picture(64, 48, seed=1)
    bad[5, 5, 1] = np.nan
    with pytest.raises(InputError, match="frame 7"):
        render_frame(bad, params, where="frame 7")


def test_align_table_picks_the_shot_of_a_frame(tmp_path: Path) -> None:
    a = Transform4(0.1, 0.2, 0.6, 0.62)
    radial = Radial.for_raster((64, 48), 1.0, k1=-0.02)
    nominal = nominal_transform((64, 48), 1.0, (96, 72))
    shots = [
        {
            "index": 0,
            "first": 0,
            "last": 9,
            "status": "no film",
            "transform": nominal.to_dict(),
            "distortion": None,
        },
        {
            "index": 1,
            "first": 10,
            "last": 19,
            "status": "aligned",
            "broadcast_first": 11,
            "broadcast_last": 19,
            "transform": a.to_dict(),
            "distortion": radial.to_dict(),
        },
    ]
    table = read_align(write_align_json(tmp_path, shots, (96, 72)))
    assert table.output_size == (96, 72)
    assert (
        table.mapping(10).transform == a and table.mapping(10).distortion == radial
    )  # shot spans first..last
    assert table.mapping(19).index == 1
    assert table.mapping(3).transform == nominal and table.mapping(3).distortion is None
    outside = table.mapping(25)
    assert outside.index == -1 and outside.transform == nominal


def test_align_json_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such align.json"):
        read_align(tmp_path / "missing.json")
    no_film = tmp_path / "nofilm"
    no_film.mkdir()
    with pytest.raises(InputError, match="output_format"):
        read_align(write_align_json(no_film, [], None))
    broken = tmp_path / "broken"
    broken.mkdir()
    path = write_align_json(broken, [{"index": 0, "first": 0, "last": 3, "transform": None}], (96, 72))
    doc = json.loads(path.read_text())
    doc["shots"][0] = {"index": 0, "status": "aligned", "transform": {"tx": 1}}
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"align\.json: shots\[0\]\.first: is missing"):
        read_align(path)
