"""The worker's protocol in process: request parsing, checked parameters, error responses, the loop."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from remaster_core.errors import InputError, ModelError
from remaster_core.worker import handle, serve
from remaster_core.worker.ops import shifted_align
from remaster_core.worker.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    encode,
    parse_frames,
    parse_node_params,
    parse_render,
    parse_request,
)
from tests.render import model


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("protocol-model"))


def test_parse_request_refuses_what_is_not_a_request() -> None:
    with pytest.raises(ProtocolError, match="not UTF-8 JSON"):
        parse_request(b"{nope")
    with pytest.raises(ProtocolError, match="must be a JSON object"):
        parse_request(b"[1, 2]")
    with pytest.raises(ProtocolError, match="unknown op 'paint'.*ping, describe, render, align, shutdown"):
        parse_request(b'{"id": 1, "op": "paint"}')
    with pytest.raises(ProtocolError, match="id must be an integer or a string"):
        parse_request(b'{"id": [1], "op": "ping"}')
    req = parse_request(b'{"id": "a7", "op": "ping"}')
    assert (req.id, req.op) == ("a7", "ping")


def test_node_params_errors_name_the_field(onnx_model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no model chosen"):
        parse_node_params({})
    with pytest.raises(ModelError, match=f"model file not found: {tmp_path / 'gone.onnx'}"):
        parse_node_params({"model": str(tmp_path / "gone.onnx")})
    good = {"model": str(onnx_model)}
    with pytest.raises(InputError, match=r"output_size must be \[width, height\]"):
        parse_node_params({**good, "output_size": [640]})
    with pytest.raises(InputError, match="transform must be"):
        parse_node_params({**good, "transform": {"tx": 0}})
    with pytest.raises(InputError, match="either a transform or align.json"):
        parse_node_params({**good, "transform": {"tx": 0, "ty": 0, "sx": 1, "sy": 1}, "align": "a.json"})
    with pytest.raises(InputError, match="scales must be positive"):
        parse_node_params({**good, "transform": {"tx": 0, "ty": 0, "sx": 0, "sy": 1}})
    with pytest.raises(InputError, match="mix must be between 0 and 1"):
        parse_node_params({**good, "mix": 1.5})
    with pytest.raises(InputError, match="precision must be 'fp32', 'fp16' or 'bf16'"):
        parse_node_params({**good, "precision": "fp8"})
    with pytest.raises(InputError, match="tile must be"):
        parse_node_params({**good, "tile": "big"})
    params = parse_node_params(
        {**good, "output_size": [64, 48], "transform": {"tx": 1, "ty": 2, "sx": 0.5, "sy": 0.5}, "mix": 0.25}
    )
    assert params.output_size == (64, 48) and params.mix == 0.25 and params.transform is not None


def test_parse_render_checks_frames_output_and_depth(onnx_model: Path) -> None:
    base = {
        "op": "render",
        "source": "s.####.exr",
        "output": "o.####.exr",
        "params": {"model": str(onnx_model)},
    }
    with pytest.raises(ProtocolError, match="lacks 'frames'"):
        parse_render(base)
    with pytest.raises(ProtocolError, match="non-empty list of integers"):
        parse_render({**base, "frames": [1, "2"]})
    with pytest.raises(InputError, match="writes EXR frames"):
        parse_render({**base, "frames": [1], "output": "o.####.dpx"})
    with pytest.raises(InputError, match="bit_depth must be one of half, float"):
        parse_render({**base, "frames": [1], "params": {"model": str(onnx_model), "bit_depth": "10"}})
    job = parse_render({**base, "frames": [3, 1, 3]})
    assert job.frames == (1, 3) and job.bit_depth == "half" and job.align is None
    assert job.deflicker == 0 and job.promoted() == (1, 3)
    model = str(onnx_model)
    for bad, message in [
        ({"deflicker": 9}, "deflicker must be a whole number of frames from 0 .off. to 8, got 9"),
        ({"deflicker": True, "source_range": [1, 4]}, "deflicker must be a whole number"),
        ({"deflicker": 2}, "a render with deflicker or deflicker_output needs source_range"),
        ({"deflicker_output": 2}, "a render with deflicker or deflicker_output needs source_range"),
        ({"deflicker_output": 9, "source_range": [1, 4]}, "deflicker_output must be a whole number .* got 9"),
        ({"deflicker": 2, "source_range": [4, 1]}, "source_range must be .first, last."),
        ({"deflicker": 2, "source_range": [1, 2.5]}, "source_range must be"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_render({**base, "frames": [1], "params": {"model": model, **bad}})
    job = parse_render(
        {**base, "frames": [1, 3], "params": {"model": model, "deflicker": 2, "source_range": [1, 4]}}
    )
    assert job.promoted() == (1, 2, 3, 4)  # the staged neighbours within the range are promoted too
    job = parse_render(
        {**base, "frames": [5], "params": {"model": model, "deflicker": 1, "deflicker_output": 2,
                                           "source_range": [1, 20]}}
    )  # fmt: skip
    assert job.deflicker_output == 2 and job.promoted() == (2, 3, 4, 5, 6, 7, 8)  # both radii


def test_handle_answers_every_line_and_keeps_going() -> None:
    response, stop = handle(b"garbage")
    assert (response["ok"], response["kind"], stop) == (False, "protocol", False)
    response, stop = handle(b'{"id": 4, "op": "render", "params": {}}')
    assert response["id"] == 4 and response["kind"] == "protocol" and "source" in response["error"]
    response, stop = handle(b'{"id": 5, "op": "ping"}')
    assert response["ok"] and response["protocol"] == PROTOCOL_VERSION and not stop
    response, stop = handle(b'{"id": 6, "op": "shutdown"}')
    assert response["ok"] and stop


def test_serve_loop_until_shutdown_or_end() -> None:
    requests = io.BytesIO(
        b'{"id": 1, "op": "ping"}\n\n{"id": 2, "op": "shutdown"}\n{"id": 3, "op": "ping"}\n'
    )
    out = io.BytesIO()
    assert serve(requests, out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in lines] == [1, 2]  # nothing after shutdown
    out = io.BytesIO()
    assert serve(io.BytesIO(b'{"id": 9, "op": "describe"}\n'), out) == 0  # end of input ends it too
    described = json.loads(out.getvalue())
    assert described["node"]["name"] == "RemasterEnhance"


def test_encode_writes_strict_json() -> None:
    line = encode({"id": 1, "stats": {"rms": float("nan"), "k": [1.0, float("inf")]}})
    assert line.endswith(b"\n")
    assert json.loads(line) == {"id": 1, "stats": {"rms": None, "k": [1.0, None]}}


def test_shifted_align_renumbers_shots(tmp_path: Path) -> None:
    doc = {
        "output_format": {"width": 64, "height": 48},
        "broadcast": {"width": 32, "height": 24, "pixel_aspect": 1.0},
        "shots": [{"first": 0, "last": 9, "transform": {"tx": 0, "ty": 0, "sx": 0.5, "sy": 0.5}},
                  {"broadcast_first": 10, "broadcast_last": 19}],
    }  # fmt: skip
    src = tmp_path / "align.json"
    src.write_text(json.dumps(doc))
    assert shifted_align(src, 0, tmp_path / "x") == src
    moved = shifted_align(src, 1001, tmp_path / "x")
    shots = json.loads(moved.read_text())["shots"]
    assert (shots[0]["first"], shots[0]["last"]) == (1001, 1010)
    assert (shots[1]["broadcast_first"], shots[1]["broadcast_last"]) == (1011, 1020)
    assert shifted_align(src, 1001, tmp_path / "x") == moved  # the same copy is reused
    with pytest.raises(InputError, match="no such align.json"):
        shifted_align(tmp_path / "none.json", 5, tmp_path)


def test_frames_are_a_list_or_a_frame_range_text() -> None:
    assert parse_frames({"frames": "1-3 5, 7-11x2"}) == (1, 2, 3, 5, 7, 9, 11)
    assert parse_frames({"frames": [5, 1, 5]}) == (1, 5)
    with pytest.raises(InputError, match="frame range '1-10 2a': cannot read '2a'") as info:
        parse_frames({"frames": "1-10 2a"})
    assert not isinstance(info.value, ProtocolError)  # bad input of the user's, not a broken host
    with pytest.raises(InputError, match="'frames': frame 10000000000 is out of range"):
        parse_frames({"frames": [1, 10**10]})
    with pytest.raises(ProtocolError, match="a list of frame numbers or a frame range"):
        parse_frames({"frames": 5})


def test_colour_keys_are_null_or_a_bounded_name() -> None:
    from remaster_core.worker.protocol import MAX_NAME_CHARS, JobColour, parse_colour

    assert parse_colour({}) == JobColour()
    got = parse_colour(
        {"broadcast_colorspace": " ACEScg ", "output_colorspace": None, "ocio_config": "ocio://x"}
    )
    assert got == JobColour("ACEScg", None, "ocio://x")
    for bad in (3, "", "   ", ["ACEScg"], {"a": 1}, "x" * (MAX_NAME_CHARS + 1)):
        with pytest.raises(InputError, match="broadcast_colorspace must be an OCIO colour space"):
            parse_colour({"broadcast_colorspace": bad})
    with pytest.raises(InputError, match="ocio_config must be an OCIO config file"):
        parse_colour({"ocio_config": 1.5})
