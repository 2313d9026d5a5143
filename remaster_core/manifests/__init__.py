"""The manifests the verbs hand each other, each defined once: ``conform.json`` and ``align.json``.

- ``conform``: ``ConformManifest`` (frames, cuts, shots, offset...), ``read_conform``, ``write_conform``;
- ``align``: ``AlignManifest`` (rasters, per-shot transforms, patterns...), ``read_align``,
  ``write_align``;
- ``_fields``: ``Where`` raising ``InputError``; the checks themselves (types, ranges, paths confined to
  the manifest's folder), the vocabularies and bounds are ``remaster_spec``'s (``manifest_fields``,
  ``manifest_shots``, ``manifest_vocab``: standard library only, shared with the Nuke plugin).

Every manifest is a frozen dataclass with ``from_dict(d, source)`` (checks everything and raises
``InputError`` naming the file and the field path, e.g. ``align.json: shots[3].transform.sx: must be a
positive number, got -1; correct it or re-run remaster align``) and ``to_dict()`` (the JSON layout the
writers have always written). Readers use attributes, never the JSON keys, so a field is named in one
place. The Nuke plugin's standard-library parsers (``remaster_nuke/manifests.py``) apply the same checks
from ``remaster_spec``; ``tests/manifests/vectors`` holds the cases both must agree on.
"""

from remaster_core.manifests._fields import Where
from remaster_core.manifests.align import AlignManifest, AlignShot, read_align, write_align
from remaster_core.manifests.conform import (
    ConformManifest,
    ConformShot,
    FrameRecord,
    read_conform,
    write_conform,
)

__all__ = [
    "AlignManifest",
    "AlignShot",
    "ConformManifest",
    "ConformShot",
    "FrameRecord",
    "Where",
    "read_align",
    "read_conform",
    "write_align",
    "write_conform",
]
