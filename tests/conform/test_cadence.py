"""The cadence decision on field streams made in numpy (no codec): 3:2, edits, stills, video, overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from remaster_core.conform.cadence import (
    PHASES,
    VIDEO,
    CadenceParams,
    CadenceTrack,
    _between_combed_excess,
    _boundary_level,
    decision_margins,
    field_evidence,
    group_runs,
    track_cadence,
)
from remaster_core.conform.fields import FieldMetrics, measure_fields
from remaster_core.conform.motion import FieldMotion, comparisons_to_measure, motion_comb, motion_pulldown
from remaster_core.conform.overrides import allowed_states, parse_overrides
from remaster_core.synth.telecine import telecine_mapping


def _frames(n: int, seed: int, speed: float = 1.5, still: bool = False) -> list[np.ndarray]:
    """``n`` (64, 96) float32 frames of a textured picture panning ``speed`` px a frame, fresh grain each."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(0, 1, (64, 200)).astype(np.float32), (0, 0), 1.5) * 300 + 128
    out = []
    for k in range(n):
        m = np.float32([[1, 0, 0.0 if still else speed * k], [0, 1, 0]])
        shifted = cv2.warpAffine(base, m, (200, 64), flags=cv2.INTER_CUBIC)[:, 50:146]
        out.append(shifted + rng.normal(0, 1.5, shifted.shape).astype(np.float32))
    return out


def _telecine(frames: list[np.ndarray], phase: int = 0, first: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """Fields (top first) of a 3:2 telecine and the index (+``first``) of the frame each shows; coding noise added."""
    rng = np.random.default_rng(99)
    fields, sources = [], []
    for top, bottom in telecine_mapping(len(frames), phase, "t"):
        for src, rows in ((top, slice(0, None, 2)), (bottom, slice(1, None, 2))):
            fields.append(frames[src][rows] + rng.normal(0, 0.4, frames[src][rows].shape).astype(np.float32))
            sources.append(first + src)
    return fields, sources


def _runs_as_sources(track: CadenceTrack, sources: list[int]) -> list[set[int]]:
    return [{sources[f] for f in run.fields} for run in group_runs(track)]


def _decide(fields: list[np.ndarray], **kw: object) -> CadenceTrack:
    return track_cadence(field_evidence(measure_fields(fields, "top")), **kw)  # type: ignore[arg-type]


def test_unbroken_cadence_every_phase_one_run_per_frame() -> None:
    for phase in range(4):
        fields, sources = _telecine(_frames(30, seed=phase), phase)
        runs = _runs_as_sources(_decide(fields), sources)
        assert all(len(r) == 1 for r in runs), phase
        assert [r.pop() for r in runs] == sorted(set(sources)), phase


def test_still_stretch_inherits_the_cadence() -> None:
    frames = _frames(12, 1) + _frames(20, 2, still=True) + _frames(12, 3)
    fields, sources = _telecine(frames)
    track = _decide(fields)
    runs = _runs_as_sources(track, sources)
    assert [r.pop() for r in runs] == list(range(44))
    assert not track.broken.any()


def test_edit_across_the_cycle_breaks_cadence_and_leaves_orphans() -> None:
    a_fields, a_src = _telecine(_frames(20, 4))
    b_fields, b_src = _telecine(_frames(20, 5), first=100)
    # keep 13 video frames of A (it ends on "B C": C has one field), then B from its 4th frame ("C D")
    fields = a_fields[:26] + b_fields[6:]
    sources = a_src[:26] + b_src[6:]
    track = _decide(fields)
    runs = [r for r in group_runs(track)]
    assert all(len({sources[f] for f in r.fields}) == 1 for r in runs)  # no run mixes the pieces
    orphans = [sources[r.fields[0]] for r in runs if r.kind == "orphan"]
    assert orphans == [a_src[25], b_src[6]]
    assert track.broken[26]


def test_margins_flag_an_edit_inside_a_frozen_stretch_and_nothing_else() -> None:
    """An edit made after the telecine inside a frozen picture (every field the same but for coding
    noise) cannot be placed: the cheapest decisions that break a few fields earlier or later cost about
    the same, so the fields there have small margins. The moving film either side, and an edit between
    moving shots, are decided clearly."""
    small = CadenceParams().uncertain_margin
    fields = _telecine(_frames(20, 4))[0][:26] + _telecine(_frames(20, 5), first=100)[0][6:]
    evidence = field_evidence(measure_fields(fields, "top"))
    track = track_cadence(evidence)
    margins = decision_margins(evidence, track)
    assert margins.shape == (len(fields),) and (margins >= small).all()

    frozen = _frames(1, 9)[0]
    piece_a, _ = _telecine(_frames(12, 10) + [frozen] * 10)
    piece_b, _ = _telecine([frozen] * 10 + _frames(12, 11), phase=1)
    fields = piece_a[:50] + piece_b[7:]  # the edit: at field 50, inside the frozen picture
    evidence = field_evidence(measure_fields(fields, "top"))
    track = track_cadence(evidence)
    margins = decision_margins(evidence, track)
    assert (margins[44:56] < small).any()  # around the edit
    assert (margins[:24] >= small).all() and (margins[-24:] >= small).all()  # the moving film


def test_video_stretch_is_found() -> None:
    film = _frames(20, 6)
    video_moments = _frames(60, 7, speed=0.8)
    fields, _ = _telecine(film)
    video = [video_moments[k][(k % 2) :: 2] for k in range(60)]  # a new moment every field
    track = _decide(fields + video + _telecine(_frames(20, 8))[0])
    state = track.state
    n_film = len(fields)
    assert (state[n_film + 4 : n_film + 56] == VIDEO).all()
    assert (state[: n_film - 4] < PHASES).all() and (state[n_film + 64 :] < PHASES).all()


def test_override_pins_a_phase() -> None:
    fields, _ = _telecine(_frames(20, 9, still=True))  # no evidence at all: any phase fits
    free = _decide(fields)
    pinned_phase = (int(free.state[10]) + 2) % PHASES
    allowed = allowed_states(parse_overrides(f"fields 10-19 phase {pinned_phase}"), len(fields))
    pinned = _decide(fields, allowed=allowed)
    assert pinned.state[10] == pinned_phase and free.state[10] != pinned_phase
    video = _decide(fields, allowed=allowed_states(parse_overrides("fields 0-9 video"), len(fields)))
    assert (video.state[:10] == VIDEO).all()


def test_empty_stream() -> None:
    empty = FieldMetrics(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), "top")
    track = track_cadence(field_evidence(empty))
    assert track.state.shape == (0,) and group_runs(track) == []


