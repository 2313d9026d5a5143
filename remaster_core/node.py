"""The per-frame enhancement node (DESIGN.md section 4): one code path for Nuke, the batch renderer, tests.

An OpenFX-like contract made of plain functions over a frozen parameter set:

- ``describe()``: the node's inputs (Source; Reference, used by the alignment helpers only) and its
  parameters with their defaults and ranges, as a JSON-able dict a host builds its UI from;
- ``region_of_definition(params, input_size, pixel_aspect)``: the output raster (W, H);
- ``render_frame(source_rgb, params, transform=...)``: source frame -> bilinear resample to the output
  raster -> model (``remaster_core.runtime`` engine, cached by model file hash and options) -> mix.
  Stateless per frame: the same frame and parameters give the same bits, whatever was rendered before.

Geometry (``remaster_core.align.transform``, shared with ``remaster align``): a ``Transform4`` maps
OUTPUT (film raster, square pixels) pixel centres to BROADCAST pixel centres, ``xb = sx * x + tx``,
``yb = sy * y + ty``, optionally followed by the shot's radial lens distortion (``Radial``). Which
transform a frame gets, first match wins:

1. the ``transform`` passed with the frame (per-shot transforms: ``AlignTable.mapping`` picks the shot
   of a conformed frame index out of ``align.json``);
2. ``NodeParams.transform`` (one fixed transform for every frame);
3. the nominal transform (``transform.nominal_transform``): the whole broadcast picture fitted into the
   output raster, centred, honouring the broadcast pixel aspect.

Borders: output pixels whose sample point lies inside the broadcast picture's area (pixel centres
``0..W-1`` plus half a pixel on each side) are interpolated with the edge pixels replicated, so the
picture runs edge to edge without a dark rim; output pixels beyond it (the bars of a letter- or
pillar-boxed nominal fit) are black (0).

Mix: ``out = mix * model(resampled) + (1 - mix) * resampled``, computed in float32; ``mix = 1`` returns
the model output itself, ``mix = 0`` the resampled input without running the model.

Colour: frames are R'G'B' code values 0..1 (display-referred, as the model contract says), float32
(H, W, 3); nothing here converts colour or clips (the file writer clips to its format).
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from remaster_core.align.transform import Radial, Transform4, nominal_transform, resample, sampling_maps
from remaster_core.errors import InputError
from remaster_core.runtime import Engine, EngineOptions, load_engine

NODE_VERSION = 1
"""Version of the node's behaviour; part of every render key (a change re-renders existing frames)."""

MAX_OUTPUT_SIDE = 16384


@dataclass(frozen=True)
class NodeParams:
    """The node's parameters. Hashable and picklable (a farm task carries it).

    Attributes:
        model: the ONNX model file (``remaster export``).
        output_size: (W, H) of the output raster; None: the region of definition's default (the input
            at its display aspect, see ``region_of_definition``).
        transform: one transform for every frame (output -> broadcast pixels); None: nominal, unless
            the host passes a per-frame transform.
        tile: engine tile side in pixels; None: whole frames when they fit ``memory_mb``.
        overlap: tile overlap; None: the exact default (``2 * receptive field + 16``).
        precision: "fp32" or "fp16".
        provider: "auto", "tensorrt", "cuda" or "cpu".
        mix: 0..1, the share of the model output in the result (1: all model).
        batch: tiles per model run (the same for every frame of a size, so results do not depend on it
            across chunks).
        threads: onnxruntime intra-op threads; None: onnxruntime's default.
        memory_mb: the engine's activation memory bound per model run.
    """

    model: Path
    output_size: tuple[int, int] | None = None
    transform: Transform4 | None = None
    tile: int | None = None
    overlap: int | None = None
    precision: Literal["fp32", "fp16"] = "fp32"
    provider: Literal["auto", "tensorrt", "cuda", "cpu"] = "auto"
    mix: float = 1.0
    batch: int = 4
    threads: int | None = None
    memory_mb: int = 2048

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", Path(self.model))
        if self.output_size is not None:
            w, h = (int(v) for v in self.output_size)
            if not (1 <= w <= MAX_OUTPUT_SIDE and 1 <= h <= MAX_OUTPUT_SIDE):
                raise InputError(
                    f"output size {w}x{h} is not a raster size (1..{MAX_OUTPUT_SIDE} pixels a side)"
                )
            object.__setattr__(self, "output_size", (w, h))
        mix = float(self.mix)
        if not (math.isfinite(mix) and 0.0 <= mix <= 1.0):
            raise InputError(f"mix must be between 0 and 1, got {self.mix!r}")
        object.__setattr__(self, "mix", mix)
        if self.transform is not None and not (self.transform.sx > 0 and self.transform.sy > 0):
            raise InputError(f"transform scales must be positive, got {self.transform}")
        engine_options(self)  # validates provider, precision, tile, overlap, batch, threads

    def key_fields(self) -> dict[str, Any]:
        """What in these parameters changes the pixels of a frame (for render keys); the model is
        identified by its file hash elsewhere, provider/threads/batch/memory are excluded (they change
        speed, not the result beyond float rounding of the same arithmetic)."""
        return {
            "node_version": NODE_VERSION,
            "output_size": list(self.output_size) if self.output_size else None,
            "transform": self.transform.to_dict() if self.transform else None,
            "tile": self.tile,
            "overlap": self.overlap,
            "precision": self.precision,
            "mix": self.mix,
        }


