"""Stress reels for conform (``remaster synth --preset stress``): everything a real broadcast varies.

A stress reel is small (720x480 broadcast raster, ``StressParams.frames`` 24p frames) and is drawn
whole from its seed. Where the default reels vary framing and degradation, these vary what the
inverse telecine has to survive:

- shots: pans (1-4 px a frame), fast pans (15-40 px), still shots (camera locked, grain moving),
  frozen shots (the same 24p frame repeated: fields indistinguishable), dark low-contrast shots,
  flash shots (1-3 frames), fades from/to black and film dissolves (a cross-fade of two shots done
  on film, so still progressive 24p frames);
- cadence: the 24p sequence is cut into *pieces*, each telecined on its own with 3:2 at a drawn
  phase or 2:3:3:2 pulldown; a piece may lose 0-3 broadcast frames at its start and end (an edit made
  after the telecine, so cadence breaks, orphan fields and cuts inside 3-field frames);
- video-originated stretches: titles scrolling over a dark card at 59.94 fields/s (every field its
  own moment), between pieces;
- coding: MPEG-2 at 3-9 Mbit/s (top or bottom field first), DV (bottom first, 4:1:1) or ProRes 422 HQ;
  a wider grade, lens blur, grain, low-frequency and fine noise than the default preset.

The broadcast is woven here (field by field, from the truth mapping) and encoded by ffmpeg from raw
R'G'B' frames: RGB -> BT.601 limited 4:2:2 (horizontal only, so weaving before or after the
conversion is the same), then the codec's subsampling per field (``scale=interl=1``).

``truth.json`` keeps the keys ``conform.evaluate`` reads (``telecine``: [top_src, bottom_src] per
broadcast frame, -1 for a video field; ``broadcast.field_order``; ``frames24p``; ``cuts_24p``;
``leader_frames``; ``shots[].film_first``) and a ``stress`` section: the pieces (pattern, phase,
frames dropped, 24p range), the video stretches (broadcast frame ranges), the shots' kinds, the soft
transitions (``soft_24p``: [first, last] 24p ranges of fades and dissolves, where a cut may or may
not be found), and each hard cut's field position in its piece's cadence (0..9).

Randomness: everything from ``default_rng([seed, 10])`` (plan) and ``default_rng([seed, 11, i])``
(fine noise of 24p frame i); ffmpeg runs single-threaded and bit-exact.
"""

from __future__ import annotations

import logging
import math
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remaster_core.errors import InputError, MediaError
from remaster_core.io.atomic import atomic_path, write_json_atomic
from remaster_core.io.images import ImageMeta, write_image
from remaster_core.io.outdir import prepare_output_folder
from remaster_core.progress import progress
from remaster_core.synth import telecine
from remaster_core.synth.degrade import DegradeParams, Grade, apply_grade, low_frequency_noise, transfer_chain
from remaster_core.synth.geometry import BROADCAST_SIZE
from remaster_core.synth.scenes import SOURCE_PICTURES, GrainParams, add_grain, load_picture, render_view

log = logging.getLogger("remaster.synth")

STRESS_TRUTH_VERSION = 1
FRAMES24P_PATTERN = "truth/broadcast24p/frame.%06d.png"
FILM_PATTERN = "film/film.%06d.png"
SHOT_KINDS = ("pan", "fast_pan", "still", "frozen", "dark", "flash", "fade", "dissolve")
PATTERNS = ("32", "2332")
STRESS_CODECS = ("mpeg2", "dv", "prores")


@dataclass(frozen=True)
class StressParams:
    """Sizes of a stress reel (the seed draws everything else).

    Attributes:
        frames: (min, max) 24p frames of the reel, leader included.
        leader_frames: (min, max) frames of flat grey leader before the first shot (0 allowed).
        video_probability: chance that a reel holds a video-originated title stretch.
        codec: "mpeg2", "dv", "prores" or None (drawn: mostly MPEG-2).
    """

    frames: tuple[int, int] = (100, 250)
    leader_frames: tuple[int, int] = (0, 6)
    video_probability: float = 0.5
    codec: str | None = None


