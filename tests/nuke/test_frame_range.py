"""The plugin's frame ranges (``settings.parse_frames``/``format_frames``, standard library only) follow
the one grammar of ``remaster_core/io/frame_range.py``: the shared vectors, and the same answer (frames
or message) as remaster_core for random text and random frame sets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remaster_core.errors import InputError
from remaster_core.io import frame_range
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import settings as plugin

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "frame_ranges.json").read_text(encoding="utf-8")
)
TEXT = st.text(st.one_of(st.sampled_from(list("0123456789-x, :\t")), st.characters()), max_size=40)
FRAMES = st.lists(
    st.one_of(st.integers(-30, 300), st.integers(-frame_range.MAX_FRAME, frame_range.MAX_FRAME)), max_size=60
)


@pytest.mark.parametrize("vector", VECTORS["parse"], ids=lambda v: repr(v["text"]))
def test_vectors_parse(vector: dict[str, Any]) -> None:
    assert plugin.parse_frames(vector["text"]) == vector["frames"]


@pytest.mark.parametrize("vector", VECTORS["errors"], ids=lambda v: repr(v["text"][:30]))
def test_vectors_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(plugin.SettingsError) as info:
        plugin.parse_frames(vector["text"])
    assert vector["error"] in str(info.value)


@pytest.mark.parametrize("vector", VECTORS["format"], ids=lambda v: repr(v["formatted"]))
def test_vectors_format(vector: dict[str, Any]) -> None:
    assert plugin.format_frames(vector["frames"]) == vector["formatted"]


def test_same_bounds_as_remaster_core() -> None:
    assert (plugin.MAX_FRAMES, plugin.MAX_FRAME) == (frame_range.MAX_FRAMES, frame_range.MAX_FRAME)
    with pytest.raises(plugin.SettingsError, match="is too large"):
        plugin.parse_frames("1" + "0" * 5000)


def _core(text: str) -> list[int] | str:
    try:
        return frame_range.parse_frame_range(text)
    except InputError as exc:
        return str(exc)


def _plugin(text: str) -> list[int] | str:
    try:
        return plugin.parse_frames(text)
    except plugin.SettingsError as exc:
        return str(exc)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_any_text_reads_as_remaster_core_reads_it(text: str) -> None:
    with pytest.MonkeyPatch.context() as m:  # random digits must not expand millions of frames
        m.setattr(frame_range, "MAX_FRAMES", 10_000)
        m.setattr(plugin, "MAX_FRAMES", 10_000)
        assert _plugin(text) == _core(text)


@settings(max_examples=200, deadline=None)
@given(FRAMES)
def test_format_as_remaster_core_formats_and_read_back(frames: list[int]) -> None:
    text = plugin.format_frames(frames)
    assert text == frame_range.format_frame_range(frames)
    assert (plugin.parse_frames(text) if frames else []) == sorted(set(frames))
