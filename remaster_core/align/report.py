"""``report.html``: the alignment at a glance, one self-contained HTML file (inline PNG and SVG).

Sections: a summary table of every shot (status, reason, transform, residuals); then for each aligned
shot, on its middle frame:

- overlays of the film against the broadcast resampled three ways: the nominal transform (no
  alignment), the 4-parameter fit alone (``transform``), and the final mapping (5 parameters + dense):
  a checkerboard (film and broadcast squares alternate: broken edges at square borders show
  misalignment) and a difference image (grade-matched luma, |film - broadcast| x 4, black is perfect),
  for the whole frame and for a 1:1 crop near a corner, where lens distortion is largest;
- the non-affine part of the mapping as arrows (lens distortion plus the dense correction, scaled);
- residual plots: per-frame flow residual and valid fraction, and a histogram of the SIFT inliers'
  distance to the final model (its offset from zero is the feature positions' bias).

The line plot is ``remaster_core.svgplot``'s; the histogram and the arrows are drawn here as SVG;
images are JPEG (OpenCV) in data: URIs.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from remaster_core.align.prep import luma
from remaster_core.align.transform import map_points, nominal_transform, resample, sampling_maps
from remaster_core.io.atomic import write_text_atomic
from remaster_core.svgplot import Series, line_plot

if TYPE_CHECKING:
    from remaster_core.align.shot import FrameAlignment, ShotModel

_THUMB_W = 360
_CROP = 160


@dataclass
class ShotVisual:
    """The pictures and numbers the report shows for one aligned shot (uint8 RGB images).

    Attributes:
        index: the shot.
        overlays: name -> (checkerboard, difference), whole frame, at most 420 px wide.
        crops: name -> (checkerboard, difference), 1:1 crops near the top-left corner.
        arrows: float64 (N, 4) grid points (x, y) and non-affine displacement (dx, dy), film px.
        sparse_residuals: float64 (M,) SIFT inliers' distance to the final model, film px.
    """

    index: int
    overlays: dict[str, tuple[np.ndarray, np.ndarray]]
    crops: dict[str, tuple[np.ndarray, np.ndarray]]
    arrows: np.ndarray
    sparse_residuals: np.ndarray
    film_size: tuple[int, int]


def _u8(img: np.ndarray) -> np.ndarray:
    """float 0..1 (H, W) or (H, W, C) -> uint8 of the same shape."""
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _checker(a: np.ndarray, b: np.ndarray, cell: int) -> np.ndarray:
    """``a`` and ``b`` (H, W, C) in alternating ``cell`` px squares (``a`` at the top left)."""
    h, w = a.shape[:2]
    rows = (np.arange(h) // cell) % 2 == 1
    cols = (np.arange(w) // cell) % 2 == 1
    return np.where((rows[:, None] != cols[None, :])[..., None], b, a)


def _difference(film_luma: np.ndarray, bc: np.ndarray, grade: np.ndarray) -> np.ndarray:
    """uint8 (H, W): |film luma - graded broadcast luma| x 4 (``film_luma`` float32 (H, W), ``bc`` RGB)."""
    graded = np.polyval(grade.astype(np.float32), luma(bc)).astype(np.float32, copy=False)
    return _u8(np.minimum(cv2.absdiff(film_luma, graded) * np.float32(4.0), 1.0))


def _rgb(grey: np.ndarray) -> np.ndarray:
    """uint8 (H, W) -> (H, W, 3)."""
    return np.repeat(grey[..., None], 3, axis=2)


def _thumb(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if w <= _THUMB_W:
        return img
    return cv2.resize(img, (_THUMB_W, round(h * _THUMB_W / w)), interpolation=cv2.INTER_AREA)


def make_visual(
    index: int,
    film: np.ndarray,
    broadcast: np.ndarray,
    final_input: np.ndarray,
    valid: np.ndarray,
    model: ShotModel,
    frame: FrameAlignment,
    broadcast_par: float,
) -> ShotVisual:
    """Build shot ``index``'s report pictures from one frame (float32 RGB film, broadcast, the input written)."""
    fw, fh = model.film_size
    nominal = nominal_transform(model.broadcast_size, broadcast_par, model.film_size)
    views = {
        "nominal transform": resample(broadcast, *sampling_maps(nominal, model.film_size)),
        "4-parameter fit": resample(broadcast, *sampling_maps(model.transform, model.film_size)),
        "final mapping": final_input,
    }
    cell = max(8, fw // 12)
    overlays, crops = {}, {}
    cx, cy = int(fw * 0.06), int(fh * 0.06)
    crop = (slice(cy, min(fh, cy + _CROP)), slice(cx, min(fw, cx + _CROP)))
    film_luma = luma(film)
    for name, view in views.items():
        # reduced before the conversion to 8 bits: the whole frame is shown at thumbnail size
        chk = _u8(_thumb(_checker(film, view, cell)))
        diff = _difference(film_luma, view, model.grade)
        diff[~valid] //= 3  # invalid areas dimmed
        overlays[name] = (chk, _rgb(_thumb(diff)))
        small_chk = _u8(_checker(film[crop], view[crop], 20))
        crops[name] = (small_chk, _rgb(diff[crop]))
    step = max(fw, fh) / 12.0
    gx, gy = np.meshgrid(np.arange(step / 2, fw, step), np.arange(step / 2, fh, step))
    xi, yi = np.clip(gx.astype(int), 0, fw - 1), np.clip(gy.astype(int), 0, fh - 1)
    ax, ay = model.transform.apply(gx, gy)
    dx = (frame.map_x[yi, xi] - ax) / model.transform.sx
    dy = (frame.map_y[yi, xi] - ay) / model.transform.sy
    arrows = np.stack([gx.ravel(), gy.ravel(), dx.ravel(), dy.ravel()], 1)
    sp = model.sparse
    inl = sp.inliers
    px, py = map_points(sp.matches.film_xy[inl, 0], sp.matches.film_xy[inl, 1], model.transform, model.radial)
    rx = (sp.matches.broadcast_xy[inl, 0] - px) / model.transform.sx
    ry = (sp.matches.broadcast_xy[inl, 1] - py) / model.transform.sy
    return ShotVisual(index, overlays, crops, arrows, np.hypot(rx, ry), model.film_size)


def _data_uri(img: np.ndarray) -> str:
    """uint8 RGB -> an inline JPEG (quality 90: these are photographs with noise; PNG would be 5x larger)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _img(img: np.ndarray, title: str) -> str:
    return (
        f'<figure><img src="{_data_uri(img)}" width="{img.shape[1]}" height="{img.shape[0]}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def _svg_histogram(title: str, values: np.ndarray, unit: str) -> str:
    w, h, pad = 560, 180, 40
    if values.size == 0:
        return f"<p>{html.escape(title)}: no values</p>"
    hi = float(np.percentile(values, 99)) or 1.0
    counts, _ = np.histogram(np.clip(values, 0, hi), bins=30, range=(0, hi))
    top = max(int(counts.max()), 1)
    bw = (w - 2 * pad) / len(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
        f'<text x="{pad}" y="14" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="{pad}" y="{h - 6}">0</text><text x="{w - pad}" y="{h - 6}" text-anchor="end">{hi:.2f} {unit}</text>',
        (
            f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle">median {np.median(values):.3f} {unit}, '
            f"n = {values.size}</text>"
        ),
    ]
    for k, c in enumerate(counts):
        bh = c / top * (h - 1.5 * pad - 8)
        parts.append(
            f'<rect x="{pad + k * bw:.1f}" y="{h - pad - bh:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" fill="#2b7bb9"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_arrows(title: str, arrows: np.ndarray, film_size: tuple[int, int]) -> str:
    fw, fh = film_size
    w = 420
    s = w / fw
    h = round(fh * s)
    mags = np.hypot(arrows[:, 2], arrows[:, 3])
    gain = 0.8 * (max(fw, fh) / 12.0) * s / max(float(mags.max()), 1e-6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 20}" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="12" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="0" y="20" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>',
    ]
    for x, y, dx, dy in arrows:
        x0, y0 = x * s, 20 + y * s
        parts.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x0 + dx * gain:.1f}" y2="{y0 + dy * gain:.1f}" '
            'stroke="#d7301f" stroke-width="1.5"/>'
            f'<circle cx="{x0:.1f}" cy="{y0:.1f}" r="1.5" fill="#333"/>'
        )
    parts.append(f'<text x="{w - 2}" y="{h + 16}" text-anchor="end">longest {mags.max():.2f} film px</text>')
    parts.append("</svg>")
    return "".join(parts)


def _shot_row(e: dict[str, Any]) -> str:
    t = e.get("transform") or {}
    tr = ", ".join(f"{k} {t[k]:.4f}" for k in ("tx", "ty", "sx", "sy")) if t else ""
    k1 = f"{e['distortion']['k1']:.4f}" if e.get("distortion") else ""
    r = e.get("residuals") or {}
    res = ""
    if r:
        flow = "n/a" if r["flow_rms_px"] is None else f"{r['flow_rms_px']:.3f} film px"
        res = f"{flow}, {100 * (r['valid_fraction'] or 0):.0f} % valid"
    colour = {"aligned": "#e5f5e0", "rejected": "#fee0d2", "no film": "#f0f0f0"}[e["status"]]
    return (
        f'<tr style="background:{colour}"><td>{e["index"]}</td><td>{e["first"]}-{e["last"]}</td>'
        f"<td>{html.escape(e['status'])}</td><td>{html.escape(e.get('reason') or '')}</td>"
        f"<td>{tr}</td><td>{k1}</td><td>{res}</td></tr>"
    )


def render_report(document: dict[str, Any], visuals: dict[int, ShotVisual]) -> str:
    """The report's HTML text."""
    s = document["summary"]
    head = (
        "<!doctype html><html><head><meta charset='utf-8'><title>remaster align</title><style>"
        "body{font-family:sans-serif;margin:20px;max-width:1400px}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}figure{display:inline-block;margin:4px}"
        "figcaption{font-size:11px;color:#555}h2{margin-top:32px}</style></head><body>"
        "<h1>remaster align</h1>"
        f"<p>{s['aligned']} shots aligned ({s['pairs']} pairs), {s['rejected']} rejected, {s['no film']} without "
        f"film. Conform: {html.escape(document['conform'])}; film: {html.escape(document['film'])}.</p>"
        f"<p style='font-size:12px'>{html.escape(document['conventions']['geometry'])}</p>"
        "<table><tr><th>shot</th><th>frames</th><th>status</th><th>reason</th><th>transform</th><th>k1</th>"
        "<th>flow residual</th></tr>"
    )
    parts = [head, *(_shot_row(e) for e in document["shots"]), "</table>"]
    for e in document["shots"]:
        v = visuals.get(e["index"])
        if e["status"] != "aligned" or v is None:
            continue
        parts.append(f"<h2>Shot {e['index']} (frames {e['broadcast_first']}-{e['broadcast_last']})</h2>")
        for name, (chk, diff) in v.overlays.items():
            parts.append(f"<div><b>{html.escape(name)}</b><br>")
            parts.append(_img(chk, "checkerboard: film / broadcast"))
            parts.append(_img(diff, "|film - broadcast| x4, grade-matched luma"))
            c_chk, c_diff = v.crops[name]
            parts.append(_img(c_chk, "1:1 crop near the top-left corner"))
            parts.append(_img(c_diff, "difference, 1:1 crop"))
            parts.append("</div>")
        frames = e["frames"]
        x = np.array([f["frame"] for f in frames], np.float64)

        def column(key: str, frames: list[dict[str, Any]] = frames) -> np.ndarray:
            return np.array([np.nan if f[key] is None else f[key] for f in frames], np.float64)

        series = [
            Series(x, column("flow_rms_px"), "#d7301f", "flow residual (film px RMS)"),
            Series(x, column("field_max_px"), "#2b7bb9", "dense correction max (px)"),
            Series(x, column("valid_fraction"), "#41ab5d", "valid fraction"),
        ]
        top = max([float(np.nanmax(s.y)) for s in series if np.isfinite(s.y).any()] + [1e-6]) * 1.1
        parts.append(
            line_plot(
                "per-frame residuals",
                series,
                xlabel="conformed frame",
                ylabel="film px / fraction",
                ylim=(0.0, top),
            )
        )
        parts.append(_svg_histogram("SIFT inliers: distance to the final model", v.sparse_residuals, "px"))
        parts.append(_svg_arrows("non-affine part of the mapping (lens + dense)", v.arrows, v.film_size))
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: Path, document: dict[str, Any], visuals: dict[int, ShotVisual]) -> None:
    """Write ``report.html`` atomically."""
    write_text_atomic(path, render_report(document, visuals))