@dataclass(frozen=True)
class StressShot:
    """One shot: 24p frames ``first .. first + n - 1``; ``kind`` from ``SHOT_KINDS``."""

    index: int
    kind: str
    first: int
    n: int
    picture: str
    centre: tuple[float, float]
    velocity: tuple[float, float]
    scale: float
    level: tuple[float, float]  # (offset, contrast) applied to the view: dark shots are (0.02-0.1, 0.1-0.3)


@dataclass(frozen=True)
class Piece:
    """A stretch of 24p frames telecined on its own; ``drop_start``/``drop_end`` broadcast frames cut away."""

    first: int
    n: int
    pattern: str
    phase: int
    drop_start: int
    drop_end: int


def _pulldown(n: int, pattern: str, phase: int) -> list[int]:
    """Fields held per 24p frame for ``n`` frames of ``pattern`` ("32": 2,3,2,3; "2332") from ``phase``."""
    cycle = (2, 3, 2, 3) if pattern == "32" else (2, 3, 3, 2)
    return [cycle[(k + phase) % 4] for k in range(n)]


def piece_fields(piece: Piece) -> list[int]:
    """The 24p source of every field of ``piece`` in temporal order, whole broadcast frames only.

    The piece starts at the first field of its first frame's run (phase chosen so that the cadence
    starts on a frame boundary: a run that would start on a frame's second field is preceded by an
    orphan of the frame before, which belongs to the piece only if it is in it); fields are grouped
    into broadcast frames of two, a lone last field is dropped, then ``drop_start``/``drop_end``
    frames are cut away.
    """
    holds = _pulldown(piece.n, piece.pattern, piece.phase)
    # fields before the piece's first frame within its cycle: keep the frame grid on even fields
    cycle = (2, 3, 2, 3) if piece.pattern == "32" else (2, 3, 3, 2)
    lead = sum(cycle[: piece.phase]) % 2
    fields: list[int] = [-2] * lead  # a pad field (trimmed with its frame below)
    for k, h in enumerate(holds):
        fields.extend([piece.first + k] * h)
    if len(fields) % 2:
        fields.pop()
    frames = [fields[i : i + 2] for i in range(0, len(fields), 2)]
    if lead:
        frames = frames[1:]  # the frame holding the pad field goes, as telecine's trim does
    frames = frames[piece.drop_start : len(frames) - piece.drop_end]
    return [f for pair in frames for f in pair]


def _grade(rng: np.random.Generator) -> Grade:
    """A grade over a wider range than ``degrade.sample_grade``: up to 35 % desaturated, stronger casts."""
    luma = np.array([0.299, 0.587, 0.114])
    desat = float(rng.uniform(0.0, 0.35))
    m = (1.0 - desat) * np.eye(3) + desat * np.tile(luma, (3, 1))
    m = np.diag(1.0 + rng.uniform(-0.1, 0.1, size=3)) @ m
    lift = rng.uniform(0.0, 0.08, size=3)
    gain = rng.uniform(0.82, 1.0, size=3)
    gamma = rng.uniform(0.8, 1.25, size=3)
    return Grade(
        tuple(tuple(float(v) for v in row) for row in m),
        (float(lift[0]), float(lift[1]), float(lift[2])),
        (float(gamma[0]), float(gamma[1]), float(gamma[2])),
        (float(gain[0]), float(gain[1]), float(gain[2])),
    )


def _degrade(rng: np.random.Generator) -> DegradeParams:
    """Blur and noise over wider ranges than ``degrade.sample_degrade_params``."""
    return DegradeParams(
        lens_sigma=float(rng.uniform(0.5, 2.0)),
        chroma_sigma_x=float(rng.uniform(1.5, 3.5)),
        chroma_sigma_y=float(rng.uniform(0.4, 1.2)),
        lf_cell=16,
        lf_rho=float(rng.uniform(0.8, 0.97)),
        lf_amplitude_y=float(rng.uniform(1.0, 6.0)),
        lf_amplitude_c=float(rng.uniform(1.0, 4.0)),
        fine_sigma=float(rng.uniform(0.5, 3.0)),
        fine_sigma_c=float(rng.uniform(0.5, 3.0)),
    )


