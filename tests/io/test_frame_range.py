"""The frame-range grammar: the shared vectors (also read by tests/nuke/test_frame_range.py), bounds,
and properties over random frame sets and random text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remaster_core.errors import InputError
from remaster_core.io import frame_range
from remaster_core.io.frame_range import (
    MAX_FRAME,
    MAX_FRAMES,
    check_frame_numbers,
    format_frame_range,
    parse_frame_range,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "frame_ranges.json").read_text(encoding="utf-8")
)

# frame numbers: mostly small (runs and steps), some anywhere in the bounds
FRAMES = st.lists(st.one_of(st.integers(-30, 300), st.integers(-MAX_FRAME, MAX_FRAME)), max_size=60)
# text: mostly the grammar's own characters, some of anything
TEXT = st.text(st.one_of(st.sampled_from(list("0123456789-x, :\t")), st.characters()), max_size=40)


@pytest.mark.parametrize("vector", VECTORS["parse"], ids=lambda v: repr(v["text"]))
def test_vectors_parse(vector: dict[str, Any]) -> None:
    assert parse_frame_range(vector["text"]) == vector["frames"]


@pytest.mark.parametrize("vector", VECTORS["errors"], ids=lambda v: repr(v["text"][:30]))
def test_vectors_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(InputError) as info:
        parse_frame_range(vector["text"])
    assert vector["error"] in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("vector", VECTORS["format"], ids=lambda v: repr(v["formatted"]))
def test_vectors_format(vector: dict[str, Any]) -> None:
    assert format_frame_range(vector["frames"]) == vector["formatted"]


def test_messages_quote_the_text_and_say_what_to_write() -> None:
    with pytest.raises(
        InputError, match=r"frame range '1-10 2a': cannot read '2a'; write N, A-B or A-BxSTEP"
    ):
        parse_frame_range("1-10 2a")
    with pytest.raises(InputError, match=r"'10-1' runs backwards; write 1-10"):
        parse_frame_range("10-1")


def test_a_huge_range_is_refused_before_it_is_expanded() -> None:
    with pytest.raises(InputError, match=f"more than {MAX_FRAMES} frames"):
        parse_frame_range(f"0-{MAX_FRAME}")
    with pytest.raises(InputError, match=f"more than {MAX_FRAMES} frames"):
        parse_frame_range(" ".join(["0-999999"] * 11))  # each item counts


def test_thousands_of_digits_give_the_parser_error_and_a_short_message() -> None:
    with pytest.raises(InputError, match="is too large") as info:
        parse_frame_range("1" + "0" * 5000)  # int() alone would raise ValueError past 4300 digits
    assert len(str(info.value)) < 300


def test_frame_lists_are_held_to_the_same_bounds() -> None:
    assert check_frame_numbers([5, -3, 5], "frames") == [-3, 5]
    with pytest.raises(InputError, match=f"frames: frame {MAX_FRAME + 1} is out of range"):
        check_frame_numbers([1, MAX_FRAME + 1], "frames")
    with pytest.raises(InputError, match="out of range"):
        check_frame_numbers([-(10**30)], "frames")


@settings(max_examples=200, deadline=None)
@given(FRAMES)
def test_format_then_parse_gives_the_frames_back(frames: list[int]) -> None:
    text = format_frame_range(frames)
    assert (parse_frame_range(text) if frames else []) == sorted(set(frames))


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_any_text_reads_or_raises_an_input_error(text: str) -> None:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(frame_range, "MAX_FRAMES", 10_000)  # random digits must not expand millions of frames
        try:
            frames = parse_frame_range(text)
        except InputError as exc:
            assert "\n" not in str(exc)
            return
    assert frames == sorted(set(frames)) and frames
    assert all(abs(f) <= MAX_FRAME for f in frames)
