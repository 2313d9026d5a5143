"""Output folders of the pipeline's verbs: refuse to write into someone else's files, or over an input.

One rule for every verb that writes (``synth``, ``conform``, ``align``, ``train``, ``export``, ``render``,
``demo``):

- **Paths are resolved** (``os.path.realpath``: symlinks, ``..``, the current folder) before they are
  compared, so ``lnk/`` where ``lnk`` links to ``seq`` is ``seq``.
- **No output over an input** (``check_overlap``): an output folder that equals, contains or lies inside
  an input folder, or that equals or contains an input file, is refused (writing there could overwrite
  the input, or a later ``--force`` delete it). ``render`` checks its frames one by one instead
  (``refuse_overwrite``): no output frame may be an input file.
- **A folder that cannot be written is refused before anything is written** (``ensure_folder``): a
  path below a file, a folder without write permission or on a read-only file system, a name too long.
  Every ``OSError`` met while writing becomes an ``OutputError`` naming the path and the fix
  (``os_error_message``).
- **The marker** ``OUT/.remaster-output.json`` (``MARKER``) records what a verb wrote in a folder it
  owns (``prepare_output_folder``)::

      {"marker": "remaster output folder", "version": 1, "verb": "synth", "complete": true,
       "files": ["broadcast.mpg", "film/film.000000.dpx", ...], "kept": ["notes.txt"]}

  ``files`` are the files the verb wrote (POSIX paths relative to OUT; an empty folder it made ends
  with ``/``), recorded when the verb ends; ``kept`` the files that were already there and were left
  alone. A run that never recorded its files (killed, or failed where the verb records only success)
  leaves ``complete: false``; its files are then everything not in ``kept`` (so a file a user adds to
  the folder of an interrupted run before the next ``--force`` counts as the run's).
- **A non-empty folder is refused without ``--force``** (a marker alone counts as empty; ``conform``,
  which has always reused its folder, replaces its own earlier output without ``--force``: ``replace_own``).
  With ``--force`` only the files the marker lists are deleted (then the folders they leave empty), never
  a user's file; a folder without a marker (someone else's folder, or an output older than the marker)
  has nothing deleted: the verb's files overwrite theirs of the same name and every other file is
  kept, and the warning says which. A folder whose marker names another verb is refused even with
  ``--force``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from remaster_core.errors import InputError, OutputError, os_error_message
from remaster_core.io.atomic import write_json_atomic

log = logging.getLogger("remaster.outdir")

MARKER = ".remaster-output.json"
MARKER_VERSION = 1
_MARKER_TAG = "remaster output folder"
_SHOWN = 5  # file names listed in a message before "and N more"


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with every symlink, ``..`` and ``.`` resolved (the parts that exist)."""
    return Path(os.path.realpath(os.fspath(path)))


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def input_location(spec: str | os.PathLike[str]) -> Path:
    """The file or folder an input argument names: a frame pattern (``film/film.%06d.dpx``,
    ``seq/p.####.exr``) names its folder, anything else itself."""
    path = Path(os.fspath(spec))
    if not path.exists() and re.search(r"%0?\d*d|#|@", path.name):
        return path.parent
    return path


def check_overlap(
    out: str | os.PathLike[str],
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
    *,
    flag: str = "--out",
) -> None:
    """Refuse an output folder that equals, contains or lies inside an input folder, or that equals or
    contains an input file (every path resolved first, symlinks included).

    Args:
        out: the output folder (or file) of the verb.
        inputs: (what, path) of each input: ``("the conform folder", conform_dir)``; None paths are skipped.
        flag: the option that named ``out``, for messages.

    Raises:
        OutputError: ``out`` overlaps an input.
    """
    target = resolved(out)
    for what, spec in inputs:
        if spec is None or os.fspath(spec) == "":
            continue
        location = resolved(input_location(spec))
        if target == location:
            relation = "is"
        elif _is_within(location, target):
            relation = "contains"
        elif location.is_dir() and _is_within(target, location):
            relation = "is inside"
        else:
            continue
        raise OutputError(
            f"{flag} {out} {relation} {what} {spec} (both resolve into {location}): writing there could "
            f"overwrite or delete it; choose an output outside {location}"
        )


