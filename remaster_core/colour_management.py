"""OpenColorIO: the config, colour-space names, conversions of float32 pictures, and the files' tags.

The config (``load_config``): ``--ocio-config PATH`` when given, else ``$OCIO``, else
``DEFAULT_CONFIG``, OpenColorIO's built-in ACES studio config (``ocio://studio-config-latest``: ACEScg,
ACEScct, ADX10, Camera Rec.709, ...; no download). A file that is missing or does not parse is an
``InputError`` naming it.

Names (``ColourConfig.resolve``) are the config's colour spaces, their aliases (``acescct_ap1``) and roles
(``scene_linear``), resolved to the canonical name; an unknown name is an ``InputError`` that lists the
closest names (difflib).

The spaces remaster speaks of:

- the broadcast: ``BROADCAST_DEFAULT``, "Camera Rec.709" (the BT.709 camera OETF with Rec.709
  primaries): the R'G'B' code values the decoder gives (``remaster_core.color``). NTSC's BT.601 has the
  same transfer function; its SMPTE-C primaries, which the studio config lacks, differ from Rec.709's by
  less than a grade would, so the broadcast is taken as Camera Rec.709 unless told otherwise;
- the film scan: ``--film-colorspace``, else the file's tag (``colorspace_of``), else the broadcast's
  (a scan without a tag is taken as video code values, as remaster always did);
- the working space, in which pairs are written, the model trained and the render's model runs: default
  the broadcast's, so nothing changes for a run that asks for nothing;
- the output: ``--output-colorspace``, default the working space.

Conversions (``convert``): float32 (H, W, 3) in, a new float32 (H, W, 3) out, through the config's CPU
processor (``applyRGB`` on a packed image); the same names give the picture back untouched (no copy, no
OCIO call). Processors are cached per (config, source, destination) and are safe to share between
threads.

Tags (``tag_meta`` writes them, ``colorspace_of`` reads them): OpenImageIO's ``oiio:ColorSpace`` only
holds the colour spaces of its own built-in config, so a file carries the OCIO name itself:

- EXR, TIFF, PNG: the string attribute ``ocio:ColorSpace`` (``TAG``), and for EXR also OpenEXR's
  ``colorInteropID`` when the config gives the space an interop ID (``ocio:adx10_apd_scene``), which
  OpenImageIO reads back as ``oiio:ColorSpace``;
- DPX: the transfer and colorimetric codes of the header (``dpx:Transfer``/``dpx:Colorimetric``:
  "Printing density" for ADX, "ITU-R 709-4" for Camera Rec.709, "Linear" for a scene-linear space,
  "User defined" otherwise) and the name in the image element's description (``ImageDescription``, 31
  characters at most: a longer name cannot be recorded and is refused).

Reading a file's colour space (``colorspace_of``), first found wins: ``ocio:ColorSpace``; a DPX
``ImageDescription`` that is a colour-space name of the config; ``oiio:ColorSpace`` (an interop ID the
config knows as an alias); the DPX transfer code ("Printing density" -> ADX10 for 10-bit files, ADX16
otherwise; "Logarithmic", Kodak's Cineon log, -> ADX10 as well, its nearest space in the studio config;
"ITU-R 709-4" -> Camera Rec.709; "Linear" -> Linear Rec.709 (sRGB)), each only when the config has that
name. Nothing found: None (the caller's stated default applies).
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import PyOpenColorIO as ocio

from remaster_core.errors import InputError
from remaster_core.io.images import ImageMeta

DEFAULT_CONFIG = "ocio://studio-config-latest"
BROADCAST_DEFAULT = "Camera Rec.709"
TAG = "ocio:ColorSpace"
INTEROP_TAG = "colorInteropID"
DPX_NAME_LIMIT = 31
"""Characters a DPX image element description holds (OpenImageIO keeps 31 of its 32 bytes)."""

# DPX transfer code -> the studio config's nearest colour space (the first the config has)
_DPX_TRANSFERS: dict[str, tuple[str, ...]] = {
    "Printing density": ("ADX10",),
    "Logarithmic": ("ADX10",),
    "ITU-R 709-4": ("Camera Rec.709",),
    "Linear": ("Linear Rec.709 (sRGB)",),
}


@dataclass(frozen=True)
class ColourConfig:
    """A loaded OCIO config.

    Attributes:
        source: what was loaded: a file path or an ``ocio://`` URI (picklable: processes reload it).
        name: the config's own name (``studio-config-v5.0.0_aces-v2.1_ocio-v2.6``), for records.
    """

    source: str
    name: str
    config: Any = field(compare=False, repr=False)

    def names(self) -> list[str]:
        """Every colour space of the config (active and inactive)."""
        return list(self.config.getColorSpaceNames(ocio.SEARCH_REFERENCE_SPACE_ALL, ocio.COLORSPACE_ALL))

    def resolve(self, name: str, what: str = "colour space") -> str:
        """The canonical name of colour space, alias or role ``name``.

        Raises:
            InputError: the config has no such name; the message lists the closest ones.
        """
        canonical = self.config.getCanonicalName(name) if name else ""
        if canonical:
            return str(canonical)
        known = self.names()
        aliases = [a for n in known for a in self.config.getColorSpace(n).getAliases()]
        roles = [r for r, _ in self.config.getRoles()]
        lower = {c.lower(): c for c in [*known, *aliases, *roles]}
        close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=5, cutoff=0.5)]
        hint = (
            f"did you mean {', '.join(repr(c) for c in close)}?"
            if close
            else f"it has {', '.join(known[:12])}..."
        )
        raise InputError(f"{what} {name!r} is not in the OCIO config {self.source}: {hint}")

    def interop_id(self, name: str) -> str | None:
        """The colour space's interop ID (``ocio:adx10_apd_scene``), or None when the config gives none."""
        cs = self.config.getColorSpace(name)
        getter = getattr(cs, "getInteropID", None) if cs is not None else None
        return (getter() or None) if getter is not None else None

    def encoding(self, name: str) -> str:
        """The colour space's encoding (``log``, ``scene-linear``, ``sdr-video``...), "" when unset."""
        cs = self.config.getColorSpace(name)
        return str(cs.getEncoding()) if cs is not None else ""

    def has(self, name: str) -> bool:
        """Whether ``name`` resolves in the config."""
        return bool(name) and bool(self.config.getCanonicalName(name))


