"""Argument types shared by the verbs: each parses one kind of value or says what was expected."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from remaster_core.errors import InputError
from remaster_core.io.frame_range import MAX_FRAMES
from remaster_core.manifests.align import PAR_RANGE
from remaster_core.node_params import MAX_SIDE, NodeField

MAX_RESOURCES = 16
"""Most Dask resources one ``--resources`` names."""


def shown(text: str) -> str:
    """``text`` as a message quotes it: its repr, cut to 60 characters (a pasted megabyte stays out)."""
    quoted = repr(text)
    return quoted if len(quoted) <= 60 else quoted[:57] + "..."


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """The argument type of a whole number in ``lo..hi`` (every count that drives a loop, a process or an
    allocation has an upper bound)."""

    def parse(text: str) -> int:
        if re.fullmatch(r"\s*[+-]?\d{1,19}\s*", text) is None:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}")
        value = int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be a whole number from {lo} to {hi}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


positive_int = whole_number(1, MAX_FRAMES)
"""A whole number from 1 to ``MAX_FRAMES`` (``--fit-frames``, ``--steps``...)."""


def seconds(text: str) -> float:
    """A time in seconds: a finite number above 0, at most a day (``--connect-timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {shown(text)}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0, at most 86400, got {shown(text)}"
        )
    return value


def pixel_aspect(text: str) -> float:
    """A pixel aspect (width / height of one pixel): ``8/9``, ``10/11`` or ``0.9``, within ``PAR_RANGE``
    (0.25..4, as align.json holds it)."""
    lo, hi = PAR_RANGE
    try:
        fraction = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"expected a pixel aspect like 8/9 or 0.9, got {shown(text)}"
        ) from None
    if fraction <= 0:
        raise argparse.ArgumentTypeError(f"the pixel aspect must be positive, got {shown(text)}")
    if not lo <= fraction <= hi:
        raise argparse.ArgumentTypeError(
            f"the pixel aspect must be between {lo:g} and {hi:g}, got {shown(text)}"
        )
    return float(fraction)


def frame_size(text: str) -> tuple[int, int]:
    """A raster size ``WxH`` (``1440x1080``), each side from 1 to ``MAX_SIDE``."""
    m = re.fullmatch(r"\s*(\d{1,9})\s*[xX]\s*(\d{1,9})\s*", text)
    if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a size WxH, e.g. 1440x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if max(w, h) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"{w}x{h}: a side is larger than {MAX_SIDE} px")
    return w, h


def resources(text: str) -> dict[str, float]:
    """Dask resources ``NAME=AMOUNT[,NAME=AMOUNT]`` (``GPU=1``): names, and finite amounts >= 0."""
    out: dict[str, float] = {}
    parts = text.split(",")
    if len(parts) > MAX_RESOURCES:
        raise argparse.ArgumentTypeError(f"{len(parts)} resources: at most {MAX_RESOURCES}")
    for item in parts:
        name, sep, amount = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{shown(text)}: write resources as NAME=AMOUNT[,NAME=AMOUNT]")
        if not name.strip():
            raise argparse.ArgumentTypeError(f"{shown(text)}: a resource needs a name, e.g. GPU=1")
        try:
            value = float(amount)
        except ValueError:
            value = math.nan
        if not 0 <= value <= 1e6:
            raise argparse.ArgumentTypeError(
                f"{shown(item)}: the amount must be a number from 0 to 1e6, e.g. GPU=1"
            )
        out[name.strip()] = value
    return out


def node_value(spec: NodeField[Any]) -> Callable[[str], Any]:
    """The argument type of a plain node parameter (``node_params.PLAIN_FIELDS``): the text read as the
    field's type, then checked by the field (its range, its choices); the message names the field."""

    def parse(text: str) -> Any:
        try:
            value = spec.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{spec.name} must be {spec.expected()}, got {shown(text)}"
            ) from None
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
