"""The training loop: data -> step -> validation -> checkpoint -> log, and the run's set-up around it.

``train(cfg, pairs, run_dir)`` runs one process's part of a run (one process, or one DDP rank under
torchrun: ``training.distributed``). The parts, each in its module:

- ``training.state``: ``TrainState``, the modules, optimisers, step and bookkeeping; the only code that
  writes and reads a step checkpoint;
- ``training.step``: one optimisation step; ``training.stages``: each stage's loss as a value, and
  ``start_gan_stage``; ``training.schedule``: the stage and learning rates of a step;
- ``training.validation``: the scores and ``best.safetensors``; ``training.colour_init``: a new run's
  colour path; ``training.run_dir``: the run folder's layout; ``training.distributed``: DDP;
  ``training.grain``: the film's grain profile; ``training.output_grain``: what of it the best weights
  already reproduce (recorded in ``best.safetensors``, so that export embeds only the deficit).

The run folder::

    RUN/config.toml                        the resolved config (``--resume`` reads it back)
    RUN/checkpoints/step_XXXXXXXX.safetensors   the last ``checkpoint.keep_last`` (resumable)
    RUN/checkpoints/best.safetensors       the best validation PSNR so far: **EMA weights** (export this)
    RUN/metrics.jsonl, RUN/tb/, RUN/previews/   see ``training.logs``
    RUN/grain.json                         the training film's grain profile (``training.grain``)

**Stages** (docs/architecture.md, section 1). Steps ``0 .. gan_start_step - 1``: stage 1, the FFT-L1 loss
(``stages.loss = "l1"``: plain L1, the paper's ablation). From ``gan_start_step`` on: stage 2, G trained
on ``fft_weight * L_fft + adversarial_weight * LSGAN + perceptual_weight * VGG19`` against an SRGAN-like
D trained on the least-squares loss (``training.losses``). D is created at the switch (seeded from the
run's seed) and the VGG19 weights are read then, by ``start_gan_stage``, which the loop calls before the
first stage-2 step (and ``train`` before the loop when it resumes a run past the switch);
``check_runnable`` refuses a run that would reach stage 2 without them, before any step is spent.

**One step** (G then, in stage 2, D; each with fused Adam):
forward (bf16 autocast on CUDA when ``runtime.bf16``; the FFT runs in float32), backward, gradient
clipping by global norm (``optim.grad_clip``), then the update, unless the loss or the gradient norm is
NaN or Inf: such a step is *skipped* (no update of G or D, no EMA update; it still uses its batch and
its step number; a non-finite D loss alone skips only D's update), logged as an ``event``, and
``runtime.max_bad_steps`` such steps in a row stop the run with a ``TrainingError``. Out of memory
stops the run with a ``TrainingError`` naming the knobs to turn.

**Learning rate**: a pure function of the step (``training.schedule.learning_rate``): each stage has its own warm-up
and shape (constant / cosine / step) over its own length, so stage 2 starts again from its peak rate
like the second run of a two-stage recipe; D follows the same shape with ``optim.lr_d``.

**EMA** of G's weights, decay ``min(ema.decay, (1 + n) / (10 + n))`` at the n-th update. Validation
scores the EMA weights, and ``best.safetensors`` holds them as its generator weights (``extra.weights
= "ema"``): they are what export should take. Step checkpoints hold the raw training weights as the
generator (``extra.weights = "raw"``) and the EMA weights as ``extra_tensors`` ``ema.*``, so a resume
continues exactly.

**Exact resume**: a step checkpoint holds G, D, both optimisers' state, the EMA, the torch / numpy /
Python RNG states, the skipped-step streak and the best score so far; the data a step sees is a
function of the seed and the step alone (``training.data``); the learning rate is a function of the step.
So ``--resume`` after a kill continues the same curve: the same per-step losses and the same final
weights as a run that was never stopped (``tests/training/test_trainer.py`` kills one with SIGKILL).

**DDP**: each rank computes its share of the global batch; DDP averages the gradients. The masked
losses are normalised by the valid pixels of the batch they see, so each rank's loss is rescaled by its
share of the global batch's valid pixels (``distributed.batch_share``): the averaged gradient is then exactly the
gradient of the loss over the global batch, and N processes follow one process's curve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from remaster_core.errors import RemasterError
from remaster_core.grain.profile import GrainProfile
from remaster_core.io.atomic import write_text_atomic
from training import distributed
from training.checkpoint import load_checkpoint
from training.colour_init import choose_ridge, finalise_best, init_colour_path, init_grade, training_sample
from training.colour_space import pairs_colour, record_in_checkpoint, write_run_colour
from training.config import TrainConfig, check_runnable, config_to_toml
from training.data import (
    CropDataset,
    PairsIndex,
    StepSampler,
    ValidationSample,
    load_validation,
    make_loader,
    scan_pairs,
)
from training.grain import write_run_profile
from training.logs import METRICS_FILE, RunLog, StepProgress, truncate_metrics
from training.model import count_parameters
from training.output_grain import record_output_grain
from training.run_dir import (
    CONFIG_FILE,
    best_checkpoint,
    best_path,
    cache_dir,
    check_run_dir,
    prune_step_checkpoints,
    step_checkpoints,
    step_path,
)
from training.schedule import stage_name
from training.stages import GanStage, start_gan_stage
from training.state import RunRecord, TrainState
from training.step import StepContext, train_step
from training.validation import HeldOutBaselines, held_out_baselines, validate

__all__ = ["TrainResult", "TrainingError", "best_checkpoint", "step_checkpoints", "train"]

log = logging.getLogger("remaster.train")


class TrainingError(RemasterError):
    """Training cannot go on (losses that stay NaN/Inf, out of memory); the message says what to change."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished ``train`` call did (on rank 0; other ranks get the same step counts)."""

    run_dir: Path
    step: int
    best_psnr: float | None
    best_step: int | None
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    skipped_steps: int


