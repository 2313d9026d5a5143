"""Inline SVG plots for the HTML reports (conform, align, demo): line/dot plots and horizontal bars. No
plotting library.

Every function returns one ``<svg>`` element as text, with its title and axis ranges written in it.
Tick labels are presentation (rounded axis ends); the measured numbers live in the report's tables and
in ``report.json``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT, PAD = 900, 200, 40


@dataclass(frozen=True)
class Series:
    """One series of a plot: x and y (float arrays of one length), colour, legend label, "line" or "dot"."""

    x: np.ndarray
    y: np.ndarray
    colour: str
    label: str
    style: str = "line"


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11" role="img">'
    )


def _scale(v: np.ndarray, lo: float, hi: float, size: float, flip: bool) -> np.ndarray:
    t = (np.asarray(v, float) - lo) / (hi - lo if hi > lo else 1.0)
    return (1.0 - t if flip else t) * size


def _range(values: list[np.ndarray], pad: float = 0.0) -> tuple[float, float]:
    finite = [v[np.isfinite(v)] for v in values if v.size]
    finite = [v for v in finite if v.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(v.min() for v in finite))
    hi = float(max(v.max() for v in finite))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span


def line_plot(
    title: str,
    series: Sequence[Series],
    *,
    xlabel: str,
    ylabel: str = "",
    vlines: Sequence[tuple[float, str]] = (),
    hlines: Sequence[tuple[float, str]] = (),
    ylim: tuple[float, float] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """An SVG plot of ``series`` with optional marker lines, vertical ``vlines`` at x and dashed horizontal
    ``hlines`` at y (``(value, colour)``; a threshold, say: the automatic y range includes them), and a
    legend of the labelled series."""
    x_lo, x_hi = _range([s.x for s in series])
    marks = [np.array([y for y, _ in hlines], float)]
    y_lo, y_hi = ylim if ylim is not None else _range([s.y for s in series] + marks, pad=0.05)
    iw, ih = width - 2 * PAD, height - 2 * PAD
    e = html.escape
    parts = [
        _svg_open(width, height),
        f'<text x="{PAD}" y="14" font-weight="bold">{e(title)}</text>',
        f'<rect x="{PAD}" y="{PAD}" width="{iw}" height="{ih}" fill="#fafafa" stroke="#999"/>',
        f'<text x="{PAD}" y="{height - 10}">{x_lo:g}</text>',
        f'<text x="{width - PAD}" y="{height - 10}" text-anchor="end">{x_hi:g} ({e(xlabel)})</text>',
        f'<text x="2" y="{PAD + 4}">{y_hi:.3g}</text><text x="2" y="{height - PAD}">{y_lo:.3g}</text>',
    ]
    if ylabel:
        parts.append(f'<text x="2" y="{PAD - 6}">{e(ylabel)}</text>')
    for x, colour in vlines:
        vx = PAD + float(_scale(np.array([x]), x_lo, x_hi, iw, False)[0])
        parts.append(f'<line x1="{vx:.1f}" y1="{PAD}" x2="{vx:.1f}" y2="{height - PAD}" stroke="{colour}"/>')
    for y, colour in hlines:
        hy = PAD + float(_scale(np.array([y]), y_lo, y_hi, ih, True)[0])
        parts.append(
            f'<line x1="{PAD}" y1="{hy:.1f}" x2="{width - PAD}" y2="{hy:.1f}" stroke="{colour}" '
            'stroke-dasharray="4 3"/>'
        )
    legend_x = PAD + 8
    for s in series:
        ok = np.isfinite(s.y) & np.isfinite(s.x)
        px = PAD + _scale(s.x[ok], x_lo, x_hi, iw, False)
        py = PAD + _scale(np.clip(s.y[ok], y_lo, y_hi), y_lo, y_hi, ih, True)
        if s.style == "line" and px.size > 1:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{s.colour}" stroke-width="1.3"/>')
        else:
            parts.extend(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.3" fill="{s.colour}"/>'
                for a, b in zip(px, py, strict=True)
            )
        if s.label:
            parts.append(
                f'<rect x="{legend_x}" y="{PAD + 6}" width="10" height="10" fill="{s.colour}"/>'
                f'<text x="{legend_x + 14}" y="{PAD + 15}">{e(s.label)}</text>'
            )
            legend_x += 24 + 7 * len(s.label)
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, unit: str, width: int = WIDTH
) -> str:
    """Horizontal bars, one per label (e.g. seconds per stage)."""
    row = 20
    height = PAD + row * len(labels) + 10
    label_w = 110
    top = max([float(v) for v in values] + [1e-9])
    e = html.escape
    parts = [
        _svg_open(width, height),
        f'<text x="{PAD}" y="14" font-weight="bold">{e(title)} ({e(unit)})</text>',
    ]
    span = width - label_w - PAD - 60
    for k, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = PAD + k * row
        w = span * float(value) / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="#3182bd"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
