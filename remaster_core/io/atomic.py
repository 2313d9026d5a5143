"""Atomic writes: write a temporary file beside the target, then rename it into place.

A reader (a person, the next pipeline stage, a render manager checking which frames exist) sees either
the old file or the complete new one, never a partial file: a killed chunk, a crash or a full disk leaves
at most a hidden temporary file behind, never a truncated ``final``.

The temporary file lives in the same folder as ``final`` (``os.replace`` is only atomic within one
file system) and keeps the final extension, so writers that pick the format by extension (OpenImageIO,
ffmpeg) still do: ``plate.1001.exr`` is written as ``.plate.1001.exr.tmp-<pid>-<random>.exr``. The
leading dot keeps it out of sequence scans (``remaster_core.io.sequence`` never matches it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remaster_core.errors import MediaError, OutputError, os_error_message

# errno values that mean "no room": a full disk, a per-process file size limit (RLIMIT_FSIZE), a quota.
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _disk_full(final: Path, exc: OSError) -> MediaError:
    return MediaError(
        f"cannot finish writing {final}: disk full or file size limit reached ({exc.strerror}); "
        "free some space (or raise the limit) and run again: nothing partial was left behind"
    )


def _about(exc: OSError, paths: tuple[Path, ...]) -> bool:
    """Whether ``exc`` names one of ``paths`` (not, say, a file the body was reading)."""
    names = {os.fspath(p) for p in paths}
    return (
        exc.filename is None
        or os.fspath(exc.filename) in names
        or (exc.filename2 is not None and os.fspath(exc.filename2) in names)
    )


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable. Best effort: some file systems refuse to fsync a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it is fsynced and renamed onto ``final``.

    The parent folders of ``final`` are created first. If the body raises, the temporary file is
    removed and the exception propagates (an ``OSError`` that means a full disk, ENOSPC / EFBIG /
    EDQUOT, becomes a ``MediaError`` naming ``final``; any other ``OSError`` on ``final``, its temporary
    file or its folder, e.g. permission denied, a read-only file system, a name too long, an
    ``OutputError`` naming ``final`` and the fix). ``final`` is never left partially written.

    Example:
        >>> with atomic_path(out / "plate.1001.exr") as tmp:   # doctest: +SKIP
        ...     write_exr(tmp, pixels)
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(os_error_message(exc, final.parent, "create the folder")) from exc
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}{final.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise MediaError(f"writing {final}: the writer produced no file (expected {tmp.name})")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            raise _disk_full(final, exc) from exc
        if isinstance(exc, OSError) and _about(exc, (tmp, final, final.parent)):
            raise OutputError(os_error_message(exc, final)) from exc
        raise
    _fsync_dir(final.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``atomic_path``)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON (indent 2, keys in the order given, trailing newline) atomically.

    NaN and infinities are refused (``ValueError`` naming the file) rather than written as the
    non-standard ``NaN`` tokens that other JSON readers reject; nothing is written in that case.
    """
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as exc:
        raise ValueError(
            f"cannot write {path}: the data holds NaN or infinity, which JSON cannot represent ({exc}); "
            "replace them (e.g. with None) before writing"
        ) from exc
    write_text_atomic(path, text + "\n")
