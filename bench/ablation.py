"""The paper's ablation: the same generator trained with plain L1 and with FFT-L1, on pairs whose input
carries low-frequency noise; PSNR and low-frequency error of each on held-out shots.

    .venv/bin/python bench/ablation.py --out bench/results/ablation.json            # a few minutes
    .venv/bin/python bench/ablation.py --lf-noise 8 --out bench/results/ablation_lf8.json

Pairs: a ``remaster synth --preset small`` reel (built here, or ``--reel DIR``) turned into a pairs
folder with its *truth* rather than with ``remaster align`` (so that alignment error cannot blur the
comparison): every film pixel's broadcast position is ``remaster_core.synth.geometry.film_to_broadcast``
of the shot's true geometry, and the input is the reel's degraded 24p broadcast frame (grade, blur,
chroma loss, temporally correlated low-frequency noise, fine noise, 8-bit) sampled there with
``cv2.remap`` (bilinear), the bilinear resample of the test-time path; the target is the film frame;
the mask is where the position falls inside the broadcast raster. ``--lf-noise A`` adds further smooth
noise of std A (8-bit code values, on a 24 px grid, per frame) to the inputs, to make the case stronger
than the reel's own (2.5-4 code values).

Training: ``lite``, the same config and seed for both runs except ``stages.loss`` (``l1`` / ``fft``);
the last shot with film is held out. Evaluation on up to ``--eval-frames`` whole held-out frames with
each run's ``best.safetensors`` (the EMA weights): PSNR over valid pixels, and the low-frequency error:
RMSE (8-bit code values) between Gaussian-blurred (sigma 8 px) output and target over valid pixels at
least 3 sigma from an invalid one. The input (the bilinear baseline) is scored alike.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remaster_core.io.atomic import atomic_path, write_json_atomic
from remaster_core.io.images import read_image, write_image
from remaster_core.manifests.align import AlignManifest, AlignShot, Raster, write_align
from remaster_core.synth.geometry import ShotGeometry, film_to_broadcast
from training.checkpoint import load_generator
from training.config import resolve_config
from training.data import read_pair, scan_pairs
from training.trainer import best_checkpoint, train

LF_SIGMA = 8.0


def build_reel(out: Path, preset: str = "small", seed: int = 1, grain_stock: str = "preset") -> Path:
    """``remaster synth --preset PRESET --seed SEED --grain-stock STOCK --out OUT`` (kept if
    ``out/truth.json`` exists)."""
    if (out / "truth.json").is_file():
        return out
    from remaster_core.cli import main

    code = main(
        ["-q", "synth", "--preset", preset, "--seed", str(seed), "--grain-stock", grain_stock, "--out", str(out),
         "--force"]
    )  # fmt: skip
    if code != 0:
        raise SystemExit(f"remaster synth failed with exit code {code}")
    return out


def build_synth_pairs(reel: Path, out: Path, *, lf_noise: float = 0.0, seed: int = 0) -> Path:
    """A pairs folder (align.json + input EXR / target DPX / mask PNG) from a synth reel's truth.

    Args:
        reel: a ``remaster synth`` folder (truth.json, film/, truth/broadcast24p/).
        out: the pairs folder to write (replaced).
        lf_noise: std (8-bit code values) of extra smooth noise added to each input frame.
    """
    truth = json.loads((reel / "truth.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    wf, hf = truth["film"]["size"]
    yy, xx = np.mgrid[0:hf, 0:wf].astype(np.float64)
    rng = np.random.default_rng(seed)
    entries: list[AlignShot] = []
    for shot in truth["shots"]:
        if shot["missing_film"]:
            first = shot["first_24p"]
            entries.append(
                AlignShot(shot["index"], first, first + shot["n_frames"] - 1, "no film", "film lost")
            )
            continue
        geom = ShotGeometry.from_dict(shot["geometry"])
        bx, by = film_to_broadcast(xx, yy, geom)
        map_x, map_y = bx.astype(np.float32), by.astype(np.float32)
        bw, bh = truth["broadcast"]["size"]
        valid = (bx >= 0) & (bx <= bw - 1) & (by >= 0) & (by <= bh - 1)
        patterns = {
            "input": f"shot{shot['index']:03d}/input/frame.%06d.exr",
            "target": f"shot{shot['index']:03d}/target/frame.%06d.dpx",
            "mask": f"shot{shot['index']:03d}/mask/frame.%06d.png",
        }
        frames = []
        for k in range(shot["n_frames"]):
            i = shot["first_24p"] + k
            broadcast, _ = read_image(reel / (truth["frames24p"]["pattern"] % i))
            image = cv2.remap(broadcast, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if lf_noise > 0:
                coarse = rng.normal(0.0, lf_noise / 255.0, (hf // 24 + 2, wf // 24 + 2, 3)).astype(np.float32)
                image = image + cv2.resize(coarse, (wf, hf), interpolation=cv2.INTER_CUBIC)
            write_image(out / (patterns["input"] % i), image.astype(np.float32), bit_depth="float")
            with atomic_path(out / (patterns["target"] % i)) as tmp:
                shutil.copyfile(reel / (truth["film"]["pattern"] % (shot["film_first"] + k)), tmp)
            write_image(
                out / (patterns["mask"] % i), (np.asarray(valid, dtype=np.uint8) * 255), bit_depth="8"
            )
            frames.append({"frame": i})
        first, last = frames[0]["frame"], frames[-1]["frame"]
        entries.append(
            AlignShot(
                index=shot["index"], first=first, last=last, broadcast_first=first, broadcast_last=last,
                film_first=shot["film_first"], frames=tuple(frames), masked_frames=(), **patterns,
            )
        )  # fmt: skip
    bw, bh = truth["broadcast"]["size"]
    write_align(out, AlignManifest(broadcast=Raster(bw, bh), shots=tuple(entries), film=f"truth of {reel}"))
    return out


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), LF_SIGMA, borderType=cv2.BORDER_REFLECT_101)


def score(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR (dB) over valid pixels, and the low-frequency RMSE (8-bit code values) of Gaussian-blurred
    output against blurred target over pixels at least 3 sigma inside the valid area."""
    valid = mask > 0.5
    mse = float(((output - target) ** 2)[valid].mean())
    inner = np.asarray(
        cv2.erode(valid.astype(np.uint8), np.ones((int(6 * LF_SIGMA) + 1,) * 2, np.uint8))
    ).astype(bool)
    lf = _blur(output) - _blur(target)
    return {"psnr": 10 * math.log10(1.0 / mse), "lf_rmse_8bit": 255.0 * float(np.sqrt((lf**2)[inner].mean()))}


