"""``run_demo``: the whole pipeline on a synthetic reel, timed stage by stage, ending in an HTML report.

Stages, in order (each logs its start and its duration; ``remaster_core.progress`` bars run inside):

1. ``synth``: ``remaster_core.synth.reel.build_reel`` -> ``DIR/reel`` (film scan, broadcast, truth);
2. ``conform``: inverse telecine, cuts, film offset -> ``DIR/conform``;
3. ``align``: per-shot alignment -> training pairs ``DIR/pairs``;
4. ``train``: ``training.trainer.train``, the ``lite`` recipe with a step budget per demo preset ->
   ``DIR/run``;
5. ``export``: ``export.export_model`` (best checkpoint, parity-checked) -> ``DIR/model.onnx``;
6. ``render``: ``remaster_core.render`` renders the missing-film shots as the pipeline delivers them
   (the reel's framing from align.json, see ``evaluate``), with the grain off (``grain_amount`` 0: PSNR
   and SSIM score the picture, and synthesised grain, independent of the film's, would only add its
   variance to the error; the film look, grain included, is scored by ``evaluate``'s look table) ->
   ``DIR/render/frame.%06d.exr``;
7. ``evaluate``: the colour baseline's fit, the held-out scores (``evaluate``) and the truth checks of
   the conform and the alignment (``checks``);
8. ``report``: ``DIR/report.html`` and ``DIR/report.json`` (``report``).

The training stage runs torch with **one thread**: measured on the project's 2-core machines, a
``lite`` step of batch 8 at 128 px takes 0.14 s with two threads on idle cores, 0.19-0.2 s with one,
but about 1 s with two threads when another process holds a core (OpenMP threads wait on each other).
One thread keeps the demo's time predictable on a shared machine, and its result reproducible.

torch, onnx and onnxruntime (the ``train`` extra and a runtime) are imported only inside the stages
that need them; ``TorchMissing`` says what to install before any work starts.
"""

from __future__ import annotations

import importlib.util
import logging
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from remaster_core.demo.baselines import ColourFit, fit_colour
from remaster_core.demo.checks import alignment_accuracy, conform_accuracy
from remaster_core.demo.evaluate import ShotEvaluation, check_conform, evaluate_held_out
from remaster_core.errors import ExtraMissing, InputError, RemasterError
from remaster_core.io.outdir import OutputFolder, prepare_output_folder
from remaster_core.manifests.align import read_align
from remaster_core.manifests.conform import read_conform
from remaster_core.synth.presets import PRESETS as SYNTH_PRESETS
from remaster_core.synth.presets import Preset

log = logging.getLogger("remaster.demo")

STAGES = ("synth", "conform", "align", "train", "export", "render", "evaluate", "report")
RENDER_PATTERN = "render/frame.%06d.exr"


@dataclass(frozen=True)
class DemoPreset:
    """A demo size.

    Attributes:
        name: the demo preset's name (``--preset``).
        reel: the synthetic reel it builds: a ``remaster synth`` preset with more, shorter shots (see
            ``DEMO_PRESETS``).
        steps: training steps (``lite`` recipe, batch 8 of 128 px crops).
        time_limit_s: the wall-clock bar of the whole demo on 2 cores, if it has one.
    """

    name: str
    reel: Preset
    steps: int
    time_limit_s: float | None


def _demo_reel(
    base: str, n_shots: int, shot_frames: tuple[int, int], missing_film: tuple[int, ...]
) -> Preset:
    return replace(
        SYNTH_PRESETS[base], name=f"demo-{base}", n_shots=n_shots, shot_frames=shot_frames,
        missing_film=missing_film,
    ).validated()  # fmt: skip


# The demo reels cut the frames of the ``remaster synth`` presets into more, shorter shots: each shot
# films another photograph (its own palette and textures), and the model learns only from the shots it
# trains on. Measured (held-out shot, ``lite``, 400 steps, reel seeds 1-5): with ``tiny``'s 4 shots (2
# to train on, 1 to validate, 1 held out) the trained model scored 0.68 dB below to 0.95 dB above the
# colour-fit baseline; with 7 shots of 4-8 frames (5 to train on, about as many frames) 0.19 to 1.14 dB
# above it (docs/demo.md has the table). A real show trains on many shots.
DEMO_PRESETS: dict[str, DemoPreset] = {
    "tiny": DemoPreset("tiny", _demo_reel("tiny", 7, (4, 8), (3,)), steps=400, time_limit_s=180.0),
    "small": DemoPreset("small", _demo_reel("small", 8, (8, 14), (3,)), steps=1200, time_limit_s=None),
}


class TorchMissing(ExtraMissing):
    """The demo trains and runs a model: torch (the ``train`` extra) or onnxruntime is not installed."""


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes, under the demo folder ``out``."""

    out: Path

    @property
    def reel(self) -> Path:
        return self.out / "reel"

    @property
    def conform(self) -> Path:
        return self.out / "conform"

    @property
    def pairs(self) -> Path:
        return self.out / "pairs"

    @property
    def run(self) -> Path:
        return self.out / "run"

    @property
    def model(self) -> Path:
        return self.out / "model.onnx"

    @property
    def render(self) -> str:
        """The render's output pattern."""
        return str(self.out / RENDER_PATTERN)


