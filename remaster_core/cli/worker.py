"""``remaster worker``: serve frames to a host (the Nuke plugin) over stdin/stdout, JSON lines.

Example (what the Nuke plugin runs, once per Nuke session)::

    remaster worker

The host writes one JSON request per line on the worker's stdin and reads one JSON response per line
from its stdout (``remaster_core/worker/protocol.py`` documents the messages; ``docs/nuke.md`` the
plugin). Logs go to stderr. The worker exits when its stdin closes or on a ``shutdown`` request.
It is not meant to be typed by hand, but it can be: ``echo '{"id": 1, "op": "ping"}' | remaster worker``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``worker`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "worker",
        help="serve frames to a host such as the Nuke plugin (JSON lines on stdin/stdout)",
        description=(
            "Run the engine out of process for a host (the Nuke plugin): read one JSON request per line on "
            "stdin (ping, describe, render, align, shutdown), answer one JSON line on stdout. Frames are "
            "EXR files named in the messages; a render is exactly what `remaster render` does for those "
            "frames. Logs go to stderr. Exits when stdin closes."
        ),
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Serve until stdin closes or a shutdown request; returns the exit code (0)."""
    from remaster_core.worker import serve_stdio  # the engine's imports only when serving

    return serve_stdio()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m remaster_core.worker``: logging as the CLI sets it up, then ``run``."""
    from remaster_core.cli import setup_logging

    parser = argparse.ArgumentParser(prog="python -m remaster_core.worker")
    parser.add_argument("verb", nargs="?", choices=["worker"], help="accepted and ignored (hosts append it)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run(args)
