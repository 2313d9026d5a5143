"""The run's grain profile: the training film's grain, measured once from the pairs' targets.

``write_run_profile(frames, run_dir)`` measures the grain (``remaster_core.grain.ProfileAccumulator``) of
the film frames (targets) of the training pairs, at most ``MAX_FRAMES`` of them spread evenly over the
training shots (the grain of a stock is the same in every shot: a few dozen frames measure it to a
percent), each on its motion-compensated difference with the frame before it in its shot, and writes
``RUN/grain.json``. ``remaster export`` puts it into the model's metadata; the render then
synthesises that grain on the model's output (``remaster_core.grain.synthesis``).

Why the model trains on the scans as they are, not on degrained targets: measured with
``bench/grain.py`` (``tiny`` reel seed 1, ``lite``, 300 steps, held-out shot 3 against its film): on the
scans 27.57 dB and a detail ratio of 0.74; on targets degrained with non-local means 26.42 dB and 0.52.
The reconstruction loss already averages the unpredictable grain out of the output (its flat regions
kept 0.65 of the film's single-frame residual, mostly the picture's fine structure; on frame
differences, seed 1's output reads 0.48 of the film's grain), while a degrainer also takes
fine detail out of the targets, which the model then learns to leave out. The grain then comes from
synthesis on the scans' own profile either way.

A resumed run keeps its ``grain.json``; a run trained before grain profiles has none, and exports
without grain. Torch-free.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from remaster_core.grain.outliers import MIN_TILES
from remaster_core.grain.profile import GRAIN_FILE, GrainProfile, ProfileAccumulator, write_profile
from remaster_core.io.images import read_image

log = logging.getLogger("remaster.train")

MAX_FRAMES = 32
"""The most target frames the profile is measured on."""


class _Pair(Protocol):
    @property
    def shot(self) -> int: ...
    @property
    def frame(self) -> int: ...
    @property
    def target(self) -> Path: ...


P = TypeVar("P", bound=_Pair)


def sample_frames(frames: Sequence[P], count: int = MAX_FRAMES) -> list[P]:
    """Up to ``count`` of ``frames``, spread evenly over the list (first and last included)."""
    if len(frames) <= count:
        return list(frames)
    step = (len(frames) - 1) / (count - 1)
    return [frames[round(i * step)] for i in range(count)]


def predecessors(frames: Sequence[P]) -> dict[tuple[int, int], P]:
    """(shot, frame) -> the pair of that shot's frame ``frame - 1``, where there is one."""
    by_key = {(f.shot, f.frame): f for f in frames}
    return {key: by_key[(key[0], key[1] - 1)] for key in by_key if (key[0], key[1] - 1) in by_key}


def measure_profile(frames: Sequence[_Pair], count: int = MAX_FRAMES) -> GrainProfile:
    """The grain profile of the targets of (up to ``count`` of) ``frames``, each measured with the target
    of the frame before it in its shot where there is one (``ProfileAccumulator.add``'s ``previous``:
    the picture's own structure cancels in their difference).

    Raises:
        InputError: a target that cannot be read (named).
    """
    acc = ProfileAccumulator()
    before = predecessors(frames)
    for pair in sample_frames(frames, count):
        rgb, _ = read_image(pair.target)
        prior = before.get((pair.shot, pair.frame))
        previous = read_image(prior.target)[0] if prior is not None else None
        acc.add(rgb, previous=previous)
    return acc.result()


def write_run_profile(frames: Sequence[_Pair], run_dir: Path) -> GrainProfile:
    """Measure the training targets' grain and write ``RUN/grain.json``; a run that has one keeps it."""
    path = Path(run_dir) / GRAIN_FILE
    if path.is_file():
        from remaster_core.grain.profile import read_profile

        return read_profile(path)
    profile = measure_profile(frames)
    write_profile(path, profile)
    if profile.is_zero:
        log.warning("%s: the film has no measurable grain (%s); renders will add none", path, profile.reason)
    else:
        r, g, b = profile.rms
        log.info(
            "film grain (%d frames, %d flat tiles): RMS R %.4f G %.4f B %.4f -> %s",
            profile.frames, profile.flat_tiles, r, g, b, path,
        )  # fmt: skip
        if profile.flat_tiles < MIN_TILES:
            log.warning(
                "%s: the training film's grain rests on %d flat %d px tile(s) (fewer than %d): its spectrum "
                "and level response are rough; add film of shots with flat areas (sky, walls) to measure it",
                path, profile.flat_tiles, profile.tile, MIN_TILES,
            )  # fmt: skip
        gaps = profile.unmeasured_ranges()
        if gaps:
            where = ", ".join(f"{lo:.1f}-{hi:.1f}" for lo, hi in gaps)
            log.warning(
                "%s: the training film's flat areas hold no luma %s, so the grain's amplitude there was "
                "never measured: renders give those levels one guessed from the measured levels (never "
                "more than the most measured) and flag the frames that lie mostly there "
                "(grain_extrapolated in their logs); add film of such shots to measure it",
                path, where,
            )  # fmt: skip
    return profile
