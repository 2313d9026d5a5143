"""A render job: resolve the settings once, split the frame range into chunks, run them, collect the results.

``plan_job`` checks everything that would make every chunk fail before any work starts (the output
pattern, the model file, the input, ``align.json``) and fixes what all chunks must agree on: the
output raster (from ``align.json``'s output format, the requested format, or the node's region of
definition) and the frame list (``--frames``, or every frame of the input).

``run_job`` runs the chunks here, one after the other in this process (one engine session for all), or
on a Dask cluster (``dask_cluster``). Chunks are consecutive runs of ``chunk_size`` frames of the frame
list; a chunk's frames are rendered one engine call per frame, so the bits of a frame do not depend on
the chunking or on which worker rendered it.

Exit code of a job (``job_exit_code``): 0 when every chunk succeeded; when no frame was produced at all
and every chunk failed the same way, that chunk code (2 bad input, 3 model error); otherwise 4
(partial failure: the failed frames are listed in the chunk logs and by the CLI).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from remaster_core.errors import EXIT_OK, EXIT_PARTIAL, InputError
from remaster_core.grain.profile import excess_bands, excess_message
from remaster_core.io.frame_range import check_frame_numbers, format_frame_range, parse_frame_range
from remaster_core.io.outdir import ensure_folder, refuse_overwrite
from remaster_core.node import NodeParams, read_align, region_of_definition
from remaster_core.render.chunk import Chunk, ChunkResult, FrameFailure, RenderSettings, render_chunk
from remaster_core.render.colour import render_colour
from remaster_core.render.deflicker import OUTPUT_SIGMA, DeflickerParams
from remaster_core.render.inputs import FrameSource, SequenceSource, open_source
from remaster_core.render.outputs import OutputSpec, output_spec
from remaster_core.runtime.model import ModelInfo, open_model

log = logging.getLogger("remaster.render")


@dataclass(frozen=True)
class JobPlan:
    """A checked job: its settings, its chunks and what was learned about the input.

    Attributes:
        settings: the chunks' settings (``node.output_size`` resolved).
        chunks: the chunks, in frame order.
        input_kind: "sequence", "conform" or "video".
        input_size: (W, H) of the input raster; pixel_aspect: its pixel aspect.
        fps: the input's frame rate, if known.
    """

    settings: RenderSettings
    chunks: tuple[Chunk, ...]
    input_kind: str
    input_size: tuple[int, int]
    pixel_aspect: float
    fps: Fraction | None = None

    @property
    def frames(self) -> list[int]:
        """Every frame of the job."""
        return [f for c in self.chunks for f in c.frames]


@dataclass
class JobResult:
    """What a job did: every chunk's result, in frame order, and the job's exit code."""

    results: list[ChunkResult]
    exit_code: int
    seconds: float = 0.0
    scheduler: str | None = None
    providers: list[str] = field(default_factory=list)

    @property
    def rendered(self) -> list[int]:
        return sorted(f for r in self.results for f in r.rendered)

    @property
    def skipped(self) -> list[int]:
        return sorted(f for r in self.results for f in r.skipped)

    @property
    def failed(self) -> list[FrameFailure]:
        return sorted((f for r in self.results for f in r.failed), key=lambda f: f.frame)

    @property
    def errors(self) -> list[str]:
        """Set-up errors of chunks that could not start (deduplicated)."""
        return list(dict.fromkeys(r.error for r in self.results if r.error is not None))

    @property
    def guard_flagged(self) -> dict[int, float]:
        """Rendered frames whose input lay outside the model's training coverage (more than 1 % of the
        pixels; blended towards the model's grade there): frame -> that fraction."""
        return dict(sorted((f, v) for r in self.results for f, v in r.guard_flagged.items()))

    @property
    def grain_extrapolated(self) -> dict[int, float]:
        """Rendered frames with more than ``chunk.GRAIN_UNMEASURED_FLAG`` of their pixels at levels where
        the film's grain was never measured: frame -> that share."""
        return dict(sorted((f, v) for r in self.results for f, v in r.grain_extrapolated.items()))

    def grain_summary(self) -> str | None:
        """One line on the frames whose grain is mostly extrapolated, or None when there are none."""
        flagged = self.grain_extrapolated
        if not flagged:
            return None
        worst = max(flagged, key=lambda f: flagged[f])
        frames = format_frame_range(list(flagged))
        return (
            f"{len(flagged)} of {len(self.rendered)} rendered frame(s) ({frames}) lie mostly at levels "
            f"where the film's grain was never measured (up to {100 * flagged[worst]:.0f}% of the pixels, "
            f"frame {worst}): the training film's flat areas had no such brightness, so the grain there "
            "takes the amplitude of the nearest level measured, a guess. Check its amount on these frames "
            "(--grain-amount), or train with film of such shots; the chunk logs give every frame's share "
            "(grain_unmeasured)"
        )

    def guard_summary(self) -> str | None:
        """One line on the guard-flagged frames, or None when there are none."""
        flagged = self.guard_flagged
        if not flagged:
            return None
        worst = max(flagged, key=lambda f: flagged[f])
        return (
            f"{len(flagged)} of {len(self.rendered)} rendered frame(s) ({format_frame_range(list(flagged))}) had "
            f"colours outside what the model was trained on (up to {100 * flagged[worst]:.1f}% of the pixels, "
            f"frame {worst}): there the output was blended towards the model's grade; the frames are flagged "
            "in their header (remaster:guard) and the chunk logs. Check them, or train with film of such shots"
        )


