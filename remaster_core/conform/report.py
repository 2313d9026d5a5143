"""``report.html``: the conform at a glance, one self-contained HTML file with inline SVG plots.

Sections: a summary (frames, cuts, orphans, combed and video frames, cadence breaks, offset, decode
error); the cadence over time (the phase each output frame's first field sits at, coloured by how the
frame was built, with cuts and breaks as vertical lines); the weave comb score per frame against the
"combed" threshold; the cut score per frame; the offset match (the whole-reel curve and a table of
shots with their film start and match score). No plotting library: the SVG is written here.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remaster_core.conform.cadence import CadenceParams
from remaster_core.io.atomic import write_text_atomic

if TYPE_CHECKING:
    from remaster_core.conform.pipeline import Conformed

_W, _H, _PAD = 960, 170, 34
_COLOURS = {"film": "#2b7bb9", "orphan": "#d7301f", "video": "#7a0177", "progressive": "#41ab5d"}


def _scale(values: np.ndarray, lo: float, hi: float, size: float, flip: bool) -> np.ndarray:
    span = hi - lo if hi > lo else 1.0
    t = (values - lo) / span
    return (1.0 - t if flip else t) * size


def _svg_plot(
    title: str,
    series: list[tuple[np.ndarray, np.ndarray, str, str]],
    *,
    vlines: list[tuple[float, str]] = (),  # type: ignore[assignment]
    hline: float | None = None,
    xlabel: str = "output frame",
    ylim: tuple[float, float] | None = None,
) -> str:
    """An SVG with line ("line") or dot ("dot") series: (x, y, colour, style)."""
    xs = [s[0] for s in series if s[0].size]
    ys = [s[1][np.isfinite(s[1])] for s in series if s[1].size]
    x_lo = float(min(x.min() for x in xs)) if xs else 0.0
    x_hi = float(max(x.max() for x in xs)) if xs else 1.0
    if ylim is None:
        y_all = np.concatenate(ys) if ys and any(y.size for y in ys) else np.zeros(1)
        ylim = (
            float(min(y_all.min(), hline if hline is not None else y_all.min())),
            float(max(y_all.max(), hline if hline is not None else y_all.max())),
        )
    iw, ih = _W - 2 * _PAD, _H - 2 * _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" font-family="sans-serif" font-size="11">',
        f'<text x="{_PAD}" y="14" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{_PAD}" y="{_PAD}" width="{iw}" height="{ih}" fill="#fafafa" stroke="#999"/>',
        f'<text x="{_PAD}" y="{_H - 8}">{x_lo:g}</text>',
        f'<text x="{_W - _PAD}" y="{_H - 8}" text-anchor="end">{x_hi:g} ({html.escape(xlabel)})</text>',
        f'<text x="4" y="{_PAD + 4}">{ylim[1]:.3g}</text><text x="4" y="{_H - _PAD}">{ylim[0]:.3g}</text>',
    ]
    for x, colour in vlines:
        vx = _PAD + float(_scale(np.array([x]), x_lo, x_hi, iw, False)[0])
        parts.append(
            f'<line x1="{vx:.1f}" y1="{_PAD}" x2="{vx:.1f}" y2="{_H - _PAD}" stroke="{colour}" stroke-width="1"/>'
        )
    if hline is not None:
        hy = _PAD + float(_scale(np.array([hline]), ylim[0], ylim[1], ih, True)[0])
        parts.append(
            f'<line x1="{_PAD}" y1="{hy:.1f}" x2="{_W - _PAD}" y2="{hy:.1f}" stroke="#e6550d" stroke-dasharray="4 3"/>'
        )
    for xs_, ys_, colour, style in series:
        ok = np.isfinite(ys_)
        px = _PAD + _scale(xs_[ok].astype(float), x_lo, x_hi, iw, False)
        py = _PAD + _scale(np.clip(ys_[ok].astype(float), *ylim), ylim[0], ylim[1], ih, True)
        if style == "line" and px.size > 1:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.2"/>')
        else:
            parts.extend(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.2" fill="{colour}"/>'
                for a, b in zip(px, py, strict=True)
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _summary(doc: dict[str, Any]) -> str:
    rows = [
        ("source", doc["source"]),
        ("input", f"{doc['input_kind']} ({doc['source_fps']} fps, {doc['field_order']})"),
        (
            "output frames",
            f"{doc['frame_count']} at 23.976 from {doc['source_frame_count']} broadcast frames",
        ),
        ("cuts", f"{len(doc['cuts'])} cuts, {len(doc['shots'])} shots; cuts at {doc['cuts']}"),
        ("orphans (rebuilt from one field)", doc["orphans"] or "none"),
        ("combed (check these)", doc["combed"] or "none"),
        ("video-originated frames", f"{len(doc['video_frames'])}"),
        ("cadence breaks (fields)", doc["cadence_breaks"] or "none"),
        ("decode error", doc["decode_error"] or "none"),
    ]
    if "offset" in doc:
        rows.append(("offset", f"{doc['offset']}: {doc['offset_match']['message']}"))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _shots_table(doc: dict[str, Any]) -> str:
    head = (
        "<tr><th>shot</th><th>first</th><th>last</th><th>film_first</th><th>match score</th><th>z</th></tr>"
    )
    body = "".join(
        f"<tr><td>{k}</td><td>{s['first']}</td><td>{s['last']}</td><td>{s['film_first']}</td>"
        f"<td>{s.get('match_score')}</td><td>{s.get('z')}</td></tr>"
        for k, s in enumerate(doc["shots"])
    )
    return f"<table>{head}{body}</table>"


def write_report(path: str | Path, result: Conformed) -> None:
    """Write the HTML report of ``result`` to ``path`` (atomically)."""
    doc = result.document
    frames = doc["frames"]
    n = len(frames)
    idx = np.arange(n, dtype=float)
    cut_lines = [(float(c), "#3182bd") for c in doc["cuts"]]
    sections = [f"<h1>remaster conform</h1>{_summary(doc)}"]

    by_kind: dict[str, list[tuple[int, float]]] = {}
    for f in frames:
        phase = f.get("phase")
        by_kind.setdefault(f["kind"], []).append((f["index"], -1.0 if phase is None else float(phase)))
    series = [
        (
            np.array([a for a, _ in v], float),
            np.array([b for _, b in v], float),
            _COLOURS.get(k, "#333"),
            "dot",
        )
        for k, v in by_kind.items()
    ]
    frame_of_field = {fld: f["index"] for f in frames for fld in f["fields"]}
    breaks = [(float(frame_of_field[b]), "#d7301f") for b in doc["cadence_breaks"] if b in frame_of_field]
    legend = ", ".join(f'<span style="color:{_COLOURS[k]}">{k}</span>' for k in by_kind if k in _COLOURS)
    sections.append(
        "<h2>Cadence</h2><p>Phase (0..9 of the 3:2 cycle At Ab Bt Bb Bt Cb Ct Db Dt Db) of each output frame's "
        f"first field; -1 for video. Colours: {legend}. Blue lines: cuts; red lines: cadence breaks.</p>"
        + _svg_plot("cadence phase per output frame", series, vlines=cut_lines + breaks, ylim=(-1.5, 9.5))
    )

    comb = np.array([f.get("comb", np.nan) for f in frames], dtype=float)
    sections.append(
        "<h2>Weave combing</h2><p>log(comb of the woven frame / comb inside its fields): at or below 0 a clean "
        "weave of one film frame; above the dashed threshold the frame is flagged combed.</p>"
        + _svg_plot(
            "weave comb score",
            [(idx, comb, "#2b7bb9", "line")],
            vlines=cut_lines,
            hline=CadenceParams().combed_threshold,
        )
    )
    sections.append(
        "<h2>Cuts</h2>"
        + _svg_plot(
            "cut score (histogram + standardised thumbnail difference)",
            [(idx, result.cut_scores.astype(float), "#636363", "line")],
            vlines=cut_lines,
        )
    )
    if result.offset is not None:
        curve = result.offset.global_curve.astype(float)
        nf = doc["film"]["frame_count"]
        offs = np.arange(curve.size, dtype=float) - (nf - 1)
        marks = [(float(doc["offset"]), "#d7301f")] if doc.get("offset") is not None else []
        sections.append(
            f"<h2>Temporal offset</h2><p>{html.escape(doc['offset_match']['message'])}</p>"
            + _svg_plot(
                "whole-reel match score per offset (film frame 0 at output frame x)",
                [(offs, curve, "#31a354", "line")],
                vlines=marks,
                xlabel="offset",
            )
            + _shots_table(doc)
        )
    else:
        sections.append("<h2>Shots</h2>" + _shots_table(doc))
    style = (
        "body{font-family:sans-serif;margin:20px;max-width:1000px} table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px} svg{display:block;margin:6px 0}"
    )
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>conform report</title><style>{style}</style></head><body>"
    page += "\n".join(sections) + "</body></html>\n"
    write_text_atomic(path, page)
