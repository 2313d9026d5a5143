"""Callbacks of the ``Remaster`` gizmo: the enhancement rendered by ``remaster worker`` into a frame cache.

How the node works (docs/nuke.md has the user's view):

- Inside the gizmo: Source -> ``KeepRGB`` (Remove, keep rgb) -> ``SourceWrite`` (a Write, disabled
  except while the plugin runs it, 32-bit float EXR, raw) writes the Source frames into the cache
  (``staged_pattern``; the worker keeps the previous source file when the pixels did not change);
  ``Result`` (a Read, raw) reads the enhanced frames back -> ``SettingsCheck`` (an Assert that fails
  the node with the status message while the settings are invalid) -> Output.
- "Process range" / "Render this frame": for each frame, Nuke renders the Source through
  ``SourceWrite``, the worker renders it exactly as ``remaster render`` would (bilinear resample to the
  output format and transform, the model, mix) into the cache folder of the current settings, and the
  ``Result`` Read shows it. Frames already valid for these settings and this source are skipped by the
  worker. A frame that was not processed is a missing file: the Read errors on it (on purpose: a
  command-line render never silently renders black or stale frames).
- Colour: the worker converts the Source from the 'Source colour space' knob (default the script's
  ``scene_linear`` role) into the model's working space (its metadata), runs the model there and
  converts the result into the 'output colour space' knob (default: back into the Source's), with the
  OCIO config of the 'OCIO config' knob, else ``$OCIO`` (``settings.COLOUR_KNOBS``): the same code and
  config as ``remaster render --broadcast-colorspace --output-colorspace --ocio-config``, so the frame
  is the CLI's to the bit. A model that records no working space is run on the Source as it is, with a
  note on the node. An unknown colour-space name fails the node with the closest names of the config.
- The cache folder is named by a key of the settings (``settings.settings_key``): changing a knob or
  the model file switches to another folder, so old results are never shown for new settings.
- Command-line renders read the cache like the GUI; ``remaster_nuke/batch.py`` (run with ``nuke -t``)
  processes the Remaster nodes of a script for a frame range first, then executes its Writes.

Every function that Nuke calls (``on_create``, ``knob_changed``, the buttons) reports problems on the
node's ``status`` knob; the buttons also show a message box in the GUI and raise outside it.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, NamedTuple

import nuke

from remaster_nuke import cache, client, geometry, knobs, settings

NODE_CLASS = "Remaster"
SETTINGS_KNOBS = (
    "model",
    "geometry",
    "align_json",
    "align_offset",
    "tx",
    "ty",
    "sx",
    "sy",
    "use_format",
    "tile",
    "precision",
    "provider",
    "mix",
    "grain_amount",
    "grain_size",
    "grain_seed",
    "deflicker",
    "deflicker_output",
    "broadcast_colorspace",
    "output_colorspace",
    "ocio_config",
    "cache_dir",
    "worker",
    "instance_id",
)
TRIGGERS = frozenset(SETTINGS_KNOBS + ("out_format", "inputChange", "frames"))
MANUAL_KNOBS = ("tx", "ty", "sx", "sy", "load_shot")
ALIGN_KNOBS = ("align_json", "align_offset")
RGB = ("rgba.red", "rgba.green", "rgba.blue")


class NodeError(Exception):
    """What stops a Remaster node from rendering; the message is shown on the node.

    Attributes:
        kind: "input" (settings, Source, a frame's input) or "worker" (the worker could not start,
            crashed or timed out, or the model failed).
    """

    def __init__(self, message: str, kind: str = "input") -> None:
        super().__init__(message)
        self.kind = kind


def _worker_error(exc: client.WorkerError, prefix: str = "") -> NodeError:
    """A ``NodeError`` for a worker error (bad input reported by the worker stays "input")."""
    kind = "input" if isinstance(exc, client.RequestFailed) and exc.kind == "input" else "worker"
    return NodeError(prefix + str(exc), kind)


class Prepared(NamedTuple):
    """A node checked for processing."""

    settings: settings.NodeSettings
    paths: cache.CachePaths
    frames: list[int]
    source_range: tuple[int, int]
    warnings: list[str]


class Report(NamedTuple):
    """What a processing run did."""

    rendered: list[int]
    skipped: list[int]
    seconds: float
    providers: list[str]
    warnings: list[str]
    cancelled: bool
    guard_flagged: dict[int, float] | None = None
    """frames whose Source colours lay outside what the model was trained on (the worker's
    ``guard_flagged``): frame -> fraction of the pixels; blended towards the model's grade there."""
    colour: str = ""
    """the colour steps the worker took (``colour_text``)."""
    grain_extrapolated: dict[int, float] | None = None
    """frames lying mostly at levels where the film's grain was never measured (the worker's
    ``grain_extrapolated``): frame -> share of the pixels; the grain there is a guess."""