def split_chunks(frames: Sequence[int], chunk_size: int | None) -> tuple[Chunk, ...]:
    """Consecutive groups of ``chunk_size`` frames of the sorted, deduplicated ``frames`` (None: one chunk).

    Raises:
        InputError: no frames, or a chunk size below 1.
    """
    ordered = sorted(set(frames))
    if not ordered:
        raise InputError("no frames to render; check --frames against the input's frames")
    if chunk_size is None:
        return (Chunk(tuple(ordered)),)
    if chunk_size < 1:
        raise InputError(f"chunk size must be 1 or more frames, got {chunk_size}")
    return tuple(Chunk(tuple(ordered[i : i + chunk_size])) for i in range(0, len(ordered), chunk_size))


def _output_size(node: NodeParams, source: FrameSource, align: Path | None) -> tuple[int, int]:
    if align is None:
        return region_of_definition(node, source.size, source.pixel_aspect)
    table = read_align(align)
    if node.output_size is not None and node.output_size != table.output_size:
        raise InputError(
            f"{align}: its output format is {table.output_size[0]}x{table.output_size[1]}, but "
            f"{node.output_size[0]}x{node.output_size[1]} was asked for; give one or the other"
        )
    if table.broadcast_size != source.size:
        raise InputError(
            f"{align} was made for {table.broadcast_size[0]}x{table.broadcast_size[1]} conformed frames, but "
            f"{source.label} is {source.size[0]}x{source.size[1]}; render the conform that align.json belongs to"
        )
    return table.output_size


def grain_excess_warnings(info: ModelInfo | None, node: NodeParams) -> list[str]:
    """One line per octave band in which ``info``'s model output alone carries more of the film's grain
    than ``grain.profile.EXCESS`` allows (measured in training, ``remaster.output_grain`` beside
    ``remaster.film_grain``), where ``node`` turns the grain off: with grain on the render takes that
    excess away in flat areas (``grain.excess``), without it the output keeps it. [] without a model,
    with grain on, or without both profiles."""
    if info is None or not node.grain().off or info.film_grain is None or info.output_grain is None:
        return []
    return [
        f"{node.model.name}: {excess_message(band, ratio)}"
        for band, ratio in excess_bands(info.output_grain, info.film_grain)
    ]