def refuse_overwrite(
    outputs: Iterable[str | os.PathLike[str]], inputs: Iterable[str | os.PathLike[str]], *, what: str
) -> None:
    """Refuse writing any of ``outputs`` when one of them is one of the files ``inputs`` (compared by their
    resolved folder and their name: the same file reached through a symlinked folder is caught).

    Raises:
        OutputError: an output path is an input file; the message names both.
    """
    folders: dict[str, Path] = {}

    def key(path: str | os.PathLike[str]) -> Path:
        p = Path(os.fspath(path))
        parent = os.fspath(p.parent)
        if parent not in folders:
            folders[parent] = resolved(parent)
        return folders[parent] / p.name

    existing = {key(p): Path(os.fspath(p)) for p in inputs}
    for path in outputs:
        hit = existing.get(key(path))
        if hit is not None:
            raise OutputError(
                f"output {path} is the input file {hit} ({key(path)}): rendering would overwrite {what}; "
                "choose another output folder or name"
            )


def ensure_folder(folder: str | os.PathLike[str], *, flag: str = "--out") -> Path:
    """Create ``folder`` (and its parents) after checking it can be written; return it.

    Nothing is created when the check fails: a part of the path that is a file, a folder without write
    permission, a read-only file system, a name too long.

    Raises:
        OutputError: the folder cannot be created or written; the message names the path and the fix.
    """
    folder = Path(folder)
    probe = folder
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"{flag}: cannot write into {folder}: {probe} is a file, not a folder; choose another path"
        )
    if hasattr(os, "statvfs") and os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise OutputError(
            f"{flag}: cannot write into {folder}: {probe} is on a read-only file system; choose a folder "
            "on a writable disk"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(
            f"{flag}: cannot write into {folder}: {probe} is not writable (permission denied); choose a "
            "folder you can write to, or change its permissions"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag}: {os_error_message(exc, exc.filename or folder, 'create')}") from exc
    return folder


def _files_below(out: Path) -> dict[str, tuple[int, int]]:
    """{relative POSIX path: (size, mtime_ns)} of every file and symlink below ``out`` but the marker, and
    of every empty folder (its path ends with ``/``)."""
    found: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(out):
        base = Path(root)
        if not dirs and not files and base != out:
            found[base.relative_to(out).as_posix() + "/"] = (0, base.lstat().st_mtime_ns)
        names = list(files) + [d for d in dirs if (base / d).is_symlink()]  # a linked folder is one entry
        for name in names:
            path = base / name
            rel = path.relative_to(out).as_posix()
            if rel == MARKER:
                continue
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue  # a temporary file renamed away meanwhile
            found[rel] = (st.st_size, st.st_mtime_ns)
    return found


def _shown(paths: Sequence[str]) -> str:
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    return ", ".join(paths[:_SHOWN]) + more


def read_marker(out: Path) -> dict[str, Any] | None:
    """The marker of ``out``, or None when there is none or it is not a remaster marker."""
    try:
        doc = json.loads((out / MARKER).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("marker") != _MARKER_TAG or not isinstance(doc.get("verb"), str):
        return None
    for key in ("files", "kept"):
        if not isinstance(doc.get(key, []), list) or not all(isinstance(p, str) for p in doc.get(key, [])):
            return None
    return doc


def _owned_files(doc: dict[str, Any], present: Iterable[str]) -> list[str]:
    """The files a marker says its verb wrote (for a run that never finished: all but the kept ones)."""
    listed = set(doc.get("files", []))
    if not doc.get("complete", False):
        kept = set(doc.get("kept", []))
        listed |= {p for p in present if p not in kept}
    return sorted(listed)


def _remove_owned(out: Path, rels: Iterable[str]) -> None:
    """Delete the files ``rels`` below ``out`` (never anything outside it), then the folders they leave
    empty, and the marker."""
    root = resolved(out)
    emptied: set[Path] = set()
    for rel in rels:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            continue  # a marker edited by hand: never reach outside the folder
        path = out.joinpath(*parts)
        if not _is_within(resolved(path.parent), root):
            continue  # below a symlink to another folder
        try:
            if rel.endswith("/"):
                path.rmdir()  # an empty folder it made
            elif path.is_dir() and not path.is_symlink():
                continue  # a folder where a file was: not ours to empty
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            if rel.endswith("/") and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                continue  # a user's file is in it now
            raise OutputError(os_error_message(exc, path, "remove")) from exc
        emptied.update(p for p in path.parents if _is_within(p, out) and p != out)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (a user's file is in it) or already gone
    (out / MARKER).unlink(missing_ok=True)


@dataclass
class OutputFolder:
    """An output folder prepared for one verb (``prepare_output_folder``).

    Used as a context manager around the verb's writes: entering writes the marker (``complete: false``),
    leaving records the files written since (``complete: true`` unless an exception left the block).

    Attributes:
        path: the folder.
        verb: the verb that writes it ("synth").
        kept: relative paths of the files already there that the verb leaves alone.
    """

    path: Path
    verb: str
    kept: tuple[str, ...] = ()
    _before: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    def record(self, *, complete: bool) -> list[str]:
        """Write the marker with every file below the folder that was not there before (or was
        overwritten); return those files."""
        now = _files_below(self.path) if self.path.is_dir() else {}
        files = sorted(rel for rel, sig in now.items() if self._before.get(rel) != sig)
        kept = sorted(rel for rel in self.kept if rel in now and rel not in files)
        doc = {
            "marker": _MARKER_TAG,
            "version": MARKER_VERSION,
            "verb": self.verb,
            "complete": complete,
            "files": files,
            "kept": kept,
        }
        try:
            write_json_atomic(self.path / MARKER, doc)
        except OSError as exc:
            raise OutputError(os_error_message(exc, self.path / MARKER)) from exc
        return files

    def start(self) -> Self:
        """Write the marker of a run under way (``complete: false``, nothing written yet); returns self."""
        self.record(complete=False)
        return self

    def finish(self) -> list[str]:
        """Record every file the verb wrote (``complete: true``); returns them."""
        return self.record(complete=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.path.is_dir():
            return
        try:
            self.record(complete=kind is None)
        except OutputError:
            if kind is None:
                raise
            log.warning("could not record what was written in %s (%s)", self.path, MARKER)


def prepare_output_folder(
    out: Path,
    *,
    verb: str,
    force: bool,
    what: str,
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
    replace_own: bool = False,
) -> OutputFolder:
    """Check ``out`` against the rule of the module docstring, create it, or with ``force`` delete what
    the same verb wrote there before; returns the folder to write (use it as a context manager).

    Args:
        out: the folder to write.
        verb: the verb writing it ("synth"), recorded in the marker.
        force: replace an earlier run's output instead of refusing a non-empty folder.
        what: what the folder holds, for messages ("reel", "pairs", "demo").
        inputs: (what, path) of the verb's inputs (``check_overlap``).
        replace_own: replace the same verb's earlier output without ``force`` (``conform``, which has
            always reused its folder); a folder without its marker still needs ``force``.

    Raises:
        InputError: ``out`` is a file, or a non-empty folder without ``force``, or a folder holding
            another verb's output.
        OutputError: ``out`` overlaps an input, or cannot be created or written.
    """
    out = Path(out)
    check_overlap(out, inputs)
    if os.path.lexists(out) and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose a folder for the {what}")
    ensure_folder(out)
    try:
        before = _files_below(out)
    except OSError as exc:
        raise OutputError(os_error_message(exc, out, "read")) from exc
    doc = read_marker(out)
    nonempty = bool(before)  # a marker alone (a run that failed before writing) counts as empty
    if doc is not None and doc["verb"] != verb and nonempty:
        raise InputError(
            f"{out} holds the output of 'remaster {doc['verb']}' (see {out / MARKER}): choose another "
            f"folder for the {what}"
        )
    if nonempty and not (force or (replace_own and doc is not None and doc["verb"] == verb)):
        earlier = f"an earlier {what}; " if doc is not None else ""
        raise InputError(
            f"{out} is not empty ({earlier}{_shown(sorted(before) or [MARKER])}): choose a new or empty "
            f"folder, or pass --force to replace the {what} in it (only the files remaster {verb} wrote "
            "there are deleted)"
        )
    if doc is not None and doc["verb"] == verb:
        _remove_owned(out, _owned_files(doc, before))
        before = _files_below(out)
    kept = tuple(sorted(before))
    if kept:
        why = "they are not listed as its own" if doc is not None else f"the folder has no {MARKER}"
        log.warning(
            "%s: kept %d file(s) that remaster %s did not write (%s): %s; files of the %s with the same "
            "names are replaced",
            out, len(kept), verb, why, _shown(list(kept)), what,
        )  # fmt: skip
    return OutputFolder(out, verb, kept, before)
