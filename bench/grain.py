"""Film look of the model variants on held-out shots: stage 1 on the scans, stage 1 on degrained scans,
stage 2 with D's feature matching; each scored clean and with synthesised grain against the film.

    .venv/bin/python bench/grain.py --seeds 1 2 3 --out bench/results/grain.json     # ~10 min a seed

Per reel seed: a ``remaster synth`` reel (``--preset``, default ``tiny``; ``--grain-stock``, default
``drawn``: a film stock drawn from the seed, amplitude, size, colour and level response,
``synth.scenes.drawn_stock``; seeds up to 31 were measured with the presets' one stock, ``--grain-stock
preset``) made into a pairs folder from its truth (``bench/ablation.py``'s ``build_synth_pairs``: no
alignment error); the last shot with film is held out (never trained on). Runs (``lite``, batch 8 of
128 px crops, one thread, train seed = reel seed):

- ``scans``: ``--steps`` + ``--gan-steps`` steps, stage 2 from ``--steps`` on, with feature matching (no
  VGG19 weights). Its EMA weights at step ``--steps`` are "stage 1 on the scans" (stage 1 is the same
  whatever comes after it: the data a step sees depends on the seed and the step alone), at the end
  "stage 2 (FM)";
- ``degrained``: ``--steps`` steps of stage 1 on the same pairs with each target degrained
  (OpenCV non-local means, 8-bit, h = ``--degrain-h``), the other way to handle grain.

Each variant's output on every held-out frame is scored against the film (``remaster_core.look``: PSNR,
grain amplitude and octave bands, detail, steadiness; on the frame's largest fully covered rectangle)
clean, and with grain synthesised (``remaster_core.grain``) from the profile of the training targets
(``training.grain.measure_profile``, what ``remaster train`` writes as ``RUN/grain.json``) for each of
``--grain-seeds``, and the mean over them (``_mean``: one draw of grain on a held-out shot's few flat tiles
reads the coarse band 0.8-1.2 of another's). Row ``stock``: the held-out shot's film picture plus the reel's
true grain stock, drawn afresh per grain seed, scored as a render: what a perfect grain synthesis reads
against this film (``stock_control``); its kind ``picture``, the picture alone: the share of each band's
film reading that is not grain (seed 46's held-out shot: 0.69 of its finest octave, the picture's fine
texture left over after motion compensation, where a band's verdict judges the picture more than the
grain). The bilinear input is scored alike. With ``--deflicker N`` (default 2)
every variant is also run and scored on the held-out inputs deflickered as ``remaster render --deflicker N``
does (``remaster_core.render.deflicker``; "+deflicker"; its low band ``--deflicker-sigma`` px at the broadcast
raster, default the render's); with ``--deflicker-output N`` also with the model's output deflickered over N
frames each side as ``remaster render --deflicker-output N`` does ("+deflicker+out", the deficit taking both
deflickers' ``passed_power``). Kinds ``excess_clean`` and ``excess_*``: what ``remaster render`` does with
a model that records its output's grain (``node.grain_plan``): the grain the output carries beyond
the film's taken away in flat areas (``remaster_core.grain.excess``; in the "+out" rows each frame's
grain also read against the model's output of the frame before, the first frame's against the one
after, as the render does with an output deflicker: ``render.chunk.excess_pair``), clean and with the
film's less what is left synthesised; only where the output has such an excess. The grain is measured on
motion-compensated frame differences
(``remaster_core.look.grain_sample``), the profile and the output's grain alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ablation import build_reel, build_synth_pairs

from remaster_core.grain import GrainSettings, add_grain
from remaster_core.grain.excess import excess_plan, remove_excess
from remaster_core.grain.profile import (
    GrainProfile,
    ProfileAccumulator,
    band_ratios,
    grain_deficit,
    ring_frequencies,
)
from remaster_core.grain.synthesis import level_gain
from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.images import read_image, write_image
from remaster_core.look import score_sequences
from remaster_core.look.regions import LookParams
from remaster_core.render.chunk import excess_pair
from remaster_core.render.deflicker import OUTPUT_SIGMA, DeflickerParams, deflicker_frame, passed_power
from remaster_core.synth.scenes import CameraPath, GrainParams, drawn_stock, load_picture, render_view
from remaster_core.synth.scenes import add_grain as stock_grain
from training.checkpoint import load_checkpoint
from training.config import resolve_config
from training.data import read_pair, scan_pairs
from training.grain import measure_profile
from training.model import build_generator
from training.output_grain import measure_output_grain
from training.run_dir import step_checkpoints, step_path
from training.trainer import train


def degrain_pairs(pairs: Path, out: Path, h: float) -> Path:
    """A copy of ``pairs`` whose targets are degrained (non-local means on 8-bit; kept if present)."""
    if (out / "align.json").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(pairs, out)
    for target in sorted(out.glob("shot*/target/*.dpx")):
        rgb, _ = read_image(target)
        u8 = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
        clean = cv2.fastNlMeansDenoisingColored(u8, None, h, h, 5, 15).astype(np.float32) / 255.0
        write_image(target, clean)
    return out


def ema_generator(path: Path) -> torch.nn.Module:
    """G with the EMA weights of a step checkpoint."""
    ckpt = load_checkpoint(path)
    g = build_generator(ckpt.generator_config)
    ema = {k.removeprefix("ema."): v for k, v in ckpt.extra_tensors.items() if k.startswith("ema.")}
    g.load_state_dict(ema or ckpt.generator)
    return g.eval()


def inner_box(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the valid area's bounding rectangle shrunk until every pixel is valid."""
    valid = mask > 0.5
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    while y1 - y0 > 1 and x1 - x0 > 1:
        box = ~valid[y0:y1, x0:x1]
        if not box.any():
            break
        sides = {
            "top": box[0].sum(),
            "bottom": box[-1].sum(),
            "left": box[:, 0].sum(),
            "right": box[:, -1].sum(),
        }
        worst = max(sides, key=lambda k: sides[k])
        y0, y1 = y0 + (worst == "top"), y1 - (worst == "bottom")
        x0, x1 = x0 + (worst == "left"), x1 - (worst == "right")
    return slice(y0, y1), slice(x0, x1)