def config_source(path: str | os.PathLike[str] | None = None) -> str:
    """What ``load_config(path)`` loads: ``path``, else ``$OCIO``, else ``DEFAULT_CONFIG``."""
    if path is not None and str(path):
        return str(path)
    return os.environ.get("OCIO") or DEFAULT_CONFIG


@functools.cache
def _load(source: str) -> ColourConfig:
    if not source.startswith("ocio://") and not Path(source).is_file():
        raise InputError(f"OCIO config {source}: no such file; pass --ocio-config CONFIG.ocio or set $OCIO")
    try:
        config = ocio.Config.CreateFromFile(source)
        config.validate()
    except ocio.Exception as exc:
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise InputError(
            f"OCIO config {source}: cannot be loaded ({first}); fix the file or pass another with --ocio-config"
        ) from None
    return ColourConfig(source, str(config.getName() or Path(source).stem), config)


def load_config(path: str | os.PathLike[str] | None = None) -> ColourConfig:
    """The OCIO config (see the module docstring), loaded once per process.

    Raises:
        InputError: the file does not exist or does not parse.
    """
    return _load(config_source(path))


@functools.cache
def _processor(source: str, src: str, dst: str) -> Any:
    return _load(source).config.getProcessor(src, dst).getDefaultCPUProcessor()


def convert(rgb: np.ndarray, config: ColourConfig, src: str, dst: str) -> np.ndarray:
    """``rgb`` (float32 (H, W, 3)) converted from colour space ``src`` to ``dst`` (canonical names).

    Returns the input itself when ``src == dst``; else a new float32 (H, W, 3) array.
    """
    if src == dst:
        return rgb
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"convert: expected (H, W, 3), got {rgb.shape}")
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    height, width = out.shape[:2]
    _processor(config.source, src, dst).apply(ocio.PackedImageDesc(out, width, height, 3))
    return out


@dataclass(frozen=True)
class Conversion:
    """A conversion between two colour spaces of a config, by name (picklable: Dask ships it).

    Attributes:
        config: the config's source (``ColourConfig.source``).
        src, dst: canonical names.
    """

    config: str
    src: str
    dst: str

    @property
    def identity(self) -> bool:
        """True when the conversion changes nothing."""
        return self.src == self.dst

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """``convert(rgb, ...)`` through this conversion."""
        return convert(rgb, _load(self.config), self.src, self.dst)

    def to_dict(self) -> dict[str, str]:
        return {"config": self.config, "from": self.src, "to": self.dst}


# --- file tags ------------------------------------------------------------------------------------------


def _dpx_codes(config: ColourConfig, name: str) -> tuple[str, str]:
    interop = (config.interop_id(name) or "").lower()
    if "adx" in interop or name.upper().startswith("ADX"):
        return "Printing density", "Printing density"
    if "itu709" in interop or name == "Camera Rec.709":
        return "ITU-R 709-4", "ITU-R 709-4"
    if config.encoding(name) == "scene-linear":
        return "Linear", "User defined"
    return "User defined", "User defined"


