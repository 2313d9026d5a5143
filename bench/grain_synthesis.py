"""Grain synthesis cost per frame: ``remaster_core.grain.add_grain`` against the pixel-domain way of doing
the same thing, in the same run, with the same profile.

    .venv/bin/python bench/grain_synthesis.py [--sizes 720x480 1440x1080] [--repeats 5]
                                              [--out bench/results/grain_synthesis.json]

The baseline (``pixel_domain_grain``, the render's grain until 2026-12) draws three planes of white
noise with numpy's Philox generator, mixes them, transforms them forward (``rfft2``), filters, transforms
back, and blurs the level on all three channels. ``add_grain`` draws the noise's spectrum directly with
SFC64 (one FFT instead of two) and blurs the level on luma (see its module docstring). Both run on one
thread (``OMP_NUM_THREADS=1`` is set before numpy loads; numpy's FFT is single-threaded anyway), best of
``--repeats``, on a mid-grey picture with the profile of the synthetic reels' film grain. The two are
different draws of the same grain: the table also gives each one's RMS per channel against the
profile's and the ratio of their power in three octave bands (should be 1 within sampling noise).
About 20 s on two cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from remaster_core.grain import GrainSettings, add_grain, estimate_profile
from remaster_core.grain.profile import GrainProfile
from remaster_core.grain.synthesis import GRAIN_STREAM, _filters, _mixing
from remaster_core.io.atomic import write_json_atomic
from remaster_core.look.regions import gaussian, luma
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as film_grain

RESULTS = ROOT / "bench" / "results" / "grain_synthesis.json"


def pixel_domain_grain(picture: np.ndarray, profile: GrainProfile, seed: int, frame: int) -> np.ndarray:
    """The baseline: float32 (H, W, 3) ``picture`` plus grain made from pixel-domain white noise."""
    h, w = picture.shape[:2]
    rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([GRAIN_STREAM, seed, frame])))
    noise = rng.standard_normal((3, h, w), dtype=np.float32)
    mixed = np.einsum("ij,jhw->ihw", _mixing(profile), noise, optimize=False)
    spectrum = np.fft.rfft2(mixed, axes=(1, 2))
    spectrum *= _filters(profile, h, w, 1.0)
    field = np.moveaxis(np.fft.irfft2(spectrum, s=(h, w), axes=(1, 2)), 0, -1).astype(np.float32)
    level = luma(gaussian(picture, profile.smooth_sigma))
    edges = np.asarray(profile.level_edges)
    centres, gains = (edges[:-1] + edges[1:]) / 2, np.asarray(profile.level_gain)
    gain = np.stack([np.interp(level, centres, gains[:, c]) for c in range(3)], -1).astype(np.float32)
    return picture + field * gain


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


def measure(size: tuple[int, int], profile: GrainProfile, repeats: int) -> dict[str, object]:
    w, h = size
    picture = np.full((h, w, 3), 0.4, np.float32)
    ours = best_seconds(lambda k: add_grain(picture, profile, GrainSettings(), shot=0, frame=k), repeats)
    base = best_seconds(lambda k: pixel_domain_grain(picture, profile, 0, k), repeats)
    a = add_grain(picture, profile, GrainSettings(), shot=0, frame=1) - picture
    b = pixel_domain_grain(picture, profile, 0, 1) - picture
    return {
        "size": f"{w}x{h}",
        "ours_s": ours,
        "pixel_domain_s": base,
        "speedup": base / ours,
        "rms_ours": [float(v) for v in a.reshape(-1, 3).std(axis=0)],
        "rms_pixel_domain": [float(v) for v in b.reshape(-1, 3).std(axis=0)],
        "rms_profile": list(profile.rms),
        "band_power_ratio": [x / y for x, y in zip(band_power(a), band_power(b), strict=True)],
    }


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
    rows = [measure(tuple(int(v) for v in s.split("x")), profile, args.repeats) for s in args.sizes]  # type: ignore[arg-type]
    print(
        f"{'size':>10} {'ours ms':>8} {'pixel-domain ms':>16} {'speed-up':>9}  {'RMS ours / profile':>22}  band power ours/base"
    )
    for r in rows:
        rms = "/".join(f"{o / p:.3f}" for o, p in zip(r["rms_ours"], r["rms_profile"], strict=True))  # type: ignore[call-overload]
        bands = " ".join(f"{v:.3f}" for v in r["band_power_ratio"])  # type: ignore[attr-defined]
        print(f"{r['size']:>10} {r['ours_s'] * 1e3:8.1f} {r['pixel_domain_s'] * 1e3:16.1f} "  # type: ignore[operator]
              f"{r['speedup']:8.2f}x  {rms:>22}  {bands}")  # fmt: skip
    write_json_atomic(args.out, {
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "numpy": np.__version__, "threads": os.environ.get("OMP_NUM_THREADS"), "results": rows,
    })  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
