"""Fixtures of the training tests: one torch thread, a small synthetic ``PAIRS/`` folder, a tiny config.

``make_pairs(root, ...)`` writes a pairs folder in the layout ``remaster align`` writes
(``remaster_core.align.pairs``): ``align.json`` with one entry per shot (``status``, ``input`` /
``target`` / ``mask`` patterns relative to PAIRS, the ``frames`` list, ``masked_frames``) and the frame
files: input 16-bit PNG (a graded, blurred, noisy version of the target with low-frequency noise),
target 16-bit PNG (a crop of a scikit-image photograph panning from frame to frame, with grain), mask
8-bit PNG (255 valid, 0 on an invalid left border). A rejected shot entry is included, as align writes
them, with no files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from remaster_core.io.images import write_image
from remaster_core.synth.scenes import load_picture
from training.config import TrainConfig, resolve_config

PICTURES = ("astronaut", "coffee", "chelsea", "rocket")
PATTERN = "shot{shot:03d}/{kind}/frame.%06d{ext}"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Training tensors here are tiny: one thread is fastest, and immune to a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def degrade(target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A broadcast-like input for ``target`` (float32 RGB (H, W, 3) 0..1): a warm, flat grade, blur,
    smooth low-frequency noise and fine noise; float32 RGB (H, W, 3), clipped to 0..1."""
    h, w = target.shape[:2]
    graded = 0.04 + 0.88 * np.power(
        np.clip(target @ np.array([[1.04, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.92]], np.float32).T, 0, 1),
        1.08,
    )
    blurred = cv2.GaussianBlur(graded.astype(np.float32), (0, 0), 1.0)
    coarse = rng.normal(0.0, 0.02, (h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
    low = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 0.01, (h, w, 3)).astype(np.float32)
    return np.clip(blurred + low + fine, 0.0, 1.0).astype(np.float32)


def make_pairs(
    root: Path,
    *,
    shots: int = 2,
    frames: int = 4,
    size: tuple[int, int] = (96, 72),
    seed: int = 0,
    input_ext: str = ".png",
    list_frames: bool = True,
    first_frame: int = 10,
) -> Path:
    """Write a pairs folder at ``root`` (see the module docstring); returns ``root``.

    Args:
        shots: aligned shots (indices 0, 2, 3, ...: shot 1 is a rejected entry without files).
        frames: frames per shot, numbered from ``first_frame``.
        size: (W, H) of every frame.
        input_ext: ".png" (16-bit) or ".exr" (half) for the input frames.
        list_frames: write each shot's ``frames`` list (else the trainer finds the frames on disk).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    entries: list[dict[str, Any]] = []
    index = 0
    for s in range(shots):
        if index == 1:
            entries.append({"index": 1, "first": first_frame + 100, "last": first_frame + 100 + frames - 1,
                            "status": "rejected", "reason": "too few matches", "input": None,
                            "target": None, "mask": None})  # fmt: skip
            index += 1
        picture = load_picture(PICTURES[s % len(PICTURES)])
        patterns = {
            "input": PATTERN.format(shot=index, kind="input", ext=input_ext),
            "target": PATTERN.format(shot=index, kind="target", ext=".png"),
            "mask": PATTERN.format(shot=index, kind="mask", ext=".png"),
        }
        start = first_frame + 100 * index  # conformed frame indices: every shot has its own range
        numbers = list(range(start, start + frames))
        for k, number in enumerate(numbers):
            y0, x0 = 40 + 3 * k, 60 + 5 * k
            target = picture[y0 : y0 + 2 * h : 2, x0 : x0 + 2 * w : 2].copy()
            target = np.clip(target + rng.normal(0.0, 0.015, target.shape), 0.0, 1.0).astype(np.float32)
            mask = np.full((h, w), 255, np.uint8)
            mask[:, : 4 + k] = 0
            write_image(
                root / (patterns["input"] % number),
                degrade(target, rng),
                bit_depth=None if input_ext == ".exr" else "16",
            )
            write_image(root / (patterns["target"] % number), target, bit_depth="16")
            write_image(root / (patterns["mask"] % number), mask, bit_depth="8")
        entry: dict[str, Any] = {
            "index": index,
            "first": numbers[0],
            "last": numbers[-1],
            "status": "aligned",
            "reason": None,
            "broadcast_first": numbers[0],
            "broadcast_last": numbers[-1],
            "film_first": 100 * index,
            "transform": {"tx": 0.0, "ty": 0.0, "sx": 1.0, "sy": 1.0},
            "frame_count": len(numbers),
            "masked_frames": [],
            **patterns,
        }
        if list_frames:
            entry["frames"] = [{"frame": n, "valid_fraction": 0.9} for n in numbers]
        entries.append(entry)
        index += 1
    root.mkdir(parents=True, exist_ok=True)
    (root / "align.json").write_text(
        json.dumps(
            {
                "version": 1,
                "broadcast": {"width": 720, "height": 480, "pixel_aspect": 8 / 9},
                "shots": entries,
            },
            indent=1,
        )
    )
    return root


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared, read-only pairs folder: 2 aligned shots (indices 0 and 2) x 4 frames of 96x72."""
    return make_pairs(tmp_path_factory.mktemp("pairs") / "PAIRS")


TINY_MODEL = {
    "model.width": 8,
    "model.growth": 4,
    "model.dense_layers": 2,
    "model.num_dcus": 1,
    "model.space_to_depth": 2,
    "model.discriminator_channels": 4,
}


def tiny_settings(**changes: Any) -> dict[str, Any]:
    """Dotted settings of a tiny run: a ~3k-parameter G, 32 px crops, batch 4, 6 steps, one thread, no
    loader processes, validation and checkpoints every 3 steps. ``changes`` use ``__`` for dots
    (``data__batch_size=2``)."""
    settings: dict[str, Any] = {
        **TINY_MODEL,
        "steps": 6,
        "data.crop_size": 32,
        "data.batch_size": 4,
        "data.workers": 0,
        "optim.lr": 2e-3,
        "optim.warmup_steps": 2,
        "checkpoint.every": 3,
        "checkpoint.keep_last": 2,
        "validation.every": 3,
        "validation.frames": 2,
        "validation.crop": 48,
        "validation.previews": 1,
        "runtime.threads": 1,
        "runtime.device": "cpu",
        "runtime.tensorboard": False,
    }
    settings.update({k.replace("__", "."): v for k, v in changes.items()})
    return settings


@pytest.fixture
def tiny_config() -> Callable[..., TrainConfig]:
    """``tiny_config(**changes)`` -> the tiny ``TrainConfig`` (see ``tiny_settings``)."""

    def build(**changes: Any) -> TrainConfig:
        return resolve_config(None, tiny_settings(**changes))

    return build
