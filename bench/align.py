"""Benchmark: ``remaster align`` against OpenCV ``findTransformECC`` and a plain dense flow, per warp family.

Usage (from the repository root)::

    .venv/bin/python bench/align.py --work /tmp/bench-align                 # held-out seeds 201, 202
    .venv/bin/python bench/align.py --families all,keystone --seeds 7 --frames 8 --json out.json
    .venv/bin/python bench/align.py --reel REEL                               # a reel from remaster synth

The corpus (built once into ``--work``, reused): one shot per (telecine warp family, seed), rendered by
``remaster_core.synth.warps.render_warped_shot`` at 960x720 film (grain, the reel's degradation, the
warp of that family on top of the lens model: radial k1..k3 either way, decentring, keystone, rotation
up to 1 degree, a smooth random field, drift, gate weave; ``none`` is the lens model alone), over real
photographs: the reel's scikit-image pictures and held-out ones it never uses, alternately. The shots
go into one conform-like folder (conformed frames as half-float EXR like the conform writes, film as
10-bit DPX, the true shot ranges), so ``align()`` runs end to end. With ``--reel``, a reel made by
``remaster synth --telecine-warp FAMILY`` is used instead (its 24p frames, the true shots).

The seeds 201 and 202 are held out: the alignment was tuned on other seeds and never on these.

Methods, on the same pairs, on this machine (OpenCV limited to 2 threads):

- ours: ``align()`` end to end, reading the frames and writing every pair (input, target, mask),
  ``align.json`` and the report, its shots in worker processes (``--workers``, default one per core).
  Throughput: pairs per second of wall time, everything included; and pairs per CPU second of the
  process and its worker processes (all their threads), with the machine's load average, because on
  a shared machine the wall time says more about the others' work than about ours.
- ECC affine / ECC homography: ``cv2.findTransformECC`` per frame (film luma template, broadcast luma,
  from the nominal transform, 100 iterations / 1e-6, Gaussian 5); the estimation only is timed.
- dense only: the broadcast resampled through the nominal transform, DIS optical flow (medium preset,
  variational refinement) from the film to it on the film raster, the mapping = nominal + flow; the
  flow only is timed.

Accuracy, per scored pair (``--score`` frames per shot): ``flow_misalignment`` (``align.evaluate``)
of the input each method makes against the same conformed frame resampled through the true mapping,
film px RMS over the textured 70 % of the pixels that are valid (ours: its mask; the others have no
mask: every pixel the truth samples inside the broadcast); ``valid``: ours' mask over those pixels.
The measure's floor (a perfect answer written as half floats) is reported with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remaster_core.align.evaluate import flow_misalignment, flow_misalignment_floor
from remaster_core.align.pipeline import align
from remaster_core.align.prep import luma, normalised, to_u8
from remaster_core.align.transform import inside_broadcast, nominal_transform, resample, sampling_maps
from remaster_core.io.images import read_image, write_image
from remaster_core.synth.geometry import BROADCAST_PAR, ShotGeometry
from remaster_core.synth.warps import FAMILIES, TelecineWarp, render_warped_shot, truth_maps

HELD_OUT_SEEDS = (201, 202)
PICTURES = (
    "camera",
    "astronaut",
    "brick",
    "coffee",
    "motorcycle_right",
    "chelsea",
    "gravel",
    "rocket",
    "moon",
)
FILM_SIZE = (960, 720)


def build_corpus(folder: Path, families: list[str], seeds: list[int], n_frames: int) -> dict[str, Any]:
    """Render the shots into a conform-like folder (once: reused when its truth is there)."""
    truth_path = folder / "truth.json"
    key = {"families": families, "seeds": seeds, "frames": n_frames}
    if truth_path.is_file():
        truth = json.loads(truth_path.read_text())
        if truth["key"] == key:
            return truth
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    (folder / "film").mkdir(parents=True, exist_ok=True)
    shots: list[dict[str, Any]] = []
    i = 0
    for seed in seeds:
        for fam_index, family in enumerate(families):
            source = PICTURES[(seed + fam_index) % len(PICTURES)]
            shot = render_warped_shot(seed, family, n_frames, FILM_SIZE, source)
            for k in range(n_frames):
                write_image(folder / "frames" / f"frame.{i + k:06d}.exr", shot.broadcast[k])
                write_image(folder / "film" / f"film.{i + k:06d}.dpx", shot.film[k])
            shots.append({
                "first": i, "last": i + n_frames - 1, "film_first": i, "match_score": 1.0, "family": family,
                "seed": seed, "source": source, "geometry": shot.geometry.to_dict(),
                "warp": None if shot.warp is None else shot.warp.to_dict(),
            })  # fmt: skip
            i += n_frames
            print(f"  corpus: shot {len(shots) - 1} {family} seed {seed} ({source})", flush=True)
    doc = {
        "fps": "24000/1001",
        "frame_count": i,
        "frames_pattern": "frames/frame.%06d.exr",
        "cuts": [s["first"] for s in shots],
        "offset": 0,
        "shots": [{k: s[k] for k in ("first", "last", "film_first", "match_score")} for s in shots],
        "film": {"pattern": str(folder / "film" / "film.%06d.dpx"), "frame_count": i},
    }
    (folder / "conform.json").write_text(json.dumps(doc, indent=1))
    truth = {"key": key, "shots": shots, "frames": "frames/frame.%06d.exr", "film": "film/film.%06d.dpx"}
    truth_path.write_text(json.dumps(truth, indent=1))
    return truth


def corpus_from_reel(reel: Path, folder: Path) -> dict[str, Any]:
    """A conform-like folder from a ``remaster synth`` reel's truth (the 24p frames, the true shots)."""
    t = json.loads((reel / "truth.json").read_text())
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    for i in range(t["frames24p"]["count"]):
        dest = folder / "frames" / f"frame.{i:06d}.exr"
        if not dest.is_file():
            write_image(dest, read_image(reel / (t["frames24p"]["pattern"] % i))[0])
    shots = [
        {"first": s["first_24p"], "last": s["last_24p"], "film_first": s["film_first"], "match_score": 1.0,
         "family": (s.get("warp") or {}).get("family", "none"), "seed": t["seed"], "source": s["source_image"],
         "geometry": s["geometry"], "warp": s.get("warp")}
        for s in t["shots"] if s["film_first"] is not None
    ]  # fmt: skip
    film = str(reel / t["film"]["pattern"])
    doc = {
        "fps": "24000/1001", "frame_count": t["frames24p"]["count"], "frames_pattern": "frames/frame.%06d.exr",
        "cuts": [s["first"] for s in shots], "offset": t["leader_frames"],
        "shots": [{k: s[k] for k in ("first", "last", "film_first", "match_score")} for s in shots],
        "film": {"pattern": film, "frame_count": t["film"]["frame_count"]},
    }  # fmt: skip
    (folder / "conform.json").write_text(json.dumps(doc, indent=1))
    return {"shots": shots, "frames": "frames/frame.%06d.exr", "film": film}


