"""remaster_core's side of the manifest checks: ``Where`` raising ``InputError``, and the writers' helper.

The checks themselves (types, ranges, paths confined to the manifest's folder) are declared once in
``remaster_spec/manifest_fields.py`` (standard library only), which the Nuke plugin's reader uses too;
given this module's ``Where``, they raise ``InputError`` (exit code 2)::

    /pairs/align.json: shots[3].transform.sx: must be a positive number, got -1; correct it or re-run remaster align

``shown`` (a value as a message shows it) is re-exported for the worker's messages.
"""

from __future__ import annotations

from typing import Any

from remaster_spec import manifest_fields
from remaster_spec.manifest_fields import (
    shown,
)

from remaster_core.errors import InputError

__all__ = ["Where", "shown", "with_optional"]


class Where(manifest_fields.Where):
    """Where a value sits (the manifest file, the field path, the fix); ``fail`` raises ``InputError``."""

    error = InputError


def with_optional(d: dict[str, Any], **optional_keys: Any) -> dict[str, Any]:
    """``d`` with the keys of ``optional_keys`` that are not None added, in order (a writer's JSON)."""
    d.update((key, value) for key, value in optional_keys.items() if value is not None)
    return d
