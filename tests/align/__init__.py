"""Helpers for the alignment tests: conform-like folders from a synth reel's truth, and a 960x720 shot.

``conform_from_truth`` builds what ``remaster conform`` writes, from the truth instead of from the
broadcast (so the alignment tests do not depend on the conform): ``frames/frame.%06d.png`` are the
reel's pre-telecine 24p frames, ``conform.json`` holds the true shot ranges and film offsets
(``first_24p``, ``last_24p``, ``film_first``; the leader is a shot without film). Options change it
into bad input: other shot ranges, frames rewritten by a function, film frames rewritten.

``synthetic_shot`` renders a short 960x720 shot with the synth reel's own functions (camera path,
grain, framing with barrel distortion, grade, blur, chroma loss, tape noise) without building a whole
reel: the film frames, the 24p broadcast frames and the true geometry.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.synth.degrade import (
    degrade_film_frame,
    framing_maps,
    low_frequency_noise,
    sample_degrade_params,
    sample_grade,
)
from remaster_core.synth.geometry import ShotGeometry, sample_geometry
from remaster_core.synth.scenes import GrainParams, render_film_frame, sample_camera

FrameFn = Callable[[int, Path, Path], None]
FilmFn = Callable[[Path, Path], None]


def conform_from_truth(
    reel: Path,
    out: Path,
    *,
    shots: list[dict[str, Any]] | None = None,
    frame_fn: FrameFn | None = None,
    film_fn: FilmFn | None = None,
) -> tuple[Path, Path]:
    """Write a conform-like folder ``out`` for ``reel``; returns (conform folder, film folder).

    Args:
        reel: a synth reel (truth.json, truth/broadcast24p, film/).
        out: the folder to create.
        shots: the ``shots`` of conform.json (default: the truth's, the leader as a shot without film).
        frame_fn: ``frame_fn(i, source_png, dest_png)`` writes conformed frame i (default: a copy).
        film_fn: ``film_fn(source, dest)`` writes each film file into ``out/film`` (default: the reel's
            film folder is used as is).
    """
    truth = json.loads((reel / "truth.json").read_text())
    frames = out / "frames"
    frames.mkdir(parents=True)
    n = truth["frames24p"]["count"]
    for i in range(n):
        src = reel / (truth["frames24p"]["pattern"] % i)
        dest = frames / f"frame.{i:06d}.png"
        if frame_fn is None:
            shutil.copyfile(src, dest)
        else:
            frame_fn(i, src, dest)
    if shots is None:
        shots = [{"first": 0, "last": truth["leader_frames"] - 1, "film_first": None, "match_score": None}]
        shots += [
            {
                "first": s["first_24p"],
                "last": s["last_24p"],
                "film_first": s["film_first"],
                "match_score": 1.0,
            }
            for s in truth["shots"]
        ]
    film = reel / "film"
    if film_fn is not None:
        film = out / "film"
        film.mkdir()
        for path in sorted((reel / "film").iterdir()):
            film_fn(path, film / path.name)
    doc = {
        "fps": "24000/1001",
        "frame_count": n,
        "frames_pattern": "frames/frame.%06d.png",
        "cuts": [s["first"] for s in shots],
        "offset": truth["leader_frames"],
        "shots": shots,
        "film": {
            "pattern": str(film / Path(truth["film"]["pattern"]).name),
            "frame_count": truth["film"]["frame_count"],
        },
    }
    (out / "conform.json").write_text(json.dumps(doc, indent=1))
    return out, film


@dataclass(frozen=True)
class SyntheticShot:
    """A rendered shot: film float32 RGB (720, 960, 3) frames, broadcast uint8 RGB (480, 720, 3) 24p
    frames (as float32 0..1), and the true framing."""

    film: list[np.ndarray]
    broadcast: list[np.ndarray]
    geometry: ShotGeometry


def synthetic_shot(seed: int, n_frames: int, film_size: tuple[int, int] = (960, 720)) -> SyntheticShot:
    """Render ``n_frames`` of one shot the way ``remaster synth`` does (see the module docstring)."""
    rng = np.random.default_rng([seed, 0])
    camera = sample_camera(rng, "astronaut", film_size, n_frames)
    geometry = sample_geometry(rng, film_size)
    grade = sample_grade(rng)
    params = sample_degrade_params(rng)
    maps = framing_maps(geometry)
    lf = low_frequency_noise(np.random.default_rng([seed, 2]), params)
    film, broadcast = [], []
    for k in range(n_frames):
        f = render_film_frame(camera, k, film_size, GrainParams(), np.random.default_rng([seed, 1, k]))
        b = degrade_film_frame(f, maps, grade, params, next(lf), np.random.default_rng([seed, 3, k]))
        film.append(f)
        broadcast.append(b.astype(np.float32) / 255.0)
    return SyntheticShot(film, broadcast, geometry)
