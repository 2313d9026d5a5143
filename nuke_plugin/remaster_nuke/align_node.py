"""Callbacks of the ``RemasterAlign`` gizmo: one cut's transform from a broadcast clip and a film plate.

Inside the gizmo: Broadcast -> ``BroadcastRGB`` -> ``BroadcastWrite``; Film -> ``FilmRGB`` ->
``FilmOffset`` (TimeOffset by -film_offset: at frame t the film branch shows film frame
t + film_offset) -> ``FilmWrite``; Broadcast -> ``ToFilmFormat`` (Reformat to the film's size, resize
none, center off) -> ``AlignTransform`` (a Transform node); the views (``View``, a Switch): the aligned
broadcast, its difference to the film (``Difference``), a checkerboard of the two (``CheckerMix``,
cells of ``checker_size`` px), the film.

"Compute transform": Nuke renders a few frames spread over the cut (``samples``) from both inputs into
the cache folder, the worker fits the cut's transform with remaster_core's alignment (the sparse fit and
the dense refinement ``remaster align`` runs per shot) and returns tx, ty, sx, sy, the lens term k1 and
the residual; the plugin sets them on the knobs and on ``AlignTransform``
(``geometry.nuke_transform_knobs``). "Create Transform nodes" puts the same Reformat + Transform in
the script, outside the gizmo. "Set cut from conform.json" fills the cut's range and film offset from
the conform (the frame under the playhead picks the cut).

The Transform node shows the geometry with Nuke's filter (no bilinear in Nuke); the Remaster node
renders with the exact bilinear resample and the lens term (align.json mode).
"""

from __future__ import annotations

import hashlib
import os

import nuke

from remaster_nuke import client, geometry, knobs, settings

NODE_CLASS = "RemasterAlign"


class AlignError(Exception):
    """What stops the alignment; the message is shown on the node."""


