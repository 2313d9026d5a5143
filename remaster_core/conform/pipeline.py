"""``conform()``: broadcast video (+ film scan) -> progressive 23.976 frames, conform.json, report.html.

Two passes over the broadcast, both decoding it (MPEG-2 SD decodes at over 1000 frames/s, so the
second decode costs less than keeping an episode's fields in memory):

1. measure: every field's decision luma -> ``FieldMetrics`` (``fields``);
2. decide: evidence -> Viterbi cadence track (``cadence``, with the ``overrides`` mask) -> runs ->
   frame recipes (``plan``); where fields were decided on little evidence, a partial decode measures
   how far the picture moves around them and the track is decided again with it (``motion``);
3. build: decode again and build each output frame (``rebuild``): R'G'B' -> ``DIR/frames``; keep a
   thumbnail per frame;
4. cuts on the thumbnails (``cuts``), or an editor's cut list (``editorial.read_cuts``); the frames
   beside a cut that falls inside a broadcast frame are built again without that frame's two fields,
   and a frame the shot-change marks rebuilt from one field where no cut is found is woven again where
   its weave is clean (``beside_cuts``: a third, partial decode up to the last of them); with a film
   sequence, the temporal offset (``offset``);
5. ``DIR/conform.json``, ``DIR/report.html`` (``report``) and the shots as ``DIR/editorial/shots.otio``
   and ``shots.edl`` (``editorial``).

Timecode (``conform.timecode``): the broadcast's own (container tag or first MPEG-2 GOP header; none: a
stated default, logged) is mapped through the inverse telecine to 23.976 record timecode; every frame
carries its record timecode (``smpte:TimeCode``) and its source fields' timecode
(``remaster:source_timecode``), conform.json the ``timecode`` block.

Input kinds (from ``probe_video``):

- 29.97 interlaced (TFF or BFF): inverse telecine, with video-originated stretches deinterlaced.
- 23.976 progressive: passed through frame by frame (``kind`` "progressive").
- 29.97 flagged progressive, or with no field order: many encoders flag telecined film as
  progressive. The fields are analysed anyway (as top field first); if the frames do not hold two
  moments in a telecine-like share (``_has_pulldown``), ``InputError``: there is nothing to
  inverse-telecine and conform does not convert frame rates.
- 25 fps (PAL) and any other rate: ``InputError`` (PAL film is 2:2, one film frame per video frame:
  no inverse telecine is needed, and conform's output is 23.976 by contract).

Output frames: ``frames/frame.%06d.exr``, numbered from 0, half-float EXR (zip, deflate level 1) by
default, converted and written by two worker threads while the broadcast is decoded. They hold
R'G'B' code values exactly as converted from the decoded Y'CbCr (BT.601/709 matrix and range as the
stream says; no transfer function, no level change, nothing clipped: super-whites stay above 1 and
sub-blacks below 0). Half float has 11 significant bits, a step of at most 1/2048 below 1.0 (an
eighth of an 8-bit code), so 8- and 10-bit sources survive it. EXR is also four times faster to write
than a 16-bit PNG. ``image_format="png"`` writes 16-bit PNG for viewers that want it: a PNG cannot
hold values outside 0..1, so those are clipped and counted (``clipped_fraction`` in conform.json).

A truncated or corrupt broadcast: everything that decodes is conformed and the result is complete
for those frames; ``conform.json`` records the error under ``decode_error`` and ``conform()``'s
caller decides (the CLI exits with ``EXIT_PARTIAL``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.colour_management import tagged_to_broadcast
from remaster_core.conform import cuts as cuts_mod
from remaster_core.conform import editorial
from remaster_core.conform import timecode as timecode_mod
from remaster_core.conform.cadence import (
    CadenceParams,
    CadenceTrack,
    Evidence,
    decision_margins,
    field_evidence,
    group_runs,
    track_cadence,
)
from remaster_core.conform.fields import FieldMetrics, decision_luma, measure_fields
from remaster_core.conform.motion import comparisons_to_measure, field_motion, motion_comb, motion_pulldown
from remaster_core.conform.offset import OffsetParams, OffsetResult, find_offset, join_continuing
from remaster_core.conform.overrides import allowed_states, read_overrides
from remaster_core.conform.plan import (
    FramePlan,
    comb_scores,
    fields_across_cuts,
    plan_frames,
    rewoven,
    without_fields,
)
from remaster_core.conform.rebuild import deinterlace_video, rebuild_orphan, weave_film, weave_film_planes
from remaster_core.conform.report import write_report
from remaster_core.errors import InputError, MediaError
from remaster_core.io.images import ImageMeta, read_image, write_image
from remaster_core.io.outdir import prepare_output_folder
from remaster_core.io.sequence import film_sequence
from remaster_core.io.video import (
    Field,
    VideoInfo,
    YCbCrFrame,
    frame_to_rgb,
    iter_ycbcr_frames,
    probe_video,
    split_fields,
)
from remaster_core.manifests import conform as manifest
from remaster_core.manifests.conform import ConformManifest, ConformShot, FrameRecord, Weave
from remaster_core.progress import progress

log = logging.getLogger("remaster.conform")

FPS_FILM = Fraction(24000, 1001)
FPS_NTSC = Fraction(30000, 1001)
FRAME_PATTERN = "frames/frame.%06d.{ext}"
CONFORM_VERSION = manifest.VERSION
IMAGE_FORMATS = ("exr", "png")


@dataclass
class Conformed:
    """Everything ``conform`` decided and built (``document`` is what conform.json holds, ``manifest``
    the same typed)."""

    document: dict[str, Any]
    plans: list[FramePlan]
    metrics: FieldMetrics | None
    track: CadenceTrack | None
    thumbs: np.ndarray
    cut_scores: np.ndarray
    offset: OffsetResult | None
    decode_error: str | None = None
    out_dir: Path = field(default_factory=Path)
    manifest: ConformManifest | None = None


def _close(a: Fraction, b: Fraction) -> bool:
    return abs(float(a) - float(b)) < 0.01


def _kind_of_input(info: VideoInfo) -> str:
    """ "ivtc", "progressive24" or "flagged_progressive30"; InputError for anything else."""
    if _close(info.fps, FPS_NTSC):
        return "flagged_progressive30" if info.field_order in ("progressive", "unknown") else "ivtc"
    if _close(info.fps, FPS_FILM) and info.field_order in ("progressive", "unknown"):
        return "progressive24"
    if _close(info.fps, Fraction(25)):
        raise InputError(
            f"{info.path}: 25 fps ({info.field_order}) is PAL: PAL film is transferred 2:2 (one film frame per "
            "video frame), so there is no 3:2 pulldown to remove, and conform's output is 23.976 by contract. "
            "Conform an NTSC 29.97 broadcast, or deinterlace/convert PAL material with a standards converter first"
        )
    raise InputError(
        f"{info.path}: {float(info.fps):.3f} fps {info.field_order} is not a rate conform handles: it expects an "
        "NTSC 29.97 interlaced broadcast (3:2 pulldown) or 23.976 progressive frames"
    )


class _Decoded:
    """Counts decoded frames and keeps the error that stopped decoding, if any."""

    def __init__(self) -> None:
        self.frames = 0
        self.error: str | None = None


def _decision_fields(
    path: Path, info: VideoInfo, first_is_top: bool, seen: _Decoded, desc: str = "conform: measure"
) -> Iterator[np.ndarray]:
    frames = iter_ycbcr_frames(path)
    total = info.frame_count or None
    try:
        for frame in progress(frames, total=total, desc=desc, unit="frame"):
            y = frame.y
            first, second = (y[0::2], y[1::2]) if first_is_top else (y[1::2], y[0::2])
            yield decision_luma(first, info.bit_depth)
            yield decision_luma(second, info.bit_depth)
            seen.frames += 1
    except MediaError as exc:
        seen.error = str(exc)
        log.warning("%s", exc)


def _fields_in_order(path: Path, first_is_top: bool, count: int) -> Iterator[Field]:
    for frame in iter_ycbcr_frames(path, count=count):
        top, bottom = split_fields(frame)
        yield from ((top, bottom) if first_is_top else (bottom, top))


def build_frames(
    analysis: Analysis, *, to_rgb: bool = True
) -> Iterator[tuple[FramePlan, np.ndarray | YCbCrFrame]]:
    """Decode the broadcast again and yield (plan, frame) in output order, holding only the fields needed.

    Frames are R'G'B' float32 (H, W, 3). With ``to_rgb=False`` a film frame is handed out as the woven
    ``YCbCrFrame`` (planes as decoded, no conversion: what ``fieldmatch`` hands out, for benchmarks);
    orphans and video stay R'G'B'.
    """
    for plan, make in frame_recipes(analysis, to_rgb=to_rgb):
        yield plan, make()


def frame_recipes(
    analysis: Analysis, *, to_rgb: bool = True
) -> Iterator[tuple[FramePlan, Callable[[], np.ndarray | YCbCrFrame]]]:
    """``build_frames`` with each frame left to build: (plan, a call that returns what ``build_frames``
    yields), so the weave, the rebuild of orphans and video and the conversion can run on another thread
    while the broadcast is decoded. A call holds the fields it needs; the stream keeps no more."""
    info, plans = analysis.info, analysis.plans
    buffer: dict[int, Field] = {}
    stream = enumerate(_fields_in_order(info.path, analysis.first_is_top, analysis.frames_decoded))
    exhausted = False
    for plan in plans:
        need = plan.last_field_needed
        while not exhausted and need not in buffer:
            try:
                i, f = next(stream)
            except StopIteration:
                exhausted = True
                break
            buffer[i] = f
        yield plan, _recipe(plan, buffer, info, to_rgb=to_rgb)
        low = min(plan.fields) - 1  # video needs the field before its first
        for k in [k for k in buffer if k < low]:
            del buffer[k]


def _recipe(
    plan: FramePlan, buffer: dict[int, Field], info: VideoInfo, *, to_rgb: bool
) -> Callable[[], np.ndarray | YCbCrFrame]:
    """The call that builds ``plan``'s frame from the decoded fields in ``buffer`` (``frame_recipes``)."""
    if plan.build == "rebuilt" or plan.kind == "orphan":
        assert plan.keep is not None
        return partial(rebuild_orphan, buffer[plan.keep], info)
    if plan.kind == "film":
        assert plan.top is not None and plan.bottom is not None
        copy = buffer[plan.copy] if plan.copy is not None else None
        if to_rgb:
            return partial(weave_film, buffer[plan.top], buffer[plan.bottom], info, copy=copy)
        return partial(weave_film_planes, buffer[plan.top], buffer[plan.bottom], copy=copy)
    assert plan.keep is not None
    before = buffer.get(plan.before) if plan.before is not None else None
    after = buffer.get(plan.after) if plan.after is not None else None
    return partial(deinterlace_video, buffer[plan.keep], before, after, info)


