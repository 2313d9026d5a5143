"""The grain the best weights already reproduce, so that render synthesises only what is missing.

The broadcast is made from the grainy film, so part of the film's grain survives in it (the coarse
grain above all) and a model trained on the scans reproduces that very grain. Synthesising the film's
whole profile on top of such an output doubles the grain where it overlaps: measured with
``bench/grain.py`` (``tiny`` reel seed 2, ``lite``, 300 steps, held-out shot; grain on frame
differences), the stage-1 output alone reads a grain amplitude of 1.03 of the film's (octave bands
0.93 / 1.18 / 1.18) and 1.41 with the full profile added (1.96 / 2.01 / 1.96); with the deficit added,
1.05 (1.03 / 1.18 / 1.18), and 33.7 dB against 32.7.

``record_output_grain(best, frames, film)`` runs the best weights (EMA) on up to ``MAX_FRAMES`` of the
training pairs' inputs and on the frame before each in its shot (the grain is measured on their
motion-compensated difference, as the film's profile is), at most ``MAX_SIDE`` px a side (the part of each frame with the most flat tiles
of its target: a 2K scan costs no more than a small one; on the GPU when there is one), measures the
output's grain in the film targets' flat tiles (``ProfileAccumulator.add(output, reference=target)``:
the tiles ``remaster_core.look`` compares) at the film profile's tile size, and records the profile in
the checkpoint's ``extra`` under ``OUTPUT_GRAIN_KEY``. ``remaster export`` then embeds
``grain_deficit(film, output)``: the film's spectrum less the output's, ring by ring, never below 0,
and scaled down in an octave band where output and deficit would hold more than the film's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from remaster_core.grain.profile import GrainProfile, ProfileAccumulator, excess_bands, excess_message
from remaster_core.look.regions import LookParams, flat_tiles, gaussian, luma
from training.checkpoint import add_to_extra
from training.colour_init import deployable_generator
from training.data import PairFrame, read_pair
from training.grain import predecessors, sample_frames

log = logging.getLogger("remaster.train")

OUTPUT_GRAIN_KEY = "output_grain"
"""The checkpoint ``extra`` key of the output's grain profile (``GrainProfile.to_dict``)."""
MAX_FRAMES = 8
"""The most training frames the output's grain is measured on."""
MAX_SIDE = 512
"""px: the central part of a frame at most this wide and high is run through the model (64 tiles of 64 px
a frame: 8 frames give enough flat ones, and the paper preset on a CPU stays at seconds a frame)."""


def _window(target: np.ndarray, params: LookParams) -> tuple[slice, slice]:
    """The part of a frame at most ``MAX_SIDE`` px a side, on the tile grid, that holds the most flat
    tiles of ``target`` (float32 (H, W, 3)): where the grain can be measured (a sky at the top)."""
    h, w = target.shape[:2]
    t = params.tile
    level = luma(gaussian(target, params.smooth_sigma))
    flat = flat_tiles(level, params).astype(np.int64)
    rows, cols = flat.shape
    if rows == 0 or cols == 0:  # smaller than a tile: nothing to choose
        return slice(0, h), slice(0, w)
    kr, kc = min(rows, max(1, MAX_SIDE // t)), min(cols, max(1, MAX_SIDE // t))
    sums = np.pad(flat, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    boxes = sums[kr:, kc:] - sums[:-kr, kc:] - sums[kr:, :-kc] + sums[:-kr, :-kc]  # (rows-kr+1, cols-kc+1)
    r, c = np.unravel_index(int(np.argmax(boxes)), boxes.shape)
    side_h, side_w = min(h, max(MAX_SIDE, kr * t)), min(w, max(MAX_SIDE, kc * t))
    top, left = min(int(r) * t, h - side_h), min(int(c) * t, w - side_w)
    return slice(top, top + side_h), slice(left, left + side_w)


def measure_output_grain(
    generator: torch.nn.Module, frames: Sequence[PairFrame], film: GrainProfile, count: int = MAX_FRAMES
) -> GrainProfile:
    """The grain profile of ``generator``'s output (float32 RGB, its inputs' range) on up to ``count``
    of ``frames``, in their targets' flat tiles, measured on ``film``'s tile size; each output with the
    output of the frame before it in its shot where there is one (their motion-compensated difference,
    the targets' motion: how the film's profile was measured, ``training.grain.measure_profile``)."""
    acc = ProfileAccumulator(dataclasses.replace(LookParams(), tile=film.tile), one_size=True)
    device = next(generator.parameters()).device
    generator.eval()
    before = predecessors(frames)

    def run(x: np.ndarray) -> np.ndarray:
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(device)
        with torch.no_grad():
            out = generator(tx)[0].float().cpu().numpy().transpose(1, 2, 0)
        return np.ascontiguousarray(out, dtype=np.float32)

    for pair in sample_frames(frames, count):
        x, y, _ = read_pair(pair)
        rows, cols = _window(y, acc.params)
        prior = before.get((pair.shot, pair.frame))
        if prior is None:
            acc.add(run(x[rows, cols]), reference=y[rows, cols])
            continue
        px, py, _ = read_pair(prior)
        acc.add(
            run(x[rows, cols]), reference=y[rows, cols],
            previous=run(px[rows, cols]), previous_reference=py[rows, cols],
        )  # fmt: skip
    return acc.result()


def record_output_grain(
    best: Path, frames: Sequence[PairFrame], film: GrainProfile, device: torch.device | None = None
) -> GrainProfile | None:
    """Measure the best weights' output grain (``measure_output_grain``, on ``device``: the run's, default
    the CPU) and record it in ``best``'s ``extra`` (the weights are unchanged). Returns it, or None (no
    best file, or no film grain)."""
    if not best.is_file() or film.is_zero or not frames:
        return None
    graded, _ = deployable_generator(best)  # as export makes it: the guard's grade in the path
    output = measure_output_grain(graded.to(device or torch.device("cpu")), frames, film)
    add_to_extra(best, {OUTPUT_GRAIN_KEY: output.to_dict()})
    share = [o / f if f > 0 else 0.0 for o, f in zip(output.rms, film.rms, strict=True)]
    log.info(
        "best.safetensors: its output already carries %s of the film's grain RMS (R, G, B) in the film's "
        "flat areas; export adds only the rest",
        "/".join(f"{s:.2f}" for s in share),
    )
    for band, ratio in excess_bands(output, film):
        log.warning("best.safetensors: %s", excess_message(band, ratio))
    return output