def spread_frames(first: int, last: int, count: int) -> list[int]:
    """``count`` frames spread evenly over ``first..last``, avoiding the first and last frame when the
    cut is long enough (a cut detected one frame off shows the neighbouring shot there)."""
    n = last - first + 1
    if n <= 0 or count <= 0:
        return []
    lo, hi = (first + 1, last - 1) if n >= count + 2 else (first, last)
    span = hi - lo
    if count == 1 or span == 0:
        return [lo + span // 2]
    return sorted({lo + round(k * span / float(count - 1)) for k in range(count)})


def _status(node: nuke.Node, text: str) -> None:
    knobs.set_text(node, "status", text)


def _fail(node: nuke.Node, message: str) -> None:
    _status(node, "ERROR: " + message)
    if nuke.GUI:
        nuke.message(f"{node.name()}: {message}")
    else:
        raise AlignError(f"{node.fullName()}: {message}")


def cut_frames(node: nuke.Node) -> tuple[list[int], tuple[int, int]]:
    """The broadcast frames to fit on, and the cut range.

    Raises:
        AlignError: inputs not connected, a cut outside the inputs' ranges, too few samples.
    """
    bc, film = node.input(0), node.input(1)
    if bc is None or film is None:
        raise AlignError("connect both inputs: Broadcast (the conformed broadcast) and Film (the film plate)")
    b_first, b_last = int(bc.firstFrame()), int(bc.lastFrame())
    first, last = int(knobs.value(node, "cut_first")), int(knobs.value(node, "cut_last"))
    if first == 0 and last == 0:
        first, last = b_first, b_last
    if last < first:
        raise AlignError(f"the cut runs from {first} to {last}: set 'cut first' <= 'cut last'")
    outside = settings.frames_outside([first, last], b_first, b_last)
    if outside:
        raise AlignError(f"the cut {first}-{last} is outside the Broadcast input's range {b_first}-{b_last}")
    offset = int(knobs.value(node, "film_offset"))
    f_first, f_last = int(film.firstFrame()), int(film.lastFrame())
    if first + offset < f_first or last + offset > f_last:
        raise AlignError(
            f"with film offset {offset} the cut needs film frames {first + offset}-{last + offset}, the Film "
            f"input has {f_first}-{f_last}: check 'film offset' (film frame = broadcast frame + offset)"
        )
    count = int(knobs.value(node, "samples"))
    if count < 1:
        raise AlignError("'samples' must be 1 or more (5 is a good default)")
    return spread_frames(first, last, count), (first, last)


def _paths(node: nuke.Node, root: str) -> tuple[str, str]:
    """Broadcast and film sample patterns of this node in the cache root."""
    key = hashlib.sha256(node.fullName().encode("utf-8") + nuke.root().name().encode("utf-8")).hexdigest()[
        :16
    ]
    folder = "{r}/align/{k}".format(r=os.path.abspath(root).replace("\\", "/"), k=key)
    return f"{folder}/broadcast.####.exr", f"{folder}/film.####.exr"


def apply_transform(
    node: nuke.Node, t: geometry.Transform4, broadcast_size: tuple[int, int], film_size: tuple[int, int]
) -> None:
    """Set ``AlignTransform`` and the film size knobs to show ``t``."""
    knobs.set_value(node, "film_width", film_size[0])
    knobs.set_value(node, "film_height", film_size[1])
    knobs.set_transform(knobs.inner(node, "AlignTransform"), t, broadcast_size, film_size)


def compute() -> None:
    """Button "Compute transform" (see the module docstring)."""
    node = nuke.thisNode()
    try:
        frames, cut = cut_frames(node)
        root = str(knobs.value(node, "cache_dir") or "").strip() or settings.default_cache_root()
        worker = client.session_client(client.worker_command(str(knobs.value(node, "worker") or "")), root)
        b_pattern, f_pattern = _paths(node, root)
        knobs.set_text(node, "broadcast_pattern", b_pattern)
        knobs.set_text(node, "film_pattern", f_pattern)
        writes = [knobs.inner(node, "BroadcastWrite"), knobs.inner(node, "FilmWrite")]
        for pattern in (b_pattern, f_pattern):
            os.makedirs(os.path.dirname(pattern), exist_ok=True)
    except (AlignError, knobs.GizmoError, client.WorkerError, OSError) as exc:
        _fail(node, str(exc))
        return
    for write in writes:
        knobs.set_value(write, "disable", False)
    try:
        for frame in frames:
            for write in writes:
                nuke.execute(write, frame, frame)
    except RuntimeError as exc:  # an upstream error: a missing plate frame, a broken node
        _fail(node, f"Nuke could not render the inputs at the sampled frames ({exc})")
        return
    finally:
        for write in writes:
            knobs.set_value(write, "disable", True)
    try:
        result = worker.request("align", broadcast=b_pattern, film=f_pattern, frames=frames, film_offset=0)
    except client.WorkerError as exc:
        _fail(node, str(exc))
        return
    t = result["transform"]
    transform = (float(t["tx"]), float(t["ty"]), float(t["sx"]), float(t["sy"]))
    for name, v in zip(("tx", "ty", "sx", "sy"), transform):
        knobs.set_value(node, name, v)
    k1 = float(result.get("distortion", {}).get("k1", 0.0))
    knobs.set_value(node, "k1", k1)
    b_size = (int(result["broadcast_size"][0]), int(result["broadcast_size"][1]))
    f_size = (int(result["film_size"][0]), int(result["film_size"][1]))
    apply_transform(node, transform, b_size, f_size)
    stats = result.get("stats", {})
    lens = "" if k1 == 0.0 else f"; lens k1={k1:.4f} is not shown by the Transform node"
    _status(
        node,
        f"cut {cut[0]}-{cut[1]} fitted on frames {settings.format_frames(frames)}: residual "
        f"{stats.get('flow_rms_px')} film px RMS, similarity {stats.get('similarity')}, "
        f"{stats.get('sparse_inliers')} sparse inliers{lens}",
    )


def cut_from_conform() -> None:
    """Button "Set cut from conform.json": the cut under the playhead, its range and film offset."""
    node = nuke.thisNode()
    try:
        info = knobs.conform_info(node)
        start = int(knobs.value(node, "conform_start"))
        film_start = int(knobs.value(node, "film_start"))
        index = nuke.frame() - start
        cut = geometry.cut_at(info, index)
        if cut is None:
            raise geometry.GeometryError(
                f"frame {nuke.frame()} is conformed frame {index}, which is in no cut of {info.folder} "
                f"(0-{info.frame_count - 1})"
            )
        if cut.film_first is None:
            raise geometry.GeometryError(
                f"cut {cut.number} (conformed frames {cut.first}-{cut.last}) has no film to align to"
            )
    except (geometry.GeometryError, knobs.GizmoError) as exc:
        _fail(node, str(exc))
        return
    knobs.set_value(node, "cut_first", start + cut.first)
    knobs.set_value(node, "cut_last", start + cut.last)
    knobs.set_value(node, "film_offset", film_start + cut.film_first - cut.first - start)
    _status(
        node, f"cut {cut.number}: conformed frames {cut.first}-{cut.last}, film from index {cut.film_first}"
    )


def export_transform() -> nuke.Node | None:
    """Button "Create Transform nodes": a Reformat + Transform showing the fitted transform, in the
    script beside the gizmo, fed by the Broadcast input; returns the Transform."""
    node = nuke.thisNode()
    try:
        inner = knobs.inner(node, "AlignTransform")
        width, height = int(knobs.value(node, "film_width")), int(knobs.value(node, "film_height"))
    except knobs.GizmoError as exc:
        _fail(node, str(exc))
        return None
    parent = node.parent()
    with parent:
        reformat = nuke.nodes.Reformat()
        for name, v in (
            ("type", "to box"),
            ("box_width", width),
            ("box_height", height),
            ("box_fixed", True),
            ("resize", "none"),
            ("center", False),
            ("black_outside", True),
        ):
            knobs.set_value(reformat, name, v)
        reformat.setInput(0, node.input(0))
        transform = nuke.nodes.Transform()
        for name in ("translate", "scale", "center"):
            src = knobs.knob(inner, name)
            dst = knobs.knob(transform, name)
            dst.setValue(src.value(0), 0)
            dst.setValue(src.value(1), 1)
        knobs.set_value(transform, "black_outside", True)
        transform.setInput(0, reformat)
        reformat.setXYpos(node.xpos() + 150, node.ypos())
        transform.setXYpos(node.xpos() + 150, node.ypos() + 40)
    _status(node, f"created {reformat.name()} and {transform.name()}")
    return transform
