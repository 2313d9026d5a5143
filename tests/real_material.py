"""Real 23.976p pictures for the conform tests and benchmark: where they are and how a broadcast is made.

The clip is ``Megamind.avi`` from the Debian package ``opencv-doc`` (270 frames of a real animated
film, 720x528 MPEG-4 Part 2 at 23.976 fps, four hard cuts). ``scripts/fetch_real.sh`` (run by
``scripts/install.sh --dev``) downloads the package and extracts the file into ``.cache/real/``; nothing
here downloads anything. Without the file a test skips, except under ``CI=true`` where it fails (CI
installs with ``--dev``, so a missing clip there is a broken setup, not a reason to skip).

``build_real_reel`` turns a stretch of it into a broadcast the way real broadcast was made, with the
synthetic reels' own telecine (``synth.telecine.encode_broadcast``: BT.601 limited 4:2:2, ffmpeg
``telecine=pattern=23`` at a pulldown phase, MPEG-2 MP@ML interlaced top field first, 8 Mbit/s). The
truth it writes has the keys ``conform.evaluate.score_stress`` reads, in the clip's own frame numbers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from remaster_core.io.atomic import write_json_atomic
from remaster_core.synth import telecine

REAL_DIR = Path(__file__).resolve().parents[1] / ".cache" / "real"
MEGAMIND = "Megamind.avi"
MEGAMIND_FRAMES = 270
# 720x528 -> the NTSC raster 720x480: the middle 480 lines (no resampling, so the truth is the decode)
MEGAMIND_CROP = "crop=720:480:0:24"
# The 24p frames that open a shot (frame 0 is black; 1 opens the first picture). Measured once on the
# decoded, cropped frames: the mean absolute 8-bit R'G'B' difference to the frame before is 32.5-43.6 at
# these and at most 5.5 anywhere else; ``measured_cuts`` re-measures it.
MEGAMIND_CUTS = (1, 98, 154, 200)
CUT_THRESHOLD = 16.0


def in_ci() -> bool:
    """Whether this run is CI (``CI=true``), where missing real material is a failure, not a skip."""
    return os.environ.get("CI", "") == "true"


def real_clip(name: str = MEGAMIND) -> Path:
    """Path of the real clip ``name`` in ``.cache/real/``; skips the calling test when it is absent
    (fails under ``CI=true``)."""
    path = REAL_DIR / name
    if not path.is_file():
        why = f"{path} is absent: run scripts/fetch_real.sh (Debian's opencv-doc, fetched with apt-get download)"
        if in_ci():
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)
    return path


def decode_clip(clip: Path, out_pattern: Path) -> int:
    """Decode every frame of ``clip`` (cropped to 720x480) to 8-bit R'G'B' PNGs ``out_pattern`` numbered
    from 0, as decoded (no frame-rate conversion); returns the frame count."""
    out_pattern.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [telecine.ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip),
         "-an", "-fps_mode", "passthrough", "-vf", MEGAMIND_CROP, "-pix_fmt", "rgb24",
         "-compression_level", "1", "-pred", "sub", "-start_number", "0", str(out_pattern)],
        check=True,
    )  # fmt: skip
    return len(list(out_pattern.parent.glob("*.png")))


def measured_cuts(pattern: str, count: int, threshold: float = CUT_THRESHOLD) -> list[int]:
    """The frames of the 8-bit PNG sequence ``pattern`` whose mean absolute difference to the frame
    before exceeds ``threshold`` code values (hard cuts)."""
    out: list[int] = []
    prev: np.ndarray | None = None
    for n in range(count):
        read = cv2.imread(pattern % n, cv2.IMREAD_COLOR)
        if read is None:
            raise FileNotFoundError(f"{pattern % n}: not a readable image")
        image = read.astype(np.int16)
        if prev is not None and float(np.abs(image - prev).mean()) > threshold:
            out.append(n)
        prev = image
    return out


def build_real_reel(out: Path, clip: Path, *, first: int, count: int, phase: int) -> dict[str, Any]:
    """Telecine clip frames ``first..first+count-1`` into ``out/broadcast.mpg``; returns the truth.

    Writes ``out/film/film.%06d.png`` (every frame of the clip: the truth, and the film scan a conform
    with ``--film`` is given), ``out/broadcast.mpg`` (``phase``: the pulldown phase 0..3 of frame
    ``first``, see ``synth.telecine``) and ``out/truth.json``: ``telecine`` (the clip frame of each
    field), ``frames24p``, ``cuts_24p`` (``MEGAMIND_CUTS``, checked against the frames), ``leader_frames``
    0 (film index = clip index).
    """
    pattern = out / "film" / "film.%06d.png"
    n = decode_clip(clip, pattern)
    if n != MEGAMIND_FRAMES:
        raise AssertionError(f"{clip} decoded to {n} frames, expected {MEGAMIND_FRAMES}")
    cuts = measured_cuts(str(pattern), n)
    if cuts != list(MEGAMIND_CUTS):
        raise AssertionError(f"{clip}: cuts measured at {cuts}, the data says {list(MEGAMIND_CUTS)}")
    if not (0 <= first and count >= 2 and first + count <= n):
        raise ValueError(f"frames {first}..{first + count - 1} are not inside the clip's 0..{n - 1}")
    stretch = out / "telecine_in"
    stretch.mkdir()
    for k in range(count):
        # absolute: a relative target is read from the link's own folder (``bench/conform.py --real``'s
        # default --work is relative)
        (stretch / f"frame.{k:06d}.png").symlink_to(Path(str(pattern) % (first + k)).absolute())
    telecine.encode_broadcast(
        stretch / "frame.%06d.png", count, out / "broadcast.mpg", codec="mpeg2", phase=phase
    )
    for link in stretch.iterdir():
        link.unlink()
    stretch.rmdir()
    mapping = telecine.telecine_mapping(count, phase, "t")
    truth: dict[str, Any] = {
        "clip": f"{clip.name} (Debian opencv-doc), frames {first}..{first + count - 1}",
        "broadcast": {
            "path": "broadcast.mpg",
            "field_order": "tff",
            "codec": telecine.CODECS["mpeg2"].name,
            "fps": telecine.FPS_VIDEO,
            "frame_count": len(mapping),
            "pulldown_phase": phase,
        },
        "frames24p": {"pattern": "film/film.%06d.png", "count": n},
        "telecine": [[t + first, b + first] for t, b in mapping],
        "cuts_24p": [0, *MEGAMIND_CUTS],
        "leader_frames": 0,
    }
    write_json_atomic(out / "truth.json", truth)
    return truth
