"""Benchmark: alignment through the public interface, on whole reels: ``remaster synth`` -> ``conform``
-> ``align``, each a real CLI process, and which shots with film come out aligned.

Usage (from the repository root)::

    .venv/bin/python bench/align_cli.py --work /tmp/bench-align-cli                 # seeds 77-86
    .venv/bin/python bench/align_cli.py --seeds 90-99 --preset small --json out.json

``bench/align.py`` scores the alignment's accuracy on frames it renders itself (no codec, no
interlace); this one takes the path a show takes: the broadcast is MPEG-2 (or the preset's codec),
interlaced and telecined, the conform decodes and inverse-telecines it, and ``align`` reads the
conformed frames. Each reel's telecine warp family cycles through ``FAMILIES`` (``mixed`` first).
Reported per reel and pooled: shots with film, aligned, rejected (with the reason's first words and
the shot's source picture, from the reel's truth), the mean valid share of the aligned shots, and
each verb's wall time. Reels are built once into ``--work`` and reused; conform and align run anew.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("mixed", "all", "radial", "keystone", "rotation", "field", "drift", "weave", "tangential", "none")


def _seeds(text: str) -> list[int]:
    """'77-86' or '77,80,81' -> the seeds."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _remaster(*args: str) -> float:
    """Run one ``remaster`` verb; its wall time in s. A failing verb stops the bench with its log tail."""
    exe = Path(sys.executable).with_name("remaster")
    start = time.monotonic()
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-5:])
        raise SystemExit(f"remaster {args[0]} failed (rc {proc.returncode}):\n{tail}")
    return time.monotonic() - start


def run_reel(work: Path, seed: int, preset: str, family: str) -> dict[str, Any]:
    """One reel through the three verbs; its shots' outcomes."""
    folder = work / f"{preset}-{seed}-{family}"
    reel = folder / "reel"
    times: dict[str, float] = {}
    if not (reel / "truth.json").is_file():
        times["synth"] = _remaster(
            "synth", "--out", str(reel), "--preset", preset, "--seed", str(seed), "--telecine-warp", family,
            "--force",
        )  # fmt: skip
    times["conform"] = _remaster(
        "conform", str(reel / "broadcast.mpg"), "--film", str(reel / "film"), "--out", str(folder / "conf"), "--force"
    )
    times["align"] = _remaster(
        "align", "--conform", str(folder / "conf"), "--film", str(reel / "film"), "--out", str(folder / "pairs"),
        "--force",
    )  # fmt: skip
    truth = json.loads((reel / "truth.json").read_text())
    doc = json.loads((folder / "pairs" / "align.json").read_text())
    first_24p = {s["first_24p"]: s for s in truth["shots"]}
    leader = truth["leader_frames"]
    shots = []
    for entry in doc["shots"]:
        if entry["status"] == "no film":
            continue
        # the conform's shot starts at broadcast 24p frame `first` (leader included), as the truth's does
        source = first_24p.get(entry["first"], {}).get("source_image", "?")
        frames = entry.get("frames") or []
        valid = [f.get("valid_fraction") for f in frames if isinstance(f, dict) and f.get("valid_fraction") is not None]
        shots.append({
            "shot": entry["index"], "status": entry["status"], "reason": entry.get("reason"), "source": source,
            "valid": sum(valid) / len(valid) if valid else None, "frames": entry["last"] - entry["first"] + 1,
        })  # fmt: skip
    return {"seed": seed, "family": family, "leader": leader, "times": times, "shots": shots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-align-cli"), help="reels and outputs")
    parser.add_argument("--seeds", default="77-86", help="reel seeds: 77-86 or 77,80 (default 77-86)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    reels = []
    for k, seed in enumerate(_seeds(args.seeds)):
        family = FAMILIES[k % len(FAMILIES)]
        r = run_reel(args.work, seed, args.preset, family)
        reels.append(r)
        for s in r["shots"]:
            why = "" if s["reason"] is None else " (" + " ".join(s["reason"].split()[:8]) + " ...)"
            valid = "" if s["valid"] is None else f" {100 * s['valid']:.0f} % valid"
            print(f"seed {seed} {family:10} shot {s['shot']} {s['source']:22} {s['status']}{valid}{why}", flush=True)
    shots = [s for r in reels for s in r["shots"]]
    aligned = [s for s in shots if s["status"] == "aligned"]
    rejected = Counter(s["source"] for s in shots if s["status"] != "aligned")
    valid = [s["valid"] for s in aligned if s["valid"] is not None]
    print(
        f"{len(reels)} reels: {len(aligned)} of {len(shots)} shots with film aligned; rejected by picture: "
        f"{dict(rejected) or 'none'}; mean valid {100 * sum(valid) / max(len(valid), 1):.1f} %"
    )
    seconds = {v: sum(r["times"].get(v, 0.0) for r in reels) for v in ("synth", "conform", "align")}
    print("wall s: " + ", ".join(f"{v} {t:.1f}" for v, t in seconds.items()))
    if args.json is not None:
        doc = {
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "preset": args.preset,
            "reels": reels,
            "summary": {"shots": len(shots), "aligned": len(aligned), "rejected_by_picture": dict(rejected)},
        }
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
