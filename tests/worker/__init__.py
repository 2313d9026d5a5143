"""Helpers for the worker tests: the command that starts a real ``remaster worker`` subprocess, and
the Nuke plugin's client (pure standard library, so importable here without Nuke)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "nuke_plugin"
if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))


def worker_wired() -> bool:
    """Whether ``remaster worker`` is registered in the CLI (the lead wires the verb in)."""
    from remaster_core.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    return "worker" in sub.choices  # type: ignore[operator]


def worker_argv() -> list[str]:
    """``python -m remaster_core worker`` once the verb is wired, else ``python -m remaster_core.worker
    worker`` (the same ``cli.worker.run``; it accepts the verb hosts append)."""
    module = "remaster_core" if worker_wired() else "remaster_core.worker"
    return [sys.executable, "-m", module, "worker"]


def worker_setting() -> str:
    """The worker command as a user puts it in ``REMASTER_WORKER`` (without the trailing ``worker``)."""
    return " ".join(worker_argv()[:-1])


def worker_env() -> dict[str, str]:
    """The environment for a worker subprocess: this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def render_wired() -> bool:
    """Whether ``remaster render`` is registered in the CLI."""
    from remaster_core.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    return "render" in sub.choices  # type: ignore[operator]


def remaster_render(*args: str) -> int:
    """``remaster render ARGS``: ``python -m remaster_core -q render`` in a subprocess once the verb is
    wired into the CLI, else the verb's own parser and ``run`` in this process (the same code)."""
    import argparse
    import subprocess

    if render_wired():
        cmd = [sys.executable, "-m", "remaster_core", "-q", "render", *args]
        done = subprocess.run(
            cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode in (0, 2, 3, 4), done.stderr
        return done.returncode
    from remaster_core.cli import render as render_verb

    parser = argparse.ArgumentParser(prog="remaster")
    render_verb.add_parser(parser.add_subparsers(dest="verb"))
    return int(render_verb.run(parser.parse_args(["render", *args])))
