"""``remaster align``: the verb's arguments, its per-shot lines and exit codes.

The verb is exercised through its own ``add_parser``/``run`` on a parser built here, the way
``remaster_core.cli`` mounts every verb.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from remaster_core.cli import align as align_verb
from remaster_core.errors import EXIT_OK, EXIT_PARTIAL
from tests.align import conform_from_truth


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remaster")
    align_verb.add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(argv)


def test_align_verb_prints_a_line_per_shot(
    tiny_reel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conform, film = conform_from_truth(
        tiny_reel,
        tmp_path / "conform",
        shots=[{"first": 0, "last": 3, "film_first": None}, {"first": 34, "last": 39, "film_first": 21}],
    )
    out = tmp_path / "pairs"
    args = _parse(
        ["align", "--conform", str(conform), "--film", str(film), "--out", str(out), "--fit-frames", "3"]
    )
    assert args.run(args) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("shot 0 [0-3]: no film")
    assert lines[1].startswith("shot 1 [34-39]: aligned, 6 pairs, flow residual")
    assert "report:" in lines[-1] and str(out / "report.html") in lines[-1]
    doc = json.loads((out / "align.json").read_text())
    assert doc["params"]["fit_frames"] == 3 and doc["shots"][1]["status"] == "aligned"


def test_align_verb_exits_partial_when_no_shot_aligns(
    tiny_reel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conform, _ = conform_from_truth(
        tiny_reel, tmp_path / "conform", shots=[{"first": 34, "last": 36, "film_first": 21}]
    )
    # --film defaults to the film named in conform.json
    args = _parse(["align", "--conform", str(conform), "--out", str(tmp_path / "pairs"), "--min-frames", "4"])
    assert args.run(args) == EXIT_PARTIAL
    out = capsys.readouterr().out
    assert "rejected (the shot has 3 frame(s) with film, the fit needs at least 4" in out


def test_align_verb_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parse(["align", "--conform", str(tmp_path), "--out", str(tmp_path / "p"), "--fit-frames", "0"])
    with pytest.raises(SystemExit):
        _parse(["align", "--conform", str(tmp_path), "--out", str(tmp_path / "p"), "--broadcast-par", "x"])
    args = _parse(
        ["align", "--conform", str(tmp_path), "--out", str(tmp_path / "p"), "--broadcast-par", "10/11"]
    )
    assert args.broadcast_par == pytest.approx(10 / 11) and args.film is None
