"""Every vector of ``vectors/cases.json`` read by remaster_core (``manifests.read_align``/``read_conform``,
and the renderer's ``node.read_align``) and by the Nuke plugin (``geometry.read_align_json`` /
``read_conform_json``, plain Python): the same verdict, and for a bad field the same message naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from remaster_core import node
from remaster_core.errors import InputError
from remaster_core.manifests import AlignManifest, ConformManifest, read_align, read_conform
from remaster_core.node_params import MAX_SIDE
from tests.manifests import VECTORS, cases
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import geometry
from remaster_nuke import manifests as plugin_manifests

CASES = cases()


def _core(path: Path) -> AlignManifest | ConformManifest:
    return read_align(path) if path.name == "align.json" else read_conform(path)


def _plugin(path: Path) -> Any:
    if path.name == "align.json":
        return geometry.read_align_json(str(path))
    return geometry.read_conform_json(str(path.parent))


def test_the_vectors_cover_both_manifests_and_both_verdicts() -> None:
    files = {Path(c["file"]).name for c in CASES.values()}
    assert files == {"align.json", "conform.json"}
    for name in ("align.json", "conform.json"):
        verdicts = [c["valid"] for c in CASES.values() if Path(c["file"]).name == name]
        assert sum(verdicts) >= 3 and len(verdicts) - sum(verdicts) >= 20, name
    assert all((VECTORS / c["file"]).is_file() for c in CASES.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_remaster_core_and_the_plugin_give_the_same_verdict(name: str) -> None:
    case = CASES[name]
    path = VECTORS / case["file"]
    if case["valid"]:
        manifest = _core(path)
        _plugin(path)
        if path.name == "align.json":
            node.read_align(path)
        assert type(manifest).from_dict(manifest.to_dict(), path) == manifest
        return
    with pytest.raises(InputError) as core:
        _core(path)
    with pytest.raises(geometry.GeometryError) as plugin:
        _plugin(path)
    messages = [str(core.value), str(plugin.value)]
    if path.name == "align.json":
        with pytest.raises(InputError) as renderer:
            node.read_align(path)
        messages.append(str(renderer.value))
    for message in messages:
        assert message.startswith(str(path)), message
        assert "Traceback" not in message
    if case["field"]:
        # the field path, what is wrong and the fix, word for word in both
        assert f"{path}: {case['field']}: " in messages[0], messages[0]
        assert len(set(messages)) == 1, messages
        fix = "re-run remaster align" if path.name == "align.json" else "re-run remaster conform"
        assert messages[0].endswith(fix), messages[0]


def test_the_complete_vectors_keep_the_layout_the_writers_write() -> None:
    """``to_dict`` of a full file is the file: every key and value, nothing added or lost."""
    for name in ("conform_full", "conform_no_film", "align_full"):
        path = VECTORS / CASES[name]["file"]
        assert _core(path).to_dict() == json.loads(path.read_text()), name


def test_unknown_keys_are_read_and_dropped() -> None:
    full = _core(VECTORS / CASES["align_full"]["file"])
    assert _core(VECTORS / CASES["align_unknown_keys"]["file"]) == full
    assert _core(VECTORS / CASES["conform_unknown_keys"]["file"]) == _core(
        VECTORS / CASES["conform_full"]["file"]
    )


def test_a_minimal_align_json_reads_as_the_renderer_read_it() -> None:
    manifest = _core(VECTORS / CASES["align_minimal"]["file"])
    assert isinstance(manifest, AlignManifest) and manifest.version == 1
    assert [(s.index, s.first, s.last, s.status) for s in manifest.shots] == [
        (0, 10, 19, "aligned"),
        (1, 0, 9, "no film"),
        (2, 20, 29, "rejected"),
    ]
    assert manifest.shots[1].transform is None and manifest.broadcast.par == pytest.approx(8 / 9)


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_a_symlink_out_of_the_folder_is_refused_by_both(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    conform = tmp_path / "conform"
    conform.mkdir()
    (conform / "frames").symlink_to(outside, target_is_directory=True)
    doc = json.loads((VECTORS / CASES["conform_minimal"]["file"]).read_text())
    doc["frames_pattern"] = "frames/frame.%06d.png"
    (conform / "conform.json").write_text(json.dumps(doc))
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    (pairs / "shot001").symlink_to(outside, target_is_directory=True)
    (pairs / "align.json").write_text((VECTORS / CASES["align_full"]["file"]).read_text())
    for path, field in (
        (conform / "conform.json", "frames_pattern"),
        (pairs / "align.json", "shots[1].input"),
    ):
        with pytest.raises(InputError, match="must stay inside the manifest's folder") as core:
            _core(path)
        with pytest.raises(geometry.GeometryError) as plugin:
            _plugin(path)
        assert f"{path}: {field}: " in str(core.value) and str(core.value) == str(plugin.value)


def test_the_plugin_uses_the_same_declarations() -> None:
    """Vocabularies, bounds and checks are remaster_spec's objects on both sides, not copies."""
    from remaster_spec import manifest_fields, manifest_vocab

    from remaster_core.manifests import _fields, align, conform

    assert MAX_SIDE == node.MAX_OUTPUT_SIDE == plugin_manifests.MAX_SIDE
    assert align.MAX_FRAMES is conform.MAX_FRAMES is plugin_manifests.MAX_FRAMES is manifest_fields.MAX_FRAMES
    for core_side, name in (
        (align.VERSION, "ALIGN_VERSION"),
        (align.FIX, "ALIGN_FIX"),
        (align.FILENAME, "ALIGN_FILENAME"),
        (align.STATUSES, "STATUSES"),
        (align.PAR_RANGE, "PAR_RANGE"),
        (align.MAX_COORD, "MAX_COORD"),
        (align.MAX_SCALE, "MAX_SCALE"),
        (align.MAX_K1, "MAX_K1"),
        (conform.VERSION, "CONFORM_VERSION"),
        (conform.FIX, "CONFORM_FIX"),
        (conform.FILENAME, "CONFORM_FILENAME"),
        (conform.FRAME_KINDS, "FRAME_KINDS"),
        (conform.BUILDS, "BUILDS"),
        (conform.PULLDOWNS, "PULLDOWNS"),
        (conform.FIELD_ORDERS, "FIELD_ORDERS"),
        (conform.INPUT_KINDS, "INPUT_KINDS"),
        (conform.MAX_FIELDS_PER_FRAME, "MAX_FIELDS_PER_FRAME"),
    ):
        assert core_side is getattr(manifest_vocab, name), name
    for name in ("STATUSES", "PAR_RANGE", "MAX_COORD", "FRAME_KINDS", "BUILDS", "INPUT_KINDS"):
        assert getattr(plugin_manifests, name) is getattr(manifest_vocab, name), name
    for check in ("integer", "number", "string", "relative_path", "json_value", "ranges_apart"):
        assert getattr(align, check) is getattr(plugin_manifests, check) is getattr(manifest_fields, check)
    assert issubclass(_fields.Where, manifest_fields.Where) and _fields.Where.error is InputError
    assert issubclass(plugin_manifests.Where, manifest_fields.Where)
    assert plugin_manifests.Where.error is geometry.GeometryError


def test_the_plugin_reads_the_vectors_with_the_standard_library_alone(tmp_path: Path) -> None:
    """The plugin's readers and remaster_spec run in an interpreter without site-packages (Nuke's case)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from remaster_nuke import geometry; "
        "geometry.read_align_json(sys.argv[2]); geometry.read_conform_json(sys.argv[3]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'remaster_core', 'numpy', 'cv2', 'av'}))"
    )
    align_path = VECTORS / CASES["align_full"]["file"]
    conform_dir = (VECTORS / CASES["conform_full"]["file"]).parent
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(PLUGIN), str(align_path), str(conform_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