# --------------------------------------------------------------------------------------- settings


def node_values(node: nuke.Node) -> dict[str, Any]:
    """The knob values ``settings.settings_from_values`` reads, from ``node``."""
    values = knobs.read_values(node, SETTINGS_KNOBS)
    values["format_size"] = knobs.format_size(node, "out_format") if values["use_format"] else None
    values["source_name"] = knobs.source_name(node)
    src = node.input(0)
    if src is not None:
        fmt = src.format()
        values["source_format"] = (fmt.width(), fmt.height(), fmt.pixelAspect())
    return values


def node_settings(node: nuke.Node) -> tuple[settings.NodeSettings, cache.CachePaths]:
    """The node's checked settings and its cache paths.

    Raises:
        settings.SettingsError, geometry.GeometryError, knobs.GizmoError.
    """
    checked = settings.settings_from_values(node_values(node))
    if checked.geometry == "align.json":
        geometry.read_align_json(checked.align_json)  # a readable align.json with an output format
    return checked, cache.cache_paths(checked.cache_dir, settings.settings_key(checked))


def set_status(node: nuke.Node, text: str, ok: bool = True) -> None:
    """Show ``text`` on the node; ``ok`` False makes the node fail with it (``SettingsCheck``)."""
    knobs.set_text(node, "status", text)
    k = node.knob("settings_ok")
    if k is not None:
        k.setValue(bool(ok))


def ensure_instance_id(node: nuke.Node) -> str:
    """Give the node an instance id of its own (a new node, or a copy pasted beside its original)."""
    current = str(knobs.value(node, "instance_id") or "")
    if current:
        others = [
            n
            for n in nuke.allNodes(node.Class(), nuke.root(), recurseGroups=True)
            if n.fullName() != node.fullName() and n.knob("instance_id") is not None
        ]
        if not any(knobs.value(n, "instance_id") == current for n in others):
            return current
    new = uuid.uuid4().hex[:12]
    knobs.set_value(node, "instance_id", new)
    return new


def update_visibility(node: nuke.Node) -> None:
    """Show the transform knobs of the current geometry mode only."""
    mode = str(knobs.value(node, "geometry"))
    for name in MANUAL_KNOBS:
        k = node.knob(name)
        if k is not None:
            k.setVisible(mode == "manual")
    for name in ALIGN_KNOBS:
        k = node.knob(name)
        if k is not None:
            k.setVisible(mode == "align.json")


