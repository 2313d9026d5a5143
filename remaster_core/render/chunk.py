"""Render one chunk of frames: the unit of work of ``remaster render``, locally, on Dask or on a render farm.

``render_chunk(settings, chunk)``:

1. opens the input (``inputs.open_source``), ``align.json`` (if any) and the engine (cached per
   process: a Dask worker or a local job reuses one session for all its chunks);
2. removes temporaries a killed earlier run left for these frames (``outputs.remove_stale_temps``);
3. computes each frame's render key and checks the frame on disk (``outputs.frame_status``): valid
   frames are skipped (unless ``force``), so a killed chunk re-run renders only what is missing;
4. renders the rest in frame order, one frame per engine call (the same model input shapes whatever
   the chunking, so a frame's bits do not depend on it), the steps of ``node.render_frame``
   (``node.prepare_frame``, ``node.model_frame``, ``node.apply_grain``, ``node.Resampled.finish``:
   ``render_frame`` in parts) on three threads at once, so that a frame's reading and writing
   hide behind the model's run on another frame:

   - read ahead (a thread, up to ``READ_AHEAD`` frames ahead): decode the next input frame, convert it
     into the model's working space (with ``settings.colour``: ``render.colour``), deflicker it with
     its neighbours (with ``settings.deflicker``: ``render.deflicker``; the neighbours beyond the chunk's
     ends are read too), resample it to the output raster (``node.prepare_frame``);
   - this thread: the model, its guard and the mix (``node.model_frame``);
   - write behind (a thread, one frame): with ``settings.output_deflicker``, the output's low band
     averaged with the model's output on its neighbours (``render.deflicker`` at the output raster; the
     model also runs on the frames within its radius beyond the chunk's ends or skipped as valid, which
     are not written), the film grain (``node.apply_grain``: the output's grain beyond the film's taken
     away in flat areas, the film's deficit added), black beyond the broadcast picture
     (``Resampled.finish``), the output colour space and its tag, the atomic write of the previous frame.

   Frames are recorded and written in frame order; an error in a background stage is recorded against
   the frame it happened on (see Failures);
5. returns a ``ChunkResult`` (picklable, for Dask) and writes a JSON-lines log.

Failures: a frame that cannot be read or rendered (a corrupt or missing input frame, NaN from the
model) is recorded as failed and the chunk goes on. A failed *write* (disk full, file size limit,
read-only folder) stops the chunk: the frames after it would fail the same way; they are listed as
failed ("not rendered"). An input, ``align.json`` or model that cannot be opened fails the chunk
before any frame (``ChunkResult.error``).

Exit code of a chunk (``ChunkResult.exit_code``): 0 when every frame was rendered or found valid; 2
(bad input) or 3 (model error) when the chunk could not start, or when no frame was produced and every
frame it tried failed that same way (none of the frames can be read; the model gives NaN for all);
otherwise 4 (partial) as soon as one frame failed.

Log: ``<output folder>/.remaster/logs/chunk-<first>-<last>.jsonl`` (or ``settings.log_dir``), appended
to by every run of the chunk, flushed line by line so a killed run leaves what it did. One JSON object
a line, each with ``event`` and ``time`` (UTC ISO 8601):

- ``start``: host, pid, frames, input, output, model path and sha256, the engine's active providers,
  the node parameters;
- ``frame``: ``frame``, ``status`` ("rendered", "skipped" or "failed"), ``seconds`` (reading, render and
  write of this frame), ``error`` (null unless failed), ``path`` (the output file); for a rendered frame
  of a guarded model (``remaster_core.guard``) also ``guard``: the fractions of its pixels outside the
  model's training coverage, blended towards its grade and clipped, and ``flagged`` (more than 1 %
  outside). A flagged frame's file carries the same figures in its header (``GUARD_ATTRIBUTE``; EXR
  and PNG); with grain synthesised from a profile that records its measured levels,
  ``grain_unmeasured``: the share of the frame at levels where the film's grain was never measured
  (``grain.synthesis.unmeasured_share``);
- ``error``: a set-up failure (``message``, ``exit_code``);
- ``end``: counts, the failed frames as a range, ``guard_flagged`` (the flagged frames as a range),
  ``grain_extrapolated`` (the frames over ``GRAIN_UNMEASURED_FLAG`` as a range),
  seconds, ``exit_code``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from remaster_core.align.transform import Radial, Transform4
from remaster_core.errors import EXIT_BAD_INPUT, EXIT_MODEL, EXIT_OK, EXIT_PARTIAL, ModelError, RemasterError
from remaster_core.grain.excess import ExcessPlan
from remaster_core.grain.profile import ring_frequencies
from remaster_core.grain.synthesis import unmeasured_share
from remaster_core.guard import GuardReport
from remaster_core.io.images import ImageMeta
from remaster_core.io.sequence import format_frame_range
from remaster_core.node import (
    AlignTable,
    NodeParams,
    Resampled,
    apply_grain,
    engine_for,
    frame_transform,
    grain_key,
    grain_plan,
    model_frame,
    prepare_frame,
    read_align,
    region_of_definition,
)
from remaster_core.progress import progress
from remaster_core.render.colour import RenderColour
from remaster_core.render.deflicker import (
    DeflickerParams,
    deflicker_frame,
    deflicker_reads,
    deflicker_window,
    passed_power,
)
from remaster_core.render.inputs import FrameSource, SourceFrame, open_source
from remaster_core.render.output_cache import OutputCache
from remaster_core.render.outputs import (
    OutputSpec,
    frame_status,
    output_meta,
    remove_stale_temps,
    render_key,
    write_frame,
)
from remaster_core.runtime.model import ModelInfo, file_sha256

log = logging.getLogger("remaster.render")

T = TypeVar("T")


@dataclass(frozen=True)
class RenderSettings:
    """Everything a chunk needs; the same for every chunk of a job. Picklable (Dask ships it).

    Attributes:
        input: the input argument (video, conform folder, sequence folder or pattern).
        output: where and how frames are written.
        node: the node's parameters, with ``output_size`` resolved by the job (every chunk agrees).
        align: ``align.json`` for per-shot transforms, or None.
        pixel_aspect: override of the input's pixel aspect, or None.
        force: re-render valid frames too.
        log_dir: where chunk logs go; None: ``<output folder>/.remaster/logs``.
        colour: the colour steps around the node (``render.colour``), or None: none, no tag.
        deflicker: the temporal deflicker of the input (``render.deflicker``), or None: off.
        input_range: the first and last input frame the deflicker may read as a neighbour, or None: every
            frame the input holds. A host that writes its source frames into a folder as it goes (the
            Nuke node) gives its source's range, so that frames left there from an earlier, longer range
            are never read.
        output_deflicker: the temporal deflicker of the model's output (``render.deflicker`` on the
            mixed output, before the grain; ``sigma`` in output px), or None: off. A frame is then made
            from the model's output on its neighbours too: a chunk runs the model ``radius`` frames
            beyond its ends.
    """

    input: str
    output: OutputSpec
    node: NodeParams
    align: Path | None = None
    pixel_aspect: float | None = None
    force: bool = False
    log_dir: Path | None = None
    colour: RenderColour | None = None
    deflicker: DeflickerParams | None = None
    input_range: tuple[int, int] | None = None
    output_deflicker: DeflickerParams | None = None

    def log_folder(self) -> Path:
        """The folder of the chunk logs."""
        return (
            self.log_dir if self.log_dir is not None else self.output.pattern.directory / ".remaster" / "logs"
        )

    def reach(self) -> int:
        """Frames each side whose input a frame's pixels depend on: the two deflickers' radii."""
        return _radius(self.deflicker) + _radius(self.output_deflicker)


def _radius(params: DeflickerParams | None) -> int:
    """A deflicker's radius; 0 when it is None or off."""
    return 0 if params is None else params.radius