def _shot(rng: np.random.Generator, index: int, kind: str, first: int, n: int, picture: str) -> StressShot:
    pic_h, pic_w = load_picture(picture).shape[:2]
    w, h = BROADCAST_SIZE
    scale = min((pic_w - 8) / (w - 1), (pic_h - 8) / (h - 1)) * float(rng.uniform(0.5, 0.8))
    speed = {"pan": rng.uniform(1.0, 4.0), "fast_pan": rng.uniform(15.0, 40.0)}.get(
        kind, rng.uniform(0.5, 3.0)
    )
    if kind in ("still", "frozen"):
        speed = 0.0
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    vx, vy = float(speed * math.cos(angle) * scale), float(speed * math.sin(angle) * scale)
    hw, hh = (w - 1) / 2.0 * scale + 3.0, (h - 1) / 2.0 * scale + 3.0
    span = max(n - 1, 1)
    vx = float(np.clip(vx, -(pic_w - 1 - 2 * hw) / span, (pic_w - 1 - 2 * hw) / span))
    vy = float(np.clip(vy, -(pic_h - 1 - 2 * hh) / span, (pic_h - 1 - 2 * hh) / span))
    x_lo, y_lo = hw + max(0.0, -vx * span), hh + max(0.0, -vy * span)
    x0 = float(rng.uniform(x_lo, max(x_lo, pic_w - 1 - hw - max(0.0, vx * span))))
    y0 = float(rng.uniform(y_lo, max(y_lo, pic_h - 1 - hh - max(0.0, vy * span))))
    level = (float(rng.uniform(0.02, 0.1)), float(rng.uniform(0.1, 0.3))) if kind == "dark" else (0.0, 1.0)
    return StressShot(index, kind, first, n, picture, (x0, y0), (vx, vy), scale, level)


@dataclass(frozen=True)
class StressPlan:
    """A whole stress reel before any pixel: shots, pieces, video stretches, coding, grade, noise."""

    seed: int
    n_24p: int
    leader: int
    shots: tuple[StressShot, ...]
    pieces: tuple[Piece, ...]
    video_after_piece: dict[int, int]  # piece index -> broadcast frames of video title after it
    codec: str
    field_order: str
    bitrate: float  # Mbit/s (MPEG-2)
    grade: Grade
    degrade: DegradeParams
    grain: GrainParams


def plan_stress(seed: int, params: StressParams | None = None) -> StressPlan:
    """Draw a stress reel from ``seed``: shots of every kind, pieces and their cadence, coding."""
    p = params or StressParams()
    if p.codec is not None and p.codec not in STRESS_CODECS:
        raise InputError(f"unknown stress codec {p.codec!r}; choose one of {', '.join(STRESS_CODECS)}")
    rng = np.random.default_rng([seed, 10])
    n_24p = int(rng.integers(p.frames[0], p.frames[1] + 1))
    leader = int(rng.integers(p.leader_frames[0], p.leader_frames[1] + 1))
    pictures = list(SOURCE_PICTURES)
    shots: list[StressShot] = []
    first = leader
    kinds = list(SHOT_KINDS)
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    while first < n_24p:
        kind = (
            order[len(shots) % len(order)]
            if len(shots) < len(order)
            else kinds[int(rng.integers(len(kinds)))]
        )
        if len(shots) == 0 and kind in ("flash", "dissolve"):
            kind = "pan"
        n = (
            int(rng.integers(1, 4)) if kind == "flash"
            else int(rng.integers(6, 15)) if kind == "fast_pan"
            else int(rng.integers(8, 30))
        )  # fmt: skip
        n = min(n, n_24p - first)
        prev = shots[-1].picture if shots else None
        choices = [q for q in pictures if q != prev]
        picture = choices[int(rng.integers(len(choices)))]
        shots.append(_shot(rng, len(shots), kind, first, n, picture))
        first += n
    # pieces: 1-3, each with its own pulldown; edits after telecine drop 0-3 frames at the joins
    n_pieces = int(rng.integers(1, 4))
    bounds = (
        sorted(int(b) for b in rng.choice(np.arange(leader + 12, n_24p - 12), n_pieces - 1, replace=False))
        if n_24p - leader > 40 and n_pieces > 1
        else []
    )
    edges = [0, *bounds, n_24p]
    pieces = []
    for k in range(len(edges) - 1):
        pattern = "2332" if rng.uniform() < 0.25 else "32"
        drop_start = int(rng.integers(0, 4)) if k > 0 else 0
        drop_end = int(rng.integers(0, 4)) if k < len(edges) - 2 else 0
        pieces.append(
            Piece(edges[k], edges[k + 1] - edges[k], pattern, int(rng.integers(4)), drop_start, drop_end)
        )
    video: dict[int, int] = {}
    if rng.uniform() < p.video_probability:
        video[int(rng.integers(len(pieces)))] = int(rng.integers(6, 20))
    codec = p.codec or str(rng.choice(np.array(STRESS_CODECS), p=[0.7, 0.15, 0.15]))
    field_order = (
        "bff" if codec == "dv" else ("tff" if codec == "prores" else str(rng.choice(["tff", "bff"])))
    )
    bitrate = round(float(rng.uniform(3.0, 9.0)), 2)
    grain = GrainParams(
        amplitude=float(rng.uniform(0.0, 0.03)),
        size=float(rng.uniform(0.4, 1.0)),
        colour=float(rng.uniform(0.1, 0.5)),
    )
    return StressPlan(
        seed, n_24p, leader, tuple(shots), tuple(pieces), video, codec, field_order, bitrate,
        _grade(rng), _degrade(rng), grain,
    )  # fmt: skip