def refresh(node: nuke.Node) -> cache.CachePaths | None:
    """Recompute the cache folder of the node's settings and point the gizmo at it; never raises.

    Returns the cache paths, or None when the settings are invalid (shown on the node, which fails).
    """
    try:
        _checked, paths = node_settings(node)
    except (settings.SettingsError, geometry.GeometryError, knobs.GizmoError, OSError) as exc:
        set_status(node, f"ERROR: {exc}", ok=False)
        return None
    knobs.set_text(node, "cache_key", paths.key)
    knobs.set_text(node, "staged_pattern", paths.staged_pattern)
    knobs.set_text(node, "result_pattern", paths.result_pattern)
    span = knobs.input_range(node)
    if span is None:
        set_status(node, "connect the Source input (the broadcast frames)", ok=True)
        return paths
    try:
        result_range(node, span)
    except knobs.GizmoError as exc:
        set_status(node, f"ERROR: {exc}", ok=False)
        return None
    done = cache.cached_frames(paths, list(range(span[0], span[1] + 1)))
    set_status(
        node,
        f"{len(done)} of {span[1] - span[0] + 1} frames ({span[0]}-{span[1]}) processed with these settings; "
        "press Process range for the rest"
        if len(done) < span[1] - span[0] + 1
        else f"all {len(done)} frames processed with these settings",
        ok=True,
    )
    return paths


def on_create() -> None:
    """``onCreate`` of the gizmo (also on script load, in every mode): instance id, cache folder."""
    node = nuke.thisNode()
    try:
        ensure_instance_id(node)
        update_visibility(node)
    except knobs.GizmoError as exc:
        set_status(node, f"ERROR: {exc}", ok=False)
        return
    refresh(node)


def knob_changed() -> None:
    """``knobChanged`` of the gizmo: follow the settings (cache folder, status, visible knobs)."""
    node, k = nuke.thisNode(), nuke.thisKnob()
    name = k.name()
    if name not in TRIGGERS:
        return
    if name == "geometry":
        update_visibility(node)
    refresh(node)


# ------------------------------------------------------------------------------------- processing


def check_source(node: nuke.Node, frames: list[int] | None) -> tuple[list[int], tuple[int, int], list[str]]:
    """The frames to process, the Source's frame range, and warnings about its channels.

    Raises:
        NodeError: no Source, no rgb channels, or frames outside the Source's range.
    """
    src = node.input(0)
    if src is None:
        raise NodeError("the Source input is not connected: connect the broadcast frames")
    channels = list(src.channels())
    missing = [c for c in RGB if c not in channels]
    if missing:
        raise NodeError(
            "the Source has no {m} channel (it has: {h}): the model enhances an RGB picture; shuffle the "
            "picture into rgb first".format(m=", ".join(missing), h=", ".join(channels) or "none")
        )
    warnings = []
    extra = [c for c in channels if c not in RGB]
    if extra:
        warnings.append(
            "the Source also has {e}: only rgb is enhanced and the output has rgb only (copy alpha or "
            "other layers back downstream if you need them)".format(
                e=", ".join(extra[:6]) + (", ..." if len(extra) > 6 else "")
            )
        )
    span = (int(src.firstFrame()), int(src.lastFrame()))
    if frames is None:
        text = str(knobs.value(node, "frames") or "").strip()
        frames = settings.parse_frames(text) if text else list(range(span[0], span[1] + 1))
    outside = settings.frames_outside(frames, span[0], span[1])
    if outside:
        raise NodeError(
            f"frame(s) {settings.format_frames(outside)} are outside the Source input's range "
            f"{span[0]}-{span[1]}: choose frames inside it (the 'frames' knob, or move the playhead)"
        )
    return frames, span, warnings


def prepare(node: nuke.Node, frames: list[int] | None = None) -> Prepared:
    """Check everything before any work (see ``check_source``, ``node_settings``).

    Raises:
        NodeError: with the message for the node.
    """
    try:
        checked, paths = node_settings(node)
        chosen, span, warnings = check_source(node, frames)
    except (settings.SettingsError, geometry.GeometryError, knobs.GizmoError) as exc:
        raise NodeError(str(exc)) from None
    knobs.set_text(node, "cache_key", paths.key)
    knobs.set_text(node, "staged_pattern", paths.staged_pattern)
    knobs.set_text(node, "result_pattern", paths.result_pattern)
    return Prepared(checked, paths, chosen, span, warnings)


