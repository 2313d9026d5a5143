"""Read and write single image files (EXR, DPX, TIFF, PNG) with OpenImageIO, keeping their metadata.

Pixel values are returned as stored, with no colour conversion: the colour space is reported in
``ImageMeta.colorspace`` and conversions are the caller's explicit step.

Integer files are normalised by their largest code value, 2**bits - 1 (8-bit /255, 10-bit DPX /1023,
12-bit /4095, 16-bit /65535), so ``round(x * max)`` gives back the exact code. Writing does the inverse:
float input is clipped to 0..1 and rounded to the nearest code (``rint(x * max)``), which makes
read -> write of an integer file lossless. Integer input is taken as full range for its dtype (uint8:
0..255, uint16: 0..65535) and written unchanged when the file has that depth; otherwise it is rescaled
like float input. So to write 10-bit codes ``c`` (as ``read_image_codes`` returns them) pass
``c / 1023`` as float32, never the uint16 codes themselves.

Metadata kept on read and written back: pixel aspect (``PixelAspectRatio``), SMPTE timecode
(``smpte:TimeCode``, typed as OIIO's ``timecode``: EXR and DPX hold it; ``HH:MM:SS;FF`` means drop
frame), film keycode (``smpte:KeyCode``, DPX and EXR, typed as OIIO's ``keycode``: seven ints, see
``keycode_text``), colour space (``oiio:ColorSpace``; OpenImageIO 3 names it by its Color Interop ID, e.g.
ACEScg -> ``lin_ap1_scene``), frame rate (EXR ``FramesPerSecond``, DPX ``dpx:FrameRate``) and
``extra``: the other simple-typed attributes (``dpx:Transfer``, ``dpx:LowData``, ``Orientation``,
``ImageDescription`` ...) minus those that describe the file's own layout (compression, packing, bit
depth, dates). After writing, the file's header is read back: metadata the format cannot hold is
dropped with a logged warning (once per format and field), but a colour space the format would record
as a *different* one (ACEScg in DPX reads back as linear Rec.709) raises ``InputError``, since the file
would lie about its pixels.

Pixels come in file order: an ``Orientation`` tag other than 1 is carried in ``extra``, not applied.
Only the first subimage (EXR part) is read. An EXR whose data window differs from its display window
is returned at the display window's size, zero outside the data window (as Nuke shows it).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from remaster_core.errors import InputError, MediaError
from remaster_core.io.atomic import atomic_path
from remaster_core.io.finite import describe_nonfinite
from remaster_core.io.sequence import SequencePattern

log = logging.getLogger("remaster.io.images")

# bit depths each writable format offers; the first is the default.
_BIT_DEPTHS = {
    ".exr": ("half", "float"),
    ".dpx": ("10", "16", "12", "8"),
    ".tif": ("16", "8", "float"),
    ".tiff": ("16", "8", "float"),
    ".png": ("16", "8"),
}
_COMPRESSIONS = {
    ".exr": ("zip", "none", "rle", "zips", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab"),
    ".tif": ("zip", "none", "lzw", "packbits"),
    ".tiff": ("zip", "none", "lzw", "packbits"),
}
_CHANNEL_NAMES = {1: ("Y",), 2: ("Y", "A"), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}

# attributes ImageMeta holds in its own fields, or that describe the file's layout, not the picture.
_NOT_EXTRA = {
    "PixelAspectRatio", "smpte:TimeCode", "FramesPerSecond", "colorInteropID", "dpx:FrameRate",
    "dpx:TimeCode", "dpx:UserBits", "compression", "planarconfig", "DateTime", "Software",
    "XResolution", "YResolution", "ResolutionUnit", "dpx:Packing", "dpx:EndOfLinePadding",
    "dpx:EndOfImagePadding", "dpx:ImageDescriptor", "dpx:DittoKey", "dpx:Version",
    "smpte:KeyCode", "dpx:FilmEdgeCode",
}  # fmt: skip
_NOT_EXTRA_PREFIXES = ("oiio:", "tiff:", "openexr:", "png:")
_TIMECODE = re.compile(r"(\d\d):(\d\d):(\d\d)([:;])(\d\d)")
_warned: set[str] = set()


@dataclass
class ImageMeta:
    """Metadata of an image file that the pipeline carries from input to output.

    Attributes:
        pixel_aspect: pixel width / height (1.0 square; 0.9 for NTSC D1 4:3).
        timecode: SMPTE timecode ``"HH:MM:SS:FF"`` (``"HH:MM:SS;FF"`` for drop frame), or None.
        colorspace: OpenImageIO's ``oiio:ColorSpace`` (e.g. ``lin_ap1_scene``), or None if untagged.
        frame_rate: frames per second (``Fraction(24000, 1001)``), or None.
        extra: other simple attributes worth carrying (``dpx:Transfer``, ``Orientation``, ...).
        bit_depth: as read: ``"8"``, ``"10"``, ``"12"``, ``"16"``, ``"half"``, ``"float"``, ``"uint32"``;
            None for metadata built by hand. ``write_image`` keeps it when the output format offers it.
        keycode: the DPX film keycode (``smpte:KeyCode``): (manufacturer code, film type, prefix,
            count, perforation offset, perforations per frame, perforations per count), or None.
            DPX and EXR hold it; other formats drop it (with a warning).
    """

    pixel_aspect: float = 1.0
    timecode: str | None = None
    colorspace: str | None = None
    frame_rate: Fraction | None = None
    extra: dict[str, str | int | float] = field(default_factory=dict)
    bit_depth: str | None = None
    keycode: tuple[int, ...] | None = None


def keycode_text(keycode: tuple[int, ...]) -> str:
    """A keycode as people read it off the film edge: ``"MM TT PPPPPP CCCC+OO"`` (manufacturer, film
    type, prefix, count, perforation offset), e.g. ``"01 02 123456 1234+05"``."""
    mfr, kind, prefix, count, offset = (int(v) for v in keycode[:5])
    return f"{mfr:02d} {kind:02d} {prefix:06d} {count:04d}+{offset:02d}"


# --- timecode, colour space, frame rate -------------------------------------------------------------


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def _unbcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0xF)


def _pack_timecode(text: str, path: Path) -> int:
    m = _TIMECODE.fullmatch(text)
    # the frame field of a packed SMPTE timecode holds 0..39 (two bits of tens)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3)) > 59 or int(m.group(5)) > 39:
        raise InputError(f"{path}: timecode {text!r} is not HH:MM:SS:FF (or HH:MM:SS;FF for drop frame)")
    hh, mm, ss, ff = (int(m.group(i)) for i in (1, 2, 3, 5))
    drop = 0x40 if m.group(4) == ";" else 0
    return _bcd(hh) << 24 | _bcd(mm) << 16 | _bcd(ss) << 8 | drop | _bcd(ff)


def _unpack_timecode(packed: int) -> str:
    sep = ";" if packed & 0x40 else ":"
    hh, mm, ss = _unbcd(packed >> 24 & 0x3F), _unbcd(packed >> 16 & 0x7F), _unbcd(packed >> 8 & 0x7F)
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{_unbcd(packed & 0x3F):02d}"


@functools.cache
def _color_config() -> oiio.ColorConfig:
    return oiio.ColorConfig()


def _same_colorspace(a: str, b: str) -> bool:
    if a == b:
        return True
    ia, ib = _color_config().get_color_interop_id(a), _color_config().get_color_interop_id(b)
    return bool(ia) and ia == ib


def _frame_rate_from_float(fps: float) -> Fraction:
    """DPX stores the rate as a float32; give 23.976 back as 24000/1001, not 2997/125."""
    for nominal in (24, 25, 30, 48, 50, 60, 120):
        if abs(fps - nominal * 1000 / 1001) < 1e-3:
            return Fraction(nominal * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


# --- reading -------------------------------------------------------------------------------------------


def _bits(spec: oiio.ImageSpec) -> str:
    base = spec.format.basetype
    if base == oiio.UINT8:
        return "8"
    if base == oiio.UINT16:
        bits = spec.get_int_attribute("oiio:BitsPerSample", 16)
        return str(bits) if 0 < bits < 16 else "16"
    return {oiio.HALF: "half", oiio.FLOAT: "float", oiio.UINT32: "uint32"}.get(base, str(spec.format))


def _meta_from_spec(spec: oiio.ImageSpec) -> ImageMeta:
    meta = ImageMeta(pixel_aspect=spec.get_float_attribute("PixelAspectRatio", 1.0), bit_depth=_bits(spec))
    meta.colorspace = spec.get_string_attribute("oiio:ColorSpace") or None
    for attrib in spec.extra_attribs:
        name, value = attrib.name, attrib.value
        if name == "smpte:TimeCode":
            if isinstance(value, tuple):
                meta.timecode = _unpack_timecode(int(value[0]))
            elif isinstance(value, str) and _TIMECODE.fullmatch(value):
                meta.timecode = value
        elif name == "smpte:KeyCode" and isinstance(value, tuple) and len(value) == 7:
            meta.keycode = tuple(int(v) for v in value)
        elif name == "FramesPerSecond" and isinstance(value, tuple) and len(value) == 2 and value[1]:
            meta.frame_rate = Fraction(int(value[0]), int(value[1]))
        elif name == "dpx:FrameRate" and isinstance(value, float) and value > 0:
            meta.frame_rate = _frame_rate_from_float(value)
        elif (
            isinstance(value, str | int | float)
            and name not in _NOT_EXTRA
            and not name.startswith(_NOT_EXTRA_PREFIXES)
        ):
            meta.extra[name] = value
    return meta


def _one_line(error: str) -> str:
    """OpenImageIO's error text as one short line (it may repeat a message per scanline)."""
    lines = list(dict.fromkeys(line.strip() for line in error.splitlines() if line.strip()))
    text = "; ".join(lines)
    return text if len(text) <= 300 else text[:297] + "..."


