"""Argument types shared by the verbs: each parses one kind of value or says what was expected."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from remaster_core.errors import InputError
from remaster_core.node_params import NodeField


def positive_int(text: str) -> int:
    """A whole number >= 1 (``--steps``, ``--fit-frames``...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def pixel_aspect(text: str) -> float:
    """A pixel aspect (width / height of one pixel): ``8/9``, ``10/11`` or ``0.9``; must be positive."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a pixel aspect like 8/9 or 0.9, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the pixel aspect must be positive, got {text!r}")
    return value


def frame_size(text: str) -> tuple[int, int]:
    """A raster size ``WxH`` (``1440x1080``), both at least 1."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size WxH, e.g. 1440x1080")
    return int(m.group(1)), int(m.group(2))


def node_value(spec: NodeField[Any]) -> Callable[[str], Any]:
    """The argument type of a plain node parameter (``node_params.PLAIN_FIELDS``): the text read as the
    field's type, then checked by the field (its range, its choices); the message names the field."""

    def parse(text: str) -> Any:
        try:
            value = spec.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{spec.name} must be {spec.expected()}, got {text!r}") from None
        try:
            return spec.check(value)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = spec.name
    return parse


def output_pattern(text: str) -> str:
    """An output path or frame pattern (``render --out``): anything but an empty or blank string, which
    would otherwise mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty path would write into the current folder: give a folder or file name"
        )
    return text


def output_path(text: str) -> Path:
    """An output folder or file (``--out``): a non-empty path (see ``output_pattern``)."""
    return Path(output_pattern(text))
