"""``align()``: a conform folder + the film scan -> ``PAIRS/`` (aligned pairs, masks, align.json, report).

Inputs:

- the conform folder DIR (``remaster conform``): ``DIR/conform.json`` with ``frames_pattern``
  (relative to DIR), ``fps`` and ``shots``: {``first``, ``last`` (conformed frame indices, inclusive),
  ``film_first`` (index of the film frame shown at ``first``, or null)};
- the film scan sequence. ``film_first`` indexes the scan's frames in order (the k-th frame file on
  disk), as the conform counted them.

Shots are aligned side by side in worker processes, one per core (``parallel``; a single shot in this
process), and their entries assembled in order. Per shot (with a progress bar over its frames):

- no ``film_first``: status "no film", with the **reel's framing** (``reel_framing``: the median of
  the aligned shots' transforms and lens distortion; the nominal transform,
  ``transform.nominal_transform``, when no shot aligned). ``transform_source`` says which;
- otherwise the frames where both exist are paired; fewer than ``min_frames``: "rejected";
- ``shot.fit_shot`` on up to ``fit_frames`` frames spread over the shot (+ their neighbouring
  broadcast frames for the temporal-offset check); an ``AlignmentFailure`` rejects the shot with its
  message as the reason, and nothing is written for it;
- every pair (two at a time on a thread pool, taken in order): ``shot.align_frame`` -> the broadcast
  resampled bilinearly through the final mapping
  (``transform.resample``), the film file copied, the mask. A frame whose own check fails (through
  its final mapping its pictures do not match, or differ in part, or its field departs in shape from
  the shot's: a flash frame, a damaged scan, a dissolve) keeps an all-zero mask and is listed under
  ``masked_frames``; more than half such frames reject the shot.
  Fewer than ``min_valid`` valid pixels on average also rejects the shot; a rejected shot gets the
  reel's framing like a shot without film. A shot's files are written
  into a hidden folder renamed into place once the shot is accepted, so a rejected or interrupted
  shot leaves no pairs behind.

Colour (``align.colour``): film frames are matched in the broadcast's colour space, and the pairs are
written in the working space (``--working-colorspace``, default the broadcast's: then nothing is
converted), recorded in align.json's ``colour``. A shot whose first film frame carries a keycode
records it as ``film_keycode``.

The output raster is the film's (the first film frame on disk sets it; a shot whose film frames have
another size, or cannot be read, is rejected, naming the frame). Conformed frames of different sizes
or that cannot be read are an ``InputError`` (the conform is broken).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from remaster_spec.manifest_shots import film_index

from remaster_core.align import pairs as pairs_mod
from remaster_core.align.colour import PairColour, pair_colour
from remaster_core.align.mat import one_blas_thread
from remaster_core.align.parallel import shot_pool, worker_count
from remaster_core.align.report import ShotVisual, make_visual, write_report
from remaster_core.align.shot import (
    AlignmentFailure,
    AlignParams,
    FrameAlignment,
    align_frame,
    fit_frame_indices,
    fit_shot,
)
from remaster_core.align.transform import CONVENTION, nominal_transform, resample
from remaster_core.errors import InputError, MediaError
from remaster_core.io.finite import describe_nonfinite
from remaster_core.io.images import image_size, keycode_text, read_image, read_meta
from remaster_core.io.sequence import SequencePattern, film_sequence, parse_pattern
from remaster_core.manifests import align as align_manifest
from remaster_core.manifests.conform import read_conform
from remaster_core.progress import progress

log = logging.getLogger("remaster.align")

# rasters whose pixel aspect is 8/9 when the file does not say (NTSC 4:3 at 720 or 704 wide)
_NTSC_RASTERS = {(720, 480), (720, 486), (704, 480)}
_FRAMES_IN_FLIGHT = 3  # frames being aligned ahead of the one being written (two threads work on them)


@dataclass(frozen=True)
class ConformShot:
    """One shot of the conform: conformed frames ``first..last`` inclusive, ``film_first`` or None, and
    where the film jumps ahead inside it (``manifests.conform.ConformShot.film_jumps``)."""

    index: int
    first: int
    last: int
    film_first: int | None
    film_jumps: tuple[tuple[int, int], ...] = ()

    def film_index(self, frame: int) -> int | None:
        """The film index shown at conformed ``frame`` of this shot (None without film)."""
        if self.film_first is None:
            return None
        return film_index((self.film_first, self.first), self.film_jumps, frame)


@dataclass(frozen=True)
class ConformInput:
    """What ``align`` reads from a conform folder."""

    folder: Path
    frames: SequencePattern
    frame_count: int
    fps: Fraction | None
    shots: tuple[ConformShot, ...]
    film_pattern: str | None


@dataclass
class AlignResult:
    """What ``align`` did: the ``align.json`` document (and ``manifest``, the same typed), and where
    things are."""

    document: dict[str, Any]
    out: Path
    align_json: Path
    report: Path
    shots: list[dict[str, Any]] = field(default_factory=list)
    manifest: align_manifest.AlignManifest | None = None


def conform_input(folder: str | os.PathLike[str]) -> ConformInput:
    """What ``align`` needs from a conform folder (``manifests.conform.read_conform`` checks the file).

    Raises:
        InputError: no conform.json, unreadable JSON, or a bad field (named).
    """
    conform = read_conform(folder)
    return ConformInput(
        conform.folder,
        parse_pattern(conform.frames_path),
        conform.frame_count,
        conform.frame_rate,
        tuple(
            ConformShot(k, s.first, s.last, s.film_first, s.film_jumps) for k, s in enumerate(conform.shots)
        ),
        conform.film_pattern,
    )


def default_broadcast_par(size: tuple[int, int], file_par: float) -> float:
    """The broadcast pixel aspect: the file's when it records one other than 1, else 8/9 for the NTSC
    rasters (720x480, 720x486, 704x480), else 1 (square)."""
    if abs(file_par - 1.0) > 1e-6:
        return float(file_par)
    return 8.0 / 9.0 if tuple(size) in _NTSC_RASTERS else 1.0


def _paired(shot: ConformShot, n_film: int) -> list[tuple[int, int]]:
    """(conformed frame, film index) of the shot's frames that have film (``ConformShot.film_index``:
    past an edit made after the telecine the film jumps ahead)."""
    assert shot.film_first is not None
    out = []
    for i in range(shot.first, shot.last + 1):
        k = shot.film_index(i)
        if k is not None and 0 <= k < n_film:
            out.append((i, k))
    return out


class _Reader:
    """Reads conformed and film frames, checking their sizes."""

    def __init__(self, conform: ConformInput, film: SequencePattern, film_frames: list[int]) -> None:
        self.conform = conform
        self.film = film
        self.film_frames = film_frames
        self.broadcast_size: tuple[int, int] | None = None
        self.film_size: tuple[int, int] | None = None
        self.colour: PairColour | None = None  # film frames are handed out in the broadcast's space

    def broadcast(self, i: int) -> np.ndarray:
        path = self.conform.frames.path(i)
        try:
            rgb, _ = read_image(path)
        except MediaError as exc:
            raise MediaError(f"conformed frame {i}: {exc}") from exc
        bad = describe_nonfinite(rgb)
        if bad is not None:  # the shot is rejected with this reason (the fit cannot use such a frame)
            raise AlignmentFailure(f"conformed frame {i} ({path}) holds {bad}; re-run remaster conform")
        size = (rgb.shape[1], rgb.shape[0])
        if self.broadcast_size is None:
            self.broadcast_size = size
        elif size != self.broadcast_size:
            raise InputError(
                f"{path}: conformed frame {i} is {size[0]}x{size[1]}, the others "
                f"{self.broadcast_size[0]}x{self.broadcast_size[1]}; the conform folder is inconsistent, re-run "
                "remaster conform"
            )
        return rgb

    def film_path(self, k: int) -> Path:
        return self.film.path(self.film_frames[k])

    def film_frame(self, k: int) -> np.ndarray:
        """Film frame of index k; ``AlignmentFailure`` (the shot is rejected, the run goes on) if it cannot
        be read or its size is not the output raster's."""
        path = self.film_path(k)
        try:
            rgb, _ = read_image(path)
        except MediaError as exc:
            raise AlignmentFailure(f"film frame {self.film_frames[k]} cannot be read: {exc}") from exc
        bad = describe_nonfinite(rgb)
        if bad is not None:
            raise AlignmentFailure(
                f"film frame {self.film_frames[k]} ({path}) holds {bad}; repair or rescan the frame"
            )
        if self.colour is not None:
            rgb = self.colour.film_for_matching(rgb)
        size = (rgb.shape[1], rgb.shape[0])
        if self.film_size is None:
            self.film_size = size
        elif size != self.film_size:
            raise AlignmentFailure(
                f"film frame {self.film_frames[k]} ({path}) is {size[0]}x{size[1]}, the film raster is "
                f"{self.film_size[0]}x{self.film_size[1]}; rescan or resize it to the same format"
            )
        return rgb


