"""The ``remaster synth`` verb: refuses to overwrite, reports bad settings as exit code 2."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from remaster_core.cli import main
from remaster_core.errors import EXIT_BAD_INPUT
from remaster_core.io.images import read_image
from remaster_core.synth.reel import _prepare_out
from remaster_core.synth.scenes import GrainParams, drawn_stock


def test_refuses_a_non_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["-q", "synth", "--preset", "tiny", "--out", str(tmp_path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "is not empty" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_bad_missing_film_shot_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "synth", "--preset", "tiny", "--missing-film", "7", "--out", str(tmp_path / "r")])
    assert code == EXIT_BAD_INPUT
    assert "numbered 0..3" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_unparseable_missing_film_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--missing-film", "two", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_force_replaces_only_the_reel(tmp_path: Path) -> None:
    with _prepare_out(tmp_path, force=False):  # an earlier reel, recorded in its marker
        for rel in (
            "film/film.000000.dpx",
            "truth/broadcast24p/frame.000000.png",
            "truth.json",
            "broadcast.mpg",
        ):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("mine")
    _prepare_out(tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_drawn_stock_is_the_seeds_and_recorded_in_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "reel"
    args = ["-q", "synth", "--preset", "tiny", "--shots", "2", "--missing-film", "", "--seed", "5"]
    assert main([*args, "--grain-stock", "drawn", "--out", str(out)]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["film_grain"] == asdict(drawn_stock(5)) != asdict(GrainParams())
    # the film is the same pictures with another grain: a frame differs from the preset stock's reel's
    assert main([*args, "--out", str(tmp_path / "preset")]) == 0
    assert json.loads((tmp_path / "preset" / "truth.json").read_text())["film_grain"] == asdict(GrainParams())
    drawn, _ = read_image(out / "film" / "film.000003.dpx")
    preset, _ = read_image(tmp_path / "preset" / "film" / "film.000003.dpx")
    assert drawn.shape == preset.shape and 0.002 < float(np.std(drawn - preset)) < 0.1


def test_a_stress_reel_draws_its_own_stock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "synth", "--preset", "stress", "--grain-stock", "drawn", "--out", str(tmp_path / "r")])
    assert code == EXIT_BAD_INPUT
    assert "--grain-stock" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
