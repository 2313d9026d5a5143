"""Geometry for the gizmos, in plain Python: align.json and conform.json, transforms, Nuke knob values.

The convention is remaster_core's (``remaster_core/align/transform.py``): a transform (tx, ty, sx, sy)
maps OUTPUT (film raster) pixel centres to SOURCE (broadcast raster) pixel centres,
``xb = sx * x + tx``, ``yb = sy * y + ty``, with pixel centres at integer coordinates and y pointing
down from the top row. Nuke places pixel centres at +0.5 and measures y up from the bottom row, so
for a raster of height H: ``X = x + 0.5``, ``Y = H - 0.5 - y``.

``nuke_transform_knobs`` turns a transform into the knobs of a Nuke Transform node that moves the
broadcast picture (already placed unscaled at the bottom-left of the film format by a Reformat with
resize "none" and center off) onto the film raster: with center (0, 0), Nuke's Transform maps input
(Xb, Yb) to output (scale_x * Xb + translate_x, scale_y * Yb + translate_y); inverting the convention
above gives::

    scale = (1 / sx, 1 / sy)
    translate_x = 0.5 - (0.5 + tx) / sx
    translate_y = (Ho - 0.5) - (Hb - 0.5 - ty) / sy

Nuke's filters have no plain bilinear kernel (Impulse, Cubic, Keys, ...), so a Transform node shows
the same geometry as ``remaster render`` but not the same resampling; the Remaster node (worker)
resamples bilinearly in remaster_core itself.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple, Tuple

from remaster_nuke import manifests
from remaster_nuke.manifests import Where, check_align, check_conform
from remaster_spec.manifest_fields import load_json
from remaster_spec.manifest_vocab import CONFORM_FILENAME

Transform4 = Tuple[float, float, float, float]
GeometryError = manifests.GeometryError  # defined with the manifest checks; what every reader here raises


class Shot(NamedTuple):
    """A shot of align.json: its ``number``, conformed frames ``first..last``, ``status`` and transform
    (output -> broadcast), and its lens term ``k1`` (0 for none)."""

    number: int
    first: int
    last: int
    status: str
    transform: Transform4
    k1: float


class AlignInfo(NamedTuple):
    """What the gizmos need from align.json."""

    path: str
    output_size: tuple[int, int]
    broadcast_size: tuple[int, int]
    broadcast_par: float
    shots: list[Shot]


def nominal_transform(broadcast_size: tuple[int, int], par: float, out_size: tuple[int, int]) -> Transform4:
    """The broadcast picture fitted into the output raster, centred, equal display scale on both axes
    (``remaster_core.align.transform.nominal_transform``)."""
    (wb, hb), (wo, ho) = broadcast_size, out_size
    if min(wb, hb, wo, ho) <= 0 or par <= 0:
        raise GeometryError(f"bad sizes {broadcast_size}, {out_size} or pixel aspect {par}")
    k = min(wo / (wb * par), ho / hb)
    sx, sy = 1.0 / (k * par), 1.0 / k
    return ((wb - 1) / 2.0 - sx * (wo - 1) / 2.0, (hb - 1) / 2.0 - sy * (ho - 1) / 2.0, sx, sy)


def _load_json(path: str, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``GeometryError`` ending in "give the ``what``" when there is none."""
    return load_json(Where(path, "", f"give the {what}"))


def read_align_json(path: str) -> AlignInfo:
    """Read align.json as ``remaster_core.node.read_align`` does (checked by ``manifests.check_align``,
    the rules of ``remaster_core.manifests.align``; shots sorted by first frame).

    Raises:
        GeometryError: missing file, bad JSON, a bad field (named), no output format.
    """
    doc = check_align(_load_json(path, "align.json `remaster align` wrote"), path)
    if doc.get("output_format") is None:
        raise GeometryError(
            f"{path}: has no output_format (no film frame was read when it was made); use the 'nominal' or "
            "'manual' transform with an output format instead"
        )
    out, broadcast = doc["output_format"], doc["broadcast"]
    out_size, b_size = (out["width"], out["height"]), (broadcast["width"], broadcast["height"])
    par = float(broadcast.get("pixel_aspect") or 1.0)
    nominal = nominal_transform(b_size, par, out_size)
    shots = []
    for k, entry in enumerate(doc.get("shots") or []):
        t, d = entry.get("transform"), entry.get("distortion")
        shots.append(
            Shot(
                int(entry.get("index", k)),
                int(entry["first"] if "first" in entry else entry["broadcast_first"]),
                int(entry["last"] if "last" in entry else entry["broadcast_last"]),
                str(entry.get("status", "aligned")),
                (float(t["tx"]), float(t["ty"]), float(t["sx"]), float(t["sy"])) if t else nominal,
                float(d["k1"]) if d else 0.0,
            )
        )
    shots.sort(key=lambda s: s.first)
    return AlignInfo(os.path.abspath(path), out_size, b_size, par, shots)


def shot_at(info: AlignInfo, index: int) -> Shot:
    """The shot holding conformed frame ``index``; outside every shot, the nominal fit (number -1)."""
    for shot in info.shots:
        if shot.first <= index <= shot.last:
            return shot
    nominal = nominal_transform(info.broadcast_size, info.broadcast_par, info.output_size)
    return Shot(-1, index, index, "outside shots", nominal, 0.0)