def _summary(report: Any) -> dict[str, Any]:
    g = report.grain
    return {
        "psnr": report.fidelity.psnr_db,
        "grain_amplitude": g.amplitude.ratio,
        "grain_bands": [b.power.ratio for b in g.bands],
        # 90 % intervals over the flat tiles (``look.grain``), None where not estimated
        "grain_amplitude_interval": g.amplitude.interval,
        "grain_bands_interval": [b.power.interval for b in g.bands],
        "grain_channels": [c.ratio for c in g.channels],
        # what the grain figures were read on: flat tiles of frame differences or of single frames
        "grain_measured_on": "frame differences" if g.temporal else "single frames",
        "grain_flat_tiles": g.flat_tiles,
        "detail": report.detail.energy.ratio,
        "steadiness": report.steadiness.change.ratio,
    }


def shot_output_grain(outputs: list[np.ndarray], film: GrainProfile) -> GrainProfile:
    """What a render could measure on its own output of one shot, with no film to compare: the grain of
    ``outputs`` (consecutive frames of the shot, float32 (H, W, 3)) in their own flat tiles, on their
    motion-compensated differences (``film``'s tile), its spectrum divided per channel by the film's mean
    squared level gain over the shot's pixels (``synthesis.level_gain``): the deficit is synthesised
    with the film's level response, so ``grain_deficit`` over this profile leaves, at the shot's levels,
    the film's grain less the output's."""
    acc = ProfileAccumulator(dataclasses.replace(LookParams(), tile=film.tile), one_size=True)
    for k, out in enumerate(outputs):
        if k == 0:
            acc.add(out, reference=out)
        else:
            acc.add(out, reference=out, previous=outputs[k - 1], previous_reference=outputs[k - 1])
    own = acc.result()
    if own.is_zero or film.is_zero:
        return own
    mean_sq = np.mean([np.mean(level_gain(film, o) ** 2, axis=(0, 1)) for o in outputs], axis=0)  # (3,)
    spectrum = tuple(
        tuple(v / max(float(m), 1e-6) for v in channel)
        for channel, m in zip(own.spectrum, mean_sq, strict=True)
    )
    return dataclasses.replace(own, spectrum=spectrum)


