"""Recipes for the output frames: which fields build each 23.976 frame, and how.

From the runs of ``cadence.group_runs``:

- film run -> weave one top and one bottom field: the adjacent pair that combs less
  (``FieldMetrics.comb``), in practice the two fields of one coded picture. A 3-field run (t b t')
  holds two decodes of its repeated field, coded in two pictures of different quality (picture type,
  and one of them shares its picture with a field of the next film frame). Which is better cannot be
  told for sure without the original: measured on the synthetic reels, the decode woven with the
  other field of its picture is up to 1.4 dB worse than the other one (the first picture of a shot is
  coded poorly), and a plain mean of the two is up to 3.4 dB worse than the better one at a cut (one
  decode carries the artefacts of a picture that mixes two shots). So the two are merged
  (``rebuild._mean_field``): averaged where they agree within twice their mean luma difference,
  elsewhere luma from the less blocky decode and chroma from the woven one, unless the repeat evidence
  says the two decodes are two moments (``Evidence.repeat`` at its "not a repeat" limit and the
  pulldown evidence not saying "repeat": the cadence would then be wrong, and a merge would ghost).
  The comb score cannot pick the better decode: two fields coded in one picture share its coding and
  weave cleanly even when that picture was coded poorly (the first picture of a shot). Measured on
  stress reels 900, 903-906, 909 (546 3-field runs with no marked or damaged field): the merge is on
  average 0.03 dB above the better decode's weave and at most 0.72 dB below it; weaving the pair that
  combs less was on average 0.03 dB below it and up to 1.92 dB (a flash shot's first picture).
- orphan -> rebuilt from its one field.
- video -> 29.97 frames, resampled to 23.976 by dropping one frame in five: each maximal stretch of
  video frames is cut into groups of five consecutive frames, and in each group the frame that differs
  least from the frame before it (the mean difference of their first fields, ``FieldMetrics.dup``) is
  dropped: that is the moment the motion misses least. A last partial group of 3 or 4 frames drops one
  too, so the stretch keeps round(4/5) of its frames. A stretch's first frame is never dropped.

Damaged fields. A broadcast frame whose two fields show two different shots (a cut inside the
cadence: the ``BC`` and ``CD`` frames of 3:2) is coded as one picture that mixes two pictures, and
an inter-frame codec (MPEG-2) codes it badly: such a field decodes far below its film frame's other
field (measured: 21 dB against 37 dB), and weaving the two gives 23-28 dB. ``fields.shot_changes`` finds
those frames from ``FieldMetrics.change`` (the change of the picture between the two fields of a
frame against the changes around it, as ``cuts`` judges output frames). A film run whose woven pair
holds a damaged field is built otherwise (``FramePlan.build``):

- "copy": a 3-field run whose repeated parity has a clean decode: that decode is woven instead (no merge);
- "rebuilt": a 2-field run with a marked field, built from its other field alone, its other lines
  interpolated (``rebuild.rebuild_orphan``). How a marked field was coded depends on the codec. One
  that codes a frame's two fields together (MPEG-2, H.264, DV: ``VideoInfo.fields_coded_apart``
  False) damages it whatever its weave shows: where the frame's two pictures are a moving shot and a
  fade's dark frame the weave does not comb while the field is still coded worse (stress seed 963,
  24p 50: woven 35.7 dB, rebuilt from the clean field 37.3; DV, seed 985, 24p 116: 42.9 and 44.3).
  So a strongly marked field (``fields.SHOT_CHANGE_MIN``) whose coded frame is the one that holds the
  change (``isolated_changes``: the coded frames on either side change less than half as much,
  ``CadenceParams.damage_isolation``) is left out; a weak mark (down to ``SHOT_CHANGE_WEAK``) only
  where the weave combs above ``CadenceParams.damage_comb``. A codec that codes the fields apart (ProRes)
  codes such fields as well as any, and their weave is about 5 dB better than a rebuild: any mark is
  left out only where the weave combs. A mark whose change is spread over the neighbouring coded
  frames is never left out: that is a fast dissolve or pan, both fields are of one shot, and the weave
  is the better frame even where it combs a little (stress seeds 905 and 940, 24p 197 and 164: 1.1 dB
  lost by a rebuild; seed 982, 24p 98, a weak mark that combed: 1.04 dB). The pulldown's own mixed
  frame of 2:3:3:2 (two film frames of one shot, once a cycle) has neighbours that show one film frame
  each, so its change is judged against the change at the film-frame boundaries before and after it
  too (``moving_boundaries``): where both move as much, it is motion, not a cut. With both fields left out
  by these rules, the one whose picture changes clearly less is kept
  (``CadenceParams.damage_change_ratio``), else the run is woven (a one-frame flash between two cuts);
- a 3-field run with a decode left out by the same rules: the other decode is woven ("copy", no
  merge); with no clean decode of one parity it is rebuilt from a clean field likewise.

The marks judge a coded frame by its picture change against its neighbours', so a shot that changes
fast right after a cut (a fade from black, a fast pan) hides which coded frame holds the cut. Once
the cuts are found on the built frames, ``fields_across_cuts`` names the fields coded with a field
across a cut and ``without_fields`` rebuilds the frames on either side without them (the conform's
second look, ``pipeline.beside_cuts``; not for a codec that codes the fields apart). The same look
weaves again (``rewoven``) a frame the marks rebuilt from one field where no cut is found and the
weave is clean: a big step at the end of a soft transition; and a one-frame shot whose fields all
share a coded frame with a cut, where the weave is clean: no field of it is clean, and the rebuild
from the one whose picture changed less loses the other's lines (DV, stress reel 1400, 24p 54: 1.45 dB).

Each recipe carries ``score``: log((comb + eps) / (intra + eps)) of the woven pair (see
``fields``), about <= 0 for a clean weave of one film frame, larger when the two fields are
different moments. ``combed`` flags woven frames above ``CadenceParams.combed_threshold`` (they
would show combing): a person should look at them and, if the decision was wrong, correct it with an
override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from remaster_core.conform.cadence import CadenceParams, Evidence, Run, field_evidence
from remaster_core.conform.fields import SHOT_CHANGE_MIN, SHOT_CHANGE_WEAK, FieldMetrics, shot_changes

FrameKind = Literal["film", "orphan", "video"]
FrameBuild = Literal["woven", "merged", "copy", "rebuilt", "orphan", "deinterlaced"]


@dataclass(frozen=True)
class FramePlan:
    """How one output frame is built (field indices are positions in the field stream, from 0).

    Attributes:
        kind: "film" (weave ``top`` and ``bottom``), "orphan" (rebuild from ``keep``) or "video"
            (deinterlace ``keep`` with ``before``/``after``).
        fields: every field of the run the frame stands for, in temporal order.
        phase: cadence phase (0..9) of the run's first field; None for video.
        pattern: the pulldown pattern of ``phase`` ("3:2" or "2:3:3:2"); None for video.
        top, bottom: the woven fields (film), else None.
        copy: for a 3-field run, the other decode of the repeated field, merged with the woven one
            (None: a 2-field run, or the two decodes differ by more than coding noise).
        keep: the field kept (orphan, video), else None.
        before, after: other-parity neighbours of ``keep`` for video deinterlacing, else None.
        score: weave comb log-ratio (film), else None.
        combed: the woven frame combs (``score`` above the threshold).
        build: how the frame is built: "woven" (``top`` + ``bottom``), "merged" (woven, with ``copy``
            merged in), "copy" (woven from the clean decode of a repeated field, the other one being
            damaged), "rebuilt" (a film frame rebuilt from its clean field ``keep``: its other field
            is damaged), "orphan" (rebuilt from its only field ``keep``), "deinterlaced" (video).
    """

    kind: FrameKind
    fields: tuple[int, ...]
    phase: int | None
    top: int | None = None
    bottom: int | None = None
    copy: int | None = None
    keep: int | None = None
    before: int | None = None
    after: int | None = None
    score: float | None = None
    combed: bool = False
    build: FrameBuild = "woven"
    pattern: str | None = "3:2"

    @property
    def last_field_needed(self) -> int:
        """The highest field index this recipe reads."""
        return max(i for i in (*self.fields, self.after) if i is not None)


def is_top(field: int, first_parity: str) -> bool:
    """Whether stream field ``field`` is a top field (field 0 has ``first_parity``)."""
    return (field % 2 == 0) == (first_parity == "top")


def comb_scores(metrics: FieldMetrics, params: CadenceParams | None = None) -> np.ndarray:
    """(N-1,) float32 log((comb + eps) / (mean intra + eps)) for each adjacent field pair."""
    p = params or CadenceParams()
    eps = np.float32(p.floor_eps)
    if metrics.comb.shape[0] == 0:
        return np.zeros(0, np.float32)
    ref = 0.5 * (metrics.intra[:-1] + metrics.intra[1:])
    return np.log((metrics.comb + eps) / (ref + eps)).astype(np.float32)


def _frame_change(metrics: FieldMetrics, field: int) -> float:
    """The picture change inside the coded frame that holds stream field ``field`` (fields 2k, 2k+1)."""
    i = field - field % 2
    return float(metrics.change[i]) if i < metrics.change.shape[0] else 0.0


def _weave_combs(field: int, run: Run, scores: np.ndarray, p: CadenceParams) -> bool:
    """Whether ``field`` weaves with its neighbour in ``run`` above ``CadenceParams.damage_comb``."""
    a = field if field + 1 in run.fields else field - 1
    return 0 <= a < scores.shape[0] and float(scores[a]) > p.damage_comb


def isolated_changes(metrics: FieldMetrics, ratio: float) -> np.ndarray:
    """(N,) bool: field i's coded frame changes more than the coded frames on either side of it by
    ``1 / ratio`` or more (``FieldMetrics.change``): one coded frame holds a cut; a dissolve or a
    fast pan raises its neighbours too."""
    n = metrics.field_count
    out = np.zeros(n, bool)
    change = metrics.change
    for i in range(0, min(n - 1, change.shape[0]), 2):
        around = [float(change[j]) for j in (i - 2, i + 2) if 0 <= j < change.shape[0]]
        if not around or max(around) < ratio * float(change[i]):
            out[i] = out[i + 1] = True
    return out


def _boundary_change(runs: list[Run], j: int, metrics: FieldMetrics) -> float | None:
    """The picture change from the last field of ``runs[j - 1]`` to the first of ``runs[j]`` (one film
    frame to the next), or None where either is not a film run, they are not adjacent, or ``j`` is out
    of range."""
    if not 0 < j < len(runs) or runs[j - 1].kind != "film" or runs[j].kind != "film":
        return None
    f = runs[j].fields[0]
    if runs[j - 1].fields[-1] != f - 1 or f - 1 >= metrics.change.shape[0]:
        return None
    return float(metrics.change[f - 1])


def moving_boundaries(runs: list[Run], metrics: FieldMetrics, ratio: float) -> np.ndarray:
    """(N,) bool: the two fields of a coded frame that holds the boundary of two film runs where the film
    changes at least ``ratio`` times as much at the run boundaries just before and just after it: the
    picture moves from one film frame to the next at that pace, and the frame holds no cut.

    ``isolated_changes`` takes the coded frames on either side as the measure of the film's own motion.
    In 3:2 the coded frames that hold a boundary come in pairs (AB BC), so one neighbour is itself a
    boundary and this test removes nothing that one leaves isolated. 2:3:3:2 has one such frame per
    cycle (AA BB BC CC DD), whose neighbours each show a single film frame: their change is coding
    noise however fast the shot moves, so in a fast shot that mixed frame stands out like a cut. But a
    picture that holds two moments of one shot is the ordinary interlaced picture that MPEG-2 predicts
    field by field from the pictures before it, not a picture with a field of another shot (nothing to
    predict it from): its fields are not damaged, and the run's two decodes are merged as elsewhere.
    A cut, unlike motion, is not matched on both sides: the shot before or the one after changes less.

    Measured on the 67 looked-at stress reels: stress seed 1208, 24p 135 (mixed frame 0.23, boundaries
    0.22 either side) and 1189, 24p 183 (0.27; 0.22, 0.27), both MPEG-2 fast shots: weakly marked and
    isolated, the decode in the mixed frame was left out where it wove with the run's other field (two
    coded pictures, unrelated coding noise) at comb 0.20 and 0.35, just above ``damage_comb``, and the
    run was woven 1.75 and 1.29 dB below the clean reference; merged, 0.31 and 0.29. The 62 runs this
    changes (15 reels, all exact as before) all hold one shot, and went from 0.06 to -0.04 dB below the
    reference on average (at most 0.50: seed 1187, 24p 113, a dissolve's first frame, 0.00 before).
    The 58 decodes left out of 2:3:3:2 runs whose mixed frame holds a cut all have a boundary at most
    0.18 of its change (seed 1189, 24p 48; a fast next shot raises one side only: seed 1160, 24p 118,
    0.10 and 0.99 of 1.31, where a merge is 1.22 dB worse).
    """
    out = np.zeros(metrics.field_count, bool)
    changes = [_boundary_change(runs, j, metrics) for j in range(len(runs) + 1)]  # None at 0 and past the end
    for j in range(1, len(runs)):
        f = runs[j].fields[0]
        if f % 2 == 0:
            continue  # the boundary falls between two coded frames
        change, before, after = changes[j], changes[j - 1], changes[j + 1]
        if change is None or before is None or after is None:
            continue
        if min(before, after) >= ratio * change:
            out[f - 1] = out[f] = True
    return out


@dataclass(frozen=True)
class Marks:
    """The shot-change marks of a stream's fields (``fields.shot_changes``) and how the codec takes them.

    Attributes:
        weak, strong: (N,) bool, marked at ``SHOT_CHANGE_WEAK`` and at ``SHOT_CHANGE_MIN``.
        isolated: (N,) bool, ``isolated_changes`` at ``CadenceParams.damage_isolation``.
        fields_coded_apart: the codec codes a frame's two fields as two pictures (``VideoInfo``).
    """

    weak: np.ndarray
    strong: np.ndarray
    isolated: np.ndarray
    fields_coded_apart: bool

    def left_out(self, field: int, run: Run, scores: np.ndarray, p: CadenceParams) -> bool:
        """Whether ``field`` of ``run`` is too damaged to weave (see the module docstring)."""
        if not (self.weak[field] and self.isolated[field]):
            return False
        if self.strong[field] and not self.fields_coded_apart:
            return True
        return _weave_combs(field, run, scores, p)


def _damaged_in_pair(
    run: Run, scores: np.ndarray, marks: Marks, metrics: FieldMetrics, p: CadenceParams
) -> int | None:
    """The field of a 2-field run to leave out, or None to weave both (see the module docstring)."""
    a, b = run.fields
    bad = [f for f in run.fields if marks.left_out(f, run, scores, p)]
    if not bad:
        return None
    if len(bad) == 1:
        return bad[0]
    ca, cb = _frame_change(metrics, a), _frame_change(metrics, b)
    if min(ca, cb) > p.damage_change_ratio * max(ca, cb):
        return None
    return a if ca > cb else b


def _film_plan(
    run: Run,
    scores: np.ndarray,
    evidence: Evidence,
    first_parity: str,
    p: CadenceParams,
    marks: Marks,
    metrics: FieldMetrics,
) -> FramePlan:
    if len(run.fields) == 2:
        bad = _damaged_in_pair(run, scores, marks, metrics, p)
        if bad is not None:
            keep = run.fields[0] if bad == run.fields[1] else run.fields[1]
            return FramePlan("film", run.fields, run.phase, keep=keep, build="rebuilt", pattern=run.pattern)
    clean = [f for f in run.fields if not marks.left_out(f, run, scores, p)]
    if len(run.fields) == 3 and clean and len(clean) < len(run.fields):
        return _from_clean(run, clean, scores, first_parity, p)
    return _weave_plan(run, scores, evidence, first_parity, p)


def _from_clean(
    run: Run, clean: list[int], scores: np.ndarray, first_parity: str, p: CadenceParams
) -> FramePlan:
    """A film run built from its ``clean`` fields only (the others damaged): a clean decode of each
    parity woven ("copy"), else the first clean field rebuilt ("rebuilt")."""
    tops = [f for f in clean if is_top(f, first_parity)]
    bottoms = [f for f in clean if not is_top(f, first_parity)]
    if tops and bottoms:
        top, bottom = tops[0], bottoms[0]
        a = min(top, bottom)
        score = float(scores[a]) if abs(top - bottom) == 1 and a < scores.shape[0] else 0.0
        return FramePlan(
            "film", run.fields, run.phase, top=top, bottom=bottom, score=score,
            combed=score > p.combed_threshold, build="copy", pattern=run.pattern,
        )  # fmt: skip
    return FramePlan("film", run.fields, run.phase, keep=clean[0], build="rebuilt", pattern=run.pattern)


def _weave_plan(
    run: Run, scores: np.ndarray, evidence: Evidence, first_parity: str, p: CadenceParams
) -> FramePlan:
    """A film run woven from all its fields: the pair that combs less, the repeat's decodes merged."""
    threshold = p.combed_threshold
    pairs = [(a, a + 1) for a in run.fields[:-1]]
    best = min(pairs, key=lambda ab: float(scores[ab[0]]) if ab[0] < scores.shape[0] else 0.0)
    a, b = best
    top, bottom = (a, b) if is_top(a, first_parity) else (b, a)
    score = float(scores[a]) if a < scores.shape[0] else 0.0
    copy = None
    if len(run.fields) == 3:
        first = run.fields[0]
        if first < evidence.repeat.shape[0] and (
            float(evidence.pulldown[first]) <= 0.0 or float(evidence.repeat[first]) < p.clip_not_repeat
        ):  # not two moments: merge the two decodes
            copy = run.fields[2] if first in (top, bottom) else first
    return FramePlan(
        "film",
        run.fields,
        run.phase,
        top=top,
        bottom=bottom,
        copy=copy,
        score=score,
        combed=score > threshold,
        build="woven" if copy is None else "merged",
        pattern=run.pattern,
    )


def _video_drops(stretch: list[int], dup: np.ndarray) -> set[int]:
    """Field indices (first fields) of the video frames to drop from one stretch (see module doc)."""
    drops: set[int] = set()
    for g in range(0, len(stretch), 5):
        group = stretch[g : g + 5]
        if len(group) < 3:
            break
        candidates = [f for f in group if f != stretch[0]]
        # motion into frame starting at field f: difference of f-2 and f (same parity)
        motion = [float(dup[f - 2]) if 0 <= f - 2 < dup.shape[0] else np.inf for f in candidates]
        drops.add(candidates[int(np.argmin(motion))])
    return drops


def plan_frames(
    runs: list[Run],
    metrics: FieldMetrics,
    params: CadenceParams | None = None,
    *,
    fields_coded_apart: bool = False,
    evidence: Evidence | None = None,
) -> list[FramePlan]:
    """The output frames, in order, for ``runs`` of a stream measured as ``metrics``;
    ``fields_coded_apart``: the codec codes a frame's two fields as two pictures
    (``VideoInfo.fields_coded_apart``: a marked field is left out only where its weave combs);
    ``evidence``: the evidence the cadence was decided on (``pipeline.analyse``'s, with the second
    look's), else ``field_evidence`` of ``metrics``."""
    p = params or CadenceParams()
    scores = comb_scores(metrics, p)
    evidence = (
        evidence
        if evidence is not None
        else field_evidence(metrics, p, fields_coded_apart=fields_coded_apart)
    )
    marks = Marks(
        shot_changes(metrics, SHOT_CHANGE_WEAK),
        shot_changes(metrics, SHOT_CHANGE_MIN),
        isolated_changes(metrics, p.damage_isolation) & ~moving_boundaries(runs, metrics, p.damage_isolation),
        fields_coded_apart,
    )
    n_fields = metrics.field_count
    stretches: list[list[int]] = []
    prev_video_end = -10
    for run in runs:
        if run.kind == "video":
            if run.fields[0] != prev_video_end + 1 or not stretches:
                stretches.append([])
            stretches[-1].append(run.fields[0])
            prev_video_end = run.fields[-1]
    drops: set[int] = set()
    for stretch in stretches:
        drops |= _video_drops(stretch, metrics.dup)
    plans: list[FramePlan] = []
    for run in runs:
        if run.kind == "film":
            plans.append(_film_plan(run, scores, evidence, metrics.first_parity, p, marks, metrics))
        elif run.kind == "orphan":
            plans.append(
                FramePlan(
                    "orphan", run.fields, run.phase, keep=run.fields[0], build="orphan", pattern=run.pattern
                )
            )
        elif run.fields[0] not in drops:
            keep = run.fields[0]
            before = keep - 1 if keep - 1 >= 0 else None
            after = keep + 1 if keep + 1 < n_fields else None
            plans.append(
                FramePlan(
                    "video",
                    run.fields,
                    None,
                    keep=keep,
                    before=before,
                    after=after,
                    build="deinterlaced",
                    pattern=None,
                )
            )
    return plans


def fields_across_cuts(frames: list[tuple[int, ...]], cuts: list[int]) -> set[int]:
    """Stream fields coded in one broadcast frame with a field of another shot, from the cut list.

    Args:
        frames: each output frame's fields (``FramePlan.fields``), in output order.
        cuts: output indices of the first frame of every shot but the first.

    Returns:
        For each cut k, the last field of frame k-1 and the first of frame k where the two are the
        fields of one broadcast frame (2j and 2j+1): the cut falls inside that coded frame.
    """
    out: set[int] = set()
    for k in cuts:
        if not 0 < k < len(frames) or not frames[k - 1] or not frames[k]:
            continue
        a, b = max(frames[k - 1]), min(frames[k])
        if b == a + 1 and a % 2 == 0:
            out |= {a, b}
    return out


def without_fields(
    plan: FramePlan,
    damaged: set[int],
    scores: np.ndarray,
    first_parity: str,
    params: CadenceParams | None = None,
) -> FramePlan | None:
    """``plan`` (a film frame beside a cut) built again without the ``damaged`` fields it uses, or None
    where it uses none of them, is not film, or has no other field.

    The shot-change marks (``Marks``) judge a field from the picture change inside its coded frame; a
    shot that changes fast (a fade from black, a fast pan) raises that change in its own coded frames
    too, so a field of the cut's coded frame can be woven (its mark not isolated) or the wrong field
    of a 2-field run kept (its partner's frame changed more). ``scores``: ``comb_scores`` of the
    stream's metrics, whose field 0 has parity ``first_parity``. The cut list (``cuts``, on the built
    frames) says which coded frame holds the cut: a field in it is damaged wherever the codec codes
    a frame's fields together, and the frame is built from the run's other fields: the other
    parity's clean decode woven ("copy"), else its clean field rebuilt ("rebuilt"). A weave is given
    up for a rebuild only where it combs above ``CadenceParams.damage_comb``: the cut list also
    places a cut inside a fast dissolve, whose coded frame holds two blends of the same two shots
    and weaves cleanly (stress seed 945, DV, 24p 64: the rebuild 1.7 dB below the weave; seed 948,
    MPEG-2, 24p 96, a hard cut into a fast pan: the weave combs at 0.49, the rebuild 1.2 dB above it).
    """
    if plan.kind != "film":
        return None
    used = {f for f in (plan.top, plan.bottom, plan.copy, plan.keep) if f is not None}
    if not used & damaged:
        return None
    clean = [f for f in plan.fields if f not in damaged]
    if not clean:
        return None
    p = params or CadenceParams()
    built = _from_clean(Run(plan.fields, "film", plan.phase, plan.pattern), clean, scores, first_parity, p)
    if built.build == "rebuilt" and plan.keep is None and (plan.score is None or plan.score <= p.damage_comb):
        return None  # a clean weave stays: the "cut" may be a step of a dissolve (see above)
    return built


def rewoven(
    plan: FramePlan,
    scores: np.ndarray,
    evidence: Evidence,
    first_parity: str,
    params: CadenceParams | None = None,
) -> FramePlan | None:
    """``plan`` woven from all its fields again, or None: for a film frame the shot-change marks
    rebuilt from one field (``Marks``) that the cut list puts inside a shot (the caller's judgement:
    no cut at the frame or the next, ``pipeline.beside_cuts``), where the weave is clean (combs at most
    ``CadenceParams.damage_comb``). The marks read a big step of a soft transition (the last step of
    a dissolve into a still picture) as a cut: stress seed 1020, DV, 24p 91, rebuilt from one field
    1.1 dB below the weave of its two clean fields. ``scores``, ``evidence``: ``comb_scores`` and
    ``field_evidence`` of the stream's metrics.
    """
    if plan.kind != "film" or plan.build != "rebuilt":
        return None
    p = params or CadenceParams()
    run = Run(plan.fields, "film", plan.phase, plan.pattern)
    woven = _weave_plan(run, scores, evidence, first_parity, p)
    if woven.score is None or woven.score > p.damage_comb:
        return None
    return woven
