"""The worker's wire format: one JSON object per line, UTF-8, both ways (``PROTOCOL_VERSION`` 1).

A host (the Nuke plugin, ``nuke_plugin/remaster_nuke/client.py``) starts ``remaster worker`` with pipes
on its stdin and stdout, writes one request per line and reads one response per line, in order. Frames
travel as files, not in the pipe: the host writes the source frames (EXR), the worker writes the
enhanced frames (EXR) and answers with their paths.

Requests::

    {"id": 1, "op": "ping"}
    {"id": 2, "op": "describe", "params": {...}}          # params optional: checks a model and the knobs
    {"id": 3, "op": "render", "source": "/c/k/source/src.####.exr", "frames": [1001],
     "output": "/c/k/out/remaster.####.exr", "params": {...},
     "staged": "/c/k/source/staged/src.####.exr"}            # staged optional
    {"id": 4, "op": "align", "broadcast": "/c/a/broadcast.####.exr", "film": "/c/a/film.####.exr",
     "frames": [1001, 1010, 1020], "film_offset": 0, "pixel_aspect": null}
    {"id": 5, "op": "shutdown"}

``frames`` (render, align): a list of frame numbers, or a frame-range text such as ``"1001-1100x2"``.

``params`` (render and describe): the node's parameters, named and checked as ``describe()`` lists
them (``remaster_core/node_params.py``: defaults, ranges, choices, units; every one but ``model``
optional, absent or null: the default, as ``remaster render``), and the render's own ``JOB_KEYS``.
Any other key is refused (``InputError`` naming it), so a misspelt knob never renders with a default:

=================  ================================================================================
``model``          the ONNX model file (``remaster export``)
``output_size``    ``[W, H]`` of the output raster, or null (align.json's, else the region of definition)
``transform``      ``{"tx", "ty", "sx", "sy"}`` (output pixel -> broadcast pixel), or null
``tile`` ...       the plain fields (``node_params.PLAIN_FIELDS``): tile, overlap, precision, provider,
                   mix, batch, threads, memory_mb
``align``          ``align.json`` for per-shot transforms, or null (exclusive with ``transform``)
``align_offset``   source frame number minus conformed frame index (a plate numbered from 1001 whose
                   conformed frame 0 is frame 1001: 1001); default 0
``pixel_aspect``   the source's pixel aspect, or null (from the file; 8/9 for NTSC rasters)
``bit_depth``      ``"half"`` (default) or ``"float"``: the output EXR's
``force``          re-render frames that are already valid (default false)
``deflicker``      frames each side the input's low band is averaged over, 0-8 (default 0: off), as
                   ``remaster render --deflicker``: a frame is made from its neighbours too, so the
                   host writes (stages) the source frames within this many of every requested frame
``deflicker_output`` frames each side the model output's low band is averaged over, 0-8 (default 0:
                   off), as ``remaster render --deflicker-output``: the model also runs on the frames
                   within this many of every requested one (the worker keeps its latest outputs, so a
                   host stepping frame by frame runs it once a frame), and the host stages the source
                   frames within ``deflicker + deflicker_output`` of every requested frame
``source_range``   ``[first, last]``: the host's source frame range, the frames a deflicker may read
                   (default null: every source file present); required with either deflicker, so that a
                   source frame left in the folder from an earlier, longer range is never read
=================  ================================================================================

The colour keys (``COLOUR_KEYS``, each optional, null: the default of the ``remaster render`` option of
the same name): ``broadcast_colorspace``, the OCIO colour space of the source frames (default "Camera
Rec.709"; a role such as ``scene_linear`` or an alias names a space too); ``output_colorspace``, that of
the output frames (default: the model's working space); ``ocio_config``, the config (a file or an
``ocio://`` URI; default the model's, else ``$OCIO``, else the built-in studio config). They are the
render's colour steps (``remaster_core/render/colour.py``): the source frames converted into the model's
working space (its ``remaster.colorspace``; a model without it works in the source's space), the model,
the result converted into the output space: the same names give the same pixels as ``remaster render``
with the same options. ``describe`` resolves them too (``colour`` in its answer).

``staged`` (render, optional): where the host has just written new source frames. For each frame the
render reads (the requested frames and, with a deflicker, the frames of ``source_range`` within its
radius of them) whose staged file exists, the worker compares it with the source file: same pixels and pixel
aspect, the staged file is dropped (the source file, and so the render key of the existing output,
stay as they were: headers that differ between two writes of the same picture do not force a
re-render); else it replaces the source file. A host that writes its sources anew before every
render (Nuke) keeps the "skip frames that are already valid" of ``remaster render`` this way.

Responses carry the request's ``id``, ``ok`` and ``seconds`` (time spent on the request). ``ok: true``
adds the op's fields (``ops`` documents them); ``ok: false`` adds ``error`` (one message a person can
act on: it names the file and frame and says what to do) and ``kind``: ``"input"`` (bad input, exit
code 2 in the CLI), ``"model"`` (a model error, 3), ``"protocol"`` (a malformed request: a bug in the
host) or ``"internal"`` (a bug in the worker; its traceback is in the worker's log). The worker keeps
serving after every error; only ``shutdown`` or the end of its stdin stops it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remaster_core.align.transform import Transform4
from remaster_core.errors import InputError, ModelError, RemasterError
from remaster_core.io.frame_range import MAX_FRAME, check_frame_numbers, parse_frame_range
from remaster_core.manifests._fields import shown
from remaster_core.manifests.align import MAX_COORD, MAX_SCALE, PAR_RANGE
from remaster_core.node import NodeParams
from remaster_core.node_params import FIELDS, PLAIN_FIELDS
from remaster_core.render.deflicker import MAX_RADIUS, deflicker_reads

PROTOCOL_VERSION = 1
OPS = ("ping", "describe", "render", "align", "shutdown")
MAX_LINE_BYTES = 1 << 20
"""A request line longer than this is refused (a frame list of tens of thousands still fits)."""

EXR_DEPTHS = ("half", "float")
COLOUR_KEYS = ("broadcast_colorspace", "output_colorspace", "ocio_config")
"""The render's colour options (``JobColour``), named as the ``remaster render`` options they stand for."""
JOB_KEYS = (
    "align", "align_offset", "pixel_aspect", "bit_depth", "force", "deflicker", "deflicker_output",
    "source_range", *COLOUR_KEYS,
)  # fmt: skip
"""The keys of ``params`` that are the render's, not the node's (``parse_render``)."""
MAX_NAME_CHARS = 4096
"""The longest colour-space name or OCIO config path a request may give."""


