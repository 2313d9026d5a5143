"""The ``remaster synth`` verb: refuses to overwrite, reports bad settings as exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from remaster_core.cli import main
from remaster_core.errors import EXIT_BAD_INPUT
from remaster_core.synth.reel import _prepare_out


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
