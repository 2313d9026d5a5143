"""Callbacks of the ``RemasterFilmOffset`` gizmo: the film plate retimed cut by cut to the conformed
broadcast, so the two can be compared (or fed to RemasterAlign) frame for frame.

The temporal offset between broadcast and film changes at every cut (each cut's film starts at its own
``film_first`` in ``conform.json``). Inside the gizmo: Film -> ``FilmRetime`` (a TimeOffset whose
``time_offset`` is an expression of the frame, one term per cut) -> ``HasFilm`` (a Multiply by 1 in
cuts with film, 0 elsewhere) -> Output. "Build from conform.json" writes both expressions
(``geometry.film_offset_expression``); nothing is evaluated in Python at render time, so the gizmo
renders on the farm without the plugin's Python package.
"""

from __future__ import annotations

import nuke

from remaster_nuke import geometry, knobs

NODE_CLASS = "RemasterFilmOffset"


def build() -> None:
    """Button "Build from conform.json"."""
    node = nuke.thisNode()
    try:
        info = knobs.conform_info(node)
        offset_expr, film_expr = geometry.film_offset_expression(
            info, int(knobs.value(node, "conform_start")), int(knobs.value(node, "film_start"))
        )
        retime = knobs.knob(knobs.inner(node, "FilmRetime"), "time_offset")
        has_film = knobs.knob(knobs.inner(node, "HasFilm"), "value")
    except (geometry.GeometryError, knobs.GizmoError) as exc:
        knobs.set_text(node, "status", f"ERROR: {exc}")
        if nuke.GUI:
            nuke.message(f"{node.name()}: {exc}")
            return
        raise
    retime.setExpression(offset_expr)
    has_film.setExpression(film_expr)
    with_film = sum(1 for c in info.cuts if c.film_first is not None)
    knobs.set_text(
        node,
        "status",
        "{n} cuts, {f} with film; conformed frame 0 at frame {s}".format(
            n=len(info.cuts), f=with_film, s=int(knobs.value(node, "conform_start"))
        ),
    )
