"""Command-line processing for farm renders: ``nuke -t remaster_nuke/batch.py SCRIPT --frames A-B``.

Opens SCRIPT, processes every Remaster node (or those named with ``--node``) over the frames (each
node's Source must cover them), then executes the Write nodes named with ``--write`` over the same
frames. One command line a chunk, as render managers want::

    nuke -t /path/to/nuke_plugin/remaster_nuke/batch.py comp.nk --frames 1001-1010 --write Write1

Exit codes: 0 done; 2 bad settings or input (a node's message says what); 3 the worker could not
start, crashed or a frame failed. The plugin folder must be on NUKE_PATH (the gizmos are loaded with
the script) and the worker reachable (``REMASTER_WORKER`` or the nodes' ``worker`` knob).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

if __name__ == "__main__":  # run as a file by `nuke -t`: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nuke

from remaster_nuke import client, remaster_node, settings

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_WORKER = 3


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nuke -t batch.py",
        description="Process the Remaster nodes of a Nuke script, then render its Writes.",
    )
    parser.add_argument("script", help="the .nk script")
    parser.add_argument("--frames", required=True, help="frames, e.g. 1001-1100 or 1001-1100x2")
    parser.add_argument(
        "--node", action="append", default=[], help="a Remaster node to process (default: all)"
    )
    parser.add_argument("--write", action="append", default=[], help="a Write node to execute afterwards")
    return parser.parse_args(list(argv))


def process_script(node_names: Sequence[str], frames: list[int]) -> int:
    """Process the Remaster nodes of the open script; returns an exit code."""
    nodes = remaster_node.remaster_nodes()
    if node_names:
        by_name = {n.fullName(): n for n in nodes}
        missing = [name for name in node_names if name not in by_name]
        if missing:
            print("batch: no Remaster node named {m}".format(m=", ".join(missing)), file=sys.stderr)
            return EXIT_BAD_INPUT
        nodes = [by_name[name] for name in node_names]
    for node in nodes:
        try:
            report = remaster_node.process(node, frames)
        except remaster_node.NodeError as exc:
            print(f"batch: {node.fullName()}: {exc}", file=sys.stderr)
            return EXIT_WORKER if exc.kind == "worker" else EXIT_BAD_INPUT
        print(f"batch: {node.fullName()}: {remaster_node.summary(report)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        frames = settings.parse_frames(args.frames)
    except settings.SettingsError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    nuke.scriptOpen(args.script)
    code = process_script(args.node, frames)
    if code != EXIT_OK:
        return code
    for name in args.write:
        write = nuke.toNode(name)
        if write is None:
            print(f"batch: no Write node named {name} in {args.script}", file=sys.stderr)
            return EXIT_BAD_INPUT
        for frame in frames:
            nuke.execute(write, frame, frame)
    client.shutdown_all()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
