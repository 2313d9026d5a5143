"""Build a synthetic "surviving film + broadcast" reel with exact truth (``remaster synth``).

What lands in ``OUT``:

- ``film/film.%06d.<ext>``: the surviving film scan, 23.976p progressive, float RGB 0..1
  display-referred code values, square pixels, numbered from 0 and contiguous over the shots that kept
  their film (a missing-film shot leaves no gap: the scan is the concatenation of the surviving reels).
  Timecode per frame (EXR and DPX): 01:00:00:00 at 24 fps non-drop plus the frame's position in the
  reel's *original* film order (leader excluded, missing shots included), so it jumps where a shot
  is missing.
- ``truth/film_missing/shotNN/film.%06d.<ext>``: the film of missing-film shots (kept only as truth,
  for evaluation), numbered from 0 within the shot.
- ``truth/broadcast24p/frame.%06d.png``: the degraded 24p frames (leader + every shot) as 8-bit RGB:
  exactly what went into the telecine.
- ``broadcast.mpg`` (or ``.dv`` / ``.mov``): 720x480 29.97 interlaced, 3:2 telecine of those frames.
- ``truth.json``: every parameter and mapping (see ``truth_document``), written last and atomically,
  so its presence means the reel is complete.
- ``.remaster-output.json``: what synth wrote here (``remaster_core.io.outdir``): ``--force`` deletes
  only those files, never a user's.

Index conventions (also in ``truth.json``): "24p index" counts the pre-telecine frames from 0 including
the leader, so shot 0 starts at 24p index ``leader_frames``; ``cuts_24p`` holds the 24p index of the
first frame of every shot (the leader -> shot 0 boundary is the first cut; frame 0 of the leader is not
a cut). A shot's frame k is film frame ``film_first + k`` when it has film, and 24p frame
``first_24p + k`` always. The broadcast geometry convention is ``remaster_core.synth.geometry``'s
(pixel centres at integers; affine ``xa = sx xf + tx``, ``ya = sy yf + ty``, then radial distortion
``r_d = r_u (1 + k1 r_u^2)`` about the raster centre in display units normalised by the half-diagonal,
k1 < 0 barrel); the telecine convention is ``remaster_core.synth.telecine``'s.

Randomness: the plan (shot lengths, pictures, cameras, framings, grade, degradation) is drawn from
``default_rng([seed, 0])``; film grain of shot s frame k from ``default_rng([seed, 1, s, k])``; the
low-frequency noise from ``default_rng([seed, 2])`` in 24p order; the fine noise of 24p frame i from
``default_rng([seed, 3, i])``. The same seed gives identical film frames, PNGs and (ffmpeg being run
single-threaded and bit-exact) identical broadcast bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.conform.timecode import record_start_frames
from remaster_core.errors import InputError
from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.images import ImageMeta, write_image
from remaster_core.io.outdir import OutputFolder, prepare_output_folder
from remaster_core.io.timecode import timecode_frames, timecode_label
from remaster_core.progress import progress
from remaster_core.synth import audio as synth_audio
from remaster_core.synth import telecine
from remaster_core.synth.degrade import (
    DegradeParams,
    FramingMaps,
    Grade,
    degrade_film_frame,
    framing_maps,
    low_frequency_noise,
    sample_degrade_params,
    sample_grade,
    transfer_chain,
)
from remaster_core.synth.geometry import (
    BROADCAST_SIZE,
    GEOMETRY_CONVENTION,
    ShotGeometry,
    nominal_affine,
    sample_geometry,
)
from remaster_core.synth.leader import leader_frame
from remaster_core.synth.presets import Preset
from remaster_core.synth.scenes import SOURCE_PICTURES, CameraPath, render_film_frame, sample_camera
from remaster_core.synth.warps import WARP_CONVENTION, TelecineWarp, sample_warp
from remaster_core.synth.warps import framing_maps as warp_framing_maps

log = logging.getLogger("remaster.synth")

TRUTH_VERSION = 1
FILM_FORMATS = ("dpx", "exr", "tif", "png")
FILM_PATTERN = "film/film.%06d.{ext}"
MISSING_PATTERN = "truth/film_missing/shot{shot:02d}/film.%06d.{ext}"
FRAMES24P_PATTERN = "truth/broadcast24p/frame.%06d.png"
_TIMECODE_FORMATS = ("dpx", "exr")  # the formats that hold a timecode


@dataclass(frozen=True)
class ShotPlan:
    """One shot of the reel, as drawn from the seed (24p indices include the leader)."""

    index: int
    first_24p: int
    n_frames: int
    camera: CameraPath
    geometry: ShotGeometry
    missing_film: bool
    film_first: int | None
    warp: TelecineWarp | None = None  # a telecine warp beyond the geometry (``synth.warps``), per frame

    @property
    def last_24p(self) -> int:
        return self.first_24p + self.n_frames - 1


@dataclass(frozen=True)
class ReelPlan:
    """Everything a reel is made of, before any pixel is rendered."""

    preset: Preset
    seed: int
    shots: tuple[ShotPlan, ...]
    grade: Grade
    degrade: DegradeParams

    @property
    def n_24p(self) -> int:
        return self.preset.leader_frames + sum(s.n_frames for s in self.shots)

    @property
    def film_frame_count(self) -> int:
        return sum(s.n_frames for s in self.shots if not s.missing_film)


def cadence_position(index_24p: int, phase: int) -> int:
    """Cadence position (0..3 = A, B, C, D of the 3:2 cycle) of a 24p frame for pulldown ``phase``."""
    return (index_24p + phase) % 4


def plan_shot_lengths(
    rng: np.random.Generator, n_shots: int, lengths: tuple[int, int], first_cut: int, phase: int
) -> list[int]:
    """Uneven shot lengths in ``lengths`` (inclusive) placing the cuts at every 3:2 cadence position.

    Cut j is at 24p index ``first_cut + sum(lengths[:j])``; each shot's length is drawn among those that
    put the next cut on a cadence position not hit yet, until all four are (with 4 or more shots and a
    length range at least 4 wide, always). After that lengths are free.
    """
    lo, hi = lengths
    cut = first_cut
    hit = {cadence_position(cut, phase)}
    out: list[int] = []
    for j in range(n_shots):
        choices = list(range(lo, hi + 1))
        todo = sorted(set(range(4)) - hit)
        if todo and j < n_shots - 1:
            target = todo[int(rng.integers(len(todo)))]
            fitting = [n for n in choices if cadence_position(cut + n, phase) == target]
            choices = fitting or choices
        n = choices[int(rng.integers(len(choices)))]
        out.append(n)
        cut += n
        hit.add(cadence_position(cut, phase))
    return out


def _picture_order(rng: np.random.Generator, n_shots: int) -> list[str]:
    """Source pictures for the shots: a shuffle of all, repeated if needed, never the same twice in a row."""
    names = list(SOURCE_PICTURES)
    order: list[str] = []
    while len(order) < n_shots:
        batch = [names[i] for i in rng.permutation(len(names))]
        if order and batch[0] == order[-1]:
            batch.append(batch.pop(0))
        order.extend(batch)
    return order[:n_shots]


def plan_reel(preset: Preset, seed: int, warp: str = "none") -> ReelPlan:
    """Draw the whole reel from ``seed`` (no pixels): shot lengths, pictures, cameras, framings, grade.

    ``warp``: a telecine warp family (``synth.warps.FAMILIES``) drawn per shot from
    ``default_rng([seed, 4, shot])``, so the rest of the reel is the same as without it.
    """
    preset = preset.validated()
    rng = np.random.default_rng([seed, 0])
    lengths = plan_shot_lengths(
        rng, preset.n_shots, preset.shot_frames, preset.leader_frames, preset.pulldown_phase
    )
    pictures = _picture_order(rng, preset.n_shots)
    grade = sample_grade(rng)
    degrade = sample_degrade_params(rng)
    shots = []
    first, film_next = preset.leader_frames, 0
    for index, (n, picture) in enumerate(zip(lengths, pictures, strict=True)):
        camera = sample_camera(rng, picture, preset.film_size, n)
        geometry = sample_geometry(rng, preset.film_size)
        missing = index in preset.missing_film
        shots.append(ShotPlan(index, first, n, camera, geometry, missing, None if missing else film_next))
        first += n
        if not missing:
            film_next += n
    if warp != "none":
        shots = [
            replace(s, warp=sample_warp(np.random.default_rng([seed, 4, s.index]), warp, s.n_frames,
                                        s.geometry, preset.film_size))
            for s in shots
        ]  # fmt: skip
    return ReelPlan(preset, seed, tuple(shots), grade, degrade)


def _timecode(frame: int, fps: int = 24, start_hours: int = 1) -> str:
    """Non-drop SMPTE timecode of ``frame`` counted from ``start_hours``:00:00:00 at ``fps``."""
    ff = frame % fps
    seconds = frame // fps
    return f"{start_hours + seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{ff:02d}"


def _prepare_out(out: Path, force: bool) -> OutputFolder:
    return prepare_output_folder(out, verb="synth", force=force, what="reel")


def _film_path(out: Path, shot: ShotPlan, k: int, ext: str) -> Path:
    if shot.film_first is not None:
        return out / (FILM_PATTERN.format(ext=ext) % (shot.film_first + k))
    return out / (MISSING_PATTERN.format(shot=shot.index, ext=ext) % k)


def render_reel(plan: ReelPlan, out: Path, film_format: str, film_colorspace: str | None = None) -> None:
    """Render the film frames and the degraded 24p PNGs of ``plan`` into ``out`` (in 24p order); with
    ``film_colorspace`` (an OCIO colour space, e.g. ADX10) the film files are encoded in it and tagged
    (``film_encoding``)."""
    preset, seed = plan.preset, plan.seed
    lf = low_frequency_noise(np.random.default_rng([seed, 2]), plan.degrade)
    frames24p = out / FRAMES24P_PATTERN
    film_meta_base = ImageMeta(pixel_aspect=1.0, frame_rate=Fraction(24000, 1001))
    png_meta = ImageMeta(extra={"png:compressionLevel": 1})  # zlib level 1: 3x faster, files ~6 % larger

    def write_24p(i: int, rgb8: np.ndarray) -> None:
        write_image(Path(str(frames24p) % i), rgb8, bit_depth="8", meta=png_meta)

    def jobs() -> Iterator[tuple[int, ShotPlan | None, int, FramingMaps | None]]:
        """(24p index, shot or None for the leader, frame within the shot or leader, the shot's framing)."""
        for i in range(preset.leader_frames):
            yield i, None, i, None
        for shot in plan.shots:
            maps = framing_maps(shot.geometry)  # constant within a shot
            for k in range(shot.n_frames):
                if shot.warp is not None:  # the warp changes from frame to frame (drift, weave)
                    maps = warp_framing_maps(shot.geometry, shot.warp, k)
                yield shot.first_24p + k, shot, k, maps

    original_film_index = 0  # position in the reel's original film order (missing shots included)
    for i, shot, k, maps in progress(
        jobs(), total=plan.n_24p, desc="synth film + broadcast 24p", unit="frame"
    ):
        fine_rng = np.random.default_rng([seed, 3, i])
        if shot is None or maps is None:
            leader = leader_frame(k, preset.leader_frames)
            write_24p(i, transfer_chain(leader, plan.degrade, next(lf), fine_rng))
            continue
        film = render_film_frame(
            shot.camera, k, preset.film_size, preset.grain, np.random.default_rng([seed, 1, shot.index, k])
        )
        meta = film_meta_base
        if film_format in _TIMECODE_FORMATS:
            meta = replace(film_meta_base, timecode=_timecode(original_film_index))
        encoded, meta = film_encoding(film, meta, film_format, film_colorspace)
        write_image(_film_path(out, shot, k, film_format), encoded, meta=meta)
        original_film_index += 1
        write_24p(i, degrade_film_frame(film, maps, plan.grade, plan.degrade, next(lf), fine_rng))


def film_encoding(
    film: np.ndarray, meta: ImageMeta, film_format: str, film_colorspace: str | None
) -> tuple[np.ndarray, ImageMeta]:
    """A film frame (float32 (H, W, 3) video code values, the broadcast's colour space) as written: as it
    is without ``film_colorspace``; else converted by OCIO from ``colour_management.BROADCAST_DEFAULT``
    to ``film_colorspace`` (a log space such as ADX10 or ACEScct makes the 10-bit log DPX of a real
    scan) and ``meta`` tagged with it (``colour_management.tag_meta``)."""
    if film_colorspace is None:
        return film, meta
    from remaster_core import colour_management as cm

    config = cm.load_config()
    name = config.resolve(film_colorspace, "--film-colorspace")
    encoded = cm.convert(film, config, config.resolve(cm.BROADCAST_DEFAULT), name)
    return encoded, cm.tag_meta(meta, config, name, f".{film_format}")


def truth_document(plan: ReelPlan, codec: str, film_format: str) -> dict[str, Any]:
    """The ``truth.json`` content of a built reel."""
    preset = plan.preset
    spec = telecine.CODECS[codec]
    mapping = telecine.telecine_mapping(plan.n_24p, preset.pulldown_phase, spec.first_field)
    sx0, sy0, tx0, ty0 = nominal_affine(preset.film_size)
    shots = []
    for s in plan.shots:
        entry: dict[str, Any] = {
            "index": s.index,
            "first_24p": s.first_24p,
            "last_24p": s.last_24p,
            "n_frames": s.n_frames,
            "source_image": s.camera.source,
            "camera": s.camera.to_dict(preset.film_size),
            "film_first": s.film_first,
            "missing_film": s.missing_film,
            "geometry": s.geometry.to_dict(),
            "grade": plan.grade.to_dict(),
            "noise": {**plan.degrade.to_dict(), "film_grain": asdict(preset.grain)},
        }
        if s.warp is not None:
            entry["warp"] = s.warp.to_dict()
        if s.missing_film:
            entry["film_missing_pattern"] = MISSING_PATTERN.format(shot=s.index, ext=film_format)
        shots.append(entry)
    return {
        "version": TRUTH_VERSION,
        "seed": plan.seed,
        "preset": preset.name,
        "conventions": {
            "paths": "relative to the folder holding truth.json; patterns are printf style (%06d)",
            "geometry": GEOMETRY_CONVENTION,
            **({"warp": WARP_CONVENTION} if any(s.warp is not None for s in plan.shots) else {}),
            "colour": (
                "Film: float RGB 0..1 display-referred code values (no transfer function), square pixels. "
                "24p PNGs: 8-bit RGB code values of the degraded frames. Broadcast: Y'CbCr BT.601 "
                "(SMPTE 170M) limited range, converted from those PNGs by ffmpeg."
            ),
            "indices": (
                "24p index: pre-telecine frame number from 0, leader included (shot 0 starts at "
                "leader_frames). cuts_24p: 24p index of the first frame of every shot. Shot frame k is film "
                "frame film_first + k (if it has film) and 24p frame first_24p + k. Shots are numbered from 0."
            ),
            "telecine": (
                "telecine[j] = [top_src, bottom_src]: the 24p index of the top and bottom field of broadcast "
                "frame j. 3:2 pulldown with ffmpeg telecine pattern 23; pulldown_phase p = cadence position "
                "(0..3 = A, B, C, D of the output cycle AA BB BC CD DD, top field first) of 24p frame 0, made "
                "by p pad frames before the telecine and trimming every output frame holding a pad field."
            ),
        },
        "film": {
            "pattern": FILM_PATTERN.format(ext=film_format),
            "size": list(preset.film_size),
            "fps": telecine.FPS_24P,
            "frame_count": plan.film_frame_count,
            "timecode_start": _timecode(0),
            "nominal_affine": {"sx": sx0, "sy": sy0, "tx": tx0, "ty": ty0},
        },
        "broadcast": {
            "path": f"broadcast{spec.extension}",
            "size": list(BROADCAST_SIZE),
            "fps": telecine.FPS_VIDEO,
            "field_order": spec.field_order,
            "pixel_aspect": "8/9",
            "codec": spec.name,
            "frame_count": len(mapping),
        },
        "leader_frames": preset.leader_frames,
        "pulldown_phase": preset.pulldown_phase,
        "frames24p": {"pattern": FRAMES24P_PATTERN, "count": plan.n_24p},
        "telecine": [list(pair) for pair in mapping],
        "cuts_24p": [s.first_24p for s in plan.shots],
        "grade": plan.grade.to_dict(),
        "degradation": plan.degrade.to_dict(),
        "film_grain": asdict(preset.grain),
        "shots": shots,
    }


AUDIO_KINDS = ("none", "clicks")
AUDIO_PATH = "truth/audio.wav"


def _truth_extras(
    truth: dict[str, Any], out: Path, codec: str, timecode: str | None, audio: str
) -> Path | None:
    """Add the timecode and audio truth to ``truth``; write the click track; return its path or None."""
    ntsc = Fraction(30000, 1001)
    if timecode is not None:
        start = timecode_frames(timecode, ntsc)
        truth["broadcast"]["timecode"] = timecode
        truth["timecode"] = {
            "broadcast_start": timecode,
            "broadcast_rate": "30000/1001",
            "record_start_24p0": timecode_label(record_start_frames(start, 0, ntsc), Fraction(24000, 1001)),
            "note": "record timecode (23.976, non-drop) of 24p frame i is record_start_24p0 + i",
        }
    if audio == "none":
        return None
    spec = telecine.CODECS[codec]
    starts = synth_audio.click_times(truth["telecine"], spec.first_field, truth["cuts_24p"])
    duration = truth["broadcast"]["frame_count"] * 1001 / 30000
    wav = out / AUDIO_PATH
    wav.parent.mkdir(parents=True, exist_ok=True)
    synth_audio.write_wav(wav, synth_audio.click_track(duration, starts))
    truth["audio"] = {
        "path": AUDIO_PATH,
        "rate": synth_audio.RATE,
        "click_starts": [round(t, 6) for t in starts],
        "click_centre_after_start": synth_audio.CLICK_SECONDS / 2,
        "note": "one click per shot (cuts_24p order) at the broadcast time of the shot's first field",
    }
    return wav


def build_reel(
    out: Path,
    preset: Preset,
    *,
    seed: int = 1,
    codec: str = "mpeg2",
    film_format: str = "dpx",
    force: bool = False,
    timecode: str | None = None,
    audio: str = "none",
    warp: str = "none",
    film_colorspace: str | None = None,
) -> dict[str, Any]:
    """Build a complete reel in ``out`` and return its truth (as written to ``out/truth.json``).

    ``film_colorspace``: write the film encoded in this OCIO colour space, tagged (``film_encoding``;
    e.g. ADX10: 10-bit log DPX, transfer "Printing density"), recorded in truth.json as
    ``film.colorspace`` with the space its pictures were made in (``film.source_colorspace``).

    ``warp``: the telecine warp family of every shot (``synth.warps``; "none": the geometry alone),
    recorded per shot under ``warp`` in truth.json. ``timecode``: the broadcast's start timecode (29.97; ``;`` for drop frame), recorded in truth.json
    with the 23.976 record timecode of 24p frame 0 (``conform.timecode``'s mapping: its first field is
    field 0). ``audio``: "none" or "clicks" (``synth.audio``: a click at each shot's first field, kept as
    ``truth/audio.wav`` and muxed into the broadcast; the click times go into truth.json).

    Raises:
        InputError: ``out`` is not empty (without ``force``), or a bad preset / codec / film format.
        MediaError: ffmpeg is missing or fails, or a frame cannot be written.
    """
    if codec not in telecine.CODECS:
        raise InputError(f"unknown broadcast codec {codec!r}; choose one of {', '.join(telecine.CODECS)}")
    if film_format not in FILM_FORMATS:
        raise InputError(f"unknown film format {film_format!r}; choose one of {', '.join(FILM_FORMATS)}")
    if audio not in AUDIO_KINDS:
        raise InputError(f"unknown audio {audio!r}; choose one of {', '.join(AUDIO_KINDS)}")
    if timecode is not None:
        timecode_frames(timecode, Fraction(30000, 1001), where="--timecode")
    if film_colorspace is not None:  # an unknown name fails before rendering anything
        from remaster_core import colour_management as cm

        film_colorspace = cm.load_config().resolve(film_colorspace, "--film-colorspace")
    telecine.ffmpeg_binary()  # fail before rendering anything
    out = Path(out)
    start = time.monotonic()
    plan = plan_reel(preset, seed, warp)
    with _prepare_out(out, force):
        render_reel(plan, out, film_format, film_colorspace)
        log.info(
            "wrote %d film frames to %s, %d 24p frames to %s",
            plan.film_frame_count, out / "film", plan.n_24p, out / FRAMES24P_PATTERN,
        )  # fmt: skip
        truth = truth_document(plan, codec, film_format)
        if film_colorspace is not None:
            truth["film"].update(colorspace=film_colorspace, source_colorspace="Camera Rec.709")
        broadcast = out / truth["broadcast"]["path"]
        wav = _truth_extras(truth, out, codec, timecode, audio)
        telecine.encode_broadcast(
            out / FRAMES24P_PATTERN,
            plan.n_24p,
            broadcast,
            codec=codec,
            phase=preset.pulldown_phase,
            timecode=timecode,
            audio=wav,
        )
        log.info("wrote %s (%d frames, %s)", broadcast, truth["broadcast"]["frame_count"], codec)
        write_json_atomic(out / "truth.json", truth)
    log.info("wrote %s; reel built in %.1f s", out / "truth.json", time.monotonic() - start)
    return truth