def _fields_of(frames: list[np.ndarray], sources: list[int], first: int = 0) -> list[np.ndarray]:
    """Top-first fields showing ``frames[sources[i] - first]``, coding noise added."""
    rng = np.random.default_rng(98)
    out = []
    for i, src in enumerate(sources):
        rows = frames[src - first][(i % 2) :: 2]
        out.append(rows + rng.normal(0, 0.4, rows.shape).astype(np.float32))
    return out


def test_2332_pulldown_every_phase_one_run_per_frame() -> None:
    from remaster_core.conform.cadence import pattern_of
    from remaster_core.synth.stress import Piece, piece_fields

    for phase in range(4):
        sources = piece_fields(Piece(0, 30, "2332", phase, 0, 0))
        track = _decide(_fields_of(_frames(30, seed=20 + phase), sources))
        runs = _runs_as_sources(track, sources)
        assert all(len(r) == 1 for r in runs), phase
        assert [r.pop() for r in runs] == sorted(set(sources)), phase
        assert not track.broken.any() and {pattern_of(int(s)) for s in track.state[4:-4]} == {"2:3:3:2"}


def test_edit_switches_between_3_2_and_2332() -> None:
    from remaster_core.conform.cadence import pattern_of
    from remaster_core.synth.stress import Piece, piece_fields

    a = piece_fields(Piece(0, 24, "32", 1, 0, 1))
    b = piece_fields(Piece(100, 24, "2332", 2, 1, 0))
    frames = _frames(24, 30) + _frames(24, 31)
    fields = _fields_of(frames[:24], a) + _fields_of(frames[24:], b, first=100)
    sources = a + b
    track = _decide(fields)
    runs = group_runs(track)
    assert all(len({sources[f] for f in r.fields}) == 1 for r in runs)  # no run mixes two frames
    assert [sources[r.fields[0]] for r in runs] == sorted(set(sources))
    assert pattern_of(int(track.state[len(a) - 6])) == "3:2"
    assert pattern_of(int(track.state[len(a) + 6])) == "2:3:3:2"


