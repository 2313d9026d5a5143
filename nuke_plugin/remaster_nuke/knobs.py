"""Small helpers over Nuke nodes and knobs that turn "no such knob" into a message a user can act on.

``Node.knob(name)`` returns None for a knob the node lacks (a gizmo saved by an older plugin, a node of
another class); these helpers raise ``GizmoError`` naming the node and the knob instead.
"""

from __future__ import annotations

from typing import Any

import nuke

from remaster_nuke import geometry


class GizmoError(Exception):
    """A node lacks a knob or an internal node the plugin needs."""


def knob(node: nuke.Node, name: str) -> nuke.Knob:
    """The knob ``name`` of ``node``."""
    k = node.knob(name)
    if k is None:
        raise GizmoError(
            f"{node.fullName()} has no knob {name!r}: it was made by another version of the remaster plugin; "
            "delete it and create it again from the Remaster menu"
        )
    return k


def value(node: nuke.Node, name: str) -> Any:
    """The value of knob ``name`` of ``node``."""
    return knob(node, name).value()


def set_value(node: nuke.Node, name: str, new: Any) -> None:
    """Set knob ``name`` of ``node`` to ``new``."""
    knob(node, name).setValue(new)


def set_text(node: nuke.Node, name: str, text: str) -> None:
    """Set a text knob (a String or Text knob) without failing when the node lacks it."""
    k = node.knob(name)
    if k is not None:
        k.setValue(text)


def press(node: nuke.Node, name: str) -> None:
    """Execute the button (script knob) ``name`` of ``node`` if it has one (e.g. a Read's ``reload``)."""
    k = node.knob(name)
    if isinstance(k, nuke.Script_Knob):
        k.execute()


def inner(group: nuke.Node, name: str) -> nuke.Node:
    """The node ``name`` inside the gizmo or group ``group``."""
    if not isinstance(group, nuke.Group):
        raise GizmoError(f"{group.fullName()} is not a gizmo or group (class {group.Class()})")
    node = group.node(name)
    if node is None:
        raise GizmoError(
            f"{group.fullName()} has no internal node {name!r}: the gizmo is damaged or from another version "
            "of the remaster plugin; delete it and create it again from the Remaster menu"
        )
    return node


def set_transform(
    transform: nuke.Node, t: geometry.Transform4, source_size: tuple[int, int], out_size: tuple[int, int]
) -> None:
    """Set a Nuke Transform node (a gizmo's ``AlignTransform``) to show ``t`` (remaster's tx, ty, sx, sy:
    output pixel -> source pixel) for a source of ``source_size`` on an output of ``out_size``."""
    values = geometry.nuke_transform_knobs(t, source_size, out_size)
    for name in ("translate", "scale", "center"):
        k = knob(transform, name)
        k.setValue(values[name][0], 0)
        k.setValue(values[name][1], 1)


def format_size(node: nuke.Node, name: str) -> tuple[int, int]:
    """(width, height) of the Format knob ``name``."""
    fmt = value(node, name)
    if not isinstance(fmt, nuke.Format):
        raise GizmoError(f"{node.fullName()}.{name} holds no format")
    return fmt.width(), fmt.height()


def source_name(node: nuke.Node, index: int = 0) -> str:
    """The full name of the node on input ``index`` of ``node`` ("" when nothing is connected)."""
    src = node.input(index)
    return src.fullName() if src is not None else ""


def read_values(node: nuke.Node, names: tuple[str, ...]) -> dict[str, Any]:
    """``{name: value}`` of the knobs ``names`` of ``node``."""
    return {name: value(node, name) for name in names}


def input_range(node: nuke.Node, index: int = 0) -> tuple[int, int] | None:
    """(first, last) frame of the node on input ``index``, or None when nothing is connected."""
    src = node.input(index)
    if src is None:
        return None
    return int(src.firstFrame()), int(src.lastFrame())


def conform_info(node: nuke.Node) -> geometry.ConformInfo:
    """The conform.json of the folder named in ``node``'s "conform folder" knob.

    Raises:
        GeometryError: the knob is empty, or the file is missing or malformed.
        GizmoError: the node has no such knob.
    """
    folder = str(value(node, "conform_folder") or "").strip()
    if not folder:
        raise geometry.GeometryError("set 'conform folder' to the folder `remaster conform --out` wrote")
    return geometry.read_conform_json(folder)