@functools.cache
def _as_stored() -> oiio.ImageSpec:
    """Open hints: hand back colour channels as stored, never (un)premultiplied by alpha."""
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)
    return config


@functools.cache
def _format_of_extension() -> dict[str, str]:
    """{".dpx": "dpx", ".exr": "openexr", ".tif": "tiff", ...}: OpenImageIO's own extension table."""
    table: dict[str, str] = {}
    for entry in str(oiio.get_string_attribute("extension_list")).split(";"):
        name, _, extensions = entry.partition(":")
        for ext in extensions.split(","):
            if ext:
                table.setdefault(f".{ext.lower()}", name)
    return table


def _open(path: Path) -> oiio.ImageInput:
    """Open ``path`` for reading; a file whose contents are another format than its extension names (a
    PNG renamed ``.dpx``) is refused: a sequence is one format, and the name is what a person trusts."""
    if not path.is_file():
        raise MediaError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    inp = oiio.ImageInput.open(str(path), _as_stored())
    if inp is None:
        raise MediaError(
            f"{path}: cannot read this image ({_one_line(oiio.geterror())}); is it corrupt or truncated?"
        )
    named = _format_of_extension().get(path.suffix.lower())
    found = inp.format_name()
    if named is not None and found != named:
        inp.close()
        raise MediaError(
            f"{path}: the file's contents are {found}, not the {named} its extension {path.suffix} names "
            f"(renamed, or saved in the wrong format); convert it to {named} or restore the original frame"
        )
    return inp