def engine_options(params: NodeParams) -> EngineOptions:
    """The ``EngineOptions`` for ``params`` (raises ``InputError`` for bad tile/precision/provider)."""
    return EngineOptions(
        provider=params.provider,
        precision=params.precision,
        tile=params.tile,
        overlap=params.overlap,
        batch=params.batch,
        threads=params.threads,
        memory_mb=params.memory_mb,
    )


def engine_for(params: NodeParams) -> Engine:
    """The engine for ``params``: ``load_engine`` (one session per model file hash and options).

    Raises:
        ModelError: the model is missing, corrupt, tampered with or breaks the metadata contract.
    """
    return load_engine(params.model, engine_options(params))


# ------------------------------------------------------------------------------------------ describe


def describe() -> dict[str, Any]:
    """The node's inputs and parameters, JSON-able: what a host (Nuke, a UI, docs) builds from.

    Returns:
        ``{"name", "version", "inputs": [...], "parameters": [...], "outputs": [...]}``; every
        parameter has ``name``, ``type``, ``default`` and, where it has one, ``range`` or ``choices``.
    """
    defaults = NodeParams(model=Path("model.onnx"))
    return {
        "name": "RemasterEnhance",
        "version": NODE_VERSION,
        "summary": "broadcast frame -> bilinear resample to the output raster -> enhancement model -> mix",
        "inputs": [
            {
                "name": "Source",
                "required": True,
                "description": "the broadcast (conformed) frame: float R'G'B' 0..1, any size and pixel aspect",
            },
            {
                "name": "Reference",
                "required": False,
                "description": "the film plate; used only by the alignment helpers (remaster align, the "
                "Nuke alignment gizmos), never by render",
            },
        ],
        "outputs": [{"name": "Output", "description": "float32 R'G'B' (H, W, 3) on the output raster"}],
        "parameters": [
            {"name": "model", "type": "file", "default": None, "description": "ONNX model (remaster export)"},
            {
                "name": "output_size",
                "type": "int2",
                "default": None,
                "range": [1, MAX_OUTPUT_SIDE],
                "description": "output raster (W, H); default: the input at its display aspect",
            },
            {
                "name": "transform",
                "type": "float4 (tx, ty, sx, sy)",
                "default": None,
                "description": "output pixel -> broadcast pixel: xb = sx*x + tx, yb = sy*y + ty; default: "
                "the per-shot transform from align.json, else the nominal fit",
            },
            {
                "name": "tile",
                "type": "int",
                "default": defaults.tile,
                "range": [1, MAX_OUTPUT_SIDE],
                "description": "tile side in pixels; none: whole frames when they fit the memory bound",
            },
            {
                "name": "overlap",
                "type": "int",
                "default": defaults.overlap,
                "range": [0, MAX_OUTPUT_SIDE],
                "description": "tile overlap; none: exact (2 x receptive field + 16)",
            },
            {
                "name": "precision",
                "type": "choice",
                "default": defaults.precision,
                "choices": ["fp32", "fp16"],
            },
            {
                "name": "provider",
                "type": "choice",
                "default": defaults.provider,
                "choices": ["auto", "tensorrt", "cuda", "cpu"],
            },
            {
                "name": "mix",
                "type": "float",
                "default": defaults.mix,
                "range": [0.0, 1.0],
                "description": "share of the model output (0: the resampled input only)",
            },
        ],
    }


# ------------------------------------------------------------------------------ region of definition


def region_of_definition(
    params: NodeParams, input_size: tuple[int, int], pixel_aspect: float = 1.0
) -> tuple[int, int]:
    """The output raster (W, H) for an input of ``input_size`` = (W, H) and ``pixel_aspect``.

    ``params.output_size`` when set; else the input at its display aspect in square pixels, keeping its
    height: ``(round(W * pixel_aspect), H)`` (720x480 at 8/9 -> 640x480).
    """
    if params.output_size is not None:
        return params.output_size
    w, h = input_size
    if w < 1 or h < 1 or not (pixel_aspect > 0 and math.isfinite(pixel_aspect)):
        raise InputError(f"input size {w}x{h} / pixel aspect {pixel_aspect} is not a picture")
    return max(1, round(w * pixel_aspect)), h


