"""The ``remaster`` command line: one verb per pipeline stage.

Each verb lives in its own module with two functions, ``add_parser(subparsers)`` and
``run(args) -> int``. Verbs are imported explicitly below; ``--help`` lists exactly these, and a verb
is added here only once it works.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from remaster_core import __version__
from remaster_core.cli import align, conform, demo, export, render, synth, train, worker
from remaster_core.errors import EXIT_INTERNAL, RemasterError

VERBS = (demo, synth, conform, align, train, export, render, worker)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every working verb."""
    parser = argparse.ArgumentParser(
        prog="remaster",
        description="Bring a legacy NTSC broadcast up to the quality of a new film scan.",
    )
    parser.add_argument("--version", action="version", version=f"remaster {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        verb.add_parser(sub)
    return parser


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log lines on stderr: time, level, what happened."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``remaster`` console script. Returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_verb(args)


def run_verb(args: argparse.Namespace) -> int:
    """Run the parsed verb (``args.run``, ``args.verb``) and turn what it raises into an exit code: a
    ``RemasterError`` its message on stderr and its own code, Ctrl-C 130, anything else (a bug) the
    traceback in the log and ``EXIT_INTERNAL``. ``python -m training.cli`` uses it too."""
    try:
        return int(args.run(args))
    except RemasterError as exc:
        print(f"remaster {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"remaster {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: show the traceback, exit non-zero
        logging.getLogger("remaster").exception("internal error in 'remaster %s'", args.verb)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
