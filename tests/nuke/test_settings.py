"""The Remaster node's settings (pure Python): checks, worker parameters, cache keys, frame ranges."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from remaster_core.worker.protocol import parse_node_params
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import cache, settings


@pytest.fixture()
def values(tmp_path: Path) -> dict[str, Any]:
    model = tmp_path / "g.onnx"
    model.write_bytes(b"weights-1")
    return {
        "model": str(model), "geometry": "nominal", "align_json": "", "align_offset": 0,
        "tx": 0.0, "ty": 0.0, "sx": 1.0, "sy": 1.0, "use_format": False, "format_size": None,
        "tile": 0, "precision": "fp32", "provider": "auto", "mix": 1.0, "cache_dir": str(tmp_path / "c"),
        "worker": "", "instance_id": "abc", "source_name": "Read1",
    }  # fmt: skip


def test_bad_settings_name_the_knob(values: dict[str, Any], tmp_path: Path) -> None:
    cases = [
        ({"model": ""}, "no model chosen: set 'model file'"),
        ({"model": str(tmp_path / "x.onnx")}, f"model file not found: {tmp_path / 'x.onnx'}"),
        ({"geometry": "align.json"}, "no file is set"),
        ({"geometry": "align.json", "align_json": str(tmp_path / "a.json")}, "align.json not found"),
        ({"geometry": "manual", "sx": 0.0}, "'sx' and 'sy' must be positive"),
        ({"geometry": "manual", "ty": float("nan")}, "'ty' must be a finite number"),
        ({"use_format": True, "format_size": (0, 10)}, "'output format' 0x10 is not a raster size"),
        ({"tile": -4}, "'tile size' must be 0"),
        ({"mix": 2.0}, "'mix' must be between 0 and 1"),
        ({"precision": "fp64"}, "'precision' must be one of fp32, fp16"),
        ({"deflicker": 9}, "'deflicker' must be a whole number of frames from 0 (off) to 8, got 9"),
        ({"deflicker": 1.5}, "'deflicker' must be a whole number"),
        ({"deflicker": "two"}, "'deflicker' is not a number"),
    ]
    for change, message in cases:
        with pytest.raises(settings.SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
            settings.settings_from_values({**values, **change})


def test_request_params_are_what_the_worker_accepts(values: dict[str, Any], tmp_path: Path) -> None:
    model = tmp_path / "real.onnx"
    model.write_bytes(b"not checked here")
    s = settings.settings_from_values(
        {**values, "model": str(model), "geometry": "manual", "tx": 1.5, "ty": -2.0, "sx": 0.5, "sy": 0.45,
         "use_format": True, "format_size": (1440, 1080), "tile": 512, "precision": "fp16", "mix": 0.5}
    )  # fmt: skip
    params = settings.request_params(s)
    node = parse_node_params(params)  # remaster_core's own parsing of the same dict
    assert node.output_size == (1440, 1080) and node.tile == 512 and node.precision == "fp16"
    assert node.transform is not None and node.transform.to_dict() == {
        "tx": 1.5,
        "ty": -2.0,
        "sx": 0.5,
        "sy": 0.45,
    }
    assert node.mix == 0.5 and params["bit_depth"] == "float" and params["align"] is None


def test_cache_key_follows_everything_that_changes_pixels(values: dict[str, Any], tmp_path: Path) -> None:
    base = settings.settings_key(settings.settings_from_values(values))
    assert settings.settings_key(settings.settings_from_values(dict(values))) == base
    align = tmp_path / "align.json"
    align.write_text('{"shots": []}')
    changes = [
        {"geometry": "manual"}, {"use_format": True, "format_size": (640, 480)}, {"tile": 256},
        {"precision": "fp16"}, {"mix": 0.9}, {"instance_id": "other"}, {"source_name": "Read2"},
        {"source_format": (720, 486, 0.9)}, {"geometry": "align.json", "align_json": str(align)},
        {"deflicker": 2},
    ]  # fmt: skip
    keys = {settings.settings_key(settings.settings_from_values({**values, **c})) for c in changes}
    assert base not in keys and len(keys) == len(changes)
    manual = {**values, "geometry": "manual"}
    assert settings.settings_key(
        settings.settings_from_values({**manual, "tx": 0.25})
    ) != settings.settings_key(settings.settings_from_values(manual))
    same = [{"provider": "cpu"}, {"worker": "/x/remaster"}, {"cache_dir": str(tmp_path / "d")}]
    assert {settings.settings_key(settings.settings_from_values({**values, **c})) for c in same} == {base}
    Path(values["model"]).write_bytes(b"weights-2")  # a retrained model: same path, new content
    assert settings.settings_key(settings.settings_from_values(values)) != base


def test_frame_ranges_and_cache_paths(tmp_path: Path) -> None:
    assert settings.parse_frames("1001-1005x2, 1010,1001") == [1001, 1003, 1005, 1010]
    assert settings.format_frames([1, 2, 3, 7, 9, 10]) == "1-3,7,9-10"
    assert settings.frames_outside([5, 10, 20], 8, 12) == [5, 20]
    for bad in ("10-5", "a-b", ",", "1-5x0"):
        with pytest.raises(settings.SettingsError):
            settings.parse_frames(bad)
    paths = cache.cache_paths(str(tmp_path), "k1")
    assert paths.result(1001) == f"{tmp_path.as_posix()}/k1/out/remaster.1001.exr"
    assert paths.source(7) == f"{tmp_path.as_posix()}/k1/source/src.0007.exr"
    assert paths.staged_pattern.endswith("/k1/source/staged/src.####.exr")
    assert cache.cached_frames(paths, [7]) == []
    Path(paths.result(7)).parent.mkdir(parents=True)
    Path(paths.result(7)).write_bytes(b"x")
    assert cache.cached_frames(paths, [6, 7]) == [7]


def test_a_deflicker_is_sent_with_the_source_range_and_writes_its_neighbours(
    values: dict[str, Any], tmp_path: Path
) -> None:
    """The knob reaches the worker as ``deflicker`` with the Source's range, which the worker's own
    parsing accepts; off (0, or a node saved before the knob) sends neither and keeps the old cache key;
    "Process range" writes the frames the deflicker reads, inside the Source's range only."""
    from remaster_core.worker.protocol import parse_render

    model = tmp_path / "real.onnx"
    model.write_bytes(b"not checked here")
    on = settings.settings_from_values({**values, "model": str(model), "deflicker": 2})
    params = settings.request_params(on, (1001, 1004))
    assert params["deflicker"] == 2 and params["source_range"] == [1001, 1004]
    job = parse_render(
        {"source": "/c/src.####.exr", "output": "/c/out.####.exr", "frames": [1002], "params": params}
    )
    assert job.deflicker == 2 and job.source_range == (1001, 1004)
    assert job.promoted() == (1001, 1002, 1003, 1004)
    off = settings.settings_from_values({**values, "model": str(model)})
    assert "deflicker" not in settings.request_params(off, (1001, 1004)) and off.deflicker == 0
    assert settings.settings_key(
        settings.settings_from_values({**values, "deflicker": 0})
    ) == settings.settings_key(settings.settings_from_values(values))
    assert settings.frames_to_write(1002, 0, 1001, 1004) == [1002]
    assert settings.frames_to_write(1002, 2, 1001, 1004) == [1001, 1002, 1003, 1004]
    assert settings.frames_to_write(1010, 3, 1001, 1100) == list(range(1007, 1014))
    both = settings.settings_from_values(
        {**values, "model": str(model), "deflicker": 1, "deflicker_output": 2}
    )
    params = settings.request_params(both, (1001, 1100))
    assert (params["deflicker"], params["deflicker_output"], params["source_range"]) == (1, 2, [1001, 1100])
    job = parse_render(
        {"source": "/c/src.####.exr", "output": "/c/out.####.exr", "frames": [1010], "params": params}
    )
    assert both.reach == 3 and job.promoted() == tuple(range(1007, 1014))
    out_only = settings.settings_from_values({**values, "model": str(model), "deflicker_output": 2})
    params = settings.request_params(out_only, (1001, 1004))
    assert "deflicker" not in params and params["source_range"] == [1001, 1004]
    assert settings.settings_key(out_only) != settings.settings_key(off)
    with pytest.raises(settings.SettingsError, match="'deflicker output' must be a whole number .* got 9"):
        settings.settings_from_values({**values, "deflicker_output": 9})