def score_variant(
    outputs: list[np.ndarray],
    films: list[np.ndarray],
    profiles: dict[str, Any],
    shot: int,
    grain_seeds: list[int],
) -> dict[str, Any]:
    """Clean and with-grain film-look summaries of a variant's held-out outputs, with grain from each
    of ``profiles`` (name -> profile: the film's, the deficit over the variant's own output)."""
    result = {"clean": _summary(score_sequences(outputs, films))}
    for label, profile in profiles.items():
        for seed in grain_seeds:
            grainy = [
                add_grain(o, profile, GrainSettings(seed=seed), shot=shot, frame=k)
                for k, o in enumerate(outputs)
            ]
            result[f"{label}_seed{seed}"] = _summary(score_sequences(grainy, films))
        if len(grain_seeds) > 1:
            result[f"{label}_mean"] = mean_summary([result[f"{label}_seed{seed}"] for seed in grain_seeds])
    return result


def mean_summary(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of ``_summary`` dicts (one per grain seed), field by field and band by band; a ratio that
    any of them lacks (None) is None; a text field is kept where every draw gives the same."""

    def mean(values: list[Any]) -> Any:
        if any(v is None or isinstance(v, tuple) for v in values):
            return None  # a ratio missing somewhere, or an interval (not averaged)
        if isinstance(values[0], str):  # what the figures were read on: the same for every draw, or mixed
            return values[0] if len(set(values)) == 1 else "mixed"
        if isinstance(values[0], list):
            return [mean([v[i] for v in values]) for i in range(len(values[0]))]
        return float(np.mean(values))

    return {key: mean([s[key] for s in summaries]) for key in summaries[0]}


def stock_control(
    truth: dict[str, Any], frames: list[Any], boxes: list[tuple[slice, slice]], films: list[np.ndarray],
    grain_seeds: list[int],
) -> dict[str, Any]:  # fmt: skip
    """What a perfect grain synthesis reads against this film on these tiles: the held-out shot's film
    picture without grain (``truth.json``'s camera, ``synth.scenes.render_view``) plus the reel's true
    stock (``film_grain``) drawn afresh for each of ``grain_seeds``, scored as a render is
    (``stock_seedN``), and their mean (``stock_mean``). The film is one draw of its stock and a held-out
    shot has few flat tiles, so even the stock itself does not read 1: its spread is the bars' own
    noise on this shot. Kind ``picture``: the picture without grain, scored alike: each band's reading
    there is the share of the film's that is not grain. ``frames``: the held-out ``PairFrame``s scored,
    ``boxes`` their rectangles, ``films`` the film there. Empty where the pairs' film is not the truth's
    picture plus grain (its residual more than twice the stock's amplitude: another colour space or
    raster)."""
    shot = truth["shots"][frames[0].shot]
    camera = CameraPath.from_dict(shot["camera"])
    stock = GrainParams(**truth["film_grain"])
    picture = load_picture(camera.source)
    size = tuple(truth["film"]["size"])
    clean = []
    for frame, (rows, cols) in zip(frames, boxes, strict=True):
        cx, cy, scale = camera.at(frame.frame - shot["first_24p"])  # a pair's frame: its 24p index
        clean.append(np.ascontiguousarray(render_view(picture, (cx, cy), scale, size)[rows, cols]))
    residual = float(np.sqrt(np.mean([np.mean((f - c) ** 2) for f, c in zip(films, clean, strict=True)])))
    if not stock.amplitude or residual > 2.0 * stock.amplitude:
        return {}
    result = {
        f"stock_seed{seed}": _summary(
            score_sequences(
                [stock_grain(c, np.random.default_rng([seed, 7, k]), stock) for k, c in enumerate(clean)],
                films,
            )
        )
        for seed in grain_seeds
    }
    result["stock_mean"] = mean_summary(list(result.values()))
    # the picture alone, no grain: what of each band's film reading is not grain (the picture's own fine
    # texture left over after motion compensation); where it is a large share, a band's verdict says
    # more about the picture than about the grain
    result["picture"] = _summary(score_sequences(clean, films))
    return result


def seed_pairs(work: Path, preset: str, seed: int, grain_stock: str = "preset") -> tuple[Path, Path]:
    """The reel of ``seed`` and its pairs folder under ``work`` (built when missing, kept otherwise; a
    kept reel must hold the stock asked for)."""
    reel = build_reel(work / "reel", preset, seed, grain_stock)
    stock = GrainParams(**json.loads((reel / "truth.json").read_text())["film_grain"])
    wanted = drawn_stock(seed) if grain_stock == "drawn" else GrainParams()
    if stock != wanted:
        raise SystemExit(
            f"{reel}: its film grain is {stock}, not --grain-stock {grain_stock}'s; use another --work"
        )
    pairs = work / "PAIRS"
    if not (pairs / "align.json").is_file():
        build_synth_pairs(reel, pairs, seed=seed)
    return reel, pairs


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    work = args.work / f"seed{seed}"
    reel, pairs = seed_pairs(work, args.preset, seed, args.grain_stock)
    degrained = degrain_pairs(pairs, work / "PAIRS_degrained", args.degrain_h) if args.degrained else None
    index = scan_pairs(pairs)
    base = {
        "seed": seed, "data.batch_size": 8, "data.crop_size": 128, "data.workers": 0, "runtime.threads": 1,
        "runtime.device": "cpu", "runtime.tensorboard": False, "validation.every": args.steps,
        "checkpoint.every": args.steps, "checkpoint.keep_last": 3,
    }  # fmt: skip
    for item in args.set:
        key, _, value = item.partition("=")
        base[key] = json.loads(value)
    runs = {"scans": (pairs, args.steps + args.gan_steps)}
    if degrained is not None:
        runs["degrained"] = (degrained, args.steps)
    timings = {}
    for name, (folder, steps) in runs.items():
        run = work / f"run_{name}"
        if not step_path(run, steps).is_file():
            resume = bool(step_checkpoints(run))  # a killed bench goes on where it stopped
            if not resume:
                shutil.rmtree(run, ignore_errors=True)
            cfg = resolve_config(None, {**base, "steps": steps, "stages.gan_start_step": args.steps})
            t0 = time.monotonic()
            train(cfg, folder, run, resume=resume)
            timings[name] = time.monotonic() - t0
    variants = {
        "stage1_scans": ema_generator(step_path(work / "run_scans", args.steps)),
        "stage2_fm": ema_generator(step_path(work / "run_scans", args.steps + args.gan_steps)),
    }
    if degrained is not None:
        variants["stage1_degrained"] = ema_generator(step_path(work / "run_degrained", args.steps))
    profile = measure_profile(index.train)  # what `remaster train` writes to RUN/grain.json
    torch.set_num_threads(1)
    xs, films, boxes = [], [], []
    scored = list(index.val[: args.eval_frames])
    for frame in scored:
        x, y, m = read_pair(frame)
        rows, cols = inner_box(m)
        xs.append(x)
        films.append(np.ascontiguousarray(y[rows, cols]))
        boxes.append((rows, cols))
    sets = {"": xs}
    if args.deflicker:
        # the render deflickers the broadcast at its own raster; the pairs' inputs are on the film's, so
        # the low band's sigma is scaled by the film px per broadcast px (display aspect)
        truth = json.loads((reel / "truth.json").read_text())
        bw = truth["broadcast"]["size"][0] * float(Fraction(truth["broadcast"]["pixel_aspect"]))
        params = DeflickerParams(
            radius=args.deflicker, sigma=args.deflicker_sigma * truth["film"]["size"][0] / bw
        )
        sets["+deflicker"] = _deflickered(xs, params)
    out_params = DeflickerParams(radius=args.deflicker_output, sigma=args.deflicker_output_sigma)
    inputs: dict[str, list[np.ndarray]] = {}
    outs: dict[str, list[np.ndarray]] = {}
    pairs_of: dict[str, list[tuple[np.ndarray, np.ndarray] | None]] = {}  # the grain step's pairs (+out)
    for suffix, seq in sets.items():
        inputs[f"bilinear{suffix}"] = [
            np.ascontiguousarray(x[r, c]) for x, (r, c) in zip(seq, boxes, strict=True)
        ]
        for name, g in variants.items():
            full = []
            for x in seq:
                tx = torch.from_numpy(x.transpose(2, 0, 1).copy())[None]
                with torch.no_grad():
                    full.append(g(tx)[0].numpy().transpose(1, 2, 0))
            outs[f"{name}{suffix}"] = _crops(full, boxes)
            if suffix and not out_params.off:
                # as `remaster render --deflicker-output`: the model's output deflickered too (film raster)
                outs[f"{name}{suffix}+out"] = _crops(_deflickered(full, out_params), boxes)
                # and the grain step reads the model's outputs of each frame and the one before (the
                # first frame: after) as the render picks them, on the frame's own region
                pairs_of[f"{name}{suffix}+out"] = [
                    None
                    if (pair := excess_pair(full, k, starts_shot=k == 0)) is None
                    else (pair[0][r, c], pair[1][r, c])
                    for k, (r, c) in enumerate(boxes)
                ]
    shot = index.val[0].shot
    results = {name: score_variant(seq, films, {}, shot, []) for name, seq in inputs.items()}
    control = stock_control(
        json.loads((reel / "truth.json").read_text()), scored, boxes, films, args.grain_seeds
    )
    if control:
        results["stock"] = control
    output_rms, output_bands = {}, {}
    f = ring_frequencies(profile)
    for name, g in variants.items():
        own = measure_output_grain(g, list(index.train), profile)  # what `remaster train` records
        output_rms[name] = list(own.rms)
        ratios = band_ratios(own, profile)  # what training warns of (EXCESS)
        if ratios is not None:
            output_bands[name] = ratios.tolist()
        for label in [k for k in outs if k == name or k.startswith(name + "+")]:
            suffix = label[len(name) :]
            # as `remaster render` does: a deflickered input (and output) carries less of the grain the
            # model reproduces, and the deficit takes that in (the deflickers ran at this raster: scale 1)
            passed = passed_power(f, params, 1.0) if suffix else None
            if suffix.endswith("+out") and passed is not None:
                passed = passed * passed_power(f, out_params, 1.0)
            deficit = grain_deficit(profile, own, passed) if own.tile == profile.tile else profile
            # what a render could do on its own: the deficit over the grain this very shot's output
            # carries (measured on the output alone; the deflicker's effect is already in it)
            on_shot = shot_output_grain(outs[label], profile)
            shot_deficit = grain_deficit(profile, on_shot) if on_shot.tile == profile.tile else profile
            results[label] = score_variant(
                outs[label], films,
                {"grain": profile, "deficit": deficit, "shot_deficit": shot_deficit}, shot, args.grain_seeds,
            )  # fmt: skip
            # what `remaster render` does (node.grain_plan): the output's grain beyond the film's taken
            # away in flat areas, then the film's less what is left synthesised
            plan = excess_plan(profile, own, passed) if own.tile == profile.tile else None
            if plan is not None and plan.removes:
                excess_pairs = pairs_of.get(label) or [None] * len(outs[label])
                reduced = [
                    remove_excess(o, plan, pair) for o, pair in zip(outs[label], excess_pairs, strict=True)
                ]
                scored_excess = score_variant(
                    reduced, films, {"excess": plan.deficit}, shot, args.grain_seeds
                )
                results[label]["excess_clean"] = scored_excess.pop("clean")
                results[label].update(scored_excess)
    return {
        "seed": seed,
        "held_out_shot": shot,
        "frames": len(films),
        "crop": list(films[0].shape[:2]),
        "profile_rms": list(profile.rms),
        "output_grain_rms": output_rms,
        "output_grain_bands": output_bands,  # per band, finest first: the output's / the film's, training shots
        "train_seconds": timings,
        "results": results,
    }


def _deflickered(frames: list[np.ndarray], params: DeflickerParams) -> list[np.ndarray]:
    """Each of ``frames`` (consecutive, one shot) deflickered with the frames within ``params.radius`` of
    it, as a render does (``render.deflicker.deflicker_frame``)."""
    r = params.radius
    return [
        deflicker_frame(frames[max(0, k - r) : k + r + 1], k - max(0, k - r), params)
        for k in range(len(frames))
    ]


def _crops(frames: list[np.ndarray], boxes: list[tuple[slice, slice]]) -> list[np.ndarray]:
    """Each frame's scored rectangle, float32, contiguous."""
    return [np.ascontiguousarray(o[r, c], dtype=np.float32) for o, (r, c) in zip(frames, boxes, strict=True)]


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "/".join(_fmt(x) for x in v)
    return "-" if v is None else f"{v:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/remaster_grain"), help="scratch folder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/grain.json")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument(
        "--grain-stock", default="drawn", choices=("preset", "drawn"),
        help="the reels' film grain: drawn from each seed (default; remaster synth --grain-stock drawn) or "
        "the preset's one stock (seeds up to 31 were measured so)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=300, help="stage 1 steps")
    parser.add_argument("--gan-steps", type=int, default=150, help="stage 2 steps after them")
    parser.add_argument("--grain-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-frames", type=int, default=12)
    parser.add_argument("--degrain-h", type=float, default=4.0)
    parser.add_argument(
        "--deflicker", type=int, default=2, metavar="N",
        help="also score every variant on inputs deflickered over N frames each side (0: not)",
    )  # fmt: skip
    parser.add_argument(
        "--deflicker-sigma", type=float, default=DeflickerParams().sigma, metavar="PX",
        help="the deflicker's low band, px at the broadcast raster (default: remaster render's)",
    )  # fmt: skip
    parser.add_argument(
        "--deflicker-output", type=int, default=0, metavar="N",
        help="also score the deflickered variants with the model's output deflickered over N frames each "
        "side ('+deflicker+out'; as remaster render --deflicker-output N; 0: not)",
    )  # fmt: skip
    parser.add_argument(
        "--deflicker-output-sigma", type=float, default=OUTPUT_SIGMA, metavar="PX",
        help="the output deflicker's low band, px at the film raster (default: remaster render's)",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=JSON",
        help="a training setting for every run, e.g. stages.fft_weight=100 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--no-degrained", dest="degrained", action="store_false", help="skip the degrained-targets run"
    )
    args = parser.parse_args()
    started = time.monotonic()
    per_seed = []
    for seed in args.seeds:
        per_seed.append(run_seed(args, seed))
        report = {
            "bench": "grain",
            "machine": {"platform": platform.platform(), "torch": torch.__version__},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "seeds": per_seed,
            "total_seconds": time.monotonic() - started,
        }
        write_json_atomic(args.out, report)
    print(
        f"{'seed':>4} {'variant':18s} {'grain':12s} {'PSNR':>6} {'amp':>5} {'bands':>15} {'detail':>6} {'steady':>6}"
    )
    for s in per_seed:
        for name, variant in s["results"].items():
            for kind, r in variant.items():
                print(
                    f"{s['seed']:>4} {name:18s} {kind:12s} {_fmt(r['psnr']):>6} {_fmt(r['grain_amplitude']):>5} "
                    f"{_fmt(r['grain_bands']):>15} {_fmt(r['detail']):>6} {_fmt(r['steadiness']):>6}"
                )
    print(f"wrote {args.out} in {time.monotonic() - started:.0f} s")
    print(json.dumps({"seeds": args.seeds}))


if __name__ == "__main__":
    main()
