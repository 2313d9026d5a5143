"""Temporal offset between the conformed broadcast and the film scan: global and per shot, or "no match".

Signatures, robust to grade, framing, noise (``signatures``): each frame's thumbnail (see
``cuts.frame_thumbnail``) is cropped to its central 80 %, reduced to 16x12 luma and standardised to
zero mean and unit length. A grade (gain, lift, a mild matrix) hardly changes the standardised luma;
a telecine framing that differs by a few percent moves content by a fraction of a 16x12 cell; noise
and grain average away. The *appearance* signature alone cannot place a slowly moving shot to the
frame, so a *motion* signature goes with it: the difference of consecutive appearance signatures,
again standardised. It is close to zero for noise but follows the camera move (and jumps at cuts)
identically in both sequences at the true offset only.

Similarity of broadcast frame t and film frame s: ``0.5 * appearance_cos + 0.5 * motion_cos``
(-1..1; about 0.8-1 for the same frame, around 0-0.3 for unrelated pictures).

Per shot (the broadcast's cuts; ``_match_shot``): every film start ``s0`` is scored along the
diagonal ``(first + j, s0 + j)`` over the frames that overlap the film (at least half the shot, or all
of a film shorter than that). The content answer is the start with the largest *sum* (frames off the
film count 0). Content alone places a shot only to within a few frames (in a zoom, a framing a few
percent tighter looks like a few frames later), so the film's own cuts (``cuts.detect_cuts`` on the
film thumbnails), which are exact, correct it: a film shot that starts, or ends, within ``snap``
frames of where the content puts the shot's first, or last, frame fixes the start (a start that fits
both, where the content cannot tell them apart, before one that fits either). Not at a shot edge
that a cadence break opens (an edit made after the telecine there, ``breaks``): the edit may have cut
film frames away, so the film's shot goes on past that edge and its cut fixes nothing (held-out seed
1265: a moving shot whose last two film frames an edit cut away took its start from the film shot's
end, 16 frames paired 1-2 film frames late). On the cached offset inputs of 172 stress reels (every
looked-at seed, 1240-1249, 1265 and 1266), frames paired with another film frame 88 -> 69 (1265's 16;
1002's 3, whose shot now scores under the bars and has no film), shots with film left unmatched 385 ->
382 frames (1080, 1104 and 1148 matched, 1002 and 1106 not). The match score is the *mean* similarity
over the overlap, so a film that starts or ends inside the shot still matches.
A score of at least ``min_score`` is a match; otherwise the shot has no film (a shot missing from the
scan, the leader, or film of another show), unless its best start stands out from every other start by
``min_z`` (robust z) with a score of at least ``distinct_score``: in a dark or low-contrast shot the
tape's noise holds the similarity down (the motion signature of a slow move is mostly noise) while the
right start still stands out. On the 170 looked-at stress reels 8 such shots (191 frames, scores
0.33-0.49, z 8.3-15) had been left without film; matched so, 190 of their frames get their own film frame
(one, 1041's, a frame off after a jump), and no shot of 57 reels matched against another reel's film
matches.

Edits made after telecine (cadence breaks, ``breaks``) may have dropped broadcast frames, so a shot
that spans one shows the film with a gap: its frames after the break sit up to ``max_skip`` film
frames further on than a single diagonal says. Such a shot is matched in segments (split at its
breaks): the first segment's start is the answer, and each later segment takes the film shift
(0..``max_skip``, on top of the ones before) that matches it best. ``film_first`` stays the film
frame shown at the shot's first frame, and each segment that skips film is recorded as a jump
(``ShotMatch.film_jumps``: the output frame and the film frame shown there), which ``conform.json``
carries and the alignment pairs by: without it every frame after the edit was paired with a film
frame 1-4 frames early (stress seeds 1062, 1064, 1084, 1089: 8-22 pairs a reel). A break may sit a
frame before the gap, or anywhere in a stretch of frames whose phase the cadence could not tell
(``break_spans``: there every place pairs the fields alike), so each split moves by a frame, or
within that stretch, where the film clearly says so (``_placed_segments``). An edit that keeps the
cadence's phase (it removes whole film frames' fields in step with the pulldown) makes no break; such
a jump is added where the film alone says so clearly (``_free_jumps``: looked-at seeds 1069 and 1102,
4 and 2 film frames dropped), or, where the jump makes the shot fit both its film cuts, where the film
says so at all (``_fit_jump``). Such an edit at a cut trims the shots on both sides of it: where one
of them fits its film shot but for 1..``max_skip`` frames at that cut, the cut is an edited edge of
the other too, matched again without the film cut's snap or a fitted jump (``_trimmed_cuts``). The
matched shots must then run forward through the film (the scan is in broadcast order): the heaviest
chain of matches with increasing, non-overlapping film ranges is kept and the rest are unmatched, which
also throws out the odd chance match of an unrelated film. ``film_first`` is the film frame shown at the
shot's first frame (negative when the film starts inside the shot).

Global offset (``offset``: the output frame that shows film frame 0) comes from the matched shot
whose film range holds frame 0 (else the matched shot that starts earliest in the film). The paper's
single-offset case is the special case where every shot agrees; ``global_curve`` (mean similarity
of the whole broadcast against the whole film at every offset) is kept for the report and as the
answer when no single shot is conclusive but the whole reel is.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from remaster_spec.manifest_shots import film_index

from remaster_core.conform.cuts import detect_cuts, thumbnail_unit

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
SIG_SIZE = (16, 12)  # (W, H)
CROP = 0.8


@dataclass(frozen=True)
class OffsetParams:
    """Decision thresholds (see the module docstring)."""

    min_score: float = 0.5
    distinct_score: float = 0.3  # the least score of a shot whose best start stands out by min_z
    min_z: float = 8.0  # the whole-reel fallback, and a shot under min_score (distinct_score)
    snap: int = 12  # frames within which a film cut corrects the content's answer
    exclude: int = 2  # candidates within this many frames of the best are not "others"
    max_skip: int = 6  # film frames an edit after telecine may drop at a cadence break inside a shot


@dataclass(frozen=True)
class ShotMatch:
    """The film found for one broadcast shot (output frames ``first..last`` inclusive)."""

    first: int
    last: int
    film_first: int | None
    match_score: float | None
    z: float | None
    film_jumps: tuple[tuple[int, int], ...] = ()  # (output frame, film index shown there): see _match_shot

    @property
    def film_last(self) -> int | None:
        """The film index shown at the shot's last frame (None without film)."""
        if self.film_first is None:
            return None
        return film_index((self.film_first, self.first), self.film_jumps, self.last)