def deflicker_grain_warnings(
    info: ModelInfo | None, node: NodeParams, *, deflicker: int, output: int
) -> list[str]:
    """One line where a deflicker runs (``deflicker`` or ``output`` frames each side, 0: off) with grain
    on and ``info``'s model holds no film grain to synthesise (no profile, or a zero one: its training
    film showed no measurable grain): averaging the low band over frames takes the model's own coarse
    grain, which the grain step gives back from the film's profile (``render.deflicker.passed_power``),
    and here nothing does. Held-out grain seed 53 (``docs/training.md``): the output's coarse octave
    1.06 of the film's without a deflicker, 0.20 with both. [] without a model, a deflicker, or with
    grain off (a clean output asked for)."""
    if info is None or not (deflicker or output) or node.grain().off:
        return []
    if any(p is not None and not p.is_zero for p in (info.film_grain, info.grain)):
        return []
    which = " and ".join(n for n, on in (("--deflicker", deflicker), ("--deflicker-output", output)) if on)
    line = (
        f"{node.model.name}: with {which} the picture's low band is averaged over frames, which takes the "
        "model's own coarse grain, and the model holds no film grain to give it back (its training film "
        "showed no measurable grain): expect less coarse grain than the film has"
    )
    return [line]


def plan_job(
    input: str,
    output: OutputSpec,
    node: NodeParams,
    *,
    frames: str | Sequence[int] | None = None,
    align: Path | None = None,
    pixel_aspect: float | None = None,
    force: bool = False,
    log_dir: Path | None = None,
    chunk_size: int | None = None,
    broadcast_colorspace: str | None = None,
    output_colorspace: str | None = None,
    ocio_config: str | None = None,
    deflicker: int = 0,
    input_range: tuple[int, int] | None = None,
    deflicker_output: int = 0,
) -> JobPlan:
    """Check the job and fix what every chunk must agree on (see the module docstring).

    Args:
        input: the input (video, conform folder, sequence folder or pattern).
        output: the output frames.
        node: the node's parameters (``output_size`` None: from ``align`` or the region of definition).
        frames: a frame range (``1001-1100``, ``0-39x2``, ``1-10 20``: ``remaster_core/io/frame_range.py``),
            a list, or None for every input frame.
        align: ``align.json`` for per-shot transforms.
        pixel_aspect: override of the input's pixel aspect.
        force: re-render valid frames too.
        log_dir: where chunk logs go (default ``<output folder>/.remaster/logs``).
        chunk_size: frames per chunk; None: one chunk.
        broadcast_colorspace, output_colorspace, ocio_config: the input's and the output's OCIO colour
            spaces and the config (``render.colour.render_colour``; the working space is the model's).
        deflicker: frames each side the input's low band is averaged over (``render.deflicker``); 0: off.
        input_range: the first and last input frame the deflicker reads (``RenderSettings.input_range``);
            None: every frame the input holds.
        deflicker_output: frames each side the model output's low band is averaged over
            (``RenderSettings.output_deflicker``, ``render.deflicker.OUTPUT_SIGMA`` px); 0: off.

    Raises:
        InputError: bad output pattern, input, frame range (or a negative frame of a conform or video) or
            align.json (exit code 2).
        ModelError: the model cannot be opened (exit code 3).
    """
    frame_list: list[int] | None = None  # a typo in the range is reported before the model is opened
    if isinstance(frames, str):
        frame_list = parse_frame_range(frames)
    elif frames is not None:
        frame_list = check_frame_numbers(frames, "frames")
    info = open_model(node.model)[0] if node.mix > 0 else None  # ModelError now, not in every chunk
    for line in grain_excess_warnings(info, node) + deflicker_grain_warnings(
        info, node, deflicker=deflicker, output=deflicker_output
    ):
        log.warning("%s", line)
    colour = render_colour(
        info, broadcast=broadcast_colorspace, output=output_colorspace, ocio_config=ocio_config
    )
    source = open_source(input, pixel_aspect=pixel_aspect)
    if isinstance(source, SequenceSource):  # resolved: lnk/p.####.exr where lnk -> seq is seq/p.####.exr
        on_disk = source.available()
        written = (output.path(f) for f in on_disk)
        refuse_overwrite(
            written, (source.pattern.path(f) for f in on_disk), what=f"the input {source.pattern}"
        )
    ensure_folder(output.pattern.directory)
    size = _output_size(node, source, align)
    # absolute paths: a farm worker may run in another folder than this one
    node = replace(node, output_size=size, model=node.model.absolute())
    output = output_spec(
        os.path.abspath(output.pattern.pattern), bit_depth=output.bit_depth, compression=output.compression
    )
    if frame_list is None:
        frame_list = source.available()
    if source.kind != "sequence" and frame_list and frame_list[0] < 0:
        raise InputError(
            f"frame {frame_list[0]} is negative, but {source.label} numbers its frames from 0 (conformed "
            "frame indices); give frames from 0 up"
        )
    settings = RenderSettings(
        input=os.path.abspath(input),
        output=output,
        node=node,
        align=Path(align).absolute() if align is not None else None,
        pixel_aspect=pixel_aspect,
        force=force,
        log_dir=Path(log_dir).absolute() if log_dir is not None else None,
        colour=colour,
        deflicker=DeflickerParams(radius=deflicker) if deflicker else None,
        input_range=input_range,
        output_deflicker=(
            DeflickerParams(radius=deflicker_output, sigma=OUTPUT_SIGMA) if deflicker_output else None
        ),
    )
    return JobPlan(
        settings,
        split_chunks(frame_list, chunk_size),
        source.kind,
        source.size,
        source.pixel_aspect,
        source.fps,
    )


