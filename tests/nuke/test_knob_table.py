"""The Remaster gizmo's engine knobs against remaster_core's parameter table.

The plugin cannot import remaster_core, so it keeps its own records of the knobs that are node
parameters (``settings.ENGINE_KNOBS``); these tests hold them to ``describe()`` (built from
``remaster_core/node_params.py``, and what the worker answers a host), and the gizmo's knobs to them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from remaster_core.cli import render as render_cli
from remaster_core.node import describe
from remaster_core.worker.protocol import COLOUR_KEYS, JOB_KEYS, JobColour, parse_colour, parse_node_params
from tests.nuke import fake_nuke
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import settings

PARAMS = {p["name"]: p for p in describe()["parameters"]}


@pytest.mark.parametrize("knob", settings.ENGINE_KNOBS, ids=lambda k: k.name)
def test_engine_knob_records_equal_the_node_table(knob: settings.EngineKnob) -> None:
    param = PARAMS[knob.name]
    assert param["default"] == (None if knob.off is not None and knob.default == knob.off else knob.default)
    assert list(knob.choices) == param.get("choices", [])
    if knob.choices:
        assert param["type"] == "choice"
    else:
        assert [knob.minimum, knob.maximum] == param["range"]
        assert param["type"] == type(knob.default).__name__  # "int" / "float"
    if knob.off is not None:  # the knob's "off" value stands for the parameter's None, outside its range
        assert param["default"] is None and not knob.minimum <= knob.off <= knob.maximum


def test_the_output_format_range_is_the_node_output_size_range() -> None:
    assert PARAMS["output_size"]["range"] == [1, settings.MAX_SIDE]


def test_the_plugin_leaves_only_engine_resources_to_the_worker_defaults(tmp_path: Path) -> None:
    """Every node parameter is a knob of the gizmo, or knowingly left to the worker's default: a new
    parameter in the table makes this fail until the plugin decides."""
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not read here")
    values = {
        "model": str(model), "geometry": "manual", "align_json": "", "align_offset": 0, "tx": 0.0,
        "ty": 0.0, "sx": 1.0, "sy": 1.0, "use_format": True, "format_size": (64, 48), "tile": 0,
        "precision": "fp32", "provider": "auto", "mix": 1.0, "cache_dir": str(tmp_path),
        "worker": "", "instance_id": "a", "source_name": "Read1",
    }  # fmt: skip
    params = settings.request_params(settings.settings_from_values(values))
    assert set(params) - set(PARAMS) <= set(JOB_KEYS)
    assert set(PARAMS) - set(params) == {"overlap", "batch", "threads", "memory_mb"}
    parse_node_params(params)  # and the worker takes it as it is


def test_gizmo_knobs_equal_the_records() -> None:
    gizmo = fake_nuke.load_gizmo(PLUGIN / "gizmos" / "Remaster.gizmo")
    for knob in settings.ENGINE_KNOBS:
        k = gizmo[knob.name]
        assert k.value() == knob.default, knob.name
        if knob.choices:
            assert isinstance(k, fake_nuke.Enumeration_Knob) and k.values() == list(knob.choices)
        elif isinstance(knob.default, float):
            assert isinstance(k, fake_nuke.Double_Knob)
            assert tuple(float(v) for v in k.spec["R"]) == (knob.minimum, knob.maximum), knob.name
        else:
            assert isinstance(k, fake_nuke.Int_Knob), knob.name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tile": -1}, "'tile size' must be 0 (whole frames) or between 1 and 16384, got -1"),
        ({"tile": 20000}, "'tile size' must be 0 (whole frames) or between 1 and 16384, got 20000"),
        ({"mix": 2.0}, "'mix' must be between 0 and 1, got 2.0"),
        ({"provider": "cuda2"}, "'provider' must be one of auto, tensorrt, cuda, openvino, cpu, got 'cuda2'"),
        ({"tile": "big"}, "'tile size' is not a number ('big')"),
    ],
)
def test_bad_engine_knobs_name_the_knob(change: dict, message: str, tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not read here")
    values = {
        "model": str(model), "geometry": "nominal", "align_json": "", "align_offset": 0, "use_format": False,
        "tile": 0, "precision": "fp32", "provider": "auto", "mix": 1.0, "cache_dir": str(tmp_path),
        "worker": "", "instance_id": "a", "source_name": "Read1",
    }  # fmt: skip
    with pytest.raises(settings.SettingsError) as info:
        settings.settings_from_values({**values, **change})
    assert str(info.value) == message


def test_colour_knobs_are_the_worker_colour_keys_and_the_render_options() -> None:
    """The colour knobs are render options, not node parameters (the node converts no colour): each is
    a worker key and the ``remaster render`` option of the same name, and a knob of that name in the
    gizmo with the record's default."""
    assert [k.name for k in settings.COLOUR_KNOBS] == list(COLOUR_KEYS)
    assert not set(COLOUR_KEYS) & set(PARAMS)
    top = argparse.ArgumentParser(prog="remaster")
    parser = render_cli.add_parser(top.add_subparsers(dest="verb"))
    actions = {a.dest: a for a in parser._actions}
    gizmo = fake_nuke.load_gizmo(PLUGIN / "gizmos" / "Remaster.gizmo")
    for knob in settings.COLOUR_KNOBS:
        assert actions[knob.name].option_strings == ["--" + knob.name.replace("_", "-")]
        assert actions[knob.name].default is None  # the worker's null: the option's default
        k = gizmo[knob.name]
        assert isinstance(k, fake_nuke.String_Knob) and k.value() == knob.default, knob.name
        assert k.label() == knob.label
    assert settings.SOURCE_COLORSPACE_KNOB.default == "scene_linear"  # Nuke's working space role
    assert isinstance(gizmo["ocio_config"], fake_nuke.File_Knob)


