"""Errors a user can act on, and the process exit codes they map to.

Every error raised for bad input names the file (and frame, where there is one) and says what to do.
The CLI turns them into one line on stderr and the exit code below; anything else is a bug and
exits with ``EXIT_INTERNAL`` and a traceback.
"""

from __future__ import annotations

import errno
import os

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_MODEL = 3
EXIT_PARTIAL = 4


class RemasterError(Exception):
    """Base of every error the user is meant to read. ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INTERNAL


class InputError(RemasterError):
    """Bad input: a missing, truncated or corrupt file, a gap in a sequence, a bad pattern or size."""

    exit_code = EXIT_BAD_INPUT


class MediaError(InputError):
    """A media file that exists but cannot be decoded or encoded as asked."""


class ExtraMissing(InputError):
    """An optional dependency the command needs (onnxruntime, torch) is not installed; the message names
    the extra to install (``remaster_core.optional``)."""


class OutputError(InputError):
    """An output that cannot be written where asked: a read-only or full disk, a folder that is a file,
    a name too long, an output that would overwrite an input, or a folder holding someone else's files."""


class ModelError(RemasterError):
    """A model file that is missing, tampered with, or does not match what was asked of it."""

    exit_code = EXIT_MODEL


class PartialFailure(RemasterError):
    """A job that finished with some items failed; the message lists them."""

    exit_code = EXIT_PARTIAL


_OS_FIXES = {
    errno.EACCES: "permission denied: choose a path you may write to (read, for an input), or change its permissions",
    errno.EPERM: "operation not permitted: choose a path you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only: choose a folder on a writable disk",
    errno.ENOSPC: "the disk is full: free some space, or choose a folder on another disk, and run again",
    errno.EDQUOT: "the disk quota is used up: free some space, or choose a folder on another disk",
    errno.EFBIG: "the file is over this process's file size limit (ulimit -f): raise the limit",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.ENAMETOOLONG: "a name in the path is too long for the file system: choose a shorter path",
    errno.EISDIR: "it is a folder: give a file name",
    errno.ENOENT: "a folder on the way does not exist: create it, or choose another path",
    errno.EEXIST: "something is already there: remove it, or choose another path",
}


def os_error_message(exc: OSError, path: str | os.PathLike[str] | None = None, action: str = "write") -> str:
    """One line naming the path (``path``, else the error's own) and what to do about ``exc``."""
    where = os.fspath(path) if path is not None else (exc.filename or "the output")
    fix = _OS_FIXES.get(exc.errno or 0, "check the path and the disk, and run again")
    return f"cannot {action} {where} ({exc.strerror or exc}): {fix}"
