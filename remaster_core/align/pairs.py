"""The ``PAIRS/`` folder: aligned training pairs and ``align.json``.

Layout (every path in ``align.json`` is relative to PAIRS; patterns are printf style)::

    PAIRS/align.json
    PAIRS/report.html
    PAIRS/shot003/input/frame.%06d.exr    the broadcast resampled into the film raster (bilinear)
    PAIRS/shot003/target/frame.%06d.dpx   the film frame (a byte copy of the scan file)
    PAIRS/shot003/mask/frame.%06d.png     8-bit grey: 255 valid, 0 invalid

All three are numbered by the *conformed (broadcast) frame index*: frame ``i`` of a shot's patterns
pairs broadcast frame i with film frame ``film_first + (i - broadcast_first)``, for i in
``broadcast_first..broadcast_last``.

Formats: input frames keep the conformed frames' format so they keep their code values: half-float
EXR (unclipped) when the conform wrote EXR, 16-bit PNG when it wrote PNG (``input_extension``). Target
frames are byte copies of the film scan files (exact, whatever their format: DPX, EXR, TIFF, PNG).
Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.io.atomic import atomic_path, write_json_atomic
from remaster_core.io.images import ImageMeta, write_image
from remaster_core.io.outdir import prepare_output_folder

ALIGN_VERSION = 1
ALIGN_JSON = "align.json"
REPORT_HTML = "report.html"
_PATTERN = "shot{shot:03d}/{kind}/frame.%06d{ext}"


def shot_patterns(shot: int, input_ext: str, target_ext: str) -> dict[str, str]:
    """The ``input``, ``target`` and ``mask`` frame patterns of a shot, relative to PAIRS."""
    return {
        "input": _PATTERN.format(shot=shot, kind="input", ext=input_ext),
        "target": _PATTERN.format(shot=shot, kind="target", ext=target_ext),
        "mask": _PATTERN.format(shot=shot, kind="mask", ext=".png"),
    }


def input_extension(conform_frames_ext: str) -> str:
    """The input frames' extension for conformed frames of extension ``conform_frames_ext`` (".exr"...)."""
    ext = conform_frames_ext.lower()
    return ext if ext in (".exr", ".png", ".tif", ".tiff") else ".exr"


def _owned_by_align(child: Path) -> bool:
    """A shot folder, an interrupted run's hidden shot folder, align.json or report.html."""
    name = child.name
    shot_dir = name.startswith("shot") and name[4:].isdigit()
    leftover = name.startswith(".shot") and ".tmp-" in name
    return (child.is_dir() and (shot_dir or leftover)) or name in (ALIGN_JSON, REPORT_HTML)


def prepare_out(out: Path, force: bool) -> None:
    """Create PAIRS (or clear what a previous run wrote there, with ``force``: its shot folders,
    align.json and report.html; other files are left alone).

    Raises:
        InputError: ``out`` is a file, or a folder that holds files (without ``force``).
    """
    prepare_output_folder(out, force=force, owns=_owned_by_align, what="pairs")


def write_input(path: Path, image: np.ndarray, fps: Fraction | None) -> None:
    """Write an input frame: float32 RGB (H, W, 3) code values as resampled, square pixels (and the
    frame rate, in formats that hold one)."""
    if path.suffix.lower() == ".png":  # zlib level 1: about 3x faster to write, files ~6 % larger
        write_image(path, image, meta=ImageMeta(pixel_aspect=1.0, extra={"png:compressionLevel": 1}))
    else:
        rate = fps if path.suffix.lower() == ".exr" else None
        write_image(path, image, meta=ImageMeta(pixel_aspect=1.0, frame_rate=rate))


def write_target(path: Path, film_file: Path) -> None:
    """Copy the film scan file to ``path`` atomically (exact bytes, metadata and all)."""
    with atomic_path(path) as tmp:
        shutil.copyfile(film_file, tmp)


def write_mask(path: Path, valid: np.ndarray) -> None:
    """Write a validity mask: bool (H, W) -> 8-bit grey PNG, 255 valid, 0 invalid."""
    write_image(path, np.where(valid, 255, 0).astype(np.uint8), bit_depth="8")


def align_document(
    *,
    conform_dir: Path,
    film_pattern: str,
    film_size: tuple[int, int] | None,
    broadcast_size: tuple[int, int],
    broadcast_par: float,
    conventions: str,
    params: dict[str, Any],
    shots: list[dict[str, Any]],
) -> dict[str, Any]:
    """The content of ``align.json``.

    Args:
        conform_dir: the conform folder read.
        film_pattern: the film sequence.
        film_size: (W, H) of the output (film) raster, or None when no film frame was read.
        broadcast_size: (W, H) of the conformed frames; broadcast_par: their pixel aspect.
        conventions: the geometry convention text (``transform.CONVENTION``).
        params: the settings used.
        shots: one entry per conformed shot (see ``pipeline``).
    """
    counts = {s: sum(1 for e in shots if e["status"] == s) for s in ("aligned", "rejected", "no film")}
    return {
        "version": ALIGN_VERSION,
        "conform": str(conform_dir),
        "film": film_pattern,
        "output_format": None
        if film_size is None
        else {"width": film_size[0], "height": film_size[1], "pixel_aspect": 1.0},
        "broadcast": {"width": broadcast_size[0], "height": broadcast_size[1], "pixel_aspect": broadcast_par},
        "conventions": {
            "geometry": conventions,
            "paths": (
                "relative to the folder holding align.json; patterns are printf style (%06d) and numbered by "
                "the conformed frame index: frame i pairs broadcast frame i with film frame "
                "film_first + (i - broadcast_first), for i in broadcast_first..broadcast_last"
            ),
            "status": (
                "aligned: pairs written; rejected: alignment failed (reason), no pairs, transform is the "
                "nominal one; no film: the shot has no film, transform is the nominal one"
            ),
            "residuals": "film (output) pixels unless the name says broadcast_px",
            "mask": "8-bit grey PNG, 255 where the pair is valid, 0 where not",
        },
        "summary": {
            **counts,
            "pairs": sum(e.get("frame_count", 0) for e in shots if e["status"] == "aligned"),
        },
        "params": params,
        "shots": shots,
    }


def write_align_json(out: Path, document: dict[str, Any]) -> Path:
    """Write ``align.json`` atomically; returns its path."""
    path = out / ALIGN_JSON
    write_json_atomic(path, document)
    return path