def beside_cuts(
    analysis: Analysis, plans: list[FramePlan], cut_list: list[int], params: CadenceParams | None = None
) -> dict[int, FramePlan]:
    """Output frames beside a cut to build again, and how: where the cut falls inside a broadcast frame
    and the codec codes a frame's two fields together, the frames on either side are built without
    that frame's fields (``plan.fields_across_cuts``, ``plan.without_fields``; measured on stress reels
    948 and 960: a cut into a fast pan or a fade from black, whose own coded frames change as much as
    the cut's, had its damaged field woven or kept, 1.2 and 2.4 dB below the clean field's rebuild).
    A frame the marks rebuilt from one field with no cut at it or the next frame is woven again where
    its weave is clean (``plan.rewoven``: the end of a dissolve, stress reel 1020, 24p 91, 1.1 dB; the
    first picture of a shot, beside a cut between broadcast frames, may be coded poorly and stays as
    the marks built it). A frame all of whose fields are coded with a field across a cut (a one-frame
    shot between two cuts) has no clean field to rebuild from: it is woven again where the weave is
    clean (``plan.rewoven``: stress reel 1400, DV, 24p 54, rebuilt from one field 1.45 dB below the
    weave of its two). A codec that codes the fields apart (ProRes) codes such fields well: nothing
    is changed there."""
    if analysis.metrics is None or analysis.evidence is None or analysis.info.fields_coded_apart:
        return {}  # (``analyse`` sets the field measures and their evidence together)
    metrics, evidence = analysis.metrics, analysis.evidence
    damaged = fields_across_cuts([p.fields for p in plans], cut_list)
    beside = {j for k in cut_list for j in (k - 1, k)}
    scores = comb_scores(metrics, params)
    fixes: dict[int, FramePlan] = {}
    for k, plan in enumerate(plans):
        better = None
        if damaged >= set(plan.fields):  # a one-frame shot: every field shares a coded frame with a cut
            better = rewoven(plan, scores, evidence, metrics.first_parity, params)
        elif damaged & set(plan.fields):
            better = without_fields(plan, damaged, scores, metrics.first_parity, params)
        elif k not in beside:
            better = rewoven(plan, scores, evidence, metrics.first_parity, params)
        if better is not None:
            fixes[k] = better
    return fixes