def train(cfg: TrainConfig, pairs: str | Path, run_dir: str | Path, *, resume: bool = False) -> TrainResult:
    """Train (or, with ``resume``, continue) the run in ``run_dir`` on the pairs folder ``pairs``.

    Call it in every process of a torchrun launch, or alone. Returns when ``cfg.steps`` steps are done.

    Raises:
        InputError: a bad pairs folder (``training.data.scan_pairs``), a run folder that already holds
            a run (without ``resume``); ConfigError: settings that cannot run, or that differ from the
            run being resumed; CheckpointError: a corrupt, foreign or pickled checkpoint (named);
            TrainingError: NaN/Inf losses ``runtime.max_bad_steps`` times in a row, or out of memory.
    """
    check_runnable(cfg)
    run_dir, pairs = Path(run_dir), Path(pairs)
    info = distributed.setup(cfg.runtime.device)
    try:
        threads = cfg.runtime.threads or distributed.default_threads(info)
        if info.device.type == "cpu":
            torch.set_num_threads(threads)
        index = scan_pairs(
            pairs,
            val_shots=cfg.data.val_shots,
            val_fraction=cfg.data.val_fraction,
            min_size=cfg.data.crop_size,
        )
        check_run_dir(run_dir, resume)
        state = TrainState.new(cfg, RunRecord.of(cfg, index), info.device)
        checkpoints = step_checkpoints(run_dir) if resume else []
        # the validation crops: rank 0 scores on them; every rank judges the colour fit on them in a new run
        samples = (
            load_validation(index.val, count=cfg.validation.frames, crop=cfg.validation.crop)
            if info.is_main or not checkpoints
            else []
        )
        # the training pairs' pixel sample: the grade path's fit (a new run, every rank) and the colour-fit
        # baseline of the held-out margins (rank 0)
        sample = training_sample(index.train, seed=cfg.seed) if info.is_main or not checkpoints else None
        ridge = (
            choose_ridge(cfg, sample, samples, whole_shots=index.whole_shots_held_out)
            if sample is not None and state.generator.grade is not None
            else 0.0
        )
        if checkpoints:
            state.load(checkpoints[-1])
        else:
            if resume and info.is_main:
                log.warning("%s has no step checkpoint yet: starting the run from step 0", run_dir)
            init_colour_path(state, index.train, samples)
            init_grade(state, sample, ridge)
        baselines = (
            held_out_baselines(samples, sample, whole_shots=index.whole_shots_held_out)
            if info.is_main
            else None
        )
        g_train = distributed.wrap(state.generator, info)
        gan = start_gan_stage(state, cfg, info) if stage_name(state.step, cfg) == "gan" else None
        # Written only now: a resume refused above leaves the run's files as they were, and under DDP
        # every rank has checked the folder (wrap() is collective) before rank 0 writes into it.
        film_grain: GrainProfile | None = None
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(run_dir / CONFIG_FILE, config_to_toml(cfg))
            truncate_metrics(run_dir / METRICS_FILE, state.step)
            # the film's grain, for export and render
            film_grain = write_run_profile(index.train, run_dir)
            write_run_colour(run_dir, pairs_colour(pairs))  # the working colour space, for export
        autocast: AbstractContextManager[Any] = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if info.device.type == "cuda" and cfg.runtime.bf16
            else nullcontext()
        )
        ctx = StepContext(cfg=cfg, info=info, g_train=g_train, autocast=autocast)
        runlog = RunLog(
            run_dir, enabled=info.is_main, tensorboard=cfg.runtime.tensorboard, start_step=state.step
        )
        try:
            _announce(state, index, runlog, info, run_dir, resumed=bool(checkpoints), threads=threads)
            last = checkpoints[-1] if checkpoints else None
            result = _loop(
                state, ctx, gan, index, run_dir, samples if info.is_main else [], runlog, last, baselines
            )
            if info.is_main:
                finalise_best(best_path(run_dir), index, ridge=ridge, seed=cfg.seed)
                record_in_checkpoint(best_path(run_dir), pairs_colour(pairs))
                if film_grain is not None:  # what the best weights already carry of it
                    record_output_grain(best_path(run_dir), index.train, film_grain, info.device)
                _held_out_summary(index, result, best_path(run_dir))
            return result
        finally:
            runlog.close()
    finally:
        distributed.teardown()


