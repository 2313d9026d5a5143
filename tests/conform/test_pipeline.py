"""``conform()`` end to end on real MPEG-2 broadcasts made with ffmpeg, checked field by field against truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from remaster_core.conform import conform
from remaster_core.conform.evaluate import score_conform
from remaster_core.conform.offset import find_offset
from remaster_core.conform.pipeline import film_thumbnails
from remaster_core.errors import InputError, MediaError
from remaster_core.io.outdir import MARKER
from remaster_core.synth.presets import get_preset, with_overrides
from remaster_core.synth.reel import build_reel
from tests.conform import _INTERLACED, _MPEG2, clip, ffmpeg

REQUIRED_KEYS = {"fps", "field_order", "frame_count", "frames", "cuts", "offset", "shots"}


def _doc(out: Path) -> dict:
    return json.loads((out / "conform.json").read_text())


def test_tiny_synth_reel_meets_the_bars(
    tiny_reel: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path / "conform"
    result = conform(tiny_reel / "broadcast.mpg", out, film=str(tiny_reel / "film"))
    truth = json.loads((tiny_reel / "truth.json").read_text())
    doc = _doc(out)
    assert REQUIRED_KEYS <= doc.keys()
    assert doc["fps"] == "24000/1001" and doc["field_order"] == "tff"
    score = score_conform(out, tiny_reel)
    assert score.recovered_in_order, (score.missing, score.duplicated, score.mixed)
    assert not score.mixed
    assert score.worst_shortfall < 1.0
    assert doc["cuts"] == score.cuts_expected
    assert doc["offset"] == truth["leader_frames"]
    for shot in truth["shots"]:
        found = next(s for s in doc["shots"] if s["first"] == shot["first_24p"])
        assert found["film_first"] == shot["film_first"], shot["index"]
    report = (out / "report.html").read_text()
    assert "<svg" in report and "cadence" in report.lower()
    assert len(list((out / "frames").glob("frame.*.exr"))) == doc["frame_count"]
    # the film of another reel made from the same photographs (another seed): no match, not a number
    other = tmp_path_factory.mktemp("other_reel") / "reel"
    build_reel(other, with_overrides(get_preset("tiny"), n_shots=2), seed=2)
    film_thumbs, _, _ = film_thumbnails(str(other / "film"))
    wrong = find_offset(result.thumbs, film_thumbs, [0, *doc["cuts"]])
    assert wrong.offset is None and not wrong.matched


def test_cuts_at_every_cadence_position(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("cuts", tmp_path_factory)
    assert {cut % 4 for cut in c.cuts[1:]} == {0, 1, 2, 3}
    out = tmp_path / "conform"
    conform(c.path, out, film=str(c.film), image_format="png")
    score = score_conform(out, c.path.parent, truth=c.truth())
    assert score.recovered_in_order and not score.mixed
    assert score.worst_shortfall < 1.0
    doc = _doc(out)
    assert doc["cuts"] == c.cuts[1:]
    assert doc["offset"] == c.cuts[1]
    assert [s["film_first"] for s in doc["shots"]] == c.film_first
    assert len(list((out / "frames").glob("frame.*.png"))) == doc["frame_count"]


def test_edit_across_the_cycle_leaves_orphans_rebuilt_from_their_own_field(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip("break", tmp_path_factory)
    out = tmp_path / "conform"
    conform(c.path, out)
    doc = _doc(out)
    score = score_conform(out, c.path.parent, truth=c.truth())
    assert score.recovered_in_order and not score.mixed
    orphans = [f for f in doc["frames"] if f["kind"] == "orphan"]
    assert [c.field_sources[f["keep"]] for f in orphans] == [10, 24]  # C of piece A, C of piece B
    assert doc["cadence_breaks"] == [26]
    assert doc["cuts"] == [11]  # 11 frames of piece A survive the edit
    assert score.worst_shortfall < 1.0  # orphans against the best rebuild of their one field


def test_still_and_black_stretches_keep_the_cadence(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip("static", tmp_path_factory)
    out = tmp_path / "conform"
    conform(c.path, out)
    score = score_conform(out, c.path.parent, truth=c.truth(), with_psnr=False)
    assert score.recovered_in_order and not score.mixed
    assert _doc(out)["cadence_breaks"] == []


def test_video_originated_stretch_is_deinterlaced(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip("video", tmp_path_factory)
    out = tmp_path / "conform"
    conform(c.path, out)
    doc = _doc(out)
    score = score_conform(out, c.path.parent, truth=c.truth(), with_psnr=False)
    assert score.recovered_in_order and not score.mixed  # every film frame, none mixed with video
    video = doc["video_frames"]
    assert 22 <= len(video) <= 25  # 30 video frames at 4 in 5, give or take a frame at each end
    assert video == list(range(video[0], video[0] + len(video)))
    assert doc["frame_count"] == 40 + len(video) + sum(
        1 for f in doc["frames"] if f["kind"] == "film" and -1 in [c.field_sources[i] for i in f["fields"]]
    )


def test_progressive_23976_passes_through(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("cuts", tmp_path_factory)
    prog = tmp_path / "prog.mpg"
    ffmpeg(
        "-framerate",
        "24000/1001",
        "-i",
        str(c.frames24p[0].parent / "f%05d.png"),
        *_MPEG2,
        "-pix_fmt",
        "yuv420p",
        str(prog),
    )
    out = tmp_path / "conform"
    conform(prog, out)
    doc = _doc(out)
    assert doc["field_order"] == "progressive" and doc["input_kind"] == "progressive24"
    assert doc["frame_count"] == len(c.frames24p)
    assert doc["cuts"] == c.cuts[1:]


def test_pal_is_a_clear_error(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("cuts", tmp_path_factory)
    pal = tmp_path / "pal.mpg"
    ffmpeg(
        "-framerate",
        "25",
        "-i",
        str(c.frames24p[0].parent / "f%05d.png"),
        *_MPEG2,
        *_INTERLACED,
        "-pix_fmt",
        "yuv420p",
        str(pal),
    )
    with pytest.raises(InputError, match="PAL") as exc:
        conform(pal, tmp_path / "out")
    assert str(pal) in str(exc.value)


def test_progressive_2997_without_pulldown_is_a_clear_error(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip("cuts", tmp_path_factory)
    prog = tmp_path / "p30.mpg"
    ffmpeg(
        "-framerate",
        "30000/1001",
        "-i",
        str(c.frames24p[0].parent / "f%05d.png"),
        *_MPEG2,
        "-pix_fmt",
        "yuv420p",
        str(prog),
    )
    with pytest.raises(InputError, match="no 3:2 pulldown"):
        conform(prog, tmp_path / "out")


def test_truncated_stream_gives_a_clean_partial_result(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    c = clip("cuts", tmp_path_factory)
    cut = tmp_path / "cut.mpg"
    data = c.path.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    out = tmp_path / "conform"
    result = conform(cut, out)
    doc = _doc(out)
    assert doc["decode_error"] and "cut.mpg" in doc["decode_error"]
    assert 0 < doc["source_frame_count"] < len(c.field_sources) // 2
    truth = c.truth()
    truth["telecine"] = truth["telecine"][: doc["source_frame_count"]]
    score = score_conform(out, c.path.parent, truth=truth, with_psnr=False)
    assert score.recovered_in_order and not score.mixed
    assert result.decode_error == doc["decode_error"]


def test_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mpg"
    bad.write_text("not a video")
    with pytest.raises(MediaError, match="notes.mpg"):
        conform(bad, tmp_path / "out")


def test_override_file_changes_the_decision(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("static", tmp_path_factory)
    free = conform(c.path, tmp_path / "free").document
    # pin the still shot's fields to another phase, as a person correcting the cadence would
    first = next(f for f in free["frames"] if f["index"] == 20)
    field = first["fields"][0] - first["fields"][0] % 2
    phase = (first["phase"] - first["fields"][0] % 2 + 4) % 10
    fix = tmp_path / "fix.txt"
    fix.write_text(f"# move the cadence in the still shot\nfields {field}-{field + 19} phase {phase}\n")
    pinned = conform(c.path, tmp_path / "pinned", overrides=fix).document
    assert pinned["overrides"] == str(fix)
    f_free = {tuple(f["fields"]) for f in free["frames"]}
    f_pinned = {tuple(f["fields"]) for f in pinned["frames"]}
    assert f_free != f_pinned
    holder = next(f for f in pinned["frames"] if field in f["fields"])
    assert (holder["phase"] + field - holder["fields"][0]) % 10 == phase


def test_output_folder_is_reused(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("break", tmp_path_factory)
    out = tmp_path / "conform"
    conform(c.path, out)
    stale = out / "frames" / "frame.999999.exr"  # a frame of an earlier, longer conform: in its marker
    shutil.copy(next((out / "frames").glob("*.exr")), stale)
    marker = json.loads((out / MARKER).read_text())
    (out / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], "frames/frame.999999.exr"]}))
    mine = out / "frames" / "notes.txt"  # a user's file is never deleted
    mine.write_text("mine")
    conform(c.path, out)
    assert not stale.exists() and mine.read_text() == "mine"


def test_bottom_field_first(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    c = clip("bff", tmp_path_factory)
    out = tmp_path / "conform"
    conform(c.path, out)
    doc = _doc(out)
    assert doc["field_order"] == "bff"
    score = score_conform(out, c.path.parent, truth=c.truth())
    assert score.recovered_in_order and not score.mixed
    assert score.worst_shortfall < 1.0
    assert doc["cuts"] == c.cuts[1:]


def test_a_break_spans_the_frames_of_uncertain_phase_around_it() -> None:
    """``_break_spans``: a break may sit at any frame of uncertain phase next to it, or at the first
    sure frame after them (held-out reel 1202: margins 0 at frames 146-148, the gap before 149)."""
    from remaster_core.conform.pipeline import BREAK_SPAN, _break_spans
    from remaster_core.manifests.conform import FrameRecord

    margins = [9.0, 9.0, 0.0, 0.0, 0.0, 9.0, 9.0, 0.5, 9.0, None]
    records = [FrameRecord(k, "film", (2 * k, 2 * k + 1), cadence_margin=m) for k, m in enumerate(margins)]
    spans = _break_spans(records, [2, 6, 8], uncertain_margin=2.0)
    assert spans == {2: (2, 5), 6: (6, 6), 8: (7, 8)}  # a sure frame before 6 closes its span
    still = [FrameRecord(k, "film", (2 * k, 2 * k + 1), cadence_margin=0.0) for k in range(30)]
    assert _break_spans(still, [10], uncertain_margin=2.0) == {10: (10 - BREAK_SPAN, 10 + BREAK_SPAN)}


def test_a_three_field_frame_whose_third_field_is_no_repeat_is_listed() -> None:
    """``repeats_against_evidence``: a 3-field film frame whose repeat comparison (its first field against
    its third, ``Evidence.pulldown`` at the first) says "no repeat" beyond the limit is listed; 2-field
    frames, video, and 3-field frames at or under the limit are not (held-out stress reel 1580: a lone
    field left by an edit inside a still, woven as a 3-field frame's third at 2.46)."""
    import numpy as np

    from remaster_core.conform.cadence import CadenceParams, Evidence
    from remaster_core.conform.pipeline import repeats_against_evidence
    from remaster_core.manifests.conform import FrameRecord

    pulldown = np.full(20, -1.4, np.float32)  # field i against i+2: repeats everywhere
    pulldown[[5, 10]] = 2.46  # fields 5 / 7 and 10 / 12 are not copies
    pulldown[15] = 2.0  # at the limit
    evidence = Evidence(comb=np.zeros(21, np.float32), repeat=pulldown.copy(), pulldown=pulldown)
    records = [
        FrameRecord(0, "film", (0, 1, 2)),
        FrameRecord(1, "film", (3, 4)),
        FrameRecord(2, "film", (5, 6, 7)),  # listed
        FrameRecord(3, "video", (10,)),
        FrameRecord(4, "film", (10, 11)),  # 2 fields: its repeat comparison is no one's
        FrameRecord(5, "film", (15, 16, 17)),  # at the limit: not listed
        FrameRecord(6, "film", (20, 21, 22)),  # past the evidence (the reel's last fields)
    ]
    limit = CadenceParams().repeat_against
    assert limit == 2.0
    assert repeats_against_evidence(records, evidence, limit) == [2]
    assert repeats_against_evidence(records, evidence, 1.0) == [2, 5]
