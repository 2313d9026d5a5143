"""``remaster evaluate``: two EXR sequences written by the project's writer, scored; size and length checked.

The verb is exercised through its own ``add_parser``/``run`` on a parser built here, the way
``remaster_core.cli`` mounts every verb.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from remaster_core.cli import evaluate as evaluate_verb
from remaster_core.errors import EXIT_OK, InputError
from remaster_core.io.images import write_image
from remaster_core.look.report import MISMATCH
from tests.look import photo, smooth_picture, white_grain

SIZE = 256
FRAMES = 4


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remaster")
    evaluate_verb.add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(argv)


def _write(folder: Path, frames: list[np.ndarray], first: int, name: str = "frame") -> Path:
    folder.mkdir(parents=True)
    for i, rgb in enumerate(frames):
        write_image(folder / f"{name}.{first + i:04d}.exr", np.clip(rgb, 0, 1).astype(np.float32))
    return folder


def _shot(rng: np.random.Generator, grain: float) -> list[np.ndarray]:
    """A smooth sky (top half: flat tiles, for the grain) over a panning photograph (bottom half)."""
    big = photo(SIZE + 2 * FRAMES)
    frames = []
    for t in range(FRAMES):
        frame = smooth_picture(SIZE)
        frame[SIZE // 2 :] = big[t : t + SIZE // 2, 2 * t : 2 * t + SIZE]
        frames.append(frame + white_grain(rng, grain, SIZE))
    return frames


def test_evaluate_scores_two_exr_sequences_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(10)
    render = _write(tmp_path / "render", _shot(rng, 0.02), first=0)
    film = _write(tmp_path / "film", _shot(rng, 0.01), first=1001, name="scan")
    out = tmp_path / "look" / "report.json"
    out.parent.mkdir()
    args = _parse(["evaluate", str(render), "--reference", str(film / "scan.####.exr"), "--out", str(out)])
    assert args.run(args) == EXIT_OK
    printed = capsys.readouterr().out
    for row in ("PSNR dB", "SSIM", "grain RMS", "detail", "steadiness", f"report: {out}"):
        assert row in printed
    document = json.loads(out.read_text())
    assert document["render_frames"] == "0-3" and document["reference_frames"] == "1001-1004"
    assert (document["frames"], document["width"], document["height"]) == (FRAMES, SIZE, SIZE)
    # twice the film's grain (in half-float EXRs): the grain ratio reads about 2
    assert document["grain"]["amplitude"]["ratio"] == pytest.approx(2.0, rel=0.1)
    assert not list(out.parent.glob(".*"))  # written atomically: no temporary file left


def test_frames_pick_render_frames_paired_by_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(11)
    render = _write(tmp_path / "render", _shot(rng, 0.01), first=101)
    film = _write(tmp_path / "film", _shot(rng, 0.01), first=1)
    out = tmp_path / "report.json"
    args = _parse(
        ["evaluate", str(render), "--reference", str(film), "--frames", "102-103", "--out", str(out)]
    )
    assert args.run(args) == EXIT_OK
    document = json.loads(out.read_text())
    assert (document["render_frames"], document["reference_frames"], document["frames"]) == (
        "102-103",
        "2-3",
        2,
    )
    args = _parse(["evaluate", str(render), "--reference", str(film), "--frames", "104-106"])
    with pytest.raises(InputError, match="frames 105-106 are not in the render"):
        args.run(args)


def test_a_reference_of_another_length_or_size_is_refused_naming_both(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    shot = _shot(rng, 0.01)
    render = _write(tmp_path / "render", shot, first=0)
    shorter = _write(tmp_path / "shorter", shot[:3], first=0)
    args = _parse(["evaluate", str(render), "--reference", str(shorter)])
    with pytest.raises(InputError, match=MISMATCH) as exc:
        args.run(args)
    assert "render" in str(exc.value) and str(render) in str(exc.value) and str(shorter) in str(exc.value)
    smaller = _write(tmp_path / "smaller", [f[:128] for f in shot], first=0)
    args = _parse(["evaluate", str(render), "--reference", str(smaller)])
    with pytest.raises(InputError, match=f"is {SIZE}x{SIZE}, reference .* is {SIZE}x128: {MISMATCH}"):
        args.run(args)


def test_a_missing_sequence_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    args = _parse(["evaluate", str(tmp_path / "empty"), "--reference", str(tmp_path / "empty")])
    with pytest.raises(InputError, match="no image sequence found"):
        args.run(args)
