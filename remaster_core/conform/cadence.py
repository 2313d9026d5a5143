"""The pulldown cadence across a whole reel: a Viterbi decision over field phases, and the runs it implies.

Model. 3:2 pulldown holds film frames A B C D for 2, 3, 2, 3 fields: one 10-field cycle
``At Ab Bt Bb Bt Cb Ct Db Dt Db`` (for top field first; t/b swap for bottom first). Field i of the
stream sits at a *phase* p in 0..9 of that cycle, and runs of one film frame start at phases 0, 2, 5
and 7. Video edits cut between frames, so a phase is always even on a frame's first field: five
cadence positions per frame.

2:3:3:2 pulldown (24p carried in 60i for editing: every 10-field cycle holds one broadcast frame that
mixes two film frames, the others are whole film frames) holds A B C D for 2, 3, 3, 2 fields:
``At Ab Bt Bb Bt Cb Ct Cb Dt Db``, runs starting at phases 0, 2, 5 and 8, repeats at 2 and 5. It has
its own 10 phases. A reel may switch between the two patterns at a cadence break (an edit), never
inside an unbroken cadence.

A reel of telecined film that was cut *before* telecine (every shot of a
transfer) keeps one unbroken cadence; cuts made *after* telecine (video edits, commercial breaks)
may break it, leaving a film frame with a single field (an orphan). Video-originated material has a
new moment in every field.

States per field: the 10 phases of 3:2 (states 0..9, the phase itself), ``VIDEO`` (10) and the 10
phases of 2:3:3:2 (states 11..20: ``PATTERN_BASE[1] + phase``); half of the phases are ruled out by
the field's parity. Moving from field i to i+1 costs nothing along the cadence (p -> p+1 mod 10 within
a pattern, video -> video). A *break* costs ``break_penalty`` and may land on any even phase of either
pattern, the natural successor included (an
edit can join two pieces at consecutive phases, and the fields on either side of it still belong to
different frames); breaks happen only between frames. Entering or leaving video costs
``video_penalty``. The evidence (``field_evidence``) is signed and clipped per field so that a glitch
cannot outvote the cycle:

- boundary i | i+1: ``ec[i] > 0`` says "two different moments" (the pair combs clearly more than the
  least combed pair next to it, each relative to its fields' own detail), < 0 "one moment". Paid as
  +ec when the phase says "same run" and -ec when it says "new run" (a break always says so). Its
  positive side may exceed ``break_penalty`` (``clip_two_moments``): two pictures woven where the
  cadence expects one film frame can only be an edit made after telecine, and force a break alone.
  Inside video the boundaries pay nothing: the relative measure cannot tell video's pairs (all two
  moments) from a still picture's (all one), so whether a stretch is video is left to the repeats.
- repeat i, i+2: ``ed[i] > 0`` says "not a repeat" (they differ by more than twice the reel's repeat
  noise floor), < 0 "a repeat". Paid as -ed by every field, video included (film repeats a field
  twice every 10 fields, video never), except that a field at a phase that starts a 3-field run (2
  and 7 in 3:2, 2 and 5 in 2:3:3:2) pays -ed + 2 ep instead if its run goes on to its third field,
  where ``ep`` is the *pulldown* repeat evidence (``Evidence.pulldown``: as ``ed`` in moving film,
  so the field pays +ed, but a repeat only where the comparisons next to it differ clearly more: a
  frozen picture repeats every field and says nothing about the phase): the 2 ep is paid on the
  natural transition that reaches that field's cadence position (into phase r+1 for an odd r, into
  r+2 for an even one: the only places a break can cut the run short). A run cut short by an edit
  after telecine expects no repeat.

The dynamic programme (Viterbi) finds the cheapest state path for the whole reel at once, so a cut
inside a pulldown cycle does not disturb the cadence (the cycle carries across it), an edit that does
break it is followed as soon as the evidence after it outweighs one ``break_penalty``, and stretches
without evidence (black, static, a still leader) simply inherit the cadence of their neighbours. The
switch into or out of video is placed to within about a frame (at its edges the evidence of one
frame is weak either way).

Runs (``group_runs``): a new run starts at the pattern's run starts, after every break, and at each frame
of video. A film run of 2 or 3 fields with both parities is woven; a run of one field is an orphan
(rebuilt from that field alone); a video run is one interlaced frame to deinterlace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from remaster_core.conform.fields import FieldMetrics, shot_changes

PHASES = 10
VIDEO = 10
STATES = 21
PATTERNS = ("3:2", "2:3:3:2")
PATTERN_BASE = (0, 11)  # state of phase 0 of each pattern
RUN_STARTS = (0, 2, 5, 7)  # 3:2
REPEAT_PHASES = (2, 7)  # 3:2: a 3-field run starts here, field i+2 repeats field i
PATTERN_RUN_STARTS = (RUN_STARTS, (0, 2, 5, 8))
PATTERN_REPEAT_PHASES = (REPEAT_PHASES, (2, 5))

RunKind = Literal["film", "orphan", "video"]


def phase_of(state: int) -> int | None:
    """The cadence phase (0..9) of a state, None for ``VIDEO``."""
    if state == VIDEO:
        return None
    return state - PATTERN_BASE[1] if state > VIDEO else state


def pattern_of(state: int) -> str | None:
    """The pulldown pattern ("3:2" or "2:3:3:2") of a state, None for ``VIDEO``."""
    if state == VIDEO:
        return None
    return PATTERNS[1] if state > VIDEO else PATTERNS[0]


def state_of(phase: int, pattern: str = PATTERNS[0]) -> int:
    """The state of ``phase`` (0..9) of ``pattern``."""
    return PATTERN_BASE[PATTERNS.index(pattern)] + phase


def _film_states() -> list[tuple[int, int, int]]:
    """(state, pattern index, phase) of every film state."""
    return [(PATTERN_BASE[k] + p, k, p) for k in range(len(PATTERNS)) for p in range(PHASES)]


_EVEN = np.array([s for s, _, p in _film_states() if p % 2 == 0])
_ODD = np.array([s for s, _, p in _film_states() if p % 2 == 1])
_RUN_START = np.zeros(STATES, dtype=bool)
_REPEAT = np.zeros(STATES, dtype=bool)
_LONE_START = np.zeros(STATES, dtype=bool)  # a frame's first field whose run ends with it
for _s, _k, _p in _film_states():
    _RUN_START[_s] = _p in PATTERN_RUN_STARTS[_k]
    _REPEAT[_s] = _p in PATTERN_REPEAT_PHASES[_k]
    _LONE_START[_s] = _p % 2 == 0 and (_p + 1) % PHASES in PATTERN_RUN_STARTS[_k]


@dataclass(frozen=True)
class CadenceParams:
    """Tuning of the decision (costs are in the units of the clipped evidence, at most ``clip`` a term).

    Attributes:
        break_penalty: cost of a cadence break (a new phase) between two frames.
        video_penalty: cost of entering or leaving video-originated material.
        pattern_penalty: added to a break from one pulldown pattern into the other (an edit joining a
            2:3:3:2 piece to a 3:2 one is rarer than one inside either), and to starting the reel or
            leaving video in 2:3:3:2: 3:2 is the common pulldown, and a stretch with no evidence
            either way (a still, a frozen picture) is taken as 3:2.
        orphan_penalty: added to a break right after a run's first field (which it leaves an orphan):
            an edit after telecine may do that, but a break placed one frame later that leaves
            every run whole explains the same fields, and is the likelier. Added likewise to a break
            (or a return from video) into a run's last field, which it leaves an orphan at the
            start of the new piece (3:2 phases 4 and 6, 2:3:3:2 phase 4): a break one frame
            earlier explains the same fields with every run whole. Paid once by a break that
            leaves an orphan on both sides (no shift of it keeps every run whole).
        floor_eps: code values added to every measure before a ratio (black frames give 0/0).
        comb_threshold: how much more (log) a pair combs, relative to its fields' own zig-zag, than the
            least combed pair near it, before it says "two moments".
        repeat_floor_cap: the most the repeat noise floor may be, in 8-bit code values (MPEG-2 at
            broadcast rates repeats a field within about 0.5-1.5).
        repeat_floor_local: (least, most) the noise floor of the largest-tile difference
            (``FieldMetrics.dup_local``) may be: at least a code value (a frozen picture coded as
            skipped blocks repeats exactly, and one tile recoded then says nothing), at most
            ``repeat_floor_cap``'s analogue for one tile.
        repeat_floor_least: the least the local repeat noise floor may be, as a fraction of the reel's
            median floor (``_repeat_floor``): a frozen shot repeats almost exactly and must not pull
            the floor of the moving pictures beside it down to nothing.
        repeat_threshold: log(diff / floor) above which two same-parity fields say "not a repeat".
        gain: slope of the evidence around its threshold.
        clip: the most one measure can say, either way (but see ``clip_two_moments``).
        clip_two_moments: the most a weave that combs can say. Larger than ``break_penalty``: inside
            an unbroken cadence every pair of fields from two shots sits on a run boundary anyway, so
            a pair that combs like two different pictures on a "same run" boundary is an edit made
            after telecine and must be able to force a break on its own.
        floor_window: fields each side over which the repeat noise floor is taken.
        change_eps: added to the picture change (``FieldMetrics.change``) before a ratio: about what
            coding noise gives between two fields of one film frame (0.01-0.03 on the synthetic reels).
        combed_threshold: weave comb log-ratio above which an output frame is flagged "combed". Set
            above what clean weaves of slow, noisy, MPEG-2 coded film reach (up to about 0.9 on the
            synthetic reels: a film frame's two fields may sit in two coded pictures with unrelated
            coding noise); a frame mixing two shots scores 2 and more.
        damage_comb: weave comb log-ratio above which a field that ``fields.shot_changes`` marks is
            left out of its weave (``plan``) where the mark alone does not: any mark where the codec
            codes the fields apart (ProRes), a weak mark otherwise. The mark only says that the field's
            coded frame holds two pictures; whether ProRes damaged it shows in its weave. Measured on
            stress reels 900-909: ProRes weaves such runs at -0.9..0.06 and the weave is 5 dB better than the
            rebuild; MPEG-2 runs whose marked field is damaged enough to matter (the rebuild 1.2-6.3 dB
            better) score 0.30-1.19, and some (a moving shot cut into a fade's dark frame) weave cleanly
            while the rebuild is still 1.6 dB better: there strong marks are left out alone.
        damage_change_ratio: when both fields of a 2-field run are to be left out, the field whose
            coded picture changes less (``FieldMetrics.change``), by this ratio or more, is kept (the
            other picture holds the cut); otherwise the run is woven (a one-frame flash between two
            cuts: both pictures hold a cut).
        uncertain_margin: a frame whose fields' ``decision_margins`` fall below this (a quarter of a
            break) is listed as decided on little evidence (``conform.json`` ``uncertain_cadence``):
            another phase, or a break a few fields away, explains its fields about as well. A list to
            look at, not a verdict: on the 60 looked-at stress reels, 18 list 2-36 such fields
            (video edges, frozen or still stretches around an edit), and the decision was right on
            all of them but one (seed 966, an edit inside a still shot with grain).
        repeat_against: a 3-field frame whose third field the pulldown evidence says is no repeat of its
            first by more than this (``Evidence.pulldown``) is listed with the frames of uncertain
            cadence, whatever its margin: the track kept the cadence through a place where the fields
            say it broke (an edit after the telecine that left a lone field inside a still shot, where
            a break and an orphan cost more than the fields say against the weave: held-out stress
            seed 1580, 2.46). On 95 looked-at and held-out stress reels the 7,878 3-field frames that
            mix nothing read at most 1.45 (a fade, a still with grain).
        damage_isolation: a marked field is left out of its weave (by the rules of ``plan``) only where
            its coded frame's change is more than 1 / this times that of the coded frames on either side
            (``plan.isolated_changes``): a cut is in one coded frame (stress seed 963: 0.05 of it either
            side); a fast dissolve raises its neighbours (seeds 905, 940, 982: 0.53-0.70). A coded frame
            between two film runs is also held against the film-frame boundaries on either side
            (``plan.moving_boundaries``): 2:3:3:2's mixed frame has no such neighbour in the coded frames.
        motion_window: same-parity comparisons each side over which ``motion.motion_pulldown`` and
            ``motion.motion_comb`` take the repeat level (the second least motion) and the step level
            (the median), and ``motion_comb`` the half line between the parities.
        motion_eps: px (decision raster) added to every motion before a ratio.
        motion_separation: the step level must be this many times the repeat level for the motion to
            say anything (a still, a frozen or a fading picture moves by neither).
        motion_gain: what a motion at the step level (or at the repeat level) says, either way; a
            comparison halfway between them (on a log scale) says nothing.
        motion_min_response: a phase-correlation peak lower than this (two pictures: a cut, a
            dissolve's jump) gives no motion evidence.
        jump_reach: same-kind pairs each side (i +- 2, ..., +- 2 ``jump_reach``) whose combing gives a
            pair's local run-boundary level (``_boundary_level``: the second most combed of them).
        jump_separation: the least that boundary level may be (log, over the one-moment pairs) for a
            pair to be judged against it: below it the shot hardly moves and nothing is said.
        jump_ratio: a pair that combs this many times the boundary level or more (log) is a *jump*:
            two moments further apart than one film frame's step (an edit made after telecine inside a
            moving shot, or two shots).
        jump_steps: a pair whose picture change is this many times its kind's run-boundary level of
            change or more, and whose combing reaches the boundary level, is a jump too: it spans two
            film frames' steps or more, where a run boundary spans one (a sparse picture, a star field,
            combs little more at a longer step than at one).
        jump_say: the least a jump says "two moments": more than half of ``break_penalty`` plus
            ``orphan_penalty``, so that a jump where the cadence expects one film frame breaks it even
            where that leaves an orphan on both sides (stress seed 1228's 24p 143 | 145).
    """

    break_penalty: float = 8.0
    video_penalty: float = 8.0
    orphan_penalty: float = 2.0
    pattern_penalty: float = 4.0
    floor_eps: float = 0.3
    comb_threshold: float = 0.25
    repeat_floor_cap: float = 2.5
    repeat_floor_local: tuple[float, float] = (1.0, 4.0)
    repeat_floor_least: float = 0.5
    repeat_threshold: float = 0.7
    gain: float = 2.0
    clip: float = 3.0
    clip_two_moments: float = 12.0
    clip_not_repeat: float = 3.0
    floor_window: int = 15
    combed_threshold: float = 1.0
    change_eps: float = 0.02
    damage_comb: float = 0.2
    damage_change_ratio: float = 0.5
    damage_isolation: float = 0.5
    uncertain_margin: float = 2.0
    repeat_against: float = 2.0
    motion_window: int = 7
    motion_eps: float = 0.05
    motion_separation: float = 2.5
    motion_gain: float = 2.0
    motion_min_response: float = 0.3
    jump_reach: int = 5
    jump_separation: float = 0.5
    jump_ratio: float = 1.5
    jump_steps: float = 2.0
    jump_say: float = 6.0


@dataclass(frozen=True)
class Evidence:
    """Signed, clipped evidence per field (see the module docstring).

    Attributes:
        comb: (N-1,) float32, > 0: fields i and i+1 are two moments.
        repeat: (N-2,) float32, > 0: field i+2 is not a repeat of field i (judged against the noise floor).
        pulldown: (N-2,) float32, the same question asked of a field at a 3-field run's start (is
            field i+2 a *pulldown* repeat of field i): its positive side is ``repeat``'s, its negative
            side ("a repeat") needs the contrast of the neighbouring comparisons (see ``field_evidence``).
    """

    comb: np.ndarray
    repeat: np.ndarray
    pulldown: np.ndarray


@dataclass(frozen=True)
class CadenceTrack:
    """The decided state of every field.

    Attributes:
        state: (N,) int8, the state: a 3:2 phase 0..9, ``VIDEO`` (10) or a 2:3:3:2 phase 11..20
            (``phase_of``, ``pattern_of``).
        broken: (N,) bool, True where field i starts afresh instead of following field i-1 along the
            cadence (an edit, possibly joining consecutive phases; entering or leaving video); field 0
            is not marked.
        cost: total cost of the path (lower is better; comparable only between tracks of one reel).
    """

    state: np.ndarray
    broken: np.ndarray
    cost: float


@dataclass(frozen=True)
class Run:
    """Consecutive fields that make one output frame.

    Attributes:
        fields: field indices in temporal order (1 to 3 of them; 2 for video).
        kind: "film" (woven), "orphan" (a lone field, interpolated) or "video" (deinterlaced).
        phase: cadence phase of the first field, or None for video.
        pattern: the pulldown pattern the phase belongs to ("3:2" or "2:3:3:2"; None for video).
    """

    fields: tuple[int, ...]
    kind: RunKind
    phase: int | None
    pattern: str | None = PATTERNS[0]


def _repeat_floor(dup: np.ndarray, window: int, least: float) -> np.ndarray:
    """Per pair, the noise level of a repeated field: a low percentile of ``dup`` over +-``window`` fields,
    kept within [``least``, 1] times the reel's median of those. Above: inside video nothing repeats,
    so the local value is motion. Below: a frozen picture coded as skipped blocks repeats (almost)
    exactly, which says nothing about the noise of a repeat of a moving picture next to it; a floor
    taken from it would call that picture's true repeats "not repeats"."""
    n = dup.shape[0]
    if n == 0:
        return dup.copy()
    pad = np.pad(dup, window, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, 2 * window + 1)[:n]
    local = np.percentile(windows, 10, axis=1).astype(np.float32)
    median = np.float32(np.median(local))
    return np.clip(local, np.float32(least) * median, median)


