"""Small broadcast clips for the conform tests, made for real with ffmpeg from 24p PNG frames.

Each clip has a known truth: which 24p frame every field shows (``field_sources``), so the tests check
the conform field by field. Frames are 352x240 (NTSC SIF: quick to encode and decode) views of
scikit-image's photographs panning at 0.5-2.5 px a frame with fresh grain per frame, one photograph per
shot, so consecutive shots differ and frames inside a shot only move. The 3:2 telecine is ffmpeg's
(``telecine=pattern=23``) and its field mapping is ``remaster_core.synth.telecine.telecine_mapping``
(checked against ffmpeg by the synth tests).

Clips are built once per test session (``clip(name, tmp_path_factory)`` caches them).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import skimage.data

from remaster_core.synth.telecine import telecine_mapping

SIZE = (352, 240)  # (W, H)
PICTURES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
OTHER_PICTURES = ("camera", "moon", "page", "text", "coins", "horse")  # grey ones: "another show"
_MPEG2 = ["-c:v", "mpeg2video", "-b:v", "5M", "-maxrate", "8M", "-bufsize", "2M", "-g", "15", "-bf", "2"]
_INTERLACED = ["-flags", "+ilme+ildct", "-top", "1", "-field_order", "tt"]
_INTERLACED_BFF = ["-flags", "+ilme+ildct", "-top", "0", "-field_order", "bb"]


@dataclass
class Clip:
    """A broadcast clip and its truth.

    Attributes:
        path: the video file.
        frames24p: PNG paths of the 24p frames, in order (index = 24p index).
        field_sources: 24p index shown by each field in temporal order; -1 for video-originated fields.
        cuts: 24p index of the first frame of every shot (0 first).
        film: folder of the "film" frames (the 24p frames of the shots, graded and cropped), or None.
        film_first: per shot, the film frame index of its first frame (None: not on film).
    """

    path: Path
    frames24p: list[Path]
    field_sources: list[int]
    cuts: list[int]
    film: Path | None = None
    film_first: list[int | None] = field(default_factory=list)
    first_field: str = "t"

    def truth(self) -> dict[str, Any]:
        """The clip's truth in the shape of a synth ``truth.json`` (what ``conform.evaluate`` reads)."""
        s = self.field_sources
        tff = self.first_field == "t"
        return {
            "broadcast": {"path": str(self.path), "field_order": "tff" if tff else "bff"},
            "telecine": [[s[k], s[k + 1]] if tff else [s[k + 1], s[k]] for k in range(0, len(s) - 1, 2)],
            "frames24p": {
                "pattern": str(self.frames24p[0].parent / "f%05d.png"),
                "count": len(self.frames24p),
            },
            "cuts_24p": [c for c in self.cuts if c],
        }


