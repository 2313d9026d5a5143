"""The shared argument types: what they accept, and the message when they refuse."""

from __future__ import annotations

import argparse

import pytest

from remaster_core.cli.argtypes import frame_size, pixel_aspect, positive_int


def test_positive_int() -> None:
    assert positive_int("12") == 12
    for bad in ("0", "-3", "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)


def test_pixel_aspect() -> None:
    assert pixel_aspect("8/9") == pytest.approx(8 / 9)
    assert pixel_aspect(" 0.9 ") == pytest.approx(0.9)
    for bad in ("0", "-8/9", "8/0", "wide"):
        with pytest.raises(argparse.ArgumentTypeError, match="pixel aspect"):
            pixel_aspect(bad)


def test_frame_size() -> None:
    assert frame_size("1440x1080") == (1440, 1080)
    assert frame_size(" 720 X 480 ") == (720, 480)
    for bad in ("1440", "0x1080", "1440x", "axb"):
        with pytest.raises(argparse.ArgumentTypeError, match="WxH"):
            frame_size(bad)
