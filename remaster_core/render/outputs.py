"""Rendered frames on disk: the output pattern and formats, render keys, validity of existing frames, writes.

Formats (by the pattern's extension):

- ``.exr``: half float (default) or float, zip compression (or ``--compression``): nothing clipped;
- ``.dpx``: 10-bit (default), 12 or 16-bit, clipped to 0..1;
- ``.png``: 16-bit (default) or 8-bit, clipped to 0..1.

Metadata: what the input frame carried (timecode, colour space, frame rate, and plain attributes such
as ``ImageDescription``) is written again; the pixel aspect becomes 1 (the output raster has square
pixels); format-specific attributes of the input (``dpx:*``, ``exr:*``...) are dropped, but the conformed
frame's source fields' timecode (``remaster:source_timecode``, ``conform.timecode``) is kept where the
format holds it (EXR, PNG). EXR frames get
no capture date (OpenEXR's ``capDate``, which OpenImageIO would set to the time of writing), so a frame
rendered twice is the same file byte for byte; PNG needs nothing. DPX headers hold the name of the file
as it was written, i.e. ``io.atomic``'s temporary name, so two DPX renders of a frame differ in those
header bytes (never in pixels).

Render key: every frame carries a stamp, ``remaster-render:<key>``, where ``key`` (``render_key``) is
a hash of everything that decides its pixels: the model file's sha256, the node parameters
(``NodeParams.key_fields``: output size, transform, tiling, precision, mix), the frame's own transform
and lens distortion, the input frame's identity (its file's sha256, or the video's sha256 and conformed
index) and the output format, bit depth and compression. EXR and PNG hold it as the attribute
``remaster:render_key`` (an EXR string attribute, a PNG text chunk); DPX has no free-form attributes,
so it goes into the 100-byte "source image file name" of the header (``dpx:SourceImageFileName``).

An existing frame counts as done only when (``frame_status``): its header opens, its size, channel
count and bit depth are the ones asked for, its stamp equals the frame's key (so a frame rendered with
another model, other parameters or from another input is redone), and all its pixels decode and are
finite (a damaged file is redone). ``--force`` redoes every frame regardless.

Writes go through ``io.images.write_image``, which is atomic (a hidden temporary file beside the
frame, renamed into place): a killed render leaves at most a temporary file, never a partial frame.
``remove_stale_temps`` deletes the temporaries of this chunk's frames whose writing process is gone
(checked by its pid on this machine, which assumes one chunk of a frame runs at a time: render
managers and Dask guarantee that).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.errors import InputError, MediaError
from remaster_core.io.images import ImageMeta, image_size, read_image, read_meta, write_image
from remaster_core.io.sequence import SequencePattern, parse_pattern

log = logging.getLogger("remaster.render.outputs")

OUTPUT_DEPTHS: dict[str, tuple[str, ...]] = {
    ".exr": ("half", "float"),
    ".dpx": ("10", "12", "16"),
    ".png": ("16", "8"),
}
"""Bit depths per output extension; the first is the default."""

KEY_ATTRIBUTES = {
    ".exr": "remaster:render_key",
    ".png": "remaster:render_key",
    ".dpx": "dpx:SourceImageFileName",
}
KEY_PREFIX = "remaster-render:"
KEY_LENGTH = 32
RENDER_FORMAT_VERSION = 1
"""Version of what a render key covers; part of every key."""

_TEMP = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+(?P<suffix>\.[^.]+)$")


@dataclass(frozen=True)
class OutputSpec:
    """Where and how frames are written.

    Attributes:
        pattern: the output frame pattern (``out/plate.####.exr``).
        bit_depth: as ``OUTPUT_DEPTHS``.
        compression: EXR compression, or None for the default (zip).
    """

    pattern: SequencePattern
    bit_depth: str
    compression: str | None = None

    @property
    def ext(self) -> str:
        """The lower-case extension, with its dot."""
        return os.path.splitext("frame" + self.pattern.tail)[1].lower()

    def path(self, frame: int) -> Path:
        """The file of ``frame``."""
        return self.pattern.path(frame)

    def key_fields(self) -> dict[str, Any]:
        """The output format's part of a render key."""
        return {"ext": self.ext, "bit_depth": self.bit_depth, "compression": self.compression}


def output_spec(pattern: str, *, bit_depth: str | None = None, compression: str | None = None) -> OutputSpec:
    """Parse and check the output pattern, bit depth and compression.

    Raises:
        InputError: a pattern without one frame token, an extension other than .exr/.dpx/.png, a bit
            depth the format does not offer, compression on a format without it.
    """
    seq = parse_pattern(pattern)
    ext = os.path.splitext("frame" + seq.tail)[1].lower()
    if ext not in OUTPUT_DEPTHS:
        raise InputError(
            f"output {pattern!r}: render writes .exr (half/float), .dpx (10/12/16-bit) or .png (16/8-bit) "
            f"frames, not {ext or 'files without an extension'}"
        )
    depths = OUTPUT_DEPTHS[ext]
    depth = bit_depth or depths[0]
    if depth not in depths:
        raise InputError(
            f"output {pattern!r}: {ext} frames are written at bit depth {' or '.join(depths)}, not {depth!r}"
        )
    if compression is not None and ext != ".exr":
        raise InputError(f"output {pattern!r}: only EXR output takes a compression, not {ext}")
    return OutputSpec(seq, depth, compression)


def render_key(fields: Mapping[str, Any]) -> str:
    """Hex key (``KEY_LENGTH`` digits of a sha256) of ``fields`` as canonical JSON."""
    payload = {"render_format": RENDER_FORMAT_VERSION, **fields}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


CARRIED_ATTRIBUTES = frozenset({"remaster:source_timecode"})
"""Attributes with a namespace that a render writes again (the conform's source fields' timecode)."""


def stamp_of(meta: ImageMeta, ext: str) -> str | None:
    """The render key stamped in a frame's metadata, or None."""
    value = meta.extra.get(KEY_ATTRIBUTES[ext])
    if isinstance(value, str) and value.startswith(KEY_PREFIX):
        return value[len(KEY_PREFIX) :]
    return None


def output_meta(input_meta: ImageMeta | None, spec: OutputSpec, key: str) -> ImageMeta:
    """The metadata written with a frame: the input's (see the module docstring) plus the stamp."""
    base = input_meta or ImageMeta()
    extra = {
        k: v for k, v in base.extra.items() if (":" not in k or k in CARRIED_ATTRIBUTES) and k != "Orientation"
    }
    extra[KEY_ATTRIBUTES[spec.ext]] = KEY_PREFIX + key
    if spec.ext == ".exr":
        extra["DateTime"] = ""  # no capDate: the same frame rendered twice is the same bytes
    return replace(base, pixel_aspect=1.0, extra=extra, bit_depth=None)


def frame_status(spec: OutputSpec, frame: int, key: str, size: tuple[int, int]) -> str | None:
    """None when the frame on disk is a valid render for ``key`` at ``size`` (W, H); else why it is not.

    Reads the header, then the pixels (see the module docstring): a few milliseconds a frame, small
    against rendering it.
    """
    path = spec.path(frame)
    if not path.is_file():
        return "missing"
    try:
        width, height, channels = image_size(path)
        meta = read_meta(path)
    except MediaError as exc:
        return f"unreadable header ({exc})"
    if (width, height) != tuple(size) or channels != 3:
        return f"{width}x{height} with {channels} channels, expected {size[0]}x{size[1]} RGB"
    if meta.bit_depth != spec.bit_depth:
        return f"bit depth {meta.bit_depth}, expected {spec.bit_depth}"
    stamp = stamp_of(meta, spec.ext)
    if stamp != key:
        return (
            "no render key (not written by remaster render)"
            if stamp is None
            else "rendered with other settings"
        )
    try:
        pixels, _ = read_image(path)
    except MediaError as exc:
        return f"pixels do not decode ({exc})"
    if not np.isfinite(pixels).all():
        return "holds NaN or infinite values"
    return None


def write_frame(spec: OutputSpec, frame: int, rgb: np.ndarray, meta: ImageMeta) -> Path:
    """Write ``rgb`` (float32 (H, W, 3) R'G'B') as ``frame`` atomically; returns its path.

    Raises:
        MediaError: the write failed (disk full, file size limit, read-only folder): nothing partial is
            left at the frame's path.
        InputError: the metadata cannot be recorded truthfully by the format (e.g. a colour space DPX
            would relabel).
    """
    path = spec.path(frame)
    try:
        write_image(path, rgb, meta=meta, bit_depth=spec.bit_depth, compression=spec.compression)
    except MediaError as exc:
        raise MediaError(f"{exc}{_no_room_hint(path, rgb.nbytes)}") from exc
    except OSError as exc:  # the folder cannot be created, a permission, ...
        raise MediaError(
            f"{path}: cannot write it ({exc.strerror or exc}){_no_room_hint(path, rgb.nbytes)}; "
            "check the output folder exists and is writable"
        ) from exc
    return path


def _no_room_hint(path: Path, frame_bytes: int) -> str:
    """What may have stopped a write: the process's file size limit, or a nearly full disk."""
    hints = []
    try:
        import resource  # Unix only

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            hints.append(
                f"this process may not write files larger than {soft} bytes (its file size limit, "
                "RLIMIT_FSIZE / `ulimit -f`, is set): raise the limit"
            )
    except (ImportError, OSError, ValueError):
        pass
    try:
        free = shutil.disk_usage(path.parent).free
        if free < 2 * frame_bytes + (64 << 20):
            hints.append(f"only {free} bytes are free on the disk of {path.parent}")
    except OSError:
        pass
    return f" [{'; '.join(hints)}]" if hints else ""


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed process not yet reaped by its parent is a zombie, it writes nothing more
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split(" ", 1)[0] != "Z"
    except (OSError, ValueError):
        return True


def remove_stale_temps(spec: OutputSpec, frames: Iterable[int]) -> list[Path]:
    """Delete temporaries of ``frames`` left by a killed writer (pid not running here); return them."""
    names = {spec.path(f).name for f in frames}
    folder = spec.pattern.directory
    removed: list[Path] = []
    try:
        entries = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        m = _TEMP.fullmatch(entry)
        if m is None or m.group("name") not in names or _pid_alive(int(m.group("pid"))):
            continue
        path = folder / entry
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        log.info("removed %s, left by a killed render (pid %s)", path, m.group("pid"))
    return removed