def rebuild_recipes(
    analysis: Analysis, fixes: dict[int, FramePlan], *, to_rgb: bool = True
) -> Iterator[tuple[int, Callable[[], np.ndarray | YCbCrFrame]]]:
    """(output index, build call) for each frame of ``fixes``, decoding the broadcast once more up to the
    last field they need (MPEG-2 SD decodes at over 1000 frames/s)."""
    if not fixes:
        return
    info = analysis.info
    need = {f for plan in fixes.values() for f in plan.fields}
    last = max(need)
    buffer: dict[int, Field] = {}
    frames = min(analysis.frames_decoded, last // 2 + 1)
    for i, f in enumerate(_fields_in_order(info.path, analysis.first_is_top, frames)):
        if i in need:
            buffer[i] = f
        if i >= last:
            break
    for k in sorted(fixes):
        plan = fixes[k]
        if all(f in buffer for f in (plan.top, plan.bottom, plan.copy, plan.keep) if f is not None):
            yield k, _recipe(plan, buffer, info, to_rgb=to_rgb)
        else:  # the stream decoded less this time: the frame keeps its first recipe
            log.warning("frame %d beside a cut: its fields did not decode again; kept as first built", k)


def _has_pulldown(metrics: FieldMetrics, params: CadenceParams) -> bool:
    """Whether the frames of a stream not flagged interlaced hold two moments each in a telecine-like share.

    Telecined film combs inside 2 of every 5 frames wherever the picture moves; progressive 29.97
    combs inside none (a cut or a flash may trip a frame or two). Judged over frames whose first field
    differs from the next frame's (the picture moves), with evidence above 0.5.
    """
    ev = field_evidence(metrics, params)
    within = ev.comb[0::2]  # field 2k | 2k+1: the two fields of frame k
    moving = ev.repeat[0::2] > 0
    n = min(within.size, moving.size)
    if n == 0 or not moving[:n].any():
        return False
    return float(np.mean(within[:n][moving[:n]] > 0.5)) > 0.25


def _plan_record(index: int, plan: FramePlan, margins: np.ndarray | None = None) -> FrameRecord:
    fields = tuple(plan.fields)
    pulldown = plan.pattern if plan.pattern not in (None, "3:2") else None  # absent: 3:2
    least = min(float(margins[f]) for f in fields) if margins is not None and fields else None
    margin = round(least, 2) if least is not None and np.isfinite(least) else None
    if plan.kind == "film" and plan.build != "rebuilt":
        assert plan.top is not None and plan.bottom is not None
        weave = Weave(plan.top, plan.bottom, plan.copy)
        return FrameRecord(
            index, plan.kind, fields, plan.phase, weave, round(float(plan.score or 0.0), 4), plan.combed,
            built=plan.build, pulldown=pulldown, cadence_margin=margin,
        )  # fmt: skip
    temporal = tuple(f for f in (plan.before, plan.after) if f is not None) if plan.kind == "video" else None
    return FrameRecord(
        index, plan.kind, fields, plan.phase, keep=plan.keep, temporal=temporal, built=plan.build,
        pulldown=pulldown, cadence_margin=margin,
    )  # fmt: skip


def film_thumbnails(film: str) -> tuple[np.ndarray, list[int], str]:
    """Thumbnails (N, 36, 48, 3) uint8 of every frame of the film sequence ``film``, its frame numbers, its pattern."""
    pattern, frames = film_sequence(film)
    thumbs = np.stack(
        [
            # a log scan is matched as video: converted from the colour space its tag names
            cuts_mod.frame_thumbnail(tagged_to_broadcast(*read_image(pattern.path(f))))
            for f in progress(frames, desc="conform: read film", unit="frame")
        ]
    )
    return thumbs, frames, str(pattern)


@dataclass
class Analysis:
    """The decision half of a conform: what the broadcast is and how every output frame is built.

    Attributes:
        info: the probed stream.
        kind: "ivtc", "flagged_progressive30" (both inverse-telecined) or "progressive24" (passed through).
        first_is_top: whether field 2k (the first in time of frame k) is the top field.
        metrics, track: the field measures and the cadence decision (None for "progressive24").
        plans: one recipe per output frame (empty for "progressive24").
        frames_decoded: broadcast frames that decoded (all of them unless ``decode_error``).
        decode_error: the error that stopped decoding early (a truncated or corrupt file), or None.
        margins: (N,) float64, each field's ``cadence.decision_margins`` (None for "progressive24").
        evidence: the evidence the cadence was decided on, the second look's included (None for
            "progressive24").
    """

    info: VideoInfo
    kind: str
    first_is_top: bool
    metrics: FieldMetrics | None
    track: CadenceTrack | None
    plans: list[FramePlan]
    frames_decoded: int
    decode_error: str | None
    margins: np.ndarray | None = None
    evidence: Evidence | None = None


def analyse(
    broadcast: str | Path, *, overrides: str | Path | None = None, params: CadenceParams | None = None
) -> Analysis:
    """Probe, measure and decide (passes 1 and 2 of the module docstring); nothing is written.

    Raises:
        InputError / MediaError: an unsupported rate, nothing decodes, no pulldown in a progressive
            29.97 stream, a bad override file.
    """
    path = Path(broadcast)
    p = params or CadenceParams()
    info = probe_video(path)
    kind = _kind_of_input(info)
    override_list = read_overrides(overrides) if overrides is not None else []
    first_is_top = info.field_order != "bff"
    if info.field_order == "unknown":
        log.warning("%s: the stream does not state its field order; assuming top field first", path)
    if kind == "progressive24":
        return Analysis(info, kind, first_is_top, None, None, [], info.frame_count, None)
    seen = _Decoded()
    metrics = measure_fields(
        _decision_fields(path, info, first_is_top, seen), "top" if first_is_top else "bottom"
    )
    if seen.frames == 0:
        raise MediaError(f"{path}: no frame could be decoded ({seen.error or 'empty stream'})")
    if kind == "flagged_progressive30" and not _has_pulldown(metrics, p) and not override_list:
        raise InputError(
            f"{path}: progressive 29.97 fps with no 3:2 pulldown in it (no frame mixes two film frames): "
            "there is nothing to inverse-telecine, and conform does not convert frame rates. Give the "
            "interlaced broadcast, or convert the rate with a standards converter"
        )
    evidence = field_evidence(metrics, p, fields_coded_apart=info.fields_coded_apart)
    allowed = allowed_states(override_list, metrics.field_count)
    track = track_cadence(evidence, allowed=allowed, params=p)
    margins = decision_margins(evidence, track, allowed=allowed, params=p)
    uncertain = margins < p.uncertain_margin
    if uncertain.any() and evidence.pulldown.shape[0]:
        # a second look where the decision was a guess: how far the picture moves (``motion``)
        touched = comparisons_to_measure(uncertain, metrics.field_count, 0)
        wanted = comparisons_to_measure(uncertain, metrics.field_count, p.motion_window)
        again = _decision_fields(path, info, first_is_top, _Decoded(), desc="conform: second look")
        motion = field_motion(again, wanted)
        extra = motion_pulldown(motion, touched, p)
        extra_comb = motion_comb(motion, uncertain[:-1] | uncertain[1:], p)  # pairs holding one
        if extra.any() or extra_comb.any():
            pulldown = np.clip(evidence.pulldown + extra, -p.clip, p.clip_not_repeat).astype(np.float32)
            comb = np.clip(evidence.comb + extra_comb, -p.clip, p.clip_two_moments).astype(np.float32)
            evidence = replace(evidence, pulldown=pulldown, comb=comb)
            track = track_cadence(evidence, allowed=allowed, params=p)
            margins = decision_margins(evidence, track, allowed=allowed, params=p)
    plans = plan_frames(
        group_runs(track), metrics, p, fields_coded_apart=info.fields_coded_apart, evidence=evidence
    )
    return Analysis(
        info, kind, first_is_top, metrics, track, plans, seen.frames, seen.error, margins, evidence
    )


def conform(
    broadcast: str | Path,
    out_dir: str | Path,
    *,
    film: str | None = None,
    overrides: str | Path | None = None,
    image_format: str = "exr",
    params: CadenceParams | None = None,
    cut_params: cuts_mod.CutParams | None = None,
    force: bool = False,
    cuts: str | Path | None = None,
    source_timecode: str | None = None,
) -> Conformed:
    """Conform ``broadcast`` into ``out_dir`` (see the module docstring); returns what was decided.

    Args:
        broadcast: the broadcast video file.
        out_dir: the output folder: new or empty; one holding an earlier conform is replaced (what that
            conform wrote, as its ``.remaster-output.json`` lists it); any other non-empty folder is
            refused unless ``force`` (see ``io.outdir``).
        film: the film scan (a folder of frames or a frame pattern), for the temporal offset.
        overrides: a match override file (``overrides`` module).
        image_format: "exr" (half float, unclipped: the default) or "png" (16-bit, clipped to 0..1).
        force: write into a non-empty folder that holds no earlier conform (its files are kept).
        cuts: an editor's cut list (EDL or OpenTimelineIO, ``editorial.read_cuts``) whose cuts replace
            the detected ones (the differences are logged).
        source_timecode: the broadcast's start timecode, instead of the one it carries (``timecode``).

    Raises:
        InputError / MediaError: unreadable broadcast (nothing decodes), an unsupported rate, a bad film
            sequence or override file.
    """
    if image_format not in IMAGE_FORMATS:
        raise InputError(f"image format {image_format!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    start = time.monotonic()
    path = Path(broadcast)
    out = Path(out_dir)
    if film is not None:
        film_sequence(film)  # a missing or gapped film scan fails before the long work
    inputs = [
        ("the broadcast", path),
        ("the film scan", film),
        ("the override file", overrides),
        ("the cut list", cuts),
    ]
    folder = prepare_output_folder(
        out, verb="conform", force=force, what="conform", inputs=inputs, replace_own=True
    ).start()
    analysis = analyse(path, overrides=overrides, params=params)
    info, kind, plans = analysis.info, analysis.kind, analysis.plans
    seen = _Decoded()
    seen.frames, seen.error = analysis.frames_decoded, analysis.decode_error
    tc = timecode_mod.timecode_map(
        path,
        FPS_FILM if kind == "progressive24" else FPS_NTSC,
        plans[0].fields[0] if plans else 0,
        start=source_timecode,
    )

    ext = image_format
    # the coded raster's pixel aspect travels with every frame, so align and render need no guess
    frame_meta = ImageMeta(pixel_aspect=float(info.pixel_aspect), frame_rate=Fraction(24000, 1001))
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    thumbs: list[np.ndarray] = []
    records: list[FrameRecord] = []
    pixels = 0
    clipped_of: list[int] = []  # samples clipped in each output frame (PNG)
    pending: deque[Future[_Finished]] = deque()

    def collect(fut: Future[_Finished]) -> None:
        nonlocal pixels
        done = fut.result()
        thumbs.append(done.thumb)
        clipped_of.append(done.clipped)
        pixels += done.pixels

    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:

        def emit(frame: YCbCrFrame | Callable[[], np.ndarray | YCbCrFrame], record: FrameRecord) -> None:
            index = len(records)
            records.append(record)
            target = out / FRAME_PATTERN.format(ext=ext).replace("%06d", f"{index:06d}")
            meta = timecode_mod.stamp(frame_meta, tc, index, record.used_fields())
            pending.append(pool.submit(_finish_frame, frame, info, target, meta, ext == "png"))
            while len(pending) > _IN_FLIGHT:
                collect(pending.popleft())

        if kind == "progressive24":
            seen.frames = 0
            try:
                frames_iter = iter_ycbcr_frames(path)
                for frame in progress(
                    frames_iter, total=info.frame_count or None, desc="conform: frames", unit="frame"
                ):
                    record = FrameRecord(len(records), "progressive", (2 * frame.index, 2 * frame.index + 1))
                    emit(frame, record)
                    seen.frames += 1
            except MediaError as exc:
                seen.error = str(exc)
                log.warning("%s", exc)
            if seen.frames == 0:
                raise MediaError(f"{path}: no frame could be decoded ({seen.error or 'empty stream'})")
        else:
            recipes = frame_recipes(analysis, to_rgb=False)
            for plan, make in progress(recipes, total=len(plans), desc="conform: frames", unit="frame"):
                emit(make, _plan_record(len(records), plan, analysis.margins))
        while pending:
            collect(pending.popleft())

    thumb_arr = np.stack(thumbs) if thumbs else np.zeros((0, 36, 48, 3), np.uint8)
    cut_list, cut_scores = cuts_mod.detect_cuts(thumb_arr, cut_params)
    if cuts is not None:
        given = editorial.read_cuts(cuts, len(records), tc)
        added, removed = editorial.compare_cuts(cut_list[1:], given)
        log.info("cuts from %s: %d (adds %s, removes %s of the detected)", cuts, len(given), added, removed)
        cut_list = [0, *given]
    fixes = beside_cuts(analysis, plans, cut_list[1:], params) if kind != "progressive24" else {}
    if fixes:
        plans = list(plans)
        rebuilt = []
        for k, make in rebuild_recipes(analysis, fixes):
            rebuilt.append(k)
            plans[k] = fixes[k]
            records[k] = _plan_record(k, fixes[k], analysis.margins)
            target = out / FRAME_PATTERN.format(ext=ext).replace("%06d", f"{k:06d}")
            meta = timecode_mod.stamp(frame_meta, tc, k, records[k].used_fields())
            done = _finish_frame(make, info, target, meta, ext == "png")
            thumb_arr[k] = done.thumb
            clipped_of[k] = done.clipped
        log.info(
            "%d frame(s) built again by the cut list (beside a cut inside a broadcast frame, without its "
            "fields; or marked as a cut where none is, woven): %s",
            len(rebuilt), ", ".join(str(k) for k in rebuilt),
        )  # fmt: skip
    p_cadence = params or CadenceParams()
    offset_result: OffsetResult | None = None
    film_info: manifest.FilmInfo | None = None
    joined: list[int] = []
    if film is not None:
        film_thumbs, film_frames, film_pattern = film_thumbnails(film)
        breaks = _break_frames(records, analysis.track)
        # a lone field at a break is the new piece's first film frame: the film jumps there
        firm = [i for i in breaks if records[i].kind == "orphan"]
        spans = _break_spans(records, breaks, p_cadence.uncertain_margin)
        offset_result = find_offset(
            thumb_arr, film_thumbs, cut_list, breaks=breaks, firm_breaks=firm, break_spans=spans
        )
        film_info = manifest.FilmInfo(film_pattern, len(film_frames), film_frames[0])
        log.info("offset: %s", offset_result.message)
        if cuts is None:  # an editor's cut list stands as given
            offset_result, joined = join_continuing(offset_result, OffsetParams().max_skip)
            if joined:
                cut_list = [s.first for s in offset_result.shots]
                log.info(
                    "%d cut(s) joined away, the film running on across them with a few frames dropped (an "
                    "edit inside a film shot, not a new shot): %s; conform.json lists them under joined_cuts",
                    len(joined), ", ".join(str(k) for k in joined),
                )  # fmt: skip

    against = (
        repeats_against_evidence(records, analysis.evidence, p_cadence.repeat_against)
        if analysis.evidence is not None
        else []
    )
    conform_manifest = _manifest(
        out,
        path,
        info,
        kind,
        records,
        plans,
        analysis.track,
        cut_list,
        offset_result,
        film_info,
        seen,
        overrides,
        image_format,
        sum(clipped_of) / pixels if pixels else 0.0,
        p_cadence.uncertain_margin,
        joined,
        against,
    )
    if against:
        log.warning(
            "%d frame(s) woven from 3 fields whose third field is no repeat of its first, by the evidence (an "
            "edit after the telecine may have left a lone field there that the cadence ran through): %s; "
            "conform.json lists them under uncertain_cadence; check them, and correct any that mixes two "
            "film frames with an override file",
            len(against), _spans(tuple(against)),
        )  # fmt: skip
    flagged = set(against)
    little = tuple(k for k in conform_manifest.uncertain_cadence or () if k not in flagged)
    if little:
        log.info(
            "%d frame(s) whose cadence rests on little evidence (a still or frozen stretch with an edit in "
            "it, the edge of a video stretch): %s; conform.json lists them under uncertain_cadence; where "
            "one mixes two film frames, correct it with an override file",
            len(little), _spans(little),
        )  # fmt: skip
    shots = [editorial.Shot(s.first, s.last) for s in conform_manifest.shots]
    timeline = editorial.shots_timeline(
        shots,
        tc,
        name=path.name,
        frames_pattern=conform_manifest.frames_pattern,
        frame_fields=[r.fields for r in records],
    )
    conform_manifest = replace(
        conform_manifest,
        timecode=tc.to_manifest(),
        editorial=editorial.write_editorial(out, timeline),
        cuts_file=None if cuts is None else str(cuts),
    )
    manifest.write_conform(out, conform_manifest)
    document = conform_manifest.to_dict()
    result = Conformed(
        document,
        plans,
        analysis.metrics,
        analysis.track,
        thumb_arr,
        cut_scores,
        offset_result,
        seen.error,
        out,
        conform_manifest,
    )
    write_report(out / "report.html", result)
    folder.finish()
    log.info("conform: %d frames in %.1f s", len(records), time.monotonic() - start)
    return result


# Frames are finished (woven or rebuilt, converted to R'G'B', thumbnailed, encoded and written) by worker
# threads, while the main thread decodes the next ones: numpy, OpenCV and OpenImageIO release the GIL in
# their loops, so two workers keep both cores busy. At most _IN_FLIGHT frames wait at a time.
_WRITERS = 2
_IN_FLIGHT = 6
# deflate level 1: lossless like any level, about a fifth less CPU than OpenEXR's default (4) for 6 % larger
# files on grainy SD frames; encoding is most of a frame's cost
_EXR_COMPRESSION = "zip:1"


@dataclass(frozen=True)
class _Finished:
    """What ``conform`` keeps of a written frame: its (36, 48, 3) uint8 thumbnail, and for PNG the count
    of samples clipped to 0..1 out of ``pixels``."""

    thumb: np.ndarray
    clipped: int
    pixels: int


def _finish_frame(
    frame: YCbCrFrame | Callable[[], np.ndarray | YCbCrFrame],
    info: VideoInfo,
    target: Path,
    meta: ImageMeta,
    count_clipped: bool,
) -> _Finished:
    """Build (a ``frame_recipes`` call), convert (Y'CbCr planes, with the stream's matrix and range),
    thumbnail and write one output frame, R'G'B' float32 (H, W, 3), atomically to ``target``; runs on a
    worker thread."""
    built = frame if isinstance(frame, YCbCrFrame) else frame()
    rgb = built if isinstance(built, np.ndarray) else frame_to_rgb(built, info)
    thumb = cuts_mod.frame_thumbnail(rgb)
    clipped = int(np.count_nonzero((rgb < 0.0) | (rgb > 1.0))) if count_clipped else 0
    write_image(target, rgb, meta=meta, compression=_EXR_COMPRESSION if target.suffix == ".exr" else None)
    return _Finished(thumb, clipped, rgb.size if count_clipped else 0)


def _spans(frames: tuple[int, ...]) -> str:
    """Sorted frame indices as ranges: (3, 4, 5, 9) -> "3-5, 9"."""
    spans: list[list[int]] = []
    for f in frames:
        if spans and f == spans[-1][1] + 1:
            spans[-1][1] = f
        else:
            spans.append([f, f])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _break_frames(records: list[FrameRecord], track: CadenceTrack | None) -> list[int]:
    """Output frames whose fields follow a cadence break (or the start or end of a video stretch)."""
    if track is None:
        return []
    broken = {int(i) for i in np.nonzero(track.broken)[0]}
    return [r.index for r in records if r.index > 0 and any(f in broken for f in r.fields)]


BREAK_SPAN = 6
"""Output frames either side of a cadence break that ``_break_spans`` reaches at most."""


def _break_spans(
    records: list[FrameRecord], breaks: list[int], uncertain_margin: float
) -> dict[int, tuple[int, int]]:
    """For each of ``breaks`` (output frames), the output frames (first, last) where the cadence could have
    broken as well: the frames of uncertain phase (``cadence_margin`` under ``uncertain_margin``) around
    it, and the frame after them. Breaking at the start of any of them gives those frames one phase or
    the other, and in a run of 2-field frames that pairs their fields alike at the same cost, so the
    decision's place is one of several (held-out seeds 1202 and 1205: 3 and 1 frames before the gap).
    At most ``BREAK_SPAN`` frames either side: in a long still stretch the film cannot place the split
    either, and each place tried costs the offset search a pass over the film."""

    def unsure(k: int) -> bool:
        margin = records[k].cadence_margin
        return margin is not None and margin < uncertain_margin

    spans = {}
    for b in breaks:
        lo, hi = b, b
        while lo - 1 > max(0, b - BREAK_SPAN - 1) and unsure(lo - 1):
            lo -= 1
        while hi + 1 < min(len(records), b + BREAK_SPAN + 1) and unsure(hi):
            hi += 1
        spans[b] = (lo, hi)
    return spans


def repeats_against_evidence(records: list[FrameRecord], evidence: Evidence, limit: float) -> list[int]:
    """The output frames built from a 3-field run (film) whose third field ``evidence.pulldown`` says
    is no repeat of its first by more than ``limit`` (``CadenceParams.repeat_against``): a cadence
    kept through a place where the fields say it broke. Indices in order."""
    pulldown = evidence.pulldown
    return [
        r.index
        for r in records
        if r.kind == "film" and len(r.fields) == 3 and r.fields[0] < pulldown.shape[0]
        and float(pulldown[r.fields[0]]) > limit
    ]  # fmt: skip


def _manifest(
    out: Path,
    path: Path,
    info: VideoInfo,
    kind: str,
    records: list[FrameRecord],
    plans: list[FramePlan],
    track: CadenceTrack | None,
    cut_list: list[int],
    offset_result: OffsetResult | None,
    film_info: manifest.FilmInfo | None,
    seen: _Decoded,
    overrides: str | Path | None,
    image_format: str,
    clipped_fraction: float,
    uncertain_margin: float,
    joined_cuts: list[int],
    against: list[int],
) -> ConformManifest:
    n = len(records)
    bounds = [(c, (cut_list[k + 1] - 1) if k + 1 < len(cut_list) else n - 1) for k, c in enumerate(cut_list)]
    offset_match: manifest.OffsetMatch | None = None
    if offset_result is not None:
        shots = [
            ConformShot(
                s.first,
                s.last,
                s.film_first,
                None if s.match_score is None else round(s.match_score, 4),
                None if s.z is None else round(s.z, 2),
                s.film_jumps,
            )
            for s in offset_result.shots
        ]
        offset_match = manifest.OffsetMatch(
            offset_result.matched,
            offset_result.message,
            offset_result.global_offset,
            None if offset_result.global_score is None else round(offset_result.global_score, 4),
            None if offset_result.global_z is None else round(offset_result.global_z, 2),
        )
    else:
        shots = [ConformShot(a, b, None, None) for a, b in bounds]
    return ConformManifest(
        version=manifest.VERSION,
        source=str(path),
        fps="24000/1001",
        source_fps=f"{info.fps.numerator}/{info.fps.denominator}",
        field_order="progressive"
        if kind == "progressive24"
        else ("bff" if info.field_order == "bff" else "tff"),
        input_kind=kind,
        frame_count=n,
        pixel_aspect=f"{info.pixel_aspect.numerator}/{info.pixel_aspect.denominator}",
        source_frame_count=seen.frames,
        field_count=2 * seen.frames,
        frames_pattern=FRAME_PATTERN.format(ext=image_format),
        image_format="16-bit PNG, R'G'B' code values clipped to 0..1"
        if image_format == "png"
        else "half-float EXR, R'G'B' code values unclipped",
        colour=manifest.Colour(str(info.matrix), str(info.range), "as decoded (none applied)"),
        clipped_fraction=round(clipped_fraction, 6),
        fields_note="field 2k is the first field in time of broadcast frame k, 2k+1 its second",
        frames=tuple(records),
        cuts=tuple(cut_list[1:]),
        cuts_note="output index of the first frame of every shot but the first (frame 0 is not a cut)",
        shots=tuple(shots),
        orphans=tuple(r.index for r in records if r.kind == "orphan"),
        combed=tuple(r.index for r in records if r.combed),
        video_frames=tuple(r.index for r in records if r.kind == "video"),
        cadence_breaks=tuple(int(i) for i in np.nonzero(track.broken)[0]) if track is not None else (),
        uncertain_cadence=tuple(
            sorted(
                {
                    r.index
                    for r in records
                    if r.cadence_margin is not None and r.cadence_margin < uncertain_margin
                }
                | set(against)
            )
        ),
        joined_cuts=tuple(joined_cuts) if offset_result is not None else None,
        overrides=None if overrides is None else str(overrides),
        decode_error=seen.error,
        offset=None if offset_result is None else offset_result.offset,
        offset_match=offset_match,
        film=film_info,
        path=out / manifest.FILENAME,
    )