def _neighbours(values: np.ndarray, reach: int, stride: int, fill: float) -> np.ndarray:
    """(N, K) for each element of ``values`` (N,), the others ``stride``, 2 ``stride``, ... up to ``reach``
    away on either side (K = 2 (``reach`` // ``stride``)), ``fill`` where that is past either end."""
    n = values.shape[0]
    offsets = np.array([d for k in range(stride, reach + 1, stride) for d in (-k, k)], np.int64)
    pad = reach
    padded = np.concatenate([np.full(pad, fill, values.dtype), values, np.full(pad, fill, values.dtype)])
    return padded[np.arange(n)[:, None] + pad + offsets[None, :]]


def _neighbour_min(values: np.ndarray, reach: int = 2, stride: int = 1) -> np.ndarray:
    """For each element, the smallest of the others within +-``reach`` that are a multiple of ``stride``
    away (itself when it has none)."""
    least = _neighbours(values, reach, stride, np.inf).min(axis=1, initial=np.inf)
    return np.where(np.isfinite(least), least, values)


def _comb_reference(own: np.ndarray) -> np.ndarray:
    """(N-1,) the one-moment level each pair's comb ratio ``own`` is judged against (``field_evidence``):
    the least of the pairs of its own kind i-4, i-2, i+2, i+4, but no lower than the least of any kind
    within two fields less the reel's gap between the kinds. The gap: the median, over the pairs across
    two coded frames (odd i), of their own kind's least less the mean of their neighbours' (pairs i-1 and
    i+1, inside a coded frame); none where that is negative (a codec that codes the fields apart)."""
    n = own.shape[0]
    alike = _neighbour_min(own, reach=4, stride=2)
    near = _neighbour_min(own)
    odd = np.arange(1, n - 1, 2)
    if odd.size == 0:
        return near
    gap = max(float(np.median(alike[odd] - 0.5 * (alike[odd - 1] + alike[odd + 1]))), 0.0)
    return np.maximum(alike, near - np.float32(gap))


