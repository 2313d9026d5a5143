"""The plugin's source itself: parses on Python 3.7, imports only the standard library and ``nuke``,
passes ``mypy --strict`` against the types-nuke stubs, and agrees with remaster_core on the protocol
and the knob choices."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from remaster_core.node import describe
from remaster_core.worker.protocol import PROTOCOL_VERSION
from tests.nuke import fake_nuke
from tests.worker import ROOT

PLUGIN = fake_nuke.PLUGIN
SOURCES = sorted(PLUGIN.rglob("*.py"))
PURE = ("client.py", "settings.py", "cache.py", "geometry.py", "manifests.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_plugin_file_parses_on_python_3_7() -> None:
    assert len(SOURCES) >= 10
    for path in SOURCES:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 7))


def test_the_plugin_imports_only_the_standard_library_and_nuke() -> None:
    allowed = set(sys.stdlib_module_names) | {"nuke", "remaster_nuke", "remaster_spec", "__future__"}
    for path in SOURCES:
        assert _imports(path) <= allowed, (path, _imports(path) - allowed)
    for name in PURE:  # these run (and are tested) without Nuke
        assert "nuke" not in _imports(PLUGIN / "remaster_nuke" / name), name
    for path in sorted((PLUGIN / "remaster_spec").glob("*.py")):  # shared with remaster_core: no nuke
        assert _imports(path) <= set(sys.stdlib_module_names) | {"__future__", "remaster_spec"}, path


@pytest.mark.skipif(
    shutil.which("mypy", path=str(Path(sys.executable).parent)) is None, reason="mypy not installed"
)
def test_mypy_strict_against_the_nuke_stubs() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert mypy is not None
    done = subprocess.run(
        [mypy, "--config-file", "nuke_plugin/mypy.ini", "--no-incremental"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


def test_plugin_and_remaster_core_agree() -> None:
    from remaster_nuke import client, settings

    assert client.PROTOCOL_VERSION == PROTOCOL_VERSION
    params = {p["name"]: p for p in describe()["parameters"]}
    assert list(settings.PRECISIONS) == params["precision"]["choices"]
    assert list(settings.PROVIDERS) == params["provider"]["choices"]
    gizmo = fake_nuke.load_gizmo(PLUGIN / "gizmos" / "Remaster.gizmo")
    assert gizmo["precision"].values() == list(settings.PRECISIONS)
    assert gizmo["provider"].values() == list(settings.PROVIDERS)
    assert gizmo["geometry"].values() == list(settings.GEOMETRY_MODES)
