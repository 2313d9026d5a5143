"""The Remaster node's settings: knob values checked, turned into worker parameters and a cache key.

Pure standard library (no ``nuke``): ``knobs.read_values(node)`` collects the values, everything here
works on that plain mapping, so it is tested outside Nuke.

Colour (``COLOUR_KNOBS``): the worker converts, with the same code and OCIO config as ``remaster render
--broadcast-colorspace --output-colorspace --ocio-config``: the Source from its colour space (default
the script's ``scene_linear`` role: what a Read gives unless it is raw) into the model's working space
(its metadata), the result into the output colour space (default: back into the Source's). The config:
the node's knob, else ``$OCIO`` (the one Nuke runs with), else the model's own, else OpenColorIO's
built-in studio config (``ocio_config``).

Cache key (``settings_key``): a sha256 over everything that decides the pixels of a frame besides the
source frame itself: the model file's content (sha256, remembered per path, size and mtime), the
geometry (mode, tx/ty/sx/sy, align.json's content and frame offset), the output format, tile size,
precision, mix, the grain knobs and the deflicker, the colour spaces and the OCIO config (a file's content too), the
node's instance id (two Remaster nodes never share frames), and the Source input's name and format. Changing any of them gives a new key, hence a new cache folder: frames rendered with
other settings are never shown. The worker additionally stamps each frame with a render key that
includes the sha256 of the source frame Nuke wrote, so "Process range" re-renders exactly the frames
whose source pixels changed upstream.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from typing import Any, Mapping, NamedTuple

from remaster_spec import frame_range
from remaster_spec.manifest_vocab import MAX_COORD, MAX_SCALE, MAX_SIDE

CACHE_VERSION = 1
"""Version of the cache layout and key; part of every key."""

GEOMETRY_MODES = ("nominal", "align.json", "manual")


class EngineKnob(NamedTuple):
    """A knob of the Remaster gizmo that is one of the worker's node parameters, of the same name.

    remaster_core declares the node's parameters once (``remaster_core/node_params.py``, what the
    worker's ``describe`` answers); the plugin cannot import it, so ``tests/nuke/test_knob_table.py``
    holds these records to it, and the gizmo's knobs to these records. The worker checks every value
    again; these checks name the knob before a worker is started.

    Attributes:
        name: the knob and the parameter.
        label: the knob's label, named in messages.
        default: the knob's default.
        minimum, maximum: the range of a number, else None.
        choices: the menu of a choice, else ().
        off: the knob value sent as null (the parameter's default, None), or None where there is none;
            off_text says what it means.
    """

    name: str
    label: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    off: Any = None
    off_text: str = ""


TILE_KNOB = EngineKnob("tile", "tile size", 0, 1, MAX_SIDE, off=0, off_text="whole frames")
PRECISION_KNOB = EngineKnob("precision", "precision", "fp32", choices=("fp32", "fp16", "bf16"))
PROVIDER_KNOB = EngineKnob(
    "provider", "provider", "auto", choices=("auto", "tensorrt", "cuda", "openvino", "cpu")
)
MIX_KNOB = EngineKnob("mix", "mix", 1.0, 0.0, 1.0)
GRAIN_AMOUNT_KNOB = EngineKnob("grain_amount", "grain amount", 1.0, 0.0, 4.0)
GRAIN_SIZE_KNOB = EngineKnob("grain_size", "grain size", 1.0, 0.25, 4.0)
GRAIN_SEED_KNOB = EngineKnob("grain_seed", "grain seed", 0, 0, 2**31 - 1)
GRAIN_KNOBS = (GRAIN_AMOUNT_KNOB, GRAIN_SIZE_KNOB, GRAIN_SEED_KNOB)
"""The film grain the worker synthesises on the model's output (from the model's grain profile). A node
saved before these knobs existed has none: their defaults are used."""
ENGINE_KNOBS = (TILE_KNOB, PRECISION_KNOB, PROVIDER_KNOB, MIX_KNOB) + GRAIN_KNOBS
MAX_DEFLICKER = 8
"""The largest 'deflicker' and 'deflicker output' knob value: frames each side, as ``remaster render
--deflicker`` and ``--deflicker-output`` (the worker's keys of the same names check it again)."""
PRECISIONS = PRECISION_KNOB.choices
PROVIDERS = PROVIDER_KNOB.choices


class ColourKnob(NamedTuple):
    """A colour knob of the Remaster gizmo: one of the worker's colour keys, of the same name, which are
    the ``remaster render`` options of that name (``--broadcast-colorspace`` ...);
    ``tests/nuke/test_knob_table.py`` holds the three to one another.

    Attributes:
        name: the knob, the worker's key.
        label: the knob's label, named in messages.
        default: the knob's default ("" where the empty knob means ``empty_text``).
        empty_text: what an empty knob means.
    """

    name: str
    label: str
    default: str
    empty_text: str


SOURCE_COLORSPACE_KNOB = ColourKnob(
    "broadcast_colorspace", "Source colour space", "scene_linear", "the script's scene_linear role"
)
OUTPUT_COLORSPACE_KNOB = ColourKnob(
    "output_colorspace", "output colour space", "", "the Source colour space (the result goes back into it)"
)
OCIO_CONFIG_KNOB = ColourKnob(
    "ocio_config", "OCIO config", "", "$OCIO, else the model's own, else OpenColorIO's built-in studio config"
)
COLOUR_KNOBS = (SOURCE_COLORSPACE_KNOB, OUTPUT_COLORSPACE_KNOB, OCIO_CONFIG_KNOB)
"""The colour spaces around the model (see the module docstring). A node saved before these knobs
existed has none: their defaults are used."""


class SettingsError(ValueError):
    """Knob values the node cannot render with; the message says which knob and what to do."""


class NodeSettings(NamedTuple):
    """The checked settings of a Remaster node.

    Attributes:
        model: absolute path of the ONNX model.
        geometry: one of ``GEOMETRY_MODES``.
        transform: (tx, ty, sx, sy) for "manual" (output pixel -> source pixel), else None.
        align_json: absolute path of align.json for "align.json", else "".
        align_offset: Nuke frame number of conformed frame 0 (align.json mode).
        output_size: (W, H), or None (align.json's, or the Source at its display aspect).
        tile: tile side in pixels, or None (whole frames).
        precision, provider: engine options.
        mix: 0..1.
        grain_amount, grain_size, grain_seed: the grain knobs.
        deflicker: frames each side of the input's temporal deflicker (0: off), as ``remaster render
            --deflicker``; "Process range" then also writes the Source frames within this many of each
            frame (the deflicker reads them).
        deflicker_output: frames each side of the model output's temporal deflicker (0: off), as
            ``remaster render --deflicker-output``; "Process range" then writes the Source frames within
            ``deflicker + deflicker_output`` of each frame.
        cache_dir: the cache root folder.
        worker: the worker command knob ("" for the environment / PATH).
        instance: the node's instance id.
        source: the Source input's name (part of the key).
        source_format: the Source's (width, height, pixel aspect), or None (part of the key: a new
            upstream format renders into another folder, never beside frames of the old one).
        broadcast_colorspace: the Source's OCIO colour space (a name, alias or role).
        output_colorspace: the result's OCIO colour space (the Source's when its knob is empty).
        ocio_config: the OCIO config (a file or ``ocio://`` URI), or "" (the model's, else the built-in
            studio config).
    """

    model: str
    geometry: str
    transform: tuple[float, float, float, float] | None
    align_json: str
    align_offset: int
    output_size: tuple[int, int] | None
    tile: int | None
    precision: str
    provider: str
    mix: float
    cache_dir: str
    worker: str
    instance: str
    source: str
    source_format: tuple[int, int, float] | None = None
    grain_amount: float = GRAIN_AMOUNT_KNOB.default
    grain_size: float = GRAIN_SIZE_KNOB.default
    grain_seed: int = GRAIN_SEED_KNOB.default
    broadcast_colorspace: str = SOURCE_COLORSPACE_KNOB.default
    output_colorspace: str = SOURCE_COLORSPACE_KNOB.default
    ocio_config: str = ""
    deflicker: int = 0
    deflicker_output: int = 0

    @property
    def reach(self) -> int:
        """Frames each side of a frame whose Source frames its render reads (the two deflickers)."""
        return self.deflicker + self.deflicker_output


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return "" if value is None else str(value).strip()


def _number(values: Mapping[str, Any], name: str, label: str) -> float:
    try:
        number = float(values.get(name))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingsError(f"'{label}' is not a number ({values.get(name)!r})") from None
    if not math.isfinite(number):
        raise SettingsError(f"'{label}' must be a finite number, got {number}")
    return number


def _choice(values: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = _text(values, name)
    if value not in choices:
        raise SettingsError(
            "'{n}' must be one of {c}, got {v!r}".format(n=name, c=", ".join(choices), v=value)
        )
    return value


def _engine_value(values: Mapping[str, Any], knob: EngineKnob) -> Any:
    """The parameter value of an engine knob, checked against its record (None for its ``off`` value)."""
    if knob.choices:
        return _choice(values, knob.name, knob.choices)
    number = _number(values, knob.name, knob.label)
    if isinstance(knob.default, int):
        number = int(number)
    if knob.off is not None and number == knob.off:
        return None
    low = -math.inf if knob.minimum is None else knob.minimum
    high = math.inf if knob.maximum is None else knob.maximum
    if not low <= number <= high:
        off = "" if knob.off is None else f"{knob.off} ({knob.off_text}) or "
        raise SettingsError(f"'{knob.label}' must be {off}between {low:g} and {high:g}, got {number}")
    return number


def default_cache_root() -> str:
    """``$REMASTER_NUKE_CACHE``, else ``remaster_nuke_cache`` in the system's temporary folder."""
    env = os.environ.get("REMASTER_NUKE_CACHE", "").strip()
    if env:
        return env
    import tempfile

    return os.path.join(tempfile.gettempdir(), "remaster_nuke_cache")


def ocio_config(text: str, environ: Mapping[str, str] | None = None) -> str:
    """The OCIO config the node uses: the knob's ``text``, else ``$OCIO`` (Nuke's), else "" (the worker
    takes the model's own config, else OpenColorIO's built-in studio config); a file is made absolute.

    Raises:
        SettingsError: a file that does not exist.
    """
    env = os.environ if environ is None else environ
    chosen = text.strip() or env.get("OCIO", "").strip()
    if not chosen or chosen.startswith("ocio://"):
        return chosen
    if not os.path.isfile(chosen):
        where = "the 'OCIO config' knob" if text.strip() else "$OCIO"
        raise SettingsError(f"OCIO config not found: {chosen}; check {where} (a .ocio file, an ocio:// URI)")
    return os.path.abspath(chosen)


def _colour(values: Mapping[str, Any]) -> tuple[str, str, str]:
    """(Source colour space, output colour space, OCIO config) from the colour knobs (absent: their
    defaults); the names are checked against the config by the worker, which lists the closest ones."""
    name = SOURCE_COLORSPACE_KNOB.name
    source = SOURCE_COLORSPACE_KNOB.default if values.get(name) is None else _text(values, name)
    if not source:
        raise SettingsError(
            f"'{SOURCE_COLORSPACE_KNOB.label}' is empty: name the OCIO colour space of the Source "
            f"({SOURCE_COLORSPACE_KNOB.default}: the script's working space, what a Read gives unless it is raw)"
        )
    output = _text(values, OUTPUT_COLORSPACE_KNOB.name) or source
    return source, output, ocio_config(_text(values, OCIO_CONFIG_KNOB.name))


def settings_from_values(values: Mapping[str, Any]) -> NodeSettings:
    """Check the knob values of a Remaster node (``knobs.read_values``).

    Raises:
        SettingsError: no model chosen, a model, align.json or cache folder that is not there, a
            transform with non-positive scales, a value out of range; the message names the knob.
    """
    model = _text(values, "model")
    if not model:
        raise SettingsError("no model chosen: set 'model file' to the .onnx file `remaster export` wrote")
    if not os.path.isfile(model):
        raise SettingsError(
            f"model file not found: {model}; check 'model file' (export one with `remaster export`)"
        )
    geometry = _choice(values, "geometry", GEOMETRY_MODES)
    transform = None
    align_json = ""
    align_offset = _number(values, "align_offset", "frame offset")
    if abs(align_offset) > frame_range.MAX_FRAME:
        raise SettingsError(
            f"'frame offset' must be at most {frame_range.MAX_FRAME} either way, got {align_offset:g}"
        )
    align_offset = int(align_offset)
    if geometry == "manual":
        tx, ty = _number(values, "tx", "tx"), _number(values, "ty", "ty")
        sx, sy = _number(values, "sx", "sx"), _number(values, "sy", "sy")
        if not (sx > 0 and sy > 0):
            raise SettingsError(
                f"'sx' and 'sy' must be positive (source pixels per output pixel), got {sx} and {sy}"
            )
        if max(abs(tx), abs(ty)) > MAX_COORD or max(sx, sy) > MAX_SCALE:
            raise SettingsError(
                f"the transform ({tx:g}, {ty:g}, {sx:g}, {sy:g}) is out of range: 'tx' and 'ty' at most "
                f"{MAX_COORD:g} px either way, 'sx' and 'sy' at most {MAX_SCALE:g}"
            )
        transform = (tx, ty, sx, sy)
    elif geometry == "align.json":
        align_json = _text(values, "align_json")
        if not align_json:
            raise SettingsError(
                "transform is 'align.json' but no file is set: choose the align.json `remaster align` wrote"
            )
        if not os.path.isfile(align_json):
            raise SettingsError(f"align.json not found: {align_json}; check the 'align.json' knob")
        align_json = os.path.abspath(align_json)
    output_size = None
    if values.get("use_format") and geometry != "align.json":
        size = values.get("format_size")
        if not isinstance(size, (tuple, list)) or len(size) != 2:
            raise SettingsError("'output format' is not set")
        try:
            w, h = int(size[0]), int(size[1])
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(f"'output format' {size!r} is not a raster size") from None
        if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
            raise SettingsError(f"'output format' {w}x{h} is not a raster size")
        output_size = (w, h)
    present = {**{k.name: k.default for k in GRAIN_KNOBS if values.get(k.name) is None}, **values}
    engine = {knob.name: _engine_value(present, knob) for knob in ENGINE_KNOBS}
    cache_dir = _text(values, "cache_dir") or default_cache_root()
    broadcast_colorspace, output_colorspace, config = _colour(values)
    deflicker = _deflicker(values, "deflicker", "deflicker")
    deflicker_output = _deflicker(values, "deflicker_output", "deflicker output")
    return NodeSettings(
        model=os.path.abspath(model),
        geometry=geometry,
        transform=transform,
        align_json=align_json,
        align_offset=align_offset,
        output_size=output_size,
        tile=engine["tile"],
        precision=engine["precision"],
        provider=engine["provider"],
        mix=engine["mix"],
        cache_dir=os.path.abspath(cache_dir),
        worker=_text(values, "worker"),
        instance=_text(values, "instance_id"),
        source=_text(values, "source_name"),
        source_format=_source_format(values.get("source_format")),
        grain_amount=engine["grain_amount"],
        grain_size=engine["grain_size"],
        grain_seed=engine["grain_seed"],
        broadcast_colorspace=broadcast_colorspace,
        output_colorspace=output_colorspace,
        ocio_config=config,
        deflicker=deflicker,
        deflicker_output=deflicker_output,
    )


def _deflicker(values: Mapping[str, Any], name: str, label: str) -> int:
    """A deflicker knob's radius: a whole number of frames from 0 (off, also when absent) to
    ``MAX_DEFLICKER``."""
    value = 0 if values.get(name) is None else _number(values, name, label)
    if value != int(value) or not 0 <= value <= MAX_DEFLICKER:
        raise SettingsError(
            f"'{label}' must be a whole number of frames from 0 (off) to {MAX_DEFLICKER}, got {value:g}"
        )
    return int(value)


def _source_format(value: Any) -> tuple[int, int, float] | None:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return None
    try:
        w, h, par = int(value[0]), int(value[1]), round(float(value[2]), 6)
    except (TypeError, ValueError, OverflowError):
        return None  # not a format Nuke gives: the render key is made without it
    return (w, h, par) if 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE and math.isfinite(par) else None


def request_params(settings: NodeSettings, span: tuple[int, int] | None = None) -> dict[str, Any]:
    """The worker's ``params`` for these settings (``remaster_core/worker/protocol.py``); ``span``: the
    Source's frame range (the frames a deflicker may read; sent with a deflicker only)."""
    params: dict[str, Any] = {
        "model": settings.model,
        "output_size": list(settings.output_size) if settings.output_size else None,
        "transform": None,
        "align": settings.align_json or None,
        "align_offset": settings.align_offset,
        "tile": settings.tile,
        "precision": settings.precision,
        "provider": settings.provider,
        "mix": settings.mix,
        "grain_amount": settings.grain_amount,
        "grain_size": settings.grain_size,
        "grain_seed": settings.grain_seed,
        "broadcast_colorspace": settings.broadcast_colorspace,
        "output_colorspace": settings.output_colorspace,
        "ocio_config": settings.ocio_config or None,
        "bit_depth": "float",
    }
    if settings.deflicker:
        params["deflicker"] = settings.deflicker
    if settings.deflicker_output:
        params["deflicker_output"] = settings.deflicker_output
    if settings.reach:
        params["source_range"] = list(span) if span is not None else None
    if settings.transform is not None:
        tx, ty, sx, sy = settings.transform
        params["transform"] = {"tx": tx, "ty": ty, "sx": sx, "sy": sy}
    return params


_SHA: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str) -> str:
    """sha256 of a file's content, remembered per (path, size, mtime) for this session."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, int(st.st_mtime_ns))
    if key not in _SHA:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _SHA[key] = digest.hexdigest()
    return _SHA[key]


def settings_key(settings: NodeSettings) -> str:
    """The cache key of ``settings`` (see the module docstring): 24 hex digits."""
    config = settings.ocio_config
    fields = {
        "cache_version": CACHE_VERSION,
        "model_sha256": file_sha256(settings.model),
        "geometry": settings.geometry,
        "transform": settings.transform,
        "align_sha256": file_sha256(settings.align_json) if settings.align_json else None,
        "align_offset": settings.align_offset if settings.align_json else None,
        "output_size": settings.output_size,
        "tile": settings.tile,
        "precision": settings.precision,
        "mix": settings.mix,
        "grain": [settings.grain_amount, settings.grain_size, settings.grain_seed],
        "colour": [settings.broadcast_colorspace, settings.output_colorspace, settings.ocio_config],
        "ocio_config_sha256": file_sha256(config) if os.path.isfile(config) else None,
        "instance": settings.instance,
        "source": settings.source,
        "source_format": settings.source_format,
    }
    if settings.deflicker:  # only when on: the keys of nodes saved before the knob stay as they were
        fields["deflicker"] = settings.deflicker
    if settings.deflicker_output:
        fields["deflicker_output"] = settings.deflicker_output
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


# -------------------------------------------------------------------------------------- frame ranges

# Frame ranges: the one grammar, remaster_spec/frame_range.py (standard library, shared with
# remaster_core; read its docstring). Nuke's "1-10 20 30-40x2", "1-10,20", a mix.
MAX_FRAMES = frame_range.MAX_FRAMES
MAX_FRAME = frame_range.MAX_FRAME


def parse_frames(text: str) -> list[int]:
    """The frame numbers of a frame range (``1-10 20``, ``1001-1005x2,1010``), sorted, unique.

    Raises:
        SettingsError: text the grammar refuses; the message quotes ``text`` and says what to write.
    """
    try:
        return frame_range.parse_frame_range(text)
    except frame_range.FrameRangeError as exc:
        raise SettingsError(str(exc)) from None


def format_frames(frames: list[int]) -> str:
    """A compact text for frame numbers, read back by ``parse_frames``: ``[1, 2, 3, 5, 7, 9, 20]`` ->
    ``"1-3,5-9x2,20"``."""
    return frame_range.format_frame_range(frames)


def frames_outside(frames: list[int], first: int, last: int) -> list[int]:
    """The frames of ``frames`` outside ``first..last``."""
    return [f for f in frames if f < first or f > last]


def frames_to_write(frame: int, radius: int, first: int, last: int) -> list[int]:
    """The Source frames "Process range" writes for ``frame``: the frame and, with deflickers reaching
    ``radius`` frames each side (``NodeSettings.reach``), those within it that lie in the Source's range
    ``first..last``."""
    return [g for g in range(frame - radius, frame + radius + 1) if first <= g <= last or g == frame]
