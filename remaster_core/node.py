"""The per-frame enhancement node (docs/architecture.md, section 5): one code path for Nuke, the batch renderer, tests.

An OpenFX-like contract made of plain functions over a frozen parameter set:

- ``describe()``: the node's inputs (Source; Reference, used by the alignment helpers only) and its
  parameters with their defaults and ranges, as a JSON-able dict a host builds its UI from;
- ``region_of_definition(params, input_size, pixel_aspect)``: the output raster (W, H);
- ``render_frame(source_rgb, params, transform=..., shot=..., frame=...)``: source frame -> bilinear
  resample to the output raster -> model (``remaster_core.runtime`` engine, cached by model file hash and
  options) -> mix -> film grain -> black beyond the broadcast picture. Stateless per frame: the same frame and parameters give the same bits,
  whatever was rendered before.

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
pillar-boxed nominal fit, the film's edges that a telecine's overscan cropped) are black (0) in the
output. The model itself sees the edge pixels replicated there too (``Resampled.picture``), as in its
training pairs, and its output is blacked there afterwards (``Resampled.finish``, the last step): a
black border in the model's input changes its output up to its receptive field inside the picture
(measured on missing shots rendered with a reel's framing, where the film raster runs 6 % past the
broadcast: 0.5 dB lost, all of it within about 100 px of the border).

Guard (``guard_output``, between the model and the mix): a model that records what it was trained on
(``ModelInfo.guard``: its closed-form grade and its training colour coverage) has its output blended
towards that grade where the input's colours lie outside the training coverage, and clipped to the
training targets' range plus a margin (``remaster_core.guard.guard_frame``); ``render_frame`` hands
the frame's ``GuardReport`` to ``on_guard``. A model without the record (older exports) is not guarded.

Mix: ``out = mix * model(resampled) + (1 - mix) * resampled``, computed in float32; ``mix = 1`` returns
the model output itself, ``mix = 0`` the resampled input without running the model.

Grain (a separate last step, ``apply_grain``): when the model carries a grain profile (measured from
the training film, ``remaster_core.grain``), grain drawn from it for the whole output frame, keyed by
(``shot``, ``frame``, ``grain_seed``), at ``grain_amount * mix`` times the film's amplitude and
``grain_size`` times its size, is added to the mixed picture (``remaster_core.grain.synthesis``). The
frame is keyed by its shot and its frame WITHIN the shot (``frame - shot's first frame``; the frame
number itself outside any shot), so a host that numbers frames otherwise (Nuke's plate numbers) draws the
same grain. A model that carries the film's grain and its output's (``remaster.film_grain``,
``remaster.output_grain``) has, first, the grain its output carries beyond the film's taken away in
the picture's flat areas (``grain.excess``), and the film's less the rest synthesised (``grain_plan``).
``grain_amount`` 0, mix 0, or a model without (or with a zero) profile: the clean picture, bit for bit.
The grain never depends on tiling or chunking: it is generated for the whole frame, from the whole
mixed picture.

Colour: frames are R'G'B' code values 0..1 (display-referred, as the model contract says), float32
(H, W, 3); nothing here converts colour or clips (the file writer clips to its format).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.align.transform import Radial, Transform4, nominal_transform, resample, sampling_maps
from remaster_core.errors import InputError
from remaster_core.grain.excess import ExcessPlan, excess_plan, remove_excess
from remaster_core.grain.synthesis import GrainSettings, add_grain
from remaster_core.guard import Guard, GuardReport, guard_frame
from remaster_core.io.finite import check_finite
from remaster_core.manifests import align as align_manifest
from remaster_core.node_params import (
    BATCH,
    ENGINE_FIELDS,
    FIELDS,
    GRAIN_AMOUNT,
    GRAIN_SEED,
    GRAIN_SIZE,
    MAX_SIDE,
    MEMORY_MB,
    MIX,
    OUTPUT_SIZE,
    OVERLAP,
    PLAIN_FIELDS,
    PRECISION,
    PROVIDER,
    THREADS,
    TILE,
    Precision,
    ProviderChoice,
)
from remaster_core.runtime import Engine, EngineOptions, load_engine
from remaster_core.runtime.model import ModelInfo

NODE_VERSION = 1
"""Version of the node's behaviour; part of every render key (a change re-renders existing frames)."""

MAX_OUTPUT_SIDE = MAX_SIDE