def _between_combed_excess(comb_lr: np.ndarray, threshold: float) -> np.ndarray:
    """(N-1,) what to take off each pair's comb ratio ``comb_lr`` (over its ``_comb_reference``) for the
    coded frames it spans: for the pairs across two coded frames that both comb (pair 2k+1 | 2k+2 where
    pairs 2k | 2k+1 and 2k+2 | 2k+3 are over ``threshold``), the reel's median ratio of those pairs (in
    film mostly 3:2's one-moment pair between its two mixed frames; see ``field_evidence``), 0 where
    that median is below 0; 0 for every other pair."""
    n = comb_lr.shape[0]
    out = np.zeros(n, dtype=comb_lr.dtype)
    i = np.arange(1, n - 1, 2)
    between = i[(comb_lr[i - 1] > threshold) & (comb_lr[i + 1] > threshold)]
    if between.size:
        out[between] = max(float(np.median(comb_lr[between])), 0.0)
    return out


def _boundary_level(comb_lr: np.ndarray, reach: int) -> np.ndarray:
    """(N-1,) per pair, the second largest ``comb_lr`` of the pairs of its own kind i +- 2, ..., +- 2
    ``reach`` (itself left out; 0 where fewer than two exist). In telecined film 2 in 5 pairs of a kind
    are run boundaries in 3:2 (1 or 3 in 5 in 2:3:3:2), so within 5 each side the second largest is a
    run boundary's even where one of them is a cut or an edit."""
    if reach < 1:
        return np.zeros(comb_lr.shape[0], np.float32)
    second = np.sort(_neighbours(comb_lr, 2 * reach, 2, -np.inf), axis=1)[:, -2]
    return np.where(np.isfinite(second), second, 0.0).astype(np.float32)


