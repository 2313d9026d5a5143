"""Frame recipes from hand-made field measures: damaged fields, merges of a repeated field's two decodes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from remaster_core.conform.cadence import CadenceParams, Run, field_evidence
from remaster_core.conform.fields import FieldMetrics
from remaster_core.conform.plan import (
    FramePlan,
    comb_scores,
    fields_across_cuts,
    plan_frames,
    rewoven,
    without_fields,
)

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


def test_the_cut_list_names_the_fields_coded_with_another_shot() -> None:
    """A cut between output frames whose fields meet inside one coded frame (2j, 2j+1) damages both;
    one between coded frames damages none."""
    frames = [run.fields for run in RUNS]
    assert fields_across_cuts(frames, [1]) == {2, 3}  # (0 1 2) | (3 4): coded frame 1 holds 2 and 3
    assert fields_across_cuts(frames, [2]) == {4, 5}  # (3 4) | (5 6 7): coded frame 2 holds 4 and 5
    assert fields_across_cuts(frames, [3]) == set()  # (5 6 7) | (8 9): 7 | 8 meet across frames 3, 4
    assert fields_across_cuts(frames, [0, 6, 99]) == set()  # no frame before the first, none after


def test_a_frame_beside_a_cut_is_built_without_the_cut_fields() -> None:
    """The marks can keep the wrong field of a 2-field run (the next coded frame changes more: a fade
    from black) or weave a damaged one (a fast pan after the cut: the mark is not isolated); the cut
    list puts it right: the 2-field run is rebuilt from its field of the shot's own coded frame, the
    3-field run before the cut woven from its clean decodes."""
    metrics = _metrics(change={2: 0.5, 4: 1.5})  # the cut in coded frame 1, a fade from black in 2
    plans = plan_frames(RUNS, metrics)
    wrong = _plan_of(plans, (3, 4))
    assert wrong.build == "rebuilt" and wrong.keep == 3  # field 4's coded frame changed more
    damaged = fields_across_cuts([p.fields for p in plans], [1])
    after = without_fields(wrong, damaged, comb_scores(metrics), "top")
    assert after is not None and after.build == "rebuilt" and after.keep == 4
    before = without_fields(_plan_of(plans, (0, 1, 2)), damaged, comb_scores(metrics), "top")
    assert before is not None and before.build == "copy" and {before.top, before.bottom} == {0, 1}
    assert not before.combed
    assert (
        without_fields(_plan_of(plans, (5, 6, 7)), damaged, comb_scores(metrics), "top") is None
    )  # uses none of them
    orphan = FramePlan("orphan", (3,), 3, keep=3, build="orphan")
    assert without_fields(orphan, {3}, comb_scores(metrics), "top") is None

    # a fast pan after a hard cut: neither mark is isolated, the damaged field combs in the weave
    pan = _metrics(change={2: 1.3, 4: 0.9}, comb={3: 2.0})
    woven = _plan_of(plan_frames(RUNS, pan), (3, 4))
    assert woven.build == "woven"
    fixed = without_fields(woven, {2, 3}, comb_scores(pan), "top")
    assert fixed is not None and fixed.build == "rebuilt" and fixed.keep == 4
    # the cut list's "cut" inside a fast dissolve: two blends of the same shots weave cleanly and stay
    dissolve = _metrics(change={2: 1.3, 4: 0.9})
    clean = _plan_of(plan_frames(RUNS, dissolve), (3, 4))
    assert clean.build == "woven" and without_fields(clean, {2, 3}, comb_scores(dissolve), "top") is None


def test_a_frame_the_marks_rebuilt_inside_a_shot_is_woven_again_where_its_weave_is_clean() -> None:
    """The last big step of a dissolve into a still picture changes its coded frame like a cut (a strong,
    isolated mark): field 3 is left out and (3, 4) rebuilt from field 4. Where the cut list finds no
    cut there and the weave is clean, the frame is woven again; where the weave combs, it stays."""
    metrics = _metrics(change={2: 1.0})
    marked = _plan_of(plan_frames(RUNS, metrics), (3, 4))
    assert marked.build == "rebuilt" and marked.keep == 4
    again = rewoven(marked, comb_scores(metrics), field_evidence(metrics), "top")
    assert again is not None and again.build == "woven" and {again.top, again.bottom} == {3, 4}
    combs = _metrics(change={2: 1.0}, comb={3: 2.0})
    assert (
        rewoven(_plan_of(plan_frames(RUNS, combs), (3, 4)), comb_scores(combs), field_evidence(combs), "top")
        is None
    )
    woven = _plan_of(plan_frames(RUNS, metrics), (5, 6, 7))
    assert rewoven(woven, comb_scores(metrics), field_evidence(metrics), "top") is None  # nothing left out


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


# 2:3:3:2 from field 0: runs of 2, 3, 3, 2 fields; coded frames AA BB BC CC DD, the mixed BC once a cycle
RUNS_2332 = [
    Run(fields, "film", fields[0] % 10, "2:3:3:2")
    for fields in ((0, 1), (2, 3, 4), (5, 6, 7), (8, 9), (10, 11), (12, 13, 14), (15, 16, 17), (18, 19))
]
N_2332 = 20


def _metrics_2332(film_change: dict[int, float]) -> FieldMetrics:
    """Film whose picture changes by ``film_change[i]`` from field i to i+1 where a run ends at i (0.02,
    coding noise, inside a film frame); decode 4 weaves with field 3 (across two coded pictures) at
    comb 2, every other pair of one film frame at 0; the repeats at the noise floor."""
    comb = np.ones(N_2332 - 1, np.float32)
    comb[3] = 2.0
    dup = np.full(N_2332 - 2, 9.0, np.float32)
    dup[[run.fields[0] for run in RUNS_2332 if len(run.fields) == 3]] = 0.3
    change = np.full(N_2332 - 1, 0.02, np.float32)
    for i, v in film_change.items():
        change[i] = v
    return FieldMetrics(
        comb=comb, intra=np.ones(N_2332, np.float32), dup=dup, first_parity="top", change=change
    )


def test_the_2332_mixed_frame_of_a_moving_shot_is_not_a_cut() -> None:
    """Coded frame 2 (fields 4, 5) holds film frames B and C, once every 2:3:3:2 cycle; its neighbours
    (2, 3) and (6, 7) show one film frame each and change by coding noise alone, so the mixed frame's
    change stands out (weakly marked, isolated) however the film moves. Where the film changes as much
    at the boundaries before (1 | 2) and after (7 | 8), it is motion: the repeat's two decodes are
    merged (stress seeds 1208 and 1189: the decode left out cost 1.75 and 1.29 dB). Where the shot
    before or after changes far less, the change is a cut and decode 4 stays out."""
    moving = {1: 0.25, 4: 0.25, 7: 0.25, 9: 0.25, 14: 0.25, 17: 0.25}
    merged = _plan_of(plan_frames(RUNS_2332, _metrics_2332(moving)), (2, 3, 4))
    assert merged.build == "merged" and {merged.top, merged.bottom} == {2, 3} and merged.copy == 4
    for still in (1, 7):  # the shot before, or the one after, changes less than half as much
        cut = _plan_of(plan_frames(RUNS_2332, _metrics_2332({**moving, still: 0.1})), (2, 3, 4))
        assert cut.build == "copy" and {cut.top, cut.bottom} == {2, 3} and cut.copy is None


def test_real_2332_fast_shots_merge_the_mixed_frames_decode() -> None:
    """The field measures and cadence runs of stress seeds 1208 (MPEG-2, bottom field first) and 1189
    (top field first): 24p 135 and 183, fast shots whose 2:3:3:2 mixed frame changed by 0.23 and 0.27
    with 0.22-0.27 at the film-frame boundaries around it, were woven without the decode in that frame
    ("copy", 1.75 and 1.29 dB below the clean reference); merged, 0.31 and 0.29."""
    data = np.load(Path(__file__).parent / "data" / "stress1189_1208_fast_2332.npz", allow_pickle=False)
    for seed, parity, fields in ((1208, "bottom", (336, 337, 338)), (1189, "top", (456, 457, 458))):
        runs = [
            Run(
                tuple(range(int(first), int(first) + int(length))),
                ("film", "orphan", "video")[int(kind)],  # type: ignore[arg-type]
                None if phase < 0 else int(phase),
                None if pattern < 0 else ("3:2", "2:3:3:2")[int(pattern)],
            )
            for first, length, kind, phase, pattern in zip(
                *(data[f"s{seed}_run_{key}"] for key in ("first", "len", "kind", "phase", "pattern")),
                strict=True,
            )
        ]
        metrics = FieldMetrics(
            comb=data[f"s{seed}_comb"],
            intra=data[f"s{seed}_intra"],
            dup=data[f"s{seed}_dup"],
            first_parity=parity,
            change=data[f"s{seed}_change"],
            dup_local=data[f"s{seed}_dup_local"],
        )
        plan = _plan_of(plan_frames(runs, metrics), fields)
        assert plan.build == "merged" and plan.copy is not None, (seed, plan)


def test_frames_are_planned_on_the_evidence_the_cadence_was_decided_on() -> None:
    """A 3-field run's repeated field is merged where the evidence says its two decodes are one moment.
    ``analyse`` decides the cadence on evidence that a second look (the motion) may have changed; the
    frames follow that evidence, not one measured again from the field measures alone."""
    metrics = _metrics()
    own = field_evidence(metrics)
    assert _plan_of(plan_frames(RUNS, metrics), (0, 1, 2)).build == "merged"
    pulldown, repeat = own.pulldown.copy(), own.repeat.copy()
    pulldown[0] = repeat[0] = CadenceParams().clip_not_repeat  # the second look: fields 0, 2 two moments
    second = replace(own, pulldown=pulldown, repeat=repeat)
    plan = _plan_of(plan_frames(RUNS, metrics, evidence=second), (0, 1, 2))
    assert plan.build == "woven" and plan.copy is None


def test_a_one_frame_shot_with_no_clean_field_is_woven_where_its_weave_is_clean() -> None:
    """Stress seed 1400 (DV, bottom field first; its field measures in ``data/``): 24p 54 is a one-frame
    shot between cuts at 3:2 positions 5 and 7, fields 125 | 126, each coded with a field of another shot
    (coded frames 62 and 63). Both marks are strong and isolated; the cut's change in 62 (0.65) is under
    half of 63's (1.36), so the marks rebuilt the frame from field 125 (40.31 dB). No field of it is
    clean, and the two weave cleanly (-0.001): the cut list's second look (``pipeline.beside_cuts``)
    weaves them (41.76 dB, the codec's best for that frame)."""
    from types import SimpleNamespace

    from remaster_core.conform.cadence import group_runs, track_cadence
    from remaster_core.conform.pipeline import Analysis, beside_cuts

    data = np.load(Path(__file__).parent / "data" / "stress1400_dv_flash_frame.npz", allow_pickle=False)
    metrics = FieldMetrics(
        **{k: data[k] for k in ("comb", "intra", "dup", "change", "dup_local")}, first_parity="bottom"
    )
    p = CadenceParams()
    evidence = field_evidence(metrics, p)
    plans = plan_frames(group_runs(track_cadence(evidence, params=p)), metrics, p, evidence=evidence)
    k = next(i for i, plan in enumerate(plans) if plan.fields == (125, 126))
    assert plans[k].build == "rebuilt" and plans[k].keep == 125
    info = SimpleNamespace(fields_coded_apart=False)
    analysis = Analysis(info, "ivtc", False, metrics, None, plans, 131, None, None, evidence)  # type: ignore[arg-type]
    fixes = beside_cuts(analysis, plans, [k, k + 1], p)
    assert fixes[k].build == "woven" and {fixes[k].top, fixes[k].bottom} == {125, 126}
    assert fixes[k].score is not None and fixes[k].score < p.damage_comb
