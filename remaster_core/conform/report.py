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
from typing import TYPE_CHECKING

import numpy as np

from remaster_core.conform.cadence import CadenceParams
from remaster_core.io.atomic import write_text_atomic
from remaster_core.manifests.conform import FILENAME, ConformManifest
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


def _listed(values: tuple[int, ...] | None) -> str:
    return str(list(values)) if values else "none"


def _summary(m: ConformManifest) -> str:
    rows = [
        ("source", m.source),
        ("input", f"{m.input_kind} ({m.source_fps} fps, {m.field_order})"),
        ("output frames", f"{m.frame_count} at 23.976 from {m.source_frame_count} broadcast frames"),
        ("cuts", f"{len(m.cuts)} cuts, {len(m.shots)} shots; cuts at {list(m.cuts)}"),
        ("orphans (rebuilt from one field)", _listed(m.orphans)),
        ("combed (check these)", _listed(m.combed)),
        ("video-originated frames", f"{len(m.video_frames or ())}"),
        ("cadence breaks (fields)", _listed(m.cadence_breaks)),
        ("cadence on little evidence (check these)", _listed(m.uncertain_cadence)),
        ("decode error", m.decode_error or "none"),
    ]
    if m.offset_match is not None:
        rows.append(("offset", f"{m.offset}: {m.offset_match.message}"))
        rows.append(("picture jumps joined into their film shot (not cuts)", _listed(m.joined_cuts)))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _shots_table(m: ConformManifest) -> str:
    head = (
        "<tr><th>shot</th><th>first</th><th>last</th><th>film_first</th><th>film jumps (frame: film index)"
        "</th><th>match score</th><th>z</th></tr>"
    )
    body = "".join(
        f"<tr><td>{k}</td><td>{s.first}</td><td>{s.last}</td><td>{s.film_first}</td>"
        f"<td>{', '.join(f'{f}: {i}' for f, i in s.film_jumps)}</td><td>{s.match_score}</td><td>{s.z}</td></tr>"
        for k, s in enumerate(m.shots)
    )
    return f"<table>{head}{body}</table>"


def write_report(path: str | Path, result: Conformed) -> None:
    """Write the HTML report of ``result`` to ``path`` (atomically)."""
    m = (
        result.manifest
        if result.manifest is not None
        else ConformManifest.from_dict(result.document, result.out_dir / FILENAME)
    )
    frames = m.frames or ()
    n = len(frames)
    idx = np.arange(n, dtype=float)
    cut_lines = [(float(c), "#3182bd") for c in m.cuts]
    sections = [f"<h1>remaster conform</h1>{_summary(m)}"]

    by_kind: dict[str, list[tuple[int, float]]] = {}
    for f in frames:
        by_kind.setdefault(f.kind, []).append((f.index, -1.0 if f.phase is None else float(f.phase)))
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
    frame_of_field = {fld: f.index for f in frames for fld in f.fields}
    breaks = [(float(frame_of_field[b]), "#d7301f") for b in m.cadence_breaks or () if b in frame_of_field]
    legend = ", ".join(f'<span style="color:{_COLOURS[k]}">{k}</span>' for k in by_kind if k in _COLOURS)
    sections.append(
        "<h2>Cadence</h2><p>Phase (0..9 of the 3:2 cycle At Ab Bt Bb Bt Cb Ct Db Dt Db) of each output frame's "
        f"first field; -1 for video. Colours: {legend}. Blue lines: cuts; red lines: cadence breaks.</p>"
        + _plot("cadence phase per output frame", series, vlines=cut_lines + breaks, ylim=(-1.5, 9.5))
    )

    comb = np.array([np.nan if f.comb is None else f.comb for f in frames], dtype=float)
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
    if result.offset is not None and m.film is not None and m.offset_match is not None:
        curve = result.offset.global_curve.astype(float)
        offs = np.arange(curve.size, dtype=float) - (m.film.frame_count - 1)
        marks = [(float(m.offset), "#d7301f")] if m.offset is not None else []
        sections.append(
            f"<h2>Temporal offset</h2><p>{html.escape(m.offset_match.message)}</p>"
            + _plot(
                "whole-reel match score per offset (film frame 0 at output frame x)",
                [Series(offs, curve, "#31a354", "")],
                vlines=marks,
                xlabel="offset",
            )
            + _shots_table(m)
        )
    else:
        sections.append("<h2>Shots</h2>" + _shots_table(m))
    style = (
        "body{font-family:sans-serif;margin:20px;max-width:1000px} table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px} svg{display:block;margin:6px 0}"
    )
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>conform report</title><style>{style}</style></head><body>"
    page += "\n".join(sections) + "</body></html>\n"
    write_text_atomic(path, page)
