"""The plugin's geometry (pure Python) against remaster_core's: align.json and conform.json readers,
the nominal transform, the Nuke Transform knob values, the film offset expressions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from remaster_core.align.transform import nominal_transform
from remaster_core.manifests.conform import read_conform
from remaster_core.node import read_align
from tests.nuke import fake_nuke
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import geometry

ALIGN = {
    "output_format": {"width": 960, "height": 720, "pixel_aspect": 1.0},
    "broadcast": {"width": 720, "height": 480, "pixel_aspect": 8 / 9},
    "shots": [
        {"index": 0, "first": 10, "last": 19, "status": "aligned",
         "transform": {"tx": 1.25, "ty": -0.5, "sx": 0.78, "sy": 0.69},
         "distortion": {"k1": -0.02, "cx": 359.5, "cy": 239.5, "par": 0.889, "r_norm": 400.0}},
        {"index": 1, "broadcast_first": 0, "broadcast_last": 9, "status": "no film", "transform": None},
        {"index": 2, "first": 20, "last": 29, "status": "rejected", "transform": None},
    ],
}  # fmt: skip


def test_nominal_transform_is_remaster_cores() -> None:
    for b, par, o in [
        ((720, 480), 8 / 9, (960, 720)),
        ((720, 486), 0.9, (1920, 1080)),
        ((640, 480), 1.0, (64, 48)),
    ]:
        ours = geometry.nominal_transform(b, par, o)
        theirs = nominal_transform(b, par, o)
        assert ours == pytest.approx((theirs.tx, theirs.ty, theirs.sx, theirs.sy), abs=1e-12)


def test_align_json_reader_matches_remaster_core(tmp_path: Path) -> None:
    path = tmp_path / "align.json"
    path.write_text(json.dumps(ALIGN))
    ours = geometry.read_align_json(str(path))
    table = read_align(path)
    assert ours.output_size == table.output_size and ours.broadcast_size == table.broadcast_size
    for index in range(-3, 35):
        shot, mapping = geometry.shot_at(ours, index), table.mapping(index)
        t = mapping.transform
        assert shot.number == mapping.index and shot.status == mapping.status
        assert shot.transform == pytest.approx((t.tx, t.ty, t.sx, t.sy), abs=1e-12)
        assert shot.k1 == (mapping.distortion.k1 if mapping.distortion else 0.0)
    del ALIGN["output_format"]  # type: ignore[misc]
    try:
        path.write_text(json.dumps(ALIGN))
        with pytest.raises(geometry.GeometryError, match="has no output_format"):
            geometry.read_align_json(str(path))
    finally:
        ALIGN["output_format"] = {"width": 960, "height": 720, "pixel_aspect": 1.0}
    path.write_text("{nope")
    with pytest.raises(geometry.GeometryError, match="cannot read it as JSON"):
        geometry.read_align_json(str(path))


def test_nuke_transform_knobs_put_every_pixel_where_the_convention_says() -> None:
    """Output pixel (x, y) samples broadcast (xb, yb) = T(x, y); the Nuke Transform (center 0, Nuke's
    pixel centres at +0.5, y up) must carry broadcast (xb, yb) to output (x, y)."""
    rng = np.random.default_rng(3)
    for t, b, o in [
        ((1.25, -0.5, 0.78, 0.69), (720, 480), (960, 720)),
        (geometry.nominal_transform((720, 486), 0.9, (1920, 1080)), (720, 486), (1920, 1080)),
        ((-3.0, 2.0, 0.5, 0.5), (64, 48), (128, 96)),
    ]:
        knobs = geometry.nuke_transform_knobs(t, b, o)
        assert knobs["center"] == (0.0, 0.0)
        for x, y in rng.uniform(0, min(o), size=(20, 2)):
            xb, yb = geometry.map_point(t, x, y)
            assert geometry.nuke_to_output(knobs, xb, yb, b[1], o[1]) == pytest.approx((x, y), abs=1e-9)


def _conform(tmp_path: Path) -> Path:
    folder = tmp_path / "conform"
    folder.mkdir()
    doc = {
        "frames_pattern": "frames/frame.%06d.exr", "frame_count": 30, "fps": "24000/1001",
        "shots": [{"first": 0, "last": 9, "film_first": 3}, {"first": 10, "last": 14, "film_first": None},
                  {"first": 15, "last": 29, "film_first": 40}],
    }  # fmt: skip
    (folder / "conform.json").write_text(json.dumps(doc))
    return folder


def test_conform_reader_and_film_offset_expressions(tmp_path: Path) -> None:
    folder = _conform(tmp_path)
    info = geometry.read_conform_json(str(folder))
    core = read_conform(folder)
    assert info.frame_count == core.frame_count
    assert [(c.first, c.last, c.film_first) for c in info.cuts] == [
        (s.first, s.last, s.film_first) for s in core.shots
    ]
    assert info.frames_pattern == core.frames_path.replace("\\", "/") or info.frames_pattern.endswith(
        "frames/frame.%06d.exr"
    )
    assert geometry.cut_at(info, 12).number == 1 and geometry.cut_at(info, 31) is None
    conform_start, film_start = 1001, 5001
    offset_expr, film_expr = geometry.film_offset_expression(info, conform_start, film_start)
    node = fake_nuke.Node("TimeOffset")
    for i in range(30):
        t = conform_start + i
        cut = geometry.cut_at(info, i)
        has_film = fake_nuke.evaluate(film_expr, node, t=t)
        assert has_film == (0.0 if cut.film_first is None else 1.0), i
        if cut.film_first is not None:
            shown = t - fake_nuke.evaluate(offset_expr, node, t=t)  # TimeOffset: input frame = t - offset
            assert shown == film_start + cut.film_first + (i - cut.first), i
    with pytest.raises(geometry.GeometryError, match="no such file"):
        geometry.read_conform_json(str(tmp_path))


def test_a_shot_whose_film_jumps_is_cut_where_it_jumps(tmp_path: Path) -> None:
    """An edit after the telecine dropped film frames inside a shot (``film_jumps``): the plugin's cuts
    split the shot there, and the film plate shows at every frame the film index remaster_core pairs
    it with (``ConformShot.film_index``, what ``remaster align`` uses)."""
    folder = tmp_path / "conform"
    folder.mkdir()
    doc = {
        "frames_pattern": "frames/frame.%06d.exr", "frame_count": 30,
        "shots": [{"first": 0, "last": 9, "film_first": 3},
                  {"first": 10, "last": 29, "film_first": 13, "film_jumps": [[18, 24], [25, 33]]}],
    }  # fmt: skip
    (folder / "conform.json").write_text(json.dumps(doc))
    info = geometry.read_conform_json(str(folder))
    core = read_conform(folder)
    assert [(c.number, c.first, c.last, c.film_first) for c in info.cuts] == [
        (0, 0, 9, 3), (1, 10, 17, 13), (1, 18, 24, 24), (1, 25, 29, 33),
    ]  # fmt: skip
    assert geometry.cut_at(info, 20) == geometry.Cut(1, 18, 24, 24)
    offset_expr, _ = geometry.film_offset_expression(info, 1001, 5001)
    node = fake_nuke.Node("TimeOffset")
    for i in range(30):
        shot = core.shots[0 if i < 10 else 1]
        shown = 1001 + i - fake_nuke.evaluate(offset_expr, node, t=1001 + i)
        assert shown == 5001 + shot.film_index(i), i