def frame_transform(
    params: NodeParams,
    input_size: tuple[int, int],
    pixel_aspect: float = 1.0,
    transform: Transform4 | None = None,
) -> Transform4:
    """The transform a frame is rendered with (see the module docstring for the order)."""
    if transform is not None:
        return transform
    if params.transform is not None:
        return params.transform
    return nominal_transform(input_size, pixel_aspect, region_of_definition(params, input_size, pixel_aspect))


@functools.lru_cache(maxsize=4)  # a 4K map set is ~75 MB
def _maps(
    transform: Transform4, distortion: Radial | None, out_size: tuple[int, int], in_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sampling maps and the outside-the-picture mask (None when every sample is inside)."""
    map_x, map_y = sampling_maps(transform, out_size, distortion)
    w, h = in_size
    outside = (map_x < -0.5) | (map_x > w - 0.5) | (map_y < -0.5) | (map_y > h - 0.5)
    map_x.flags.writeable = False
    map_y.flags.writeable = False
    if not outside.any():
        return map_x, map_y, None
    outside.flags.writeable = False
    return map_x, map_y, outside


def resample_to_output(
    source_rgb: np.ndarray,
    transform: Transform4,
    out_size: tuple[int, int],
    distortion: Radial | None = None,
) -> np.ndarray:
    """Bilinear resample of a broadcast frame onto the output raster (see the module docstring).

    Args:
        source_rgb: float32 (Hb, Wb, 3) broadcast R'G'B'.
        transform: output pixel -> broadcast pixel.
        out_size: (W, H) of the output raster.
        distortion: the shot's radial lens distortion, applied after ``transform``.

    Returns:
        float32 (H, W, 3); black where the sample point is outside the broadcast picture.
    """
    hb, wb = source_rgb.shape[:2]
    map_x, map_y, outside = _maps(transform, distortion, tuple(out_size), (wb, hb))
    out = resample(source_rgb, map_x, map_y, border="replicate")
    if outside is not None:
        out[outside] = 0.0
    return out


def mix_frames(resampled: np.ndarray, enhanced: np.ndarray, mix: float) -> np.ndarray:
    """``mix * enhanced + (1 - mix) * resampled`` in float32 (``enhanced`` itself at mix 1)."""
    if mix >= 1.0:
        return enhanced
    if mix <= 0.0:
        return resampled
    m = np.float32(mix)
    out = enhanced * m
    out += resampled * (np.float32(1.0) - m)
    return out


def _check_source(source_rgb: np.ndarray, where: str) -> np.ndarray:
    frame = np.asarray(source_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"{where}: the node takes an RGB frame (H, W, 3), got shape {frame.shape}")
    if not np.issubdtype(frame.dtype, np.floating):
        raise InputError(f"{where}: the node takes float R'G'B' 0..1, got {frame.dtype}")
    return np.ascontiguousarray(frame, dtype=np.float32)


def render_frame(
    source_rgb: np.ndarray,
    params: NodeParams,
    *,
    transform: Transform4 | None = None,
    distortion: Radial | None = None,
    pixel_aspect: float = 1.0,
    where: str = "frame",
) -> np.ndarray:
    """Render one frame: resample to the output raster, run the model, mix.

    Args:
        source_rgb: the broadcast frame, float R'G'B' (Hb, Wb, 3) 0..1.
        params: the node's parameters.
        transform: this frame's transform (e.g. its shot's, from ``AlignTable.mapping``); None: see the
            module docstring.
        distortion: this frame's radial lens distortion (aligned shots), or None.
        pixel_aspect: the source's pixel aspect (used by the nominal transform only).
        where: names the frame in errors (``"frame 1001 of plate.####.exr"``).

    Returns:
        float32 (H, W, 3) on ``region_of_definition(params, (Wb, Hb), pixel_aspect)``; not clamped.

    Raises:
        InputError: the frame is not float RGB, holds NaN/Inf, or is far outside 0..1.
        ModelError: the model is broken (as ``Engine.run``).
    """
    frame = _check_source(source_rgb, where)
    size = (frame.shape[1], frame.shape[0])
    out_size = region_of_definition(params, size, pixel_aspect)
    mapping = frame_transform(params, size, pixel_aspect, transform)
    resampled = resample_to_output(frame, mapping, out_size, distortion)
    if params.mix <= 0.0:
        return resampled
    enhanced = engine_for(params).run(resampled, where=where)
    return mix_frames(resampled, enhanced, params.mix)


# ------------------------------------------------------------------------------ per-shot transforms


@dataclass(frozen=True)
class ShotMapping:
    """The mapping of one shot of ``align.json``.

    Attributes:
        index: the shot's index.
        first, last: its conformed (broadcast) frame indices, inclusive.
        status: "aligned", "rejected" or "no film" (the last two carry the nominal transform).
        transform: output -> broadcast pixels.
        distortion: radial lens distortion after ``transform`` (aligned shots), or None.
    """

    index: int
    first: int
    last: int
    status: str
    transform: Transform4
    distortion: Radial | None = None


@dataclass(frozen=True)
class AlignTable:
    """What the renderer needs from ``align.json``: the output raster and each shot's mapping.

    Attributes:
        path: the file.
        output_size: (W, H) of the output (film) raster.
        broadcast_size: (W, H) of the conformed frames; broadcast_par: their pixel aspect.
        shots: the shots, in frame order.
        nominal: the nominal transform for frames outside every shot.
    """

    path: Path
    output_size: tuple[int, int]
    broadcast_size: tuple[int, int]
    broadcast_par: float
    shots: tuple[ShotMapping, ...] = field(default_factory=tuple)
    nominal: Transform4 | None = None

    def mapping(self, frame: int) -> ShotMapping:
        """The mapping of conformed frame ``frame``: its shot's, else the nominal fit (shot index -1)."""
        for shot in self.shots:
            if shot.first <= frame <= shot.last:
                return shot
        nominal = self.nominal or nominal_transform(self.broadcast_size, self.broadcast_par, self.output_size)
        return ShotMapping(-1, frame, frame, "outside shots", nominal, None)


