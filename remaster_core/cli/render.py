"""``remaster render``: enhance a frame range with the model, on this machine or a Dask cluster.

Examples::

    remaster render conform/ --model G.onnx --out render/frame.####.exr --frames 0-99 --transform pairs/align.json
    remaster render broadcast.mpg --model G.onnx --out render/frame.%06d.dpx --format 1440x1080
    remaster render plates/plate.####.exr --model G.onnx --out out/plate.####.exr --frames 1001-1100 \\
        --chunk 10 --scheduler tcp://farm-scheduler:8786 --provider cuda
    remaster render conform/ --model G.onnx --out render/frame.####.exr --review render.mov

INPUT is a conform folder (``remaster conform --out``), a broadcast video (conformed on the fly), or an
image sequence (folder or frame pattern). Frames already rendered with the same model, parameters and
input are checked and skipped (``--force`` redoes them). Exit codes: 0 done, 2 bad input, 3 model error,
4 partial failure (the failed frames are listed on stderr and in the chunk logs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from remaster_core.cli.argtypes import (
    frame_size,
    node_value,
    output_pattern,
    pixel_aspect,
    resources,
    seconds,
    whole_number,
)
from remaster_core.colour_management import BROADCAST_DEFAULT, DEFAULT_CONFIG
from remaster_core.errors import EXIT_OK, InputError
from remaster_core.io.frame_range import MAX_FRAMES
from remaster_core.io.sequence import format_frame_range
from remaster_core.node import NodeParams
from remaster_core.node_params import MODEL, PLAIN_FIELDS
from remaster_core.optional import import_onnxruntime
from remaster_core.render.dask_cluster import gpu_resources
from remaster_core.render.deflicker import MAX_RADIUS
from remaster_core.render.job import JobResult, plan_job, run_job
from remaster_core.render.outputs import output_spec
from remaster_core.render.review import COMPARE_MODES, ReviewOptions, write_review

DASK_DEFAULT_CHUNK = 10


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``render`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "render",
        help="enhance a frame range with the model (locally or on a Dask cluster)",
        description=(
            "Resample each frame to the output raster (per-shot transforms from align.json, or a plain "
            "scale to --format honouring pixel aspect), run the model, write EXR (half), DPX (10-bit) or "
            "PNG (16-bit) frames atomically, skipping frames already rendered with the same settings. "
            "Exit codes: 0 done, 2 bad input, 3 model error, 4 some frames failed."
        ),
    )
    p.add_argument("input", help="conform folder, broadcast video (conformed on the fly), or image sequence")
    p.add_argument("--model", required=True, type=Path, help=MODEL.help)
    p.add_argument(
        "--out",
        required=True,
        type=output_pattern,
        metavar="PATTERN",
        help="output frames, e.g. render/frame.####.exr (.exr half, .dpx 10-bit, .png 16-bit)",
    )
    p.add_argument(
        "--frames",
        default=None,
        metavar="RANGE",
        help="frames to render: 1001-1100, 0-99x2, 1-5,10 (default: every frame of the input)",
    )
    geometry = p.add_mutually_exclusive_group()
    geometry.add_argument(
        "--transform",
        type=Path,
        default=None,
        metavar="ALIGN_JSON",
        help="per-shot transforms and the output format from remaster align (PAIRS/align.json)",
    )
    geometry.add_argument(
        "--format",
        type=frame_size,
        default=None,
        metavar="WxH",
        help="output raster; the input is scaled to fit it, centred, honouring its pixel aspect "
        "(default: the input at its display aspect)",
    )
    p.add_argument(
        "--pixel-aspect", type=pixel_aspect, default=None, help="override the input's pixel aspect (8/9)"
    )
    add_node_options(p)
    p.add_argument("--bit-depth", default=None, help="exr: half|float, dpx: 10|12|16, png: 16|8")
    p.add_argument("--compression", default=None, help="EXR compression (default zip)")
    p.add_argument("--force", action="store_true", help="re-render frames that are already valid")
    p.add_argument(
        "--deflicker",
        type=whole_number(0, MAX_RADIUS),
        default=0,
        metavar="N",
        help="average the input's low band over N frames each side, following the motion, before the model: "
        "takes out the tape's slow low-frequency noise and flicker (0: off, the default; 4 is a good start, "
        "with --deflicker-output 4; reads N frames beyond each chunk; about 0.07 s a 720x480 frame)",
    )
    p.add_argument(
        "--deflicker-output",
        type=whole_number(0, MAX_RADIUS),
        default=0,
        metavar="N",
        help="average the model output's low band over N frames each side, following the motion, before "
        "the grain: takes out the slow change the model makes of the input's fine noise, and lets the grain "
        "step read the output's grain against the frame before's, where the picture's texture cancels (0: "
        "off, the default; 4 is a good start, with --deflicker 4; the model also runs on N frames beyond "
        "each chunk)",
    )
    p.add_argument(
        "--chunk",
        type=whole_number(1, MAX_FRAMES),
        default=None,
        metavar="N",
        help=f"frames per chunk (default: one chunk here, {DASK_DEFAULT_CHUNK} with --scheduler)",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="run the chunks on this Dask scheduler"
    )
    p.add_argument(
        "--resources",
        type=resources,
        default=None,
        metavar="NAME=N",
        help="Dask resources per chunk (default GPU=1 for --provider cuda/tensorrt, none otherwise)",
    )
    p.add_argument(
        "--retries", type=whole_number(0, 100), default=2, help="Dask retries of a chunk whose task failed"
    )
    p.add_argument(
        "--connect-timeout", type=seconds, default=20.0, metavar="S", help="seconds to reach the scheduler"
    )
    p.add_argument("--log-dir", type=Path, default=None, help="chunk logs (default OUT_DIR/.remaster/logs)")
    p.add_argument(
        "--review",
        type=Path,
        default=None,
        metavar="MOVIE",
        help="after a complete render, a review movie: .mov ProRes 422 HQ or .mp4 H.264",
    )
    p.add_argument(
        "--review-timecode", default=None, metavar="HH:MM:SS:FF", help="start timecode of the movie"
    )
    p.add_argument(
        "--review-burnin", action="store_true", help="burn timecode, frame and shot into the review movie"
    )
    p.add_argument(
        "--review-compare",
        default=None,
        choices=COMPARE_MODES,
        help="show the conformed broadcast beside the render (side-by-side) or on its left half (wipe); "
        "needs a conform folder as the input",
    )
    p.add_argument(
        "--broadcast-colorspace", default=None, metavar="NAME",
        help=f"OCIO colour space of the input frames (default {BROADCAST_DEFAULT!r}: BT.601/709 video)",
    )  # fmt: skip
    p.add_argument(
        "--output-colorspace", default=None, metavar="NAME",
        help="OCIO colour space of the output frames, written into their headers (default: the model's "
        "working space, from its metadata)",
    )  # fmt: skip
    p.add_argument(
        "--ocio-config", default=None, metavar="CONFIG",
        help=f"OCIO config file (default: the model's, else $OCIO, else the built-in {DEFAULT_CONFIG})",
    )  # fmt: skip
    p.add_argument(
        "--review-display", default=None, metavar="DISPLAY",
        help="OCIO display the review movie is made for (default: Rec.1886 Rec.709 when the config has it)",
    )  # fmt: skip
    p.add_argument(
        "--review-view", default=None, metavar="VIEW",
        help="OCIO view of --review-display the review movie shows the frames through (default: frames "
        "converted to the broadcast's colour space, no view)",
    )  # fmt: skip
    p.add_argument(
        "--no-review-audio",
        action="store_true",
        help="leave the broadcast's sound out of the review movie (it is muxed when the input is a conform "
        "folder whose broadcast has sound)",
    )
    p.set_defaults(run=run)
    return p


def add_node_options(p: argparse.ArgumentParser) -> None:
    """One option per plain node parameter (``node_params.PLAIN_FIELDS``: ``--tile`` ... ``--memory-mb``),
    its type, default, range, choices and help all from the table."""
    for spec in PLAIN_FIELDS:
        limits = spec.limits()
        p.add_argument(
            spec.flag,
            type=node_value(spec),
            choices=spec.choices or None,
            default=spec.default,
            metavar=None if spec.choices else spec.unit.upper() or None,
            help=f"{spec.help} ({limits + '; ' if limits else ''}default: {spec.default_text()})",
        )


def _report(result: JobResult, frames: int) -> None:
    rendered, skipped, failed = result.rendered, result.skipped, result.failed
    rate = len(rendered) / result.seconds if result.seconds > 0 else 0.0
    where = f"on {result.scheduler}" if result.scheduler else "here"
    providers = ", ".join(result.providers) or "no engine"
    print(
        f"{frames} frames: {len(rendered)} rendered, {len(skipped)} already valid, {len(failed)} failed "
        f"in {result.seconds:.1f} s ({rate:.2f} frames/s rendered {where}, {providers})"
    )
    for message in result.errors:
        print(f"remaster render: error: {message}", file=sys.stderr)
    shown = [f for f in failed if f.kind != "not rendered"][:20]
    for f in shown:
        print(f"remaster render: frame {f.frame} failed: {f.error}", file=sys.stderr)
    if failed:
        print(
            f"remaster render: failed frames: {format_frame_range([f.frame for f in failed])} "
            f"(details in {result.results[0].log if result.results else 'the chunk logs'} and the other chunk logs)",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    """Run the render described by ``args``; returns the exit code."""
    if args.scheduler is None:
        import_onnxruntime()  # the model runs here: say what to install before any work
    output = output_spec(args.out, bit_depth=args.bit_depth, compression=args.compression)
    node = NodeParams(
        model=args.model,
        output_size=args.format,
        **{spec.name: getattr(args, spec.name) for spec in PLAIN_FIELDS},
    )
    if args.review is not None and args.review.suffix.lower() not in (".mov", ".mp4"):
        raise InputError(f"--review {args.review}: use .mov (ProRes 422 HQ) or .mp4 (H.264)")
    if args.review_compare is not None and not (Path(args.input) / "conform.json").is_file():
        raise InputError(
            f"--review-compare: {args.input} is not a conform folder; the comparison shows the conformed "
            "broadcast, so render from the folder remaster conform wrote"
        )
    chunk = args.chunk if args.chunk is not None else (DASK_DEFAULT_CHUNK if args.scheduler else None)
    plan = plan_job(
        args.input,
        output,
        node,
        frames=args.frames,
        align=args.transform,
        pixel_aspect=args.pixel_aspect,
        force=args.force,
        log_dir=args.log_dir,
        chunk_size=chunk,
        broadcast_colorspace=args.broadcast_colorspace,
        output_colorspace=args.output_colorspace,
        ocio_config=args.ocio_config,
        deflicker=args.deflicker,
        deflicker_output=args.deflicker_output,
    )
    w, h = plan.settings.node.output_size or (0, 0)
    print(
        f"render {args.input} ({plan.input_kind}, {plan.input_size[0]}x{plan.input_size[1]}, pixel aspect "
        f"{plan.pixel_aspect:.4g}) -> {output.pattern} ({w}x{h}, {output.ext[1:]} {output.bit_depth}): "
        f"{len(plan.frames)} frames in {len(plan.chunks)} chunk(s)"
    )
    resources = args.resources if args.resources is not None else gpu_resources(args.provider)
    result = run_job(
        plan,
        scheduler=args.scheduler,
        resources=resources,
        retries=args.retries,
        connect_timeout=args.connect_timeout,
    )
    _report(result, len(plan.frames))
    if args.review is not None:
        if result.exit_code != EXIT_OK:
            print(
                f"remaster render: review movie {args.review} not written: the render is incomplete",
                file=sys.stderr,
            )
        else:
            conform_dir = args.input if (Path(args.input) / "conform.json").is_file() else None
            options = ReviewOptions(
                conform=conform_dir,
                audio=not args.no_review_audio,
                burn_in=args.review_burnin,
                compare=args.review_compare,
                display=args.review_display,
                view=args.review_view,
                ocio_config=plan.settings.colour.config if plan.settings.colour is not None else None,
            )
            movie = write_review(
                args.review, output, plan.frames, fps=plan.fps, timecode=args.review_timecode, options=options
            )
            print(f"review:  {movie}")
    return result.exit_code