def test_frozen_shot_does_not_turn_the_next_shots_repeats_into_motion() -> None:
    """A frozen picture coded as skipped blocks repeats exactly (dup 0); the moving shot after it
    repeats a field within its coding noise (about 0.85 here against 2.4 for two film frames). The
    repeat floor next to the frozen stretch must not drop to nothing, or those repeats read as motion."""
    frozen = np.zeros(20, np.float32)
    moving = np.tile(np.float32([2.4, 2.4, 0.85, 2.4, 2.4]), 12)  # one repeat every 5 pairs
    dup = np.concatenate([frozen, moving])
    n = dup.shape[0] + 2
    metrics = FieldMetrics(
        comb=np.ones(n - 1, np.float32), intra=np.ones(n, np.float32), dup=dup, first_parity="top"
    )
    repeats = np.arange(frozen.shape[0] + 2, dup.shape[0], 5)
    assert (field_evidence(metrics).repeat[repeats] < 0).all()
    others = np.setdiff1d(np.arange(frozen.shape[0], dup.shape[0]), repeats)
    assert (field_evidence(metrics).repeat[others] > 0).all()


def test_pulldown_repeats_need_contrast_with_the_comparisons_beside_them() -> None:
    """A frozen picture repeats every field, by amounts that vary with the coding: no pulldown evidence
    either way. In moving film a repeat just above the noise floor (a poorly coded decode) between two
    comparisons of different film frames is a pulldown repeat."""
    frozen = np.tile(np.float32([0.3, 0.3, 0.28, 0.28, 0.8, 0.8]), 5)  # a GOP's picture types
    moving = np.tile(np.float32([9.0, 9.0, 0.3, 9.0, 9.0]), 6)
    moving[12] = 1.2  # a repeat coded poorly: above the floor the other repeats set
    dup = np.concatenate([frozen, moving])
    n = dup.shape[0] + 2
    metrics = FieldMetrics(
        comb=np.ones(n - 1, np.float32), intra=np.ones(n, np.float32), dup=dup, first_parity="top"
    )
    ev = field_evidence(metrics)
    assert (ev.repeat[:24] < 0).all() and (ev.pulldown[:24] == 0).all()
    repeats = frozen.shape[0] + np.arange(2, moving.shape[0], 5)
    poor = frozen.shape[0] + 12
    assert ev.repeat[poor] > 0 and (ev.pulldown[repeats] < 0).all()
    others = np.setdiff1d(np.arange(frozen.shape[0] + 1, dup.shape[0]), repeats)
    assert (ev.pulldown[others] > 0).all()


def _kind_biased_metrics(sources: list[int], seed: int) -> FieldMetrics:
    """Measures of a shot that hardly combs, coded as MPEG-2 codes it: a pair of fields across two coded
    frames (odd i) combs more than one inside a coded frame (even i), by more than a run boundary inside
    a frame combs over that frame's one-moment pairs (levels of stress seed 1041's dark pan, log comb
    over the fields' own zig-zag: inside a frame -0.15 one moment, 0.12 two; across 0.10 and 0.45), and
    repeats too faint against their neighbours (0.7 against 1.4) to be pulldown evidence."""
    rng = np.random.default_rng(seed)
    s = np.array(sources)
    n = s.shape[0]
    inside = np.arange(n - 1) % 2 == 0
    two = s[:-1] != s[1:]
    own = np.where(inside, np.where(two, 0.12, -0.15), np.where(two, 0.45, 0.10)) + rng.normal(0, 0.04, n - 1)
    dup = np.where(s[:-2] == s[2:], 0.7, 1.4) + rng.normal(0, 0.05, n - 2)
    comb = np.exp(own) * 1.3 - 0.3  # own = log((comb + 0.3) / (intra + 0.3)) with intra 1
    return FieldMetrics(
        comb=comb.astype(np.float32),
        intra=np.ones(n, np.float32),
        dup=dup.astype(np.float32),
        first_parity="top",
    )


