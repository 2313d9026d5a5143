"""Helpers for the render tests: small real inputs (image sequences written by OpenImageIO), small real
ONNX models (the runtime tests' stand-in nets with the metadata contract), chunk logs, and the CLI run
as a real subprocess (``python -m remaster_core render``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.align.pairs import align_document
from remaster_core.align.transform import CONVENTION
from remaster_core.io.images import ImageMeta, read_image, write_image
from tests.runtime import StandIn, make_model

ROOT = Path(__file__).resolve().parents[2]


def picture(width: int, height: int, seed: int) -> np.ndarray:
    """float32 (H, W, 3) R'G'B' 0..1: smooth colour gradients plus fine noise (a plausible frame)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [0.5 + 0.35 * np.sin(x / 7.0 + c + seed) * np.cos(y / 5.0 - c) for c in range(3)], axis=-1
    ).astype(np.float32)
    return np.clip(base + rng.normal(0, 0.03, base.shape).astype(np.float32), 0.0, 1.0)


def write_sequence(
    folder: Path,
    frames: Sequence[int],
    size: tuple[int, int] = (64, 48),
    *,
    name: str = "plate",
    ext: str = ".exr",
    timecode: bool = True,
) -> str:
    """Write ``folder/name.####ext`` frames (half EXR by default, timecode 01:00:00:00 + frame index);
    returns the pattern."""
    w, h = size
    for i, frame in enumerate(frames):
        meta = ImageMeta(timecode=f"01:00:{i // 24:02d}:{i % 24:02d}" if timecode else None)
        write_image(folder / f"{name}.{frame:04d}{ext}", picture(w, h, frame), meta=meta)
    return str(folder / f"{name}.####{ext}")


def model(folder: Path, name: str = "model.onnx", *, width: int = 8, convs: int = 2, seed: int = 0) -> Path:
    """A stand-in generator (s=2) exported to ONNX with the full remaster metadata."""
    path, _ = make_model(folder, name, net=StandIn(s=2, width=width, convs=convs, seed=seed))
    return path


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines chunk log."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def frame_events(records: list[dict[str, Any]], status: str | None = None) -> list[dict[str, Any]]:
    """The ``frame`` lines of a log (with ``status`` if given)."""
    return [r for r in records if r["event"] == "frame" and (status is None or r["status"] == status)]


def pixels(path: Path) -> np.ndarray:
    """A frame's pixels as stored (float32)."""
    return read_image(path, channels=None)[0]


def cli_env() -> dict[str, str]:
    """The environment for a ``remaster`` subprocess: this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def cli_command(*args: str) -> list[str]:
    """``python -m remaster_core -q render ARGS``."""
    return [sys.executable, "-m", "remaster_core", "-q", "render", *args]


def run_cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``remaster render ARGS`` to the end; stdout and stderr captured as text."""
    return subprocess.run(
        cli_command(*args),
        check=False,
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def write_align_json(
    folder: Path,
    shots: list[dict[str, Any]],
    film_size: tuple[int, int] | None,
    *,
    conform_dir: Path | None = None,
) -> Path:
    """``folder/align.json`` as ``remaster align`` writes it, for a 64x48 broadcast (pixel aspect 1) and
    ``shots`` (align.json shot entries); ``film_size`` None writes no output format."""
    doc = align_document(
        conform_dir=conform_dir or folder,
        film_pattern=str(folder / "film.%06d.dpx"),
        film_size=film_size,
        broadcast_size=(64, 48),
        broadcast_par=1.0,
        conventions=CONVENTION,
        params={},
        shots=shots,
    )
    path = folder / "align.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