def _view(shot: StressShot, k: int, rng: np.random.Generator) -> np.ndarray:
    """The clean picture of frame ``k`` of ``shot`` (float32 RGB 0..1 at the broadcast raster, grain on)."""
    t = 0 if shot.kind == "frozen" else k
    centre = (shot.centre[0] + shot.velocity[0] * t, shot.centre[1] + shot.velocity[1] * t)
    view = render_view(load_picture(shot.picture), centre, shot.scale, BROADCAST_SIZE)
    offset, contrast = shot.level
    if contrast != 1.0:
        view = np.float32(offset) + np.float32(contrast) * view
    return view


def _title_field(index: int, seed: int) -> np.ndarray:
    """A video title card at field moment ``index``: text scrolling up 3 px a field over a dark ramp."""
    w, h = BROADCAST_SIZE
    card = np.zeros((h, w, 3), np.uint8)
    card[:] = np.linspace(20, 60, h, dtype=np.float32)[:, None, None].astype(np.uint8)
    y = h - 3 * index
    for line in range(4):
        cv2.putText(
            card, f"REMASTER {seed} LINE {line}", (60, y + 70 * line), cv2.FONT_HERSHEY_DUPLEX, 1.4,
            (235, 235, 210), 2, cv2.LINE_AA,
        )  # fmt: skip
    return card


