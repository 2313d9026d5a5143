"""The long fuzzing sweep: every verb fed every hostile input of ``tests/fuzz/sweep.py``, plus random
mutations of the real files (more seeds of each bit flip and cut), and the table of verdicts.

Usage (from the repository root; root is needed for the full-disk cases, which mount a small tmpfs)::

    .venv/bin/python bench/fuzz.py                          # every case, 3 random mutations per file kind
    .venv/bin/python bench/fuzz.py --verb render --random 10 --json bench/results/fuzz.json
    .venv/bin/python bench/fuzz.py --ci                     # only the cases tests/fuzz/test_verbs.py runs

The inputs (a tiny synth reel, its conform and pairs, a tiny model, a run folder) are built once into
``--work`` and reused. Each case runs as a real ``remaster`` subprocess with a time bound; the verdicts
are those of ``tests/fuzz/sweep.py`` (clear error, accepted, unclear, traceback, hang, wrote outside, data
loss, partial file). Prints one line per case that is not a clear error or an accepted input, then the
table per verb, and writes every outcome as JSON. Exits 1 when any case is a traceback, a hang, a write
outside the output folder, a data loss or a partial file.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz import sweep

BAD = ("traceback", "hang", "wrote outside", "data loss", "partial file")


def random_cases(count: int, seed: int) -> list[sweep.Case]:
    """``count`` more seeds of each random mutation (bit flips, cuts) of each verb's main input file."""
    rng = random.Random(seed)
    cases: list[sweep.Case] = []
    for k in range(count):
        s = rng.randrange(1 << 30)
        keep = rng.choice([0.01, 0.1, 0.3, 0.7, 0.95, 0.999])
        n = rng.choice([1, 4, 32, 256])

        def flipper(path: Path, s: int = s, n: int = n) -> None:
            sweep.flip(path, n, seed=s)

        def cutter(path: Path, keep: float = keep) -> None:
            sweep.truncate(path, keep)

        for how, mutate in (("flip", flipper), ("truncate", cutter)):
            label = f"{how} #{k} ({f'{n} bytes' if how == 'flip' else f'keep {keep:.3g}'}, seed {s})"
            cases += [
                sweep.Case("conform", f"broadcast {label}", how,
                           sweep._conform_broadcast(lambda p, i, m=mutate: m(p)), ("broadcast.mpg",), accept=True),
                sweep.Case("conform", f"film frame {label}", how,
                           sweep._conform_film(lambda f, m=mutate: m(f / "film.000007.dpx")), ("film.000007.dpx",), accept=True),
                sweep.Case("align", f"conform.json {label}", how,
                           sweep._align(lambda c, f, m=mutate: m(c / "conform.json")), ("conform.json",), accept=True),
                sweep.Case("align", f"conformed frame {label}", how,
                           sweep._align(lambda c, f, m=mutate: m(c / "frames" / "frame.000012.exr")), ("frame.000012.exr",), accept=True),
                sweep.Case("train", f"align.json {label}", how,
                           sweep._train(lambda p, w, m=mutate: m(p / "align.json")), ("align.json",), accept=True),
                sweep.Case("export", f"checkpoint {label}", how,
                           sweep._export(lambda r, m=mutate: m(r / "checkpoints" / "best.safetensors")), ("best.safetensors",), accept=True),
                sweep.Case("render", f"model {label}", how,
                           sweep._render(lambda q, mo, m=mutate: m(mo)), ("model.onnx",), accept=True),
                sweep.Case("render", f"input frame {label}", how,
                           sweep._render(lambda q, mo, m=mutate: m(sweep._frame(q, 1))), ("plate.0001.exr",), accept=True),
                sweep.Case("evaluate", f"reference frame {label}", how,
                           sweep._evaluate(lambda r, f, m=mutate: m(sweep._frame(f, 2))), ("plate.0002.exr",), accept=True),
            ]  # fmt: skip
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/remaster-fuzz"), help="inputs (kept) and cases")
    ap.add_argument("--verb", action="append", default=None, help="only these verbs (repeatable)")
    ap.add_argument("--random", type=int, default=3, help="random mutations per input file kind (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ci", action="store_true", help="only the CI subset")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = ap.parse_args(argv)

    started = time.monotonic()
    inputs = sweep.build_inputs(args.work / "inputs")
    before = sweep.hashes([inputs.root])
    cases = [c for c in sweep.all_cases() if c.ci or not args.ci]
    if not args.ci:
        cases += random_cases(args.random, args.seed)
    if args.verb:
        cases = [c for c in cases if c.verb in args.verb]
    cases_dir = args.work / "cases"
    shutil.rmtree(cases_dir, ignore_errors=True)
    outcomes: list[sweep.Outcome] = []
    for k, case in enumerate(cases):
        outcome = sweep.run_case(case, inputs, cases_dir / f"{k:04d}")
        outcomes.append(outcome)
        if outcome.verdict not in sweep.GOOD:
            print(f"[{outcome.verdict}] {case.id} (exit {outcome.code}, {outcome.seconds:.1f} s): "
                  f"{outcome.message[:300]} {outcome.detail[:2] if outcome.detail else ''}", flush=True)  # fmt: skip
        if outcome.verdict in sweep.GOOD:
            shutil.rmtree(cases_dir / f"{k:04d}", ignore_errors=True)
    after = sweep.hashes([inputs.root])
    if after != before:
        changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
        outcomes.append(
            sweep.Outcome("shared inputs", "all", "data loss", "data loss", None, ", ".join(changed[:5]), 0.0)
        )
    print()
    print(sweep.table(outcomes))
    print(f"\n{len(outcomes)} cases in {time.monotonic() - started:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - started, 1),
        "counts": {v: sum(o.verdict == v for o in outcomes) for v in (*sweep.VERDICTS, "skipped")},
        "outcomes": [o.to_dict() for o in outcomes],
    }
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"json: {args.json}")
    return 1 if any(o.verdict in BAD for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