@dataclass(frozen=True)
class NodeParams:
    """The node's parameters. Hashable and picklable (a farm task carries it).

    The fields, their defaults, ranges, units and meaning are the table ``node_params.FIELDS``; the
    plain ones are checked with it (``InputError`` naming the field). Of the structured ones:

    Attributes:
        model: the ONNX model file (``remaster export``).
        output_size: (W, H) of the output raster; None: the region of definition's default (the input
            at its display aspect, see ``region_of_definition``).
        transform: one transform for every frame (output -> broadcast pixels); None: nominal, unless
            the host passes a per-frame transform.
        batch: the same for every frame of a size, so results do not depend on it across chunks.
    """

    model: Path
    output_size: tuple[int, int] | None = None
    transform: Transform4 | None = None
    tile: int | None = TILE.default
    overlap: int | None = OVERLAP.default
    precision: Precision = PRECISION.default
    provider: ProviderChoice = PROVIDER.default
    mix: float = MIX.default
    batch: int = BATCH.default
    threads: int | None = THREADS.default
    memory_mb: int = MEMORY_MB.default
    grain_amount: float = GRAIN_AMOUNT.default
    grain_size: float = GRAIN_SIZE.default
    grain_seed: int = GRAIN_SEED.default

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", Path(self.model))
        if self.output_size is not None:
            w, h = (int(v) for v in self.output_size)
            lo, hi = OUTPUT_SIZE.minimum, OUTPUT_SIZE.maximum
            if not (lo <= w <= hi and lo <= h <= hi):  # type: ignore[operator]
                raise InputError(f"output_size {w}x{h} is not a raster size ({OUTPUT_SIZE.limits()} a side)")
            object.__setattr__(self, "output_size", (w, h))
        for spec in PLAIN_FIELDS:
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))
        if self.transform is not None and not (self.transform.sx > 0 and self.transform.sy > 0):
            raise InputError(f"transform scales must be positive, got {self.transform}")

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
            "grain": {"amount": self.grain_amount, "size": self.grain_size, "seed": self.grain_seed},
        }

    def grain(self) -> GrainSettings:
        """The grain controls, the amount scaled by ``mix`` (the grain belongs to the model's look)."""
        return GrainSettings(amount=self.grain_amount * self.mix, size=self.grain_size, seed=self.grain_seed)