def test_colour_knobs_become_the_worker_colour_keys(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not read here")
    values = {
        "model": str(model), "geometry": "nominal", "align_json": "", "align_offset": 0, "use_format": False,
        "tile": 0, "precision": "fp32", "provider": "auto", "mix": 1.0, "cache_dir": str(tmp_path),
        "worker": "", "instance_id": "a", "source_name": "Read1",
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as m:
        m.delenv("OCIO", raising=False)
        old_node = settings.settings_from_values(values)  # saved before the colour knobs: their defaults
        colour = parse_colour(settings.request_params(old_node))
        assert colour == JobColour("scene_linear", "scene_linear", None)
        chosen = {"broadcast_colorspace": "ACEScct", "output_colorspace": "", "ocio_config": ""}
        colour = parse_colour(settings.request_params(settings.settings_from_values({**values, **chosen})))
        assert (colour.broadcast_colorspace, colour.output_colorspace) == ("ACEScct", "ACEScct")
        config = tmp_path / "comp.ocio"
        config.write_text("not read here")
        m.setenv("OCIO", str(config))  # Nuke's config
        checked = settings.settings_from_values({**values, **chosen})
        assert parse_colour(settings.request_params(checked)).ocio_config == str(config)
        assert settings.settings_key(checked) != settings.settings_key(old_node)
        m.setenv("OCIO", str(tmp_path / "gone.ocio"))
        with pytest.raises(settings.SettingsError, match=r"OCIO config not found: .*gone.ocio; check \$OCIO"):
            settings.settings_from_values(values)
        knob = {**values, "ocio_config": "ocio://studio-config-latest"}  # the knob wins over $OCIO
        assert settings.settings_from_values(knob).ocio_config == "ocio://studio-config-latest"
    with pytest.raises(settings.SettingsError, match="'Source colour space' is empty"):
        settings.settings_from_values({**values, "broadcast_colorspace": " "})


def test_the_deflicker_knob_takes_what_the_render_takes() -> None:
    """The plugin's own record of the deflicker's range (it cannot import remaster_core) is the
    render's, and the gizmo has the knob."""
    from remaster_core.render.deflicker import MAX_RADIUS

    assert settings.MAX_DEFLICKER == MAX_RADIUS
    gizmo = (PLUGIN / "gizmos" / "Remaster.gizmo").read_text()
    assert "addUserKnob {3 deflicker " in gizmo
    assert "addUserKnob {3 deflicker_output " in gizmo
