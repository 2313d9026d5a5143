"""Output folders of the pipeline's verbs: refuse to write into someone else's files.

Every verb that writes a folder (``synth``, ``align``, ``demo``) follows the same rule: a new or empty
folder is used as is; a non-empty one is refused unless ``--force``, and then only what that verb
itself writes there is removed, never the user's other files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from remaster_core.errors import InputError


def prepare_output_folder(out: Path, *, force: bool, owns: Callable[[Path], bool], what: str) -> None:
    """Create ``out``, or with ``force`` clear the entries of it that ``owns`` claims.

    Args:
        out: the folder to write.
        force: replace an earlier run's output instead of refusing a non-empty folder.
        owns: True for a child path of ``out`` that the verb writes (removed with ``force``).
        what: what the folder holds, for messages ("reel", "pairs", "demo").

    Raises:
        InputError: ``out`` is a file, or a non-empty folder without ``force``.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose a folder for the {what}")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError(
                f"{out} is not empty: choose a new or empty folder, or pass --force to replace the {what} in it"
            )
        for child in out.iterdir():
            if not owns(child):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