def engine_options(params: NodeParams) -> EngineOptions:
    """The ``EngineOptions`` for ``params``: its ``node_params.ENGINE_FIELDS``."""
    return EngineOptions(**{spec.name: getattr(params, spec.name) for spec in ENGINE_FIELDS})


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
        parameter (``node_params.FIELDS``, in order) has ``name``, ``type``, ``default``,
        ``description`` and, where it has them, ``unit`` and ``range`` ([min, max], null: unbounded) or
        ``choices``.
    """
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
        "parameters": [spec.describe() for spec in FIELDS],
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


@dataclass(frozen=True)
class Resampled:
    """A broadcast frame on the output raster, ready for the model.

    Attributes:
        picture: float32 (H, W, 3) R'G'B', the bilinear resample with the broadcast's edge pixels
            replicated past its picture (the model's input, as in its training pairs).
        outside: bool (H, W), the output pixels whose sample point lies beyond the broadcast picture
            (black in the output), or None when there are none.
    """

    picture: np.ndarray
    outside: np.ndarray | None

    def finish(self, picture: np.ndarray) -> np.ndarray:
        """``picture`` (float32 (H, W, 3) on this raster: the model's output, mixed, with grain) black
        where the broadcast has no picture; ``picture`` itself (not copied) when it has one everywhere,
        else a copy."""
        if self.outside is None:
            return picture
        out = np.array(picture, dtype=np.float32, copy=True)
        out[self.outside] = 0.0
        return out

    def output(self) -> np.ndarray:
        """The resample as delivered without a model: ``picture`` black beyond the broadcast picture."""
        return self.finish(self.picture)


def resample_frame(
    source_rgb: np.ndarray,
    transform: Transform4,
    out_size: tuple[int, int],
    distortion: Radial | None = None,
) -> Resampled:
    """Bilinear resample of a broadcast frame onto the output raster (see the module docstring).

    Args:
        source_rgb: float32 (Hb, Wb, 3) broadcast R'G'B'.
        transform: output pixel -> broadcast pixel.
        out_size: (W, H) of the output raster.
        distortion: the shot's radial lens distortion, applied after ``transform``.
    """
    hb, wb = source_rgb.shape[:2]
    map_x, map_y, outside = _maps(transform, distortion, tuple(out_size), (wb, hb))
    return Resampled(resample(source_rgb, map_x, map_y, border="replicate"), outside)


def resample_to_output(
    source_rgb: np.ndarray,
    transform: Transform4,
    out_size: tuple[int, int],
    distortion: Radial | None = None,
) -> np.ndarray:
    """``resample_frame(...).output()``: float32 (H, W, 3), the resample as delivered without a model
    (black where the sample point is outside the broadcast picture)."""
    return resample_frame(source_rgb, transform, out_size, distortion).output()


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
    # before the resample, which would turn an infinity into NaN (and the mix 0 path runs no model check)
    check_finite(frame, where, "fix the source or the step that made it (a division by zero?)")
    return np.ascontiguousarray(frame, dtype=np.float32)


def render_frame(
    source_rgb: np.ndarray,
    params: NodeParams,
    *,
    transform: Transform4 | None = None,
    distortion: Radial | None = None,
    pixel_aspect: float = 1.0,
    where: str = "frame",
    shot: int = -1,
    frame: int = 0,
    on_guard: Callable[[GuardReport], None] | None = None,
) -> np.ndarray:
    """Render one frame: resample to the output raster, run the model, mix, add the film's grain.

    Args:
        source_rgb: the broadcast frame, float R'G'B' (Hb, Wb, 3) 0..1.
        params: the node's parameters.
        transform: this frame's transform (e.g. its shot's, from ``AlignTable.mapping``); None: see the
            module docstring.
        distortion: this frame's radial lens distortion (aligned shots), or None.
        pixel_aspect: the source's pixel aspect (used by the nominal transform only).
        where: names the frame in errors (``"frame 1001 of plate.####.exr"``).
        shot, frame: the grain's key: the frame's shot index and its frame within the shot (-1 and the
            frame number outside shots; see ``grain_key``).
        on_guard: called with the frame's ``GuardReport`` when the model's output was guarded.

    Returns:
        float32 (H, W, 3) on ``region_of_definition(params, (Wb, Hb), pixel_aspect)``; not clamped.

    Raises:
        InputError: the frame is not float RGB, holds NaN/Inf, or is far outside 0..1.
        ModelError: the model is broken (as ``Engine.run``).
    """
    resampled = prepare_frame(
        source_rgb, params, transform=transform, distortion=distortion, pixel_aspect=pixel_aspect, where=where
    )
    if params.mix <= 0.0:
        return resampled.output()
    mixed = model_frame(resampled.picture, params, where=where, on_guard=on_guard)
    return resampled.finish(
        apply_grain(mixed, params, grain_plan(engine_for(params).info), shot=shot, frame=frame)
    )


def prepare_frame(
    source_rgb: np.ndarray,
    params: NodeParams,
    *,
    transform: Transform4 | None = None,
    distortion: Radial | None = None,
    pixel_aspect: float = 1.0,
    where: str = "frame",
) -> Resampled:
    """The steps of ``render_frame`` before the model (the chunk renderer runs them in its read-ahead thread): check the frame, resample it to the output raster.

    Args:
        source_rgb: the broadcast frame, float R'G'B' (Hb, Wb, 3) 0..1 (the model's working space).
        params, transform, distortion, pixel_aspect, where: as ``render_frame``.

    Returns:
        the resample on ``region_of_definition(params, (Wb, Hb), pixel_aspect)``: its ``picture`` goes
        to ``model_frame``, and its ``finish`` blacks the final picture beyond the broadcast's.

    Raises:
        InputError: the frame is not float RGB.
    """
    source = _check_source(source_rgb, where)
    size = (source.shape[1], source.shape[0])
    out_size = region_of_definition(params, size, pixel_aspect)
    mapping = frame_transform(params, size, pixel_aspect, transform)
    return resample_frame(source, mapping, out_size, distortion)


def model_frame(
    resampled: np.ndarray,
    params: NodeParams,
    *,
    where: str = "frame",
    on_guard: Callable[[GuardReport], None] | None = None,
) -> np.ndarray:
    """The model steps of ``render_frame`` (the chunk renderer's critical path): the model, its guard, the mix (``resampled`` itself at mix 0).

    Args:
        resampled: float32 (H, W, 3), ``prepare_frame``'s ``picture``.
        params, where, on_guard: as ``render_frame``.

    Returns:
        float32 (H, W, 3), not clamped; grain is not added yet (``node.apply_grain``), nor the border
        blacked (``Resampled.finish``).

    Raises:
        InputError: the frame holds NaN/Inf or is far outside 0..1.
        ModelError: the model is broken (as ``Engine.run``).
    """
    if params.mix <= 0.0:
        return resampled
    engine = engine_for(params)
    enhanced, report = guard_output(resampled, engine.run(resampled, where=where), engine.info.guard)
    if report is not None and on_guard is not None:
        on_guard(report)
    return mix_frames(resampled, enhanced, params.mix)


def guard_output(
    resampled: np.ndarray, enhanced: np.ndarray, guard: Guard | None
) -> tuple[np.ndarray, GuardReport | None]:
    """The guard step of ``render_frame`` (see the module docstring): ``enhanced`` (the model's output for
    ``resampled``, float32 (H, W, 3)) guarded by ``guard``, and its report; unchanged and None without
    a guard."""
    if guard is None:
        return enhanced, None
    return guard_frame(resampled, enhanced, guard)


def grain_plan(info: ModelInfo | None, passed: np.ndarray | None = None) -> ExcessPlan | None:
    """What the grain step does with ``info``'s model (None: no model, or no grain): with the film's
    and the output's profiles, ``grain.excess.excess_plan`` (the output's grain beyond the film's taken
    away in flat areas, the deficit synthesised), ``passed`` (float64 (rings,), 0..1) of the output's
    grain surviving a deflicker; otherwise the model's own profile (``remaster.grain_profile``), also
    where nothing is to be taken away and no deflicker runs (the deficit export wrote, bit for bit)."""
    if info is None:
        return None
    if info.film_grain is None or info.output_grain is None:
        return None if info.grain is None else ExcessPlan(info.grain)
    plan = excess_plan(info.film_grain, info.output_grain, passed)
    if passed is None and not plan.removes:
        return ExcessPlan(info.grain)
    return plan


def apply_grain(
    picture: np.ndarray,
    params: NodeParams,
    plan: ExcessPlan | None,
    *,
    shot: int,
    frame: int,
    pair: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The grain step of ``render_frame`` (after the model and the mix): ``picture`` (float32 (H, W, 3)
    on the output raster) less the grain it carries beyond the film's (``grain.excess.remove_excess``,
    its strength read on ``pair``'s moved difference too where given: the model's outputs of this
    frame and an adjacent one) plus grain of ``plan.deficit`` keyed by (shot, frame,
    ``params.grain_seed``); ``picture`` itself when the grain is off or there is no plan or profile (see
    the module docstring)."""
    settings = params.grain()
    if settings.off or plan is None or plan.deficit is None:
        return picture
    return add_grain(remove_excess(picture, plan, pair), plan.deficit, settings, shot=shot, frame=frame)