def _read(path: Path) -> tuple[np.ndarray, oiio.ImageSpec]:
    """Pixels as stored, (H, W, C) over the display window: the exact codes (uint8 for 8-bit files,
    uint16 for 10, 12 and 16-bit) for integer files, float32 for everything else."""
    inp = _open(path)
    try:
        spec = inp.spec()
        file_format = inp.format_name()
        bits = _bits(spec)
        # half files come as half and are widened by NumPy (exact, and about half OpenImageIO's cost)
        fmt = {"8": "uint8", "10": "uint16", "12": "uint16", "16": "uint16", "half": "half"}.get(bits, "float")
        data = inp.read_image(fmt)
        error = _one_line(inp.geterror())
    finally:
        inp.close()
    if data is None or error:
        raise MediaError(
            f"{path}: cannot read the pixels ({error or 'no data'}); is the file truncated or corrupt?"
        )
    data = np.asarray(data).reshape(spec.height, spec.width, spec.nchannels)
    if data.dtype == np.float16:
        data = data.astype(np.float32)
    if bits == "10" and spec.nchannels == 4 and (4 * spec.width) % 3 == 1 and file_format == "dpx":
        _warn_once(
            "dpx rgba10",
            f"{path}: OpenImageIO 3.2 misreads the alpha of the last column of 10-bit RGBA DPX files "
            "whose width * 4 is 1 more than a multiple of 3 (ffmpeg reads them right); RGB is unaffected",
        )
    if bits in ("10", "12"):
        # OpenImageIO widens 10/12-bit codes to 16 bits by bit replication; the top bits are the code.
        data = data >> (16 - int(bits))
    window = (spec.x, spec.y, spec.width, spec.height)
    if window != (spec.full_x, spec.full_y, spec.full_width, spec.full_height):
        full = np.zeros((spec.full_height, spec.full_width, spec.nchannels), data.dtype)
        x0, y0 = spec.x - spec.full_x, spec.y - spec.full_y
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + spec.width, spec.full_width), min(y0 + spec.height, spec.full_height)
        if fx1 > fx0 and fy1 > fy0:
            full[fy0:fy1, fx0:fx1] = data[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        data = full
    return data, spec


def _select_channels(data: np.ndarray, spec: oiio.ImageSpec, path: Path, channels: int | None) -> np.ndarray:
    if channels is None:
        return data
    if channels != 3:
        raise ValueError(f"channels must be 3 or None, not {channels}")
    names = list(spec.channelnames)
    if all(c in names for c in "RGB"):
        order = [names.index(c) for c in "RGB"]
        if order == [0, 1, 2]:  # the usual layout: no gather
            return data if data.shape[2] == 3 else np.ascontiguousarray(data[..., :3])
        return data[..., order]
    if data.shape[2] == 1 or (data.shape[2] == 2 and names[1] == "A"):
        return np.repeat(data[..., :1], 3, axis=2)
    if data.shape[2] in (3, 4):
        return data[..., :3]
    raise MediaError(
        f"{path}: {data.shape[2]} channels ({', '.join(names)}): cannot tell which are RGB; "
        "read it with channels=None or write it as RGB / RGBA"
    )


def read_image(path: str | os.PathLike[str], *, channels: int | None = 3) -> tuple[np.ndarray, ImageMeta]:
    """Read an image file as float32 (H, W, C), values as stored (no colour conversion).

    Integer files are normalised to 0..1 by their largest code (see the module docstring); half and
    float files are returned as is (which may include values outside 0..1, NaN and Inf).

    Args:
        path: the file.
        channels: 3 for RGB (grey is replicated, alpha dropped), None for every channel as stored.

    Raises:
        MediaError: missing, unreadable, corrupt or truncated file (OpenImageIO's message included), or
            a channel layout that is not grey / RGB / RGBA when ``channels=3``.
    """
    path = Path(path)
    data, spec = _read(path)
    if data.dtype != np.float32:
        data = data.astype(np.float32) / np.float32(2 ** int(_bits(spec)) - 1)
    return _select_channels(data, spec, path, channels), _meta_from_spec(spec)


def read_image_codes(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageMeta]:
    """Read an integer image file (8, 10, 12 or 16-bit) as its exact code values: uint16 (H, W, C).

    All channels as stored; a 10-bit DPX gives codes 0..1023. Raises ``MediaError`` for a float/half file
    or any file ``read_image`` cannot read.
    """
    path = Path(path)
    data, spec = _read(path)
    if data.dtype == np.float32:
        raise MediaError(f"{path}: holds {_bits(spec)} samples, not integer codes; use read_image")
    return data.astype(np.uint16), _meta_from_spec(spec)


def read_meta(path: str | os.PathLike[str]) -> ImageMeta:
    """Metadata of an image file, reading only its header."""
    path = Path(path)
    inp = _open(path)
    try:
        return _meta_from_spec(inp.spec())
    finally:
        inp.close()


def image_size(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(width, height, channels) of an image file's display window, reading only its header."""
    path = Path(path)
    inp = _open(path)
    try:
        spec = inp.spec()
        return spec.full_width, spec.full_height, spec.nchannels
    finally:
        inp.close()


def read_frame(pattern: SequencePattern, frame: int, **kw: Any) -> tuple[np.ndarray, ImageMeta]:
    """``read_image`` of ``pattern.path(frame)``; errors say ``frame N of <pattern>``."""
    try:
        return read_image(pattern.path(frame), **kw)
    except MediaError as exc:
        raise MediaError(f"frame {frame} of {pattern}: {exc}") from exc


# --- writing -------------------------------------------------------------------------------------------


def _file_values(image: np.ndarray, bits: str, path: Path) -> np.ndarray:
    """The array to hand to OpenImageIO for a file of depth ``bits`` (see the module docstring)."""
    if bits in ("half", "float"):
        if image.dtype.kind == "u":
            image = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
        if bits == "half" and image.dtype != np.float16:
            # NumPy's conversion rounds as OpenImageIO's does (to nearest even; beyond 65504 to inf, bit
            # for bit the same) at about half its cost: 4 against 8 ms for a 960x720 RGB frame
            with np.errstate(over="ignore", invalid="ignore"):
                return image.astype(np.float16)
        return image if image.dtype in (np.float16, np.float32) else image.astype(np.float32)
    if (bits, image.dtype) in (("8", np.uint8), ("16", np.uint16)):
        return image
    if image.dtype.kind == "u":
        values = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    else:
        values = image.astype(np.float32, copy=False)
        bad = describe_nonfinite(values)
        if bad is not None:
            raise InputError(
                f"{path}: the image holds {bad}, which a {bits}-bit file cannot store; "
                "clean them first or write a float EXR"
            )
    top = 2 ** int(bits) - 1
    codes = np.rint(np.clip(values, 0.0, 1.0) * np.float32(top))
    if bits == "8":
        return codes.astype(np.uint8)
    codes16 = codes.astype(np.uint16)
    shift = 16 - int(bits)  # OpenImageIO keeps the top bits of 16-bit data: bit-replicate the codes
    return (codes16 << shift) | (codes16 >> (int(bits) - shift)) if shift else codes16


def _spec_for(
    path: Path, shape: tuple[int, ...], bits: str, compression: str | None, meta: ImageMeta
) -> oiio.ImageSpec:
    fmt = {"half": "half", "float": "float", "8": "uint8"}.get(bits, "uint16")
    spec = oiio.ImageSpec(shape[1], shape[0], shape[2], fmt)
    spec.channelnames = _CHANNEL_NAMES[shape[2]]
    for name, value in meta.extra.items():
        spec.attribute(name, value)
    if bits in ("10", "12"):
        spec.attribute("oiio:BitsPerSample", int(bits))
    ext = path.suffix.lower()
    if ext == ".png":  # PNG stores unassociated alpha: write the colour values as given, not divided
        spec.attribute("oiio:UnassociatedAlpha", 1)
    if compression is not None or ext in _COMPRESSIONS:
        spec.attribute("compression", compression or _COMPRESSIONS[ext][0])
    spec.attribute("PixelAspectRatio", float(meta.pixel_aspect))
    if meta.timecode is not None:
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (_pack_timecode(meta.timecode, path), 0))
    if meta.keycode is not None:
        if len(meta.keycode) != 7:
            raise InputError(f"{path}: a keycode is 7 integers, got {meta.keycode!r}")
        spec.attribute("smpte:KeyCode", oiio.TypeDesc("keycode"), tuple(int(v) for v in meta.keycode))
    if meta.colorspace is not None:
        spec.attribute("oiio:ColorSpace", meta.colorspace)
    if meta.frame_rate is not None:
        fps = Fraction(meta.frame_rate)
        if ext == ".dpx":
            spec.attribute("dpx:FrameRate", float(fps))
        else:
            spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (fps.numerator, fps.denominator))
    return spec


