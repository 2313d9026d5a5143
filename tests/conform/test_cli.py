"""The ``remaster conform`` verb: outputs, the summary line, "no match" for another show's film, partial exit."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.cli import conform as conform_cli
from remaster_core.errors import EXIT_OK, EXIT_PARTIAL
from tests.conform import OTHER_PICTURES, clip, shot_frames


def _run(argv: list[str]) -> int:
    """Parse ``argv`` as the top-level CLI does for this verb, and run it."""
    parser = argparse.ArgumentParser(prog="remaster")
    conform_cli.add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args))


def test_conform_verb_with_film(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = clip("cuts", tmp_path_factory)
    out = tmp_path / "out"
    assert (
        _run(["conform", str(c.path), "--out", str(out), "--film", str(c.film / "film.%06d.png")]) == EXIT_OK
    )
    printed = capsys.readouterr().out
    assert str(out / "conform.json") in printed and str(out / "report.html") in printed
    assert (
        f"{len(c.frames24p)} frames" in printed and f"{len(c.cuts) - 1} cuts ({len(c.cuts)} shots)" in printed
    )
    assert f"offset {c.cuts[1]}" in printed
    doc = json.loads((out / "conform.json").read_text())
    assert doc["offset"] == c.cuts[1] and doc["film"]["frame_count"] == len(c.frames24p) - c.cuts[1]


def test_film_of_another_show_reports_no_match(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = clip("cuts", tmp_path_factory)
    film = tmp_path / "other_show"
    film.mkdir()
    rng = np.random.default_rng(7)
    frames = [f for k, n in enumerate((12, 15, 9, 14)) for f in shot_frames(OTHER_PICTURES[k], n, rng)]
    for k, frame in enumerate(frames):
        cv2.imwrite(str(film / f"scan.{k:04d}.png"), cv2.resize(frame, (704, 480))[..., ::-1])
    out = tmp_path / "out"
    assert _run(["conform", str(c.path), "--out", str(out), "--film", str(film)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "offset: no match" in printed
    doc = json.loads((out / "conform.json").read_text())
    assert doc["offset"] is None and not doc["offset_match"]["matched"]
    assert all(s["film_first"] is None for s in doc["shots"])


def test_truncated_broadcast_exits_partial(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = clip("break", tmp_path_factory)
    cut = tmp_path / "cut.mpg"
    data = c.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert _run(["conform", str(cut), "--out", str(tmp_path / "out")]) == EXIT_PARTIAL
    assert "did not decode to its end" in capsys.readouterr().out


def test_missing_film_is_refused_before_any_work(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from remaster_core.errors import InputError

    c = clip("break", tmp_path_factory)
    with pytest.raises(InputError, match="nothing"):
        _run(["conform", str(c.path), "--out", str(tmp_path / "out"), "--film", str(tmp_path / "nothing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        _run(["conform", str(c.path), "--out", str(tmp_path / "out"), "--film", str(tmp_path / "empty")])
    assert not (tmp_path / "out").exists()