def evaluate(run: Path | None, frames: list[Any], threads: int) -> dict[str, float]:
    """Mean scores over ``frames`` of ``run``'s best generator (None: the input itself)."""
    torch.set_num_threads(threads)
    generator = load_generator(best_checkpoint(run)) if run is not None else None
    rows = []
    for frame in frames:
        x, y, m = read_pair(frame)
        if generator is not None:
            with torch.no_grad():
                out = (
                    generator(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])[0]
                    .numpy()
                    .transpose(1, 2, 0)
                )
        else:
            out = x
        rows.append(score(np.ascontiguousarray(out), y, m))
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/remaster_ablation"), help="scratch folder")
    parser.add_argument("--reel", type=Path, default=None, help="an existing synth reel (else built)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ablation.json")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lf-noise", type=float, default=0.0, help="extra smooth input noise, 8-bit std")
    parser.add_argument("--eval-frames", type=int, default=8)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: best on a shared 2-core box)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    reel = args.reel or build_reel(args.work / "reel")
    pairs = build_synth_pairs(reel, args.work / "PAIRS", lf_noise=args.lf_noise, seed=args.seed)
    index = scan_pairs(pairs)
    picks = np.linspace(0, len(index.val) - 1, min(args.eval_frames, len(index.val))).round().astype(int)
    held_out = [index.val[i] for i in sorted(set(picks.tolist()))]
    results: dict[str, Any] = {"input (bilinear)": evaluate(None, held_out, args.threads)}
    timings = {}
    for loss in ("l1", "fft"):
        run = args.work / f"run_{loss}"
        shutil.rmtree(run, ignore_errors=True)
        cfg = resolve_config(
            None,
            {
                "steps": args.steps, "seed": args.seed, "stages.loss": loss, "data.batch_size": args.batch_size,
                "data.crop_size": args.crop_size, "data.workers": 0, "optim.lr": args.lr,
                "validation.every": max(1, args.steps // 3), "validation.crop": 256, "checkpoint.every": args.steps,
                "runtime.threads": args.threads, "runtime.device": "cpu", "runtime.tensorboard": False,
                "data.cache_dir": str(args.work / "cache"),
            },
        )  # fmt: skip
        t0 = time.monotonic()
        train(cfg, pairs, run)
        timings[loss] = time.monotonic() - t0
        results[f"lite {loss.upper()}"] = evaluate(run, held_out, args.threads)
    report = {
        "bench": "ablation",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
        },
        "reel": str(reel),
        "train_shots": list(index.train_shots),
        "held_out_shots": list(index.val_shots),
        "held_out_frames": [f.frame for f in held_out],
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "train_seconds": timings,
        "results": results,
        "total_seconds": time.monotonic() - started,
    }
    write_json_atomic(args.out, report)
    print(f"held-out shot(s) {list(index.val_shots)}, {len(held_out)} whole frames; {args.steps} steps each")
    print(f"{'':22s} {'PSNR dB':>9s} {'LF RMSE (8-bit)':>16s}")
    for name, row in results.items():
        print(f"{name:22s} {row['psnr']:9.2f} {row['lf_rmse_8bit']:16.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
