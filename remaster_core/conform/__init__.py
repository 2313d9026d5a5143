"""Conform: inverse telecine / deinterlace the broadcast to 23.976 progressive, find cuts, find the film offset.

Modules, one job each:

- ``fields``: luma field measurements (combing of woven pairs, repeated fields).
- ``cadence``: the 3:2 cadence decision over the whole reel (Viterbi) and the runs of fields it implies.
- ``plan``: which fields build each output frame, video decimation, combed flags.
- ``rebuild``: weave, orphan-field interpolation, video deinterlacing (R'G'B' frames).
- ``overrides``: the match override file a person writes to correct a decision.
- ``cuts``: cut detection on the progressive frames.
- ``offset``: temporal offset between the broadcast and the film (global and per shot, or no match).
- ``report``: the HTML report.
- ``pipeline``: ``conform()``, the whole verb writing ``DIR/frames``, ``conform.json`` and ``report.html``.
"""

from remaster_core.conform.pipeline import Conformed, conform

__all__ = ["Conformed", "conform"]
