"""``remaster evaluate``: how a render looks against its reference: grain, detail, steadiness, PSNR, SSIM.

Examples::

    remaster evaluate render/ --reference scan/film.%06d.dpx
    remaster evaluate render/frame.####.exr --reference film/ --frames 1001-1048 --out look.json

RENDER and FILM are image sequences (a folder holding one, or a frame pattern) of one size and length,
paired frame by frame in order (``remaster_core.look.files``). Prints a table (render, reference and
their ratio per measure: 1 is the film's look) and, with ``--out``, writes it all as JSON. Exit codes: 0
done, 2 bad input (a missing sequence, a reference of another size or length than the render).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from remaster_core.errors import EXIT_OK
from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.frame_range import format_frame_range
from remaster_core.io.outdir import ensure_folder, refuse_overwrite
from remaster_core.look.files import open_pair
from remaster_core.look.report import format_table, score_sequences
from remaster_core.progress import progress


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "evaluate",
        help="score a render against its reference film: grain, detail, steadiness, PSNR, SSIM",
        description=(
            "Compare a render with its reference frame by frame (same size and length, paired in order). "
            "Besides PSNR and SSIM, which reward softness: grain (noise power spectrum in octave bands and "
            "RMS per signal level, in the reference's flat areas, on the difference of consecutive frames "
            "after motion compensation, where the picture cancels and the grain stays), detail (high-frequency energy in its "
            "textured areas, grain taken out) and steadiness (frame-to-frame change after motion "
            "compensation with the reference's optical flow), each as a render/reference ratio (1 is the "
            "film's look); the grain's ratios with a 90 %% interval over the flat tiles (a few tiles say "
            "little: one draw of the same grain reads 0.8-1.2 of another's in the coarsest band). Prints a "
            "table; --out writes the report as JSON."
        ),
    )
    p.add_argument(
        "render", metavar="RENDER", help="the render: a folder or a pattern like render/frame.####.exr"
    )
    p.add_argument(
        "--reference", required=True, metavar="FILM",
        help="the reference (the film scan): a folder or a pattern like scan/film.%%06d.dpx",
    )  # fmt: skip
    p.add_argument(
        "--frames", default=None, metavar="RANGE",
        help="render frames to score: 1001-1100, 0-99x2, 1-5,10 or 1-5 10 (default: all); each is paired with the "
        "reference frame at the same position",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=None, metavar="JSON", help="write the report here (JSON)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Score the render against the reference; print the table; write the JSON; return the exit code."""
    pair = open_pair(args.render, args.reference, args.frames)
    if args.out is not None:  # the report never replaces a frame it scores (compared through symlinks)
        inputs = [pair.render.path(f) for f in pair.render_frames]
        inputs += [pair.reference.path(f) for f in pair.reference_frames]
        refuse_overwrite([args.out], inputs, what="a frame of the render or the reference")
        ensure_folder(args.out.parent, flag="--out")
    count = len(pair.render_frames)
    report = score_sequences(
        progress(pair.renders(), total=count, desc="evaluate", unit="frame"), pair.references()
    )
    print(f"render {pair.render} ({format_frame_range(pair.render_frames)})")
    print(f"reference {pair.reference} ({format_frame_range(pair.reference_frames)})")
    print(format_table(report, pair.render_frames))
    if args.out is not None:
        document = {
            "render": str(pair.render),
            "reference": str(pair.reference),
            "render_frames": format_frame_range(pair.render_frames),
            "reference_frames": format_frame_range(pair.reference_frames),
            **report.to_dict(),
        }
        write_json_atomic(args.out, document)
        print(f"report: {args.out}")
    return EXIT_OK