def _film_path(folder: Path, truth: dict[str, Any], k: int) -> Path:
    pattern = truth["film"]
    return Path(pattern % k) if Path(pattern).is_absolute() else folder / (pattern % k)


def ecc_maps(film: np.ndarray, broadcast: np.ndarray, motion: int) -> tuple[np.ndarray, np.ndarray] | None:
    """ECC estimate (film -> broadcast) as sampling maps, or None when it does not converge."""
    h, w = film.shape[:2]
    nom = nominal_transform((broadcast.shape[1], broadcast.shape[0]), BROADCAST_PAR, (w, h))
    if motion == cv2.MOTION_HOMOGRAPHY:
        warp = np.array([[nom.sx, 0, nom.tx], [0, nom.sy, nom.ty], [0, 0, 1]], np.float32)
    else:
        warp = np.array([[nom.sx, 0, nom.tx], [0, nom.sy, nom.ty]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        _, warp = cv2.findTransformECC(luma(film), luma(broadcast), warp, motion, criteria, None, 5)
    except cv2.error:
        return None
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if motion == cv2.MOTION_HOMOGRAPHY:
        d = warp[2, 0] * xx + warp[2, 1] * yy + warp[2, 2]
        mx = (warp[0, 0] * xx + warp[0, 1] * yy + warp[0, 2]) / d
        my = (warp[1, 0] * xx + warp[1, 1] * yy + warp[1, 2]) / d
    else:
        mx = warp[0, 0] * xx + warp[0, 1] * yy + warp[0, 2]
        my = warp[1, 0] * xx + warp[1, 1] * yy + warp[1, 2]
    return mx.astype(np.float32), my.astype(np.float32)


def dense_only_maps(film: np.ndarray, broadcast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nominal transform + DIS flow on the film raster (no parametric fit, no regularisation)."""
    h, w = film.shape[:2]
    nom = nominal_transform((broadcast.shape[1], broadcast.shape[0]), BROADCAST_PAR, (w, h))
    mx, my = sampling_maps(nom, (w, h))
    bc = resample(luma(broadcast), mx, my)
    a = to_u8(normalised(luma(film), 4.0, 0.01))
    b = to_u8(normalised(bc, 4.0, 0.01))
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fx, fy = xx + flow[..., 0], yy + flow[..., 1]
    return cv2.remap(mx, fx, fy, cv2.INTER_LINEAR), cv2.remap(my, fx, fy, cv2.INTER_LINEAR)


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]] = {
    "ECC affine": lambda f, b: ecc_maps(f, b, cv2.MOTION_AFFINE),
    "ECC homography": lambda f, b: ecc_maps(f, b, cv2.MOTION_HOMOGRAPHY),
    "dense only": dense_only_maps,
}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and of its ended children (the
    alignment's worker processes, reaped when ``align`` returns)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run(
    folder: Path, truth: dict[str, Any], work: Path, score: int, baselines: bool, workers: int | None = None
) -> dict[str, Any]:
    """Align the corpus with ours (timed end to end), score ours and the baselines per scored pair."""
    pairs_dir = work / "pairs"
    # a previous run's pairs (about 900 MB) are deleted and flushed before the clock starts: their
    # deletion and writeback are not this run's work, and they moved the figure by +-4 % from run to run
    shutil.rmtree(pairs_dir, ignore_errors=True)
    os.sync()
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), _cpu_seconds()
    result = align(folder, pairs_dir, force=True, max_workers=workers)
    ours_seconds = time.perf_counter() - t0
    ours_cpu = _cpu_seconds() - c0
    load_after = os.getloadavg()[0]
    n_pairs = result.document["summary"]["pairs"]
    rows: list[dict[str, Any]] = []
    timing = {name: [0.0, 0] for name in METHODS}
    for entry, shot in zip(result.shots, truth["shots"], strict=True):
        base = {
            "shot": entry["index"],
            "family": shot["family"],
            "seed": shot["seed"],
            "source": shot["source"],
        }
        if entry["status"] != "aligned":
            rows.append({**base, "status": entry["status"], "reason": entry["reason"]})
            continue
        geom = ShotGeometry.from_dict(shot["geometry"])
        warp = None if shot["warp"] is None else TelecineWarp.from_dict(shot["warp"])
        n = entry["broadcast_last"] - entry["broadcast_first"] + 1
        for j in sorted({round(float(v)) for v in np.linspace(0, n - 1, score)}):
            i = entry["broadcast_first"] + j
            k = entry["film_first"] + j
            bc, _ = read_image(folder / (truth["frames"] % i))
            tx, ty = truth_maps(geom, warp, i - shot["first"], FILM_SIZE)
            inside = inside_broadcast(tx.astype(np.float32), ty.astype(np.float32), (720, 480), 1.0)
            inp, _ = read_image(pairs_dir / (entry["input"] % i))
            mask = read_image(pairs_dir / (entry["mask"] % i), channels=None)[0][..., 0] > 0.5
            row: dict[str, Any] = {**base, "status": "aligned", "frame": i}
            row["ours"] = flow_misalignment(inp, bc, tx, ty, mask & inside)[0]
            row["ours_valid"] = float((mask & inside).sum() / max(int(inside.sum()), 1))
            row["floor"] = flow_misalignment_floor(bc, tx, ty, mask & inside)
            if baselines:
                film, _ = read_image(_film_path(folder, truth, k))
                for name, method in METHODS.items():
                    t = time.perf_counter()
                    maps = method(film, bc)
                    timing[name][0] += time.perf_counter() - t
                    timing[name][1] += 1
                    if maps is None:
                        row[name] = float("nan")
                        continue
                    row[name] = flow_misalignment(resample(bc, *maps), bc, tx, ty, inside)[0]
            rows.append(row)
            print(f"  scored shot {entry['index']} frame {i}: ours {row['ours']:.3f}", flush=True)
    return {
        "pairs": n_pairs,
        "summary": result.document["summary"],
        "ours_seconds": ours_seconds,
        "ours_pairs_per_s": n_pairs / ours_seconds,
        "ours_cpu_seconds": ours_cpu,
        "ours_pairs_per_cpu_s": n_pairs / ours_cpu if ours_cpu > 0 else None,
        "load_average": [load_before, load_after],
        "baseline_pairs_per_s": {k: (v[1] / v[0] if v[0] else None) for k, v in timing.items()},
        "rows": rows,
    }


def _rms(values: list[float]) -> float:
    v = [x for x in values if np.isfinite(x)]
    return float(np.sqrt(np.mean(np.square(v)))) if v else float("nan")


def table(res: dict[str, Any], baselines: bool) -> str:
    """Per family: ours' shots aligned, RMS (film px) and valid share, the baselines' RMS."""
    rows = res["rows"]
    names = ["ours", *(METHODS if baselines else [])]
    lines = [
        f"{'family':<12} {'aligned':>8} "
        + " ".join(f"{n:>15}" for n in names)
        + f" {'valid %':>8} {'floor':>7}"
    ]
    for family in [*dict.fromkeys(r["family"] for r in rows), "ALL"]:
        sel = [r for r in rows if family in ("ALL", r["family"])]
        shots = {r["shot"]: r["status"] for r in sel}
        ok = [r for r in sel if r["status"] == "aligned"]
        cells = " ".join(f"{_rms([r[n] for r in ok]):>15.3f}" for n in names)
        valid = 100 * statistics.mean([r["ours_valid"] for r in ok]) if ok else float("nan")
        floor = _rms([r["floor"] for r in ok])
        aligned = sum(s == "aligned" for s in shots.values())
        lines.append(f"{family:<12} {aligned:>3}/{len(shots):<4} {cells} {valid:>8.1f} {floor:>7.4f}")
    speed = "  ".join(f"{k} {v:.2f}" for k, v in res["baseline_pairs_per_s"].items() if v is not None)
    lines.append(
        f"pairs/s: ours {res['ours_pairs_per_s']:.2f} (end to end, {res['pairs']} pairs)  {speed} (estimation only)"
    )
    cpu = res["ours_pairs_per_cpu_s"]
    load = res["load_average"]
    lines.append(
        f"ours: {res['ours_cpu_seconds']:.1f} CPU s for {res['ours_seconds']:.1f} s of wall time, "
        f"{cpu:.2f} pairs per CPU second (on {os.cpu_count()} idle cores at most {cpu * (os.cpu_count() or 1):.2f} pairs/s); "
        f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after"
    )
    worst = [r for r in rows if r["status"] == "aligned" and np.isfinite(r["ours"])]
    if worst:
        w = max(worst, key=lambda r: r["ours"])
        lines.append(
            f"worst ours: {w['ours']:.3f} film px (shot {w['shot']} {w['family']} seed {w['seed']} {w['source']})"
        )
    for r in rows:
        if r["status"] != "aligned":
            lines.append(f"NOT ALIGNED shot {r['shot']} {r['family']} seed {r['seed']}: {r['reason']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reel", type=Path, default=None, help="a remaster synth reel instead of the warp corpus")
    p.add_argument("--families", default=",".join(f for f in FAMILIES if f != "mixed"))
    p.add_argument("--seeds", default=",".join(str(s) for s in HELD_OUT_SEEDS))
    p.add_argument("--frames", type=int, default=10, help="frames per shot (default 10)")
    p.add_argument("--score", type=int, default=2, help="scored frames per shot (default 2)")
    p.add_argument("--no-baselines", action="store_true", help="score ours only")
    p.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    p.add_argument("--workers", type=int, default=None, help="align's max_workers (default: one per core)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(2)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-align-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.reel is not None:
        folder = work / f"conform-{args.reel.name}"
        truth = corpus_from_reel(args.reel, folder)
    else:
        families = args.families.split(",")
        seeds = [int(s) for s in args.seeds.split(",")]
        folder = work / f"corpus-{'-'.join(map(str, seeds))}-{args.frames}"
        print(f"corpus {folder}: families {families}, seeds {seeds}, {args.frames} frames a shot", flush=True)
        truth = build_corpus(folder, families, seeds, args.frames)
    res = run(folder, truth, work, args.score, not args.no_baselines, args.workers)
    print(table(res, not args.no_baselines))
    if args.json:
        res["machine"] = {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
