"""I/O benchmark: video decode and EXR write throughput, each against a baseline measured in the same run.

    python bench/io.py [--out bench/results/io.json] [--seconds 10] [--repeats 3]

What it does (about 30-60 s on two cores):

1. Makes a test broadcast in a temporary folder: 720x480, 29.97 fps, interlaced (top field first)
   MPEG-2 4:2:0 at 8 Mb/s from ffmpeg's ``testsrc2`` (later: ``remaster synth``).
2. Decode throughput, best of ``--repeats``, frames per second:
   - ``ffmpeg -i FILE -f null -`` (the baseline: FFmpeg's own decode loop, its default threading),
     timed by its ``-benchmark`` rtime (process start-up excluded) and, for reference, as wall time;
   - ``iter_ycbcr_frames`` (PyAV decode + copying the raw planes out);
   - ``iter_rgb_frames`` (the above + interlaced chroma upsampling + BT.601 -> float32 R'G'B').
3. EXR write throughput, best of ``--repeats``: half float, zip, 960x720 RGB frames through
   ``remaster_core.io.images.write_image`` (atomic, metadata read back) vs ``np.save`` of the same
   float16 array (no compression: the cost of just putting the bytes on disk).

Prints a table and writes the numbers (with the machine, library versions and the input) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

try:
    import remaster_core  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import numpy as np
import OpenImageIO as oiio

from remaster_core.io.atomic import atomic_path
from remaster_core.io.images import write_image
from remaster_core.io.video import iter_rgb_frames, iter_ycbcr_frames, probe_video

EXR_SIZE = (720, 960)  # (H, W)
RESULTS = Path(__file__).resolve().parent / "results" / "io.json"


def make_broadcast(folder: Path, seconds: float) -> Path:
    """A 720x480 29.97i MPEG-2 test broadcast of ``seconds`` seconds."""
    path = folder / "broadcast.mpg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=720x480:rate=30000/1001"]
        + [
            "-t",
            str(seconds),
            "-vf",
            "setsar=8/9",
            "-c:v",
            "mpeg2video",
            "-flags",
            "+ilme+ildct",
            "-top",
            "1",
        ]
        + ["-b:v", "8M", "-pix_fmt", "yuv420p", "-colorspace", "smpte170m", "-color_range", "tv", str(path)],
        check=True,
    )
    return path


def ffmpeg_version() -> str:
    out = subprocess.run(["ffmpeg", "-version"], check=True, capture_output=True, text=True).stdout
    return out.split("\n")[0]


def best_of(repeats: int, run: Callable[[], int]) -> tuple[float, int]:
    """Run ``run`` (which returns how many items it handled) ``repeats`` times: (fastest seconds, items)."""
    best, items = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        items = run()
        best = min(best, time.perf_counter() - start)
    return best, items


def ffmpeg_null(path: Path, repeats: int) -> tuple[float, float]:
    """Best wall time of ``ffmpeg -i FILE -f null -`` and best ``-benchmark`` rtime (its decode loop only,
    without the ~0.1-0.2 s of process start-up, which would dominate a 10 s SD clip)."""
    best_wall, best_loop = float("inf"), float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-nostats", "-benchmark", "-i", str(path), "-f", "null", "-"],
            check=True,
            capture_output=True,
            text=True,
        )
        best_wall = min(best_wall, time.perf_counter() - start)
        match = re.search(r"rtime=([0-9.]+)s", done.stderr)
        if match is None:
            raise RuntimeError(f"ffmpeg -benchmark printed no rtime: {done.stderr[-500:]}")
        best_loop = min(best_loop, float(match.group(1)))
    return best_wall, best_loop


def count(iterator_factory: Callable[[], Iterable[object]]) -> Callable[[], int]:
    def run() -> int:
        return sum(1 for _ in iterator_factory())

    return run


def exr_writes(folder: Path, images: list[np.ndarray]) -> Callable[[], int]:
    def run() -> int:
        for i, image in enumerate(images):
            write_image(folder / f"plate.{1001 + i}.exr", image, bit_depth="half", compression="zip")
        return len(images)

    return run


def npy_writes(folder: Path, images: list[np.ndarray]) -> Callable[[], int]:
    halves = [image.astype(np.float16) for image in images]

    def run() -> int:
        for i, image in enumerate(halves):
            np.save(folder / f"plate.{1001 + i}.npy", image)
        return len(halves)

    return run


def exr_images(frames: int) -> list[np.ndarray]:
    """Photographic-ish content (smooth gradients + texture + grain) so zip has realistic work to do."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : EXR_SIZE[0], 0 : EXR_SIZE[1]].astype(np.float32)
    base = np.stack(
        [xx / EXR_SIZE[1], yy / EXR_SIZE[0], 0.5 + 0.25 * np.sin(xx / 17) * np.cos(yy / 23)], axis=-1
    )
    return [
        np.clip(base + rng.normal(0, 0.02, base.shape).astype(np.float32) * (i + 1) / frames, 0, 1)
        for i in range(frames)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the test broadcast")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--exr-frames", type=int, default=24, help="EXR frames written per run")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("bench/io.py needs the ffmpeg CLI on PATH", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="remaster-bench-io-") as tmp:
        folder = Path(tmp)
        broadcast = make_broadcast(folder, args.seconds)
        info = probe_video(broadcast)
        frames = info.frame_count
        rows: list[dict[str, object]] = []

        def row(name: str, unit: str, items: int, seconds: float) -> float:
            rows.append(
                {"name": name, "items": items, "unit": unit, "best_s": seconds, "per_s": items / seconds}
            )
            return items / seconds

        def measure(name: str, unit: str, run: Callable[[], int]) -> float:
            seconds, items = best_of(args.repeats, run)
            return row(name, unit, items, seconds)

        wall, loop = ffmpeg_null(broadcast, args.repeats)
        ffmpeg_fps = row("decode: ffmpeg -f null, loop (baseline)", "frame", frames, loop)
        row("decode: ffmpeg -f null, incl. start-up", "frame", frames, wall)
        ycbcr_fps = measure("decode: iter_ycbcr_frames", "frame", count(lambda: iter_ycbcr_frames(broadcast)))
        rgb_fps = measure("decode: iter_rgb_frames", "frame", count(lambda: iter_rgb_frames(broadcast)))

        images = exr_images(args.exr_frames)
        (folder / "exr").mkdir()
        (folder / "npy").mkdir()
        npy_fps = measure("write: np.save float16 (baseline)", "frame", npy_writes(folder / "npy", images))
        exr_fps = measure("write: write_image EXR half zip", "frame", exr_writes(folder / "exr", images))
        exr_bytes = sum(p.stat().st_size for p in (folder / "exr").glob("*.exr")) / len(images)
        npy_bytes = sum(p.stat().st_size for p in (folder / "npy").glob("*.npy")) / len(images)

    ratios = {
        "iter_ycbcr_frames / ffmpeg": ycbcr_fps / ffmpeg_fps,
        "iter_rgb_frames / ffmpeg": rgb_fps / ffmpeg_fps,
        "write_image exr / np.save": exr_fps / npy_fps,
    }
    result = {
        "benchmark": "io",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pyav": av.__version__,
            "ffmpeg_cli": ffmpeg_version(),
            "openimageio": oiio.__version__,
            "numpy": np.__version__,
        },
        "input": {
            "video": "testsrc2 720x480 29.97i MPEG-2 4:2:0 8 Mb/s (tff)",
            "frames": frames,
            "exr": f"{EXR_SIZE[1]}x{EXR_SIZE[0]} RGB half zip, {len(images)} frames per run",
            "exr_bytes_per_frame": round(exr_bytes),
            "npy_bytes_per_frame": round(npy_bytes),
        },
        "repeats": args.repeats,
        "results": rows,
        "ratios": ratios,
    }

    width = max(len(str(r["name"])) for r in rows)
    print(f"{'measurement':<{width}}  {'items':>6}  {'best s':>7}  {'per s':>8}")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['items']:>6}  {r['best_s']:>7.3f}  {r['per_s']:>8.1f}")
    for name, ratio in ratios.items():
        print(f"{name:<{width}}  {ratio:>6.2f}x")
    with atomic_path(args.out) as partial:
        partial.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
