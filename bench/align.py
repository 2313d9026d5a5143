"""Benchmark: ``remaster align`` against OpenCV's ``findTransformECC`` (affine, per frame) on a synthetic reel.

Usage (from the repository root)::

    .venv/bin/python bench/align.py                                  # preset small (960x720), seed 3
    .venv/bin/python bench/align.py --reel /tmp/reel --json bench/results/align.json --max-pairs 40

The reel (``remaster synth``, 960x720 film, barrel distortion k1 in [-0.03, -0.016], grade change,
blur, tape noise) is built once into ``--work`` (or given with ``--reel``). A conform-like folder is
made from its truth (the pre-telecine 24p frames, as half-float EXR like the conform writes, and the
true shot ranges and film offsets), so the benchmark measures alignment only, not the conform.

In the same run, on the same pairs, on this machine (OpenCV limited to 2 threads):

- ours: ``align()`` end to end, reading the frames and writing every pair (input, target, mask),
  ``align.json`` and the report. Throughput is pairs per second of wall time.
- ECC: ``cv2.findTransformECC`` with ``MOTION_AFFINE`` per frame (film luma as template, broadcast
  luma as input, started from the nominal transform, 100 iterations / 1e-6, Gaussian 5), timed for the
  estimation only (reading and writing excluded: a favour to ECC).

Accuracy (film px), for each pair:

- ``input RMS``: the misalignment of the *written* input frame against the truth-warped broadcast
  (the same 24p broadcast frame resampled through the truth's exact mapping), measured by block
  Lucas-Kanade over the pair's valid mask (``align.evaluate.registration_error``); for ECC, its
  warped broadcast measured the same way over the same mask;
- ``map RMS`` (ECC only, exact): its affine mapping against the truth mapping over the pixels that
  sample inside the broadcast; ``corner``: our ``transform`` (4 parameters) against the truth's affine
  part at the film corners, and ECC's affine there (it has no separate distortion).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remaster_core.align.evaluate import corner_error, mapping_error, registration_error, truth_maps
from remaster_core.align.pipeline import align
from remaster_core.align.prep import luma
from remaster_core.align.transform import Transform4, inside_broadcast, nominal_transform, resample
from remaster_core.io.images import read_image, write_image
from remaster_core.synth.geometry import BROADCAST_PAR
from remaster_core.synth.presets import get_preset
from remaster_core.synth.reel import build_reel


def conform_from_truth(reel: Path, out: Path) -> dict[str, Any]:
    """A conform-like folder from a synth reel's truth: frames/ (the 24p frames as half-float EXR, the
    conform's default output) and conform.json with the true shots."""
    truth = json.loads((reel / "truth.json").read_text())
    frames = out / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    n = truth["frames24p"]["count"]
    for i in range(n):
        write_image(frames / f"frame.{i:06d}.exr", read_image(reel / (truth["frames24p"]["pattern"] % i))[0])
    shots = []
    if truth["leader_frames"]:
        shots.append(
            {"first": 0, "last": truth["leader_frames"] - 1, "film_first": None, "match_score": None}
        )
    shots += [
        {"first": s["first_24p"], "last": s["last_24p"], "film_first": s["film_first"], "match_score": 1.0}
        for s in truth["shots"]
    ]
    doc = {
        "fps": "24000/1001",
        "frame_count": n,
        "frames_pattern": "frames/frame.%06d.exr",
        "cuts": [s["first"] for s in shots],
        "offset": truth["leader_frames"],
        "shots": shots,
        "film": {
            "pattern": str(reel / truth["film"]["pattern"]),
            "frame_count": truth["film"]["frame_count"],
        },
    }
    (out / "conform.json").write_text(json.dumps(doc, indent=1))
    return truth