@dataclass(frozen=True)
class Chunk:
    """Frames rendered together (sorted, no duplicates)."""

    frames: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def name(self) -> str:
        """``chunk-<first>-<last>``: names its log and its Dask task."""
        return f"chunk-{self.first}-{self.last}"


@dataclass
class FrameFailure:
    """A frame that was not produced: ``kind`` is "input", "model", "write" or "not rendered"."""

    frame: int
    error: str
    kind: str


@dataclass
class ChunkResult:
    """What a chunk did (picklable).

    Attributes:
        chunk: the chunk.
        rendered, skipped: frames written by this run / found valid.
        failed: frames not produced, with the reason.
        error: a set-up failure that stopped the chunk before any frame, or None.
        exit_code: see the module docstring.
        providers: the engine's active providers (empty if no engine ran).
        host, pid: where it ran.
        seconds: wall time.
        log: the JSON-lines log file.
    """

    chunk: Chunk
    rendered: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[FrameFailure] = field(default_factory=list)
    error: str | None = None
    exit_code: int = EXIT_OK
    providers: list[str] = field(default_factory=list)
    host: str = ""
    pid: int = 0
    seconds: float = 0.0
    log: str = ""
    guard_flagged: dict[int, float] = field(default_factory=dict)
    """frames whose input lay outside the model's training coverage (more than 1 % of the pixels):
    frame -> that fraction (``remaster_core.guard``)."""
    grain_extrapolated: dict[int, float] = field(default_factory=dict)
    """frames with more than ``GRAIN_UNMEASURED_FLAG`` of their pixels at levels where the film's grain
    was never measured (its amplitude there is guessed from the measured levels): frame -> that share."""


