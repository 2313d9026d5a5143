"""Timecode: drop-frame arithmetic across minute and ten-minute boundaries (OpenTimelineIO's opentime),
reading a broadcast's timecode (GOP header, container tag, none), the inverse-telecine mapping to 23.976,
and every conformed frame stamped with the truth's record timecode and its source fields' timecode."""

from __future__ import annotations

import json
import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from remaster_core.conform.timecode import (
    DEFAULT_SOURCE_29_97,
    RECORD_RATE,
    SOURCE_ATTRIBUTE,
    TimecodeMap,
    record_start_frames,
    timecode_map,
)
from remaster_core.errors import InputError
from remaster_core.io.images import read_meta
from remaster_core.io.timecode import read_video_timecode, timecode_frames, timecode_label
from remaster_core.manifests import read_conform
from remaster_core.synth.telecine import telecine_mapping
from tests.conform.timecode_reel import START, timecode_reel

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("00:00:59;29", "00:01:00;02"),  # a minute boundary: frames 00 and 01 are dropped
        ("00:09:59;29", "00:10:00;00"),  # a ten-minute boundary: nothing dropped
        ("00:59:59;29", "01:00:00;00"),  # the hour, a ten-minute boundary too
        ("00:19:59;29", "00:20:00;00"),
        ("00:21:59;29", "00:22:00;02"),
    ],
)
def test_drop_frame_counts_across_minute_and_ten_minute_boundaries(before: str, after: str) -> None:
    n = timecode_frames(before, NTSC)
    assert timecode_label(n + 1, NTSC, drop=True) == after
    assert timecode_frames(after, NTSC) == n + 1


def test_drop_frame_counts_against_the_arithmetic_of_smpte_12m() -> None:
    # 17982 frames in ten drop-frame minutes, 1798 in a dropping minute, 108000 - 108 in an hour
    assert timecode_frames("00:10:00;00", NTSC) == 17982
    assert timecode_frames("00:01:00;02", NTSC) == 1800
    assert timecode_frames("01:00:00;00", NTSC) == 107892
    assert timecode_frames("01:00:00:00", NTSC) == 108000  # non-drop at 29.97 counts at 30
    assert timecode_label(86400, RECORD_RATE) == "01:00:00:00"


@pytest.mark.parametrize(
    ("label", "rate", "message"),
    [
        ("00:01:00;00", NTSC, "does not exist in drop-frame"),
        ("00:01:00;30", NTSC, "frames below 30"),
        ("00:00:00;00", RECORD_RATE, "drop frame, which exists only"),
        ("1:00:00:00", NTSC, "not HH:MM:SS:FF"),
    ],
)
def test_bad_labels_are_refused(label: str, rate: Fraction, message: str) -> None:
    with pytest.raises(InputError, match=message):
        timecode_frames(label, rate)


@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_record_start_counts_the_running_time_in_23976_frames(phase: int) -> None:
    """Over a regular cadence, R0 + k names 24p frame k's running time, whatever the phase."""
    mapping = telecine_mapping(40, phase)
    first_field = {}
    for j, (top, bottom) in enumerate(mapping):
        first_field.setdefault(top, 2 * j)
        first_field.setdefault(bottom, 2 * j + 1)
    s0 = timecode_frames("00:59:59;28", NTSC)
    r0 = record_start_frames(s0, first_field[0], NTSC)
    for i in range(1, 38):
        exact = Fraction(2 * s0 + first_field[i]) * 2 / 5
        assert abs(r0 + i - exact) <= Fraction(7, 10), (phase, i)  # within the 3:2 jitter, never a frame
    assert record_start_frames(107892, 0, NTSC) == 86313.6 // 1 + 1  # round(0.8 * 107892)
    assert record_start_frames(86400, 4, RECORD_RATE) == 86402  # 23.976 passes through


def test_source_field_labels_cross_the_drop_frame_minute() -> None:
    tc = TimecodeMap("00:00:59;28", NTSC, "given", "00:00:59:22")
    assert [tc.source_field_label(f) for f in (0, 1, 2, 3, 4)] == [
        "00:00:59;28.1",
        "00:00:59;28.2",
        "00:00:59;29.1",
        "00:00:59;29.2",
        "00:01:00;02.1",
    ]
    assert tc.record_label(2) == "00:01:00:00"


def _encode(path: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=160x120:rate=30000/1001", "-frames:v", "20", *args, str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_a_broadcasts_timecode_from_its_gop_header_its_container_or_a_stated_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gop = _encode(
        tmp_path / "gop.mpg", "-c:v", "mpeg2video", "-bf", "2", "-timecode", "00:09:59;28", "-f", "vob"
    )
    found = read_video_timecode(gop)
    assert found is not None and found.start == "00:09:59;28" and "GOP" in found.origin
    tagged = _encode(tmp_path / "tag.mov", "-c:v", "mpeg2video", "-timecode", "10:00:00;00")
    found = read_video_timecode(tagged)
    assert found is not None and found.start == "10:00:00;00" and "tag" in found.origin
    plain = _encode(tmp_path / "plain.mov", "-c:v", "prores_ks")
    assert read_video_timecode(plain) is None
    with caplog.at_level(logging.WARNING, logger="remaster.conform.timecode"):
        tc = timecode_map(plain, NTSC, 0)
    assert tc.source_start == DEFAULT_SOURCE_29_97 and tc.origin == "default" and tc.drop_frame
    assert "carries no timecode" in caplog.text and DEFAULT_SOURCE_29_97 in caplog.text


@pytest.mark.slow
def test_every_conformed_frame_carries_the_truths_record_and_source_timecode(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    reel = timecode_reel(tmp_path_factory)
    manifest = read_conform(reel.conform)
    assert manifest.timecode is not None
    assert manifest.timecode.source_start == START and manifest.timecode.drop_frame
    truth_tc = reel.truth["timecode"]
    assert manifest.timecode.record_start == truth_tc["record_start_24p0"] == "00:59:56:08"
    r0 = timecode_frames(truth_tc["record_start_24p0"], RECORD_RATE)
    s0 = timecode_frames(START, NTSC)
    telecine = reel.truth["telecine"]
    assert manifest.frames is not None
    for record in manifest.frames:
        meta = read_meta(Path(manifest.frames_path % record.index))
        shown = record.used_fields()
        source_24p = {telecine[f // 2][f % 2] for f in shown}  # tff: field 2k top, 2k+1 bottom
        assert len(source_24p) == 1, record
        assert meta.timecode == timecode_label(r0 + source_24p.pop(), RECORD_RATE), record.index
        labels = str(meta.extra[SOURCE_ATTRIBUTE]).split()
        assert labels == [
            f"{timecode_label(s0 + f // 2, NTSC, drop=True)}.{f % 2 + 1}" for f in sorted(shown)
        ]
    # the reel crosses 01:00:00;00 (a ten-minute boundary) in its source timecode
    last = read_meta(Path(manifest.frames_path % (manifest.frame_count - 1)))
    assert str(last.extra[SOURCE_ATTRIBUTE]).startswith("01:00:0")
    assert json.loads((reel.conform / "conform.json").read_text())["timecode"]["origin"] == "first GOP header"