def job_exit_code(results: Sequence[ChunkResult]) -> int:
    """The exit code of a job made of ``results`` (see the module docstring)."""
    codes = {r.exit_code for r in results}
    if codes <= {EXIT_OK}:
        return EXIT_OK
    produced = any(r.rendered or r.skipped for r in results)
    if not produced and len(codes) == 1:
        return codes.pop()
    return EXIT_PARTIAL


def run_job(
    plan: JobPlan,
    *,
    scheduler: str | None = None,
    resources: dict[str, float] | None = None,
    retries: int = 2,
    connect_timeout: float = 20.0,
    show_progress: bool = True,
) -> JobResult:
    """Run every chunk of ``plan`` here (``scheduler`` None) or on the Dask cluster at ``scheduler``.

    Args:
        plan: from ``plan_job``.
        scheduler: a Dask scheduler address (``tcp://host:8786``), or None to render in this process.
        resources: Dask resources each chunk needs (``{"GPU": 1}``); see ``dask_cluster.gpu_resources``.
        retries: Dask retries of a chunk whose task raised (a lost worker is rescheduled by Dask
            itself, up to its ``allowed-failures``).
        connect_timeout: seconds to wait for the scheduler.
        show_progress: a progress bar (terminal) or progress lines (logs).

    Raises:
        InputError: the scheduler cannot be reached, or dask distributed is not installed.
    """
    started = time.monotonic()
    if scheduler is None:
        results = []
        for chunk in plan.chunks:
            result = render_chunk(plan.settings, chunk, show_progress=show_progress)
            results.append(result)
    else:
        from remaster_core.render.dask_cluster import run_on_dask

        results = run_on_dask(
            plan.settings,
            plan.chunks,
            scheduler=scheduler,
            resources=resources,
            retries=retries,
            connect_timeout=connect_timeout,
            show_progress=show_progress,
        )
    results.sort(key=lambda r: r.chunk.first)
    providers = list(dict.fromkeys(p for r in results for p in r.providers[:1]))
    job = JobResult(results, job_exit_code(results), time.monotonic() - started, scheduler, providers)
    for summary in (job.guard_summary(), job.grain_summary()):
        if summary is not None:
            log.warning("%s", summary)
    return job