@functools.lru_cache(maxsize=16)
def _picture(name: str) -> np.ndarray:
    """scikit-image's photograph ``name`` as float32 RGB 0..255, scaled to cover 1.4x the frame."""
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    pic = np.ascontiguousarray(img[..., :3]).astype(np.float32)
    w, h = SIZE
    scale = max(w / pic.shape[1], h / pic.shape[0]) * 1.4
    return cv2.resize(pic, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def shot_frames(picture: str, n: int, rng: np.random.Generator, *, static: bool = False) -> list[np.ndarray]:
    """``n`` 8-bit RGB (H, W, 3) frames of a pan over ``picture`` (a still view if ``static``) with grain."""
    w, h = SIZE
    pic = _picture(picture)
    speed = 0.0 if static else float(rng.uniform(0.5, 2.5))
    angle = float(rng.uniform(0, 2 * np.pi))
    cx, cy = pic.shape[1] / 2, pic.shape[0] / 2
    out = []
    for k in range(n):
        m = np.array(
            [
                [1.0, 0.0, cx + speed * k * np.cos(angle) - w / 2],
                [0.0, 1.0, cy + speed * k * np.sin(angle) - h / 2],
            ]
        )
        frame = cv2.warpAffine(
            pic, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )
        frame = frame + rng.normal(0.0, 2.0, (h, w, 1)).astype(np.float32)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def write_pngs(frames: list[np.ndarray], folder: Path, start: int = 0) -> list[Path]:
    """Write RGB frames as ``folder/f%05d.png`` from ``start``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, frame in enumerate(frames):
        p = folder / f"f{start + k:05d}.png"
        cv2.imwrite(str(p), frame[..., ::-1])
        paths.append(p)
    return paths


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test with its message if it fails."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.skip("ffmpeg is not installed")
    proc = subprocess.run(
        [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {proc.stderr[-2000:]}")


def telecine_sources(n: int, start: int = 0, first_field: str = "t") -> list[int]:
    """24p index of each field, in temporal order, of the 3:2 telecine of frames start..start+n-1."""
    pairs = telecine_mapping(n, 0, first_field)  # (top source, bottom source) per frame
    return [
        start + s for top, bottom in pairs for s in ((top, bottom) if first_field == "t" else (bottom, top))
    ]


def make_film_clip(
    folder: Path,
    lengths: list[int],
    *,
    leader: int = 3,
    seed: int = 0,
    static_shot: int | None = None,
    first_field: str = "t",
) -> Clip:
    """A telecined broadcast of a dark leader plus shots of ``lengths`` 24p frames, and its "film".

    ``first_field`` "b" makes a bottom-field-first broadcast (as DV is).
    """
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = [np.full((SIZE[1], SIZE[0], 3), 20, np.uint8)] * leader
    cuts = [0] if leader else []
    for s, n in enumerate(lengths):
        if frames:
            cuts.append(len(frames))
        frames += shot_frames(PICTURES[s % len(PICTURES)], n, rng, static=(s == static_shot))
    pngs = write_pngs(frames, folder / "p24")
    film = folder / "film"
    film.mkdir(parents=True, exist_ok=True)
    film_first: list[int | None] = [None] if leader else []
    for k, frame in enumerate(frames[leader:]):
        # the "film": warmer grade, slightly different framing, more resolution
        graded = np.clip(frame.astype(np.float32) * [1.08, 1.0, 0.9] + 6.0, 0, 255)
        crop = graded[4:-4, 6:-6]
        big = cv2.resize(crop, (SIZE[0] * 2, SIZE[1] * 2), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(film / f"film.{k:06d}.png"), np.clip(big, 0, 255).astype(np.uint8)[..., ::-1])
    film_first += list(np.cumsum([0, *lengths[:-1]]).astype(int).tolist())
    out = folder / "broadcast.mpg"
    ffmpeg(
        "-framerate", "24000/1001", "-i", str(folder / "p24" / "f%05d.png"),
        "-vf", f"telecine=first_field={first_field}:pattern=23", *_MPEG2,
        *(_INTERLACED if first_field == "t" else _INTERLACED_BFF), "-pix_fmt", "yuv420p", str(out),
    )  # fmt: skip
    return Clip(
        out, pngs, telecine_sources(len(frames), first_field=first_field), cuts, film, film_first, first_field
    )


def make_break_clip(folder: Path, n_a: int, n_b: int, keep_a: int, skip_b: int, seed: int = 1) -> Clip:
    """Two separately telecined pieces joined after video frame ``keep_a`` of A, from frame ``skip_b`` of B.

    An edit made on the video, across the pulldown cycle: it breaks the cadence and can leave a film
    frame with a single field (an orphan).
    """
    rng = np.random.default_rng(seed)
    pngs = write_pngs(shot_frames(PICTURES[0], n_a, rng) + shot_frames(PICTURES[1], n_b, rng), folder / "p24")
    out = folder / "broadcast.mpg"
    graph = (
        f"[0]trim=end_frame={n_a},telecine=first_field=t:pattern=23,trim=end_frame={keep_a},setpts=PTS-STARTPTS[a];"
        f"[1]telecine=first_field=t:pattern=23,trim=start_frame={skip_b},setpts=PTS-STARTPTS[b];"
        "[a][b]concat=n=2:v=1,setfield=tff[v]"
    )
    pattern = str(folder / "p24" / "f%05d.png")
    ffmpeg(
        "-framerate", "24000/1001", "-i", pattern,
        "-framerate", "24000/1001", "-start_number", str(n_a), "-i", pattern,
        "-filter_complex", graph, "-map", "[v]", *_MPEG2, *_INTERLACED, "-pix_fmt", "yuv420p", str(out),
    )  # fmt: skip
    src_a = telecine_sources(n_a)[: 2 * keep_a]
    src_b = telecine_sources(n_b, start=n_a)[2 * skip_b :]
    return Clip(out, pngs, src_a + src_b, [0, n_a])


def make_video_clip(folder: Path, n_film: int, n_video: int, seed: int = 2) -> Clip:
    """Telecined film, then ``n_video`` frames of video-originated 29.97 (a new moment every field), then film."""
    rng = np.random.default_rng(seed)
    film_a = shot_frames(PICTURES[2], n_film, rng)
    film_b = shot_frames(PICTURES[3], n_film, rng)
    video = shot_frames(PICTURES[4], 2 * n_video, rng)  # 59.94 moments
    write_pngs(film_a, folder / "fa")
    write_pngs(film_b, folder / "fb")
    write_pngs(video, folder / "v")
    pngs = write_pngs(film_a + film_b, folder / "p24")
    out = folder / "broadcast.mpg"
    graph = (
        "[0]telecine=first_field=t:pattern=23,setpts=PTS-STARTPTS[a];"
        "[1]tinterlace=mode=interleave_top,setpts=PTS-STARTPTS[v];"
        "[2]telecine=first_field=t:pattern=23,setpts=PTS-STARTPTS[b];"
        "[a][v][b]concat=n=3:v=1,setfield=tff[o]"
    )
    ffmpeg(
        "-framerate", "24000/1001", "-i", str(folder / "fa" / "f%05d.png"),
        "-framerate", "60000/1001", "-i", str(folder / "v" / "f%05d.png"),
        "-framerate", "24000/1001", "-i", str(folder / "fb" / "f%05d.png"),
        "-filter_complex", graph, "-map", "[o]", "-r", "30000/1001", *_MPEG2, *_INTERLACED, "-pix_fmt", "yuv420p",
        str(out),
    )  # fmt: skip
    sources = telecine_sources(n_film) + [-1] * (2 * n_video) + telecine_sources(n_film, start=n_film)
    return Clip(out, pngs, sources, [0, n_film])


_CACHE: dict[str, Clip] = {}


def clip(name: str, factory: pytest.TempPathFactory) -> Clip:
    """The named clip, built on first use in this session."""
    if name not in _CACHE:
        folder = factory.mktemp(f"clip_{name}")
        builders = {
            # cuts at all four cadence positions: shots start at 24p 3, 12, 22, 33, 45 -> positions 3, 0, 2, 1, 1
            "cuts": lambda: make_film_clip(folder, [9, 10, 11, 12, 8]),
            "static": lambda: make_film_clip(folder, [10, 24, 10], seed=3, static_shot=1),
            "break": lambda: make_break_clip(folder, 22, 22, keep_a=13, skip_b=3),
            "video": lambda: make_video_clip(folder, 20, 30),
            "bff": lambda: make_film_clip(folder, [7, 10, 9, 12], seed=5, first_field="b"),
        }
        _CACHE[name] = builders[name]()
    return _CACHE[name]
