"""Real manifests, as the verbs write them, read back: ``from_dict(to_dict(m)) == m``, the file is
``to_dict()`` of what the writer built, and the writer's dataclass is what the reader gets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from remaster_core.align import AlignParams, align
from remaster_core.conform import conform
from remaster_core.errors import InputError
from remaster_core.manifests import AlignManifest, ConformManifest, read_align, read_conform
from tests.align import conform_from_truth
from tests.conform import clip


@pytest.mark.parametrize("name", ["video", "cuts"])
def test_conform_json_round_trips(
    name: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip(name, tmp_path_factory)
    film = str(c.film / "film.%06d.png") if name == "cuts" and c.film is not None else None
    result = conform(c.path, tmp_path / "conform", film=film)
    manifest = read_conform(tmp_path / "conform")
    assert manifest == result.manifest and manifest.path == tmp_path / "conform" / "conform.json"
    doc = json.loads(manifest.path.read_text())
    assert manifest.to_dict() == doc == result.document
    assert ConformManifest.from_dict(manifest.to_dict(), manifest.path) == manifest
    assert ("offset" in doc) == (film is not None)
    assert doc.get("joined_cuts") == ([] if film is not None else None)  # with a film: none on this clip
    joined = ConformManifest.from_dict({**doc, "joined_cuts": [2]}, manifest.path)
    assert joined.joined_cuts == (2,) and joined.to_dict()["joined_cuts"] == [2]
    with pytest.raises(InputError, match="joined_cuts"):
        ConformManifest.from_dict({**doc, "joined_cuts": [manifest.frame_count]}, manifest.path)
    assert {f.kind for f in manifest.frames or ()} >= ({"film", "video"} if name == "video" else {"film"})


def test_align_json_round_trips(tiny_reel: Path, tmp_path: Path) -> None:
    folder, film = conform_from_truth(
        tiny_reel,
        tmp_path / "conform",
        shots=[
            {"first": 0, "last": 3, "film_first": None},
            {"first": 30, "last": 33, "film_first": 10000},  # beyond the scan: rejected
            {"first": 34, "last": 39, "film_first": 21},
        ],
    )
    result = align(folder, tmp_path / "pairs", film=str(film), params=replace(AlignParams(), fit_frames=3))
    manifest = read_align(result.align_json)
    assert manifest == result.manifest
    assert [s.status for s in manifest.shots] == ["no film", "rejected", "aligned"]
    doc = json.loads(result.align_json.read_text())
    assert manifest.to_dict() == doc == result.document
    assert AlignManifest.from_dict(manifest.to_dict(), manifest.path) == manifest
    aligned = manifest.shots[2]
    assert aligned.input is not None and (manifest.folder / aligned.input.replace("%06d", "000034")).is_file()
    # renumbered for a plate (the worker's align_offset) and back: the same manifest
    assert manifest.shifted(1000).shifted(-1000) == manifest
    assert manifest.shifted(1000).shots[2].broadcast_first == aligned.broadcast_first + 1000  # type: ignore[operator]