@dataclass(frozen=True)
class OffsetResult:
    """What the offset search found.

    Attributes:
        offset: output frame index showing film frame 0, or None (no match).
        matched: whether any film was found in the broadcast.
        shots: one ``ShotMatch`` per broadcast shot.
        global_offset: argmax of ``global_curve`` (the single-offset answer), or None.
        global_score, global_z: its mean similarity and robust z-score.
        global_curve: (Nb + Nf - 1,) float32 mean similarity at offset o = index - (Nf - 1).
        message: one line for a person.
        film_cuts: the film's own cuts (first film index of every film shot, 0 first).
    """

    offset: int | None
    matched: bool
    shots: list[ShotMatch]
    global_offset: int | None
    global_score: float | None
    global_z: float | None
    global_curve: np.ndarray = field(repr=False)
    message: str = ""
    film_cuts: tuple[int, ...] = ()


def signatures(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Appearance and motion signatures, each (N, 192) float32 of unit length (or zero).

    Args:
        thumbs: (N, h, w, 3) R'G'B' thumbnails (``cuts.frame_thumbnail``: uint8, or float32 0..1).
    """
    n = thumbs.shape[0]
    d = SIG_SIZE[0] * SIG_SIZE[1]
    app = np.zeros((n, d), np.float32)
    if n == 0:
        return app, app.copy()
    h, w = thumbs.shape[1:3]
    y0, x0 = round(h * (1 - CROP) / 2), round(w * (1 - CROP) / 2)
    for i in range(n):
        luma = thumbnail_unit(thumbs[i, y0 : h - y0, x0 : w - x0]) @ _LUMA
        app[i] = cv2.resize(luma, SIG_SIZE, interpolation=cv2.INTER_AREA).ravel()
    app -= app.mean(axis=1, keepdims=True)
    app /= np.linalg.norm(app, axis=1, keepdims=True) + np.float32(1e-3)
    mot = np.zeros_like(app)
    mot[1:] = app[1:] - app[:-1]
    mot /= np.linalg.norm(mot, axis=1, keepdims=True) + np.float32(1e-2)
    return app, mot


def _similarity(
    b: tuple[np.ndarray, np.ndarray], f: tuple[np.ndarray, np.ndarray], rows: slice
) -> np.ndarray:
    return 0.5 * (b[0][rows] @ f[0].T) + 0.5 * (b[1][rows] @ f[1].T)


def _robust_z(scores: np.ndarray, best: int, exclude: int) -> float:
    mask = np.isfinite(scores)
    mask[max(0, best - exclude) : best + exclude + 1] = False
    others = scores[mask]
    if others.size < 3:
        return 0.0
    med = float(np.median(others))
    mad = float(np.median(np.abs(others - med)))
    return (float(scores[best]) - med) / (1.4826 * mad + 0.01)


def _diagonals(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts of ``sim`` (L, Nf) along every diagonal; index ``start + L - 1`` for film start ``start``."""
    length, n_film = sim.shape
    acc = np.zeros(length + n_film - 1, np.float64)
    cnt = np.zeros_like(acc)
    for j in range(length):
        k0 = length - 1 - j
        acc[k0 : k0 + n_film] += sim[j]
        cnt[k0 : k0 + n_film] += 1
    return acc, cnt


def _segmented_diagonals(
    sim: np.ndarray, segments: list[int], max_skip: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like ``_diagonals`` for a shot cut into segments at ``segments`` (row offsets, 0 first): each later
    segment takes the film shift 0..``max_skip`` (added to the earlier ones) that scores it best.

    Returns:
        (acc, cnt, shift), each indexed like ``_diagonals`` by the first segment's film start: the
        summed similarity, the frames on the film, and each segment's own shift ((segments, size);
        row 0, the first segment's, is 0).
    """
    length, n_film = sim.shape
    size = length + n_film - 1
    starts = np.arange(size) - (length - 1)  # film frame of row 0
    acc = np.zeros(size, np.float64)
    cnt = np.zeros(size, np.float64)
    shift = np.zeros(size, np.int64)
    own = np.zeros((len(segments), size), np.int64)
    bounds = [*segments, length]
    for k in range(len(segments)):
        a, b = bounds[k], bounds[k + 1]
        seg_acc, seg_cnt = _diagonals(sim[a:b])
        seg_len = b - a
        best_acc = np.full(size, -np.inf)
        best_cnt = np.zeros(size)
        best_d = np.zeros(size, np.int64)
        for d in range(max_skip + 1 if k else 1):
            idx = starts + a + shift + d + seg_len - 1
            ok = (idx >= 0) & (idx < seg_acc.shape[0])
            at = np.clip(idx, 0, seg_acc.shape[0] - 1)
            cand = np.where(ok, seg_acc[at], 0.0)
            better = cand > best_acc
            best_acc = np.where(better, cand, best_acc)
            best_cnt = np.where(better, np.where(ok, seg_cnt[at], 0.0), best_cnt)
            best_d = np.where(better, d, best_d)
        acc += best_acc
        cnt += best_cnt
        shift += best_d
        own[k] = best_d
    return acc, cnt, own


# mean similarity within which a start that fits both film cuts wins (``_match_shot``). On the cached offset
# inputs of 194 looked-at and tuning stress reels such starts trailed the best by 0.0015-0.0053 where they
# were right (111, 1188, 1228) and by 0.067-0.61 where not; any value from 0.01 to 0.05 pairs them alike.
_EDGES_TIE = 0.02
_PLACE_GAIN = 0.03  # summed similarity a boundary move must gain (``_placed_segments``)


def _placed_segments(
    sim: np.ndarray,
    segments: list[int],
    max_skip: int,
    firm: Collection[int] = (),
    spans: Mapping[int, tuple[int, int]] | None = None,
    loose: Collection[tuple[int, int]] = (),
) -> list[int]:
    """``segments`` (row offsets, 0 first) with each later boundary moved where the film matches better
    (in order, each on the ones before): by up to a frame either way, or anywhere in its span. A cadence
    break says where the pulldown's phase changes, which may be a frame before the film frames an edit
    dropped (stress seeds 112 and 115: the old piece's last film frame kept two fields of the new
    phase). A move must raise the shot's summed similarity by ``_PLACE_GAIN``; boundaries in ``firm``
    stay (a lone field at the break, whose partner the edit cut away, is the new piece's first film
    frame: there a frame rebuilt from one field, whose motion signature spans the gap, made moves gain
    0.019 and 0.030 that misplaced the jump, seeds 112 and 1083, where the right moves gained 0.038 and
    0.108).

    ``spans``: boundary row -> (first, last) rows where the break could sit as well: where the
    cadence's evidence cannot tell the frames' phases apart (``decision_margins``), breaking at any of
    them pairs the fields alike and costs the same, and the decision takes one of them (held-out seed
    1205: the break a frame before the gap, the film frame before it unmoved by 0.002; 1202: three
    frames before it). ``loose``: such spans (rows, clipped to the shot) of a break outside the shot:
    a boundary is added at the row of one where the film gains ``_PLACE_GAIN`` by it (1202: a break
    placed 2 frames before a shot's cut whose span reaches the gap, at the shot's second frame: +0.27).
    """
    length = sim.shape[0]
    placed = list(segments)
    spans = spans or {}

    def best(candidate: list[int]) -> float:
        acc, _, _ = _segmented_diagonals(sim, candidate, max_skip)
        return float(np.max(acc))

    score = best(placed)
    for k in range(1, len(placed)):
        if placed[k] in firm:
            continue
        low = placed[k - 1] + 1
        high = placed[k + 1] - 1 if k + 1 < len(placed) else length - 1
        here = placed[k]
        lo, hi = spans.get(here, (here, here))
        rows = {here - 1, here + 1, *range(lo, hi + 1)} - {here}
        for b in sorted(r for r in rows if low <= r <= high):
            trial = [*placed[:k], b, *placed[k + 1 :]]
            trial_score = best(trial)
            if trial_score > score + _PLACE_GAIN:
                placed, score = trial, trial_score
    for lo, hi in loose:
        for b in range(max(lo, 1), min(hi, length - 1) + 1):
            if b in placed:
                continue
            trial = sorted([*placed, b])
            trial_score = best(trial)
            if trial_score > score + _PLACE_GAIN:
                placed, score = trial, trial_score
    return placed


def _match_shot(
    b: tuple[np.ndarray, np.ndarray],
    f: tuple[np.ndarray, np.ndarray],
    first: int,
    last: int,
    film_cuts: list[int],
    params: OffsetParams,
    segments: list[int] | None = None,
    firm: Collection[int] = (),
    spans: Mapping[int, tuple[int, int]] | None = None,
    loose: Collection[tuple[int, int]] = (),
    edited_start: bool = False,
    edited_end: bool = False,
) -> ShotMatch:
    """Find the film start of one shot from its appearance and motion signatures ``b`` ((L, 192) each,
    ``signatures``) and the film's ``f`` ((Nf, 192) each), through their (L, Nf) similarity block.

    1. Every start is scored by the diagonal's *sum* over the overlap divided by L (frames off the
       film count 0, so a start cannot win by dropping frames); the best is the content's answer.
    2. That answer is only good to a few frames: in a zoom, a broadcast framed a few percent tighter
       than the film looks most like a film frame a few frames later or earlier. The film's own cuts
       are exact, so a film shot start within ``snap`` frames of the answer (the shot starts there) or
       a film shot end within ``snap`` frames of where the answer puts the shot's last frame (the shot
       ends there) replaces it; of several, the one whose diagonal scores best, unless one within
       ``_EDGES_TIE`` of that puts *both* the shot's edges on film cuts (its segments' own shifts
       included): in a slow dissolve the broadcast's grade and blur shift the frame it looks most like by
       a frame or two, so a start that fits the film shot's start with a jump at the cadence break and
       one that fits its end without the jump scored alike (looked-at seed 1228: 0.693 and 0.694, 12
       frames paired a frame late after the still shot before it).
    3. The match score is the *mean* similarity over the overlap at the chosen start (a film that
       starts or ends inside the shot is not penalised for it).

    ``segments``: row offsets (0 first) where the shot is cut by an edit after telecine
    (``_segmented_diagonals``); None or [0]: one diagonal. ``firm``: those of them not to move
    (``_placed_segments``); ``spans``, ``loose``: where else they, and breaks outside the shot, may go
    (as there). 4. Jumps that no cadence break marks are added where the film says so (``_free_jumps``,
    which judges the frame right after such a jump on the signatures themselves). ``edited_start``,
    ``edited_end``: a cadence break opens the shot, or the one after it; that edge takes no film cut
    in step 2, and an edited start pairs the shot's first frame on its appearance alone.
    """
    sim = _similarity(b, f, slice(None))
    # the shot's first frame: its motion signature is the step across the cut into it, which matches the
    # film's step into a frame only where the shot before is the same in both; after a video stretch or
    # a shot whose film is lost it only lowers the right frame's score, so the frame scores the better of
    # that and its appearance alone. After an edit it may raise a wrong one: the edit may have dropped
    # the film shot's first frames, and the step across it then matches the film's step into the film
    # shot's first frame, a frame the broadcast no longer shows (a still shot: 0.98 there, 0.5 at its own)
    sim[0] = b[0][0] @ f[0].T if edited_start else np.maximum(sim[0], b[0][0] @ f[0].T)
    length, n_film = sim.shape
    if segments is not None and (len(segments) > 1 or loose):
        segments = _placed_segments(sim, segments, params.max_skip, firm, spans, loose)
    if segments is not None and len(segments) > 1:
        acc, cnt, own = _segmented_diagonals(sim, segments, params.max_skip)
    else:
        acc, cnt = _diagonals(sim)
        own = np.zeros((1, acc.shape[0]), np.int64)
        segments = [0]
    shift = own.sum(axis=0)
    need = min(n_film, max(1, (length + 1) // 2))
    sums = np.where(cnt >= need, acc / length, -np.inf)
    best = int(np.argmax(sums))
    if not np.isfinite(sums[best]):
        return ShotMatch(first, last, None, None, None)
    start = best - (length - 1)
    ends = [c - 1 for c in film_cuts[1:]] + [n_film - 1]
    skip = int(shift[best])

    def edges_on_cuts(s0: int) -> int:
        """How many of the shot's edges start ``s0`` puts on the film's cuts (with its segments' own shifts)."""
        on_start = not edited_start and s0 in film_cuts
        on_end = not edited_end and s0 + length - 1 + int(shift[s0 + length - 1]) in ends
        return int(on_start) + int(on_end)

    snapped = [] if edited_start else [c for c in film_cuts if abs(c - start) <= params.snap]
    if not edited_end:
        snapped += [
            e - length + 1 - skip for e in ends if abs(e - (start + length - 1 + skip)) <= params.snap
        ]
    snapped = [s0 for s0 in snapped if np.isfinite(sums[s0 + length - 1])]
    if snapped:
        top = max(float(sums[s0 + length - 1]) for s0 in snapped)
        near = [s0 for s0 in snapped if sums[s0 + length - 1] >= top - _EDGES_TIE]
        start = max(near, key=lambda s0: (edges_on_cuts(s0), float(sums[s0 + length - 1])))
        best = start + length - 1
    score = float(acc[best] / cnt[best])
    z = _robust_z(sums, best, params.exclude)
    if score < params.min_score and not (score >= params.distinct_score and z >= params.min_z):
        return ShotMatch(first, last, None, score, z)
    # where a later segment matched the film further on, the film jumps there: frames after an edit
    # made after telecine are shown with their own film frames, not the ones the first diagonal gives
    jumps: list[tuple[int, int]] = []
    skipped = 0
    for k in range(1, len(segments)):
        d = int(own[k, best])
        skipped += d
        if d > 0:
            jumps.append((first + segments[k], start + segments[k] + skipped))
    path = np.array([film_index((start, first), jumps, first + j) for j in range(length)], np.int64)
    cols = _free_jumps(path, params.max_skip, b, f, film_cuts, segments[1:], edited_start)
    if not (edited_start or edited_end):
        cols = _fit_jump(cols, params.max_skip, b, f, film_cuts, segments[1:])
    if not np.array_equal(cols, path):
        start = int(cols[0])
        jumps = [(first + j, int(cols[j])) for j in range(1, length) if cols[j] != cols[j - 1] + 1]
        on = (cols >= 0) & (cols < n_film)
        score = float(sim[np.nonzero(on)[0], cols[on]].mean()) if on.any() else score
    return ShotMatch(first, last, start, score, z, tuple(jumps))


_FREE_JUMP_GAIN = 0.3  # summed similarity a jump with no cadence break must gain (``_free_jumps``)
_FREE_JUMP_ROWS = 3  # frames a free jump needs on either side of it
_FREE_JUMPS = 3  # the most free jumps one shot takes


def _step_ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How alike two step sizes are (0..1]: the smaller over the larger, ``_STEP_FLOOR`` added to both."""
    return (np.minimum(x, y) + _STEP_FLOOR) / (np.maximum(x, y) + _STEP_FLOOR)


_STEP_FLOOR = 0.02  # a signature step this size is as good as none (grain on a still picture)


def _path_similarity(
    cols: np.ndarray,
    offsets: np.ndarray,
    b: tuple[np.ndarray, np.ndarray],
    f: tuple[np.ndarray, np.ndarray],
    edited_start: bool = False,
) -> np.ndarray:
    """(L, K, K) similarity of row ``r`` of a shot to film frame ``cols[r] + offsets[j]`` when row ``r - 1``
    shows ``cols[r - 1] + offsets[i]`` (index ``[r, i, j]``; ``[r, i, i]``: the path shifted by
    ``offsets[i]``). Half the appearance cosine, half the motion term: the cosine between the broadcast's
    step into the row and the film's step between those two frames, times how alike the two steps' sizes
    are (``_step_ratio``). A frame right after a jump spans the gap in the broadcast and the path's film
    step spans it too; by direction alone a steady pan looks the same over one frame or four, so the
    size tells where the jump is (a jump placed three frames early in a slow pan matched as well).
    ``b``: the shot's appearance and motion signatures (L, 192) each, ``f``: the film's (Nf, 192)
    (``signatures``). Row 0, whose step crosses the cut into the shot, is scored as ``_similarity`` does
    (against the film's own step into each frame, across the film's cut at the right one; scored on its
    appearance alone here, as ``_match_shot`` does, 12 more frames of the cached looked-at stress reels
    were paired wrong, on 1102 and 1140), or on its appearance alone where a cadence break opens the
    shot (``edited_start``: ``_match_shot``); columns off the film hold 0. An edit at a cut that no break
    marks misleads it: held-out 1369 (before its cadence found the break) took a free jump that paired a
    slow pan's first three rows to its film shot's first frames, 4 early (row 0's step across the cut,
    +0.48, carried it). Row 0 on its appearance alone everywhere fixed that and nothing else changed on
    214 cached reels, but a film framed a few percent off then pulls a shot's first rows a frame late
    (``tests/conform/test_offset.py``'s synthetic edits): not taken."""
    (b_app, b_mot), (f_app, f_mot) = b, f
    length, n_film = b_app.shape[0], f_app.shape[0]
    k = offsets.size
    out = np.zeros((length, k, k))
    b_size = np.zeros(length, np.float32)
    b_size[1:] = np.linalg.norm(b_app[1:] - b_app[:-1], axis=1)
    for r in range(length):
        now = cols[r] + offsets  # (K,)
        off_film = (now < 0) | (now >= n_film)
        if off_film.all():
            continue
        now_c = np.clip(now, 0, n_film - 1)
        value = np.broadcast_to(0.5 * (f_app[now_c] @ b_app[r])[None, :], (k, k)).copy()
        if r == 0 and edited_start:
            value *= 2.0  # appearance alone: the step across an edit may span film frames it dropped
        elif r == 0:
            value += 0.5 * (f_mot[now_c] @ b_mot[0])[None, :]
        else:
            prev_c = np.clip(cols[r - 1] + offsets, 0, n_film - 1)
            step = f_app[now_c][None, :, :] - f_app[prev_c][:, None, :]  # (K prev, K now, 192)
            size = np.linalg.norm(step, axis=2)
            cosine = (step @ b_mot[r]) / (size + np.float32(1e-2))
            value += 0.5 * cosine * _step_ratio(size, b_size[r])
        value[:, off_film] = 0.0
        out[r] = value
    return out


# summed similarity a jump that fits a shot to both its film cuts must gain (``_fit_jump``)
_FIT_JUMP_GAIN = 0.05
# the first row such a jump may sit at (row 0's score holds its step across the cut)
_FIT_JUMP_FIRST = 2


def _film_shot_margins(first: int, last: int, film_cuts: list[int], n_film: int) -> tuple[int, int] | None:
    """(late, short): how many film frames after its film shot's first frame a shot showing film
    ``first..last`` starts, and how many before that film shot's last frame it ends; None where it is
    off the film (``first < 0``, ``last >= n_film``) or spans a film cut."""
    if first < 0 or last >= n_film:
        return None
    bounds = [*film_cuts, n_film]
    k = int(np.searchsorted(bounds, first, side="right")) - 1
    if k < 0 or k + 1 >= len(bounds) or last >= bounds[k + 1]:
        return None
    return first - bounds[k], bounds[k + 1] - 1 - last


def _fit_jump(
    cols: np.ndarray,
    max_skip: int,
    b: tuple[np.ndarray, np.ndarray],
    f: tuple[np.ndarray, np.ndarray],
    film_cuts: list[int],
    breaks: Collection[int] = (),
) -> np.ndarray:
    """``cols`` ((L,) int64: the film frame each row of a shot shows, ``_free_jumps``'s answer) with one
    more forward jump of ``d`` film frames where that makes the shot fit *both* its film shot's cuts: it
    starts on the film shot's first frame and ends ``d`` (1..``max_skip``) before its last, or the
    reverse. The film's cuts are exact, so the shot either lost ``d`` film frames inside (an edit that
    kept the cadence's phase, which no break marks) or its own edit trimmed the film shot at one end;
    the jump is taken where the film says so by ``_FIT_JUMP_GAIN`` (summed ``_path_similarity``), far
    less than a free jump's ``_FREE_JUMP_GAIN``, at the best row from ``_FIT_JUMP_FIRST`` on (a cadence
    break's row where that is within ``_PLACE_GAIN`` of it, as in ``_free_jumps``). Only for a shot whose
    edges are cuts, not edits (``_match_shot``).

    Measured on the cached offset inputs of 194 looked-at and tuning stress reels: of the 46 matched
    shots (2 frames or more, edges not edited) that fit one film cut and fall 1-6 frames short of the
    other, 18 lose by such a jump (trimmed shots: -1.14 to -0.02), 11 neither gain nor lose (frozen
    pictures) and 17 gain. Of these, the jump pairs right 16 frames of 6 shots that were wrong (902, 986,
    1007, 1106, 1243, 1249; gains 0.10-0.31), 4 frozen shots alike either way, and 1080's shot a frame
    wrong at 0.026; at row 1 it gained 0.11-0.48 wrongly on 1009, 1026, 1106, 1168 and 1288 (the first
    row's step across the cut matching the film's own step across its cut) and rightly on 1040 (0.66).
    Every gain from 0.03 to 0.10 pairs them alike. Signatures as ``_path_similarity``."""
    length = cols.shape[0]
    margins = _film_shot_margins(int(cols[0]), int(cols[-1]), film_cuts, f[0].shape[0])
    if length <= _FIT_JUMP_FIRST or margins is None:
        return cols
    late_start, short_end = margins
    if late_start == 0 and 1 <= short_end <= max_skip:
        before, after = 0, short_end
    elif short_end == 0 and 1 <= late_start <= max_skip:
        before, after = -late_start, 0
    else:
        return cols
    offsets = np.array([before, after], np.int64)
    across = _path_similarity(cols, offsets, b, f)
    cum = np.cumsum(across[:, [0, 1], [0, 1]], axis=0)  # (L, 2): the path shifted by before, by after
    base = float(cum[length - 1, 0 if before == 0 else 1])  # the path as it is
    value = {
        r: float(cum[r - 1, 0] + across[r, 0, 1] + cum[length - 1, 1] - cum[r, 1])
        for r in range(_FIT_JUMP_FIRST, length)
    }
    r = max(value, key=lambda row: value[row])
    if value[r] <= base + _FIT_JUMP_GAIN:
        return cols
    at_break = [row for row in breaks if row in value and value[row] >= value[r] - _PLACE_GAIN]
    if at_break:
        r = max(at_break, key=lambda row: value[row])
    return np.concatenate([cols[:r] + before, cols[r:] + after])


def _kept_in_place(cols: np.ndarray, offsets: np.ndarray, film_cuts: list[int], n_film: int) -> np.ndarray:
    """(K, L) bool: whether row ``r`` shifted by ``offsets[k]`` still shows the same film shot (between the
    same film cuts; off the film stays off it, on the same side)."""
    bounds = np.asarray([*film_cuts, n_film], np.int64)

    def shot_of(c: np.ndarray) -> np.ndarray:
        return np.where(c < 0, -1, np.searchsorted(bounds, c, side="right"))

    here = shot_of(cols)
    return np.stack([shot_of(cols + o) == here for o in offsets])


def _free_jumps(
    cols: np.ndarray,
    max_skip: int,
    b: tuple[np.ndarray, np.ndarray],
    f: tuple[np.ndarray, np.ndarray],
    film_cuts: list[int],
    breaks: Collection[int] = (),
    edited_start: bool = False,
) -> np.ndarray:
    """``cols`` ((L,) int64: the film frame each row of the shot shows) with up to ``_FREE_JUMPS`` more
    forward jumps of 1..``max_skip`` film frames where the film says so with no cadence break: an edit
    after the telecine that removes whole film frames' fields in step with the pulldown (2 film frames
    = 5 fields) keeps the cadence's phase, so nothing in the broadcast marks it (looked-at seeds 1069,
    1102: 4 and 2 film frames dropped, a shot paired 2-4 frames early before or after them). Each jump
    splits the shot at a row at least ``_FREE_JUMP_ROWS`` from either end, shifts the rows before it by
    ``a`` and those after by ``b > a`` (``|a|, |b| <= max_skip``; the jumps already in ``cols`` are
    kept) and is taken when the summed ``_path_similarity`` (frames off the film count 0) gains
    ``_FREE_JUMP_GAIN``; so is a shift of the whole path by ``a``, which undoes a film cut's snap (step
    2 of ``_match_shot``) where the broadcast's own edit trimmed the shot: looked-at seed 1006, a pan
    whose last film frame the broadcast leaves out, snapped to the film shot's end and one frame late,
    took a jump that paired its first three rows a frame early and the rest right (on the cached
    offset inputs of 194 looked-at and tuning stress reels this changes two shots, both now right:
    wrong-paired frames 42 -> 39). Set on the 329 matched shots of 32 looked-at stress reels (1060-1069,
    1080-1089, 1100-1109, tuning 112 and 115): 0.05 added wrong jumps (beside a mis-built frame), 1.0 lost
    1102's; every gain from 0.1 to 0.7, with ``_STEP_FLOOR`` from 0.005 to 0.1, pairs them alike (every
    frame right but 1106's two after a jump at a cadence break that gains 0.002). Without the step
    sizes a jump in a slow synthetic pan was placed three frames early (``tests/conform/test_offset.py``);
    without ``_kept_in_place`` a shot whose film ends inside it took a jump that pulled its first rows
    into the film shot before. A jump in a still or near-still shot gains
    nothing and is not found (nor does the pairing matter much there). Signatures as
    ``_path_similarity``.

    ``breaks``: rows of the shot that follow a cadence break (``_match_shot``'s segments). A jump whose
    place the film cannot tell goes there: one at another row must gain ``_PLACE_GAIN`` over the same
    jump at the best break row, as a segment boundary must to leave its break (``_placed_segments``).
    Looked-at stress seed 1188: a dark shot whose edit after the telecine dropped a film frame at a
    lone field; the segmented diagonal missed the drop, and a one-frame jump at any of rows 3-21 gained
    0.50-0.53, the break's row 0.517 and row 14 0.532, where it went: 9 frames paired a frame early."""
    at_break = np.zeros(cols.shape[0], bool)
    at_break[[r for r in breaks if 0 < r < cols.shape[0]]] = True
    length = cols.shape[0]
    offsets = np.arange(-max_skip, max_skip + 1)
    diagonal = np.arange(offsets.size)
    for _ in range(_FREE_JUMPS):
        if length < 2 * _FREE_JUMP_ROWS:
            break
        across = _path_similarity(cols, offsets, b, f, edited_start)
        band = across[:, diagonal, diagonal]  # (L, K): the path shifted as a whole
        cum = np.vstack([np.zeros(offsets.size), np.cumsum(band, axis=0)])  # (L + 1, K)
        # a shift may not carry a row into another film shot, nor onto the film or off it: frames off the
        # film count 0, so pulling a shot's rows onto the film's end or a neighbour shot would gain
        kept = _kept_in_place(cols, offsets, film_cuts, f[0].shape[0]).astype(np.int64)
        kept_sum = np.hstack([np.zeros((offsets.size, 1), np.int64), np.cumsum(kept, axis=1)])  # (K, L + 1)
        base = float(cum[length, max_skip]) + _FREE_JUMP_GAIN  # offset 0: the path as it is
        best: dict[tuple[bool, int, int], tuple[float, int]] = {}  # (at a break, i, j) -> (value, row)
        for r in range(_FREE_JUMP_ROWS, length - _FREE_JUMP_ROWS + 1):
            before, after = cum[r], cum[length] - cum[r + 1]
            fits_before = kept_sum[:, r] == r
            fits_after = kept_sum[:, length] - kept_sum[:, r] == length - r
            for i in np.nonzero(fits_before)[0].tolist():
                for j in range(i + 1, min(offsets.size, i + max_skip + 1)):
                    if not fits_after[j]:
                        continue
                    value = float(before[i] + across[r, i, j] + after[j])
                    key = (bool(at_break[r]), int(i), j)
                    if value > best.get(key, (-np.inf, 0))[0]:
                        best[key] = (value, r)
        # the whole path shifted: a film cut that snapped the shot's start or end a frame or two off, where
        # the broadcast's own edit trimmed the shot (a jump could only move all but its first rows)
        for i in np.nonzero(kept_sum[:, length] == length)[0].tolist():
            if offsets[i] != 0:
                best[(False, int(i), int(i))] = (float(cum[length, i]), 0)
        top = max(best.items(), key=lambda kv: kv[1][0], default=None)
        if top is None or top[1][0] <= base:
            break
        (_, i, j), (value, r) = top
        at = best.get((True, i, j))
        if at is not None and at[0] > base and at[0] >= value - _PLACE_GAIN:
            r = at[1]  # the film cannot tell the jump's place: the cadence break's row
        lo, hi = int(offsets[i]), int(offsets[j])
        cols = np.concatenate([cols[:r] + lo, cols[r:] + hi])
    return cols


def _monotonic(shots: list[ShotMatch]) -> list[ShotMatch]:
    """Unmatch shots whose film would run backwards against the others: the film is in broadcast order.

    Keeps the heaviest (frames x score) chain of matched shots whose film starts increase with
    their broadcast position and do not overlap; the rest become unmatched.
    """
    idx = [k for k, s in enumerate(shots) if s.film_first is not None]
    if len(idx) < 2:
        return shots
    weight = {k: (shots[k].last - shots[k].first + 1) * (shots[k].match_score or 0.0) for k in idx}
    best: dict[int, tuple[float, int | None]] = {}
    for a, k in enumerate(idx):
        best[k] = (weight[k], None)
        for k2 in idx[:a]:
            s1, s2 = shots[k2], shots[k]
            end1 = s1.film_last
            if s2.film_first > end1 and best[k2][0] + weight[k] > best[k][0]:  # type: ignore[operator]
                best[k] = (best[k2][0] + weight[k], k2)
    node: int | None = max(idx, key=lambda j: best[j][0])
    keep: set[int] = set()
    while node is not None:
        keep.add(node)
        node = best[node][1]
    return [
        s if (k2 in keep or s.film_first is None) else ShotMatch(s.first, s.last, None, s.match_score, s.z)
        for k2, s in enumerate(shots)
    ]


def global_curve(b: tuple[np.ndarray, np.ndarray], f: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(Nb + Nf - 1,) mean similarity of the whole broadcast against the whole film at each offset.

    Index k stands for offset o = k - (Nf - 1) (film frame s shown at output frame s + o); offsets that
    overlap fewer than 8 frames (or fewer than all, for shorter inputs) are -inf.
    """
    nb, nf = b[0].shape[0], f[0].shape[0]
    acc = np.zeros(nb + nf - 1, np.float64)
    cnt = np.zeros_like(acc)
    chunk = 256
    for start in range(0, nb, chunk):
        rows = slice(start, min(nb, start + chunk))
        sim = _similarity(b, f, rows)
        for j in range(sim.shape[0]):
            t = start + j
            acc[t : t + nf] += sim[j, ::-1]
            cnt[t : t + nf] += 1
    need = min(8, nb, nf)
    return np.where(cnt >= need, acc / np.maximum(cnt, 1), -np.inf).astype(np.float32)


def _shot_spans(
    break_spans: Mapping[int, tuple[int, int]], first: int, last: int
) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int]]]:
    """``find_offset``'s ``break_spans`` as rows of the shot ``first..last``: those of its own breaks
    (row -> (first, last) rows) and those of breaks outside it whose span reaches past its first row."""
    own: dict[int, tuple[int, int]] = {}
    loose: list[tuple[int, int]] = []
    for k, (lo, hi) in break_spans.items():
        lo, hi = max(lo, first + 1) - first, min(hi, last) - first
        if lo > hi:
            continue
        if first < k <= last:
            own[k - first] = (lo, hi)
        else:
            loose.append((lo, hi))
    return own, loose


def _trimmed_cuts(shots: list[ShotMatch], film_cuts: list[int], n_film: int, max_skip: int) -> set[int]:
    """Cuts (output frames) where the shot on one side was trimmed: it fits its film shot from the other
    edge on, the film shot's cut there included, and stops 1..``max_skip`` film frames short of the film
    shot's edge at this cut (or starts that many after it). Only the broadcast's own edit does that, and
    an edit after telecine trims both sides of its cut alike, so the cut is an edited edge for the shot
    on the other side too (``_match_shot``'s ``edited_start``, ``edited_end``): a cut that no cadence
    break marks (the pieces joined at phases that follow on). Held-out stress seeds 1500 and 1504: a
    shot trimmed at its end by 2 and 4, and the next one at its start by 3 and 1, which, fitted to its
    film shot's start, took a jump to reach its end too (``_fit_jump``): its first 2 and 5 frames paired
    3 and 1 film frames early."""
    out: set[int] = set()
    for a, z in itertools.pairwise(shots):
        for s, at_cut_end in ((a, True), (z, False)):  # the cut is a's end and z's start
            if s.film_first is None or s.film_last is None:
                continue
            margins = _film_shot_margins(s.film_first, s.film_last, film_cuts, n_film)
            if margins is None:
                continue
            late, short = margins
            trim, other = (short, late) if at_cut_end else (late, short)
            if other == 0 and 1 <= trim <= max_skip:
                out.add(z.first)
    return out


def _settled_cuts(
    shots: list[ShotMatch], edits: set[int], break_spans: Mapping[int, tuple[int, int]], film_cuts: list[int]
) -> set[int]:
    """Cuts in ``edits`` only because a cadence break's span (``find_offset``'s ``break_spans``) reaches
    them, where the film places that break's edit inside the shot on one side (a film jump of that
    shot in the same span) and the shot on the other side starts (or ends) exactly on its film shot's
    edge: the edit is the jump, not the cut, so the cut is a film cut for both shots (``_match_shot``
    fits their edges to the film's cuts again). Looked-at stress seed 1485: an edit two frames before a
    fading shot's last cut film frames 131-133; the break's span reached the cut after it, so the
    shot's end took no film cut, and two dark frames sized the jump 2: the shot's last two frames a
    film frame early."""
    starts = set(film_cuts)
    out: set[int] = set()
    for a, z in itertools.pairwise(shots):
        cut = z.first
        if cut not in edits or a.film_last is None or z.film_first is None:
            continue
        spans = [(lo, hi) for lo, hi in break_spans.values() if lo <= cut <= hi]
        in_a = any(lo <= j < cut for j, _ in a.film_jumps for lo, hi in spans)
        in_z = any(cut < j <= hi for j, _ in z.film_jumps for lo, hi in spans)
        z_on_cut = z.film_first in starts
        a_on_cut = a.film_last + 1 in starts
        if (in_a and z_on_cut) or (in_z and a_on_cut):
            out.add(cut)
    return out


def find_offset(
    broadcast_thumbs: np.ndarray,
    film_thumbs: np.ndarray,
    cuts: list[int],
    params: OffsetParams | None = None,
    breaks: list[int] | None = None,
    firm_breaks: Collection[int] = (),
    break_spans: Mapping[int, tuple[int, int]] | None = None,
) -> OffsetResult:
    """Match the film to the broadcast: per-shot film starts, the global offset, or no match.

    Args:
        broadcast_thumbs: (Nb, h, w, 3) thumbnails of the conformed frames.
        film_thumbs: (Nf, h, w, 3) thumbnails of the film frames 0..Nf-1 (contiguous).
        cuts: first output frame of every shot (0 first), as from ``cuts.detect_cuts``.
        breaks: output frames that follow a cadence break (an edit after telecine may have dropped
            film frames just before them); shots are matched in segments split there, each split
            moved by a frame where the film says so (``_placed_segments``) unless it is in
            ``firm_breaks``: frames known to open the new piece (a lone field the edit cut from its
            partner: the first film frame after the gap).
        break_spans: break frame -> (first, last) output frames where the cadence could have placed it
            at about the same cost (``pipeline``: its frames of uncertain phase, ``decision_margins``);
            the split may go anywhere in it where the film says so, into the next shot too. A cut in a
            break's span is an edited shot edge (``_match_shot``'s ``edited_start``, ``edited_end``).
    """
    p = params or OffsetParams()
    nb, nf = broadcast_thumbs.shape[0], film_thumbs.shape[0]
    b, f = signatures(broadcast_thumbs), signatures(film_thumbs)
    film_cuts = detect_cuts(film_thumbs)[0] if nf else []
    bounds = [(c, (cuts[k + 1] - 1) if k + 1 < len(cuts) else nb - 1) for k, c in enumerate(cuts)]
    # an edit may lie anywhere in its break's span: a cut there may be where it fell
    edits = set(breaks or ()) | {c for c in cuts for lo, hi in (break_spans or {}).values() if lo <= c <= hi}

    def match(first: int, last: int) -> ShotMatch:
        if nf == 0:
            return ShotMatch(first, last, None, None, None)
        segments = [0, *sorted({k - first for k in (breaks or ()) if first < k <= last})]
        firm = {k - first for k in firm_breaks if first < k <= last}
        spans, loose = _shot_spans(break_spans or {}, first, last)
        rows = slice(first, last + 1)
        return _match_shot(
            (b[0][rows], b[1][rows]), f, first, last, film_cuts, p, segments, firm, spans, loose,
            edited_start=first in edits, edited_end=last + 1 in edits,
        )  # fmt: skip

    shots = [match(first, last) for first, last in bounds]
    trimmed = _trimmed_cuts(shots, film_cuts, nf, p.max_skip) - edits
    settled = _settled_cuts(shots, edits, break_spans or {}, film_cuts) - set(breaks or ())
    if trimmed or settled:
        edits = (edits | trimmed) - settled
        shots = [match(s.first, s.last) if {s.first, s.last + 1} & (trimmed | settled) else s for s in shots]
    curve = global_curve(b, f) if nb and nf else np.zeros(0, np.float32)
    g_off = g_score = g_z = None
    if curve.size and np.isfinite(curve).any():
        k = int(np.argmax(curve))
        g_off, g_score, g_z = k - (nf - 1), float(curve[k]), _robust_z(curve, k, p.exclude)
    shots = _monotonic(shots)
    matched = [s for s in shots if s.film_first is not None]
    offset: int | None = None
    if matched:
        holding = [s for s in matched if s.film_first <= 0 <= s.film_last]  # type: ignore[operator]
        anchor = holding[0] if holding else min(matched, key=lambda s: s.film_first)  # type: ignore[arg-type,return-value]
        offset = anchor.first - anchor.film_first  # type: ignore[operator]
        message = f"film frame 0 is output frame {offset}; {len(matched)} of {len(shots)} shots matched"
    elif g_score is not None and g_z is not None and g_score >= p.min_score and g_z >= p.min_z:
        offset = g_off
        message = f"film frame 0 is output frame {offset} (whole-reel match; no single shot was conclusive)"
    else:
        message = (
            "no match: the film does not match the broadcast "
            f"(best shot score {max((s.match_score or -1.0) for s in shots) if shots else float('nan'):.2f}, "
            f"needs >= {p.min_score}); is it the film of another show or reel?"
        )
    return OffsetResult(
        offset=offset,
        matched=offset is not None,
        shots=shots,
        global_offset=g_off,
        global_score=g_score,
        global_z=g_z,
        global_curve=curve,
        message=message,
        film_cuts=tuple(int(c) for c in film_cuts),
    )


def join_continuing(result: OffsetResult, max_skip: int) -> tuple[OffsetResult, list[int]]:
    """Join each pair of consecutive matched shots across which the film runs on with a gap: the second
    starts 2..``max_skip`` + 1 film frames after the first ends, with no film cut from the first's last
    film frame to the second's first. The picture changed there, but not the film shot: an edit inside
    it dropped a few film frames, with a jump large enough to look like a cut (looked-at stress seed
    1063: three fields dropped in a pan of 29 px a frame, a cut found at frame 149, film 149 -> 154;
    1106 and 1108: 3 and 2 film frames dropped in a fade and a dissolve). Where the film runs on frame
    by frame the cut stays: that is the film's own soft transition (a dissolve or a fade starts there,
    which the film's hard-cut detector does not mark; 1085, 1100, 1108, 1109). The joined shot keeps
    the first's start and carries a film jump (``film_jumps``) where the film skips; its score is the
    frame-weighted mean of the two, its z the smaller.

    Returns:
        (the result with those shots joined, the output frames whose cut was joined away).
    """
    shots, joined = list(result.shots[:1]), []
    cuts = np.asarray(result.film_cuts, np.int64)
    for s in result.shots[1:]:
        a = shots[-1]
        end = a.film_last
        if a.film_first is None or s.film_first is None or end is None:
            shots.append(s)
            continue
        gap = s.film_first - end
        film_cut = bool(np.any((cuts > end) & (cuts <= s.film_first)))
        if not 2 <= gap <= max_skip + 1 or film_cut:
            shots.append(s)
            continue
        la, ls = a.last - a.first + 1, s.last - s.first + 1
        score = None if a.match_score is None or s.match_score is None else (
            (la * a.match_score + ls * s.match_score) / (la + ls)
        )  # fmt: skip
        z = None if a.z is None or s.z is None else min(a.z, s.z)
        shots[-1] = ShotMatch(
            a.first, s.last, a.film_first, score, z, (*a.film_jumps, (s.first, s.film_first), *s.film_jumps)
        )
        joined.append(s.first)
    if not joined:
        return result, []
    return replace(result, shots=shots), joined
