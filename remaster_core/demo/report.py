"""``DIR/report.json`` and ``DIR/report.html``: the demo's numbers and its one-page, self-contained report.

``build_document`` gathers every number the report shows into one JSON-able dict, rounded to the
precision shown (PSNR 2 decimals, SSIM 4, seconds 1, pixels 3); ``render_html`` writes the page from
that dict alone, and every number it prints is a ``<span class="n" data-key="PATH">`` whose text is
the value at ``PATH`` of ``report.json`` (dotted keys, list positions as numbers): the page and the
JSON cannot disagree, and ``tests/demo`` checks it. Margins are differences of the rounded scores, so
they add up on the page.

Sections: the verdict and the held-out scores; per held-out shot, the film-look table (grain amplitude,
grain power per octave band, detail and steadiness, each as a ratio to the hidden film's, beside PSNR;
``remaster_core.look``), the pictures (broadcast, ours and the hidden film side by side, wipes,
magnified details of every method, a grain close-up of ours with grain against the film, the delivered
render); the conform (cadence plot, accuracy against the truth); the alignment (per-shot residuals and
error against the truth, overlays of the pairs); the training curves; the stage timings; how the
evaluation was done. Links go to the stage reports (``conform/report.html``, ``pairs/report.html``).
No external asset, no JS library: inline JPEG/PNG, inline SVG, a slider for the wipes.
"""

from __future__ import annotations

import html
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from remaster_core import __version__
from remaster_core.demo import pictures
from remaster_core.demo.checks import IVTC_OK_DB
from remaster_core.demo.evaluate import BASELINES, COMPARED, LOOK_METHODS, METHODS, ShotEvaluation
from remaster_core.io.atomic import write_json_atomic, write_text_atomic
from remaster_core.io.images import read_image
from remaster_core.io.sequence import parse_pattern
from remaster_core.manifests.align import read_align
from remaster_core.manifests.conform import read_conform
from remaster_core.svgplot import Series, bar_chart, line_plot

if TYPE_CHECKING:
    from remaster_core.demo.pipeline import DemoResults, StageClock, StageTiming

REPORT_VERSION = 1
MAX_DB = 100.0
EVALUATION_NOTE = (
    "Held-out shots are the reel's missing-film shots: their film never reaches the pipeline (remaster synth "
    "keeps it under truth/film_missing/ for this evaluation only). The pipeline cannot know where such a "
    "shot's film sat in the broadcast, so it renders it with the reel's framing (the median of the aligned "
    "shots'); to measure the enhancement "
    "and not the framing guess, the three methods compared here all start from the conformed broadcast frame "
    "resampled into the film raster with the shot's true framing (truth.json): bilinear is that resample, "
    "colour fit applies the quadratic colour correction fitted on the trainer's training pairs to it, ours "
    "runs the exported ONNX model on it with the render engine. Scores count the film pixels the broadcast "
    "picture covers. PSNR pools the squared error of all the shot's frames (peak 1.0, values clipped to "
    "0..1); SSIM is Gaussian-window SSIM (sigma 1.5) per channel, averaged over the covered pixels and the "
    "frames. The frames remaster render delivered with the reel's framing are scored alike, separately."
)


# ------------------------------------------------------------------------------------------- numbers