def _contrast(values: np.ndarray, eps: float) -> np.ndarray:
    """log((v[i] + eps) / (min(v[i-1], v[i+1]) + eps)): < 0 where v[i] is below both neighbours (the one
    neighbour at the ends)."""
    n = values.shape[0]
    if n < 2:
        return np.zeros(n, np.float32)
    inf = np.array([np.inf], dtype=values.dtype)
    ref = np.minimum(np.concatenate([inf, values[:-1]]), np.concatenate([values[1:], inf]))
    return np.log((values + np.float32(eps)) / (ref + np.float32(eps))).astype(np.float32)


def field_evidence(
    metrics: FieldMetrics, params: CadenceParams | None = None, *, fields_coded_apart: bool = False
) -> Evidence:
    """Turn ``FieldMetrics`` into the signed evidence the tracker weighs.

    Combing is judged in two steps. First each pair's comb is divided by the zig-zag its two fields
    have on their own (``FieldMetrics.intra``), which puts a flat leader and a detailed picture on
    one scale. Then that ratio is judged *relative to the neighbouring pairs of its own kind*
    (``_comb_reference``): pair (i, i+1) against the least combed of pairs i-4, i-2, i+2 and i+4. A
    pair 2k | 2k+1 holds the two fields of one coded frame, a pair 2k+1 | 2k+2 fields of two, and a
    codec that codes a frame's fields together (MPEG-2, DV) gives the second kind unrelated coding noise
    to comb on: on the 47 looked-at stress reels a one-moment pair across two coded frames combs
    0.16-0.45 (log) more than one inside a frame on every MPEG-2 reel (median 0.27), 0.15 on DV, 0 on
    ProRes. Judged against the least combed pair of either kind within two fields (before session 22),
    a run boundary inside a coded frame read as about one moment where a shot hardly combs, and a
    one-moment pair across two as a weak boundary (stress seed 1041's dark pan at 1 px a frame, pulldown
    and motion silent: boundaries -0.10 and -0.22 where that kind's one-moment pairs read -0.36..-0.68,
    so an edit's lone field was woven with the frame before; 966's edit inside a still shot likewise).
    Every field of telecined film belongs to a run of 2 or 3, so among those four pairs there is one of
    one moment (in 3:2 and in 2:3:3:2); a run boundary combs clearly more than that, a pair inside a run
    does not, and two pieces joined by an edit where the cadence expected one film frame comb far more.
    The reference is kept no lower than the least combed pair of either kind within two fields less the
    reel's gap between the kinds: a pair of its kind 4 fields off that combs less than that lies in
    another stretch (a video stretch's first and last pairs judged against the film beside it said "two
    moments" and pulled the film's runs 2 fields into DV reel 1148's video). The ratio cancels what the
    picture's own vertical detail contributes (the same fields are on both sides), which an absolute
    comb threshold cannot. Video (every pair two moments) and still pictures give ratios near 1: no
    evidence, as it should be.

    One kind more: a pair across two coded frames that *both* comb (each holds two film frames) has both
    its fields from pictures coded with a field of another film frame, and where the codec codes a
    frame's fields together it combs more than the pairs beside it. In film that pair is 3:2's 2-field
    run at phases 5 | 6, one moment (2:3:3:2 has one mixed frame a cycle, so no such pair); its
    reference is a pair with one clean coded frame. On the 67 looked-at stress reels those one-moment
    pairs (by the truth) comb +0.11..+0.27 (log, median +0.22) over their reference on every MPEG-2
    reel, against +0.00 for the pairs with a clean frame; +0.09 on DV, 0 on ProRes; 41 % of them said
    "two moments" on MPEG-2. An edit after the telecine near such a pair could then split it into two
    orphans for little more than the orphan penalty: stress seed 1206's 24p 102 (fields 255 | 256:
    +0.31 over the reference, +0.11 evidence, +0.89 more from the second look's motion) came out twice,
    as two orphans of a break at 256 that cost 0.01 less than the right break at 260. Such pairs are
    judged against the reel's median of their kind (``_between_combed_excess``: 1206's 0.16 makes that
    pair -0.20, and the right decision wins by 2.4).

    A jump. Said on the same scale as a run boundary, a pair that joins two moments further apart than
    one film frame's step (an edit made after telecine that cut film frames out of a moving shot) says
    about what the shot's own run boundaries say (+1 to +3), and where the cadence expects one film
    frame there, breaking it leaves an orphan on both sides (``break_penalty`` + ``orphan_penalty``,
    10): held-out stress seed 1228's fields 357 (24p 143) and 358 (24p 145), at 3:2 phases 5 | 6, combed
    1.45 (log) over the one-moment pairs where the shot's run boundaries comb 0.82-0.95, said +2.4, and
    were woven into one frame. A pair that combs ``jump_ratio`` times its kind's local run-boundary
    level (``_boundary_level``) or more, where that level stands ``jump_separation`` clear of the
    one-moment pairs (the shot moves), says at least ``jump_say``. On the field measures of the 160
    looked-at stress reels, 2 of 44,400 one-moment pairs reach it, and no decision changes but 1228's
    (``docs/architecture.md``). A jump is also a longer step in the picture: its pair's picture change
    (``FieldMetrics.change``) must reach its kind's run-boundary level of change (``_boundary_level`` of
    the changes), which 1228's does (0.110 against 0.078). In a frozen or still picture the run
    boundaries comb with coding noise alone, and a pair whose noise combs 1.5x theirs passed for a jump:
    held-out seed 1420's pair 43 | 44 (0.86 over 0.56; change 0.040 against 0.042) broke a 3-field run
    into a lone field, one 24p frame twice, which the offset then took for an edit. A sparse picture (a
    star field) combs little more at a longer step than at one: held-out seed 1489's 24p 17 | 20 (fields
    43 | 44, a pan) combed 1.83 where its run boundaries comb 1.67, and were woven into one frame. So a
    pair whose change is ``jump_steps`` (2) times its kind's run-boundary change or more (it spans two
    film steps or more; 1489's 0.105 against 0.046) and whose combing reaches the run-boundary level
    is a jump too, also beside a damaged field (whose combing is otherwise replaced by its change
    against its neighbours', at most ``clip``). On the field measures of 56 looked-at and held-out
    stress reels (1220-1229, 1240-1249, 1360-1369, 1420-1429, 1440-1449, 1460-1469, 1480-1489: 17,749
    one-moment pairs) no one-moment pair comes within 0.58 of both conditions.

    Repeats are judged against the noise floor of repeated fields (``_repeat_floor``), capped at
    ``repeat_floor_cap`` code values so that a reel made mostly of video, which has no repeats to
    learn the floor from, still shows its fields as "not repeats". The mean difference and the
    largest tile's (``FieldMetrics.dup_local``) are each judged against their own floor, and the
    larger says: a repeat is a repeat everywhere, so sparse motion (a video title over a dark card)
    that hardly moves the mean is still "not a repeat".

    That floor tells "not a repeat" (motion above the coding noise) but not "a pulldown repeat": in a
    frozen or still picture every field repeats the one two before it, by amounts that vary with the
    coding (picture types of a GOP), and a track that fits its repeat phases to those variations
    gains from them what a real break costs. So the cadence's repeat phases weigh ``pulldown``: its
    positive side is ``repeat``'s, its negative side the *contrast* of the difference against the
    comparisons next to it (i-1 vs i+1 and i+1 vs i+3, ``_contrast``; the mean and the largest tile,
    whichever contrasts more): in moving film a pulldown repeat sits between two comparisons of
    different film frames and differs far less than both, however its own coding noise compares with
    the floor (a poorly coded field can put a true repeat just above it), while in a frozen picture
    the comparisons differ alike and say nothing. ``repeat`` itself still weighs film against video
    (a picture whose fields repeat is not moving video).

    A damaged field (``fields.shot_changes``: coded in one picture with a field of another shot, so
    decoded far from its film frame) says nothing about its neighbours in its own shot by combing or
    repeats: its repeat comparisons carry no evidence, and the pairs it makes with a field of another
    broadcast frame are judged by the picture change instead (``FieldMetrics.change``, on thumbnails
    that average the coding damage away), relative to the quietest change within two fields as the
    combing is: such a pair is one film frame unless an edit made after telecine joins two pictures
    there. The pair inside its own broadcast frame keeps its evidence (two shots: two moments).
    ``fields_coded_apart`` (``VideoInfo.fields_coded_apart``: ProRes codes a frame's fields as two
    pictures): no field is damaged so, and the marks take nothing away. Held-out seed 1369 (ProRes): an
    edit at a cut left a lone field of the new shot's first film frame in the cut's coded frame; its
    repeat comparison with the field two on (another film frame, 4 px on in a pan) was taken away, the
    track made it the first field of a 3-field run, and the film frame was lost (on the field measures
    of the 34 cached ProRes stress reels no other run changes).
    """
    p = params or CadenceParams()
    eps = np.float32(p.floor_eps)
    intra = metrics.intra
    own = (
        np.log((metrics.comb + eps) / (0.5 * (intra[:-1] + intra[1:]) + eps))
        if intra.shape[0] > 1
        else metrics.comb
    )
    comb_lr = own - _comb_reference(own)
    comb_lr = comb_lr - _between_combed_excess(comb_lr, p.comb_threshold)
    floor = np.minimum(
        _repeat_floor(metrics.dup, p.floor_window, p.repeat_floor_least), np.float32(p.repeat_floor_cap)
    )
    rep_lr = np.log((metrics.dup + eps) / (floor + eps))
    if metrics.dup_local.shape == metrics.dup.shape and metrics.dup.shape[0]:
        lo, hi = p.repeat_floor_local
        floor_local = np.clip(_repeat_floor(metrics.dup_local, p.floor_window, p.repeat_floor_least), lo, hi)
        rep_lr = np.maximum(rep_lr, np.log((metrics.dup_local + eps) / (floor_local + eps)))
    comb = np.clip(p.gain * (comb_lr - p.comb_threshold), -p.clip, p.clip_two_moments).astype(np.float32)
    boundary = _boundary_level(comb_lr, p.jump_reach)
    moves = boundary >= p.jump_separation
    jump = moves & (comb_lr >= p.jump_ratio * boundary)
    long_step = np.zeros_like(jump)
    if metrics.change.shape == comb_lr.shape:  # and the picture steps at least as far as at a run boundary
        step = _boundary_level(metrics.change, p.jump_reach)
        jump &= metrics.change >= step
        # or it steps two film frames' way or more, combing as a run boundary does
        long_step = moves & (comb_lr >= boundary) & (metrics.change >= p.jump_steps * step)
    comb = np.where(jump, np.maximum(comb, np.float32(p.jump_say)), comb).astype(np.float32)
    repeat = np.clip(p.gain * (rep_lr - p.repeat_threshold), -p.clip, p.clip_not_repeat).astype(np.float32)
    contrast = _contrast(metrics.dup, p.floor_eps)
    if metrics.dup_local.shape == metrics.dup.shape:
        contrast = np.minimum(contrast, _contrast(metrics.dup_local, p.floor_eps))
    pulldown = np.clip(
        np.maximum(repeat, 0.0) + np.minimum(p.gain * (contrast + p.repeat_threshold), 0.0),
        -p.clip,
        p.clip_not_repeat,
    ).astype(np.float32)
    damaged = np.zeros(metrics.field_count, bool) if fields_coded_apart else shot_changes(metrics)
    if damaged.any() and comb.shape[0]:
        across = np.arange(comb.shape[0]) % 2 == 1  # pair 2k+1 | 2k+2 spans two broadcast frames
        lost = across & (damaged[:-1] != damaged[1:])
        change = metrics.change
        if change.shape == comb.shape:
            ce = np.float32(p.change_eps)
            change_lr = np.log((change + ce) / (_neighbour_min(change) + ce))
            comb[lost] = np.clip(p.gain * (change_lr[lost] - p.comb_threshold), -p.clip, p.clip)
        else:
            comb[lost] = 0.0
        repeat[damaged[:-2] | damaged[2:]] = 0.0
        pulldown[damaged[:-2] | damaged[2:]] = 0.0
    # a long step is a jump even beside a damaged field, whose combing alone is not believed
    comb = np.where(long_step, np.maximum(comb, np.float32(p.jump_say)), comb).astype(np.float32)
    return Evidence(comb=comb, repeat=repeat, pulldown=pulldown)


