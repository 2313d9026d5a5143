"""``remaster align``: per-shot alignment of the conformed broadcast to the film scan -> training pairs.

Example::

    remaster align --conform conformed/ --film scan/film.%06d.dpx --out pairs/

Prints one line per shot (status, residual) and where the report is. Exit codes: 0 when every shot
with film was aligned or some were (rejections are reported, not errors); 4 (partial) when shots
have film but none could be aligned; 2 for bad input.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from remaster_core.align.pipeline import align, shot_summary
from remaster_core.align.shot import AlignParams
from remaster_core.cli.argtypes import output_path, pixel_aspect, positive_int
from remaster_core.colour_management import BROADCAST_DEFAULT, DEFAULT_CONFIG
from remaster_core.errors import EXIT_OK, EXIT_PARTIAL


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``align`` verb to the top-level subparsers."""
    defaults = AlignParams()
    p = subparsers.add_parser(
        "align",
        help="align each shot of the conformed broadcast to the film scan and write training pairs",
        description=(
            "Per shot with film: SIFT correspondences pooled over frames fit a translation, non-uniform scale "
            "and radial lens distortion (RANSAC, robust refit); dense optical flow refines it and removes "
            "what remains (weave, drift); the broadcast is resampled bilinearly into the film raster. Writes "
            "PAIRS/shotNNN/{input,target,mask}/, PAIRS/align.json (transforms, status, residuals; shots "
            "without film get the nominal transform) and PAIRS/report.html."
        ),
    )
    p.add_argument(
        "--conform", required=True, type=Path, metavar="DIR", help="folder written by remaster conform"
    )
    p.add_argument(
        "--film", default=None, metavar="FILM_SEQUENCE",
        help="film scan: a folder or a pattern like scan/film.%%06d.dpx (default: the one in conform.json)",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, type=output_path, metavar="PAIRS", help="output folder (new or empty)"
    )
    p.add_argument(
        "--broadcast-par", type=pixel_aspect, default=None, metavar="W/H",
        help="pixel aspect of the conformed frames (default: the files' own, else 8/9 for 720x480)",
    )  # fmt: skip
    p.add_argument(
        "--fit-frames", type=positive_int, default=defaults.fit_frames, metavar="N",
        help=f"frames per shot used to fit its transform (default {defaults.fit_frames})",
    )  # fmt: skip
    p.add_argument(
        "--min-frames", type=positive_int, default=defaults.min_frames, metavar="N",
        help=f"shots with fewer frames of film are rejected (default {defaults.min_frames})",
    )  # fmt: skip
    add_colour_arguments(p)
    p.add_argument("--force", action="store_true", help="replace pairs already in --out")
    p.set_defaults(run=run)
    return p


def add_colour_arguments(p: argparse.ArgumentParser) -> None:
    """The OpenColorIO options (``remaster_core.align.colour``)."""
    p.add_argument(
        "--film-colorspace", default=None, metavar="NAME",
        help="the film scan's OCIO colour space, e.g. ADX10 or ACEScct (default: the files' tag, "
        "else the broadcast's: code values as decoded)",
    )  # fmt: skip
    p.add_argument(
        "--broadcast-colorspace", default=None, metavar="NAME",
        help=f"the conformed frames' OCIO colour space (default {BROADCAST_DEFAULT!r}: BT.601/709 video)",
    )  # fmt: skip
    p.add_argument(
        "--working-colorspace", default=None, metavar="NAME",
        help="the OCIO colour space the pairs are written in and the model is trained in (default: the "
        "broadcast's, i.e. video code values)",
    )  # fmt: skip
    p.add_argument(
        "--ocio-config", default=None, metavar="CONFIG",
        help=f"OCIO config file (default: $OCIO, else the built-in {DEFAULT_CONFIG})",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Align as ``args`` says; print a line per shot; return the exit code."""
    params = replace(AlignParams(), fit_frames=args.fit_frames, min_frames=args.min_frames)
    result = align(
        args.conform,
        args.out,
        film=args.film,
        broadcast_par=args.broadcast_par,
        params=params,
        force=args.force,
        film_colorspace=args.film_colorspace,
        broadcast_colorspace=args.broadcast_colorspace,
        working_colorspace=args.working_colorspace,
        ocio_config=args.ocio_config,
    )
    for entry in result.shots:
        print(shot_summary(entry))
    s = result.document["summary"]
    print(
        f"{s['aligned']} aligned ({s['pairs']} pairs), {s['rejected']} rejected, {s['no film']} without film; "
        f"pairs in {result.out}, report: {result.report}"
    )
    if s["rejected"] and not s["aligned"]:
        print("remaster align: no shot with film could be aligned; see the reasons above")
        return EXIT_PARTIAL
    return EXIT_OK
