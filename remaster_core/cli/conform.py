"""``remaster conform``: inverse telecine the broadcast to 23.976 frames, find cuts and the film offset.

Example::

    remaster conform broadcast.mpg --out conform/ --film film/
    remaster conform broadcast.mpg --out conform/ --overrides fixes.txt --format png
    remaster conform broadcast.mpg --out conform/ --cuts editor.edl

Writes ``DIR/frames/frame.%06d.exr`` (or ``.png``), ``DIR/conform.json``, ``DIR/report.html`` and the
shots as ``DIR/editorial/shots.otio`` and ``shots.edl``, then
prints where they are and one summary line. A truncated broadcast is conformed as far as it decodes
and the command exits with code 4 (partial) after saying so.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from remaster_core.cli.argtypes import output_path
from remaster_core.conform.pipeline import IMAGE_FORMATS, conform
from remaster_core.errors import EXIT_OK, EXIT_PARTIAL
from remaster_core.manifests.conform import ConformManifest


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``conform`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "conform",
        help="inverse telecine the broadcast to 23.976p, find cuts and the film offset",
        description=(
            "Inverse telecine (3:2 or 2:3:3:2 cadence tracked over the whole reel; orphaned fields rebuilt "
            "from their own field; video-originated stretches deinterlaced), cut detection and, with --film, "
            "the temporal offset between the broadcast and the film scan. Writes DIR/frames/, DIR/conform.json "
            "and DIR/report.html."
        ),
    )
    p.add_argument(
        "broadcast", type=Path, help="the broadcast video (NTSC 29.97 interlaced, or 23.976 progressive)"
    )
    p.add_argument(
        "--out",
        required=True,
        type=output_path,
        metavar="DIR",
        help="output folder (new or empty unless --force)",
    )
    p.add_argument(
        "--film",
        default=None,
        metavar="FILM_SEQUENCE",
        help="the film scan: a folder of frames or a frame pattern (film.%%06d.dpx, film.####.exr)",
    )
    p.add_argument(
        "--overrides",
        type=Path,
        default=None,
        metavar="FILE",
        help="match override file correcting the cadence decision (see remaster_core/conform/overrides.py)",
    )
    p.add_argument(
        "--format",
        dest="image_format",
        default="exr",
        choices=IMAGE_FORMATS,
        help="output frames: exr (half float, nothing clipped; default) or png (16-bit, clipped to 0..1)",
    )
    p.add_argument(
        "--cuts",
        type=Path,
        default=None,
        metavar="EDL_OR_OTIO",
        help="an editor's cut list (CMX 3600 EDL at 23.976, or OpenTimelineIO) whose cuts replace the "
        "detected ones; its record timecode must fall inside the conformed reel",
    )
    p.add_argument(
        "--source-timecode",
        default=None,
        metavar="HH:MM:SS;FF",
        help="the broadcast's start timecode, instead of the one it carries (default: its container tag or "
        "first GOP timecode, else 01:00:00;00 drop frame at 29.97, 01:00:00:00 at 23.976)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace what remaster conform wrote in --out before (only that)"
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the conform described by ``args``; returns the exit code."""
    result = conform(
        args.broadcast,
        args.out,
        film=args.film,
        overrides=args.overrides,
        image_format=args.image_format,
        force=args.force,
        cuts=args.cuts,
        source_timecode=args.source_timecode,
    )
    m = (
        result.manifest
        if result.manifest is not None
        else ConformManifest.from_dict(result.document, "conform.json")
    )
    out = Path(args.out)
    print(f"frames:  {out / m.frames_pattern}")
    print(f"json:    {out / 'conform.json'}")
    print(f"report:  {out / 'report.html'}")
    for kind, rel in (m.editorial or {}).items():
        print(f"{kind + ':':<8} {out / rel}")
    if m.timecode is not None:
        tc = m.timecode
        print(f"timecode: source {tc.source_start} ({tc.origin}), record {tc.record_start} at 23.976")
    summary = (
        f"{m.frame_count} frames at 23.976 from {m.source_frame_count} broadcast frames, "
        f"{len(m.cuts)} cuts ({len(m.shots)} shots), {len(m.orphans or ())} orphans, "
        f"{len(m.video_frames or ())} video, {len(m.combed or ())} combed, "
        f"{len(m.uncertain_cadence or ())} on little cadence evidence"
    )
    if m.offset_match is not None:
        summary += f"; offset {m.offset}" if m.offset is not None else "; offset: no match"
    print(summary)
    if m.offset_match is not None and m.offset is None:
        print(f"warning: {m.offset_match.message}")
    if m.decode_error:
        print(f"warning: the broadcast did not decode to its end; conformed what decoded. {m.decode_error}")
        return EXIT_PARTIAL
    return EXIT_OK