class ProtocolError(InputError):
    """A request that is not valid JSON or breaks the protocol (a bug in the host, not bad user input)."""


@dataclass(frozen=True)
class Request:
    """One parsed request: ``id`` (echoed), ``op`` (one of ``OPS``) and the whole object."""

    id: int | str | None
    op: str
    body: dict[str, Any]


@dataclass(frozen=True)
class JobColour:
    """A request's colour options (``COLOUR_KEYS``), None where absent: ``remaster render``'s defaults.

    Attributes:
        broadcast_colorspace: the source frames' OCIO colour space (a name, alias or role), or None.
        output_colorspace: the output frames' OCIO colour space, or None (the model's working space).
        ocio_config: the OCIO config's path or ``ocio://`` URI, or None.
    """

    broadcast_colorspace: str | None = None
    output_colorspace: str | None = None
    ocio_config: str | None = None


@dataclass(frozen=True)
class RenderJob:
    """A checked ``render`` request.

    Attributes:
        source: the source frame pattern (``src.####.exr``), frames numbered as the host numbers them.
        staged: the pattern of newly written source frames to promote first, or None.
        frames: frames to render, sorted, no duplicates.
        output: the output frame pattern (EXR).
        node: the node parameters.
        align: ``align.json`` or None; align_offset: source frame number minus conformed index.
        pixel_aspect: the source's pixel aspect override, or None.
        bit_depth: "half" or "float".
        force: re-render valid frames.
        colour: the colour options.
        deflicker: frames each side of the input's temporal deflicker (0: off).
        source_range: (first, last) source frames the deflickers may read, or None.
        deflicker_output: frames each side of the model output's temporal deflicker (0: off).
    """

    source: str
    frames: tuple[int, ...]
    output: str
    node: NodeParams
    staged: str | None = None
    align: Path | None = None
    align_offset: int = 0
    pixel_aspect: float | None = None
    bit_depth: str = "half"
    force: bool = False
    colour: JobColour = JobColour()
    deflicker: int = 0
    source_range: tuple[int, int] | None = None
    deflicker_output: int = 0

    def promoted(self) -> tuple[int, ...]:
        """The source frames this render reads, sorted: the requested frames and, with a deflicker, the
        frames of ``source_range`` within ``deflicker + deflicker_output`` of any of them (the staged
        ones are promoted)."""
        reach = self.deflicker + self.deflicker_output
        if not reach or self.source_range is None:
            return self.frames
        first, last = self.source_range
        return tuple(deflicker_reads(self.frames, reach, range(first, last + 1)))


