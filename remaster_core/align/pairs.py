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
frames are byte copies of the film scan files (exact, whatever their format: DPX, EXR, TIFF, PNG),
unless the film is converted into another working space (``align.colour``): then half-float EXR.
Input and target frames are in the working space and tagged with it (``align.colour``).
Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remaster_core.errors import InputError
from remaster_core.io.atomic import atomic_path
from remaster_core.io.images import ImageMeta, read_image, write_image
from remaster_core.io.outdir import OutputFolder, prepare_output_folder
from remaster_core.manifests import align as manifest

if TYPE_CHECKING:
    from remaster_core.align.colour import PairColour

ALIGN_VERSION = manifest.VERSION
ALIGN_JSON = manifest.FILENAME
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


def prepare_out(
    out: Path, force: bool, inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()
) -> OutputFolder:
    """Create PAIRS (or, with ``force``, delete what a previous align wrote there as its
    ``.remaster-output.json`` lists it; other files are left alone). See ``io.outdir``.

    Raises:
        InputError: ``out`` is a file, a folder that holds files (without ``force``), or a shot folder
            that holds files align did not write (align replaces a shot folder whole).
        OutputError: ``out`` overlaps one of ``inputs`` or cannot be written.
    """
    folder = prepare_output_folder(out, verb="align", force=force, what="pairs", inputs=inputs)
    inside = [rel for rel in folder.kept if re.fullmatch(r"shot\d+", rel.split("/")[0])]
    if inside:
        raise InputError(
            f"{out}: {', '.join(inside[:5])} {'is' if len(inside) == 1 else 'are'} not align's, in a shot "
            "folder that align replaces whole: move them out of the pairs folder, or choose another --out"
        )
    return folder


def write_input(path: Path, image: np.ndarray, fps: Fraction | None, colour: PairColour | None = None) -> None:
    """Write an input frame: float32 RGB (H, W, 3) code values as resampled, square pixels (and the
    frame rate, in formats that hold one); with ``colour``, converted to the working space and tagged."""
    if path.suffix.lower() == ".png":  # zlib level 1: about 3x faster to write, files ~6 % larger
        meta = ImageMeta(pixel_aspect=1.0, extra={"png:compressionLevel": 1})
    else:
        meta = ImageMeta(pixel_aspect=1.0, frame_rate=fps if path.suffix.lower() == ".exr" else None)
    if colour is not None:
        image, meta = colour.input(image), colour.tag(meta, path.suffix)
    # EXR: PIZ (lossless wavelet) rather than OpenEXR's default zip: on grainy 960x720 half frames 30.6
    # against 36.4 ms to write, 10.6 against 11.8 ms to read (training reads every input), 7 % smaller
    compression = "piz" if path.suffix.lower() == ".exr" else None
    write_image(path, image, meta=meta, compression=compression)


def write_target(path: Path, film_file: Path, colour: PairColour | None = None) -> None:
    """Copy the film scan file to ``path`` atomically (exact bytes, metadata and all); with a ``colour``
    whose working space is not the film's, write it converted instead (half-float EXR, tagged, the
    scan's timecode and keycode kept)."""
    if colour is None or colour.copies_target:
        with atomic_path(path) as tmp:
            shutil.copyfile(film_file, tmp)
        return
    rgb, meta = read_image(film_file)
    kept = ImageMeta(
        pixel_aspect=meta.pixel_aspect, timecode=meta.timecode, frame_rate=meta.frame_rate, keycode=meta.keycode
    )
    write_image(path, colour.target(rgb), meta=colour.tag(kept, path.suffix), bit_depth="half")


def write_mask(path: Path, valid: np.ndarray) -> None:
    """Write a validity mask: bool (H, W) -> 8-bit grey PNG, 255 valid, 0 invalid."""
    # zlib level 3: 4.2 against 5.2 ms a 960x720 mask at the default 6, for a few KB more
    grey = np.ascontiguousarray(valid, dtype=bool).view(np.uint8) * np.uint8(255)
    write_image(path, grey, bit_depth="8", meta=ImageMeta(extra={"png:compressionLevel": 3}))


def align_manifest(
    *,
    conform_dir: Path,
    film_pattern: str,
    film_size: tuple[int, int] | None,
    broadcast_size: tuple[int, int],
    broadcast_par: float,
    conventions: str,
    params: dict[str, Any],
    shots: list[dict[str, Any]],
    path: Path = Path(ALIGN_JSON),
    colour: manifest.ColourSpaces | None = None,
) -> manifest.AlignManifest:
    """The content of ``align.json`` (``path``, where it goes: the shots' patterns are checked against it).

    Args:
        conform_dir: the conform folder read.
        film_pattern: the film sequence.
        film_size: (W, H) of the output (film) raster, or None when no film frame was read.
        broadcast_size: (W, H) of the conformed frames; broadcast_par: their pixel aspect.
        conventions: the geometry convention text (``transform.CONVENTION``).
        params: the settings used.
        shots: one entry per conformed shot (see ``pipeline``), as align.json holds them.
        colour: the colour spaces of the pairs (``align.colour``), or None (not recorded).

    Raises:
        InputError: an entry that would not read back (named by its field path).
    """
    where = manifest.Where(path, "shots", manifest.FIX)
    entries = tuple(manifest.AlignShot.from_dict(e, where.at(k), k) for k, e in enumerate(shots))
    counts = {s: sum(1 for e in entries if e.status == s) for s in manifest.STATUSES}
    return manifest.AlignManifest(
        version=manifest.VERSION,
        conform=str(conform_dir),
        film=film_pattern,
        output_format=None if film_size is None else manifest.Raster(film_size[0], film_size[1], 1.0),
        broadcast=manifest.Raster(broadcast_size[0], broadcast_size[1], broadcast_par),
        conventions={
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
        summary={
            **counts,
            "pairs": sum(e.frame_count or 0 for e in entries if e.status == "aligned"),
        },
        params=params,
        shots=entries,
        colour=colour,
        path=path,
    )


def align_document(**kwargs: Any) -> dict[str, Any]:
    """The JSON document of ``align_manifest(**kwargs)`` (what ``align.json`` holds)."""
    return align_manifest(**kwargs).to_dict()


def write_align_json(out: Path, document: manifest.AlignManifest) -> Path:
    """Write ``align.json`` into ``out`` atomically; returns its path."""
    return manifest.write_align(out, document)