def worker_for(checked: settings.NodeSettings) -> client.WorkerClient:
    """This Nuke session's worker for the node's worker command (started by its first request)."""
    return client.session_client(client.worker_command(checked.worker), checked.cache_dir)


def _progress(total: int) -> nuke.ProgressTask | None:
    return nuke.ProgressTask(f"Remaster: {total} frame(s)") if nuke.GUI else None


def process(node: nuke.Node, frames: list[int] | None = None) -> Report:
    """Render ``frames`` (default: the ``frames`` knob, else the Source's range) into the cache.

    For each frame: Nuke renders the Source into the cache (``SourceWrite``; with a deflicker, the
    Source frames within its radius too, each once a call), then the worker renders the enhanced frame
    (skipping frames already valid). The ``Result`` Read is reloaded at the end.

    Raises:
        NodeError: bad settings or Source, a worker that cannot start or crashed, a frame that failed
            (the message says which and why; the status knob shows it too).
    """
    started = time.monotonic()
    prep = prepare(node, frames)
    params = settings.request_params(prep.settings, prep.source_range)
    try:
        worker = worker_for(prep.settings)
        knobs.set_text(node, "worker_log", worker.log_path)
        described = worker.request("describe", params=params)
    except client.WorkerError as exc:
        raise _worker_error(exc) from None
    warnings = prep.warnings + [str(w) for w in described.get("warnings", [])]
    note = worker.pop_note()
    if note:
        warnings.append(note)
    write = knobs.inner(node, "SourceWrite")
    try:
        os.makedirs(os.path.dirname(prep.paths.staged_pattern), exist_ok=True)
    except OSError as exc:
        raise NodeError(
            f"cannot create the cache folder {prep.paths.folder} ({exc.strerror or exc}): set a writable "
            "'cache folder'"
        ) from None
    rendered: list[int] = []
    skipped: list[int] = []
    providers: list[str] = []
    flagged: dict[int, float] = {}
    extrapolated: dict[int, float] = {}
    task = _progress(len(prep.frames))
    cancelled = False
    written: set[int] = set()  # Source frames written in this call (a deflicker's neighbours once)
    knobs.set_value(write, "disable", False)
    try:
        for i, frame in enumerate(prep.frames):
            if task is not None:
                if task.isCancelled():
                    cancelled = True
                    break
                task.setMessage(f"frame {frame}")
                task.setProgress(int(100 * i / max(1, len(prep.frames))))
            for g in settings.frames_to_write(frame, prep.settings.reach, *prep.source_range):
                if g in written:
                    continue
                try:
                    nuke.execute(write, g, g)
                except RuntimeError as exc:  # an upstream error: a missing plate frame, a broken node
                    if g == frame:
                        raise NodeError(
                            f"frame {frame}: Nuke could not render the Source ({exc}); fix the Source tree "
                            "or leave this frame out of 'frames'"
                        ) from None
                    raise NodeError(
                        f"frame {g}, which the deflicker of frame {frame} reads: Nuke could not render the "
                        f"Source ({exc}); fix the Source tree, or set 'deflicker' and 'deflicker output' to 0"
                    ) from None
                written.add(g)
            try:
                response = worker.request(
                    "render",
                    source=prep.paths.source_pattern,
                    staged=prep.paths.staged_pattern,
                    frames=[frame],
                    output=prep.paths.result_pattern,
                    params=params,
                )
            except client.WorkerError as exc:
                raise _worker_error(exc, f"frame {frame}: ") from None
            note = worker.pop_note()
            if note:
                warnings.append(note)
            rendered += [int(f) for f in response.get("rendered", [])]
            skipped += [int(f) for f in response.get("skipped", [])]
            flagged.update({int(f): float(v) for f, v in (response.get("guard_flagged") or {}).items()})
            extrapolated.update(
                {int(f): float(v) for f, v in (response.get("grain_extrapolated") or {}).items()}
            )
            providers = [str(p) for p in response.get("providers", [])] or providers
            warnings += [str(w) for w in response.get("warnings", []) if str(w) not in warnings]
    finally:
        knobs.set_value(write, "disable", True)
        del task
    _show_results(node, prep)
    seconds = time.monotonic() - started
    colour = colour_text(described.get("colour"))
    return Report(rendered, skipped, seconds, providers, warnings, cancelled, flagged, colour, extrapolated)