def map_point(t: Transform4, x: float, y: float) -> tuple[float, float]:
    """Source (broadcast) coordinates of output pixel (x, y) (remaster convention)."""
    tx, ty, sx, sy = t
    return sx * x + tx, sy * y + ty


def nuke_transform_knobs(
    t: Transform4, broadcast_size: tuple[int, int], output_size: tuple[int, int]
) -> dict[str, tuple[float, float]]:
    """Knob values ``translate``, ``scale``, ``center`` of a Nuke Transform node showing ``t`` (see the
    module docstring; the input is placed unscaled at the bottom-left of the output format)."""
    tx, ty, sx, sy = t
    hb, ho = broadcast_size[1], output_size[1]
    return {
        "translate": (0.5 - (0.5 + tx) / sx, (ho - 0.5) - (hb - 0.5 - ty) / sy),
        "scale": (1.0 / sx, 1.0 / sy),
        "center": (0.0, 0.0),
    }


def nuke_to_output(
    knobs: dict[str, tuple[float, float]], xb: float, yb: float, broadcast_height: int, output_height: int
) -> tuple[float, float]:
    """Where a Nuke Transform with ``knobs`` puts broadcast pixel (xb, yb) (remaster coordinates),
    in output pixels (remaster coordinates): the inverse check of ``nuke_transform_knobs``."""
    big_x, big_y = xb + 0.5, broadcast_height - 0.5 - yb
    cx, cy = knobs["center"]
    out_x = knobs["scale"][0] * (big_x - cx) + cx + knobs["translate"][0]
    out_y = knobs["scale"][1] * (big_y - cy) + cy + knobs["translate"][1]
    return out_x - 0.5, output_height - 0.5 - out_y


# ---------------------------------------------------------------------------------------- conform.json


class Cut(NamedTuple):
    """A shot of conform.json, or one stretch of it where the film jumps inside the shot (an edit made
    after the telecine dropped film frames: ``film_jumps``): the shot's ``number``, conformed frames
    ``first..last`` and ``film_first``, the film index of ``first``, or None (no film). Within a cut
    the film runs on one frame per conformed frame."""

    number: int
    first: int
    last: int
    film_first: int | None


class ConformInfo(NamedTuple):
    """What the gizmos need from conform.json."""

    folder: str
    frames_pattern: str
    frame_count: int
    fps: str
    cuts: list[Cut]


def read_conform_json(folder: str) -> ConformInfo:
    """Read ``folder/conform.json`` (``remaster conform --out``).

    Raises:
        GeometryError: missing or unreadable file, a bad field (named; ``manifests.check_conform``).
    """
    path = os.path.join(folder, CONFORM_FILENAME)
    doc = check_conform(_load_json(path, "conform folder `remaster conform --out` wrote"), path)
    cuts = [cut for k, s in enumerate(doc["shots"]) for cut in _shot_cuts(k, s)]
    pattern = os.path.join(os.path.abspath(folder), str(doc["frames_pattern"])).replace("\\", "/")
    return ConformInfo(
        os.path.abspath(folder), pattern, int(doc["frame_count"]), str(doc.get("fps", "24000/1001")), cuts
    )


def _shot_cuts(number: int, shot: dict[str, Any]) -> list[Cut]:
    """A checked conform.json shot as its cuts: one, or one per stretch between its ``film_jumps``."""
    first, last, film_first = int(shot["first"]), int(shot["last"]), shot.get("film_first")
    jumps = [(int(f), int(k)) for f, k in (shot.get("film_jumps") or [])] if film_first is not None else []
    starts = [(first, film_first), *jumps]
    ends = [f - 1 for f, _ in jumps] + [last]
    return [Cut(number, a, b, film) for (a, film), b in zip(starts, ends)]


def cut_at(info: ConformInfo, index: int) -> Cut | None:
    """The cut holding conformed frame ``index``, or None."""
    for cut in info.cuts:
        if cut.first <= index <= cut.last:
            return cut
    return None


def film_offset_expression(info: ConformInfo, conform_start: int, film_start: int) -> tuple[str, str]:
    """TimeOffset and "has film" expressions lining a film plate up with the conformed broadcast.

    In Nuke, conformed frame i is frame ``conform_start + i`` and film index k is frame
    ``film_start + k``. A cut's film frame for conformed frame i is ``film_first + (i - first)``, so at
    Nuke frame t of that cut the film plate must show frame ``t + d`` with
    ``d = film_start + film_first - first - conform_start``: a TimeOffset of ``-d``.

    Returns:
        (time_offset, has_film): Nuke expressions of ``t``, cut by cut (nested ``?:``); has_film is 1 in
        cuts with film and 0 elsewhere.
    """
    offset_terms = []
    film_terms = []
    for cut in sorted(info.cuts, key=lambda c: c.first):
        lo, hi = conform_start + cut.first, conform_start + cut.last
        if cut.film_first is None:
            film_terms.append((lo, hi, 0))
            continue
        d = film_start + cut.film_first - cut.first - conform_start
        offset_terms.append((lo, hi, -d))
        film_terms.append((lo, hi, 1))

    def nested(terms: list[tuple[int, int, int]], default: int) -> str:
        text = str(default)
        for lo, hi, value in reversed(terms):
            text = f"(t >= {lo} && t <= {hi}) ? {value} : ({text})"
        return text

    return nested(offset_terms, 0), nested(film_terms, 0)
