"""``pip install remaster`` without extras, for real: a fresh virtual environment, the package installed
from this checkout (not editable), then the verbs a base install must run.

synth -> conform -> align work; ``render`` says in one line that it needs ``remaster[cpu]`` or
``remaster[gpu]``, and ``train`` that it needs ``remaster[train]``; neither onnxruntime nor torch is
importable in that environment. pip's cache (or the project's wheel index) makes the install quick
where the main environment was installed from the same index. Measured on 2 cores: virtual
environment 4 s, pip install 19 s, synth 6 s, conform 3 s, align 9 s, the rest 3 s; about 45 s in all
(80-95 s when other work shares the cores).

The package is built from a copy of the files a wheel holds (pyproject.toml, README.md, the packages):
pip builds a local folder in place, and the build would leave ``build/`` and ``*.egg-info`` in the
checkout. Skipped only where no index can be reached and pip has no cache, and never under CI
(``CI`` set), where it must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from remaster_core.errors import EXIT_BAD_INPUT, EXIT_OK

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _pip_cache_has_files() -> bool:
    """Whether pip has a cache with something in it (wheels or HTTP responses)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    cache = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    return cache is not None and cache.is_dir() and any(p.is_file() for p in cache.rglob("*"))


def _index_reachable() -> bool:
    """Whether PyPI answers on its port."""
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def _skip_reason() -> str | None:
    if shutil.which("ffmpeg") is None:
        return "remaster synth needs the ffmpeg CLI (apt-get install ffmpeg)"
    if os.environ.get("CI"):
        return None
    if not _index_reachable() and not _pip_cache_has_files():
        return "no network and no pip cache: pip cannot install the base dependencies"
    return None


def _wheel_sources(dest: Path) -> Path:
    """Copy what the wheel is built from (pyproject.toml, README.md, the packages it includes) to
    ``dest``; returns ``dest``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    packages = [p.rstrip("*") for p in find["include"]]
    dest.mkdir()
    for name in ("pyproject.toml", config["project"]["readme"]):
        shutil.copy2(ROOT / name, dest / name)
    for package in packages:
        home = next(ROOT / where for where in find.get("where", ["."]) if (ROOT / where / package).is_dir())
        target = dest / home.relative_to(ROOT) / package
        shutil.copytree(home / package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _build_artefacts() -> set[str]:
    """What a setuptools build leaves in the folder it builds: ``build/``, ``dist/``, ``*.egg-info``."""
    return {p.name for p in ROOT.iterdir() if p.name in ("build", "dist") or p.name.endswith(".egg-info")}


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_a_base_install_runs_synth_conform_align_and_names_the_extras(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    artefacts_before = _build_artefacts()

    venv = tmp_path / "venv"
    done = _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert done.returncode == 0, done.stderr
    python, remaster = venv / "bin" / "python", venv / "bin" / "remaster"
    source = _wheel_sources(tmp_path / "src")
    done = _run([str(python), "-m", "pip", "install", "--quiet", str(source)], tmp_path)
    assert done.returncode == 0, f"pip install (no extras) failed:\n{done.stdout}\n{done.stderr}"
    assert _build_artefacts() == artefacts_before  # the build left nothing in the checkout

    probe = (
        "import importlib.util, remaster_core\n"
        "print(remaster_core.__file__)\n"
        "print([m for m in ('onnxruntime', 'torch') if importlib.util.find_spec(m)])\n"
    )
    done = _run([str(python), "-c", probe], tmp_path)
    assert done.returncode == 0, done.stderr
    where, importable = done.stdout.splitlines()
    assert Path(where).is_relative_to(venv), f"remaster_core imported from {where}, not the new venv"
    assert importable == "[]", f"a base install must not carry {importable}"

    done = _run([str(remaster), "--help"], tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert "synth" in done.stdout and "render" in done.stdout

    steps = [
        ["synth", "--preset", "tiny", "--seed", "1", "--out", "X"],
        ["conform", "X/broadcast.mpg", "--out", "C", "--film", "X/film"],
        ["align", "--conform", "C", "--film", "X/film", "--out", "P"],
    ]
    for argv in steps:
        done = _run([str(remaster), "-q", *argv], tmp_path)
        assert done.returncode == EXIT_OK, f"remaster {' '.join(argv)}:\n{done.stderr}"

    for argv, extras in (
        (
            ["render", "C", "--model", "anything.onnx", "--out", "R/f.####.exr"],
            ("remaster[cpu]", "remaster[gpu]"),
        ),
        (["train", "--pairs", "P", "--out", "RUN"], ("remaster[train]",)),
    ):
        done = _run([str(remaster), "-q", *argv], tmp_path)
        assert done.returncode == EXIT_BAD_INPUT, done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"remaster {argv[0]}: error: "), done.stderr
        assert all(extra in lines[0] for extra in extras), lines[0]
    assert not (tmp_path / "R").exists() and not (tmp_path / "RUN").exists()