def result_range(node: nuke.Node, span: tuple[int, int]) -> nuke.Node:
    """Give the ``Result`` Read the Source's frame range (so an unprocessed frame inside it is a missing
    file, an error, never black); returns the Read."""
    read = knobs.inner(node, "Result")
    first, last = span
    for name, frame in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        k = read.knob(name)
        if k is not None and k.value() != frame:
            k.setValue(frame)
    return read


def _show_results(node: nuke.Node, prep: Prepared) -> None:
    """Point the ``Result`` Read at the cache over the Source's range and reload it."""
    knobs.press(result_range(node, prep.source_range), "reload")


def colour_text(colour: Any) -> str:
    """The colour steps of a worker's ``describe`` answer (its ``colour``), in one line."""
    if not isinstance(colour, dict):
        return "colour: not reported by this worker (update remaster)"
    steps = "Source {b} -> model in {w} -> output {o}".format(
        b=colour.get("broadcast"), w=colour.get("working"), o=colour.get("output")
    )
    how = "converted" if colour.get("converts") else "no conversion"
    return "colour: {s} ({h}; OCIO config {c})".format(s=steps, h=how, c=colour.get("config"))


def _flagged(template: str, shares: dict[int, float]) -> str:
    """A status line on flagged frames: ``template`` filled with their count ``n``, the first ten ``f``
    and the largest share ``w`` (percent)."""
    frames = sorted(shares)
    listed = ", ".join(str(f) for f in frames[:10]) + (" ..." if len(frames) > 10 else "")
    return "\n" + template.format(n=len(frames), f=listed, w=100 * max(shares.values()))


def summary(report: Report) -> str:
    """The status line of a finished run."""
    text = "{r} rendered, {s} already valid in {t:.1f} s ({p})".format(
        r=len(report.rendered),
        s=len(report.skipped),
        t=report.seconds,
        p=", ".join(report.providers) or "no engine",
    )
    if report.cancelled:
        text = "cancelled: " + text
    if report.guard_flagged:
        text += _flagged(
            "GUARD: {n} frame(s) ({f}) hold colours outside what the model was trained on (up to {w:.1f}% "
            "of the pixels): blended towards the model's grade there",
            report.guard_flagged,
        )
    if report.grain_extrapolated:
        text += _flagged(
            "GRAIN: {n} frame(s) ({f}) lie mostly at brightness levels where the film's grain was never "
            "measured (up to {w:.0f}% of the pixels): the grain there is a guess; check its amount",
            report.grain_extrapolated,
        )
    if report.colour:
        text += "\n" + report.colour
    if report.warnings:
        text += "\nnote: " + "\nnote: ".join(report.warnings)
    return text


def fail(node: nuke.Node, message: str, *, settings_ok: bool = True, kind: str = "input") -> None:
    """Report ``message`` on the node; a message box in the GUI, an exception outside it."""
    set_status(node, "ERROR: " + message, ok=settings_ok)
    if nuke.GUI:
        nuke.message(f"{node.name()}: {message}")
    else:
        raise NodeError(f"{node.fullName()}: {message}", kind)


def run(node: nuke.Node, frames: list[int] | None = None) -> Report | None:
    """``process`` with the outcome shown on the node (status, message box or exception)."""
    try:
        report = process(node, frames)
    except NodeError as exc:
        fail(node, str(exc), settings_ok=refresh(node) is not None, kind=exc.kind)
        return None
    set_status(node, summary(report), ok=True)
    return report


# ---------------------------------------------------------------------------------------- buttons