def _loop(
    state: TrainState,
    ctx: StepContext,
    gan: GanStage | None,
    index: PairsIndex,
    run_dir: Path,
    samples: list[ValidationSample],
    runlog: RunLog,
    last_checkpoint: Path | None,
    baselines: HeldOutBaselines | None = None,
) -> TrainResult:
    """Steps ``state.step`` to ``cfg.steps``; ``samples``: the validation crops (rank 0; else empty),
    ``baselines``: their baselines' scores (rank 0)."""
    cfg, info = ctx.cfg, ctx.info
    progress = StepProgress(
        total=cfg.steps, start=state.step, every=cfg.runtime.log_every, enabled=info.is_main
    )
    try:
        ready = time.perf_counter()
        for batch in _batches(_loader(cfg, index, run_dir, state.step, info)):
            started = time.perf_counter()
            if gan is None and stage_name(state.step, cfg) == "gan":
                gan = start_gan_stage(state, cfg, info)
            metrics = _step(state, batch, ctx, gan)
            state.step += 1
            _count_skipped(state, metrics, runlog, info)
            metrics.update(seconds=time.perf_counter() - started, data_seconds=started - ready)
            runlog.write("train", state.step, metrics, tensorboard=state.step % cfg.runtime.log_every == 0)
            progress.update(state.step, {k: metrics[k] for k in ("loss", "lr") if metrics.get(k) is not None})
            end = state.step == cfg.steps
            if info.is_main and (state.step % cfg.validation.every == 0 or end):
                validate(state, samples, runlog, best_path(run_dir), ctx.autocast, baselines)
            if info.is_main and (state.step % cfg.checkpoint.every == 0 or end):
                last_checkpoint = step_path(run_dir, state.step)
                state.save(last_checkpoint)
                prune_step_checkpoints(run_dir, cfg.checkpoint.keep_last)
            ready = time.perf_counter()
    finally:
        progress.close()
    best = best_path(run_dir)
    return TrainResult(
        run_dir=run_dir,
        step=state.step,
        best_psnr=state.best_psnr,
        best_step=state.best_step,
        last_checkpoint=last_checkpoint,
        best_checkpoint=best if best.is_file() else None,
        skipped_steps=state.skipped,
    )


def _loader(
    cfg: TrainConfig, index: PairsIndex, run_dir: Path, start: int, info: distributed.DistInfo
) -> Any:
    """The batches of this rank for steps ``start .. cfg.steps - 1`` (see ``training.data``)."""
    dataset = CropDataset(
        index.train, crop=cfg.data.crop_size, seed=cfg.seed, hflip=cfg.data.hflip,
        min_valid=cfg.data.min_valid, cache_dir=cache_dir(cfg, run_dir),
    )  # fmt: skip
    sampler = StepSampler(
        len(dataset), batch_size=cfg.data.batch_size, seed=cfg.seed, start=start, stop=cfg.steps,
        rank=info.rank, world=info.world,
    )  # fmt: skip
    return make_loader(dataset, sampler, workers=cfg.data.workers, pin_memory=info.device.type == "cuda")


def _batches(loader: Any) -> Iterator[dict[str, torch.Tensor]]:
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except RemasterError as exc:
            raise _clean_worker_error(exc) from None
        yield batch


def _step(
    state: TrainState, batch: dict[str, torch.Tensor], ctx: StepContext, gan: GanStage | None
) -> dict[str, Any]:
    """``train_step``, with out of memory turned into a ``TrainingError`` naming the knobs to turn."""
    try:
        return train_step(state, batch, ctx, gan)
    except RuntimeError as exc:
        if _is_oom(exc):
            raise _oom_error(ctx.cfg, ctx.info.device, exc) from None
        raise