def _write_pool_drain(pending: list[Future[None]], keep: int) -> None:
    while len(pending) > keep:
        pending.pop(0).result()


def _align_one(
    shot: ConformShot,
    reader: _Reader,
    broadcast_par: float,
    params: AlignParams,
    out: Path,
    input_ext: str,
    pool: ThreadPoolExecutor,
    frame_pool: ThreadPoolExecutor,
) -> tuple[dict[str, Any], ShotVisual | None]:
    """Align one shot with film and write its pairs; returns its align.json entry and report visual."""
    paired = _paired(shot, len(reader.film_frames))
    entry: dict[str, Any] = {"index": shot.index, "first": shot.first, "last": shot.last}
    if not paired:
        raise AlignmentFailure(
            f"film_first {shot.film_first} puts the whole shot outside the film scan "
            f"({len(reader.film_frames)} frames)"
        )
    if len(paired) < params.min_frames:
        raise AlignmentFailure(
            f"the shot has {len(paired)} frame(s) with film, the fit needs at least {params.min_frames} "
            "(--min-frames)"
        )
    b_first, b_last, film_first = paired[0][0], paired[-1][0], paired[0][1]
    fit_idx = fit_frame_indices(len(paired), params.fit_frames)
    # the frames the fit reads are kept for the frame loop (about a dozen: read once, not twice)
    read_bc: dict[int, np.ndarray] = {}
    read_film: dict[int, np.ndarray] = {}

    # read on the frame threads: the fit frames, and the broadcast frames beside them
    film_keys = [paired[j][1] for j in fit_idx]
    read_film.update(zip(film_keys, frame_pool.map(reader.film_frame, film_keys), strict=True))
    centres = [paired[j][0] for j in fit_idx]
    bc_keys = sorted({i + d for i in centres for d in (-1, 0, 1) if shot.first <= i + d <= shot.last})
    read_bc.update(zip(bc_keys, frame_pool.map(reader.broadcast, bc_keys), strict=True))
    film_fit = [read_film[k] for k in film_keys]
    bc_fit = [read_bc[paired[j][0]] for j in fit_idx]
    if reader.broadcast_size is None or reader.film_size is None:
        raise AssertionError("sizes are known once frames are read")
    neighbours = []
    for j in fit_idx:
        i = paired[j][0]
        before = read_bc[i - 1] if i - 1 >= shot.first else None
        after = read_bc[i + 1] if i + 1 <= shot.last else None
        neighbours.append((before, after))
    model = fit_shot(film_fit, bc_fit, broadcast_par, params, neighbours, frame_pool)
    del film_fit, bc_fit, neighbours

    target_ext = reader.film_path(film_first).suffix
    if reader.colour is not None:
        target_ext = reader.colour.target_extension(target_ext)
    patterns = pairs_mod.shot_patterns(shot.index, input_ext, target_ext)
    final_dir = out / f"shot{shot.index:03d}"
    tmp_dir = out / f".shot{shot.index:03d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    frames_stats: list[dict[str, Any]] = []
    masked: list[dict[str, Any]] = []
    visual: ShotVisual | None = None
    middle = paired[len(paired) // 2][0]
    pending: list[Future[None]] = []

    # the fit frames' flows from the fit, taken instead of new ones (``shot.FitFlow``)
    fit_flows = (
        dict(zip((paired[j][0] for j in fit_idx), model.fit_flows, strict=True)) if model.fit_flows else {}
    )
    model.fit_flows = []

    def one(i: int, k: int) -> tuple[np.ndarray, np.ndarray, FrameAlignment, np.ndarray]:
        film = read_film.pop(k, None)  # dict.pop is atomic: the frame threads share the dicts
        film = reader.film_frame(k) if film is None else film
        bc = read_bc.pop(i, None)
        bc = reader.broadcast(i) if bc is None else bc
        fa = align_frame(film, bc, model, params, fit_flows.pop(i, None))
        return film, bc, fa, resample(bc, fa.map_x, fa.map_y)

    # frames are aligned two at a time (OpenCV and NumPy release the GIL: both cores work), taken in order
    computing: list[Future[tuple[np.ndarray, np.ndarray, FrameAlignment, np.ndarray]]] = []
    order = iter(paired)
    try:
        for _ in range(_FRAMES_IN_FLIGHT):
            nxt = next(order, None)
            if nxt is not None:
                computing.append(frame_pool.submit(one, *nxt))
        for i, k in progress(paired, desc=f"align shot {shot.index}", unit="pair"):
            film, bc, fa, inp = computing.pop(0).result()
            nxt = next(order, None)
            if nxt is not None:
                computing.append(frame_pool.submit(one, *nxt))
            valid = fa.valid
            reason = None
            sim, mismatch = fa.stats["similarity"], fa.stats["mismatch"]
            departure = fa.stats["field_departure_px"] or 0.0
            if fa.stats["flow_rms_px"] is None:  # nothing to judge on (dark, flat): the shot's field
                pass
            elif sim is not None and sim < params.min_similarity:
                reason = f"pictures do not match (similarity {sim:.2f})"
            elif mismatch is not None and mismatch > params.max_mismatch:
                reason = f"pictures differ in part ({100 * mismatch:.0f} % of the textured picture)"
            elif departure > params.max_field_departure:
                reason = f"its dense field departs in shape from the shot's by {departure:.2f} broadcast px"
            if reason is not None:
                valid = np.zeros_like(valid)
                masked.append({"frame": i, "reason": reason})
            rel = {key: Path(p.replace("%06d", f"{i:06d}")) for key, p in patterns.items()}
            # written under tmp_dir, mirroring the final layout below PAIRS/shotNNN
            dest = {key: tmp_dir / Path(*r.parts[1:]) for key, r in rel.items()}
            pending.append(
                pool.submit(pairs_mod.write_input, dest["input"], inp, reader.conform.fps, reader.colour)
            )
            pending.append(pool.submit(pairs_mod.write_target, dest["target"], reader.film_path(k), reader.colour))
            pending.append(pool.submit(pairs_mod.write_mask, dest["mask"], valid))
            _write_pool_drain(pending, 6)
            frames_stats.append({"frame": i, **fa.stats, "valid_fraction": round(float(valid.mean()), 4)})
            if i == middle:
                visual = make_visual(shot.index, film, bc, inp, valid, model, fa, broadcast_par)
        _write_pool_drain(pending, 0)
    except BaseException:
        in_flight: list[Future[Any]] = [*pending, *computing]
        for fut in in_flight:
            fut.cancel()
        wait(in_flight)  # a write already running must finish before its folder goes
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    masked_frames = {m["frame"] for m in masked}
    kept = [f["valid_fraction"] for f in frames_stats if f["frame"] not in masked_frames]
    mean_valid = float(np.mean(kept)) if kept else 0.0
    if len(masked) * 2 > len(paired) or mean_valid < params.min_valid:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if mean_valid < params.min_valid:
            raise AlignmentFailure(
                f"only {100 * mean_valid:.0f} % of the pixels are valid on average (need "
                f"{100 * params.min_valid:.0f} %): occlusions, or a film frame much larger than the broadcast"
            )
        raise AlignmentFailure(
            f"{len(masked)} of {len(paired)} frames fail their own check (e.g. frame {masked[0]['frame']}: "
            f"{masked[0]['reason']})"
        )
    shutil.rmtree(final_dir, ignore_errors=True)
    os.replace(tmp_dir, final_dir)

    def col(key: str) -> np.ndarray:
        values = np.array([f[key] for f in frames_stats if f[key] is not None], np.float64)
        return values if values.size else np.full(1, np.nan)

    def stat(values: float) -> float | None:
        return round(float(values), 4) if np.isfinite(values) else None

    entry.update(
        {
            "status": "aligned",
            "reason": None,
            "broadcast_first": b_first,
            "broadcast_last": b_last,
            "film_first": film_first,
            "film_frame_number": reader.film_frames[film_first],
            "frame_count": len(paired),
            "transform": model.transform.to_dict(),
            "distortion": model.radial.to_dict(),
            "residuals": {
                "flow_rms_px": stat(np.median(col("flow_rms_px"))),
                "flow_rms_px_max": stat(col("flow_rms_px").max()),
                "flow_rms_broadcast_px_max": stat(col("flow_rms_broadcast_px").max()),
                "field_mean_px": stat(col("field_mean_px").mean()),
                "field_max_px": stat(col("field_max_px").max()),
                "valid_fraction": stat(col("valid_fraction").mean()),
                "similarity": stat(np.median(col("similarity"))),
                **model.stats,
            },
            "sparse_transform": model.sparse_transform.to_dict(),
            "masked_frames": masked,
            "frames": frames_stats,
            **patterns,
            **_film_keycode(reader.film_path(film_first)),
        }
    )
    return entry, visual


def _shot_entry(
    shot: ConformShot,
    reader: _Reader,
    broadcast_par: float,
    params: AlignParams,
    out: Path,
    input_ext: str,
    nominal: dict[str, float],
) -> tuple[dict[str, Any], ShotVisual | None]:
    """One shot's align.json entry (aligned with its pairs written, rejected, or without film) and its
    report visual; runs in a worker process (``parallel``) or in this one."""
    if shot.film_first is None:
        return _fallback_entry(shot, "no film", "the conform found no film for this shot", nominal), None
    with ThreadPoolExecutor(max_workers=2) as pool, ThreadPoolExecutor(max_workers=2) as frame_pool:
        try:
            return _align_one(shot, reader, broadcast_par, params, out, input_ext, pool, frame_pool)
        except AlignmentFailure as exc:
            return _fallback_entry(shot, "rejected", str(exc), nominal), None


def _film_keycode(path: Path) -> dict[str, str]:
    """``{"film_keycode": text}`` when the film file carries a keycode, else {}."""
    keycode = read_meta(path).keycode
    return {} if keycode is None else {"film_keycode": keycode_text(keycode)}


def _fallback_entry(
    shot: ConformShot, status: str, reason: str, nominal: dict[str, float] | None
) -> dict[str, Any]:
    return {
        "index": shot.index,
        "first": shot.first,
        "last": shot.last,
        "status": status,
        "reason": reason,
        "broadcast_first": shot.first,
        "broadcast_last": shot.last,
        "film_first": shot.film_first,
        "transform": nominal,
        "distortion": None,
        "input": None,
        "target": None,
        "mask": None,
    }


def align(
    conform_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    film: str | None = None,
    broadcast_par: float | None = None,
    params: AlignParams | None = None,
    force: bool = False,
    film_colorspace: str | None = None,
    broadcast_colorspace: str | None = None,
    working_colorspace: str | None = None,
    ocio_config: str | None = None,
    max_workers: int | None = None,
) -> AlignResult:
    """Align every shot of a conform against the film scan and write ``out`` (PAIRS).

    Args:
        conform_dir: the folder ``remaster conform`` wrote.
        out: the PAIRS folder (new or empty, or replaced with ``force``).
        film: the film sequence (folder or pattern); default: the one named in conform.json.
        broadcast_par: pixel aspect of the conformed frames; default ``default_broadcast_par``.
        params: alignment settings.
        force: replace pairs already in ``out``.
        film_colorspace, broadcast_colorspace, working_colorspace, ocio_config: the colour spaces
            (OCIO names; None: the defaults of ``align.colour``) and the OCIO config (None: ``$OCIO``,
            else the built-in ACES studio config).
        max_workers: at most this many worker processes align shots side by side (``parallel``;
            default: one per core, at most ``parallel.MAX_WORKERS``; 1: all in this process). The
            result does not depend on it.

    Returns:
        The result; ``document`` is what ``align.json`` holds.

    Raises:
        InputError: a missing or bad conform folder or film sequence, conformed frames of different sizes.
    """
    params = params or AlignParams()
    start = time.monotonic()
    conform = conform_input(conform_dir)
    film_arg = film or conform.film_pattern
    if film_arg is None:
        raise InputError(f"{conform.folder}: conform.json names no film; pass --film FILM_SEQUENCE")
    film_seq, film_frames = film_sequence(str(film_arg))
    if conform.frame_count <= 0 or not conform.frames.path(0).is_file():
        raise InputError(
            f"{conform.frames}: the conformed frames are missing (looked for {conform.frames.path(0)})"
        )
    colour = pair_colour(
        film_seq.path(film_frames[0]),
        film=film_colorspace,
        broadcast=broadcast_colorspace,
        working=working_colorspace,
        ocio_config=ocio_config,
    )
    bw, bh, _ = image_size(conform.frames.path(0))
    par = (
        broadcast_par
        if broadcast_par is not None
        else default_broadcast_par((bw, bh), read_meta(conform.frames.path(0)).pixel_aspect)
    )
    if not 0.25 <= par <= 4.0:
        raise InputError(f"broadcast pixel aspect {par} is not plausible (0.25..4); 8/9 is NTSC 4:3")
    out = Path(out)
    folder = pairs_mod.prepare_out(
        out, force, inputs=[("the conform folder", conform.folder), ("the film scan", str(film_seq))]
    ).start()
    reader = _Reader(conform, film_seq, film_frames)
    reader.broadcast_size = (bw, bh)
    reader.colour = colour
    fw, fh, _ = image_size(film_seq.path(film_frames[0]))
    reader.film_size = (fw, fh)
    nominal = nominal_transform((bw, bh), par, (fw, fh)).to_dict()
    input_ext = pairs_mod.input_extension(os.path.splitext("frame" + conform.frames.tail)[1])

    entries: list[dict[str, Any]] = []
    visuals: dict[int, ShotVisual] = {}
    job = (reader, par, params, out, input_ext, nominal)
    workers = worker_count(sum(s.film_first is not None for s in conform.shots), max_workers)
    if workers == 1:
        with one_blas_thread():
            for shot in conform.shots:
                entry, visual = _shot_entry(shot, *job)
                entries.append(entry)
                if visual is not None:
                    visuals[shot.index] = visual
    else:
        with shot_pool(workers) as shots_pool:
            futures = [shots_pool.submit(_shot_entry, shot, *job) for shot in conform.shots]
            for future in progress(futures, desc="align", unit="shot"):
                entry, visual = future.result()
                entries.append(entry)
                if visual is not None:
                    visuals[entry["index"]] = visual
    apply_reel_framing(entries)
    for entry in entries:
        _log_shot(entry)
    manifest = pairs_mod.align_manifest(
        conform_dir=conform.folder,
        film_pattern=str(film_seq),
        film_size=reader.film_size,
        broadcast_size=(bw, bh),
        broadcast_par=par,
        conventions=CONVENTION,
        params=_params_dict(params),
        shots=entries,
        path=out / pairs_mod.ALIGN_JSON,
        colour=colour.record(),
    )
    json_path = pairs_mod.write_align_json(out, manifest)
    document = manifest.to_dict()
    report = out / pairs_mod.REPORT_HTML
    write_report(report, document, visuals)
    folder.finish()
    log.info("align: %d shots in %.1f s", len(entries), time.monotonic() - start)
    return AlignResult(document, out, json_path, report, entries, manifest)


def reel_framing(
    entries: list[dict[str, Any]],
) -> tuple[dict[str, float], dict[str, float] | None, list[int]]:
    """The framing a shot without alignment gets: the median of the aligned shots' (tx, ty, sx, sy) and
    radial ``k1`` (centre, pixel aspect and normalising radius are the broadcast's, the same for every
    shot), and the aligned shots' indices. Empty list (and the entries' own transform) when none aligned.

    Why the median and not the nominal fit: a telecine session frames a reel with one overscan and one
    lens, re-set from cut to cut around it, so the other shots' framing is the best guess there is for
    a shot whose film is missing. Measured on the demo's tiny reels (bilinear resample of the held-out
    shot against its hidden film): nominal 18.04 / 23.37 / 22.85 / 20.26 dB, median 19.49 / 23.30 /
    24.67 / 25.88 dB, the true framing 24.21 / 26.19 / 28.21 / 29.08 dB.
    """
    aligned = [e for e in entries if e["status"] == "aligned" and e.get("transform")]
    if not aligned:
        return {}, None, []
    transform = {k: float(np.median([e["transform"][k] for e in aligned])) for k in ("tx", "ty", "sx", "sy")}
    radials = [e["distortion"] for e in aligned if e.get("distortion")]
    distortion = {**radials[0], "k1": float(np.median([d["k1"] for d in radials]))} if radials else None
    return transform, distortion, [int(e["index"]) for e in aligned]


def apply_reel_framing(entries: list[dict[str, Any]]) -> None:
    """Give every shot that did not align (no film, rejected) the reel's framing (``reel_framing``), in
    place, and record each shot's ``transform_source``: "aligned", "median of aligned shots [...]", or
    "nominal (no shot aligned)"."""
    transform, distortion, aligned = reel_framing(entries)
    for entry in entries:
        if entry["status"] == "aligned":
            entry["transform_source"] = "aligned"
        elif aligned:
            entry["transform"], entry["distortion"] = dict(transform), distortion and dict(distortion)
            entry["transform_source"] = f"median of aligned shots {aligned}"
        else:
            entry["transform_source"] = "nominal (no shot aligned)"


def _params_dict(params: AlignParams) -> dict[str, Any]:
    d = asdict(params)
    d["sparse"]["scale_range"] = list(params.sparse.scale_range)
    return d


def shot_summary(entry: dict[str, Any]) -> str:
    """One line for a person: ``shot 3 [120-164]: aligned, 45 pairs, flow residual 0.08 film px RMS, 91 %
    valid``, or ``shot 4 [165-190]: no film (the reason; framing: median of aligned shots [1, 2, 3])``."""
    head = f"shot {entry['index']} [{entry['first']}-{entry['last']}]: {entry['status']}"
    if entry["status"] == "aligned":
        r = entry["residuals"]
        masked = f", {len(entry['masked_frames'])} frame(s) masked" if entry["masked_frames"] else ""
        flow = "n/a" if r["flow_rms_px"] is None else f"{r['flow_rms_px']:.3f} film px RMS"
        valid = "n/a" if r["valid_fraction"] is None else f"{100 * r['valid_fraction']:.0f} %"
        return f"{head}, {entry['frame_count']} pairs, flow residual {flow}, {valid} valid{masked}"
    source = f"; framing: {entry['transform_source']}" if entry.get("transform_source") else ""
    return f"{head} ({entry['reason']}{source})"


def _log_shot(entry: dict[str, Any]) -> None:
    """Rejections are warnings; the rest is debug detail (the CLI prints every shot's line itself)."""
    (log.debug if entry["status"] != "rejected" else log.warning)("%s", shot_summary(entry))
