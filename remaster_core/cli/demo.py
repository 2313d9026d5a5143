"""``remaster demo``: the whole pipeline on a synthetic reel, with an HTML report.

Example::

    remaster demo --out demo/                  # tiny reel, 3-6 minutes on 2 cores
    remaster demo --out demo-small/ --preset small

synth -> conform -> align -> train (lite) -> export -> render the missing-film shots -> evaluate ->
``DIR/report.html`` (broadcast, ours and the hidden film side by side, PSNR/SSIM of ours and of two
baselines, cadence, alignment, training curves, timings) and ``DIR/report.json`` (every number of the
report). Needs the train extra (torch): it is imported only when the verb runs. See docs/demo.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from remaster_core.cli.argtypes import output_path, positive_int, whole_number
from remaster_core.errors import EXIT_OK


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` verb to the top-level subparsers."""
    from remaster_core.demo.pipeline import DEMO_PRESETS

    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a synthetic reel and write an HTML report (needs the train extra)",
        description=(
            "Build a synthetic reel (remaster synth), conform it, align it, train the lite model, "
            "export it, render the shots whose film is missing, and score the result against their hidden "
            "film next to a bilinear and a fitted colour-correction baseline. Writes DIR/report.html "
            "(self-contained) and DIR/report.json (every number of the report), beside each stage's own "
            "folder and report."
        ),
    )
    p.add_argument("--out", type=output_path, default=Path("remaster-demo"), metavar="DIR",
                   help="the demo folder, new or empty (default ./remaster-demo)")  # fmt: skip
    p.add_argument("--preset", choices=tuple(DEMO_PRESETS), default="tiny",
                   help="tiny: 3-6 minutes on 2 cores (the CI test); small: longer")  # fmt: skip
    p.add_argument(
        "--seed",
        type=whole_number(0, 2**32 - 1),
        default=1,
        help="seeds the reel and the training run (default 1)",
    )
    p.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="training steps (default: the preset's budget)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an earlier demo in --out")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo as ``args`` asks; print where the report is and the verdict; return the exit code."""
    from remaster_core.demo.pipeline import run_demo

    document = run_demo(args.out, args.preset, seed=args.seed, steps=args.steps, force=args.force)
    held = document["held_out"]
    for shot in held["shots"]:
        ours, colour, bilinear = (shot["scores"][m] for m in ("ours", "colour_fit", "bilinear"))
        print(
            f"held-out shot {shot['shot']}: PSNR ours {ours['psnr']:.2f} dB, colour fit "
            f"{colour['psnr']:.2f}, bilinear {bilinear['psnr']:.2f}; SSIM ours {ours['ssim']:.4f}, "
            f"colour fit {colour['ssim']:.4f}, bilinear {bilinear['ssim']:.4f}"
        )
    t = document["timings"]
    print(f"demo finished in {t['total_seconds']:.1f} s; report: {args.out / 'report.html'}")
    return EXIT_OK