@dataclass(frozen=True)
class TrainingOutcome:
    """What the training stage did, and the trainer's split of the pairs (``train_pairs``: the
    (input, target, mask) files it trained on, which the colour baseline is fitted on too)."""

    preset: str
    steps: int
    skipped_steps: int
    threads: int
    crop_size: int
    batch_size: int
    lr: float
    loss: str
    train_shots: list[int]
    val_shots: list[int]
    val_frames: int
    train_pairs: list[tuple[Path, Path, Path]]


@dataclass(frozen=True)
class Evaluation:
    """The evaluate stage's results.

    Attributes:
        colour: the fitted colour baseline; held_out: the scores of every missing-film shot.
        conform_psnr: each conformed frame against the reel's 24p frame (``checks``).
        align_error: conform shot -> the fitted model's error against the true framing (film px).
        shot_map: truth shot -> conform shot (``evaluate.check_conform``).
    """

    colour: ColourFit
    held_out: list[ShotEvaluation]
    conform_psnr: list[float]
    align_error: dict[int, float]
    shot_map: dict[int, int | None]


@dataclass(frozen=True)
class DemoResults:
    """Everything the stages produced that the report shows."""

    paths: DemoPaths
    preset: DemoPreset
    seed: int
    truth: dict[str, Any]
    training: TrainingOutcome
    export: dict[str, Any]
    render: dict[str, Any]
    evaluation: Evaluation


@dataclass
class StageTiming:
    """One stage's duration: wall-clock seconds and CPU seconds (this process and its children)."""

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class StageClock:
    """The clock of one running stage; ``stop`` appends its timing (once) to ``timings``."""

    def __init__(self, timings: list[StageTiming], name: str) -> None:
        self.timings, self.name = timings, name
        self.number = STAGES.index(name) + 1
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()
        self.timing: StageTiming | None = None

    def stop(self) -> StageTiming:
        """Record and log the stage's timing so far (later calls return the first record)."""
        if self.timing is None:
            self.timing = StageTiming(self.name, time.perf_counter() - self.wall, _cpu_seconds() - self.cpu)
            self.timings.append(self.timing)
            log.info(
                "demo [%d/%d] %s done in %.1f s (%.1f CPU s)", self.number, len(STAGES), self.name,
                self.timing.seconds, self.timing.cpu_seconds,
            )  # fmt: skip
        return self.timing


@contextmanager
def stage(timings: list[StageTiming], name: str) -> Iterator[StageClock]:
    """Time the stage ``name``: logged at its start and end, appended to ``timings`` when it ends (or
    earlier, when the stage calls ``stop`` itself: the report stops its clock before it writes the
    numbers, so that its own time is among them)."""
    log.info("demo [%d/%d] %s ...", STAGES.index(name) + 1, len(STAGES), name)
    clock = StageClock(timings, name)
    yield clock
    clock.stop()


