"""Frame recipes from hand-made field measures: damaged fields, merges of a repeated field's two decodes."""

from __future__ import annotations

import numpy as np

from remaster_core.conform.cadence import Run
from remaster_core.conform.fields import FieldMetrics
from remaster_core.conform.plan import FramePlan, plan_frames

# 3:2 from field 0: runs of 3, 2, 3, 2 fields; field i is in coded frame i // 2
RUNS = [
    Run((0, 1, 2), "film", 0),
    Run((3, 4), "film", 3),
    Run((5, 6, 7), "film", 5),
    Run((8, 9), "film", 8),
    Run((10, 11, 12), "film", 0),
    Run((13, 14), "film", 3),
]
N = 15


def _metrics(*, change: dict[int, float] | None = None, comb: dict[int, float] | None = None,
             dup: np.ndarray | None = None) -> FieldMetrics:  # fmt: skip
    """Moving film: every pair of one film frame weaves at score 0, repeats at the noise floor."""
    c = np.ones(N - 1, np.float32)
    for i, v in (comb or {}).items():
        c[i] = v
    if dup is None:
        dup = np.full(N - 2, 9.0, np.float32)
        dup[[run.fields[0] for run in RUNS if len(run.fields) == 3]] = 0.3
    ch = np.full(N - 1, 0.02, np.float32)
    for i, v in (change or {}).items():
        ch[i] = v
    return FieldMetrics(comb=c, intra=np.ones(N, np.float32), dup=dup, first_parity="top", change=ch)


def _plan_of(plans: list[FramePlan], fields: tuple[int, ...]) -> FramePlan:
    return next(p for p in plans if p.fields == fields)


def test_a_codec_that_codes_the_fields_apart_weaves_a_marked_field_unless_the_weave_combs() -> None:
    """Field 3 shares coded frame 1 (fields 2, 3) with the film frame before it, and that frame's
    picture changes like a cut: the field is marked. ProRes (fields coded apart) codes it as well as any
    and its run weaves cleanly: woven. Where the weave shows damage, the run is rebuilt from field 4."""
    apart = {"fields_coded_apart": True}
    clean_weave = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.0}), **apart), (3, 4))
    assert clean_weave.build == "woven" and {clean_weave.top, clean_weave.bottom} == {3, 4}

    combed = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.0}, comb={3: 2.0}), **apart), (3, 4))
    assert combed.build == "rebuilt" and combed.keep == 4


def test_a_codec_that_codes_the_fields_together_leaves_a_strong_mark_out_even_where_it_weaves() -> None:
    """MPEG-2 (or DV) codes the picture that mixes two shots worse whatever its weave shows (a moving shot and
    a fade's dark frame weave cleanly): a strong mark in the one coded frame that changes is left out;
    a weak one only where it combs; one whose neighbouring coded frames change too, never."""
    strong = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.0})), (3, 4))
    assert strong.build == "rebuilt" and strong.keep == 4
    weak = _plan_of(plan_frames(RUNS, _metrics(change={2: 0.25})), (3, 4))
    assert weak.build == "woven"
    weak_combed = _plan_of(plan_frames(RUNS, _metrics(change={2: 0.25}, comb={3: 2.0})), (3, 4))
    assert weak_combed.build == "rebuilt" and weak_combed.keep == 4
    # a fast dissolve: the next coded frame changes nearly as much; one shot, so the weave stands, and
    # stands even where it combs (stress seed 982: a weakly marked field inside a dissolve)
    dissolve = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.0, 4: 0.7})), (3, 4))
    assert dissolve.build == "woven"
    weak_dissolve = _plan_of(plan_frames(RUNS, _metrics(change={2: 0.25, 4: 0.15}, comb={3: 2.0})), (3, 4))
    assert weak_dissolve.build == "woven"


def test_both_fields_marked_keep_the_one_whose_picture_changes_clearly_less() -> None:
    """Run (3, 4): field 3 in coded frame 1 (2, 3), field 4 in frame 2 (4, 5); both frames marked."""
    asymmetric = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.2, 4: 0.4}, comb={3: 2.0})), (3, 4))
    assert asymmetric.build == "rebuilt" and asymmetric.keep == 4
    flash = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.2, 4: 0.9}, comb={3: 2.0})), (3, 4))
    assert flash.build == "woven"
    # fields coded apart, a clean weave: woven either way
    clean = _plan_of(plan_frames(RUNS, _metrics(change={2: 1.2, 4: 0.4}), fields_coded_apart=True), (3, 4))
    assert clean.build == "woven"


def test_a_repeat_is_merged_unless_its_two_decodes_are_two_moments() -> None:
    """A still picture: every field repeats the one two before, so no pulldown contrast confirms the
    repeat; the two decodes are one picture and are merged. Decodes that differ like two moments (the
    cadence would be wrong) are not merged."""
    still = np.full(N - 2, 0.3, np.float32)
    plans = plan_frames(RUNS, _metrics(dup=still))
    assert all(p.build == "merged" and p.copy is not None for p in plans if len(p.fields) == 3)
    apart = still.copy()
    apart[5] = 60.0
    plan = _plan_of(plan_frames(RUNS, _metrics(dup=apart)), (5, 6, 7))
    assert plan.build == "woven" and plan.copy is None


def test_a_weakly_marked_decode_that_combs_is_not_merged() -> None:
    """Run (5, 6, 7): decode 5 shares coded frame 2 (4, 5) with the film frame before it; that frame's
    picture changes by 0.25, under the cadence's mark (a cut into a fade's dark first frame) but far above
    the changes around it. Where decode 5 weaves badly with field 6, the other decode (7) is woven alone;
    where it weaves cleanly, the two are merged as usual."""
    combed = _plan_of(plan_frames(RUNS, _metrics(change={4: 0.25}, comb={5: 2.0})), (5, 6, 7))
    assert combed.build == "copy" and {combed.top, combed.bottom} == {6, 7} and combed.copy is None
    clean = _plan_of(plan_frames(RUNS, _metrics(change={4: 0.25})), (5, 6, 7))
    assert clean.build == "merged" and clean.copy is not None
    ignored = _plan_of(plan_frames(RUNS, _metrics(change={4: 0.1}, comb={5: 2.0})), (5, 6, 7))
    assert ignored.build != "copy"