def field_mapping(plan: StressPlan) -> tuple[list[int], list[tuple[int, int]], list[dict[str, Any]]]:
    """The broadcast's fields in temporal order: (24p source per field, -1 for video), video frame
    ranges [first, last) in broadcast frames, and per piece its broadcast frame range and first field."""
    sources: list[int] = []
    video: list[tuple[int, int]] = []
    piece_info: list[dict[str, Any]] = []
    for k, piece in enumerate(plan.pieces):
        start = len(sources)
        sources.extend(piece_fields(piece))
        piece_info.append({**asdict(piece), "broadcast_frames": [start // 2, len(sources) // 2]})
        if k in plan.video_after_piece:
            a = len(sources) // 2
            sources.extend([-1] * (2 * plan.video_after_piece[k]))
            video.append((a, len(sources) // 2))
    return sources, video, piece_info


def _cut_positions(plan: StressPlan, sources: list[int]) -> dict[int, int]:
    """For each shot start present in the broadcast, the phase (0..9) of its first field in its piece."""
    out: dict[int, int] = {}
    starts = {s.first for s in plan.shots[1:]}
    for piece in plan.pieces:
        holds = _pulldown(piece.n, piece.pattern, piece.phase)
        cycle = (2, 3, 2, 3) if piece.pattern == "32" else (2, 3, 3, 2)
        pos = sum(cycle[: piece.phase])
        for k, h in enumerate(holds):
            if piece.first + k in starts and piece.first + k in sources:
                out[piece.first + k] = pos % 10
            pos += h
    return out


def _encode(raw_frames: Any, n: int, out_path: Path, plan: StressPlan) -> None:
    """Pipe woven R'G'B' uint8 frames into ffmpeg and encode them as ``plan.codec`` interlaced."""
    spec = telecine.CODECS[plan.codec]
    args = list(spec.encoder_args)
    if plan.codec == "mpeg2":
        args[args.index("-b:v") + 1] = f"{plan.bitrate}M"
        args[args.index("-maxrate") + 1] = f"{plan.bitrate * 1.2:.2f}M"
        args[args.index("-top") + 1] = "1" if plan.field_order == "tff" else "0"
    flags = "accurate_rnd+full_chroma_int+bitexact"
    vf = ",".join([
        f"scale=out_color_matrix=bt601:out_range=tv:flags=bicubic+{flags}", "format=yuv422p",
        f"setfield={plan.field_order}", f"scale=interl=1:flags=bicubic+{flags}", f"format={spec.pix_fmt}",
        "setsar=8/9", "setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m",
    ])  # fmt: skip
    w, h = BROADCAST_SIZE
    exe = telecine.ffmpeg_binary()
    with atomic_path(out_path) as tmp:
        cmd = [
            exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{w}x{h}", "-framerate", telecine.FPS_VIDEO, "-i", "pipe:0", "-vf", vf, "-threads", "1",
            "-fflags", "+bitexact", *args, "-color_primaries", "smpte170m", "-color_trc", "smpte170m",
            "-colorspace", "smpte170m", "-color_range", "tv", "-f", spec.muxer, str(tmp),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in raw_frames:
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise MediaError(f"ffmpeg failed to encode the stress broadcast {out_path}: {err.strip()[-800:]}")
    log.debug("encoded %d frames into %s", n, out_path)


def build_stress_reel(
    out: Path, *, seed: int = 1, params: StressParams | None = None, force: bool = False
) -> dict[str, Any]:
    """Build stress reel ``seed`` in ``out`` (see the module docstring); returns its truth.

    Raises:
        InputError: ``out`` is not empty (without ``force``), or a bad codec.
        MediaError: ffmpeg is missing or fails.
    """
    telecine.ffmpeg_binary()
    out = Path(out)
    plan = plan_stress(seed, params)
    sources, video, piece_info = field_mapping(plan)
    with prepare_output_folder(out, verb="synth", force=force, what="reel"):
        frames24: list[np.ndarray] = []
        lf = low_frequency_noise(np.random.default_rng([seed, 12]), plan.degrade)
        shot_of = {i: s for s in plan.shots for i in range(s.first, s.first + s.n)}
        png_meta = ImageMeta(extra={"png:compressionLevel": 1})
        film_meta = ImageMeta(pixel_aspect=1.0, extra={"png:compressionLevel": 1})
        clean: dict[int, np.ndarray] = {}
        for i in progress(range(plan.n_24p), desc="synth stress 24p", unit="frame"):
            rng = np.random.default_rng([seed, 11, i])
            shot = shot_of.get(i)
            if shot is None:  # leader: flat grey with a frame counter
                card = np.full((BROADCAST_SIZE[1], BROADCAST_SIZE[0], 3), 90, np.uint8)
                cv2.putText(card, str(i), (300, 280), cv2.FONT_HERSHEY_DUPLEX, 4.0, (230, 230, 230), 6)
                view = card.astype(np.float32) / np.float32(255.0)
            else:
                k = i - shot.first
                if shot.kind == "frozen" and k > 0:
                    frames24.append(frames24[-1])
                    clean[i] = clean[i - 1]
                    continue
                view = add_grain(_view(shot, k, rng), rng, plan.grain)
                if shot.kind == "fade":
                    ramp = min(1.0, (k + 1) / min(shot.n, 8))
                    view = view * np.float32(ramp)
                if shot.kind == "dissolve" and shot.index > 0:
                    prev = plan.shots[shot.index - 1]
                    mix = min(1.0, (k + 1) / (shot.n + 1))
                    view = np.float32(mix) * view + np.float32(1 - mix) * _view(prev, prev.n - 1 + k + 1, rng)
            clean[i] = view
            frames24.append(transfer_chain(apply_grade(view, plan.grade), plan.degrade, next(lf), rng))
            write_image(out / (FRAMES24P_PATTERN % i), frames24[-1], bit_depth="8", meta=png_meta)
            if shot is not None:
                write_image(out / (FILM_PATTERN % (i - plan.leader)), view, bit_depth="8", meta=film_meta)
        for i in range(plan.n_24p):  # frozen frames skipped above
            path = out / (FRAMES24P_PATTERN % i)
            if not path.exists():
                write_image(path, frames24[i], bit_depth="8", meta=png_meta)
            film = out / (FILM_PATTERN % (i - plan.leader))
            if i >= plan.leader and not film.exists():
                write_image(film, clean[i], bit_depth="8", meta=film_meta)

        top_first = plan.field_order == "tff"
        n_frames = len(sources) // 2
        vid_index = 0

        def woven() -> Any:
            nonlocal vid_index
            for j in range(n_frames):
                a, b = sources[2 * j], sources[2 * j + 1]
                pics = []
                for s in (a, b):
                    if s == -1:
                        pics.append(_title_field(vid_index, seed))
                        vid_index += 1
                    else:
                        pics.append(frames24[s])
                first, second = pics
                top, bottom = (first, second) if top_first else (second, first)
                frame = np.empty_like(top)
                frame[0::2] = top[0::2]
                frame[1::2] = bottom[1::2]
                yield frame

        spec = telecine.CODECS[plan.codec]
        broadcast = f"broadcast{spec.extension}"
        _encode(woven(), n_frames, out / broadcast, plan)
        telecine_pairs = [
            [sources[2 * j], sources[2 * j + 1]] if top_first else [sources[2 * j + 1], sources[2 * j]]
            for j in range(n_frames)
        ]
        cut_positions = _cut_positions(plan, sources)
        truth: dict[str, Any] = {
            "version": STRESS_TRUTH_VERSION,
            "seed": seed,
            "preset": "stress",
            "broadcast": {
                "path": broadcast,
                "size": list(BROADCAST_SIZE),
                "fps": telecine.FPS_VIDEO,
                "field_order": plan.field_order,
                "pixel_aspect": "8/9",
                "codec": spec.name,
                "bitrate_mbps": plan.bitrate if plan.codec == "mpeg2" else None,
                "frame_count": n_frames,
            },
            "film": {
                "pattern": FILM_PATTERN,
                "frame_count": plan.n_24p - plan.leader,
                "first_24p": plan.leader,
            },
            "leader_frames": plan.leader,
            "frames24p": {"pattern": FRAMES24P_PATTERN, "count": plan.n_24p},
            "telecine": telecine_pairs,
            "cuts_24p": [s.first for s in plan.shots if s.kind != "dissolve"],
            "shots": [
                {
                    "index": s.index,
                    "kind": s.kind,
                    "first_24p": s.first,
                    "n_frames": s.n,
                    "source_image": s.picture,
                    "film_first": s.first - plan.leader,
                    "speed_px": float(math.hypot(*s.velocity) / s.scale),
                }
                for s in plan.shots
            ],
            "stress": {
                "pieces": piece_info,
                "video_frames": [list(v) for v in video],
                "soft_24p": [
                    [s.first, s.first + min(s.n, 8) - 1] if s.kind == "fade" else [s.first - 1, s.first + s.n]
                    for s in plan.shots
                    if s.kind in ("fade", "dissolve")
                ],
                "cut_positions": {str(k): v for k, v in sorted(cut_positions.items())},
                "grade": plan.grade.to_dict(),
                "degradation": plan.degrade.to_dict(),
                "film_grain": asdict(plan.grain),
            },
        }
        write_json_atomic(out / "truth.json", truth)
    return truth