def grain_key(shot: ShotMapping | None, frame: int) -> tuple[int, int]:
    """(shot, frame) of a conformed frame's grain: its shot's index and its frame within the shot, or
    (-1, frame) outside every shot (``shot`` None or index -1)."""
    if shot is None or shot.index < 0:
        return -1, frame
    return shot.index, frame - shot.first


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


def read_align(path: str | os.PathLike[str]) -> AlignTable:
    """Read ``align.json`` (``remaster align``; checked by ``manifests.align.read_align``) into an
    ``AlignTable``.

    Each shot spans its conformed frames ``first..last`` and carries its ``transform`` (None, for a shot
    without one: the nominal fit) and ``distortion`` (None when absent or k1 is 0).

    Raises:
        InputError: the file is missing, is not JSON, has a bad field (named) or no ``output_format``
            (no film was read: pass an output format instead).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such align.json; give the file `remaster align` wrote (PAIRS/align.json)")
    return _read_align_cached(str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size)


@functools.lru_cache(maxsize=4)
def _read_align_cached(path_text: str, mtime_ns: int, size: int) -> AlignTable:
    manifest = align_manifest.read_align(path_text)
    p = manifest.path
    if manifest.output_format is None:
        raise InputError(
            f"{p}: has no output_format (no film frame was read when it was made); pass an output format "
            "(--format WxH) instead of the transforms"
        )
    out_size, b_size, b_par = manifest.output_format.size, manifest.broadcast.size, manifest.broadcast.par
    nominal = nominal_transform(b_size, b_par, out_size)
    shots = [
        ShotMapping(
            s.index,
            s.first,
            s.last,
            s.status,
            s.transform or nominal,
            s.distortion if s.distortion is not None and s.distortion.k1 != 0.0 else None,
        )
        for s in manifest.shots
    ]
    shots.sort(key=lambda s: s.first)
    return AlignTable(p, out_size, b_size, b_par, tuple(shots), nominal)
