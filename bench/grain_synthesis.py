"""Grain synthesis cost per frame: ``remaster_core.grain.add_grain`` against the two ways the render did
the same thing before, in the same run, with the same profile.

    .venv/bin/python bench/grain_synthesis.py [--sizes 720x480 1440x1080] [--repeats 5]
                                              [--out bench/results/grain_synthesis.json]

Baselines: ``pixel_domain_grain`` (the render's grain until early 2026-12) draws three planes of white
noise with numpy's Philox generator, mixes them, transforms them forward (``rfft2``), filters, transforms
back, and blurs the level on all three channels; ``numpy_spectrum_grain`` (until late 2026-12) draws the
noise's half spectrum directly as float32 normals with SFC64 (one FFT instead of two), inverts it with
numpy's ``irfft2`` and reads the level gain with three ``np.interp``. ``add_grain`` draws uniform 16-bit
numbers in OpenCV's packed spectrum layout, inverts with ``cv2.idft`` and reads the level gain from a
table (see its module docstring). All run on one thread (``OMP_NUM_THREADS=1`` is set before numpy
loads, ``cv2.setNumThreads(1)``), best of ``--repeats``, on a mid-grey picture with the profile of the
synthetic reels' film grain. They are different draws of the same grain: the table also gives each
one's RMS per channel against the profile's and the ratio of its power to ours in three octave bands
(should be 1 within sampling noise). Row ``excess``: the step before the grain for a model that
records its output's grain (``remaster_core.grain.excess.remove_excess``; here an output holding twice
the profile's power above 1/4 cycle/px, two half-octave bands looked at), timed the same way, as a
ratio to ``add_grain``'s time (what it adds to the grain step); row ``excess paired``: the same with the
frame before given (``pair``: what the render does with ``--deflicker-output``; the motion between the
two and the strength read on their difference too), as a ratio to ``add_grain``'s and to the step's
alone. About 40 s on two cores.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2
import numpy as np

from remaster_core.grain import GrainSettings, add_grain, estimate_profile
from remaster_core.grain.excess import excess_plan, remove_excess
from remaster_core.grain.profile import GrainProfile, ring_frequencies
from remaster_core.grain.synthesis import GRAIN_STREAM, _mixing, level_positions
from remaster_core.io.atomic import write_json_atomic
from remaster_core.look.regions import gaussian, luma
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as film_grain

RESULTS = ROOT / "bench" / "results" / "grain_synthesis.json"


@functools.lru_cache(maxsize=2)
def half_filters(profile: GrainProfile, height: int, width: int) -> np.ndarray:
    """float32 (3, H, W // 2 + 1): the profile's amplitude on numpy's half spectrum, scaled to its variance
    (the baselines' filters, computed once per size like ours)."""
    rings = np.arange(len(profile.spectrum[0]), dtype=np.float64)
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :]) * profile.tile
    full = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]) * profile.tile
    weights = np.full(width // 2 + 1, 2.0)
    weights[0] = 1.0
    if width % 2 == 0:
        weights[-1] = 1.0
    out = np.empty((3, height, width // 2 + 1), np.float32)
    for c, ch in enumerate(profile.spectrum):
        s = np.asarray(ch, np.float64)
        psd = np.interp(radius, rings, s, right=0.0)
        got = float((psd * weights).sum() / (height * width))
        target = float(np.interp(full, rings, s, right=0.0).mean())
        out[c] = np.sqrt(psd * (target / got if got > 0 else 0.0))
    return out


def _interp_gain(profile: GrainProfile, level: np.ndarray) -> np.ndarray:
    centres, gains = level_positions(profile), np.asarray(profile.level_gain)
    return np.stack([np.interp(level, centres, gains[:, c]) for c in range(3)], -1).astype(np.float32)


def pixel_domain_grain(picture: np.ndarray, profile: GrainProfile, seed: int, frame: int) -> np.ndarray:
    """The first baseline: float32 (H, W, 3) ``picture`` plus grain made from pixel-domain white noise."""
    h, w = picture.shape[:2]
    rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([GRAIN_STREAM, seed, frame])))
    noise = rng.standard_normal((3, h, w), dtype=np.float32)
    mixed = np.einsum("ij,jhw->ihw", _mixing(profile), noise, optimize=False)
    spectrum = np.fft.rfft2(mixed, axes=(1, 2))
    spectrum *= half_filters(profile, h, w)
    field = np.moveaxis(np.fft.irfft2(spectrum, s=(h, w), axes=(1, 2)), 0, -1).astype(np.float32)
    return picture + field * _interp_gain(profile, luma(gaussian(picture, profile.smooth_sigma)))


def numpy_spectrum_grain(picture: np.ndarray, profile: GrainProfile, seed: int, frame: int) -> np.ndarray:
    """The second baseline: float32 (H, W, 3) ``picture`` plus grain drawn as float32 normals on numpy's
    half spectrum, inverted by ``irfft2``."""
    h, w = picture.shape[:2]
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence([GRAIN_STREAM, seed, frame])))
    parts = rng.standard_normal((3, h, w // 2 + 1, 2), dtype=np.float32)
    parts *= np.float32(np.sqrt(h * w / 2.0))
    parts[:, :, 0] *= np.float32(np.sqrt(2.0))
    if w % 2 == 0:
        parts[:, :, -1] *= np.float32(np.sqrt(2.0))
    spectrum = parts.view(np.complex64)[..., 0]
    mixed = np.einsum("ij,jhw->ihw", _mixing(profile).astype(np.complex64), spectrum, optimize=False)
    mixed *= half_filters(profile, h, w)
    field = np.fft.irfft2(mixed, s=(h, w), axes=(1, 2)).astype(np.float32, copy=False).transpose(1, 2, 0)
    gain = _interp_gain(profile, gaussian(luma(picture), profile.smooth_sigma))
    gain *= field
    gain += picture
    return gain


def best_seconds(fn: Callable[[int], np.ndarray], repeats: int) -> float:
    fn(0)  # filters cached, pages touched
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        fn(k + 1)
        times.append(time.perf_counter() - t0)
    return min(times)


def band_power(grain: np.ndarray) -> list[float]:
    """Mean power of the luma of float32 (H, W, 3) ``grain`` in the octaves (1/8-1/4, 1/4-1/2, 1/2-1) of
    the Nyquist radius."""
    y = luma(np.ascontiguousarray(grain))
    power = np.abs(np.fft.rfft2(y)) ** 2
    r = np.hypot(np.fft.fftfreq(y.shape[0])[:, None], np.fft.rfftfreq(y.shape[1])[None, :]) / 0.5
    return [float(power[(r >= lo) & (r < 2 * lo)].mean()) for lo in (0.125, 0.25, 0.5)]


BASELINES = {"numpy_spectrum": numpy_spectrum_grain, "pixel_domain": pixel_domain_grain}


def _fine_excess(profile: GrainProfile) -> GrainProfile:
    """``profile`` with twice its power above 1/4 cycle/px: a model's output with grain of its own."""
    gain = np.where(ring_frequencies(profile) > 0.25, 2.0, 1.0)
    return replace(
        profile, spectrum=tuple(tuple(float(v) for v in np.asarray(ch) * gain) for ch in profile.spectrum)
    )


def measure(size: tuple[int, int], profile: GrainProfile, repeats: int) -> dict[str, object]:
    w, h = size
    picture = np.full((h, w, 3), 0.4, np.float32)
    ours = best_seconds(lambda k: add_grain(picture, profile, GrainSettings(), shot=0, frame=k), repeats)
    a = add_grain(picture, profile, GrainSettings(), shot=0, frame=1) - picture
    row: dict[str, object] = {"size": f"{w}x{h}", "ours_s": ours, "rms_profile": list(profile.rms)}
    row["rms_ours"] = [float(v) for v in a.reshape(-1, 3).std(axis=0)]
    plan = excess_plan(profile, _fine_excess(profile))
    grainy = add_grain(picture, _fine_excess(profile), GrainSettings(), shot=0, frame=1)
    row["excess_s"] = best_seconds(lambda k: remove_excess(grainy, plan), repeats)
    before = add_grain(picture, _fine_excess(profile), GrainSettings(), shot=0, frame=0)
    row["excess_paired_s"] = best_seconds(lambda k: remove_excess(grainy, plan, (grainy, before)), repeats)
    row["excess_bands"] = [int(i) for i, on in enumerate(plan.bands or ()) if on]
    for name, fn in BASELINES.items():
        row[f"{name}_s"] = best_seconds(lambda k, fn=fn: fn(picture, profile, 0, k), repeats)  # type: ignore[misc]
        row[f"speedup_vs_{name}"] = row[f"{name}_s"] / ours  # type: ignore[operator]
        b = fn(picture, profile, 0, 1) - picture
        row[f"rms_{name}"] = [float(v) for v in b.reshape(-1, 3).std(axis=0)]
        row[f"band_power_{name}_over_ours"] = [
            x / y for x, y in zip(band_power(b), band_power(a), strict=True)
        ]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["720x480", "1440x1080"], metavar="WxH")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ramp = np.full((256, 320, 3), 0.4, np.float32)
    profile = estimate_profile(
        [film_grain(ramp, np.random.default_rng([7, k]), GrainParams()) for k in range(4)]
    )
    cv2.setNumThreads(1)
    rows = [measure(tuple(int(v) for v in s.split("x")), profile, args.repeats) for s in args.sizes]  # type: ignore[arg-type]
    print(f"{'size':>10} {'way':>15} {'ms':>7} {'ours x':>7}  {'RMS / profile':>18}  band power / ours")
    for r in rows:
        for name in ["ours", *BASELINES]:
            rms = "/".join(f"{o / p:.3f}" for o, p in zip(r[f"rms_{name}"], r["rms_profile"], strict=True))  # type: ignore[call-overload]
            speed = "" if name == "ours" else f"{r[f'speedup_vs_{name}']:6.2f}x"
            bands = "" if name == "ours" else " ".join(f"{v:.3f}" for v in r[f"band_power_{name}_over_ours"])  # type: ignore[attr-defined]
            print(f"{r['size']:>10} {name:>15} {r[f'{name}_s'] * 1e3:7.1f} {speed:>7}  {rms:>18}  {bands}")  # type: ignore[operator]
        excess_ratio = r["excess_s"] / r["ours_s"]  # type: ignore[operator]
        print(
            f"{r['size']:>10} {'excess':>15} {r['excess_s'] * 1e3:7.1f} {excess_ratio:6.2f}x of ours (bands {r['excess_bands']})"
        )  # type: ignore[operator]
        paired_ratio = r["excess_paired_s"] / r["ours_s"]  # type: ignore[operator]
        print(
            f"{r['size']:>10} {'excess paired':>15} {r['excess_paired_s'] * 1e3:7.1f} {paired_ratio:6.2f}x of ours"
            f" ({r['excess_paired_s'] / r['excess_s']:.2f}x excess alone)"  # type: ignore[operator]
        )
    write_json_atomic(args.out, {
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "numpy": np.__version__, "threads": os.environ.get("OMP_NUM_THREADS"), "results": rows,
    })  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
