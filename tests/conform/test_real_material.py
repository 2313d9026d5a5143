"""Conform on real pictures: a stretch of a real animated film, telecined as broadcast was made.

The clip (``tests/real_material.py``: Debian's opencv-doc ``Megamind.avi``, fetched by
``scripts/fetch_real.sh``) is 23.976p with real cuts, real motion and real grading. Frames
``FIRST..FIRST+COUNT-1`` (mid-shot start, three cuts inside, mid-shot end) are telecined 3:2 at a
pulldown phase that opens mid-cadence (the first frame keeps one field) and encoded MPEG-2 interlaced;
the truth is the decoded frames themselves. Bars, as for the stress corpus
(``conform.evaluate.score_stress``): every 24p frame once, in order, from its own fields only; each
within 1 dB of the codec's clean-field reference PSNR; every cut found, no false cut; with the whole
clip as the film scan, the offset and every shot's film frame exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remaster_core.cli import main
from remaster_core.conform.evaluate import score_stress
from remaster_core.manifests.conform import read_conform
from tests.real_material import MEGAMIND_CUTS, build_real_reel, real_clip

FIRST, COUNT, PHASE = 90, 120, 2  # clip frames 90..209: cuts at 98, 154 and 200 inside


@pytest.fixture(scope="module")
def real_reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The telecined stretch (``build_real_reel``), built once for this module."""
    clip = real_clip()
    reel = tmp_path_factory.mktemp("real") / "reel"
    build_real_reel(reel, clip, first=FIRST, count=COUNT, phase=PHASE)
    return reel


def _conform(reel: Path, out: Path, *film: str) -> None:
    code = main(["-q", "conform", str(reel / "broadcast.mpg"), "--out", str(out), *film])
    assert code == 0, f"remaster conform exited {code}"


def _assert_recovered(out: Path, reel: Path, *, with_psnr: bool) -> None:
    score = score_stress(out, reel, with_psnr=with_psnr)
    assert score.present == list(range(FIRST, FIRST + COUNT))
    assert read_conform(out).frame_count == COUNT
    assert not score.mixed and not score.missing and not score.duplicated, (
        score.mixed, score.missing, score.duplicated,
    )  # fmt: skip
    assert [score.exact[n] for n in score.present] == list(range(COUNT))
    expected = [c - FIRST for c in MEGAMIND_CUTS if FIRST < c < FIRST + COUNT]
    assert len(expected) >= 3 and score.cuts_expected == expected
    assert score.cuts_found == expected, (score.cuts_missed, score.cuts_false)
    if with_psnr:
        short = {n: round(v, 2) for n, v in score.shortfall().items() if v > 1.0}
        assert len(score.psnr) == COUNT and not short, (
            f"frames >1 dB below the clean-field reference: {short}"
        )


@pytest.mark.slow
def test_real_clip_conforms_exactly_without_film(real_reel: Path, tmp_path: Path) -> None:
    out = tmp_path / "conform"
    _conform(real_reel, out)
    _assert_recovered(out, real_reel, with_psnr=False)


@pytest.mark.slow
def test_real_clip_conforms_exactly_with_film(real_reel: Path, tmp_path: Path) -> None:
    out = tmp_path / "conform"
    _conform(real_reel, out, "--film", str(real_reel / "film"))
    _assert_recovered(out, real_reel, with_psnr=True)
    manifest = read_conform(out)
    assert manifest.offset == -FIRST  # broadcast frame - film frame
    assert [(s.first, s.film_first) for s in manifest.shots] == [
        (s.first, FIRST + s.first) for s in manifest.shots
    ]
    score = score_stress(out, real_reel, with_psnr=False)
    assert score.shots_film_ok and score.film_wrong == {}
    # the scorer names every frame of a shot paired a film frame late, and by how much
    data = json.loads((out / "conform.json").read_text())
    shot = data["shots"][1]
    shot["film_first"] += 1
    (out / "conform.json").write_text(json.dumps(data))
    score = score_stress(out, real_reel, with_psnr=False)
    assert not score.shots_film_ok
    assert score.film_wrong == {i: 1 for i in range(shot["first"], shot["last"] + 1)}
