"""Import boundaries: what a base install (no extras) can import, and what each command pulls in.

``remaster_core`` is the runtime a render node installs without extras: importing any of its modules
must not import torch, ``training``, ``export``, onnxruntime (``remaster[cpu]``/``remaster[gpu]``),
dask (``remaster[farm]``) or scikit-image (``remaster synth``'s photographs, the demo's SSIM: imported
inside the functions that use them). ``remaster --help`` imports no verb; ``remaster VERB`` imports
that verb alone. With onnxruntime or torch missing, the verbs that need them say so in one line.

Each check runs in a fresh interpreter (``sys.modules`` of this test process holds everything).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from remaster_core.cli import VERBS
from remaster_core.errors import EXIT_BAD_INPUT

ROOT = Path(__file__).resolve().parents[1]

# Top-level packages no remaster_core module may import when it is imported itself.
FORBIDDEN = ("torch", "training", "export", "onnxruntime", "openvino", "skimage", "dask", "distributed")

# Module -> forbidden packages it may import at import time. Empty: onnxruntime is imported where a
# session is made (remaster_core.optional.import_onnxruntime), openvino where its model is compiled
# (remaster_core.optional.import_openvino), scikit-image where a picture is loaded.
ALLOWED_AT_IMPORT: dict[str, list[str]] = {}

# Puts a finder first on sys.meta_path that refuses onnxruntime and torch as if not installed.
BLOCK = """
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("onnxruntime", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
"""

# Imports every remaster_core module in turn, in one interpreter, and charges a forbidden package to the
# module whose import brought it in. ``__main__`` modules run the CLI when imported: left out.
WALK = """
import importlib, json, pkgutil, sys
import remaster_core

def walk(path, prefix):  # pkgutil.walk_packages would import every package before we look
    for m in pkgutil.iter_modules([path], prefix):
        if not m.name.endswith(".__main__"):
            yield m.name
            if m.ispkg:
                yield from walk(f"{path}/{m.name.rsplit('.', 1)[1]}", m.name + ".")

def charge(forbidden):
    loaded = lambda: {m.split(".")[0] for m in sys.modules} & forbidden
    names = ["remaster_core", *walk(remaster_core.__path__[0], "remaster_core.")]
    charged, before = {}, loaded()
    for name in names:
        importlib.import_module(name)
        now = loaded()
        if now - before:
            charged[name] = sorted(now - before)
        before = now
    return {"modules": len(names), "charged": charged}
"""

RUNTIME_MISSING = "onnxruntime is not installed; install remaster[cpu] (CPU) or remaster[gpu] (NVIDIA)"
TORCH_MISSING = "torch is not installed; install the train extra (pip install 'remaster[train]')"


def _python(code: str, *, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _forbidden_after(statements: str, tmp_path: Path, stdin: str = "") -> list[str]:
    """The forbidden packages in ``sys.modules`` after ``statements`` ran in a fresh interpreter."""
    report = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        f"{statements}\n"
        f"open({str(report)!r}, 'w').write(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} "
        f"& set({FORBIDDEN!r}))))\n"
    )
    done = _python(code, stdin=stdin)
    assert report.exists(), done.stderr
    return list(json.loads(report.read_text()))


def test_no_remaster_core_module_imports_an_extra_or_scikit_image() -> None:
    done = _python(WALK + f"print(json.dumps(charge(set({FORBIDDEN!r}))))\n")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["modules"] > 50  # the walk found the package
    assert result["charged"] == ALLOWED_AT_IMPORT


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["worker", "--help"], ["synth", "--help"], ["render", "--help"]],
)
def test_help_imports_no_extra(argv: list[str], tmp_path: Path) -> None:
    statements = (
        "from remaster_core.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code"
    )
    assert _forbidden_after(statements, tmp_path) == []


def test_a_verb_imports_only_its_own_module(tmp_path: Path) -> None:
    report = tmp_path / "verbs.json"
    code = (
        "import json, sys\n"
        "from remaster_core.cli import main\n"
        "try:\n    main(['synth', '--help'])\nexcept SystemExit:\n    pass\n"
        f"open({str(report)!r}, 'w').write(json.dumps(sorted(m for m in sys.modules "
        "if m.startswith('remaster_core.cli.'))))\n"
    )
    done = _python(code)
    assert report.exists(), done.stderr
    verbs = {f"remaster_core.cli.{verb.name}" for verb in VERBS}
    assert verbs & set(json.loads(report.read_text())) == {"remaster_core.cli.synth"}


def test_the_serving_worker_imports_no_extra(tmp_path: Path) -> None:
    statements = "from remaster_core.cli import main\nassert main(['-q', 'worker']) == 0"
    assert _forbidden_after(statements, tmp_path, stdin='{"id": 1, "op": "shutdown"}\n') == []


def _remaster_without_extras(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = BLOCK + f"from remaster_core.cli import main\nsys.exit(main({list(argv)!r}))\n"
    return _python(code, cwd=cwd)


@pytest.mark.parametrize("verb", ["", *(verb.name for verb in VERBS)])
def test_help_works_without_onnxruntime_and_torch(verb: str, tmp_path: Path) -> None:
    argv = [verb, "--help"] if verb else ["--help"]
    done = _remaster_without_extras(*argv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: remaster")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "conform", "--model", "anything.onnx", "--out", "R/f.####.exr"], RUNTIME_MISSING),
        (["train", "--pairs", "pairs", "--out", "run"], TORCH_MISSING),
        (["export", "run", "--out", "m.onnx"], TORCH_MISSING),
    ],
)
def test_a_verb_that_needs_a_missing_extra_says_so_in_one_line(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    done = _remaster_without_extras("-q", *argv, cwd=tmp_path)
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert done.stderr.splitlines() == [f"remaster {argv[0]}: error: {message}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing was written


def test_the_worker_without_a_runtime_pings_and_refuses_renders_in_one_line(tmp_path: Path) -> None:
    """A base-install worker answers ``ping`` (the alignment gizmos need no model), says what is
    missing, and answers a model request with the one-line input error."""
    code = BLOCK + "from remaster_core.cli import main\nsys.exit(main(['-q', 'worker']))\n"
    requests = '{"id": 1, "op": "ping"}\n{"id": 2, "op": "describe", "params": {"model": "m.onnx"}}\n'
    done = _python(code, stdin=requests, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ping, describe = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert ping["ok"] and ping["providers"] == [] and ping["runtime_missing"] == RUNTIME_MISSING
    assert (describe["ok"], describe["kind"], describe["error"]) == (False, "input", RUNTIME_MISSING)
