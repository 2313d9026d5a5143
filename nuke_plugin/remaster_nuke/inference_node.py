"""Callbacks of the ``RemasterInference`` gizmo: the Nuke-native route (Nuke's Inference node and the
``.cat`` made from ``remaster export --torchscript``; docs/export.md says how to make it).

Inside the gizmo: Source -> ``KeepRGB`` -> either ``FitFormat`` (Reformat to a box of ``out_width`` x
``out_height``, fit, centred: the nominal transform) or ``PlaceFormat`` (the same box, resize none,
bottom-left) ->
``AlignTransform`` (tx, ty, sx, sy as a Nuke Transform) -> ``Geometry`` (a Switch on the ``geometry``
knob) -> ``Inference1`` (the .cat) -> ``Mix`` (a Dissolve between the resampled source and the model
output by ``mix``) -> Output.

Everything runs inside Nuke (its GPU path). Nuke's filters have no bilinear kernel, so the resample
before the model is close to, not the same as, what the model was trained on and what the Remaster
node (worker route) renders; see docs/nuke.md.
"""

from __future__ import annotations

import nuke

from remaster_nuke import geometry, knobs

NODE_CLASS = "RemasterInference"
TRANSFORM_KNOBS = frozenset(("tx", "ty", "sx", "sy", "out_width", "out_height", "inputChange", "geometry"))


def _fail(node: nuke.Node, message: str) -> None:
    knobs.set_text(node, "status", "ERROR: " + message)
    if nuke.GUI:
        nuke.message(f"{node.name()}: {message}")


def update_transform(node: nuke.Node) -> None:
    """Set ``AlignTransform`` from tx, ty, sx, sy, the Source's height and the output format."""
    src = node.input(0)
    sx, sy = float(knobs.value(node, "sx")), float(knobs.value(node, "sy"))
    if src is None or not (sx > 0 and sy > 0):
        return
    size = (int(knobs.value(node, "out_width")), int(knobs.value(node, "out_height")))
    t = (float(knobs.value(node, "tx")), float(knobs.value(node, "ty")), sx, sy)
    knobs.set_transform(knobs.inner(node, "AlignTransform"), t, (src.width(), src.height()), size)


def knob_changed() -> None:
    """``knobChanged`` of the gizmo: keep ``AlignTransform`` in step with tx, ty, sx, sy."""
    node, k = nuke.thisNode(), nuke.thisKnob()
    if k.name() not in TRANSFORM_KNOBS:
        return
    try:
        update_transform(node)
    except knobs.GizmoError as exc:
        knobs.set_text(node, "status", f"ERROR: {exc}")


def load_shot() -> None:
    """Button "Set from align.json at this frame": the cut's transform and the film format."""
    node = nuke.thisNode()
    try:
        path = str(knobs.value(node, "align_json") or "").strip()
        if not path:
            raise geometry.GeometryError("set the 'align.json' knob first")
        info = geometry.read_align_json(path)
        shot = geometry.shot_at(info, nuke.frame() - int(knobs.value(node, "align_offset")))
    except (geometry.GeometryError, knobs.GizmoError) as exc:
        _fail(node, str(exc))
        return
    for name, v in zip(("tx", "ty", "sx", "sy"), shot.transform):
        knobs.set_value(node, name, v)
    w, h = info.output_size
    knobs.set_value(node, "out_width", w)
    knobs.set_value(node, "out_height", h)
    knobs.set_value(node, "geometry", "manual")
    update_transform(node)
    note = "" if shot.k1 == 0.0 else f"; its lens distortion (k1={shot.k1:.4f}) is not applied here"
    knobs.set_text(
        node, "status", f"shot {shot.number} ({shot.status}, conformed frames {shot.first}-{shot.last}){note}"
    )