def check_extras() -> None:
    """Raise ``TorchMissing`` unless torch and onnx can be imported (checked without importing them)."""
    missing = [m for m in ("torch", "onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise TorchMissing(
            f"remaster demo trains and exports a model, and {', '.join(missing)} is not installed: install "
            "the train extra and a runtime (pip install 'remaster[train,cpu]', or scripts/install.sh)"
        )


def prepare_out(out: Path, force: bool) -> OutputFolder:
    """Create ``out``; with ``force`` remove what an earlier demo wrote there (only its own files, as its
    ``.remaster-output.json`` lists them). Write into it inside ``with prepare_out(...)``.

    Raises:
        InputError: ``out`` is a file, or a non-empty folder without ``force``.
    """
    return prepare_output_folder(out, verb="demo", force=force, what="demo")


def held_out_frames(truth: dict[str, Any]) -> list[int]:
    """Conformed frame indices of the reel's missing-film shots (24p order, as conform numbers them)."""
    return [
        int(s["first_24p"]) + k
        for s in truth["shots"]
        if s["missing_film"]
        for k in range(int(s["n_frames"]))
    ]


def train_config_overrides(steps: int, seed: int) -> dict[str, Any]:
    """The demo's changes to the ``lite`` recipe: the step budget, the seed, and how it runs (one
    thread, no loader processes, no TensorBoard, ten validations, one checkpoint at the end)."""
    return {
        "model.preset": "lite",
        "steps": steps,
        "seed": seed,
        "runtime.device": "cpu",
        "runtime.threads": 1,
        "runtime.tensorboard": False,
        "data.workers": 0,
        "validation.every": max(1, steps // 10),
        "checkpoint.every": steps,
        "checkpoint.keep_last": 1,
    }


def _synth(paths: DemoPaths, preset: DemoPreset, seed: int) -> dict[str, Any]:
    from remaster_core.synth.reel import build_reel

    return build_reel(paths.reel, preset.reel, seed=seed, force=True)


def _conform(paths: DemoPaths, truth: dict[str, Any]) -> None:
    from remaster_core.conform import conform

    conform(
        paths.reel / truth["broadcast"]["path"],
        paths.conform,
        film=str(paths.reel / truth["film"]["pattern"]),
    )


def _align(paths: DemoPaths) -> None:
    from remaster_core.align import align

    result = align(paths.conform, paths.pairs, force=True)
    if not result.document["summary"]["aligned"]:
        raise InputError(f"{paths.pairs}: no shot could be aligned, nothing to train on; see {result.report}")


def _train(paths: DemoPaths, steps: int, seed: int) -> TrainingOutcome:
    from training.config import resolve_config
    from training.data import scan_pairs
    from training.trainer import train

    cfg = resolve_config(None, train_config_overrides(steps, seed), overrides_source="remaster demo")
    result = train(cfg, paths.pairs, paths.run)
    # the trainer's own split of the pairs (the colour baseline is fitted on the same training frames)
    index = scan_pairs(
        paths.pairs,
        val_shots=cfg.data.val_shots,
        val_fraction=cfg.data.val_fraction,
        min_size=cfg.data.crop_size,
    )
    return TrainingOutcome(
        preset=cfg.model.preset,
        steps=result.step,
        skipped_steps=result.skipped_steps,
        threads=cfg.runtime.threads,
        crop_size=cfg.data.crop_size,
        batch_size=cfg.data.batch_size,
        lr=cfg.optim.lr,
        loss=cfg.stages.loss,
        train_shots=list(index.train_shots),
        val_shots=list(index.val_shots),
        val_frames=len(index.val),
        train_pairs=[(f.input, f.target, f.mask) for f in index.train],
    )


def _export(paths: DemoPaths, preset: DemoPreset) -> dict[str, Any]:
    from export import export_model

    result = export_model(paths.run, paths.model, name=f"demo-{preset.name}")
    return {"sha256": result.sha256, "checkpoint": str(result.source.path)}


def _render(paths: DemoPaths, truth: dict[str, Any]) -> dict[str, Any]:
    from remaster_core.node import NodeParams
    from remaster_core.render import output_spec, plan_job, run_job

    plan = plan_job(
        str(paths.conform), output_spec(paths.render), NodeParams(model=paths.model, grain_amount=0.0),
        frames=held_out_frames(truth), align=paths.pairs / "align.json", force=True,
    )  # fmt: skip
    result = run_job(plan)
    if result.exit_code != 0:
        raise RemasterError(f"render of the held-out frames failed: {result.errors or result.failed}")
    return {"frames": len(result.rendered), "providers": result.providers}


def _evaluate(paths: DemoPaths, truth: dict[str, Any], training: TrainingOutcome) -> Evaluation:
    colour = fit_colour(training.train_pairs)
    held_out = evaluate_held_out(
        paths.reel, paths.conform, paths.pairs / "align.json", paths.model, paths.render, colour
    )
    shot_map = check_conform(truth, read_conform(paths.conform))
    return Evaluation(
        colour=colour,
        held_out=held_out,
        conform_psnr=conform_accuracy(paths.reel, paths.conform),
        align_error=alignment_accuracy(truth, read_align(paths.pairs / "align.json"), shot_map),
        shot_map=shot_map,
    )


def run_demo(
    out: str | Path, preset: str = "tiny", *, seed: int = 1, steps: int | None = None, force: bool = False
) -> dict[str, Any]:
    """Run the whole demo into ``out`` and return the report document (what ``out/report.json`` holds).

    Args:
        out: the demo folder (new or empty, or replaced with ``force``).
        preset: ``tiny`` (tests, 3-6 minutes on 2 cores) or ``small`` (a few minutes).
        seed: seeds the reel and the training run.
        steps: training steps (default: the preset's budget, ``DEMO_PRESETS``).
        force: replace an earlier demo in ``out``.

    Raises:
        TorchMissing: no torch / onnx / onnxruntime; InputError: a bad folder or preset, or a stage that
            finds its input unusable (the message names it); other ``RemasterError``s of the stages.
    """
    from remaster_core.demo.report import write_report

    if preset not in DEMO_PRESETS:
        raise InputError(f"unknown demo preset {preset!r}; choose one of {', '.join(DEMO_PRESETS)}")
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    check_extras()
    paths = DemoPaths(Path(out))
    with prepare_out(paths.out, force):
        chosen = DEMO_PRESETS[preset]
        timings: list[StageTiming] = []
        started = time.perf_counter()
        with stage(timings, "synth"):
            truth = _synth(paths, chosen, seed)
        with stage(timings, "conform"):
            _conform(paths, truth)
        with stage(timings, "align"):
            _align(paths)
        with stage(timings, "train"):
            training = _train(paths, steps or chosen.steps, seed)
        with stage(timings, "export"):
            exported = _export(paths, chosen)
        with stage(timings, "render"):
            rendered = _render(paths, truth)
        with stage(timings, "evaluate"):
            evaluation = _evaluate(paths, truth, training)
        results = DemoResults(paths, chosen, seed, truth, training, exported, rendered, evaluation)
        with stage(timings, "report") as clock:
            document = write_report(results, timings, started, clock)
    log.info("demo: report %s (numbers in %s)", paths.out / "report.html", paths.out / "report.json")
    return document
