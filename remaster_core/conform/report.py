"""``report.html``: the conform at a glance, one self-contained HTML file with inline SVG plots.

Sections: a summary (frames, cuts, orphans, combed and video frames, cadence breaks, offset, decode
error); the cadence over time (the phase each output frame's first field sits at, coloured by how the
frame was built, with cuts and breaks as vertical lines); the weave comb score per frame against the
"combed" threshold; the cut score per frame; the offset match (the whole-reel curve and a table of
shots with their film start and match score). The SVG plots are ``remaster_core.svgplot``'s.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remaster_core.conform.cadence import CadenceParams
from remaster_core.io.atomic import write_text_atomic
from remaster_core.svgplot import Series, line_plot

if TYPE_CHECKING:
    from remaster_core.conform.pipeline import Conformed

_W, _H = 960, 170
_COLOURS = {"film": "#2b7bb9", "orphan": "#d7301f", "video": "#7a0177", "progressive": "#41ab5d"}


def _plot(
    title: str,
    series: list[Series],
    *,
    vlines: list[tuple[float, str]],
    hlines: list[tuple[float, str]] | None = None,
    ylim: tuple[float, float] | None = None,
    xlabel: str = "output frame",
) -> str:
    return line_plot(
        title, series, xlabel=xlabel, vlines=vlines, hlines=hlines or [], ylim=ylim, width=_W, height=_H
    )


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
        Series(
            np.array([a for a, _ in v], float),
            np.array([b for _, b in v], float),
            _COLOURS.get(k, "#333"),
            "",
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
        + _plot("cadence phase per output frame", series, vlines=cut_lines + breaks, ylim=(-1.5, 9.5))
    )

    comb = np.array([f.get("comb", np.nan) for f in frames], dtype=float)
    sections.append(
        "<h2>Weave combing</h2><p>log(comb of the woven frame / comb inside its fields): at or below 0 a clean "
        "weave of one film frame; above the dashed threshold the frame is flagged combed.</p>"
        + _plot(
            "weave comb score",
            [Series(idx, comb, "#2b7bb9", "")],
            vlines=cut_lines,
            hlines=[(CadenceParams().combed_threshold, "#e6550d")],
        )
    )
    sections.append(
        "<h2>Cuts</h2>"
        + _plot(
            "cut score (histogram + standardised thumbnail difference)",
            [Series(idx, result.cut_scores.astype(float), "#636363", "")],
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
            + _plot(
                "whole-reel match score per offset (film frame 0 at output frame x)",
                [Series(offs, curve, "#31a354", "")],
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
