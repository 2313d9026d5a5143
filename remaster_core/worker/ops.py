"""What the worker does for each request op: plain functions from a request object to a response dict.

- ``ping``: who is serving (protocol and remaster versions, pid, onnxruntime providers).
- ``describe``: the node's contract (``node.describe()``); with ``params``, the model is opened with
  those knobs (the engine is built and kept for the renders that follow) and checked against them:
  the model's metadata, the active providers, the colour steps the render will take (``colour``:
  ``job_colour``), and ``warnings`` where the knobs and the model disagree in a way that still renders
  (an fp16 file run in fp32, a GPU asked for and the CPU used, inexact tiles, mix 0, the source's
  colour space given for a model that records no working colour space, grain off for a model whose
  output alone carries more of the film's grain than ``grain.profile.EXCESS`` allows in a band, which
  only the grain step takes away: ``render.job.grain_excess_warnings``).
- ``render``: staged source frames promoted (``promote_staged``), then exactly
  ``remaster render SOURCE --model M --out OUTPUT --frames F ...`` in this process (the job's plan is
  remembered per settings, ``job_plan``)
  (``render.job.plan_job`` + ``run_job``, the functions the CLI verb calls), so a frame is bit-identical
  to the CLI's: the same node, engine, render keys, skipping of valid frames, atomic EXR writes and
  chunk logs. ``align_offset`` is applied by writing a copy of ``align.json`` whose shots are
  renumbered to the source's frame numbers (beside the output frames, named by the offset and the
  file's sha256), which is then passed on unchanged.
- ``align``: one cut's transform from sampled broadcast and film frames
  (``align.shot.fit_shot``, the fit ``remaster align`` runs per shot): tx, ty, sx, sy, the lens
  distortion and the fit's residuals.

Every function raises ``RemasterError`` (or ``ProtocolError``) for what the host should report; the
server turns exceptions into error responses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core import __version__
from remaster_core import colour_management as cm
from remaster_core.align.pipeline import default_broadcast_par
from remaster_core.align.shot import AlignmentFailure, AlignParams, fit_shot
from remaster_core.align.transform import nominal_transform
from remaster_core.errors import ExtraMissing, InputError, MediaError
from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.frame_range import MAX_FRAME
from remaster_core.io.images import image_size, read_image, read_meta
from remaster_core.io.sequence import format_frame_range, parse_pattern
from remaster_core.manifests._fields import shown
from remaster_core.manifests.align import PAR_RANGE, read_align
from remaster_core.node import NodeParams, engine_for
from remaster_core.node import describe as node_describe
from remaster_core.node_params import GPU_PROVIDERS
from remaster_core.optional import import_onnxruntime
from remaster_core.render.colour import RenderColour, render_colour
from remaster_core.render.job import JobPlan, grain_excess_warnings, plan_job, run_job, split_chunks
from remaster_core.render.outputs import OutputSpec, output_spec
from remaster_core.runtime.model import ModelInfo, open_model
from remaster_core.worker.protocol import (
    PROTOCOL_VERSION,
    JobColour,
    ProtocolError,
    RenderJob,
    parse_colour,
    parse_frames,
    parse_node_params,
    parse_render,
)

log = logging.getLogger("remaster.worker")


def available_providers() -> list[str]:
    """onnxruntime's available execution providers (what this machine's package offers).

    Raises:
        ExtraMissing: onnxruntime is not installed (its message names the extras to install).
    """
    return list(import_onnxruntime().get_available_providers())


def ping(body: dict[str, Any]) -> dict[str, Any]:
    """``{"protocol", "version", "pid", "python", "providers", "runtime_missing"}``.

    A worker without onnxruntime (a base install) still answers: ``providers`` is empty and
    ``runtime_missing`` says which extra to install, so a host can run the alignment helpers on it;
    a ``render`` or ``describe`` request then fails with that same message. ``runtime_missing`` is
    None when onnxruntime imports.
    """
    try:
        providers, missing = available_providers(), None
    except ExtraMissing as exc:
        providers, missing = [], str(exc)
    return {
        "protocol": PROTOCOL_VERSION,
        "version": __version__,
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "providers": providers,
        "runtime_missing": missing,
    }


# ------------------------------------------------------------------------------------------ describe


def knob_warnings(node: NodeParams, engine_info: dict[str, Any]) -> list[str]:
    """Where the knobs and the model disagree but a render still works (``Engine.describe()`` output)."""
    warnings: list[str] = []
    name = Path(engine_info["model"]["path"]).name
    if engine_info["model"]["file_precision"] == "fp16" and node.precision == "fp32":
        warnings.append(
            f"{name} is an fp16 model and precision is fp32: it runs in fp32 on the fp16-rounded weights "
            "(no gain in quality; set precision to fp16 for speed)"
        )
    active = engine_info["providers"]["active"]
    if node.provider in GPU_PROVIDERS and active and active[0] == "CPUExecutionProvider":
        warnings.append(
            f"provider {node.provider} was asked for but the worker runs on the CPU "
            f"(onnxruntime offers {', '.join(engine_info['providers']['available'])}); see the worker log"
        )
    if not engine_info["tiling"]["exact"]:
        warnings.append(
            f"tile overlap {engine_info['tiling']['overlap']} is less than twice the model's receptive field "
            f"({engine_info['convention']['receptive_field']}): tiles blend but differ from an untiled render"
        )
    if node.mix <= 0.0:
        warnings.append("mix is 0: the model is not run, the output is the resampled source")
    return warnings


def job_colour(colour: JobColour, info: ModelInfo | None) -> RenderColour:
    """The render's colour steps for a request's colour options and the model ``info`` (None: the model
    is not run, mix 0), exactly as ``plan_job`` makes them (``render.colour.render_colour``); the
    source's and the output's names are first checked under their request keys, so that a host's
    message names its own setting.

    Raises:
        InputError: a config that cannot be loaded; a name the config does not have (its closest names
            listed), the model's working space included.
    """
    config = cm.load_config(colour.ocio_config or (info.ocio_config if info is not None else None))
    for key in ("broadcast_colorspace", "output_colorspace"):
        name = getattr(colour, key)
        if name is not None:
            config.resolve(name, key)
    broadcast, output = colour.broadcast_colorspace, colour.output_colorspace
    return render_colour(info, broadcast=broadcast, output=output, ocio_config=colour.ocio_config)


def colour_warnings(asked: JobColour, colour: RenderColour, info: ModelInfo | None) -> list[str]:
    """A note when the request names the source's colour space (colour management asked for) and the
    model records no working colour space (no conversion into it is possible)."""
    if asked.broadcast_colorspace is None or info is None or info.working_colorspace is not None:
        return []
    note = (
        f"{info.path.name} records no working colour space (exported before colour management): no colour "
        f"conversion into it, the source goes into the model as it is ({colour.broadcast} taken as the "
        "space it was trained in); feed it the video code values it was trained on, or re-export it from a "
        "newer run"
    )
    return [note]


def describe(body: dict[str, Any]) -> dict[str, Any]:
    """The node's contract; with ``params``, the model opened and checked against the knobs, and the
    colour steps of a render with them (``colour``: ``config``, ``broadcast``, ``working``, ``output``,
    canonical names, and ``converts``)."""
    out: dict[str, Any] = {"node": node_describe(), "protocol": PROTOCOL_VERSION}
    params = body.get("params")
    if params is None:
        return out
    import_onnxruntime()  # a base install says which extra to add before anything else
    node = parse_node_params(params)
    engine = engine_for(node)
    model_info = engine.info if node.mix > 0 else None  # as plan_job: mix 0 runs no model
    asked = parse_colour(params)
    colour = job_colour(asked, model_info)
    info = engine.describe()
    meta = info["model"]["metadata"]
    out["model"] = {
        "path": info["model"]["path"],
        "sha256": info["model"]["sha256"],
        "name": meta.get("remaster.model_name"),
        "version": meta.get("remaster.model_version"),
        "preset": meta.get("remaster.preset"),
        "precision": info["model"]["file_precision"],
        "space_to_depth": info["convention"]["space_to_depth"],
        "receptive_field": info["convention"]["receptive_field"],
        # the OCIO colour space the model works in (None: the broadcast's code values as decoded)
        "colorspace": meta.get("remaster.colorspace"),
    }
    out["providers"] = info["providers"]["active"]
    out["tiling"] = info["tiling"]
    out["colour"] = {
        "config": colour.config,
        "broadcast": colour.broadcast,
        "working": colour.working,
        "output": colour.output,
        "converts": colour.converts,
    }
    out["warnings"] = (
        knob_warnings(node, info)
        + colour_warnings(asked, colour, model_info)
        + grain_excess_warnings(model_info, node)
    )
    return out


# -------------------------------------------------------------------------------------------- render


def shifted_align(path: Path, offset: int, folder: Path) -> Path:
    """A copy of ``align.json`` with every shot's frame range moved by ``offset`` (source frame number =
    conformed index + offset), written atomically into ``folder``; ``path`` itself when offset is 0.

    Raises:
        InputError: ``path`` is missing, or is not a valid align.json (the field named), or the offset
            moves a shot before frame 0.
    """
    if offset == 0:
        return path
    moved = read_align(path).shifted(offset)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = folder / f"align{offset:+d}-{digest}.json"
    if not target.is_file():
        write_json_atomic(target, moved.to_dict())
    return target


def same_picture(a: Path, b: Path) -> bool:
    """Whether two image files hold the same pixels (all channels, NaN equal to NaN) and pixel aspect."""
    try:
        pa, ma = read_image(a, channels=None)
        pb, mb = read_image(b, channels=None)
    except MediaError:
        return False
    same_raster = pa.shape == pb.shape and ma.pixel_aspect == mb.pixel_aspect
    return same_raster and np.array_equal(pa, pb, equal_nan=True)


def promote_staged(staged: str, source: str, frames: tuple[int, ...]) -> list[int]:
    """Move the staged source frames that differ from the source files into place (see the protocol's
    ``staged``); returns the frames whose source changed.

    Every staged frame is decoded first, and nothing is promoted unless all of them decode: a staged
    file that is truncated or corrupt never replaces a source file (which may be good).

    Raises:
        InputError: a staged frame does not decode (or is not a file); the source files are untouched
            and the bad staged file is left where it is, for the host to write again.
    """
    staged_pattern, source_pattern = parse_pattern(staged), parse_pattern(source)
    present = [f for f in frames if os.path.lexists(staged_pattern.path(f))]
    for frame in present:
        new = staged_pattern.path(frame)
        try:
            if not new.is_file():
                raise MediaError(f"{new} is not a file")
            read_image(new, channels=None)
        except MediaError as exc:
            raise InputError(
                f"staged frame {frame} ({new}) does not decode ({exc}): the source file "
                f"{source_pattern.path(frame)} was kept; write the staged frame again"
            ) from exc
    changed = []
    for frame in present:
        new, current = staged_pattern.path(frame), source_pattern.path(frame)
        if current.is_file() and same_picture(new, current):
            new.unlink()
            continue
        current.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, current)
        changed.append(frame)
    return changed


def source_warnings(job: RenderJob) -> list[str]:
    """Notes about the source frames that do not stop the render (extra channels)."""
    pattern = parse_pattern(job.source)
    first = pattern.path(job.frames[0])
    try:
        _, _, channels = image_size(first)
    except MediaError:
        return []  # the render reports the unreadable frame itself
    if channels > 3:
        note = (
            f"{first.name} has {channels} channels: only R, G, B are enhanced, the output frames are RGB "
            "(alpha and other channels are not carried)"
        )
        return [note]
    return []


_PLANS: OrderedDict[str, JobPlan] = OrderedDict()
PLAN_CACHE_SIZE = 8


def job_plan(job: RenderJob, output: OutputSpec, align: Path | None) -> JobPlan:
    """``plan_job`` for the request, remembered per settings so that a host sending one frame per request
    does not pay the job's checks (the model file opened and verified, the source listed) every frame.

    A remembered plan is only given other frames (one chunk, as ``remaster render`` makes without
    ``--chunk``). Its key holds everything ``plan_job`` resolves from: the patterns, the node parameters,
    align.json's path, size and mtime, the pixel aspect override, ``force``, the two deflickers and their
    source range, and the size of the first requested source frame. A model file replaced under the same path is
    still caught: the chunk opens the engine by the file's sha256 (``runtime.load_engine``).
    """
    first = parse_pattern(job.source).path(job.frames[0])
    try:
        size: tuple[int, int, int] | None = image_size(first)
    except MediaError:
        size = None
    stat = align.stat() if align is not None and align.is_file() else None
    key = json.dumps(
        [job.source, output.pattern.pattern, output.bit_depth, repr(job.node), str(align),
         (stat.st_size, stat.st_mtime_ns) if stat else None, job.pixel_aspect, job.force, size,
         repr(job.colour), job.deflicker, job.source_range, job.deflicker_output],
        default=str,
    )  # fmt: skip
    plan = _PLANS.get(key)
    if plan is None:
        # the colour names checked under the request's keys first (plan_job names its options)
        job_colour(job.colour, open_model(job.node.model)[0] if job.node.mix > 0 else None)
        plan = plan_job(
            job.source,
            output,
            job.node,
            frames=list(job.frames),
            align=align,
            pixel_aspect=job.pixel_aspect,
            force=job.force,
            broadcast_colorspace=job.colour.broadcast_colorspace,
            output_colorspace=job.colour.output_colorspace,
            ocio_config=job.colour.ocio_config,
            deflicker=job.deflicker,
            input_range=job.source_range,
            deflicker_output=job.deflicker_output,
        )
        _PLANS[key] = plan
        while len(_PLANS) > PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
        return plan
    _PLANS.move_to_end(key)
    return replace(plan, chunks=split_chunks(list(job.frames), None))


def render(body: dict[str, Any]) -> dict[str, Any]:
    """Render the request's frames as ``remaster render`` does (see the module docstring).

    Returns:
        ``outputs`` ({frame: path} of every frame now valid on disk), ``rendered``, ``skipped``,
        ``failed`` ([{frame, error, kind}]), ``providers``, ``output_size`` [W, H], ``warnings``,
        ``guard_flagged`` ({frame: fraction of its pixels outside the model's training coverage} of the
        flagged rendered frames, ``remaster_core.guard``: blended towards the model's grade there),
        ``grain_extrapolated`` ({frame: share of its pixels at levels where the film's grain was never
        measured} of the rendered frames over ``chunk.GRAIN_UNMEASURED_FLAG``: the grain there is a guess),
        ``source_changed`` (staged frames that replaced their source file), ``exit_code`` (as the CLI's).

    Raises:
        InputError / ModelError: the job could not start (bad source, output, align.json or model, or
            no onnxruntime: ``ExtraMissing`` names the extra).
    """
    import_onnxruntime()
    job = parse_render(body)
    output = output_spec(job.output, bit_depth=job.bit_depth)
    changed = promote_staged(job.staged, job.source, job.promoted()) if job.staged else []
    align = None
    if job.align is not None:
        align = shifted_align(job.align, job.align_offset, output.pattern.directory / ".remaster")
    warnings = source_warnings(job)
    plan = job_plan(job, output, align)
    result = run_job(plan, show_progress=False)
    spec = plan.settings.output
    done = sorted(set(result.rendered) | set(result.skipped))
    size = plan.settings.node.output_size
    failed = [{"frame": f.frame, "error": f.error, "kind": f.kind} for f in result.failed]
    log.info(
        "render %s: %d rendered, %d valid, %d failed (%s)",
        format_frame_range(list(job.frames)),
        len(result.rendered),
        len(result.skipped),
        len(failed),
        ", ".join(result.providers) or "no engine",
    )
    return {
        "outputs": {str(f): str(spec.path(f)) for f in done},
        "rendered": result.rendered,
        "skipped": result.skipped,
        "failed": failed,
        "errors": result.errors,
        "providers": result.providers,
        "output_size": list(size) if size else None,
        "warnings": warnings,
        "guard_flagged": {str(f): v for f, v in result.guard_flagged.items()},
        "grain_extrapolated": {str(f): v for f, v in result.grain_extrapolated.items()},
        "source_changed": changed,
        "exit_code": result.exit_code,
    }


def render_failure(response: dict[str, Any]) -> str | None:
    """The error message of a render response whose frames did not all succeed, else None."""
    if response["exit_code"] == 0:
        return None
    parts = list(response["errors"])
    parts += [f"frame {f['frame']}: {f['error']}" for f in response["failed"] if f["kind"] != "not rendered"]
    missing = [f["frame"] for f in response["failed"] if f["kind"] == "not rendered"]
    if missing:
        parts.append(f"not rendered: {format_frame_range(missing)}")
    return "; ".join(parts) or f"render failed (exit code {response['exit_code']})"


# --------------------------------------------------------------------------------------------- align


def _read_frames(pattern_text: str, frames: list[int], role: str) -> list[np.ndarray]:
    pattern = parse_pattern(pattern_text)
    out: list[np.ndarray] = []
    for frame in frames:
        try:
            rgb, _ = read_image(pattern.path(frame))
        except MediaError as exc:
            raise MediaError(f"{role} frame {frame} of {pattern}: {exc}") from exc
        if out and rgb.shape != out[0].shape:
            raise InputError(
                f"{role} frame {frame} of {pattern} is {rgb.shape[1]}x{rgb.shape[0]}, the first is "
                f"{out[0].shape[1]}x{out[0].shape[0]}: one cut has one raster"
            )
        out.append(rgb)
    return out


def align(body: dict[str, Any]) -> dict[str, Any]:
    """Fit one cut's transform from paired broadcast and film frames.

    Request fields: ``broadcast`` and ``film`` (frame patterns), ``frames`` (broadcast frame numbers,
    3 to 12 spread over the cut), ``film_offset`` (film frame = broadcast frame + offset, default 0),
    ``pixel_aspect`` (the broadcast's, or null: the file's, 8/9 for NTSC rasters).

    Returns:
        ``transform`` {tx, ty, sx, sy} (output/film pixel -> broadcast pixel), ``distortion`` (the
        radial lens term ``Radial.to_dict()``, k1 = 0 for none), ``nominal`` (the plain fit, for
        comparison), ``broadcast_size``, ``film_size``, ``pixel_aspect`` and ``stats`` (the fit's
        inliers, flow residual in film pixels, similarity).

    Raises:
        InputError: unreadable frames, rasters that differ, or a cut that cannot be aligned (the
            reason: too few matches, a large residual, pictures that do not match).
    """
    broadcast = body.get("broadcast")
    film = body.get("film")
    if not isinstance(broadcast, str) or not isinstance(film, str):
        raise ProtocolError("align needs 'broadcast' and 'film' frame patterns")
    frames = list(parse_frames(body))
    offset = body.get("film_offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > MAX_FRAME:
        raise InputError(
            f"film_offset must be an integer of at most {MAX_FRAME} either way, got {shown(offset)}"
        )
    if not 1 <= len(frames) <= 24:
        raise InputError(f"align takes 1 to 24 frames of a cut, got {len(frames)}")
    par = body.get("pixel_aspect")
    lo, hi = PAR_RANGE

    def check_par(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise InputError(
                f"pixel_aspect must be a plausible pixel aspect ({lo}..{hi}), got {shown(value)}"
            )
        return float(value)

    if par is not None:
        check_par(par)  # before any frame is read: a bad request is named as such
    bc = _read_frames(broadcast, frames, "broadcast")
    fi = _read_frames(film, [f + offset for f in frames], "film")
    b_size = (bc[0].shape[1], bc[0].shape[0])
    f_size = (fi[0].shape[1], fi[0].shape[0])
    if par is None:
        par = default_broadcast_par(b_size, read_meta(parse_pattern(broadcast).path(frames[0])).pixel_aspect)
    par = check_par(par)
    try:
        model = fit_shot(fi, bc, float(par), AlignParams(min_frames=1))
    except AlignmentFailure as exc:
        raise InputError(
            f"the cut could not be aligned on frames {format_frame_range(frames)}: {exc}"
        ) from None
    return {
        "transform": model.transform.to_dict(),
        "distortion": model.radial.to_dict(),
        "nominal": nominal_transform(b_size, float(par), f_size).to_dict(),
        "broadcast_size": list(b_size),
        "film_size": list(f_size),
        "pixel_aspect": float(par),
        "stats": model.stats,
    }