def process_range() -> None:
    """Button "Process range": the ``frames`` knob, or the Source's whole range."""
    run(nuke.thisNode())


def render_this_frame() -> None:
    """Button "Render this frame": the frame under the playhead."""
    run(nuke.thisNode(), [nuke.frame()])


def check_model() -> None:
    """Button "Check model": open the model in the worker with these knobs; show its metadata and any
    disagreement between them."""
    node = nuke.thisNode()
    try:
        checked, _ = node_settings(node)
        info = worker_for(checked).request("describe", params=settings.request_params(checked))
    except (settings.SettingsError, geometry.GeometryError, knobs.GizmoError) as exc:
        fail(node, str(exc), settings_ok=False)
        return
    except client.WorkerError as exc:
        fail(node, str(exc))
        return
    model = info.get("model", {})
    text = "model {n} {v} ({p}, s={s}, receptive field {r}) on {prov}".format(
        n=model.get("name"),
        v=model.get("version"),
        p=model.get("precision"),
        s=model.get("space_to_depth"),
        r=model.get("receptive_field"),
        prov=", ".join(info.get("providers", [])),
    )
    text += "\n" + colour_text(info.get("colour"))
    warnings = [str(w) for w in info.get("warnings", [])]
    if warnings:
        text += "\nnote: " + "\nnote: ".join(warnings)
    set_status(node, text, ok=True)
    if nuke.GUI:
        nuke.message(text)


def load_shot() -> None:
    """Button "Set from align.json at this frame": the current cut's transform and the film format into
    the manual knobs (tx, ty, sx, sy, output format)."""
    node = nuke.thisNode()
    path = str(knobs.value(node, "align_json") or "").strip()
    try:
        if not path:
            raise geometry.GeometryError("set the 'align.json' knob first")
        info = geometry.read_align_json(path)
        index = nuke.frame() - int(knobs.value(node, "align_offset"))
        shot = geometry.shot_at(info, index)
    except (geometry.GeometryError, knobs.GizmoError) as exc:
        fail(node, str(exc))
        return
    for name, v in zip(("tx", "ty", "sx", "sy"), shot.transform):
        knobs.set_value(node, name, v)
    w, h = info.output_size
    knobs.set_value(node, "out_format", nuke.addFormat(f"{w} {h} 1.0 remaster_{w}x{h}"))
    knobs.set_value(node, "use_format", True)
    knobs.set_value(node, "geometry", "manual")
    update_visibility(node)
    note = ""
    if shot.k1 != 0.0:
        note = f" (its lens distortion k1={shot.k1:.4f} is not in tx/ty/sx/sy: the align.json mode keeps it)"
    if refresh(node) is not None:
        shot_text = f"shot {shot.number} ({shot.status}, conformed frames {shot.first}-{shot.last}){note}"
        set_status(node, shot_text + "\n" + str(knobs.value(node, "status")), ok=True)


def restart_worker() -> None:
    """Button "Restart worker": stop this session's worker and start a new one."""
    node = nuke.thisNode()
    try:
        checked = settings.settings_from_values(node_values(node))
        command = client.worker_command(checked.worker)
        info = client.restart_session(command, checked.cache_dir)
    except (settings.SettingsError, knobs.GizmoError) as exc:
        fail(node, str(exc), settings_ok=False)
        return
    except client.WorkerError as exc:
        fail(node, str(exc))
        return
    log = client.log_path_for(checked.cache_dir)
    knobs.set_text(node, "worker_log", log)
    set_status(
        node,
        "worker restarted: pid {p}, remaster {v}, providers {pr}; log {l}".format(
            p=info.get("pid"), v=info.get("version"), pr=", ".join(info.get("providers", [])), l=log
        ),
        ok=True,
    )


def remaster_nodes() -> list[nuke.Node]:
    """Every Remaster node of the script, inside groups too."""
    return [n for n in nuke.allNodes(NODE_CLASS, nuke.root(), recurseGroups=True)]