def _r(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _diff(a: float, b: float, digits: int) -> float:
    return round(a - b, digits)


def _db(value: float) -> float:
    """A PSNR for the report: 2 decimals, a perfect match (inf) capped at ``MAX_DB``."""
    return round(min(float(value), MAX_DB), 2)


def _shot_entry(ev: ShotEvaluation) -> dict[str, Any]:
    scores = {m: {"psnr": _db(s.psnr), "ssim": round(s.ssim, 4)} for m, s in ev.scores.items()}
    ours = scores["ours"]
    margin = {}
    for b in BASELINES:
        margin[f"psnr_db_vs_{b}"] = _diff(ours["psnr"], scores[b]["psnr"], 2)
        margin[f"ssim_vs_{b}"] = _diff(ours["ssim"], scores[b]["ssim"], 4)
    return {
        "shot": ev.shot,
        "conform_shot": ev.conform_shot,
        "first_frame": ev.frames[0],
        "last_frame": ev.frames[-1],
        "frame_count": len(ev.frames),
        "coverage_percent": _r(100.0 * ev.coverage, 1),
        "sample_frame": ev.sample_frame,
        "scores": scores,
        "margin": margin,
        "frame_psnr": {m: [_db(v) for v in ev.scores[m].frame_psnr] for m in METHODS},
        "look": _look_entry(ev),
    }


def _look_entry(ev: ShotEvaluation) -> dict[str, Any]:
    """The film-look table of a shot: per method, ratios to the film (3 decimals) and PSNR (2); the
    film's row is 1 by definition. Ratios the film gives no support for are None (n/a)."""
    out: dict[str, Any] = {}
    for m, report in ev.look.items():
        g = report.grain
        out[m] = {
            "grain_amplitude": _r(g.amplitude.ratio, 3),
            "grain_bands": [_r(b.power.ratio, 3) for b in g.bands],
            "detail": _r(report.detail.energy.ratio, 3),
            "steadiness": _r(report.steadiness.change.ratio, 3),
            "psnr": _r(report.fidelity.psnr_db, 2),
        }
    if ev.look:
        bands = len(next(iter(ev.look.values())).grain.bands)
        out["film"] = {
            "grain_amplitude": 1.0, "grain_bands": [1.0] * bands, "detail": 1.0, "steadiness": 1.0, "psnr": None,
        }  # fmt: skip
    return out


def _held_out(evaluations: list[ShotEvaluation]) -> dict[str, Any]:
    shots = [_shot_entry(ev) for ev in evaluations]
    keys = list(shots[0]["margin"])
    worst = {k: min(s["margin"][k] for s in shots) for k in keys}
    return {
        "note": EVALUATION_NOTE,
        "methods": METHODS,
        "shots": shots,
        "min_margin": worst,
        "beats_bilinear": worst["psnr_db_vs_bilinear"] > 0 and worst["ssim_vs_bilinear"] > 0,
        "beats_colour_fit_psnr": worst["psnr_db_vs_colour_fit"] > 0,
        "beats_colour_fit_ssim": worst["ssim_vs_colour_fit"] > 0,
    }


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _training(results: DemoResults) -> dict[str, Any]:
    rows = _read_metrics(results.paths.run / "metrics.jsonl")
    train = [r for r in rows if r.get("kind") == "train" and r.get("loss") is not None]
    val = [r for r in rows if r.get("kind") == "val" and r.get("psnr") is not None]
    info = results.training
    best = max(val, key=lambda r: r["psnr"]) if val else None
    step_seconds = [r["seconds"] + r.get("data_seconds", 0.0) for r in train if r.get("seconds") is not None]
    return {
        "preset": info.preset,
        "steps": info.steps,
        "skipped_steps": info.skipped_steps,
        "seed": results.seed,
        "threads": info.threads,
        "batch_size": info.batch_size,
        "crop_size": info.crop_size,
        "lr": info.lr,
        "loss": info.loss,
        "train_shots": info.train_shots,
        "val_shots": info.val_shots,
        "train_frames": len(info.train_pairs),
        "val_frames": info.val_frames,
        "best_val_psnr": _r(best["psnr"], 2) if best else None,
        "best_step": best["step"] if best else None,
        "input_val_psnr": _r(val[0].get("input_psnr"), 2) if val else None,
        "median_step_seconds": _r(float(np.median(step_seconds)), 3) if step_seconds else None,
        "curve": {"step": [r["step"] for r in train], "loss": [_r(r["loss"], 5) for r in train]},
        "val": {"step": [r["step"] for r in val], "psnr": [_r(r["psnr"], 2) for r in val]},
    }


def _conform(results: DemoResults) -> dict[str, Any]:
    conform = read_conform(results.paths.conform)
    psnrs = [_db(v) for v in results.evaluation.conform_psnr]
    truth_cuts = [int(c) for c in results.truth["cuts_24p"]]
    frames = conform.frames or ()
    return {
        "frames": conform.frame_count,
        "truth_frames": results.truth["frames24p"]["count"],
        "cuts": list(conform.cuts),
        "truth_cuts": truth_cuts,
        "cuts_match": sorted(conform.cuts) == truth_cuts,
        "orphans": len(conform.orphans or ()),
        "combed": len(conform.combed or ()),
        "cadence_breaks": len(conform.cadence_breaks or ()),
        "offset": conform.offset,
        "psnr_vs_truth_min": _r(min(psnrs), 2),
        "psnr_vs_truth_median": _r(float(np.median(psnrs)), 2),
        "frames_below_ok": sum(1 for p in psnrs if p < IVTC_OK_DB),
        "ok_db": IVTC_OK_DB,
        "psnr_vs_truth": psnrs,
        "phases": [f.phase for f in frames],
        "kinds": [f.kind for f in frames],
    }


def _align(results: DemoResults) -> dict[str, Any]:
    manifest = read_align(results.paths.pairs / "align.json")
    truth_of = {c: s for s, c in results.evaluation.shot_map.items() if c is not None}
    errors = results.evaluation.align_error
    shots = []
    for e in manifest.shots:
        r = e.residuals or {}
        shots.append(
            {
                "shot": e.index,
                "truth_shot": truth_of.get(e.index),
                "status": e.status,
                "pairs": (e.frame_count or 0) if e.status == "aligned" else 0,
                "flow_rms_px": _r(r.get("flow_rms_px"), 3),
                "valid_percent": _r(100.0 * r["valid_fraction"], 1)
                if r.get("valid_fraction") is not None
                else None,
                "model_error_px": _r(errors.get(e.index), 3),
            }
        )
    return {"summary": dict(manifest.summary or {}), "shots": shots}


def build_document(results: DemoResults) -> dict[str, Any]:
    """Every number of the report but the timings, rounded as shown (see the module docstring)."""
    evaluation = results.evaluation
    return {
        "version": REPORT_VERSION,
        "remaster_version": __version__,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "preset": results.preset.name,
        "seed": results.seed,
        "links": {
            "conform_report": "conform/report.html",
            "align_report": "pairs/report.html",
            "model": "model.onnx",
            "render": "render/",
            "reel_truth": "reel/truth.json",
            "training_metrics": "run/metrics.jsonl",
        },
        "held_out": _held_out(evaluation.held_out),
        "colour_fit": {**evaluation.colour.to_dict(), "train_shots": results.training.train_shots},
        "conform": _conform(results),
        "align": _align(results),
        "training": _training(results),
        "export": results.export,
        "render": results.render,
    }


def timings(stages: list[StageTiming], limit: float | None, started: float) -> dict[str, Any]:
    """The stage timings recorded so far and the total since ``started`` (``time.perf_counter``)."""
    total = time.perf_counter() - started
    return {
        "stages": [
            {"name": t.name, "seconds": _r(t.seconds, 1), "cpu_seconds": _r(t.cpu_seconds, 1)} for t in stages
        ],
        "total_seconds": _r(total, 1),
        "total_cpu_seconds": _r(sum(t.cpu_seconds for t in stages), 1),
        "limit_seconds": limit,
        "within_limit": None if limit is None else total < limit,
    }


# -------------------------------------------------------------------------------------------- html


def lookup(document: dict[str, Any], key: str) -> Any:
    """The value at dotted ``key`` of ``document`` (list positions as numbers): ``held_out.shots.0.shot``."""
    node: Any = document
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


class _Page:
    """Writes values from the document, each tagged with its key (see the module docstring)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document

    def v(self, key: str) -> str:
        """The value at ``key`` as JSON text (a list of shots, a learning rate), tagged."""
        return f'<span class="n" data-key="{key}">{html.escape(json.dumps(lookup(self.doc, key)))}</span>'

    def n(self, key: str, digits: int = 0, unit: str = "") -> str:
        """The number at ``key`` with ``digits`` decimals (a sign on margins), tagged; then ``unit``."""
        value = lookup(self.doc, key)
        if value is None:
            return "n/a"
        text = f"{value:.{digits}f}" if digits else str(int(value))
        parts = key.split(".")
        sign = "+" if len(parts) > 1 and parts[-2] in ("margin", "min_margin") and value > 0 else ""
        return f'<span class="n" data-key="{key}">{sign}{text}</span>{unit}'


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _verdict(p: _Page) -> str:
    held = p.doc["held_out"]
    shots = ", ".join(p.n(f"held_out.shots.{k}.shot") for k in range(len(held["shots"])))

    def claim(b: str, metric: str) -> str:
        key = f"held_out.min_margin.{metric}_vs_{b}"
        value = lookup(p.doc, key)
        unit = " dB" if metric == "psnr_db" else ""
        word = "beats" if value > 0 else "does not beat"
        name = {"psnr_db": "PSNR", "ssim": "SSIM"}[metric]
        value_text = p.n(key, 2 if unit else 4, unit)
        return f"<li>{name}: ours <b>{word}</b> {METHODS[b].split(' (')[0]} by {value_text}</li>"

    items = "".join(claim(b, m) for b in BASELINES for m in ("psnr_db", "ssim"))
    return (
        f"<p>Held-out (missing-film) reel shot(s) {shots}, smallest margin over the shots "
        f"(ours minus the baseline, true framing):</p><ul>{items}</ul>"
    )


def _scores_table(p: _Page, k: int) -> str:
    rows = []
    for m, label in METHODS.items():
        base = f"held_out.shots.{k}.scores.{m}"
        rows.append([html.escape(label), p.n(f"{base}.psnr", 2, " dB"), p.n(f"{base}.ssim", 4)])
    margins = [
        [f"ours - {html.escape(METHODS[b])}", p.n(f"held_out.shots.{k}.margin.psnr_db_vs_{b}", 2, " dB"),
         p.n(f"held_out.shots.{k}.margin.ssim_vs_{b}", 4)]
        for b in BASELINES
    ]  # fmt: skip
    return _table(["method", "PSNR", "SSIM"], rows + margins)


def _look_table(p: _Page, ev: ShotEvaluation, k: int) -> str:
    """The film-look table of held-out shot ``k`` (ratios to the hidden film; 1 = like the film)."""
    if not ev.look:
        return ""
    bands = next(iter(ev.look.values())).grain.bands
    head = ["method", "grain amplitude"]
    head += [f"grain power {b.low:.4g}-{b.high:.4g} cycles/px" for b in bands]
    head += ["detail", "steadiness", "PSNR (whole frame)"]
    rows = []
    for m, label in {**LOOK_METHODS, "film": "hidden film"}.items():
        base = f"held_out.shots.{k}.look.{m}"
        rows.append(
            [html.escape(label), p.n(f"{base}.grain_amplitude", 3)]
            + [p.n(f"{base}.grain_bands.{i}", 3) for i in range(len(bands))]
            + [p.n(f"{base}.detail", 3), p.n(f"{base}.steadiness", 3), p.n(f"{base}.psnr", 2, " dB")]
        )
    note = (
        "<p class='note'>Film look (remaster evaluate's measures, whole frames): each column is the render's "
        "measure over the hidden film's. Grain: the high-pass residual in the film's flat regions, taken on "
        "the difference of consecutive frames after motion compensation (the picture cancels, the grain "
        "stays), its RMS and its power per octave band; detail: high-frequency energy in textured regions, each picture's own "
        "grain taken out; steadiness: frame-to-frame change after motion compensation. 1 is the film; ours "
        "with grain adds the grain the render synthesises from the model's grain profile.</p>"
    )
    return "<h4>Film look</h4>" + _table(head, rows) + note


def _grain_closeup(ev: ShotEvaluation, size: int = 48, factor: int = 4) -> str:
    """A flat crop of ours with grain and of the film, 4x nearest-neighbour: the grain itself."""
    s = ev.sample
    if "ours_grain" not in s:
        return ""
    box = pictures.flat_box(s["film"], ev.mask, size)
    return "\n".join([
        f"<h4>Grain close-up, {factor}x nearest neighbour (flattest {size} px square)</h4>",
        '<div class="row">',
        pictures.figure(pictures.outline(s["film"], box), "where", width=240),
        pictures.figure(pictures.zoom(s["ours"], box, factor), "ours (clean)", png=True),
        pictures.figure(pictures.zoom(s["ours_grain"], box, factor), "ours with grain", png=True),
        pictures.figure(pictures.zoom(s["film"], box, factor), "hidden film", png=True),
        "</div>",
    ])  # fmt: skip


def _shot_pictures(ev: ShotEvaluation, detail: int) -> str:
    s = ev.sample
    box = pictures.detail_box(s["film"], ev.mask, detail)
    factor = max(1, 384 // box[2])
    parts = [
        '<div class="row">',
        pictures.figure(s["bilinear"], "broadcast (resampled, true framing)"),
        pictures.figure(s["ours"], "ours"),
        pictures.figure(s["film"], "hidden film"),
        "</div>",
        pictures.wipe(s["ours"], s["film"], "ours", "hidden film"),
        pictures.wipe(s["bilinear"], s["ours"], "broadcast", "ours"),
        f"<h4>Detail, {factor}x (yellow box)</h4>",
        '<div class="row">',
        pictures.figure(pictures.outline(s["film"], box), "where", width=240),
        *(
            pictures.figure(pictures.zoom(s[m], box, factor), METHODS[m].split(" (")[0], png=True)
            for m in COMPARED
        ),
        pictures.figure(pictures.zoom(s["film"], box, factor), "hidden film", png=True),
        "</div>",
        "<h4>What the pipeline delivered (the reel's framing)</h4>",
        '<div class="row">',
        pictures.figure(s["ours_delivered"], "ours as rendered (delivered framing)"),
        pictures.figure(
            pictures.checkerboard(s["ours_delivered"], s["film"], max(16, s["film"].shape[1] // 12)),
            "checkerboard: rendered | film (broken edges: the framing guess)",
        ),
        "</div>",
    ]
    return "\n".join(parts)


def _held_out_section(p: _Page, evaluations: list[ShotEvaluation]) -> str:
    parts = ["<h2>Held-out shots</h2>", _verdict(p)]
    for k, ev in enumerate(evaluations):
        base = f"held_out.shots.{k}"
        parts.append(
            f"<h3>Reel shot {p.n(base + '.shot')} (conform shot {p.n(base + '.conform_shot')}): conformed "
            f"frames {p.n(base + '.first_frame')}-{p.n(base + '.last_frame')} "
            f"({p.n(base + '.frame_count')} frames; the broadcast covers "
            f"{p.n(base + '.coverage_percent', 1, ' %')} of the film raster); pictures of frame "
            f"{p.n(base + '.sample_frame')}</h3>"
        )
        parts.append(_scores_table(p, k))
        parts.append(_look_table(p, ev, k))
        series = [
            Series(np.arange(len(v), dtype=float), np.array(v, float), c, METHODS[m].split(" (")[0], "line")
            for (m, v), c in zip(
                ((m, p.doc["held_out"]["shots"][k]["frame_psnr"][m]) for m in COMPARED),
                ("#999999", "#e6550d", "#3182bd"),
                strict=True,
            )
        ]
        parts.append(
            line_plot("PSNR per frame (true framing)", series, xlabel="frame of the shot", ylabel="dB")
        )
        detail = max(48, ev.sample["film"].shape[1] // 6)
        parts.append(_shot_pictures(ev, detail))
        parts.append(_grain_closeup(ev))
    return "\n".join(parts)


def _conform_section(p: _Page) -> str:
    c = p.doc["conform"]
    phases = np.array([np.nan if v is None else float(v) for v in c["phases"]])
    kinds = c["kinds"]
    colours = {"film": "#2b7bb9", "orphan": "#d7301f", "video": "#7a0177", "progressive": "#41ab5d"}
    idx = np.arange(len(phases), dtype=float)
    series = [
        Series(
            idx[[k == kind for k in kinds]],
            phases[[k == kind for k in kinds]],
            colours.get(kind, "#333"),
            kind,
            "dot",
        )
        for kind in dict.fromkeys(kinds)
    ]
    cuts = [(float(x), "#3182bd") for x in c["cuts"]]
    cadence = line_plot(
        "IVTC cadence: phase (0..9 of the 3:2 cycle) of each output frame's first field; blue: cuts found",
        series, xlabel="conformed frame", ylim=(-1.5, 9.5), vlines=cuts,
    )  # fmt: skip
    acc = line_plot(
        "each conformed frame against the 24p frame that went into the telecine",
        [Series(idx, np.array(c["psnr_vs_truth"], float), "#31a354", "PSNR", "dot")],
        xlabel="conformed frame", ylabel="dB", vlines=[(float(x), "#999999") for x in c["truth_cuts"]],
    )  # fmt: skip
    rows = [
        ["frames (conform / reel)", f"{p.n('conform.frames')} / {p.n('conform.truth_frames')}"],
        ["cuts (conform / truth)", f"{p.v('conform.cuts')} / {p.v('conform.truth_cuts')}"],
        ["orphan frames rebuilt, combed, cadence breaks",
         f"{p.n('conform.orphans')}, {p.n('conform.combed')}, {p.n('conform.cadence_breaks')}"],
        ["PSNR against the truth (min / median)",
         f"{p.n('conform.psnr_vs_truth_min', 2, ' dB')} / {p.n('conform.psnr_vs_truth_median', 2, ' dB')}"],
        [f"frames below {p.n('conform.ok_db', 1, ' dB')} (wrong fields)", p.n("conform.frames_below_ok")],
        ["film offset (the conformed frame that shows the first film frame)", p.n("conform.offset")],
    ]  # fmt: skip
    return (
        f'<h2>Conform</h2><p>Full report: <a href="{p.doc["links"]["conform_report"]}">'
        "conform/report.html</a></p>" + _table(["", ""], rows) + cadence + acc
    )


def _align_overlays(pairs: Path) -> str:
    manifest = read_align(pairs / "align.json")
    figs = []
    for e in manifest.shots:
        if e.status != "aligned" or e.input is None or e.target is None:
            continue
        first = e.first if e.broadcast_first is None else e.broadcast_first
        last = e.last if e.broadcast_last is None else e.broadcast_last
        middle = (first + last) // 2
        if middle in {m.frame for m in e.masked_frames or ()}:
            continue
        inp = read_image(parse_pattern(str(manifest.folder / e.input)).path(middle))[0]
        tgt = read_image(parse_pattern(str(manifest.folder / e.target)).path(middle))[0]
        cell = max(16, tgt.shape[1] // 12)
        board = pictures.checkerboard(inp, tgt, cell)
        w = min(360, board.shape[1])
        small = cv2.resize(
            board, (w, round(board.shape[0] * w / board.shape[1])), interpolation=cv2.INTER_AREA
        )
        figs.append(pictures.figure(small, f"shot {e.index}, frame {middle}: aligned input | film"))
    return '<div class="row">' + "".join(figs) + "</div>"


def _align_section(p: _Page, pairs: Path) -> str:
    rows = []
    for k, s in enumerate(p.doc["align"]["shots"]):
        base = f"align.shots.{k}"
        rows.append(
            [p.n(base + ".shot"), "-" if s["truth_shot"] is None else p.n(base + ".truth_shot"),
             html.escape(s["status"]), p.n(base + ".pairs"), p.n(base + ".flow_rms_px", 3, " px"),
             p.n(base + ".valid_percent", 1, " %"), p.n(base + ".model_error_px", 3, " px")]
        )  # fmt: skip
    return (
        "<h2>Alignment</h2><p>Full report with overlays of every step: "
        f'<a href="{p.doc["links"]["align_report"]}">pairs/report.html</a>. Model error: the fitted '
        "5-parameter mapping (translation, scale, lens) against the true framing, RMS over the covered "
        "film pixels, before the dense per-frame correction.</p>"
        + _table(
            ["shot", "reel shot", "status", "pairs", "flow residual", "valid", "model error vs truth"], rows
        )
        + "<p>Checkerboards of a training pair (the broadcast as aligned into the film raster, and the "
        "film): edges run on across the squares where the alignment is right; the colours differ (the grade "
        "is what the model learns).</p>" + _align_overlays(pairs)
    )


def _training_section(p: _Page) -> str:
    t = p.doc["training"]
    steps = np.array(t["curve"]["step"], float)
    loss = np.array(t["curve"]["loss"], float)
    window = max(1, len(loss) // 40)
    smooth = np.convolve(loss, np.ones(window) / window, mode="same") if loss.size else loss
    curves = line_plot(
        "training loss (FFT-L1) per step", [Series(steps, loss, "#c6dbef", "per step"),
                                            Series(steps, smooth, "#08519c", f"mean of {window}")],
        xlabel="step",
    )  # fmt: skip
    vsteps = np.array(t["val"]["step"], float)
    val = line_plot(
        "validation PSNR on the held-out validation shot (EMA weights)",
        [Series(vsteps, np.array(t["val"]["psnr"], float), "#3182bd", "model", "line"),
         Series(vsteps, np.full(vsteps.shape, np.nan if t["input_val_psnr"] is None else t["input_val_psnr"]),
                "#999999", "input (bilinear)", "line")],
        xlabel="step", ylabel="dB",
    )  # fmt: skip
    rows = [
        ["recipe", (f"{html.escape(t['preset'])}, batch {p.n('training.batch_size')} of "
                    f"{p.n('training.crop_size')} px crops, lr {p.v('training.lr')}, "
                    f"loss {html.escape(t['loss'])}, seed {p.n('training.seed')}, "
                    f"torch threads {p.n('training.threads')}")],
        ["steps (skipped)", f"{p.n('training.steps')} ({p.n('training.skipped_steps')})"],
        ["training shots (conform numbering) / frames",
         f"{p.v('training.train_shots')} / {p.n('training.train_frames')}"],
        ["validation shots (conform numbering) / frames",
         f"{p.v('training.val_shots')} / {p.n('training.val_frames')}"],
        ["best validation PSNR (step)", (f"{p.n('training.best_val_psnr', 2, ' dB')} "
                                         f"({p.n('training.best_step')}); input "
                                         f"{p.n('training.input_val_psnr', 2, ' dB')}")],
        ["median step time", p.n("training.median_step_seconds", 3, " s")],
    ]  # fmt: skip
    return "<h2>Training</h2>" + _table(["", ""], rows) + curves + val


def _timings_section(p: _Page) -> str:
    t = p.doc["timings"]
    rows = [
        [
            html.escape(s["name"]),
            p.n(f"timings.stages.{k}.seconds", 1, " s"),
            p.n(f"timings.stages.{k}.cpu_seconds", 1, " s"),
        ]
        for k, s in enumerate(t["stages"])
    ]
    rows.append(
        ["<b>total</b>", p.n("timings.total_seconds", 1, " s"), p.n("timings.total_cpu_seconds", 1, " s")]
    )
    bar = ""
    if t["limit_seconds"] is not None:
        bar = f"<p>Bar for this preset: under {p.n('timings.limit_seconds', 0, ' s')} on 2 cores: " + (
            "met.</p>" if t["within_limit"] else "<b>missed</b>.</p>"
        )
    chart = bar_chart("wall-clock time per stage", [s["name"] for s in t["stages"]],
                      [s["seconds"] for s in t["stages"]], unit="s")  # fmt: skip
    return (
        "<h2>Timings</h2>" + bar + _table(["stage", "wall clock", "CPU (process and children)"], rows) + chart
    )


_STYLE = (
    "body{font-family:sans-serif;margin:20px auto;max-width:1160px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
    "font-size:13px}figure{display:inline-block;margin:4px}figcaption,.caption{font-size:12px;color:#555}"
    ".row{display:flex;flex-wrap:wrap;align-items:flex-start}.row img{max-width:380px;height:auto}"
    ".wipe{position:relative;margin-top:10px}.wipe img{display:block}"
    ".wipe .top{position:absolute;top:0;left:0;height:100%;overflow:hidden;border-right:2px solid #ff0}"
    "svg{display:block;margin:8px 0}.note{font-size:13px;color:#444;max-width:1000px}"
)


def write_report(
    results: DemoResults, stages: list[StageTiming], started: float, clock: StageClock
) -> dict[str, Any]:
    """Write ``report.json`` and ``report.html`` into the demo folder; returns the document.

    Args:
        results: what the stages produced; stages: their timings so far (the report's own is added when
            ``clock`` stops); started: ``time.perf_counter()`` at the demo's start.

    The pictures and plots are made first; then the report's clock stops and the timings (the report's
    own included, all but the writing of the two files) join the document and the page.
    """
    document = build_document(results)
    p = _Page(document)
    body = [
        _held_out_section(p, results.evaluation.held_out),
        _conform_section(p),
        _align_section(p, results.paths.pairs),
        _training_section(p),
    ]
    clock.stop()
    document["timings"] = timings(stages, results.preset.time_limit_s, started)
    head = (
        f"<h1>remaster demo: {html.escape(document['preset'])} reel, seed {p.n('seed')}</h1>"
        f"<p>synth -> conform -> align -> train -> export -> render -> evaluate -> report, in "
        f"{p.n('timings.total_seconds', 1, ' s')}. Every number here is in "
        "<a href='report.json'>report.json</a>; "
        f"model: <a href='{document['links']['model']}'>model.onnx</a>; rendered frames: "
        f"<a href='{document['links']['render']}'>render/</a>.</p>"
    )
    note = f"<h2>How this was measured</h2><p class='note'>{html.escape(EVALUATION_NOTE)}</p>"
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>remaster demo</title>"
        f"<style>{_STYLE}</style></head><body>"
        + "\n".join([head, *body, _timings_section(p), note])
        + "</body></html>\n"
    )
    write_json_atomic(results.paths.out / "report.json", document)
    write_text_atomic(results.paths.out / "report.html", page)
    return document