def _structures(params: CadenceParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transition costs, indexed [from, to] (STATES x STATES float64; inf = impossible).

    Returns:
        natural: 0 along the cadence (p -> p+1 mod 10 within a pattern, video -> video), inf elsewhere;
        sign: the sign with which a natural transition pays the boundary evidence (+1 "same run");
        brk: the cost of a break into a frame's first field: ``break_penalty`` from any phase to any
            even phase of either pattern (the natural successor included: an edit may join two pieces
            at consecutive phases), ``video_penalty`` into or out of video, inf video -> video. A
            break always pays the boundary evidence as "new run".
    """
    inf = np.inf
    natural = np.full((STATES, STATES), inf)
    sign = np.zeros((STATES, STATES))
    for s, k, p in _film_states():
        t = PATTERN_BASE[k] + (p + 1) % PHASES
        natural[s, t] = 0.0
        sign[s, t] = -1.0 if _RUN_START[t] else 1.0
    natural[VIDEO, VIDEO] = 0.0  # sign 0: combing says nothing about video (see the module docstring)
    brk = np.full((STATES, STATES), inf)
    for s in _ODD:  # an odd phase ends a frame: the next field may start anything
        # an orphan on either side of the break (or both) pays the orphan penalty once
        orphans = _RUN_START[s] | _LONE_START[_EVEN]
        brk[s, _EVEN] = params.break_penalty + np.where(orphans, params.orphan_penalty, 0.0)
        brk[s, _EVEN[(_EVEN > VIDEO) != (s > VIDEO)]] += params.pattern_penalty
        brk[s, VIDEO] = params.video_penalty
    brk[VIDEO, _EVEN] = params.video_penalty + np.where(_LONE_START[_EVEN], params.orphan_penalty, 0.0)
    brk[VIDEO, _EVEN[_EVEN > VIDEO]] += params.pattern_penalty
    return natural, sign, brk


@dataclass(frozen=True)
class _Costs:
    """The terms of the decision (``track_cadence``'s module docstring), for N fields: ``natural``,
    ``sign``, ``brk`` (STATES x STATES, ``_structures``), ``emit`` and ``rep_nat`` (N x STATES: every
    field's own evidence, inf where its parity or the overrides rule a state out; the pulldown repeat
    paid on the natural transition into a state), ``comb`` (N-1,) and ``start`` (STATES,): field 0's
    cost of each state."""

    n: int
    natural: np.ndarray
    sign: np.ndarray
    brk: np.ndarray
    emit: np.ndarray
    rep_nat: np.ndarray
    comb: np.ndarray
    start: np.ndarray

    def step(self, i: int) -> np.ndarray:
        """(STATES, STATES) cost of moving from field i-1's state (rows) into field i's (columns), field
        i's own evidence included: the cheaper of the natural transition and a break (even i only)."""
        ec = self.comb[i - 1] if i - 1 < self.comb.shape[0] else 0.0
        cost = self.natural + ec * self.sign + self.rep_nat[i][None, :]
        if i % 2 == 0:
            cost = np.minimum(cost, self.brk - ec)
        return cost + self.emit[i][None, :]


def _costs(evidence: Evidence, allowed: np.ndarray | None, p: CadenceParams) -> _Costs:
    n = evidence.comb.shape[0] + 1 if evidence.comb.shape[0] or evidence.repeat.shape[0] else 0
    if allowed is not None:
        n = max(n, allowed.shape[0])
    natural, sign, brk = _structures(p)
    emit = np.zeros((n, STATES))
    rep = evidence.repeat.astype(np.float64)
    pull = evidence.pulldown.astype(np.float64)
    emit[: rep.shape[0]] = -rep[:, None]
    # a 3-field run's repeat, paid on the natural transition that keeps the run going (module docstring)
    rep_nat = np.zeros((n, STATES))
    for s, k, r in _film_states():
        if _REPEAT[s]:
            lag = 1 if r % 2 else 2
            rep_nat[lag : lag + rep.shape[0], PATTERN_BASE[k] + (r + lag) % PHASES] = 2.0 * pull[: n - lag]
    emit[0::2, _ODD] = np.inf  # even fields (a frame's first) sit at even phases
    emit[1::2, _EVEN] = np.inf
    if allowed is not None:
        emit[~allowed[:n]] = np.inf
    start = emit[0].copy() if n else np.zeros(STATES)
    start[VIDEO + 1 :] += p.pattern_penalty  # 3:2 is the common pulldown: 2:3:3:2 needs evidence
    return _Costs(n, natural, sign, brk, emit, rep_nat, evidence.comb.astype(np.float64), start)


def decision_margins(
    evidence: Evidence,
    track: CadenceTrack,
    *,
    allowed: np.ndarray | None = None,
    params: CadenceParams | None = None,
) -> np.ndarray:
    """(N,) float64 >= 0: for each field, how much more the cheapest decision that puts it in any other
    state costs than ``track`` (inf where no other state is possible).

    Min-sum forward and backward passes over the costs ``track_cadence`` weighs: the cheapest path
    through state s at field i costs forward[i, s] + backward[i, s]. A small margin says the evidence
    hardly tells this field's phase from another: a cadence break placed inside a still or frozen
    stretch (an edit after the telecine), whose fields nothing tells apart, can sit at any of several
    fields for about the same cost. Nothing in the decision changes; ``conform`` reports such frames.
    """
    p = params or CadenceParams()
    costs = _costs(evidence, allowed, p)
    n = costs.n
    if n == 0:
        return np.zeros(0)
    forward = np.empty((n, STATES))
    forward[0] = costs.start
    for i in range(1, n):
        forward[i] = np.min(forward[i - 1][:, None] + costs.step(i), axis=0)
    backward = np.zeros((n, STATES))
    for i in range(n - 1, 0, -1):
        backward[i - 1] = np.min(costs.step(i) + backward[i][None, :], axis=1)
    through = forward + backward
    chosen = through[np.arange(n), track.state.astype(np.int64)]
    other = through.copy()
    other[np.arange(n), track.state.astype(np.int64)] = np.inf
    with np.errstate(invalid="ignore"):
        margin = np.min(other, axis=1) - chosen
    return np.where(np.isnan(margin), np.inf, np.maximum(margin, 0.0))


def track_cadence(
    evidence: Evidence, *, allowed: np.ndarray | None = None, params: CadenceParams | None = None
) -> CadenceTrack:
    """Decide every field's phase (or video) for the whole reel: Viterbi over ``STATES`` states.

    Each step weighs, for every target state, the natural transition and a break (into a frame's
    first field only) and keeps the cheaper, remembering which it was.

    Args:
        evidence: from ``field_evidence``; N = len(evidence.comb) + 1 fields.
        allowed: optional (N, STATES) bool mask of states a field may take (overrides); None = all.
        params: tuning.

    Returns:
        ``CadenceTrack``. An empty reel gives empty arrays.

    Raises:
        ValueError: ``allowed`` leaves no possible path.
    """
    p = params or CadenceParams()
    costs = _costs(evidence, allowed, p)
    n = costs.n
    if n == 0:
        return CadenceTrack(np.zeros(0, np.int8), np.zeros(0, bool), 0.0)
    natural, sign, brk, emit, rep_nat, comb = (
        costs.natural, costs.sign, costs.brk, costs.emit, costs.rep_nat, costs.comb
    )  # fmt: skip
    back = np.zeros((n, STATES), dtype=np.int8)
    via_break = np.zeros((n, STATES), dtype=bool)
    cols = np.arange(STATES)
    score = costs.start.copy()
    for i in range(1, n):
        ec = comb[i - 1] if i - 1 < comb.shape[0] else 0.0
        nat = score[:, None] + natural + ec * sign + rep_nat[i][None, :]
        best_nat = np.argmin(nat, axis=0)
        cost_nat = nat[best_nat, cols]
        if i % 2 == 0:
            bro = score[:, None] + brk - ec
            best_bro = np.argmin(bro, axis=0)
            cost_bro = bro[best_bro, cols]
            take = cost_bro < cost_nat
            back[i] = np.where(take, best_bro, best_nat)
            via_break[i] = take
            score = np.where(take, cost_bro, cost_nat) + emit[i]
        else:
            back[i] = best_nat
            score = cost_nat + emit[i]
    last = int(np.argmin(score))
    total = float(score[last])
    if not np.isfinite(total):
        raise ValueError("the cadence constraints (overrides) leave no possible decision")
    state = np.empty(n, dtype=np.int8)
    broken = np.zeros(n, dtype=bool)
    state[-1] = last
    for i in range(n - 1, 0, -1):
        broken[i] = via_break[i, state[i]]
        state[i - 1] = back[i, state[i]]
    return CadenceTrack(state=state, broken=broken, cost=total)


def group_runs(track: CadenceTrack) -> list[Run]:
    """Cut the field stream into runs, one per output frame (see the module docstring).

    Video runs are the two fields of one frame (a lone trailing field of video is an orphan).
    """
    runs: list[Run] = []
    current: list[int] = []
    current_state = 0

    def close() -> None:
        if current:
            kind: RunKind = "film" if len(current) > 1 else "orphan"
            runs.append(Run(tuple(current), kind, phase_of(current_state), pattern_of(current_state)))

    n = track.state.shape[0]
    i = 0
    while i < n:
        s = int(track.state[i])
        if s == VIDEO:
            close()
            current = []
            if i + 1 < n and int(track.state[i + 1]) == VIDEO and not track.broken[i + 1]:
                runs.append(Run((i, i + 1), "video", None, None))
                i += 2
            else:
                runs.append(Run((i,), "orphan", None, None))
                i += 1
            continue
        if i == 0 or track.broken[i] or _RUN_START[s]:
            close()
            current, current_state = [i], s
        else:
            current.append(i)
        i += 1
    close()
    return runs