def ecc_affine(film: np.ndarray, broadcast: np.ndarray, init: Transform4) -> np.ndarray | None:
    """ECC affine estimate (2x3 float32, film -> broadcast), or None when it does not converge."""
    warp = np.array([[init.sx, 0, init.tx], [0, init.sy, init.ty]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        _, warp = cv2.findTransformECC(
            luma(film), luma(broadcast), warp, cv2.MOTION_AFFINE, criteria, None, 5
        )
    except cv2.error:
        return None
    return warp


def run(reel: Path, work: Path, max_pairs: int | None) -> dict[str, Any]:
    """Align the reel both ways and score them; returns the numbers."""
    conform = work / "conform"
    shutil.rmtree(conform, ignore_errors=True)
    truth = conform_from_truth(reel, conform)
    film_size = tuple(truth["film"]["size"])
    pairs_dir = work / "pairs"
    t0 = time.perf_counter()
    result = align(conform, pairs_dir, force=True)
    ours_seconds = time.perf_counter() - t0
    n_pairs = result.document["summary"]["pairs"]
    by_first = {s["first_24p"]: s for s in truth["shots"]}
    nominal = nominal_transform((720, 480), BROADCAST_PAR, film_size)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    ecc_seconds = 0.0
    ecc_frames = 0
    for entry in result.shots:
        if entry["status"] != "aligned":
            continue
        shot = by_first[entry["first"]]
        tx, ty = truth_maps(shot["geometry"], film_size)  # type: ignore[arg-type]
        inside_truth = inside_broadcast(tx.astype(np.float32), ty.astype(np.float32), (720, 480), 1.0)
        ours_corner = corner_error(Transform4.from_dict(entry["transform"]), shot["geometry"], film_size)  # type: ignore[arg-type]
        frames = list(range(entry["broadcast_first"], entry["broadcast_last"] + 1))
        if max_pairs is not None:
            frames = frames[:: max(1, len(frames) // max(1, max_pairs // max(1, len(result.shots))))]
        for i in frames:
            k = entry["film_first"] + (i - entry["broadcast_first"])
            film, _ = read_image(reel / (truth["film"]["pattern"] % k))
            bc, _ = read_image(reel / (truth["frames24p"]["pattern"] % i))
            ref = resample(bc, tx.astype(np.float32), ty.astype(np.float32))
            inp, _ = read_image(pairs_dir / (entry["input"] % i))
            mask = read_image(pairs_dir / (entry["mask"] % i), channels=None)[0][..., 0] > 0.5
            valid = mask & inside_truth
            ours, _ = registration_error(inp, ref, valid)
            t = time.perf_counter()
            warp = ecc_affine(film, bc, nominal)
            ecc_seconds += time.perf_counter() - t
            ecc_frames += 1
            row: dict[str, Any] = {
                "shot": entry["index"],
                "frame": i,
                "ours_input_rms": ours,
                "ours_corner": ours_corner,
            }
            if warp is None:
                row.update({"ecc_failed": True})
            else:
                xx, yy = np.meshgrid(
                    np.arange(film_size[0], dtype=np.float64), np.arange(film_size[1], dtype=np.float64)
                )
                mx = warp[0, 0] * xx + warp[0, 1] * yy + warp[0, 2]
                my = warp[1, 0] * xx + warp[1, 1] * yy + warp[1, 2]
                ecc_img = resample(bc, mx.astype(np.float32), my.astype(np.float32))
                ecc_reg, _ = registration_error(ecc_img, ref, valid)
                row.update(
                    {
                        "ecc_input_rms": ecc_reg,
                        "ecc_map_rms": mapping_error(mx, my, shot["geometry"], inside_truth),
                        "ecc_corner": _affine_corner(warp, shot["geometry"], film_size),  # type: ignore[arg-type]
                    }
                )
            rows.append(row)
    return {
        "reel": str(reel),
        "film_size": list(film_size),
        "pairs": n_pairs,
        "shots": result.document["summary"],
        "ours_seconds": ours_seconds,
        "ours_pairs_per_s": n_pairs / ours_seconds,
        "ecc_frames": ecc_frames,
        "ecc_seconds": ecc_seconds,
        "ecc_pairs_per_s": ecc_frames / ecc_seconds if ecc_seconds else None,
        "rows": rows,
    }


def _affine_corner(warp: np.ndarray, geometry: dict[str, Any], film_size: tuple[int, int]) -> float:
    w, h = film_size
    x = np.array([0.0, w - 1, 0.0, w - 1])
    y = np.array([0.0, 0.0, h - 1, h - 1])
    bx = warp[0, 0] * x + warp[0, 1] * y + warp[0, 2]
    by = warp[1, 0] * x + warp[1, 1] * y + warp[1, 2]
    ex = (bx - (geometry["sx"] * x + geometry["tx"])) / geometry["sx"]
    ey = (by - (geometry["sy"] * y + geometry["ty"])) / geometry["sy"]
    return float(np.max(np.hypot(ex, ey)))


def _summary(values: list[float]) -> str:
    v = [x for x in values if np.isfinite(x)]
    if not v:
        return "n/a"
    return f"median {statistics.median(v):.3f}, max {max(v):.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reel", type=Path, default=None, help="an existing synth reel (default: build one)")
    p.add_argument("--preset", default="small", help="preset of the reel to build (default small, 960x720)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    p.add_argument("--max-pairs", type=int, default=None, help="score about this many pairs (default all)")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(2)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-align-"))
    work.mkdir(parents=True, exist_ok=True)
    reel = args.reel
    if reel is None:
        reel = work / f"reel-{args.preset}-{args.seed}"
        if not (reel / "truth.json").is_file():
            print(f"building reel {reel} (preset {args.preset}, seed {args.seed}) ...", flush=True)
            build_reel(reel, get_preset(args.preset), seed=args.seed, film_format="dpx", force=True)
    res = run(reel, work, args.max_pairs)
    rows = res["rows"]
    print(
        f"reel {res['reel']}: film {res['film_size'][0]}x{res['film_size'][1]}, {res['pairs']} pairs, {res['shots']}"
    )
    print(f"{'method':<8} {'pairs/s':>8}  input RMS (film px)                 corner error (film px)")
    print(
        f"{'ours':<8} {res['ours_pairs_per_s']:>8.2f}  {_summary([r['ours_input_rms'] for r in rows]):<35} "
        f"{_summary([r['ours_corner'] for r in rows])}"
    )
    ecc_rows = [r for r in rows if not r.get("ecc_failed")]
    ecc_rate = res["ecc_pairs_per_s"] or 0.0
    print(
        f"{'ECC':<8} {ecc_rate:>8.2f}  {_summary([r['ecc_input_rms'] for r in ecc_rows]):<35} "
        f"{_summary([r['ecc_corner'] for r in ecc_rows])}  (exact map RMS "
        f"{_summary([r['ecc_map_rms'] for r in ecc_rows])}; {len(rows) - len(ecc_rows)} failed)"
    )
    print("ours: end to end with reading and writing the pairs; ECC: estimation only")
    if args.json:
        res["machine"] = {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
