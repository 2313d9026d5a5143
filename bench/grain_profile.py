"""How close the grain profile measured from a reel's film is to the film's true grain stock.

    .venv/bin/python bench/grain_profile.py --seeds 2 3 4 --out bench/results/grain_profile.json

Per reel seed: the ``remaster synth`` reel and its pairs folder (``bench/grain.py``'s, built when missing,
kept under ``--work``: the two benches share them); the profile of the training targets
(``training.grain.measure_profile``, what ``remaster train`` writes as ``RUN/grain.json``); then, at each
of ``--levels`` (a flat grey picture, float32 R'G'B'), ``--frames`` frames of grain synthesised from the
profile (``remaster_core.grain.add_grain``) scored against as many frames of the reel's true stock
(``synth.scenes.add_grain`` with the reel's ``truth.json`` ``film_grain``) by ``remaster_core.look``:
the amplitude ratio and each octave band's power ratio (1 is the stock's own). Whether the profile
measured that level (``GrainProfile.level_measured``) is reported beside it: elsewhere the level
response is guessed from the measured levels. No model is trained.

This isolates the profile (the spectrum, the level response) from the model: ``bench/grain.py``'s
figures are the model's output plus the grain synthesised over it, where an error of either can hide
one of the other.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from grain import seed_pairs

from remaster_core.grain import GrainSettings, add_grain
from remaster_core.grain.profile import GrainProfile, level_bins
from remaster_core.io.atomic import write_json_atomic
from remaster_core.look import score_sequences
from remaster_core.synth.scenes import GrainParams
from remaster_core.synth.scenes import add_grain as stock_grain
from training.data import scan_pairs
from training.grain import measure_profile

SIZE = (360, 480)
"""(H, W) of the grey frames the grain is compared on."""


def compare_at(profile: GrainProfile, stock: GrainParams, level: float, frames: int) -> dict[str, Any]:
    """The profile's synthesised grain against the true stock's on ``frames`` grey frames at ``level``."""
    grey = np.full((*SIZE, 3), level, np.float32)
    rng = np.random.default_rng([int(level * 1000), frames])
    truth = [stock_grain(grey, rng, stock).astype(np.float32) for _ in range(frames)]
    ours = [add_grain(grey, profile, GrainSettings(seed=0), shot=0, frame=k) for k in range(frames)]
    g = score_sequences(ours, truth).grain
    measured = None
    if profile.level_measured is not None:
        measured = bool(profile.level_measured[int(level_bins(np.array([level]), profile.level_edges)[0])])
    return {
        "level": level,
        "measured": measured,
        "amplitude": g.amplitude.ratio,
        "bands": [b.power.ratio for b in g.bands],
    }


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    reel, pairs = seed_pairs(args.work / f"seed{seed}", args.preset, seed, args.grain_stock)
    stock = GrainParams(**json.loads((reel / "truth.json").read_text())["film_grain"])
    profile = measure_profile(scan_pairs(pairs).train)
    return {
        "seed": seed,
        "stock": dataclasses.asdict(stock),
        "tile": profile.tile,
        "temporal": profile.temporal,
        "flat_tiles": profile.flat_tiles,
        "reason": profile.reason,
        "levels": []
        if profile.is_zero
        else [compare_at(profile, stock, v, args.frames) for v in args.levels],
    }


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/remaster_grain"), help="scratch folder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/grain_profile.json")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument(
        "--grain-stock", default="drawn", choices=("preset", "drawn"),
        help="the reels' film grain, as bench/grain.py's option (the two benches share reels)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--levels", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9], help="one per level bin"
    )
    parser.add_argument("--frames", type=int, default=6)
    args = parser.parse_args(argv)
    rows = [run_seed(args, seed) for seed in args.seeds]
    print(
        f"{'seed':>4} {'tile':>4} {'tiles':>5} {'level':>5} {'meas':>5} {'amp':>5}  bands fine/middle/coarse"
    )
    for r in rows:
        if not r["levels"]:
            print(f"{r['seed']:>4} {r['tile']:>4} {r['flat_tiles']:>5}  no profile: {r['reason']}")
        for v in r["levels"]:
            bands = "/".join(_f(b) for b in v["bands"])
            print(
                f"{r['seed']:>4} {r['tile']:>4} {r['flat_tiles']:>5} {v['level']:>5.2f} "
                f"{v['measured']!s:>5} {_f(v['amplitude']):>5}  {bands}"
            )
    write_json_atomic(args.out, {"machine": platform.processor() or platform.machine(), "seeds": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
