"""Errors a user can act on, and the process exit codes they map to.

Every error raised for bad input names the file (and frame, where there is one) and says what to do.
The CLI turns them into one line on stderr and the exit code below; anything else is a bug and
exits with ``EXIT_INTERNAL`` and a traceback.
"""

from __future__ import annotations

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


class ModelError(RemasterError):
    """A model file that is missing, tampered with, or does not match what was asked of it."""

    exit_code = EXIT_MODEL


class PartialFailure(RemasterError):
    """A job that finished with some items failed; the message lists them."""

    exit_code = EXIT_PARTIAL
