"""Editorial: the conform's shots as OpenTimelineIO and CMX 3600 EDL with source and record timecode,
read back to the same cuts; ``conform --cuts`` taking an editor's list; lists that do not fit refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from remaster_core.conform import editorial
from remaster_core.conform.pipeline import conform
from remaster_core.conform.timecode import TimecodeMap
from remaster_core.errors import InputError
from remaster_core.manifests import read_conform
from tests.conform.timecode_reel import timecode_reel

TC = TimecodeMap("00:59:59;28", Fraction(30000, 1001), "given", "00:59:56:08")


def _write(tmp_path: Path, cuts: list[int], frames: int) -> dict[str, str]:
    shots = editorial.shots_from_cuts(cuts, frames)
    timeline = editorial.shots_timeline(shots, TC, name="b.mpg", frames_pattern="frames/frame.%06d.exr")
    return editorial.write_editorial(tmp_path, timeline)


@pytest.mark.parametrize("kind", ["edl", "otio"])
def test_exported_and_read_back_the_cuts_are_the_same(tmp_path: Path, kind: str) -> None:
    cuts = [7, 8, 30, 59]  # a one-frame shot and a last one-frame shot included
    written = _write(tmp_path, cuts, 60)
    assert editorial.read_cuts(tmp_path / written[kind], 60, TC) == cuts


def test_the_edl_holds_source_and_record_timecode_and_the_broadcasts(tmp_path: Path) -> None:
    written = _write(tmp_path, [10], 30)
    text = (tmp_path / written["edl"]).read_text()
    events = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    assert [e[4:] for e in events] == [
        ["00:59:56:08", "00:59:56:18", "00:59:56:08", "00:59:56:18"],
        ["00:59:56:18", "00:59:57:14", "00:59:56:18", "00:59:57:14"],
    ]
    assert "* BROADCAST 29.97 IN: 00:59:59;28.1 OUT: 01:00:00;07.2" in text  # across the ten-minute mark
    timeline = otio.adapters.read_from_file(str(tmp_path / written["otio"]))
    clip = timeline.tracks[0][1]
    assert (
        clip.metadata["remaster"]["first"] == 10
        and clip.metadata["remaster"]["broadcast_in"] == "01:00:00;08.1"
    )


def test_an_edl_whose_events_do_not_fit_the_broadcast_is_refused(tmp_path: Path) -> None:
    written = _write(tmp_path, [10, 20], 30)
    with pytest.raises(
        InputError, match=r"event 3 \(shot002, record 00:59:57:04 - 00:59:57:14\) lies outside"
    ):
        editorial.read_cuts(tmp_path / written["edl"], 25, TC)  # the reel is shorter than the list
    other = TimecodeMap("10:00:00;00", Fraction(30000, 1001), "given", "09:59:24:00")
    with pytest.raises(InputError, match="another reel or another start timecode"):
        editorial.read_cuts(tmp_path / written["edl"], 30, other)
    bad = tmp_path / "bad.edl"
    bad.write_text("TITLE: x\n\n001  AX V C 00:00:00:00 00:00:01:00 00:00:00:00 00:00:02:00\n")
    with pytest.raises(InputError, match="cannot read it as a cut list"):
        editorial.read_cuts(bad, 30, TC)
    with pytest.raises(InputError, match="no such cut list"):
        editorial.read_cuts(tmp_path / "missing.edl", 30, TC)


@pytest.mark.slow
def test_conform_exports_the_truths_cuts_and_takes_an_editors_list(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    reel = timecode_reel(tmp_path_factory)
    manifest = read_conform(reel.conform)
    assert manifest.editorial == {"otio": editorial.OTIO_NAME, "edl": editorial.EDL_NAME}
    tc = TimecodeMap("00:59:59;28", Fraction(30000, 1001), "", manifest.timecode.record_start)  # type: ignore[union-attr]
    truth_cuts = list(reel.truth["cuts_24p"])  # every 24p frame is conformed: 24p index = conformed index
    assert list(manifest.cuts) == truth_cuts
    for kind in ("edl", "otio"):
        assert (
            editorial.read_cuts(reel.conform / manifest.editorial[kind], manifest.frame_count, tc)
            == truth_cuts
        )
    # an editor removes the second cut and adds one: conform follows the list
    wanted = sorted({*truth_cuts[:1], *truth_cuts[2:], truth_cuts[1] + 2})
    edited = _write(tmp_path / "editor", wanted, manifest.frame_count)
    out = tmp_path / "recut"
    conform(reel.broadcast, out, cuts=tmp_path / "editor" / edited["edl"])
    recut = read_conform(out)
    assert list(recut.cuts) == wanted and recut.cuts_file is not None
    assert [s.first for s in recut.shots] == [0, *wanted]