def _size(value: Any, path: Path, key: str) -> tuple[int, int]:
    try:
        w, h = int(value["width"]), int(value["height"])
    except (TypeError, KeyError, ValueError):
        raise InputError(
            f"{path}: {key} is not {{width, height}} ({value!r}); re-run remaster align"
        ) from None
    if w < 1 or h < 1:
        raise InputError(f"{path}: {key} is {w}x{h}; re-run remaster align")
    return w, h


def read_align(path: str | os.PathLike[str]) -> AlignTable:
    """Read ``align.json`` (``remaster align``) into an ``AlignTable``.

    Each shot spans its conformed frames ``first..last`` (``broadcast_first..broadcast_last`` when a
    writer gives only those) and carries ``transform`` {tx, ty, sx, sy} (nominal for shots without
    film or rejected ones; a missing transform means nominal) and ``distortion`` (or null).

    Raises:
        InputError: the file is missing, is not JSON, lacks ``output_format`` (no film was read: pass an
            output format instead) or has a malformed shot (named).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such align.json; give the file `remaster align` wrote (PAIRS/align.json)")
    return _read_align_cached(str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size)


@functools.lru_cache(maxsize=4)
def _read_align_cached(path_text: str, mtime_ns: int, size: int) -> AlignTable:
    p = Path(path_text)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read it as JSON ({exc}); re-run remaster align") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{p}: not an align.json object; re-run remaster align")
    if doc.get("output_format") is None:
        raise InputError(
            f"{p}: has no output_format (no film frame was read when it was made); pass an output format "
            "(--format WxH) instead of the transforms"
        )
    out_size = _size(doc["output_format"], p, "output_format")
    broadcast = doc.get("broadcast") or {}
    b_size = _size(broadcast, p, "broadcast")
    try:
        b_par = float(broadcast.get("pixel_aspect", 1.0))
    except (TypeError, ValueError):
        raise InputError(f"{p}: broadcast.pixel_aspect is not a number; re-run remaster align") from None
    nominal = nominal_transform(b_size, b_par, out_size)
    shots: list[ShotMapping] = []
    for k, entry in enumerate(doc.get("shots") or []):
        try:
            first = int(entry["first"] if "first" in entry else entry["broadcast_first"])
            last = int(entry["last"] if "last" in entry else entry["broadcast_last"])
            t = entry.get("transform")
            transform = Transform4.from_dict(t) if t else nominal
            d = entry.get("distortion")
            distortion = Radial.from_dict(d) if d else None
            index = int(entry.get("index", k))
            status = str(entry.get("status", "aligned"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{p}: shot {k} is malformed ({type(exc).__name__}: {exc}); re-run remaster align"
            ) from exc
        if not (transform.sx > 0 and transform.sy > 0):
            raise InputError(f"{p}: shot {k} has non-positive scales {transform}; re-run remaster align")
        if distortion is not None and distortion.k1 == 0.0:
            distortion = None
        shots.append(ShotMapping(index, first, last, status, transform, distortion))
    shots.sort(key=lambda s: s.first)
    return AlignTable(p, out_size, b_size, b_par, tuple(shots), nominal)