def _reads_back(path: Path, data: np.ndarray) -> bool:
    """Whether the file at ``path`` decodes to exactly ``data`` (as handed to the writer)."""
    inp = oiio.ImageInput.open(str(path), _as_stored())
    if inp is None:
        oiio.geterror()
        return False
    try:
        got = inp.read_image(
            {np.uint8: "uint8", np.uint16: "uint16", np.float16: "half"}.get(data.dtype.type, "float")
        )
        return (
            got is not None
            and not inp.geterror()
            and np.array_equal(got.reshape(data.shape), data, equal_nan=True)
        )
    finally:
        inp.close()


def _check_written(tmp: Path, path: Path, asked: ImageMeta) -> None:
    """Read the new file's header back; refuse a colour-space mislabel, warn about dropped fields."""
    got = read_meta(tmp)
    fmt = path.suffix.lower()[1:].upper()
    if asked.colorspace is not None and not (
        got.colorspace and _same_colorspace(asked.colorspace, got.colorspace)
    ):
        if got.colorspace is not None:
            raise InputError(
                f"{path}: {fmt} cannot record colour space {asked.colorspace!r}: the file would be tagged "
                f"{got.colorspace!r}. Write EXR, convert the pixels, or set meta.colorspace=None"
            )
        _warn_dropped(fmt, f"colour space {asked.colorspace!r}")
    if asked.timecode is not None and got.timecode != asked.timecode:
        _warn_dropped(fmt, "timecode")
    if asked.keycode is not None and got.keycode != tuple(asked.keycode):
        _warn_dropped(fmt, "keycode")
    if asked.frame_rate is not None and got.frame_rate != asked.frame_rate:
        _warn_dropped(fmt, f"frame rate {asked.frame_rate}")
    if abs(got.pixel_aspect - asked.pixel_aspect) > 1e-5 * asked.pixel_aspect:
        _warn_dropped(fmt, f"pixel aspect {asked.pixel_aspect} (reads back as {got.pixel_aspect})")


