"""The ``remaster`` command line: one verb per pipeline stage.

Each verb lives in its own module with two functions, ``add_parser(subparsers)`` and
``run(args) -> int``. ``VERBS`` lists them explicitly, each with its one-line help and a function that
imports its module: ``remaster --help`` lists the verbs without importing any, and ``remaster VERB ...``
imports that verb alone (a render node without torch, scikit-image's users or onnxruntime still gets
its help and every verb that does not need them). A verb is added here only once it works.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from remaster_core import __version__
from remaster_core.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, RemasterError, os_error_message


class VerbModule(Protocol):
    """What a verb module provides."""

    def add_parser(self, subparsers: Any) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Verb:
    """One verb of ``remaster``.

    Attributes:
        name: what the user types (``remaster NAME``).
        help: its line in ``remaster --help``; the same text its module passes to ``add_parser``
            (tests/cli/test_cli.py checks they agree).
        load: imports the verb's module and returns it.
    """

    name: str
    help: str
    load: Callable[[], VerbModule]


def _demo() -> VerbModule:
    from remaster_core.cli import demo

    return demo


def _synth() -> VerbModule:
    from remaster_core.cli import synth

    return synth


def _conform() -> VerbModule:
    from remaster_core.cli import conform

    return conform


def _align() -> VerbModule:
    from remaster_core.cli import align

    return align


def _train() -> VerbModule:
    from remaster_core.cli import train

    return train


def _export() -> VerbModule:
    from remaster_core.cli import export

    return export


def _render() -> VerbModule:
    from remaster_core.cli import render

    return render


def _evaluate() -> VerbModule:
    from remaster_core.cli import evaluate

    return evaluate


def _worker() -> VerbModule:
    from remaster_core.cli import worker

    return worker


# In the order ``remaster --help`` lists them.
VERBS: tuple[Verb, ...] = (
    Verb(
        "demo",
        "run the whole pipeline on a synthetic reel and write an HTML report (needs the train extra)",
        _demo,
    ),
    Verb("synth", "build a synthetic film + broadcast reel with known truth", _synth),
    Verb("conform", "inverse telecine the broadcast to 23.976p, find cuts and the film offset", _conform),
    Verb(
        "align",
        "align each shot of the conformed broadcast to the film scan and write training pairs",
        _align,
    ),
    Verb("train", "train the enhancement model on aligned pairs (needs the train extra)", _train),
    Verb(
        "export",
        "export a trained generator to ONNX (and TorchScript for Nuke), with a parity check",
        _export,
    ),
    Verb("render", "enhance a frame range with the model (locally or on a Dask cluster)", _render),
    Verb(
        "evaluate",
        "score a render against its reference film: grain, detail, steadiness, PSNR, SSIM",
        _evaluate,
    ),
    Verb("worker", "serve frames to a host such as the Nuke plugin (JSON lines on stdin/stdout)", _worker),
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser.

    Args:
        only: None: every verb's own parser (every verb module imported; docs/cli.md is made from this).
            A verb name: that verb's parser alone, the others listed by name and help only (no import).
            ``""``: no verb imported (``remaster --help``).
    """
    parser = argparse.ArgumentParser(
        prog="remaster",
        description="Bring a legacy NTSC broadcast up to the quality of a new film scan.",
    )
    parser.add_argument("--version", action="version", version=f"remaster {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        if only is None or verb.name == only:
            verb.load().add_parser(sub)
        else:
            sub.add_parser(verb.name, help=verb.help)
    return parser


def verb_in(argv: Sequence[str]) -> str:
    """The verb ``argv`` names: its first word that is not an option (the top-level options take no
    value), if that is a verb; else ``""``."""
    names = {verb.name for verb in VERBS}
    word = next((arg for arg in argv if not arg.startswith("-")), "")
    return word if word in names else ""


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log lines on stderr: time, level, what happened."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``remaster`` console script. Returns the process exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=verb_in(words))
    args = parser.parse_args(words)
    setup_logging(args.verbose, args.quiet)
    return run_verb(args)


def run_verb(args: argparse.Namespace) -> int:
    """Run the parsed verb (``args.run``, ``args.verb``) and turn what it raises into an exit code: a
    ``RemasterError`` its message on stderr and its own code, an ``OSError`` no verb caught (a disk, a
    permission) one line naming its path and the fix and ``EXIT_BAD_INPUT`` (the traceback with -v),
    Ctrl-C 130, anything else (a bug) the traceback in the log and ``EXIT_INTERNAL``. ``python -m
    training.cli`` uses it too."""
    try:
        return int(args.run(args))
    except RemasterError as exc:
        print(f"remaster {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        logging.getLogger("remaster").debug("'remaster %s' stopped on an OSError", args.verb, exc_info=True)
        print(f"remaster {args.verb}: error: {os_error_message(exc, action='use')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"remaster {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: show the traceback, exit non-zero
        logging.getLogger("remaster").exception("internal error in 'remaster %s'", args.verb)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
