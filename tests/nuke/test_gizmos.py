"""The gizmo files, read by the stand-in's parser: knobs the callbacks use exist, buttons call
functions that exist, internal nodes are connected as the callbacks and the docs assume, and
init.py / menu.py do only what they should. (Real Nuke reading them is not tested: see fake_nuke.)"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.nuke import fake_nuke

GIZMOS = sorted((fake_nuke.PLUGIN / "gizmos").glob("*.gizmo"))
CALLBACKS = {
    "Remaster": "remaster_node",
    "RemasterAlign": "align_node",
    "RemasterInference": "inference_node",
    "RemasterFilmOffset": "offset_node",
}


def _inputs(node: fake_nuke.Node) -> list[str | None]:
    return [n.name() if n is not None else None for n in node._inputs]


def _scripts(gizmo: fake_nuke.Gizmo) -> list[str]:
    out = []
    for name, knob in gizmo.knobs().items():
        if isinstance(knob, fake_nuke.PyScript_Knob) or name in ("onCreate", "knobChanged"):
            out.append(str(knob.value()))
    return out


def test_every_gizmo_is_named_with_the_prefix_and_has_callbacks() -> None:
    assert {g.stem for g in GIZMOS} == set(CALLBACKS)


@pytest.mark.parametrize("path", GIZMOS, ids=lambda p: p.stem)
def test_buttons_and_callbacks_call_functions_that_exist(nuke: ModuleType, path: Path) -> None:
    gizmo = fake_nuke.load_gizmo(path)
    calls = 0
    for script in _scripts(gizmo):
        tree = ast.parse(script)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = ast.unparse(node.func.value)
                module = importlib.import_module(target)
                assert callable(getattr(module, node.func.attr)), f"{path.name}: {target}.{node.func.attr}"
                assert target == f"remaster_nuke.{CALLBACKS[path.stem]}"
                calls += 1
    assert calls >= 1


@pytest.mark.parametrize("path", GIZMOS, ids=lambda p: p.stem)
def test_knobs_and_internal_nodes_the_callbacks_use_exist(nuke: ModuleType, path: Path) -> None:
    """Every ``knobs.<helper>(node, "name")`` in the gizmo's callback module names a knob of the gizmo,
    and every ``knobs.inner(node, "Name")`` an internal node; link knobs point at real knobs."""
    gizmo = fake_nuke.load_gizmo(path)
    module = importlib.import_module(f"remaster_nuke.{CALLBACKS[path.stem]}")
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = {"knobs": set(), "inner": set()}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "knobs"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "node"
            and isinstance(node.args[1], ast.Constant)
        ):
            names["inner" if node.func.attr == "inner" else "knobs"].add(node.args[1].value)
    for const in getattr(module, "SETTINGS_KNOBS", ()):
        names["knobs"].add(const)
    assert names["knobs"] and names["inner"] or path.stem == "RemasterFilmOffset"
    missing = sorted(n for n in names["knobs"] if gizmo.knob(n) is None)
    assert missing == [], f"{path.name} lacks knobs {missing}"
    missing = sorted(n for n in names["inner"] if gizmo.node(n) is None)
    assert missing == [], f"{path.name} lacks internal nodes {missing}"
    for knob in gizmo.knobs().values():
        if isinstance(knob, fake_nuke.Link_Knob):
            knob._target()  # raises for a link to nothing


def test_remaster_gizmo_wiring(nuke: ModuleType) -> None:
    g = fake_nuke.load_gizmo(fake_nuke.PLUGIN / "gizmos" / "Remaster.gizmo")
    assert _inputs(g.output_node()) == ["SettingsCheck"]
    assert _inputs(g.node("SettingsCheck")) == ["Result"] and _inputs(g.node("Result")) == []
    assert _inputs(g.node("SourceWrite")) == ["KeepRGB"] and _inputs(g.node("KeepRGB")) == ["Source"]
    write = g.node("SourceWrite")
    assert write["disable"].value() is True  # never run by a `nuke -x` of the script
    assert (write["file_type"].value(), write["datatype"].value(), write["raw"].value()) == (
        "exr",
        "32 bit float",
        True,
    )
    assert write["file"].value() == "[value parent.staged_pattern]"
    read = g.node("Result")
    assert read["on_error"].value() == "error" and read["raw"].value() is True
    assert read["file"].value() == "[value parent.result_pattern]"
    assert g.node("SettingsCheck")["expression"].expression() == "parent.settings_ok"
    assert all(
        g.knob(k).flags == ("+INVISIBLE",)
        for k in ("cache_key", "staged_pattern", "result_pattern", "instance_id")
    )


def test_align_gizmo_views(nuke: ModuleType) -> None:
    g = fake_nuke.load_gizmo(fake_nuke.PLUGIN / "gizmos" / "RemasterAlign.gizmo")
    assert g["view"].values() == ["aligned", "difference", "checkerboard", "film"]
    assert _inputs(g.node("View")) == ["AlignTransform", "Difference", "CheckerMix", "FilmOffset"]
    assert _inputs(g.node("Difference")) == ["FilmOffset", "AlignTransform"]  # B film, A aligned broadcast
    assert g.node("Difference")["operation"].value() == "difference"
    assert _inputs(g.node("CheckerMix")) == ["FilmOffset", "AlignTransform", "Checker"]
    assert _inputs(g.node("AlignTransform")) == ["ToFilmFormat"] and _inputs(g.node("ToFilmFormat")) == [
        "BroadcastRGB"
    ]
    assert _inputs(g.node("FilmWrite")) == ["FilmOffset"] and _inputs(g.node("BroadcastWrite")) == [
        "BroadcastRGB"
    ]
    assert g.node("Film")["number"].value() == 1 and g.node("Broadcast")["number"].value() == 0
    assert g.node("FilmOffset")["time_offset"].expression() == "-parent.film_offset"
    # the checkerboard mask: cells of checker_size pixels
    checker = g.node("Checker")
    y, x = np.mgrid[0:4, 0:256].astype(np.float64)
    mask = fake_nuke.evaluate(checker["expr3"].value(), checker, x=x, y=y)
    assert np.array_equal(mask[0, :130:64], [0, 1, 0]) and mask[0, 63] == 0 and mask[0, 64] == 1


def test_inference_and_offset_gizmo_wiring(nuke: ModuleType) -> None:
    g = fake_nuke.load_gizmo(fake_nuke.PLUGIN / "gizmos" / "RemasterInference.gizmo")
    assert g["geometry"].values() == ["nominal", "manual"]
    assert _inputs(g.node("Geometry")) == ["FitFormat", "AlignTransform"]
    assert _inputs(g.node("Inference1")) == ["Geometry"]
    assert _inputs(g.node("Mix")) == ["Geometry", "Inference1"]  # which = mix: 1 is all model
    assert _inputs(g.output_node()) == ["Mix"]
    assert g["modelFile"]._target() is g.node("Inference1")["modelFile"]
    o = fake_nuke.load_gizmo(fake_nuke.PLUGIN / "gizmos" / "RemasterFilmOffset.gizmo")
    assert _inputs(o.node("FilmRetime")) == ["Film"] and _inputs(o.node("HasFilm")) == ["FilmRetime"]
    assert _inputs(o.output_node()) == ["HasFilm"]


def test_init_adds_plugin_paths_only_and_menu_builds_menus(session: ModuleType) -> None:
    init = (fake_nuke.PLUGIN / "init.py").read_text(encoding="utf-8")
    exec(compile(init, "init.py", "exec"), {})  # noqa: S102 (as Nuke runs init.py)
    assert fake_nuke.plugin_paths == ["./gizmos"]
    assert {n.id for n in ast.walk(ast.parse(init)) if isinstance(n, ast.Name)} <= {"nuke"}
    menu = (fake_nuke.PLUGIN / "menu.py").read_text(encoding="utf-8")
    exec(compile(menu, "menu.py", "exec"), {})  # noqa: S102
    toolbar = session.menu("Nodes").items["Remaster"]
    created = []
    for label, command in toolbar.items.items():
        node = eval(command, {"nuke": session})
        created.append(node.Class())
        assert label.startswith(node.Class())
    assert sorted(created) == sorted(CALLBACKS)
    assert session.menu("Nuke").items["Remaster"].items  # the session menu too