def _warn_once(key: str, message: str) -> None:
    """Log ``message`` the first time ``key`` is seen in this process (no log line per frame)."""
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", message)


def _warn_dropped(fmt: str, what: str) -> None:
    _warn_once(f"{fmt}: {what}", f"{fmt} files cannot record {what}: written without it")


def write_image(
    path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    meta: ImageMeta | None = None,
    bit_depth: str | None = None,
    compression: str | None = None,
) -> None:
    """Write ``image`` to ``path`` atomically; the format follows the extension.

    Args:
        path: ``.exr`` (bit depth "half" default, "float"; compression "zip" default, "none", "rle",
            "zips", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab", a level as "dwaa:45"), ``.dpx`` ("10"
            default, "16", "12", "8"; no compression), ``.tif``/``.tiff`` ("16" default, "8", "float";
            "zip" default, "none", "lzw", "packbits"), ``.png`` ("16" default, "8").
        image: (H, W) or (H, W, C) with C 1..4 (grey, grey+alpha, RGB, RGBA), float16/float32/float64
            (0..1 for integer files, clipped and rounded to the nearest code) or uint8/uint16 (full range).
            NaN/Inf are refused for integer files; EXR stores them as they are (and half turns values
            above 65504 into Inf).
        meta: metadata to write (see ``ImageMeta``); its ``bit_depth`` is used when ``bit_depth`` is None
            and the format offers it.
        bit_depth: see ``path``.
        compression: see ``path``.

    Raises:
        InputError: unsupported extension, bit depth or compression, NaN/Inf for an integer file, a
            timecode that is not HH:MM:SS:FF, or a colour space the format would record as another.
        MediaError: OpenImageIO failed to write the file (a full disk, a read-only folder).
        ValueError: an image of the wrong shape or dtype (a bug in the caller).
    """
    path = Path(path)
    ext = path.suffix.lower()
    meta = meta or ImageMeta()
    if ext not in _BIT_DEPTHS:
        raise InputError(
            f"{path}: cannot write {ext or 'extensionless'} files; use .exr, .dpx, .tif, .tiff or .png"
        )
    depths = _BIT_DEPTHS[ext]
    if bit_depth is None:
        bit_depth = meta.bit_depth if meta.bit_depth in depths else depths[0]
    if bit_depth not in depths:
        raise InputError(
            f"{path}: {ext} cannot be written at bit depth {bit_depth!r}; choose one of {depths}"
        )
    if compression is not None and compression.split(":")[0] not in _COMPRESSIONS.get(ext, ()):
        raise InputError(
            f"{path}: compression {compression!r} is not available for {ext}; "
            f"choose one of {_COMPRESSIONS.get(ext, ('none: this format has no compression option',))}"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _CHANNEL_NAMES or 0 in image.shape:
        raise ValueError(f"write_image({path}): expected (H, W) or (H, W, 1..4), got shape {image.shape}")
    if image.dtype not in (np.float16, np.float32, np.float64, np.uint8, np.uint16):
        raise ValueError(f"write_image({path}): expected float or uint8/uint16 pixels, got {image.dtype}")
    data = np.ascontiguousarray(_file_values(image, bit_depth, path))
    spec = _spec_for(path, image.shape, bit_depth, compression, meta)
    with atomic_path(path) as tmp:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            raise MediaError(f"{path}: OpenImageIO cannot write {ext} files ({_one_line(oiio.geterror())})")
        if not out.open(str(tmp), spec):
            raise MediaError(
                f"{path}: {ext} cannot hold this image ({_one_line(out.geterror())}); "
                f"its shape is {image.shape}"
            )
        ok = out.write_image(data)
        ok = out.close() and ok
        error = _one_line(out.geterror())
        # Some writers report a failed write only in their error text (PNG on a full disk) and some
        # leave a harmless message there (TIFF in OIIO 3.2: "failed TIFFWriteCustomDirectory() of
        # the Exif data", on every file): in that case the pixels read back decide.
        if not ok or (error and not _reads_back(tmp, data)):
            raise MediaError(
                f"{path}: writing failed ({error or 'no message'}); is the disk full or the folder read-only?"
            )
        _check_written(tmp, path, meta)