def test_combing_is_judged_against_pairs_of_the_same_kind() -> None:
    """Where only the combing tells the cadence, each pair is judged against the one-moment pairs of its
    own kind (inside one coded frame, or across two): judged against the least combed pair of either
    kind within two fields, every boundary inside a coded frame read as about nothing and every
    one-moment pair across two as a weak boundary, and the track took a wrong phase on both sides of an
    edit (12 of about 50 output frames mixing two film frames)."""
    from remaster_core.synth.stress import Piece, piece_fields

    for phases in ((0, 2, 0, 1), (1, 1, 0, 1)):  # phase and frames dropped at the end of A, then of B
        a = piece_fields(Piece(0, 30, "32", phases[0], 0, phases[1]))
        b = piece_fields(Piece(100, 20, "32", phases[2], phases[3], 0))
        sources = a + b
        for seed in range(4):
            track = track_cadence(field_evidence(_kind_biased_metrics(sources, seed)))
            runs = _runs_as_sources(track, sources)
            assert all(len(r) == 1 for r in runs), (phases, seed)
            assert [r.pop() for r in runs] == sorted(set(sources)), (phases, seed)


def test_pairs_between_two_combed_frames_are_judged_against_their_kind() -> None:
    """Pair 2k+1 | 2k+2 between two coded frames that comb gets the reel's median ratio of such pairs
    taken off; other pairs keep theirs, and a median below 0 takes nothing off."""
    lr = np.float32([1.0, 0.5, 1.0, 0.1, 1.0, -0.2, 0.0, 0.9, 1.0])  # coded frame 3 (pair 6) does not comb
    off = _between_combed_excess(lr, 0.25)
    assert np.allclose(off, [0.0, 0.3, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert not _between_combed_excess(lr - np.float32([0, 1, 0, 1, 0, 0, 0, 0, 0]), 0.25).any()


def _stored_metrics(data: np.lib.npyio.NpzFile, first_parity: str) -> FieldMetrics:
    """The ``FieldMetrics`` of a reel stored in ``data/`` (its comb, intra, dup, dup_local, change)."""
    keys = ("comb", "intra", "dup", "change", "dup_local")
    return FieldMetrics(**{k: data[k] for k in keys}, first_parity=first_parity)


def test_real_edit_after_32_keeps_the_film_frame_before_it_whole() -> None:
    """Stress seed 1206 (MPEG-2, bottom field first; field measures and every field's motion in
    ``data/``): a 3:2 piece ends with 24p 101-103 in fields 252-254, 255-256 and 257-259, and an edit
    after the telecine (24p 104 cut away) joins a 2:3:3:2 piece at field 260. Fields 255 | 256, the two
    fields of 24p 102, sit in two coded frames that each hold two film frames; they combed 0.31 (log)
    over their reference and said "two moments" (+0.11), the second look's motion added +0.89, and a
    break at 256 leaving both fields orphans (24p 102 output twice) cost 0.01 less than the break at
    260. Judged against the reel's pairs between two combed coded frames (0.16 over their references),
    the pair says one moment (-0.20) and the right decision wins by 2.4, clear of the second look."""
    data = np.load(Path(__file__).parent / "data" / "stress1206_edit_after_32.npz", allow_pickle=False)
    metrics = _stored_metrics(data, "bottom")
    p = CadenceParams()
    evidence = field_evidence(metrics, p)
    track = track_cadence(evidence, params=p)
    uncertain = decision_margins(evidence, track, params=p) < p.uncertain_margin
    # the second look (``pipeline.analyse``), on the motion measured where it measures it
    n = metrics.field_count
    wanted = comparisons_to_measure(uncertain, n, p.motion_window)
    keys = ("shift", "response", "across_dx", "across_dy", "across_response")
    motion = FieldMotion(*(np.where(wanted, data[k], 0.0 if "response" in k else np.nan) for k in keys))
    extra = motion_pulldown(motion, comparisons_to_measure(uncertain, n, 0), p)
    extra_comb = motion_comb(motion, uncertain[:-1] | uncertain[1:], p)
    evidence = replace(
        evidence,
        pulldown=np.clip(evidence.pulldown + extra, -p.clip, p.clip_not_repeat).astype(np.float32),
        comb=np.clip(evidence.comb + extra_comb, -p.clip, p.clip_two_moments).astype(np.float32),
    )
    track = track_cadence(evidence, params=p)
    runs = {r.fields[0]: r.fields for r in group_runs(track)}
    assert runs[252] == (252, 253, 254) and runs[255] == (255, 256) and runs[257] == (257, 258, 259)
    assert track.broken[260] and not track.broken[256]
    assert (decision_margins(evidence, track, params=p)[252:260] >= p.uncertain_margin).all()


def test_boundary_level_is_the_second_most_combed_pair_of_its_kind_nearby() -> None:
    """Per pair, the second largest of the same-kind pairs within 2 * reach (itself left out): one
    outlier (a cut) does not set it; 0 where fewer than two such pairs exist."""
    lr = np.float32([0.0, 0.1, 0.9, 0.0, 3.0, 0.1, 0.8, 0.0, 0.1])
    level = _boundary_level(lr, 2)  # even pairs 0, 2, 4, 6, 8 and odd 1, 3, 5, 7
    assert np.isclose(level[0], 0.9) and np.isclose(level[4], 0.8) and np.isclose(level[8], 0.8)
    assert np.isclose(level[2], 0.8) and np.isclose(level[1], 0.0) and np.isclose(level[3], 0.1)
    assert not _boundary_level(np.float32([1.0, 2.0]), 2).any()


def test_real_jump_inside_a_run_breaks_it_into_two_orphans() -> None:
    """Stress seed 1228 (MPEG-2, top field first; field measures in ``data/``): an edit made after the
    telecine cut 24p 144 out of a moving shot, and 143's second field and 145's first with it, so fields
    357 (24p 143) and 358 (24p 145) sit where the unbroken cadence expects one 2-field film frame (3:2
    phases 5 | 6), each the lone field of its film frame. Their weave combs 1.45 (log) over the one-moment
    pairs, where the shot's run boundaries comb 0.82-0.95: two film frames' step. Said as any boundary
    (+2.4), it did not pay for a break leaving an orphan on both sides (10), and the two were woven. As a
    jump (``CadenceParams.jump_ratio``) it breaks the run, and nothing else in the reel changes."""
    data = np.load(Path(__file__).parent / "data" / "stress1228_jump_inside_run.npz", allow_pickle=False)
    metrics = _stored_metrics(data, "top")
    old = CadenceParams(jump_separation=float("inf"))
    before = group_runs(track_cadence(field_evidence(metrics, old), params=old))
    assert (357, 358) in [r.fields for r in before]
    p = CadenceParams()
    after = group_runs(track_cadence(field_evidence(metrics, p), params=p))
    lone = {r.fields[0]: r.kind for r in after if r.fields[0] in (357, 358)}
    assert lone == {357: "orphan", 358: "orphan"}
    assert [r.fields for r in before if 357 not in r.fields] == [
        r.fields for r in after if r.fields[0] not in (357, 358)
    ]


def test_a_frozen_shot_s_coding_noise_is_no_jump() -> None:
    """Stress seed 1420 (MPEG-2, bottom field first; field measures in ``data/``), held out until session
    27: a frozen picture follows a cut at field 40 (24p 16), and 24p 17 fills fields 42-44. The pair 43 |
    44, across two coded frames, combs 0.86 (log) over its kind's one-moment pairs, coding noise only;
    the run boundaries near it comb 0.56 (the picture stands still: that is noise too), so the comb alone
    said "jump" (1.5x), and the track broke the run: field 44 came out as a lone field, one 24p frame
    twice, and the offset took the break for an edit (the film shot's first frame paired a frame early).
    A jump joins two moments further apart than one film frame's step, so the picture steps further
    there than at the run boundaries: the pair's picture change (0.040) is not above theirs (0.042; in
    1228's jump 0.110 against 0.078), and the run stays whole."""
    data = np.load(Path(__file__).parent / "data" / "stress1420_frozen_shot_noise.npz", allow_pickle=False)
    metrics = _stored_metrics(data, "bottom")
    p = CadenceParams()
    blind = replace(metrics, change=np.zeros(0, np.float32))  # the comb alone, as before
    assert field_evidence(blind, p).comb[43] >= p.jump_say
    assert (42, 43) in [r.fields for r in group_runs(track_cadence(field_evidence(blind, p), params=p))]
    evidence = field_evidence(metrics, p)
    assert evidence.comb[43] < p.clip  # what any run boundary may say (+1.2 here), no jump
    track = track_cadence(evidence, params=p)
    runs = [r.fields for r in group_runs(track)]
    assert (42, 43, 44) in runs and (45, 46) in runs
    assert not track.broken[36:120].any()


def test_a_jump_on_a_sparse_picture_is_found_by_its_longer_step() -> None:
    """Held-out stress seed 1489 (MPEG-2, bottom field first; field measures in ``data/``): an edit made
    after the telecine cut 24p 18 and 19 out of a pan over a star field and left one field each of 24p
    17 (field 43) and 24p 20 (field 44), side by side where 3:2 expects one film frame; 44 is coded
    with the next shot's first field (a cut), so its combing is not believed. A star field combs little
    more at a three-frame step than at one (1.83 over the one-moment pairs, its run boundaries 1.67:
    not the 1.5x a jump needs), and 43 | 44 were woven into one frame (24p 20 lost). Its picture change
    is 2.3x its run boundaries' (0.105 against 0.046): it spans more than one film step, a jump, and
    both fields are film frames of their own."""
    data = np.load(Path(__file__).parent / "data" / "stress1489_star_field_jump.npz", allow_pickle=False)
    metrics = _stored_metrics(data, "bottom")
    before = CadenceParams(jump_steps=np.inf)  # the combing's ratio alone, as before
    assert field_evidence(metrics, before).comb[43] < before.clip
    assert (43, 44) in [
        r.fields for r in group_runs(track_cadence(field_evidence(metrics, before), params=before))
    ]
    p = CadenceParams()
    evidence = field_evidence(metrics, p)
    assert evidence.comb[43] >= p.jump_say
    runs = {r.fields[0]: r for r in group_runs(track_cadence(evidence, params=p))}
    assert (runs[43].fields, runs[43].kind) == ((43,), "orphan") and (runs[44].fields, runs[44].kind) == (
        (44,),
        "orphan",
    )
    assert runs[40].fields == (40, 41, 42) and runs[45].fields == (45, 46, 47)


def test_prores_fields_beside_a_cut_keep_their_evidence() -> None:
    """Stress seed 1369 (ProRes, top field first; field measures in ``data/``), held out until session 26:
    an edit made after the telecine at a cut left field 311, the lone first field of the new shot's first
    film frame (a pan), in the cut's coded frame, then fields 312-313 of a film frame 4 further on. The
    cut marks fields 310 and 311 (``fields.shot_changes``) and their repeat comparisons were taken away as
    damaged, so nothing said that 313 does not repeat 311 and the track made 311-313 one 3-field run: the
    film frame was lost. ProRes codes the two fields apart (nothing damages them): with
    ``fields_coded_apart`` the comparison says "not a repeat" (+3) and 311 is its own film frame."""
    data = np.load(Path(__file__).parent / "data" / "stress1369_prores_edit_at_cut.npz", allow_pickle=False)
    metrics = _stored_metrics(data, "top")
    p = CadenceParams()
    joined = group_runs(track_cadence(field_evidence(metrics, p), params=p))
    assert (311, 312, 313) in [r.fields for r in joined]
    evidence = field_evidence(metrics, p, fields_coded_apart=True)
    assert evidence.repeat[311] > 2
    apart = {r.fields[0]: r for r in group_runs(track_cadence(evidence, params=p))}
    assert (apart[311].fields, apart[311].kind) == ((311,), "orphan") and apart[312].fields == (312, 313)
    assert apart[309].fields == (309, 310) and apart[314].fields == (314, 315)
