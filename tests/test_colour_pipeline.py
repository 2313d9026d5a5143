"""A log-DPX film scan end to end through OpenColorIO: synth (ADX10 DPX) -> conform -> align (pairs in
ACEScct) -> train (a few steps of lite) -> export -> render (DPX in ADX10, EXR in the working space) ->
review movie through an OCIO view.

The bar: every file carries the colour space asked for; the render, converted by OCIO from the space its
tag names into the film's encoding, matches the film scan within the model's own error on the pairs
(measured in that encoding); a pipeline without the conversions would miss by several times more.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remaster_core import colour_management as cm
from remaster_core.cli import main
from remaster_core.io.images import read_image, read_meta
from remaster_core.manifests.align import read_align
from remaster_core.runtime.model import open_model

pytestmark = pytest.mark.slow

FILM, WORKING = "ADX10", "ACEScct"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole pipeline once; returns its folder."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    root = tmp_path_factory.mktemp("colour_pipeline")
    steps = [
        ["synth", "--preset", "tiny", "--seed", "1", "--film-colorspace", FILM, "--out", f"{root}/reel"],
        ["conform", f"{root}/reel/broadcast.mpg", "--film", f"{root}/reel/film", "--out", f"{root}/conform"],
        ["align", "--conform", f"{root}/conform", "--working-colorspace", WORKING, "--out", f"{root}/pairs"],
        ["train", "--pairs", f"{root}/pairs", "--out", f"{root}/run", "--steps", "10", "--batch-size", "2",
         "--crop-size", "64", "--threads", "1", "--workers", "0"],
        ["export", f"{root}/run", "--out", f"{root}/model.onnx"],
        ["render", f"{root}/conform", "--model", f"{root}/model.onnx", "--transform", f"{root}/pairs/align.json",
         "--out", f"{root}/render/frame.####.dpx", "--output-colorspace", FILM, "--provider", "cpu",
         "--review", f"{root}/review.mov", "--review-view", "ACES 2.0 - SDR 100 nits (Rec.709)"],
        ["render", f"{root}/conform", "--model", f"{root}/model.onnx", "--transform", f"{root}/pairs/align.json",
         "--out", f"{root}/working/frame.####.exr", "--frames", "4-6", "--provider", "cpu"],
    ]  # fmt: skip
    for argv in steps:
        assert main(["-q", *argv]) == 0, argv
    return root


def _space(path: Path) -> str | None:
    return cm.colorspace_of(read_meta(path), cm.load_config())[0]


def test_every_file_carries_the_colour_space_asked_for(run: Path) -> None:
    assert json.loads((run / "reel" / "truth.json").read_text())["film"]["colorspace"] == FILM
    film = sorted((run / "reel" / "film").glob("*.dpx"))
    assert film and all(_space(p) == FILM for p in film)
    assert read_meta(film[0]).extra["dpx:Transfer"] == "Printing density"
    assert read_meta(film[0]).bit_depth == "10"
    manifest = read_align(run / "pairs" / "align.json")
    assert manifest.colour is not None
    assert (manifest.colour.film, manifest.colour.working) == (FILM, WORKING)
    assert (manifest.colour.broadcast, manifest.colour.config) == (cm.BROADCAST_DEFAULT, cm.DEFAULT_CONFIG)
    aligned = [s for s in manifest.shots if s.status == "aligned"]
    assert aligned
    for shot in aligned:
        for kind in (shot.input, shot.target):
            assert kind is not None
            assert _space(run / "pairs" / (kind % shot.broadcast_first)) == WORKING
    from training.checkpoint import load_checkpoint

    best = load_checkpoint(run / "run" / "checkpoints" / "best.safetensors")
    assert best.extra["colour"]["working"] == WORKING
    info, _ = open_model(run / "model.onnx")
    assert (info.working_colorspace, info.ocio_config) == (WORKING, cm.DEFAULT_CONFIG)
    rendered = sorted((run / "render").glob("*.dpx"))
    assert rendered and all(_space(p) == FILM for p in rendered)
    assert read_meta(rendered[0]).extra["dpx:Transfer"] == "Printing density"
    working = sorted((run / "working").glob("*.exr"))
    assert len(working) == 3 and all(_space(p) == WORKING for p in working)
    assert (run / "review.mov").stat().st_size > 0


def test_the_render_matches_the_film_scan_within_the_model_s_error(run: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    config = cm.load_config()
    manifest = read_align(run / "pairs" / "align.json")
    session = ort.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    errors: dict[str, list[float]] = {"render": [], "model": [], "unconverted": []}

    def rms(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a - b)[mask] ** 2)))

    for shot in manifest.shots:
        if shot.status != "aligned":
            continue
        assert shot.input and shot.target and shot.mask and shot.film_frame_number is not None
        assert shot.broadcast_first is not None and shot.broadcast_last is not None
        for i in range(shot.broadcast_first, shot.broadcast_last + 1):
            scan = run / "reel" / "film" / f"film.{shot.film_frame_number + i - shot.broadcast_first:06d}.dpx"
            film, _ = read_image(scan)  # ADX10 code values, as scanned
            render, meta = read_image(run / "render" / f"frame.{i:04d}.dpx")
            space = cm.colorspace_of(meta, config)[0]
            assert space is not None
            mask = read_image(run / "pairs" / (shot.mask % i))[0][..., 0] > 0.5
            if not mask.any():  # a frame align masked whole (align.json says why): nothing to compare
                assert any(m.frame == i for m in shot.masked_frames or ()), (i, shot.masked_frames)
                continue
            errors["render"].append(rms(cm.convert(render, config, space, FILM), film, mask))
            # the model's own error: its output on the pair's input against the pair's target (the scan),
            # both in the film's encoding
            pair_input, _ = read_image(run / "pairs" / (shot.input % i))
            out = session.run(None, {"input": pair_input.transpose(2, 0, 1)[None]})[0][0].transpose(1, 2, 0)
            errors["model"].append(
                rms(cm.convert(np.ascontiguousarray(out), config, WORKING, FILM), film, mask)
            )
            # what a pipeline without colour management would compare: video code values as if log
            video = cm.convert(pair_input, config, WORKING, cm.BROADCAST_DEFAULT)
            errors["unconverted"].append(rms(video, film, mask))
    render_err, model_err = float(np.mean(errors["render"])), float(np.mean(errors["model"]))
    assert render_err <= 1.25 * model_err + 0.005, errors
    assert float(np.mean(errors["unconverted"])) > 2.5 * render_err, errors
