"""Report building blocks: numbers tagged with their JSON keys, SVG plots, pictures."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from remaster_core.demo import pictures
from remaster_core.demo.report import _Page, lookup
from remaster_core.svgplot import Series, bar_chart, line_plot


def test_lookup_walks_dicts_and_lists() -> None:
    doc = {"a": {"shots": [{"x": 1.5}, {"x": 2.25}]}, "b": 3}
    assert lookup(doc, "a.shots.1.x") == 2.25
    assert lookup(doc, "b") == 3
    with pytest.raises(KeyError):
        lookup(doc, "a.nope")


def test_page_writes_each_value_tagged_with_its_key() -> None:
    doc = {
        "s": {"psnr": 27.5, "n": 9, "none": None, "shots": [2, 4]},
        "m": {"margin": {"d": 0.25, "e": -1.5}},
    }
    p = _Page(doc)
    assert p.n("s.psnr", 2, " dB") == '<span class="n" data-key="s.psnr">27.50</span> dB'
    assert p.n("s.n") == '<span class="n" data-key="s.n">9</span>'
    assert p.n("s.none", 2) == "n/a"
    assert p.n("m.margin.d", 2) == '<span class="n" data-key="m.margin.d">+0.25</span>'
    assert p.n("m.margin.e", 2) == '<span class="n" data-key="m.margin.e">-1.50</span>'
    assert p.v("s.shots") == '<span class="n" data-key="s.shots">[2, 4]</span>'
    # what the page shows reads back as the document's value
    for key, text in (("s.psnr", "27.50"), ("m.margin.d", "+0.25"), ("s.shots", "[2, 4]")):
        assert json.loads(text.removeprefix("+")) == lookup(doc, key)


def test_plots_are_well_formed_svg_with_their_series() -> None:
    x = np.arange(5, dtype=float)
    svg = line_plot(
        "loss & PSNR <per step>",
        [Series(x, x**2, "#123456", "a"), Series(x, np.full(5, np.nan), "#654321", "b", "dot")],
        xlabel="step", vlines=[(2.0, "#ff0000")],
    )  # fmt: skip
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert len(root.findall(f"{ns}polyline")) == 1  # the all-NaN series draws nothing
    assert "loss &amp; PSNR &lt;per step&gt;" in svg
    # a horizontal marker (a threshold) above every point: the y range grows to show it, dashed, above
    # the highest point and inside the plot area
    marked = ET.fromstring(
        line_plot("t", [Series(x, x, "#123456", "")], xlabel="x", hlines=[(10.0, "#e6550d")])
    )
    (dashed,) = [ln for ln in marked.findall(f"{ns}line") if ln.get("stroke-dasharray")]
    area = marked.find(f"{ns}rect")
    polyline = marked.find(f"{ns}polyline")
    assert area is not None and polyline is not None
    area_top = float(area.get("y", "nan"))
    area_bottom = area_top + float(area.get("height", "nan"))
    highest_point = min(float(xy.split(",")[1]) for xy in polyline.get("points", "").split())
    assert area_top <= float(dashed.get("y1", "nan")) < highest_point <= area_bottom
    bars = ET.fromstring(bar_chart("time", ["synth", "train"], [2.0, 8.0], unit="s"))
    widths = [float(r.get("width", "nan")) for r in bars.findall(f"{ns}rect")]
    assert widths[1] == pytest.approx(4 * widths[0])


def test_pictures_round_trip_through_data_uris() -> None:
    rgb = np.zeros((8, 10, 3), np.float32)
    rgb[..., 0] = 1.0  # red
    uri = pictures.data_uri(rgb, png=True)
    assert uri.startswith("data:image/png;base64,")
    bgr = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None and bgr.shape == (8, 10, 3) and bgr[0, 0].tolist() == [0, 0, 255]
    assert pictures.to_u8(np.array([[[-0.5, 0.5, 2.0]]], np.float32)).tolist() == [[[0, 128, 255]]]


def test_detail_box_finds_the_textured_square_inside_the_mask() -> None:
    film = np.full((100, 120, 3), 0.5, np.float32)
    film[60:90, 20:50] = np.random.default_rng(0).uniform(0, 1, (30, 30, 3))  # the only texture
    mask = np.ones((100, 120), bool)
    x, y, s = pictures.detail_box(film, mask, 30)
    assert s == 30 and abs(x - 20) <= 3 and abs(y - 60) <= 3
    mask[:, :60] = False  # the texture is outside the mask now: the box must not go there
    x, y, s = pictures.detail_box(film, mask, 30)
    assert x >= 60
    zoomed = pictures.zoom(film, (x, y, s), 3)
    assert zoomed.shape == (90, 90, 3) and zoomed.dtype == np.uint8


def test_checkerboard_alternates_the_two_pictures() -> None:
    a, b = np.zeros((4, 4, 3), np.float32), np.ones((4, 4, 3), np.float32)
    board = pictures.checkerboard(a, b, 2)
    assert board[0, 0, 0] == 0 and board[0, 2, 0] == 255 and board[2, 0, 0] == 255 and board[2, 2, 0] == 0


def test_wipe_has_both_pictures_and_a_slider() -> None:
    a = np.zeros((6, 8, 3), np.float32)
    html = pictures.wipe(a, a + 1, "ours", "film")
    assert html.count("<img") == 2 and 'type="range"' in html and "ours (left) | film (right)" in html
