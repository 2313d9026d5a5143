"""Frame patterns, frame ranges, folder resolution and gap detection."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from remaster_core.errors import InputError
from remaster_core.io.frame_range import format_frame_range, parse_frame_range
from remaster_core.io.sequence import check_contiguous, film_sequence, parse_pattern, resolve_sequence


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


@pytest.mark.parametrize(
    ("text", "padding", "frame", "name"),
    [
        ("shot/plate.####.exr", 4, 1001, "plate.1001.exr"),
        ("shot/plate.####.exr", 4, 7, "plate.0007.exr"),
        ("shot/plate.####.exr", 4, 12345, "plate.12345.exr"),  # padding is a minimum width
        ("shot/plate.####.exr", 4, -1, "plate.-001.exr"),  # printf: the sign counts in the width
        ("shot/plate_%06d.dpx", 6, 42, "plate_000042.dpx"),
        ("shot/plate.%d.png", 1, 7, "plate.7.png"),
        ("shot/plate.#.png", 1, 1001, "plate.1001.png"),
    ],
)
def test_parse_pattern(text: str, padding: int, frame: int, name: str) -> None:
    seq = parse_pattern(text)
    assert seq.pattern == text and str(seq) == text
    assert seq.padding == padding
    assert seq.path(frame) == Path("shot") / name


def test_printf_form() -> None:
    assert parse_pattern("a/p.####.exr").printf == "a/p.%04d.exr"
    assert parse_pattern("p.%d.exr").printf == "p.%d.exr"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plate.exr", "no frame token"),
        ("plate.####.v##.exr", "2 frame tokens"),
        ("plate.%04d.%d.exr", "2 frame tokens"),
        ("plate.%s.exr", "only %d and %0Nd"),
        ("plate.%4d.exr", "only %d and %0Nd"),
        ("plate.%%.####.exr", "only %d and %0Nd"),
        ("shot_####/plate.exr", "must be in the file name"),
    ],
)
def test_bad_patterns_name_the_pattern(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_pattern(text)
    assert repr(text) in str(info.value)


def test_frames_on_disk_match_padding_exactly(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "plate.0001.exr",
        "plate.1002.exr",
        "plate.12345.exr",
        "plate.-003.exr",
        "plate.001.exr",  # 3 digits: not what #### writes
        "plate.00002.exr",  # 5 digits with a leading zero: not what #### writes
        ".plate.0004.exr.tmp-99-abcd.exr",  # an unfinished atomic write
        "plate.0005.exr.bak",
        "plate.0006.dpx",
    )
    seq = parse_pattern(str(tmp_path / "plate.####.exr"))
    assert seq.frames_on_disk() == [-3, 1, 1002, 12345]
    assert seq.glob() == [
        tmp_path / n for n in ("plate.-003.exr", "plate.0001.exr", "plate.1002.exr", "plate.12345.exr")
    ]
    assert parse_pattern(str(tmp_path / "missing" / "plate.####.exr")).frames_on_disk() == []


@pytest.mark.parametrize(
    ("text", "frames"),
    [
        ("1001", [1001]),
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1010x3", [1001, 1004, 1007, 1010]),
        ("1001-1009x3", [1001, 1004, 1007]),
        ("1-3, 10,20-30x5", [1, 2, 3, 10, 20, 25, 30]),
        ("-2-2", [-2, -1, 0, 1, 2]),
        ("-10--8", [-10, -9, -8]),
        ("5,1-3,2", [1, 2, 3, 5]),  # sorted, duplicates removed
    ],
)
def test_parse_frame_range(text: str, frames: list[int]) -> None:
    assert parse_frame_range(text) == frames


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("1100-1001", "backwards"),
        ("1-10x0", "step 0"),
        ("abc", "cannot read 'abc'"),
        ("1-", "cannot read"),
        ("1,,2", "cannot read"),
        ("1-10x", "cannot read"),
        ("1.5", "cannot read"),
        ("0-100000000", "more than"),
    ],
)
def test_bad_frame_ranges(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_frame_range(text)


@pytest.mark.parametrize(
    ("frames", "text"),
    [
        ([], ""),
        ([7], "7"),
        ([1, 2, 3, 4], "1-4"),
        ([1, 2, 3, 5, 7, 9, 20], "1-3,5-9x2,20"),
        ([1, 3, 4, 5], "1,3-5"),
        ([1, 10], "1,10"),
        ([1001, 1003, 1005], "1001-1005x2"),
        ([-2, -1, 0, 1], "-2-1"),
        ([3, 1, 2, 2], "1-3"),
    ],
)
def test_format_frame_range(frames: list[int], text: str) -> None:
    assert format_frame_range(frames) == text


def test_format_then_parse_gives_the_frames_back() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        frames = sorted(set(rng.sample(range(-20, 200), rng.randint(1, 60))))
        assert parse_frame_range(format_frame_range(frames)) == frames


@pytest.mark.parametrize(
    ("names", "pattern", "frames"),
    [
        ([f"shot.{f:04d}.exr" for f in range(1, 4)], "shot.####.exr", [1, 2, 3]),
        ([f"scan_{f:06d}.DPX" for f in (123, 124)], "scan_######.DPX", [123, 124]),
        ([f"p.{f}.tif" for f in (998, 999, 1000, 1001)], "p.###.tif", [998, 999, 1000, 1001]),
    ],
)
def test_resolve_folder_with_one_sequence(
    tmp_path: Path, names: list[str], pattern: str, frames: list[int]
) -> None:
    touch(tmp_path, *names, "notes.txt", ".hidden.0001.exr")
    (tmp_path / "sub.0001.exr").mkdir()  # a folder is not a frame
    seq = resolve_sequence(str(tmp_path))
    assert seq.pattern == str(tmp_path / pattern)
    assert seq.frames_on_disk() == frames


def test_resolve_folder_with_two_sequences_lists_both(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.0002.exr", "b_0001.png")
    with pytest.raises(InputError, match="2 image sequences") as info:
        resolve_sequence(str(tmp_path))
    assert "a.####.exr (2 frames, 1-2)" in str(info.value) and "b_####.png (1 frames, 1)" in str(info.value)


def test_resolve_folder_without_sequence_lists_files(tmp_path: Path) -> None:
    touch(tmp_path, "readme.txt", "movie.mov")
    with pytest.raises(InputError, match="no image sequence found") as info:
        resolve_sequence(str(tmp_path))
    assert "movie.mov" in str(info.value) and str(tmp_path) in str(info.value)


def test_resolve_folder_with_mixed_padding_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "p.1.exr", "p.0002.exr")
    with pytest.raises(InputError, match="not padded consistently"):
        resolve_sequence(str(tmp_path))


def test_resolve_pattern_and_nonsense(tmp_path: Path) -> None:
    assert resolve_sequence(str(tmp_path / "p.%04d.exr")).padding == 4
    with pytest.raises(InputError, match="neither a folder nor a frame pattern"):
        resolve_sequence(str(tmp_path / "nothing_here"))


def test_gap_names_the_missing_frame(tmp_path: Path) -> None:
    touch(tmp_path, *(f"plate.{f:04d}.exr" for f in (1001, 1002, 1004, 1005)))
    seq = parse_pattern(str(tmp_path / "plate.####.exr"))
    with pytest.raises(InputError, match="1 of 5 frames missing: frame 1003") as info:
        check_contiguous(seq)
    assert str(tmp_path / "plate.1003.exr") in str(info.value)
    check_contiguous(seq, [1001, 1002])
    with pytest.raises(InputError, match=r"frame 1006 .*\[missing: 1003,1006-1010\]"):
        check_contiguous(seq, parse_frame_range("1001-1010"))


def test_no_frames_at_all(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames found"):
        check_contiguous(parse_pattern(str(tmp_path / "plate.####.exr")))


def test_a_film_scan_with_a_gap_names_the_missing_frames(tmp_path: Path) -> None:
    touch(tmp_path, *(f"film.{f:06d}.dpx" for f in (0, 1, 2, 4, 5, 9)))
    with pytest.raises(
        InputError, match=r"film\.######\.dpx: 4 of 10 film frames missing inside the scan"
    ) as info:
        film_sequence(str(tmp_path))
    assert "frame 3 (film.000003.dpx)" in str(info.value) and "[missing: 3,6-8]" in str(info.value)
    (tmp_path / "film.000009.dpx").unlink()
    (tmp_path / "film.000000.dpx").unlink()
    touch(tmp_path, "film.000003.dpx")
    pattern, frames = film_sequence(str(tmp_path))  # a scan need not start at 0; only gaps are refused
    assert frames == [1, 2, 3, 4, 5] and pattern.path(3) == tmp_path / "film.000003.dpx"
    with pytest.raises(InputError, match="no film frames found"):
        film_sequence(str(tmp_path / "other.%04d.exr"))