def tag_meta(meta: ImageMeta, config: ColourConfig, name: str, ext: str) -> ImageMeta:
    """``meta`` with colour space ``name`` tagged for a file of extension ``ext`` (module docstring);
    OpenImageIO's own ``colorspace`` is cleared (it cannot name most OCIO spaces).

    Raises:
        InputError: a DPX and a name longer than ``DPX_NAME_LIMIT`` characters.
    """
    name = config.resolve(name)
    extra = {k: v for k, v in meta.extra.items() if k not in (TAG, INTEROP_TAG)}
    ext = ext.lower()
    if ext == ".dpx":
        if len(name) > DPX_NAME_LIMIT:
            raise InputError(
                f"colour space {name!r} has more than {DPX_NAME_LIMIT} characters: a DPX header cannot "
                "record it; write EXR, or give the space an alias of up to 31 characters in the config"
            )
        extra["dpx:Transfer"], extra["dpx:Colorimetric"] = _dpx_codes(config, name)
        extra["ImageDescription"] = name
    else:
        extra[TAG] = name
        interop = config.interop_id(name)
        if ext == ".exr" and interop:
            extra[INTEROP_TAG] = interop
    return replace(meta, colorspace=None, extra=extra)


def colorspace_of(meta: ImageMeta, config: ColourConfig) -> tuple[str | None, str]:
    """The colour space a file's tags name (module docstring), and how it was found; (None, why) when
    none names a space of ``config``."""
    tag = meta.extra.get(TAG)
    if isinstance(tag, str) and tag:
        return config.resolve(tag, f"the file's {TAG} tag"), f"{TAG} {tag!r}"
    description = meta.extra.get("ImageDescription")
    if "dpx:Transfer" in meta.extra and isinstance(description, str) and config.has(description):
        return config.resolve(description), f"DPX description {description!r}"
    if meta.colorspace and config.has(meta.colorspace):
        return config.resolve(meta.colorspace), f"oiio:ColorSpace {meta.colorspace!r}"
    transfer = meta.extra.get("dpx:Transfer")
    if isinstance(transfer, str) and transfer in _DPX_TRANSFERS:
        for candidate in _DPX_TRANSFERS[transfer]:
            if candidate == "ADX10" and meta.bit_depth not in (None, "10") and config.has("ADX16"):
                candidate = "ADX16"
            if config.has(candidate):
                return config.resolve(candidate), f"DPX transfer {transfer!r}"
    return None, "the file names no colour space"


# --- displays and views ---------------------------------------------------------------------------------

REVIEW_DISPLAY = "Rec.1886 Rec.709 - Display"
"""The display a review movie is made for (it is tagged BT.709), when the config has it."""


def _choose(name: str, known: list[str], what: str, source: str) -> str:
    if name in known:
        return name
    lower = {k.lower(): k for k in known}
    if name.lower() in lower:
        return lower[name.lower()]
    close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=5, cutoff=0.4)]
    raise InputError(
        f"{what} {name!r} is not in the OCIO config {source}: "
        + (f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"it has {', '.join(known)}")
    )


def display_view(config: ColourConfig, display: str | None, view: str | None) -> tuple[str, str]:
    """The (display, view) pair to use: ``display`` (default ``REVIEW_DISPLAY`` when the config has it,
    else the config's default display) and ``view`` (default: the display's default view).

    Raises:
        InputError: a display or view the config does not have (the closest ones listed).
    """
    displays = list(config.config.getDisplays())
    if display is None:
        display = REVIEW_DISPLAY if REVIEW_DISPLAY in displays else str(config.config.getDefaultDisplay())
    display = _choose(display, displays, "display", config.source)
    views = list(config.config.getViews(display))
    view = (
        _choose(view, views, f"view (of display {display!r})", config.source)
        if view
        else str(config.config.getDefaultView(display))
    )
    return display, view


@functools.cache
def _view_processor(source: str, src: str, display: str, view: str) -> Any:
    transform = ocio.DisplayViewTransform(src=src, display=display, view=view)
    return _load(source).config.getProcessor(transform).getDefaultCPUProcessor()


def to_display(rgb: np.ndarray, config: ColourConfig, src: str, display: str, view: str) -> np.ndarray:
    """``rgb`` (float32 (H, W, 3) in colour space ``src``) as display code values of (display, view)."""
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    height, width = out.shape[:2]
    _view_processor(config.source, src, display, view).apply(ocio.PackedImageDesc(out, width, height, 3))
    return out


def tagged_to_broadcast(rgb: np.ndarray, meta: ImageMeta, config: ColourConfig | None = None) -> np.ndarray:
    """A picture (float32 (H, W, 3)) in the colour space its tags name (``colorspace_of``), converted to
    the broadcast's (``BROADCAST_DEFAULT``); untagged, or with a config that lacks either: as it is."""
    config = config or load_config()
    space = colorspace_of(meta, config)[0]
    if space is None or not config.has(BROADCAST_DEFAULT):
        return rgb
    return convert(rgb, config, space, config.resolve(BROADCAST_DEFAULT))
