"""The vocabularies and bounds of ``align.json`` and ``conform.json``, declared once.

Standard library only, Python 3.7+: read by ``remaster_core.manifests`` (the dataclasses, the writers)
and by the Nuke plugin's checks (``remaster_nuke/manifests.py``), so both accept the same words, the
same versions and the same ranges. The meaning of each field is documented where the manifests are
defined (``remaster_core/manifests/align.py`` and ``conform.py``).
"""

from __future__ import annotations

# ----------------------------------------------------------------------------------------- align.json

ALIGN_VERSION = 1
"""The newest ``align.json`` layout; a reader refuses a newer one."""
ALIGN_FILENAME = "align.json"
ALIGN_FIX = "correct it or re-run remaster align"
"""What a message about a bad ``align.json`` tells the user to do."""
STATUSES = ("aligned", "rejected", "no film")
"""A shot's ``status``."""
MAX_SIDE = 16384
"""The largest raster side: output formats in align.json, the node's ``output_size`` and tile."""
PAR_RANGE = (0.25, 4.0)
"""Plausible pixel aspects (8/9 is NTSC 4:3)."""
MAX_COORD = 1e6
"""Largest translation or centre, in pixels."""
MAX_SCALE = 1e4
"""Largest scale (broadcast pixels per output pixel)."""
MAX_K1 = 1.0
"""Largest lens term magnitude (``Radial.invert`` converges for |k1| r^2 < 1/3 inside the picture)."""

# --------------------------------------------------------------------------------------- conform.json

CONFORM_VERSION = 1
"""The newest ``conform.json`` layout; a reader refuses a newer one."""
CONFORM_FILENAME = "conform.json"
CONFORM_FIX = "correct it or re-run remaster conform"
"""What a message about a bad ``conform.json`` tells the user to do."""
FRAME_KINDS = ("film", "orphan", "video", "progressive")
"""A frame record's ``kind``."""
BUILDS = ("woven", "merged", "copy", "rebuilt", "orphan", "deinterlaced")
"""A frame record's ``built``: how the frame was made."""
PULLDOWNS = ("3:2", "2:3:3:2")
"""A frame record's ``pulldown``: the cadence its ``phase`` belongs to."""
FIELD_ORDERS = ("progressive", "tff", "bff")
"""The broadcast's ``field_order``."""
INPUT_KINDS = ("ivtc", "progressive24", "flagged_progressive30")
"""How the broadcast was decoded (``input_kind``)."""
MAX_FIELDS_PER_FRAME = 16
"""Most fields one frame record may list."""