GRAIN_UNMEASURED_FLAG = 0.25
"""A rendered frame with more than this share of its pixels at levels where the film's grain was never
measured (``grain.synthesis.unmeasured_share``) is listed in ``ChunkResult.grain_extrapolated``, its
chunk's ``end`` log line and the job's warning."""

GUARD_ATTRIBUTE = {".exr": "remaster:guard", ".png": "remaster:guard"}
"""The header attribute of a guard-flagged frame, per output extension (DPX has no free attribute)."""


def chunk_exit_code(result: ChunkResult) -> int:
    """The exit code ``result`` stands for (see the module docstring)."""
    if result.error is not None:
        return result.exit_code
    if not result.failed:
        return EXIT_OK
    tried = {f.kind for f in result.failed if f.kind != "not rendered"}
    if not result.rendered and not result.skipped and len(tried) == 1:
        kind = tried.pop()
        if kind in ("input", "model"):
            return EXIT_BAD_INPUT if kind == "input" else EXIT_MODEL
    return EXIT_PARTIAL


class ChunkLog:
    """Append-only JSON-lines log, flushed line by line; a log that cannot be written only warns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            log.warning("cannot write the chunk log %s (%s); rendering without it", path, exc)

    def write(self, event: str, **fields: Any) -> None:
        """Append one line ``{"event": event, "time": ..., **fields}``."""
        if self._file is None:
            return
        record = {"event": event, "time": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
        try:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()
        except OSError as exc:
            log.warning("cannot write the chunk log %s (%s); going on without it", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


_DONE = object()
READ_AHEAD = 2
"""Frames read and prepared ahead of the model (held as float32 frames on the output raster)."""


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` while a background thread produces up to ``depth`` ahead (exceptions re-raised).

    Closing the generator early stops the thread after the item it is producing.
    """
    q: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, which re-raises it)
            put((False, exc))

    thread = threading.Thread(target=produce, name="remaster-read", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()


def _frame_mapping(
    settings: RenderSettings, table: AlignTable | None, source: FrameSource, frame: int
) -> tuple[Transform4, Radial | None]:
    """The (transform, distortion) frame ``frame`` is rendered with."""
    if table is not None:
        m = table.mapping(frame)
        return m.transform, m.distortion
    return frame_transform(settings.node, source.size, source.pixel_aspect), None


def _safe_mapping(
    settings: RenderSettings, table: AlignTable | None, source: FrameSource, frame: int
) -> tuple[Transform4, Radial | None] | None:
    """``_frame_mapping``, or None where the frame has none (align.json does not cover it)."""
    try:
        return _frame_mapping(settings, table, source, frame)
    except RemasterError:
        return None


def _frame_key(
    settings: RenderSettings,
    model_sha: str,
    identity: Callable[[int], str],
    frame: int,
    mapping: tuple[Transform4, Radial | None],
    held: frozenset[int] = frozenset(),
    neighbour_mapping: Callable[[int], tuple[Transform4, Radial | None] | None] | None = None,
) -> str:
    """The render key of ``frame`` (``outputs.render_key``); ``identity``: an input frame's
    (``FrameSource.identity``); ``mapping``: its (transform, distortion); ``held``: the frames the
    input holds (the deflickers' neighbours are looked up in it);
    ``neighbour_mapping``: another frame's mapping or None where it has none (needed with an output
    deflicker: a neighbour's model output depends on it)."""
    fields = {
        "model_sha256": model_sha,
        "node": settings.node.key_fields(),
        **_mapping_fields(mapping),
        "input": identity(frame),
        "output": settings.output.key_fields(),
    }
    colour = settings.colour.key_fields() if settings.colour is not None else None
    if colour is not None:
        fields["colour"] = colour
    d, o = settings.deflicker, settings.output_deflicker
    if d is not None and not d.off:  # the frame depends on its neighbours' pixels too
        fields["deflicker"] = asdict(d)
    if o is not None and not o.off:  # ... and on the model's output of its neighbours
        fields["output_deflicker"] = asdict(o)
        if neighbour_mapping is None:
            raise ValueError("an output deflicker's render key needs the neighbours' mappings")
        fields["neighbour_mappings"] = [
            _mapping_fields(m) if (m := neighbour_mapping(g)) is not None else None
            for g in deflicker_window(frame, o.radius, held)
            if g != frame
        ]
    if settings.reach():
        fields["neighbours"] = [
            identity(g) for g in deflicker_window(frame, settings.reach(), held) if g != frame
        ]
    return render_key(fields)


def _model_key(
    settings: RenderSettings,
    model_sha: str,
    identity: Callable[[int], str],
    frame: int,
    mapping: tuple[Transform4, Radial | None],
    held: frozenset[int],
) -> str | None:
    """The key of ``frame``'s model output (mixed, before the output deflicker and the grain) in
    ``MODEL_OUTPUTS``: everything it depends on (``identity``: an input frame's, as ``_frame_key``);
    None where an input frame has no identity."""
    d = settings.deflicker
    try:
        fields = {
            "model_output": 1,
            "model_sha256": model_sha,
            "node": {k: v for k, v in settings.node.key_fields().items() if k != "grain"},
            **_mapping_fields(mapping),
            "input": identity(frame),
            "colour": settings.colour.key_fields() if settings.colour is not None else None,
            "deflicker": asdict(d) if d is not None and not d.off else None,
            "neighbours": [identity(g) for g in deflicker_window(frame, _radius(d), held) if g != frame],
        }
    except RemasterError:
        return None
    return render_key(fields)


MODEL_OUTPUTS: OutputCache[GuardReport | None] = OutputCache()
"""This process's latest model outputs with their guard reports, used with an output deflicker
(``render.output_cache``): a host asking for one frame at a time, or a worker rendering consecutive
chunks, runs the model once a frame."""


def _mapping_fields(mapping: tuple[Transform4, Radial | None]) -> dict[str, Any]:
    transform, distortion = mapping
    return {
        "frame_transform": transform.to_dict(),
        "distortion": distortion.to_dict() if distortion is not None else None,
    }


def _params_summary(params: NodeParams) -> dict[str, Any]:
    return {
        **params.key_fields(),
        "provider": params.provider,
        "threads": params.threads,
        "batch": params.batch,
    }


def render_chunk(settings: RenderSettings, chunk: Chunk, *, show_progress: bool = False) -> ChunkResult:
    """Render ``chunk`` (see the module docstring); never raises for bad input or a bad model.

    Args:
        settings: the job's settings.
        chunk: the frames.
        show_progress: report progress over the frames to render (``remaster_core.progress``).

    Returns:
        The ``ChunkResult``; ``exit_code`` says how it went.
    """
    started = time.monotonic()
    result = ChunkResult(chunk, host=socket.gethostname(), pid=os.getpid())
    chunk_log = ChunkLog(settings.log_folder() / f"{chunk.name}.jsonl")
    result.log = str(chunk_log.path)
    record = _Recorder(result, chunk_log)
    try:
        opened = _open(settings, chunk, record)
        if opened is not None:
            todo = _check_existing(settings, chunk, opened, record)
            _render(settings, chunk, opened, todo, record, show_progress)
    except BaseException as exc:
        chunk_log.write("error", message=f"{type(exc).__name__}: {exc}", exit_code=None)
        raise
    finally:
        result.seconds = time.monotonic() - started
        if result.error is None:
            result.exit_code = chunk_exit_code(result)
        chunk_log.write(
            "end",
            rendered=len(result.rendered),
            skipped=len(result.skipped),
            failed=len(result.failed),
            failed_frames=format_frame_range([f.frame for f in result.failed]),
            guard_flagged=format_frame_range(sorted(result.guard_flagged)),
            grain_extrapolated=format_frame_range(sorted(result.grain_extrapolated)),
            seconds=round(result.seconds, 3),
            exit_code=result.exit_code,
        )
        chunk_log.close()
    return result


class _Recorder:
    """Records each frame's outcome in the ``ChunkResult`` and the log, in the order they happen."""

    def __init__(self, result: ChunkResult, chunk_log: ChunkLog) -> None:
        self.result = result
        self.log = chunk_log

    def skipped(self, frame: int, seconds: float, path: Path) -> None:
        self.result.skipped.append(frame)
        self.log.write(
            "frame", frame=frame, status="skipped", seconds=round(seconds, 4), error=None, path=str(path)
        )

    def rendered(
        self,
        frame: int,
        seconds: float,
        path: Path,
        guard: GuardReport | None = None,
        grain_unmeasured: float | None = None,
    ) -> None:
        self.result.rendered.append(frame)
        fields: dict[str, Any] = {}
        if guard is not None:
            fields["guard"] = guard.to_dict()
            if guard.flagged:
                self.result.guard_flagged[frame] = round(guard.outside, 6)
        if grain_unmeasured is not None:
            fields["grain_unmeasured"] = round(grain_unmeasured, 4)
            if grain_unmeasured > GRAIN_UNMEASURED_FLAG:
                self.result.grain_extrapolated[frame] = round(grain_unmeasured, 4)
        self.log.write(
            "frame", frame=frame, status="rendered", seconds=round(seconds, 4), error=None, path=str(path),
            **fields,
        )  # fmt: skip

    def failed(self, frame: int, error: str, kind: str, seconds: float = 0.0) -> None:
        self.result.failed.append(FrameFailure(frame, error, kind))
        self.log.write(
            "frame", frame=frame, status="failed", seconds=round(seconds, 4), error=error, path=None
        )
        if kind != "not rendered":
            log.error("frame %d failed: %s", frame, error)


@dataclass
class _Opened:
    """What a chunk opened before its first frame; ``held``: the frames the input holds, where the
    deflicker looks its neighbours up (empty without a deflicker); ``identity``: ``source.identity``,
    each frame's worked out once for the chunk (with the deflickers a frame's identity enters the keys
    of every frame within their reach, and its model output's key)."""

    source: FrameSource
    table: AlignTable | None
    model_sha: str
    size: tuple[int, int]
    held: frozenset[int] = frozenset()
    identity: Callable[[int], str] = field(init=False)

    def __post_init__(self) -> None:
        self.identity = functools.cache(self.source.identity)


def _open(settings: RenderSettings, chunk: Chunk, record: _Recorder) -> _Opened | None:
    """Open the input, align.json and the engine; log ``start`` (None after a set-up failure)."""
    result, node = record.result, settings.node
    try:
        source = open_source(settings.input, pixel_aspect=settings.pixel_aspect)
        table = read_align(settings.align) if settings.align is not None else None
        engine = engine_for(node) if node.mix > 0 else None
        model_sha = file_sha256(node.model) if node.model.is_file() else "none"
    except RemasterError as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
        record.log.write("start", host=result.host, pid=result.pid, frames=format_frame_range(chunk.frames))
        record.log.write("error", message=str(exc), exit_code=exc.exit_code)
        log.error("%s: %s", chunk.name, exc)
        return None
    result.providers = engine.providers if engine is not None else []
    record.log.write(
        "start",
        host=result.host,
        pid=result.pid,
        frames=format_frame_range(chunk.frames),
        frame_count=len(chunk.frames),
        input=source.label,
        input_kind=source.kind,
        output=str(settings.output.pattern),
        bit_depth=settings.output.bit_depth,
        model=str(node.model),
        model_sha256=model_sha,
        providers=result.providers,
        params=_params_summary(node),
        force=settings.force,
    )
    for path in remove_stale_temps(settings.output, chunk.frames):
        record.log.write("cleanup", removed=str(path))
    size = region_of_definition(node, source.size, source.pixel_aspect)
    held = (
        frozenset(held_frames(source.available(), settings.input_range)) if settings.reach() else frozenset()
    )
    return _Opened(source, table, model_sha, size, held)


_Finished = tuple[Path | None, float, str | None, float | None]
# (path or None, seconds, error or None, share of the frame at unmeasured grain levels or None)
_Plan = tuple[Transform4, Radial | None, str, tuple[int, int]]
# (transform, distortion, render key, grain key (shot, frame in shot)) of a frame


def _check_existing(
    settings: RenderSettings, chunk: Chunk, opened: _Opened, record: _Recorder
) -> dict[int, _Plan]:
    """Skip the frames already valid on disk; return the plan of each frame left to render."""
    plans: dict[int, _Plan] = {}
    for frame in chunk.frames:
        t0 = time.perf_counter()
        try:
            transform, distortion = _frame_mapping(settings, opened.table, opened.source, frame)
            key = _frame_key(
                settings,
                opened.model_sha,
                opened.identity,
                frame,
                (transform, distortion),
                opened.held,
                functools.partial(_safe_mapping, settings, opened.table, opened.source),
            )
            grain = grain_key(opened.table.mapping(frame) if opened.table is not None else None, frame)
        except RemasterError as exc:
            record.failed(frame, str(exc), "input", time.perf_counter() - t0)
            continue
        reason = "forced" if settings.force else frame_status(settings.output, frame, key, opened.size)
        if reason is None:
            record.skipped(frame, time.perf_counter() - t0, settings.output.path(frame))
            continue
        if reason not in ("missing", "forced"):
            log.info("frame %d: existing file is redone (%s)", frame, reason)
        plans[frame] = (transform, distortion, key, grain)
    return plans


@dataclass
class _Prepared:
    """A frame made ready for the model in the read-ahead thread (``_prepare``): the input frame's
    metadata and its resample (``node.Resampled``: float32 (H, W, 3) on the output raster, working space), or the
    error that stopped it (recorded as an "input" failure); ``seconds`` spent reading and preparing it."""

    frame: int
    meta: ImageMeta | None
    resampled: Resampled | None
    error: str | None
    seconds: float


def _prepare(
    settings: RenderSettings,
    source: FrameSource,
    plans: dict[int, _Plan],
    sf: SourceFrame,
    seconds: float,
    window: Sequence[np.ndarray | None] | None = None,
) -> _Prepared:
    """``render_frame``'s steps before the model for one read frame (the colour step into the working
    space, the deflicker with ``window``: the working-space frames around it, ``sf`` in the middle; then the
    resample to the output raster); runs in the read-ahead thread."""
    t0 = time.perf_counter()
    if sf.error is not None or sf.rgb is None:
        return _Prepared(sf.frame, None, None, sf.error or "no pixels", seconds)
    transform, distortion, _, _ = plans[sf.frame]
    colour = settings.colour
    try:
        if window is not None and settings.deflicker is not None:  # the window is in the working space
            working = deflicker_frame(window, len(window) // 2, settings.deflicker)
        else:
            working = colour.to_working(sf.rgb) if colour is not None else sf.rgb
        resampled = prepare_frame(
            working,
            settings.node,
            transform=transform,
            distortion=distortion,
            pixel_aspect=source.pixel_aspect,
            where=f"frame {sf.frame} of {source.label}",
        )
    except RemasterError as exc:
        return _Prepared(sf.frame, None, None, str(exc), seconds + time.perf_counter() - t0)
    return _Prepared(sf.frame, sf.meta, resampled, None, seconds + time.perf_counter() - t0)


def held_frames(available: list[int], input_range: tuple[int, int] | None) -> list[int]:
    """The input frames a deflicker may read: ``available`` within ``input_range`` (None: all of them)."""
    if input_range is None:
        return list(available)
    first, last = input_range
    return [f for f in available if first <= f <= last]


def _read_and_prepare(
    settings: RenderSettings,
    source: FrameSource,
    plans: dict[int, _Plan],
    frames: list[int],
    held: frozenset[int] = frozenset(),
    plain: Collection[int] = (),
) -> Iterator[_Prepared]:
    """The frames read and prepared in order (``_prepare``), each with its seconds. With a deflicker,
    the frames within its radius that the input holds (``held``) are read too (beyond the chunk's ends)
    and each frame is prepared once its last neighbour is read; ``plain``: frames prepared without it
    (their model output is already made: only their resample's border and metadata are used)."""
    d = settings.deflicker
    if d is None or d.off:
        t0 = time.perf_counter()
        for sf in source.read(frames):
            yield _prepare(settings, source, plans, sf, time.perf_counter() - t0)
            t0 = time.perf_counter()
        return
    r = d.radius
    wanted = sorted(set(deflicker_reads([f for f in frames if f not in plain], r, held)) | set(frames))
    colour = settings.colour
    read: dict[int, SourceFrame] = {}
    working: dict[int, np.ndarray | None] = {}
    todo = sorted(frames)
    t0 = time.perf_counter()

    def emit(frame: int) -> _Prepared:
        sf = read.get(frame) or SourceFrame(frame, None, None, "not read")
        if frame in plain:
            return _prepare(settings, source, plans, sf, time.perf_counter() - t0)
        window = [working.get(g) for g in range(frame - r, frame + r + 1)]
        return _prepare(settings, source, plans, sf, time.perf_counter() - t0, window)

    for sf in source.read(wanted):
        read[sf.frame] = sf
        rgb = sf.rgb if sf.error is None else None
        try:
            working[sf.frame] = colour.to_working(rgb) if colour is not None and rgb is not None else rgb
        except RemasterError as exc:
            read[sf.frame] = SourceFrame(sf.frame, None, None, str(exc))
            working[sf.frame] = None
        while todo and todo[0] + r <= sf.frame:
            yield emit(todo.pop(0))
            t0 = time.perf_counter()
        keep_from = (todo[0] - r) if todo else sf.frame + 1
        for g in [g for g in working if g < keep_from]:
            del working[g]
            read.pop(g, None)
    while todo:
        yield emit(todo.pop(0))


def frame_grain(
    info: ModelInfo | None,
    deflicker: DeflickerParams | None,
    transform: Transform4,
    output_deflicker: DeflickerParams | None = None,
) -> ExcessPlan | None:
    """What the grain step does on a frame's output (``node.grain_plan``): without a deflicker, the
    model's plan; with one, when the model carries the film's and its output's profiles, the plan for
    what of the output's grain survives the deflickers (``deflicker.passed_power``: the input's
    deflicker at this frame's scale averages the input's low band over frames, and the coarse grain the
    model reproduces from it with it; the output's, at scale 1, the output's low band): the film's less
    that is synthesised. None: no model, or no grain."""
    if info is None:
        return None
    if (
        not (_radius(deflicker) or _radius(output_deflicker))
        or info.film_grain is None
        or info.output_grain is None
    ):
        return grain_plan(info)
    frequencies = ring_frequencies(info.film_grain)
    scale = 1.0 / math.sqrt(abs(transform.sx * transform.sy))  # output px per input px
    passed = np.ones_like(frequencies)
    for params, at in ((deflicker, scale), (output_deflicker, 1.0)):
        if params is not None:  # passed_power is 1 where it is off
            passed = passed * passed_power(frequencies, params, at)
    return grain_plan(info, passed)


def excess_pair(
    window: Sequence[np.ndarray | None], centre: int, starts_shot: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """The model's outputs the grain step reads the output's grain on (``grain.excess.remove_excess``'s
    ``pair``): the frame's (``window[centre]``) and the frame before's, else the frame after's (first
    where the frame ``starts_shot``: the one before is another shot's); None without either (no output
    deflicker: its window is the frame alone, and a frame's neighbour outside the chunk is not made)."""
    own = window[centre]
    for k in (centre + 1, centre - 1) if starts_shot else (centre - 1, centre + 1):
        if own is not None and 0 <= k < len(window) and (other := window[k]) is not None:
            return own, other
    return None


def _model_plans(settings: RenderSettings, opened: _Opened, plans: dict[int, _Plan]) -> dict[int, _Plan]:
    """``plans`` and, with an output deflicker, a plan (no key: never written) for each frame the input
    holds within its radius of a planned frame, whose model output the deflicker reads."""
    q = _radius(settings.output_deflicker)
    if not q or not plans:
        return plans
    out = dict(plans)
    for g in deflicker_reads(plans, q, opened.held):
        if g not in out and (m := _safe_mapping(settings, opened.table, opened.source, g)) is not None:
            out[g] = (m[0], m[1], "", (0, 0))
    return out


def _render(
    settings: RenderSettings,
    chunk: Chunk,
    opened: _Opened,
    plans: dict[int, _Plan],
    record: _Recorder,
    show_progress: bool,
) -> None:
    """Render ``plans`` in frame order in three overlapping stages (see the module docstring): read and
    prepare ahead, one engine call per frame here, finish (output deflicker, grain, output colour) and
    write behind. With an output deflicker the model also runs on the frames within its radius of the
    planned ones (``_model_plans``), and a frame is finished once its last neighbour's output is made."""
    source = opened.source
    node = settings.node
    todo = sorted(plans)
    every = _model_plans(settings, opened, plans)
    o = settings.output_deflicker
    q = _radius(o)
    model_keys: dict[int, str] = {}
    outputs: dict[int, np.ndarray | None] = {}  # the model's (mixed) output of each frame run, by frame
    kept: dict[int, tuple[np.ndarray, GuardReport | None]] = {}
    if q:  # outputs this process made before: a neighbour's is not read again, a planned frame's not run
        # (nor its input deflickered: only its resample's border and metadata are used)
        for g, p in every.items():
            k = _model_key(settings, opened.model_sha, opened.identity, g, (p[0], p[1]), opened.held)
            if k is not None:
                model_keys[g] = k
                if (hit := MODEL_OUTPUTS.get(k)) is not None:
                    kept[g] = hit  # held here: the store may drop it before it is used
        outputs.update({g: hit[0] for g, hit in kept.items() if g not in plans})
        kept = {g: hit for g, hit in kept.items() if g in plans}  # each let go once its frame is made
    to_run = {g: p for g, p in every.items() if g not in outputs}
    stopped: str | None = None
    attempted: set[int] = set()
    pending: list[tuple[int, float, Future[_Finished]]] = []
    guards: dict[int, GuardReport] = {}
    engine = engine_for(node) if node.mix > 0 else None
    grains: dict[tuple[float, float], ExcessPlan | None] = {}
    waiting: list[tuple[int, float, Resampled, ImageMeta]] = []  # planned frames made, not yet finished

    def grain_of(frame: int) -> ExcessPlan | None:
        transform = plans[frame][0]
        key = (transform.sx, transform.sy)
        if key not in grains:
            grains[key] = frame_grain(
                engine.info if engine is not None else None, settings.deflicker, transform, o
            )
        return grains[key]

    def finish_and_write(
        frame: int, window: list[np.ndarray | None], resampled: Resampled, meta: ImageMeta
    ) -> _Finished:
        """(path, seconds, None, unmeasured) once written; (None, seconds, error, None) when finishing
        failed. A failed write raises (``MediaError``): it stops the chunk. ``window``: the model's
        outputs of the frames within the output deflicker's radius, ``frame``'s in the middle (just it
        when off). ``unmeasured``: the share of the frame at levels where the film's grain was never
        measured (``grain.synthesis.unmeasured_share``), or None."""
        t0 = time.perf_counter()
        shot, in_shot = plans[frame][3]
        colour = settings.colour
        unmeasured = None
        try:
            own = window[q]
            assert own is not None  # a frame waits to be finished only once its model output is made
            mixed = deflicker_frame(window, q, o) if o is not None and q else own
            plan = grain_of(frame)
            if not node.grain().off and plan is not None:
                unmeasured = unmeasured_share(plan.deficit, mixed)
            grain = apply_grain(
                mixed, node, plan, shot=shot, frame=in_shot, pair=excess_pair(window, q, in_shot == 0)
            )
            out = resampled.finish(grain)
            if colour is not None:
                out, meta = colour.to_output(out), colour.tag(meta, settings.output.ext)
        except RemasterError as exc:
            return None, time.perf_counter() - t0, str(exc), None
        path = write_frame(settings.output, frame, out, meta)
        return path, time.perf_counter() - t0, None, unmeasured

    def finish(frame: int, render_seconds: float, fut: Future[_Finished]) -> None:
        nonlocal stopped
        try:
            path, write_seconds, error, unmeasured = fut.result()
        except RemasterError as exc:
            record.failed(frame, str(exc), "write", render_seconds)
            stopped = f"not rendered: the chunk stopped after frame {frame} could not be written ({exc})"
            return
        if path is None:
            guards.pop(frame, None)
            record.failed(frame, error or "not finished", "input", render_seconds + write_seconds)
            return
        record.rendered(frame, render_seconds + write_seconds, path, guards.pop(frame, None), unmeasured)

    def submit(upto: float) -> None:
        """Hand the made frames whose output deflicker window ends at or before ``upto`` to the writer."""
        while waiting and waiting[0][0] + q <= upto and not stopped:
            frame, seconds, resampled, meta = waiting.pop(0)
            window = [outputs.get(g) for g in range(frame - q, frame + q + 1)]
            fut = writer.submit(finish_and_write, frame, window, resampled, meta)
            pending.append((frame, seconds, fut))
            keep_from = (waiting[0][0] if waiting else frame + 1) - q  # later frames' windows
            for g in [g for g in outputs if g < keep_from]:
                del outputs[g]
            while len(pending) > 1:  # one frame is finished and written while the next one renders
                finish(*pending.pop(0))

    reader = prefetch(
        _read_and_prepare(settings, source, to_run, sorted(to_run), opened.held, plain=set(kept)),
        depth=READ_AHEAD,
    )
    frames_in: Iterator[_Prepared] = reader
    if show_progress:
        frames_in = progress(
            reader, total=len(to_run), desc=f"render {chunk.first}-{chunk.last}", unit="frame"
        )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="remaster-write") as writer:
        try:
            for ready in frames_in:
                planned = ready.frame in plans
                if planned:
                    attempted.add(ready.frame)
                t0 = time.perf_counter()
                outputs[ready.frame] = None
                if ready.error is not None or ready.resampled is None:
                    if planned:
                        record.failed(ready.frame, ready.error or "no pixels", "input", ready.seconds)
                    submit(ready.frame)
                    continue
                mkey = model_keys.get(ready.frame)
                hit = kept.pop(ready.frame, None)
                if hit is not None:
                    mixed = hit[0]
                    if hit[1] is not None:
                        guards[ready.frame] = hit[1]
                else:
                    try:
                        mixed = model_frame(
                            ready.resampled.picture,
                            node,
                            where=f"frame {ready.frame} of {source.label}",
                            on_guard=functools.partial(guards.__setitem__, ready.frame),
                        )
                    except RemasterError as exc:
                        if planned:
                            kind = "model" if isinstance(exc, ModelError) else "input"
                            seconds = ready.seconds + time.perf_counter() - t0
                            record.failed(ready.frame, str(exc), kind, seconds)
                        submit(ready.frame)
                        continue
                    if mkey is not None:
                        MODEL_OUTPUTS.put(mkey, mixed, guards.get(ready.frame))
                outputs[ready.frame] = mixed
                if planned:
                    meta = output_meta(ready.meta, settings.output, plans[ready.frame][2])
                    guard = guards.get(ready.frame)
                    if guard is not None and guard.flagged and settings.output.ext in GUARD_ATTRIBUTE:
                        meta.extra[GUARD_ATTRIBUTE[settings.output.ext]] = guard.attribute()
                    seconds = ready.seconds + time.perf_counter() - t0
                    waiting.append((ready.frame, seconds, ready.resampled, meta))
                else:
                    guards.pop(ready.frame, None)  # a neighbour's: its own frame is not written here
                submit(ready.frame)
                if stopped:
                    break
            submit(math.inf)
            while pending:
                finish(*pending.pop(0))
        finally:
            if frames_in is not reader:
                frames_in.close()  # type: ignore[attr-defined]
            reader.close()  # type: ignore[attr-defined]
    for frame in todo:
        if frame not in attempted or any(w[0] == frame for w in waiting):
            record.failed(frame, stopped or "not rendered: the input ended before it", "not rendered")
    record.result.rendered.sort()
