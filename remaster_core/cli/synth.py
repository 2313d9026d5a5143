"""``remaster synth``: build a synthetic reel (film scan + 29.97i broadcast + truth.json) to test with.

Example::

    remaster synth --preset tiny --out /tmp/reel
    remaster synth --out reel --preset default --seed 7 --codec mpeg2 --film-format exr --missing-film 2,5
    remaster synth --preset tiny --out /tmp/reel --timecode "00:59:59;28" --audio clicks
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import Any

from remaster_core.cli.argtypes import output_path
from remaster_core.errors import InputError
from remaster_core.synth.presets import PRESETS, get_preset, with_overrides
from remaster_core.synth.reel import AUDIO_KINDS, FILM_FORMATS, build_reel
from remaster_core.synth.scenes import drawn_stock
from remaster_core.synth.stress import StressParams, build_stress_reel
from remaster_core.synth.telecine import CODECS
from remaster_core.synth.warps import FAMILIES as WARP_FAMILIES

log = logging.getLogger("remaster.synth")


def _shot_list(text: str) -> tuple[int, ...]:
    """Parse ``"2,5"`` (or ``""`` for none) into shot indices."""
    if not text.strip():
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated shot numbers like 2,5, got {text!r}"
        ) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``synth`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "synth",
        help="build a synthetic film + broadcast reel with known truth",
        description=(
            "Build a synthetic reel: a 23.976p film scan sequence (several shots with camera motion), a "
            "720x480 29.97 interlaced broadcast made from a degraded copy by a real 3:2 telecine, the "
            "pre-telecine 24p frames, and truth.json recording geometry, cuts, leader and field mapping."
        ),
    )
    p.add_argument(
        "--out", required=True, type=output_path, help="output folder (must be empty unless --force)"
    )
    p.add_argument(
        "--preset", default="default", choices=sorted([*PRESETS, "stress"]),
        help="reel size (default: default); 'stress': a small reel drawn from the seed that varies cuts, "
        "cadence, video stretches, field order and codec (remaster_core.synth.stress)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=1, help="random seed; the same seed gives the same reel (default 1)"
    )
    p.add_argument(
        "--codec", default=None, choices=sorted(CODECS),
        help="broadcast codec (default mpeg2; stress: drawn from the seed)",
    )  # fmt: skip
    p.add_argument(
        "--film-format", default="dpx", choices=FILM_FORMATS, help="film scan files (default dpx, 10-bit)"
    )
    p.add_argument(
        "--film-colorspace", default=None, metavar="NAME",
        help="write the film encoded in this OCIO colour space, tagged (e.g. ADX10 or ACEScct: a 10-bit "
        "log DPX scan; default: video code values, untagged)",
    )  # fmt: skip
    p.add_argument(
        "--missing-film", type=_shot_list, default=None, metavar="I,J",
        help="0-based shots whose film does not survive (default: the preset's; '' for none)",
    )  # fmt: skip
    p.add_argument(
        "--shots", type=int, default=None, metavar="N", help="number of shots (default: the preset's)"
    )
    p.add_argument(
        "--pulldown-phase", type=int, default=None, choices=(0, 1, 2, 3),
        help="3:2 cadence position of the first 24p frame (default: the preset's)",
    )  # fmt: skip
    p.add_argument(
        "--leader-frames", type=int, default=None, metavar="N", help="leader length (default: preset's)"
    )
    p.add_argument(
        "--timecode", default=None, metavar="HH:MM:SS;FF",
        help="the broadcast's start timecode (29.97; ';' for drop frame), e.g. 00:59:59;28 (default: none)",
    )  # fmt: skip
    p.add_argument(
        "--audio", default="none", choices=AUDIO_KINDS,
        help="broadcast sound: none (default) or clicks (a click at each shot's first field, to measure sync)",
    )  # fmt: skip
    p.add_argument(
        "--telecine-warp", default="none", choices=WARP_FAMILIES, metavar="FAMILY",
        help="a smooth telecine warp per shot beyond the lens model, with its truth: "
        f"{', '.join(WARP_FAMILIES)} (default none; mixed: some kinds per shot, all: every kind)",
    )  # fmt: skip
    p.add_argument(
        "--grain-stock", default="preset", choices=("preset", "drawn"),
        help="the film's grain: the preset's one stock (default), or a stock drawn from the seed (amplitude, "
        "size, colour and level response; not with --preset stress, which draws its own)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace a reel already in --out")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the reel described by ``args``; returns the exit code."""
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if args.preset == "stress":
        if args.grain_stock != "preset":
            raise InputError("--grain-stock: a stress reel draws its own stock from the seed; leave it out")
        stress = build_stress_reel(
            args.out, seed=args.seed, params=StressParams(codec=args.codec), force=args.force
        )
        log.info("stress reel in %s: %d broadcast frames", args.out, stress["broadcast"]["frame_count"])
        return 0
    preset = with_overrides(
        get_preset(args.preset),
        n_shots=args.shots,
        missing_film=args.missing_film,
        pulldown_phase=args.pulldown_phase,
        leader_frames=args.leader_frames,
    )
    if args.grain_stock == "drawn":
        preset = replace(preset, grain=drawn_stock(args.seed))
    truth = build_reel(
        args.out, preset, seed=args.seed, codec=args.codec or "mpeg2", film_format=args.film_format, force=args.force,
        timecode=args.timecode, audio=args.audio, warp=args.telecine_warp, film_colorspace=args.film_colorspace,
    )  # fmt: skip
    log.info(
        "reel in %s: %d shots (%d without film), %d film frames, %d broadcast frames",
        args.out, len(truth["shots"]), sum(s["missing_film"] for s in truth["shots"]),
        truth["film"]["frame_count"], truth["broadcast"]["frame_count"],
    )  # fmt: skip
    return 0
