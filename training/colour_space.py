"""The working colour space a run trains in: read from align.json, kept with the run and its checkpoint.

``remaster align`` writes the pairs in a working colour space and records it in align.json's ``colour``
(``remaster_core.manifests.align.ColourSpaces``). The model learns that space's code values, so the
run keeps the record:

- ``RUN/colour.json`` (``COLOUR_FILE``), written when the run starts: what export of any checkpoint of
  the run reads;
- ``best.safetensors``' ``extra`` under ``COLOUR_KEY`` (``record_in_checkpoint``), once the run ends.

The record is ``ColourSpaces.to_dict()`` (``working``, ``film``, ``broadcast``, ``config``...). Pairs
written before colour management have none: the model works on the broadcast's code values as decoded,
and nothing is written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from remaster_core.errors import InputError
from remaster_core.io.atomic import write_json_atomic
from remaster_core.manifests._fields import Where
from remaster_core.manifests.align import FILENAME, ColourSpaces, read_align
from training.checkpoint import add_to_extra

log = logging.getLogger("remaster.train")

COLOUR_FILE = "colour.json"
COLOUR_KEY = "colour"


def pairs_colour(pairs: str | Path) -> dict[str, Any] | None:
    """The ``colour`` record of ``pairs/align.json``, or None when it has none."""
    colour = read_align(Path(pairs) / FILENAME).colour
    return None if colour is None else colour.to_dict()


def write_run_colour(run_dir: Path, colour: dict[str, Any] | None) -> None:
    """Write ``RUN/colour.json`` (nothing when ``colour`` is None)."""
    if colour is not None:
        write_json_atomic(run_dir / COLOUR_FILE, colour)


def read_colour(path: Path) -> dict[str, Any]:
    """A checked colour record from a ``colour.json``.

    Raises:
        InputError: not JSON, or not a colour record (the field named).
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read as JSON ({exc}); delete it or re-run remaster train"
        ) from None
    return ColourSpaces.from_dict(value, Where(path, "", "delete it or re-run remaster train")).to_dict()


def record_in_checkpoint(best: Path, colour: dict[str, Any] | None) -> None:
    """Add ``colour`` to ``best.safetensors``' ``extra`` (weights unchanged); nothing without either."""
    if colour is None or not best.is_file():
        return
    add_to_extra(best, {COLOUR_KEY: colour})
    log.info("best.safetensors: working colour space %r", colour.get("working"))


def checkpoint_colour(extra: dict[str, Any], run_dir: Path | None) -> dict[str, Any] | None:
    """The colour record of a checkpoint: its ``extra``'s, else its run's ``colour.json``, else None."""
    value = extra.get(COLOUR_KEY)
    if isinstance(value, dict):
        return ColourSpaces.from_dict(value, Where(Path("checkpoint"), COLOUR_KEY, "re-export")).to_dict()
    if run_dir is not None and (run_dir / COLOUR_FILE).is_file():
        return read_colour(run_dir / COLOUR_FILE)
    return None
