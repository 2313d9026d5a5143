"""Conform on the stress corpus (``remaster synth --preset stress``): seeds fixed before any tuning.

TUNING_SEEDS were listed before the damaged-field rebuild was written and are the only stress reels
looked at while working on conform; the benchmark (``bench/conform.py --stress``) also runs the
held-out seeds. Seeds 900-909 were held out until session 9 measured their failures and tuned on them
(the damaged-field rules of ``plan``); 940-949, fixed before that tuning, were run once, then looked
at and tuned on too; so were 960-969 (fixed before 940-949's failure was looked at) in session 10,
and 980-989 (fixed at the start of session 10, run once after its change). 1000-1009, fixed before
980-989's two short frames were looked at, were run once in session 11 (every frame exact, every cut,
no false one). 1020-1029, fixed in session 11, were run once in session 12 after the cut list's second
look at the frames beside a cut (1588 of 1589 frames exact, one cut missed: a one-frame leader into a
fade-in) and looked at since. 1040-1049, fixed in session 12, were run once at the start of session 13,
before any change (1388 of 1398 24p frames recovered, every cut found, one false: three MPEG-2 reels
each with an edit after the telecine in a still or slow shot, 10 output frames mixing two film frames
there, all but four of 1046's still shot listed in ``uncertain_cadence``), and are looked-at seeds
now. 1060-1069, fixed in session 13, were run once in session 16 (1299 of 1299 frames exact, none
mixed or missing, every cut found, one false: 1063's fast pan at 29 px a frame, three frames in, where
an edit after the telecine drops three fields and the picture jumps). 1080-1089, fixed in session 16,
were run once at the start of session 18 (8 of 10 reels exact; 1083 and 1088 mix 4 and 2 output frames
where an edit after the telecine falls inside a still or a dark 1 px-a-frame shot:
docs/architecture.md). 1100-1109, fixed in session 18, were run once at the start of session 19 (1558 of
1560 frames exact; 1107 mixes one frame at an edit ending a dark slow pan, 1102 and 1106 pair frames
after an edit with the wrong film frames: docs/architecture.md). 1120-1129, fixed in session 19, were
run once later in it (all 1486 frames exact, every pairing right). 1140-1149, fixed in session 19, were
run once in session 20 after the join of cuts inside a film shot (1623 of 1624 frames exact, none
mixed, no false cut; two cuts missed, 1142 and 1149; film pairings wrong in 1140, 1141 and 1148: edits
after the telecine inside a fade, at a shot's last frame, in a still shot: docs/architecture.md).
1160-1169, fixed in session 20, were run once in session 21 after the cut floor for a picture change
that stands out (every cut found, no false cut, 1.15-1.85x ffmpeg; 1167 mixes one output frame and
misses one 24p frame at an edit after the telecine, 1168 splits one film frame's two fields into two
orphans at an edit placed 6 fields early and pairs 3 frames 2 film frames late, 1169 pairs a lone frame
left between a cut and a video stretch with its film shot's first frame, 4 early:
docs/architecture.md). 1180-1189, fixed in session 21, were run once in session 22 (1526 of 1527 frames
exact, 1.34-2.03x ffmpeg; 1182 missed the cut from a one-frame leader into a fade, 1188 paired 9 frames
of a dark shot a film frame early after an edit, 1189 built one frame 1.29 dB under its clean fields'
reference: docs/architecture.md). 1200-1209 were run once in session 23 (1436 of 1438 frames exact, 1.12-1.77x
ffmpeg; film offsets wrong on 1202, 1205 and 1206: docs/architecture.md). 1220-1229 were run once in
session 24 (8 of 10 reels exact; 1228 wove two lone fields of an edit inside a moving shot, 1223 merged a
field of a still shot with grain only: docs/architecture.md). 1240-1249 were run once in session 24 after
the jump evidence (all 1581 frames exact; film pairings wrong on 1243, 9 frames, and 1249, 1 frame:
docs/architecture.md). 1260-1269 were run once in session 24 after the offset's distinct_score (all 1451
frames exact; film pairings wrong on 1265, 16 frames, and 1266, 3 frames: docs/architecture.md). 1280-1289
were run once in session 25 (all 1320 frames exact; film pairings wrong on 1280, 3 frames, and 1288, 4
frames, still shots an edit opens: docs/architecture.md). 1300-1309 were run once in session 25 after the
offset's edited-start change (9 of 10 reels exact; 1303 merged fields of a still shot with grain only
between two edits, frames listed as uncertain: docs/architecture.md). 1320-1329 were run once in
session 25 (1713 of 1714 frames exact, every pairing right; 1327's frame 27, rebuilt from one field in a
fade, 1.06 dB under its reference: docs/architecture.md). 1340-1349 were run once in session 26 (all
1866 frames exact, every pairing right). 1360-1369 were run once in session 26 after the offset's three
changes (7 of 10 reels exact; 1369, ProRes, lost a lone field at an edit: fixed since; 1363 and 1361:
docs/architecture.md). 1380-1389 were run once in session 26 after that fix (8 of 10 reels exact; 1384
paired a frame 3 late, 1385 lost a lone field inside a dissolve: docs/architecture.md). 1400-1409 were
run once in session 27 (9 of 10 reels exact, every pairing right; 1400's one-frame shot rebuilt from one
field 1.45 dB under its reference, fixed since). 1420-1429 were run once in session 27 after that fix
(6 of 10 reels exact; every frame exact, 1420, 1424 and 1428 paired frames 1, 1 and 3 film frames off,
1422 missed a cut: docs/architecture.md). 1440-1449 were run once in session 28 (all 10 reels exact in
every frame, cut and pairing: 1631 frames). 1460-1469 were run once in session 28 after the jump's
picture step (8 of 10 reels exact; 1460, an edit inside a dissolve, and 1466, an edit inside a still
shot with grain only, each mix one frame: docs/architecture.md). 1480-1489 were run once in session 29
(8 of 10 reels exact; 1489 lost a lone field of a jump in a star-field pan, fixed since; 1485 paired two
frames a film frame early after a jump near a fading shot's end, fixed in session 30:
docs/architecture.md). 1500-1509 were run once in session 30 (8 of 10 reels exact, every one of 1644
frames exact; 1500 and 1504 paired 2 and 5 frames 3 and 1 film frames early after an edit at a cut, fixed
since: docs/architecture.md). 1520-1529 were run once in session 30 after those fixes (9 of 10 reels exact;
1525 lost a lone damaged field of a fade beside an edit: docs/architecture.md). 1540-1549 were run once
in session 31 with nothing changed since (all 10 reels exact in every frame, cut and pairing: 1532
frames). 1560-1569 were run once in session 31, the conform code still unchanged (9 of 10 reels exact;
every one of 1380 frames exact; 1562 paired five frames a film frame late after edits inside a transition
beside a flash cut: docs/architecture.md). 1580-1589 were run once in session 32, the conform code still
unchanged (8 of 10 reels exact; 1580 and 1584 mix 1 and 8 frames at edits inside a still star field with
grain: docs/architecture.md). 1600-1609 were run once at the end of session 32 (7 of 10 reels exact;
1579 of 1582 frames exact; 1600 mixes 2 frames at an edit inside a still shot, listed as uncertain; 1600
and 1603 pair 3 and 1 frames off: docs/architecture.md). 1620-1629 were run once at the start of session 33,
the conform code unchanged (all 10 reels exact in every frame, cut and pairing: 1286 frames). 1640-1649
were run once later in session 33, the conform code still unchanged (every one of 1610 frames exact; 1644
missed a cut between two fast pans, found since: docs/architecture.md). 1660-1669 were run once at the start
of session 34, the conform code unchanged (7 of 10 reels exact; 1392 of 1393 frames exact; 1662 missed a
cut from a dark shot into a fade from black, 1663 rebuilt a dissolve's first frame 1.4 dB under its weave,
1668 paired 17 frames of a still shot a film frame early after an edit: docs/architecture.md). The
held-out seeds are 1680-1689, never run.

Bars per reel: every 24p frame present in the broadcast recovered once, in order, from its own
fields only (no frame mixing two film frames or film and video); each within 1 dB of the codec's own
PSNR for its clean field(s) (``evaluate.clean_reference_psnr``); every cut found and no false cut;
every shot's film frame exact; every frame says how it was built (``built`` in conform.json).

Known failures are marked xfail(strict) with the reason, so a fix shows up as XPASS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from remaster_core.conform.evaluate import score_stress
from remaster_core.conform.pipeline import conform
from remaster_core.synth.stress import StressParams, build_stress_reel, field_mapping, plan_stress

TUNING_SEEDS = tuple(range(100, 120))
# bench only: held out once, looked at and tuned on since
LOOKED_AT_SEEDS = (
    *range(900, 910), *range(940, 950), *range(960, 970), *range(980, 990), *range(1000, 1010), *range(1020, 1030),
    *range(1040, 1050), *range(1060, 1070), *range(1080, 1090), *range(1100, 1110), *range(1120, 1130),
    *range(1140, 1150), *range(1160, 1170), *range(1180, 1190), *range(1200, 1210), *range(1220, 1230),
    *range(1240, 1250), *range(1260, 1270), *range(1280, 1290), *range(1300, 1310),
    *range(1320, 1330), *range(1340, 1350), *range(1360, 1370), *range(1380, 1390), *range(1400, 1410),
    *range(1420, 1430), *range(1440, 1450), *range(1460, 1470), *range(1480, 1490),
    *range(1500, 1510), *range(1520, 1530), *range(1540, 1550), *range(1560, 1570),
    *range(1580, 1590), *range(1600, 1610), *range(1620, 1630), *range(1640, 1650), *range(1660, 1670),
)  # fmt: skip
HELD_OUT_SEEDS = tuple(range(1680, 1690))  # bench only: never run
TEST_PARAMS = StressParams(frames=(60, 100))

# seed -> why it fails today (measured; see the module docstring)
KNOWN_FAILURES: dict[int, str] = {}


def test_stress_plans_cover_what_a_broadcast_varies() -> None:
    """The seeds together hold every shot kind, both pulldowns, both field orders, every codec, video."""
    kinds, patterns, orders, codecs = set(), set(), set(), set()
    video = 0
    for seed in TUNING_SEEDS:
        plan = plan_stress(seed, TEST_PARAMS)
        kinds |= {s.kind for s in plan.shots}
        patterns |= {p.pattern for p in plan.pieces}
        orders.add(plan.field_order)
        codecs.add(plan.codec)
        video += bool(plan.video_after_piece)
        sources, _, _ = field_mapping(plan)
        assert len(sources) % 2 == 0
    assert kinds == {"pan", "fast_pan", "still", "frozen", "dark", "flash", "fade", "dissolve"}
    assert patterns == {"32", "2332"} and orders == {"tff", "bff"}
    assert codecs == {"mpeg2", "dv", "prores"} and video >= 5


CORPUS = os.environ.get("REMASTER_STRESS_CORPUS") == "1"
"""The 20-seed corpus takes about 10 minutes on 2 cores, beyond the suite's budget while issue #15 is
open: it runs with REMASTER_STRESS_CORPUS=1 (and in ``bench/conform.py --stress 100-119``)."""


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS, reason="the stress corpus runs with REMASTER_STRESS_CORPUS=1 (about 10 min)")
@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(s, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[s], strict=True))
        if s in KNOWN_FAILURES
        else s
        for s in TUNING_SEEDS
    ],
)
def test_stress_reel_meets_the_bars(seed: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp(f"stress{seed}")
    reel = root / "reel"
    truth = build_stress_reel(reel, seed=seed, params=TEST_PARAMS)
    out = root / "conform"
    conform(reel / truth["broadcast"]["path"], out, film=str(reel / "film"))
    score = score_stress(out, reel)
    assert not score.mixed and not score.missing and not score.duplicated
    short = {n: round(v, 2) for n, v in score.shortfall().items() if v > 1.0}
    assert not short, f"frames more than 1 dB below the clean-field reference: {short}"
    assert not score.cuts_missed and not score.cuts_false, (score.cuts_missed, score.cuts_false)
    assert score.shots_film_ok
    doc = json.loads((out / "conform.json").read_text())
    assert all("built" in f for f in doc["frames"])


def test_stress_reel_is_reproducible(tmp_path: Path) -> None:
    """The same seed gives the same truth (the plan is drawn from the seed alone)."""
    a = plan_stress(7, TEST_PARAMS)
    b = plan_stress(7, TEST_PARAMS)
    assert a == b
