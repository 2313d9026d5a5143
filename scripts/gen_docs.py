"""Write docs/cli.md from the CLI's own --help texts, so the reference never drifts from the code.

Run: .venv/bin/python scripts/gen_docs.py   (tests/cli/test_docs.py checks the file is current)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remaster_core.cli import VERBS, build_parser

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def render() -> str:
    """The Markdown reference: the top-level help, then each verb's help, in CLI order."""
    parser = build_parser()
    parts = [
        "# `remaster` command reference\n",
        "Generated from the CLI's own `--help` by `scripts/gen_docs.py`; do not edit by hand.\n",
        "```text\n" + parser.format_help().rstrip() + "\n```\n",
    ]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb in VERBS:
        name = verb.name
        parts.append(f"## remaster {name}\n")
        parts.append("```text\n" + sub.choices[name].format_help().rstrip() + "\n```\n")
    return "\n".join(parts)


def main() -> int:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