def parse_request(line: bytes) -> Request:
    """Parse one request line.

    Raises:
        ProtocolError: not UTF-8 JSON, not an object, too long, or an unknown ``op``.
    """
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"request of {len(line)} bytes, the limit is {MAX_LINE_BYTES}")
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or an integer of 4300+ digits
        raise ProtocolError(f"request is not UTF-8 JSON ({exc}); send one JSON object per line") from None
    except RecursionError:
        raise ProtocolError("request is not JSON a worker reads: nested too deeply") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"request must be a JSON object, got {type(body).__name__}")
    rid = body.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int | str)):
        raise ProtocolError(f"request id must be an integer or a string, got {shown(rid)}")
    op = body.get("op")
    if op not in OPS:
        raise ProtocolError(
            f"unknown op {shown(op)}; the worker (protocol {PROTOCOL_VERSION}) knows {', '.join(OPS)}"
        )
    return Request(rid, op, body)


def request_id(line: bytes) -> int | str | None:
    """The ``id`` of a request line even when it is otherwise invalid (None when it has none)."""
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    rid = body.get("id") if isinstance(body, dict) else None
    return rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One response line: strict JSON (NaN/Inf become null), UTF-8, ending in a newline."""
    return (json.dumps(_finite(message), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def error_kind(exc: BaseException) -> str:
    """The ``kind`` of an error response for ``exc`` (see the module docstring)."""
    if isinstance(exc, ProtocolError):
        return "protocol"
    if isinstance(exc, ModelError):
        return "model"
    if isinstance(exc, RemasterError):
        return "input"
    return "internal"


# -------------------------------------------------------------------------------------------- fields


def _field(
    body: dict[str, Any], key: str, types: type | tuple[type, ...], what: str, *, required: bool = False
) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"request lacks {key!r} ({what})")
        return None
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ProtocolError(f"{key!r} must be {what}, got {shown(value)}")
    if not isinstance(value, types):
        raise ProtocolError(f"{key!r} must be {what}, got {shown(value)}")
    return value


def parse_frames(body: dict[str, Any], key: str = "frames") -> tuple[int, ...]:
    """The sorted, deduplicated frames under ``key``: a non-empty list of integers, or a frame-range
    text (``"1001-1100x2"``, ``"1-10 20"``: ``remaster_core/io/frame_range.py``, with its bounds).

    Raises:
        ProtocolError: neither a list of integers nor a text.
        InputError: a frame range the grammar refuses, or frame numbers out of its bounds.
    """
    frames = _field(body, key, (list, str), "a list of frame numbers or a frame range", required=True)
    if isinstance(frames, str):
        return tuple(parse_frame_range(frames))
    if not frames or not all(isinstance(f, int) and not isinstance(f, bool) for f in frames):
        raise ProtocolError(f"{key!r} must be a non-empty list of integers, got {shown(frames)}")
    return tuple(check_frame_numbers(frames, repr(key)))


def parse_node_params(params: Any) -> NodeParams:
    """``NodeParams`` from a request's ``params`` (see the module docstring).

    Raises:
        ProtocolError: ``params`` is not an object.
        InputError: an unknown key, a value of the wrong type or out of range (named), or no model.
        ModelError: ``model`` names no file.
    """
    if not isinstance(params, dict):
        raise ProtocolError(f"'params' must be a JSON object, got {type(params).__name__}")
    unknown = [key for key in params if key not in JOB_KEYS and all(key != f.name for f in FIELDS)]
    if unknown:
        raise InputError(
            f"unknown parameter {', '.join(repr(k) for k in unknown)}: the node's parameters are "
            f"{', '.join(f.name for f in FIELDS)}, a render's also {', '.join(JOB_KEYS)} (a host newer "
            "than this worker? update remaster)"
        )
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InputError("no model chosen: give the .onnx file `remaster export` wrote")
    if not Path(model).is_file():
        raise ModelError(f"model file not found: {model}; check the path (export one with `remaster export`)")
    size = params.get("output_size")
    output_size: tuple[int, int] | None = None
    if size is not None:
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        ):
            raise InputError(f"output_size must be [width, height] in pixels, got {shown(size)}")
        output_size = (size[0], size[1])
    transform = params.get("transform")
    t4: Transform4 | None = None
    if transform is not None:
        try:
            t4 = Transform4.from_dict(transform)
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"transform must be {{tx, ty, sx, sy}} numbers, got {shown(transform)}"
            ) from None
        if not all(math.isfinite(v) for v in (t4.tx, t4.ty, t4.sx, t4.sy)):
            raise InputError(f"transform holds a non-finite number: {shown(transform)}")
        if max(abs(t4.tx), abs(t4.ty)) > MAX_COORD or max(t4.sx, t4.sy) > MAX_SCALE:
            raise InputError(
                f"transform {shown(transform)} is out of range: tx and ty at most {MAX_COORD:g} px either way, "
                f"sx and sy at most {MAX_SCALE:g} (as align.json)"
            )
    if t4 is not None and params.get("align") is not None:
        raise InputError("give either a transform or align.json, not both")
    plain = {f.name: params[f.name] for f in PLAIN_FIELDS if params.get(f.name) is not None}
    return NodeParams(model=Path(model), output_size=output_size, transform=t4, **plain)


def parse_colour(params: dict[str, Any]) -> JobColour:
    """The colour options of a request's ``params`` (see the module docstring); the names are checked
    against the OCIO config where they are used (``ops.job_colour``).

    Raises:
        InputError: a value that is neither null nor a non-empty text of at most ``MAX_NAME_CHARS``.
    """
    values: dict[str, str | None] = {}
    for key in COLOUR_KEYS:
        value = params.get(key)
        text = value.strip() if isinstance(value, str) else ""
        if value is not None and not 0 < len(text) <= MAX_NAME_CHARS:
            what = "an OCIO config file or ocio:// URI" if key == "ocio_config" else "an OCIO colour space"
            raise InputError(f"{key} must be {what} (a text), or null for the default; got {shown(value)}")
        values[key] = text or None
    return JobColour(**values)


def parse_render(body: dict[str, Any]) -> RenderJob:
    """A checked ``render`` request (see the module docstring).

    Raises:
        ProtocolError / InputError / ModelError: as ``parse_node_params``, and for the source, output,
            frames, align.json, bit depth.
    """
    source = _field(body, "source", str, "the source frame pattern", required=True)
    staged = _field(body, "staged", str, "the staged source frame pattern")
    output = _field(body, "output", str, "the output frame pattern", required=True)
    frames = parse_frames(body)
    params = body.get("params")
    node = parse_node_params(params)
    assert isinstance(params, dict)
    align = params.get("align")
    if align is not None and not isinstance(align, str):
        raise InputError(f"align must be the path of align.json, got {shown(align)}")
    offset = params.get("align_offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > MAX_FRAME:
        raise InputError(
            f"align_offset must be an integer frame offset of at most {MAX_FRAME} either way, got {shown(offset)}"
        )
    par = params.get("pixel_aspect")
    if par is not None and (
        isinstance(par, bool) or not isinstance(par, int | float) or not PAR_RANGE[0] <= par <= PAR_RANGE[1]
    ):
        raise InputError(
            f"pixel_aspect must be a number from {PAR_RANGE[0]} to {PAR_RANGE[1]}, got {shown(par)}"
        )
    depth = params.get("bit_depth", "half")
    if depth not in EXR_DEPTHS:
        raise InputError(f"bit_depth must be one of {', '.join(EXR_DEPTHS)}, got {shown(depth)}")
    if not output.lower().endswith(".exr"):
        raise InputError(
            f"output {shown(output)}: the worker writes EXR frames; give a pattern ending in .exr"
        )
    deflicker, deflicker_output = (_radius(params, key) for key in ("deflicker", "deflicker_output"))
    span = params.get("source_range")
    source_range = None
    if span is not None:
        if (
            not isinstance(span, list)
            or len(span) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or abs(v) > MAX_FRAME for v in span)
            or span[0] > span[1]
        ):
            raise InputError(
                f"source_range must be [first, last], two whole frame numbers with first <= last, got {shown(span)}"
            )
        source_range = (int(span[0]), int(span[1]))
    if (deflicker or deflicker_output) and source_range is None:
        raise InputError(
            "a render with deflicker or deflicker_output needs source_range, [first, last] of the host's "
            "source frames: the deflicker reads the frames around each requested one"
        )
    return RenderJob(
        source=source,
        staged=staged,
        frames=frames,
        output=output,
        node=node,
        align=Path(align) if align else None,
        align_offset=offset,
        pixel_aspect=float(par) if par is not None else None,
        bit_depth=depth,
        force=bool(params.get("force", False)),
        colour=parse_colour(params),
        deflicker=deflicker,
        source_range=source_range,
        deflicker_output=deflicker_output,
    )


def _radius(params: dict[str, Any], key: str) -> int:
    """``params[key]``, a deflicker radius: a whole number of frames from 0 to ``MAX_RADIUS`` (absent or
    null: 0, off)."""
    value = params.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RADIUS:
        raise InputError(
            f"{key} must be a whole number of frames from 0 (off) to {MAX_RADIUS}, got {shown(value)}"
        )
    return value
