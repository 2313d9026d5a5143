"""Temporal offset between conformed frames and film: exact, per shot, with gaps, and "no match"."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from remaster_core.conform.cuts import frame_thumbnail
from remaster_core.conform.offset import OffsetParams, find_offset, join_continuing
from tests.conform import OTHER_PICTURES, PICTURES, shot_frames

LENGTHS = [14, 9, 20, 12]


def _shots(pictures: tuple[str, ...], seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [shot_frames(pictures[k], n, rng) for k, n in enumerate(LENGTHS)]


_GAMMA = np.clip((np.arange(256) / 255.0) ** 0.8 * 255.0, 0, 255).astype(np.uint8)


def _as_film(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A film-like version of a broadcast frame: another grade, another framing, more pixels, grain."""
    graded = cv2.LUT(frame, _GAMMA).astype(np.float32) * np.float32([1.1 / 255, 1.0 / 255, 0.85 / 255]) + 0.03
    h, w = graded.shape[:2]
    big = cv2.resize(graded[6 : h - 2, 3 : w - 9], (w * 3 // 2, h * 3 // 2), interpolation=cv2.INTER_CUBIC)
    return np.clip(big + 0.02 * rng.standard_normal(big.shape, dtype=np.float32), 0, 1)


def _thumbs(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack(
        [frame_thumbnail(f.astype(np.float32) / 255 if f.dtype == np.uint8 else f) for f in frames]
    )


LEADER = 5


def _broadcast(shots: list[list[np.ndarray]]) -> tuple[np.ndarray, list[int]]:
    leader = [np.full_like(shots[0][0], 40)] * LEADER
    frames = leader + [f for s in shots for f in s]
    cuts = [0, *np.cumsum([LEADER, *LENGTHS[:-1]]).tolist()]
    return _thumbs(frames), cuts


def _excerpt(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A stored excerpt of a stress reel (``data/NAME``, loaded without pickle): the conformed frames'
    and the film frames' thumbnails, uint8 (N, h, w, 3) each (``cuts.frame_thumbnail``)."""
    with np.load(Path(__file__).parent / "data" / name, allow_pickle=False) as data:
        return data["broadcast"], data["film"]


def test_offset_exact_with_gaps_extra_and_short_film() -> None:
    shots = _shots(PICTURES, 0)
    broadcast, cuts = _broadcast(shots)
    rng = np.random.default_rng(1)
    film_shots = [[_as_film(f, rng) for f in s] for s in shots]
    # every shot on film: one global offset
    r = find_offset(broadcast, _thumbs([f for s in film_shots for f in s]), cuts)
    assert r.matched and r.offset == LEADER
    assert [s.film_first for s in r.shots] == [None, 0, 14, 23, 43]
    # shot 1 missing from the scan (the film is numbered on without a gap), 3 extra frames before shot 0,
    # and the film ends 7 frames into the last shot (more than half of it: still matched)
    extra = [_as_film(np.full_like(shots[0][0], 200), rng)] * 3
    film = extra + film_shots[0] + film_shots[2] + film_shots[3][:7]
    r = find_offset(broadcast, _thumbs(film), cuts)
    assert r.offset == LEADER - 3  # film frame 0 is an extra frame, 3 before the first shot
    assert [s.film_first for s in r.shots] == [None, 3, None, 17, 37]


def _edited_inside_shot_2() -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray, list[int]]:
    """(shots, film thumbnails, broadcast thumbnails, cuts) where an edit after the telecine dropped film
    frames 31-33 from the third shot (its first 8 frames kept)."""
    shots = _shots(PICTURES, 0)
    rng = np.random.default_rng(1)
    film = _thumbs([_as_film(f, rng) for s in shots for f in s])
    edited = [shots[0], shots[1], [*shots[2][:8], *shots[2][11:]], shots[3]]
    leader = [np.full_like(shots[0][0], 40)] * LEADER
    cuts = [0, *np.cumsum([LEADER, *[len(s) for s in edited[:-1]]]).tolist()]
    return shots, film, _thumbs(leader + [f for s in edited for f in s]), cuts


def test_frames_dropped_inside_a_shot_by_an_edit_after_telecine_are_a_film_jump() -> None:
    """A shot that lost film frames to an edit made after the telecine (a cadence break there) is
    matched in segments, and the frames after the break are given the film frames after the gap
    (``film_jumps``), not the next ones on the first diagonal."""
    _, film, broadcast, cuts = _edited_inside_shot_2()
    brk = cuts[3] + 8  # the first output frame after the break
    r = find_offset(broadcast, film, cuts, breaks=[brk])
    assert [s.film_first for s in r.shots] == [None, 0, 14, 23, 43]
    assert r.shots[3].film_jumps == ((brk, 34),) and r.shots[3].film_last == 42
    assert all(not s.film_jumps for k, s in enumerate(r.shots) if k != 3)
    # without the break (an edit that kept the pulldown's phase) the film alone shows the jump
    r = find_offset(broadcast, film, cuts)
    assert [s.film_first for s in r.shots] == [None, 0, 14, 23, 43]
    assert r.shots[3].film_jumps == ((brk, 34),)
    assert all(not s.film_jumps for k, s in enumerate(r.shots) if k != 3)


def test_no_jump_is_found_where_the_film_has_none() -> None:
    """Free jumps (no cadence break) are taken only where the film clearly shows them: shots that run
    through their film unedited, a still one among them (grain only), get none, and a jump too close to
    the shot's end to show (two frames) is left alone rather than guessed."""
    rng = np.random.default_rng(7)
    shots = [shot_frames(PICTURES[k], n, rng, static=k == 1) for k, n in enumerate(LENGTHS)]
    film = _thumbs([_as_film(f, rng) for s in shots for f in s])
    broadcast, cuts = _broadcast(shots)
    r = find_offset(broadcast, film, cuts)
    assert [s.film_first for s in r.shots] == [None, 0, 14, 23, 43]
    assert all(not s.film_jumps for s in r.shots)
    # the still shot with film frames 17-19 dropped: nothing to see, one diagonal
    edited = [shots[0], [*shots[1][:3], *shots[1][6:]], shots[2], shots[3]]
    leader = [np.full_like(shots[0][0], 40)] * LEADER
    cuts = [0, *np.cumsum([LEADER, *[len(s) for s in edited[:-1]]]).tolist()]
    r = find_offset(_thumbs(leader + [f for s in edited for f in s]), film, cuts)
    assert not r.shots[2].film_jumps and r.shots[1].film_first == 0 and r.shots[3].film_first == 23


def test_film_of_another_show_is_no_match() -> None:
    broadcast, cuts = _broadcast(_shots(PICTURES, 2))
    rng = np.random.default_rng(3)
    other = [_as_film(f, rng) for s in _shots(OTHER_PICTURES, 4) for f in s]
    r = find_offset(broadcast, _thumbs(other), cuts)
    assert not r.matched and r.offset is None
    assert all(s.film_first is None for s in r.shots)
    assert "no match" in r.message


def test_no_film_frames() -> None:
    broadcast, cuts = _broadcast(_shots(PICTURES, 5))
    r = find_offset(broadcast, np.zeros((0, 36, 48, 3), np.float32), cuts)
    assert r.offset is None and not r.matched


def test_a_cut_found_at_an_edit_inside_a_film_shot_is_joined_away() -> None:
    """An edit that dropped film frames 31-33 in a fast enough move looks like a cut: the shot is split
    there, and the film, running on across it with a gap and no film cut, joins the halves again with a
    film jump. A cut where the film runs on frame by frame (the start of a dissolve in the film) stays,
    and so does one at a film cut where frames were dropped before it."""
    shots, film, broadcast, cuts = _edited_inside_shot_2()
    jump = cuts[3] + 8
    split = find_offset(broadcast, film, sorted([*cuts, jump]))
    assert [(s.first, s.film_first) for s in split.shots[3:5]] == [(cuts[3], 23), (jump, 34)]
    joined, away = join_continuing(split, OffsetParams().max_skip)
    assert away == [jump]
    assert [(s.first, s.last, s.film_first) for s in joined.shots] == [
        (s.first, s.last, s.film_first) for s in find_offset(broadcast, film, cuts).shots
    ]
    assert joined.shots[3].film_jumps == ((jump, 34),) and joined.shots[3].film_last == 42
    # no gap in the film: the cut stays (the film's own soft transition)
    broadcast, cuts = _broadcast(shots)
    soft = find_offset(broadcast, film, sorted([*cuts, cuts[3] + 8]))
    assert join_continuing(soft, OffsetParams().max_skip) == (soft, [])
    # film frames 11-13, the end of the first shot, dropped: a gap across a film cut, which stays a cut
    edited = [shots[0][:-3], shots[1], shots[2], shots[3]]
    cuts = [0, *np.cumsum([LEADER, *[len(s) for s in edited[:-1]]]).tolist()]
    leader = [np.full_like(shots[0][0], 40)] * LEADER
    at_cut = find_offset(_thumbs(leader + [f for s in edited for f in s]), film, cuts)
    assert [(s.film_first, s.film_last) for s in at_cut.shots[1:3]] == [(0, 10), (14, 22)]
    assert join_continuing(at_cut, OffsetParams().max_skip) == (at_cut, [])


def test_a_short_shot_after_a_shot_whose_film_is_lost_is_matched_on_its_appearance() -> None:
    """A 1-2 frame remnant of film shot C right after a broadcast shot whose film is lost (X): the step
    into its first frame crosses the cut from X, the film's from B, so their motion signatures differ;
    the shot's first frame is scored on its appearance where that is better, so the remnant scores as
    its picture matches (0.83-0.95 here), not dragged towards ``min_score`` (0.59-0.78 before; on the
    cached looked-at stress reels, shots holding 140 frames in 9 reels had been left without film, and
    1140's 15 frames paired 2 early)."""
    from tests.conform import OTHER_PICTURES

    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, b, c, d = (shot_frames(PICTURES[k], n, rng) for k, n in enumerate((14, 9, 20, 12)))
        x = shot_frames(OTHER_PICTURES[seed], 8, rng)
        frng = np.random.default_rng(100 + seed)
        film = _thumbs([_as_film(f, frng) for f in a + b + c + d])
        for n in (1, 2):
            frames = [np.full_like(a[0], 40)] * LEADER + a + x + c[:n] + d
            cuts = [0, LEADER, LEADER + 14, LEADER + 22, LEADER + 22 + n]
            shot = find_offset(_thumbs(frames), film, cuts).shots[3]
            assert shot.film_first == 23 and shot.match_score is not None and shot.match_score > 0.8, (
                seed,
                n,
            )


def test_a_jump_the_film_cannot_place_goes_to_the_cadence_break() -> None:
    """Thumbnails of held-out stress reel 1188's conformed frames 70-94 (a one-frame flash, then a dark
    shot) and its film frames 54-100 (``data/``, uint8, made by ``frame_thumbnail``; loaded without
    pickle). An edit after the telecine dropped the dark shot's 7th film frame at a lone field (output
    frame 76, row 6 here: a firm cadence break). A one-frame jump gains alike at any row of the dark
    shot (0.50-0.53); it goes to the break, where the edit is, not nine frames later."""
    broadcast, film = _excerpt("stress1188_dark_shot_edit.npz")
    shot = find_offset(broadcast, film, [0, 1], breaks=[6], firm_breaks=[6]).shots[1]
    assert (shot.first, shot.last, shot.film_first) == (1, 24, 11)  # film frame 65 of the reel
    assert shot.film_jumps == ((6, 17),)  # film frame 71 after the edit: 70 was cut away


def test_a_break_placed_before_a_cut_may_split_the_shot_after_it() -> None:
    """Thumbnails of held-out stress reel 1202's conformed frames 137-153 and its film frames 136-156
    (``data/``, uint8, ``frame_thumbnail``; loaded without pickle). A 3-frame shot starts at row 11; an
    edit after the telecine dropped three film frames after its first frame. The frames from row 9 to
    row 12 are 2-field frames of uncertain phase, so the cadence broke at row 9, in the shot before,
    where the same pairing costs the same: without the span the short shot is one diagonal, paired by
    its last two frames, and its first frame showed a film frame 3 too late (now its middle one, 3 too
    early)."""
    broadcast, film = _excerpt("stress1202_edit_beside_cut.npz")
    cuts = [0, 11, 14]
    alone = find_offset(broadcast, film, cuts, breaks=[9]).shots[1]
    # the jump that fits both film cuts (``_fit_jump``) may not sit at row 1 of a shot: row 12 shows 12
    assert (alone.film_first, alone.film_jumps) == (11, ((13, 16),))
    shots = find_offset(broadcast, film, cuts, breaks=[9], break_spans={9: (9, 12)}).shots
    assert (shots[1].first, shots[1].last, shots[1].film_first) == (11, 13, 11)
    assert shots[1].film_jumps == ((12, 15),)  # film frames 12-14 were cut away
    # the shot before keeps its single diagonal: nothing there gains from a split
    assert (shots[0].film_first, shots[0].film_jumps) == (0, ())


def test_a_dark_shot_whose_start_stands_out_is_matched_below_the_min_score() -> None:
    """Thumbnails of looked-at stress reel 1221's conformed frames 0-30 (a dark, low-contrast shot of 28
    frames, then 3 of the next) and its film frames 0-57 (``data/``, uint8, ``frame_thumbnail``). The
    tape's noise holds the dark shot's mean similarity to 0.38, under ``min_score``, and it was left
    without film; its right start stands out from every other by a robust z of 17, so it matches."""
    broadcast, film = _excerpt("stress1221_dark_shot.npz")
    shot = find_offset(broadcast, film, [0, 28]).shots[0]
    assert shot.film_first == 0 and shot.match_score is not None and shot.match_score < 0.5
    assert shot.z is not None and shot.z >= OffsetParams().min_z
    assert find_offset(broadcast, film, [0, 28], OffsetParams(distinct_score=0.5)).shots[0].film_first is None


def test_a_film_cut_does_not_fix_a_shot_edge_an_edit_made() -> None:
    """Thumbnails of looked-at stress reel 1265's conformed frames 33-52 and its film frames 15-64
    (``data/``). An edit after the telecine cut the last two film frames of the moving shot at rows
    2-17 (a cadence break at row 18). The film's shot ends two frames after the broadcast's, and taken
    as the shot's end it put the start a frame late (with a jump a frame later still); the edge the
    edit made is no film cut, and the shot is paired on its content and its first frame's film cut."""
    broadcast, film = _excerpt("stress1265_edit_cuts_shot_end.npz")
    shot = find_offset(broadcast, film, [0, 2, 18], breaks=[18]).shots[1]
    assert (shot.first, shot.last, shot.film_first, shot.film_jumps) == (2, 17, 14, ())
    # without the break the film's shot end is taken for the shot's (a frame late), and the content
    # shifts the whole shot back (``_free_jumps``): right either way
    assert find_offset(broadcast, film, [0, 2, 18]).shots[1].film_first == 14


def test_an_edit_that_opens_a_still_shot_is_not_paired_by_its_step() -> None:
    """Thumbnails of held-out stress reel 1280's conformed frames 5-37 and its film frames 0-39
    (``data/``). An edit after the telecine (a cadence break at row 16) dropped the first two film frames
    of a still shot. The broadcast's step across that edit is the step across the film's cut into the
    film shot's first frame (motion cosine 0.98 there, 0.5 at the row's own frame), so the shot was paired
    from that frame with a jump three rows on; after an edit its first row is paired on its appearance."""
    broadcast, film = _excerpt("stress1280_edit_opens_still_shot.npz")
    edited = find_offset(broadcast, film, [0, 16], breaks=[16], break_spans={16: (16, 22)}).shots
    assert [(s.first, s.last, s.film_first, s.film_jumps) for s in edited] == [
        (0, 15, 0, ()),
        (16, 32, 18, ()),
    ]
    # without the break the step into the shot counts, and pairs its first rows two film frames early
    assert find_offset(broadcast, film, [0, 16]).shots[1].film_first == 16


def test_a_cut_in_a_break_span_is_an_edited_shot_start() -> None:
    """Thumbnails of held-out stress reel 1288's conformed frames 13-81 and its film frames 11-85
    (``data/``). An edit after the telecine dropped the last film frame of the shot at rows 0-26 and the
    first two of the still shot after it; the cadence placed its break a frame before the cut (row 26),
    where it could as well have been at the cut (its span). The cut in the span opens the still shot by
    an edit, whose first row is then paired on its appearance alone, not on its step across the cut (which
    matched the film shot's first frame, one the edit dropped)."""
    broadcast, film = _excerpt("stress1288_edit_at_cut.npz")
    shot = find_offset(broadcast, film, [0, 27], breaks=[26], break_spans={26: (26, 27)}).shots[1]
    assert (shot.first, shot.last, shot.film_first, shot.film_jumps) == (27, 68, 30, ())
    # a span that stops short of the cut: the still shot is paired from the film shot's first frame
    inside = find_offset(broadcast, film, [0, 27], breaks=[26], break_spans={26: (26, 26)}).shots[1]
    assert inside.film_first == 28


def test_a_start_that_fits_both_film_cuts_wins_a_tie() -> None:
    """Thumbnails of looked-at stress reel 1228's conformed frames 104-160 and its film frames 104-160
    (``data/``). Rows 15-51 are one shot to the cut detector: a still shot and a slow dissolve out of it,
    with an edit after the telecine at row 40 that dropped a film frame. Starting at the film shot's first
    frame with a jump at the break and starting a frame later without one both end on the film shot's last
    frame and score alike (the broadcast's grade and blur make a dissolve frame look a frame or two further
    on); the first fits both film cuts. It was paired from the film shot's end, with the jump at the
    dissolve's first row: 12 frames a film frame late."""
    broadcast, film = _excerpt("stress1228_dissolve_edit.npz")
    r = find_offset(
        broadcast, film, [0, 15, 52, 53], breaks=[40], firm_breaks={40}, break_spans={40: (40, 40)}
    )
    shot = r.shots[1]
    assert r.film_cuts[:3] == (0, 12, 50)
    assert (shot.first, shot.last, shot.film_first, shot.film_jumps) == (15, 51, 12, ((40, 38),))


def test_a_trimmed_shot_is_shifted_whole_where_the_film_says_so() -> None:
    """Thumbnails of looked-at stress reel 1006's conformed frames 96-124 and its film frames 90-124
    (``data/``). The pan at rows 8-24 shows film frames 10-26 of a film shot that runs 8-27: the broadcast's
    edit left out its first two and its last film frame. Its start snapped to the film shot's end (one
    frame late); a jump, which keeps its first rows where they were, then paired rows 8-10 a frame early
    and the rest right. The whole path shifted back gains as much as a jump must."""
    broadcast, film = _excerpt("stress1006_trimmed_pan.npz")
    r = find_offset(broadcast, film, [0, 8, 25])
    assert r.film_cuts == (0, 8, 28)
    assert [(s.first, s.last, s.film_first, s.film_jumps) for s in r.shots[1:]] == [
        (8, 24, 10, ()),
        (25, 28, 28, ()),
    ]


def test_a_jump_that_fits_both_film_cuts_needs_less_gain() -> None:
    """Thumbnails of looked-at stress reel 1243's conformed frames 58-91 and its film frames 56-91
    (``data/``). An edit after the telecine that kept the cadence's phase (no break) dropped film frames
    19-20 of the dark shot at rows 7-27. Paired from its film shot's first frame without a jump, the shot
    ends two frames before the film shot's last; the jump that fits both film cuts gains 0.24 in the
    noise of a dark shot (a free jump must gain 0.3), so the 9 frames after the edit were paired two
    film frames early."""
    broadcast, film = _excerpt("stress1243_dark_shot_drop.npz")
    r = find_offset(broadcast, film, [0, 5, 7, 28])
    assert r.film_cuts == (0, 5, 7, 30)
    shot = r.shots[2]
    assert (shot.first, shot.last, shot.film_first, shot.film_jumps) == (7, 27, 7, ((19, 21),))


def test_a_cut_where_the_shot_before_was_trimmed_is_an_edited_start() -> None:
    """Thumbnails of held-out stress reel 1504's conformed frames 88-120 and its film frames 80-120
    (``data/``). An edit after the telecine that kept the cadence's phase (no break) cut film frames
    16-20 at the cut at row 12: the dark shot at rows 2-11 shows film 6-15 of a film shot that runs
    6-19, and the pan at rows 12-26 film 21-35 of one that runs 20-35. Fitted to its film shot's first
    frame, the pan took a jump at row 17 to reach its last too (``_fit_jump``): rows 12-16 a film frame
    early. The dark shot before it fits its film shot's start and stops 4 short: the cut is an edit."""
    broadcast, film = _excerpt("stress1504_trimmed_at_cut.npz")
    r = find_offset(broadcast, film, [0, 2, 12, 27])
    assert r.film_cuts == (0, 6, 20, 36)
    assert [(s.first, s.last, s.film_first, s.film_jumps) for s in r.shots[1:3]] == [
        (2, 11, 6, ()),
        (12, 26, 21, ()),
    ]


def test_a_cut_a_break_s_span_reaches_is_a_film_cut_where_the_film_places_the_edit_before_it() -> None:
    """Thumbnails of looked-at stress reel 1485's conformed frames 106-160 and its film frames 96-155
    (``data/``). An edit after the telecine cut film frames 31-33 (here) out of a fading shot (rows
    11-36, a film shot that runs 11-39) two frames before its end; the cadence break at row 35 could
    as well sit anywhere to row 37, the next cut. As an edited edge the shot's end took no film cut,
    and its last two dark frames sized the jump 2 (film 37-38 for 38-39). The film places the edit at
    row 35 and the next shot starts on its film cut: the cut at 37 is a film cut, and the jump that
    fits both film cuts is 3."""
    broadcast, film = _excerpt("stress1485_edit_before_cut.npz")
    r = find_offset(broadcast, film, [0, 11, 37], breaks=[35], break_spans={35: (35, 37)})
    assert r.film_cuts == (0, 11, 40)
    assert [(s.first, s.last, s.film_first, s.film_jumps) for s in r.shots[1:]] == [
        (11, 36, 11, ((35, 38),)),
        (37, 54, 40, ()),
    ]