def _count_skipped(
    state: TrainState, metrics: dict[str, Any], runlog: RunLog, info: distributed.DistInfo
) -> None:
    """Count a skipped step (no update of G, or of D) in ``state``, and log it; stop the run after
    ``runtime.max_bad_steps`` in a row."""
    if not (metrics["skipped"] or metrics.get("skipped_d", False)):
        state.bad_streak = 0
        return
    state.bad_streak += 1
    state.skipped += 1
    step, cfg = state.step, state.cfg
    if info.is_main:
        log.warning(
            "step %d skipped: non-finite loss or gradient (%s); %d in a row", step,
            {k: v for k, v in metrics.items() if isinstance(v, float)}, state.bad_streak,
        )  # fmt: skip
        runlog.write("event", step, {"event": "skipped", "bad_streak": state.bad_streak}, tensorboard=False)
    if state.bad_streak >= cfg.runtime.max_bad_steps:
        raise TrainingError(
            f"{state.bad_streak} steps in a row had a NaN or Inf loss or gradient (last at step "
            f"{step}); no update was made from them. Check the pairs for NaN/Inf pixels (EXR input), "
            f"or lower the learning rate (--lr, now {cfg.optim.lr}); resume from the last checkpoint "
            "with --resume"
        )


def _held_out_summary(index: PairsIndex, result: TrainResult, best: Path) -> None:
    """The run's last words on generalisation: the best weights' margins over the colour fit and over
    bilinear on the held-out shots, a warning when they are below either, and the loud warning again
    when no whole shot was held out."""
    if not best.is_file():
        return
    record = load_checkpoint(best).extra.get("held_out")
    if not index.whole_shots_held_out:
        log.warning(
            "GENERALISATION IS UNMEASURED: a single aligned shot, validated on its own frames; the model "
            "was never scored on a shot it has not seen"
        )
    if not isinstance(record, dict):
        return
    rows = "; ".join(
        f"shot {r['shot']}: {_db(r['ours'])} (colour fit {_db(r['colour_fit'])}, bilinear {_db(r['bilinear'])})"
        for r in record.get("shots", [])
    )
    fit, bilinear = record.get("margin_colour_fit"), record.get("margin_bilinear")
    log.info(
        "held-out shot(s) %s, best step %s: %s; smallest margin over the colour fit %s dB, over bilinear %s dB",
        list(index.val_shots), result.best_step, rows, _db(fit, signed=True), _db(bilinear, signed=True),
    )  # fmt: skip
    if (fit is not None and fit < 0) or (bilinear is not None and bilinear < 0):
        log.warning(
            "the best weights score below %s on a held-out shot: on shots without film the model may do "
            "worse than that simple baseline; `remaster export` will say so too",
            "bilinear" if bilinear is not None and bilinear < 0 else "the colour fit",
        )


def _db(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.2f}" if signed else f"{value:.2f} dB"


def _announce(
    state: TrainState,
    index: PairsIndex,
    runlog: RunLog,
    info: distributed.DistInfo,
    run_dir: Path,
    *,
    resumed: bool,
    threads: int,
) -> None:
    """The run's first log line and its ``start``/``resume`` event (rank 0)."""
    if not info.is_main:
        return
    cfg = state.cfg
    log.info(
        "%s %s run in %s: %d training frames (shots %s), %d held out (shots %s); G %s, %d parameters; "
        "%d process(es) on %s, %d thread(s) each; batch %d (%d a process) of %d px crops; steps %d -> %d",
        "resuming" if resumed else "starting", cfg.model.preset, run_dir, len(index.train),
        list(index.train_shots), len(index.val), list(index.val_shots), cfg.model.preset,
        count_parameters(state.generator), info.world, info.device, threads, cfg.data.batch_size,
        cfg.data.batch_size // info.world, cfg.data.crop_size, state.step, cfg.steps,
    )  # fmt: skip
    runlog.write(
        "event", state.step, {"event": "resume" if resumed else "start", "config_hash": state.run.config_hash},
        tensorboard=False,
    )  # fmt: skip


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _oom_error(cfg: TrainConfig, device: torch.device, exc: BaseException) -> TrainingError:
    knobs = (
        f"lower --batch-size (now {cfg.data.batch_size}) or --crop-size (now {cfg.data.crop_size}), use "
        f"--preset lite (now {cfg.model.preset}), or spread the batch over more processes (--nproc)"
    )
    if device.type == "cuda":
        knobs += "; keep bf16 autocast on (runtime.bf16 = true)" if not cfg.runtime.bf16 else ""
    return TrainingError(
        f"out of memory on {device} during a training step ({str(exc).splitlines()[0]}); {knobs}"
    )


def _clean_worker_error(exc: RemasterError) -> RemasterError:
    """A loader process's error, as DataLoader re-raises it (its traceback in the message), back to the
    one-line message the user needs."""
    text = str(exc)
    if "Original Traceback" not in text:
        return exc
    last = [line for line in text.splitlines() if line.strip()][-1]
    return type(exc)(last.split(": ", 1)[1] if ": " in last else last)
