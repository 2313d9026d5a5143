"""Validation: the scored weights (the EMA's) on the held-out crops, the best checkpoint, previews.

Rank 0 validates every ``validation.every`` steps and at the end. The score is the mean masked PSNR
(dB, peak 1.0) over the validation crops; the input's own PSNR is logged beside it, and a new best
writes ``best.safetensors`` (``TrainState.save_best``).

**Margins over the simple baselines.** The crops are of whole held-out shots (``training.data``). For
each held-out shot the scored weights are compared with the two baselines G must never fall below: the
bilinear input itself, and the quadratic least-squares colour fit of the *training* pairs
(``remaster_core.grade_fit``, the baseline of the demo and of ``bench/generalise.py``), both scored once
at the start (``held_out_baselines``). Each validation logs the margins (the smallest over the held-out
shots); the best checkpoint stores them per shot (``held_out_record``) and export copies them into the
model's metadata. With one aligned shot the crops are frames of the training shot: the record says so
(``whole_shots: false``) and the margins measure nothing about other shots.
"""

from __future__ import annotations

import logging
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from remaster_core.errors import InputError
from remaster_core.grade import PixelSample
from remaster_core.grade_fit import fit_colour_pixels
from training.data import ValidationSample
from training.logs import RunLog
from training.state import TrainState

log = logging.getLogger("remaster.train")


def masked_psnr(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float | None:
    """PSNR (dB, peak 1.0) over the valid pixels of (1, 3, H, W) images; None if none is valid."""
    weight = mask.sum() * output.shape[1]
    if float(weight) <= 0:
        return None
    mse = float(((output - target) ** 2 * mask).sum() / weight)
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


@dataclass(frozen=True)
class HeldOutBaselines:
    """The baselines' PSNR (dB) on each validation crop, in ``samples`` order (None: no valid pixel).

    Attributes:
        shots: each crop's shot. bilinear: the input's PSNR. colour_fit: the colour fit's (None for
            every crop when there was nothing to fit). whole_shots: whole shots are held out.
    """

    shots: tuple[int, ...]
    bilinear: tuple[float | None, ...]
    colour_fit: tuple[float | None, ...]
    whole_shots: bool


def held_out_baselines(
    samples: list[ValidationSample], sample: PixelSample | None, *, whole_shots: bool
) -> HeldOutBaselines:
    """Score the bilinear input and the quadratic colour fit of the training pixels ``sample`` on the
    validation crops."""
    fit = None
    if sample is not None:
        try:
            fit = fit_colour_pixels(sample.input, sample.target, frames=sample.frames)
        except InputError:
            fit = None
    bilinear, colour = [], []
    for s in samples:
        bilinear.append(masked_psnr(s.input, s.target, s.mask))
        if fit is None:
            colour.append(None)
            continue
        rgb = s.input[0].numpy().transpose(1, 2, 0)
        fitted = torch.from_numpy(np.ascontiguousarray(fit.apply(rgb).transpose(2, 0, 1)))[None]
        colour.append(masked_psnr(fitted, s.target, s.mask))
    return HeldOutBaselines(tuple(s.shot for s in samples), tuple(bilinear), tuple(colour), whole_shots)


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def held_out_record(scores: list[float | None], baselines: HeldOutBaselines) -> dict[str, Any]:
    """Per held-out shot: mean PSNR of ``scores`` (the model, per crop), of the colour fit and of the
    bilinear input, and the smallest margins over the shots (dB; None where not measured)."""
    rows = []
    for shot in sorted(set(baselines.shots)):
        pick = [i for i, s in enumerate(baselines.shots) if s == shot]
        ours = _mean([scores[i] for i in pick])
        fit = _mean([baselines.colour_fit[i] for i in pick])
        bilinear = _mean([baselines.bilinear[i] for i in pick])
        rows.append(
            {"shot": shot, "frames": len(pick), "ours": ours, "colour_fit": fit, "bilinear": bilinear}
        )

    def margin(key: str) -> float | None:
        found = [r["ours"] - r[key] for r in rows if r["ours"] is not None and r[key] is not None]
        return round(float(min(found)), 4) if found else None

    for row in rows:
        for key in ("ours", "colour_fit", "bilinear"):
            row[key] = None if row[key] is None else round(row[key], 4)
    return {
        "whole_shots": baselines.whole_shots,
        "shots": rows,
        "margin_colour_fit": margin("colour_fit"),
        "margin_bilinear": margin("bilinear"),
    }


def _panel(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy().transpose(1, 2, 0)


def validate(
    state: TrainState,
    samples: list[ValidationSample],
    runlog: RunLog,
    best_file: Path,
    autocast: AbstractContextManager[Any],
    baselines: HeldOutBaselines | None = None,
) -> float | None:
    """Score ``state.scored`` on ``samples``; log, write previews, and on a new best update the state's
    best and write ``best_file`` (with the held-out margins when ``baselines`` are given). Returns the
    PSNR, or None when no crop has a valid pixel."""
    scores, baseline = [], []
    per_sample: list[float | None] = []
    with torch.no_grad(), autocast:
        for i, sample in enumerate(samples):
            x, y, m = (t.to(state.device) for t in (sample.input, sample.target, sample.mask))
            out = state.scored(x).float()
            psnr = masked_psnr(out, y, m)
            per_sample.append(psnr)
            if psnr is not None:
                scores.append(psnr)
                baseline.append(masked_psnr(x, y, m))
            if i < state.cfg.validation.previews:
                runlog.preview(state.step, sample.name, [_panel(x), _panel(out), _panel(y)])
    if not scores:
        log.warning("step %d: no valid pixel in the validation crops; nothing scored", state.step)
        return None
    psnr = float(np.mean(scores))
    state.input_psnr = float(np.mean([b for b in baseline if b is not None]))
    record = held_out_record(per_sample, baselines) if baselines is not None else None
    if state.best_psnr is None or psnr > state.best_psnr:
        state.best_psnr, state.best_step = psnr, state.step
        state.save_best(best_file, psnr, held_out=record)
    values = {"psnr": psnr, "psnr_min": float(np.min(scores)), "input_psnr": state.input_psnr,
              "best_psnr": state.best_psnr, "frames": len(scores)}  # fmt: skip
    margins = ""
    if record is not None:
        for key in ("margin_colour_fit", "margin_bilinear"):
            if record[key] is not None:
                values[key] = record[key]
        margins = (
            f", margin over the colour fit {_signed(record['margin_colour_fit'])} dB, over bilinear "
            f"{_signed(record['margin_bilinear'])} dB"
        )
    runlog.write("val", state.step, values)
    log.info(
        "step %d: validation PSNR %.2f dB (input %.2f dB, best %.2f dB at step %d%s)",
        state.step, psnr, state.input_psnr, state.best_psnr, state.best_step, margins,
    )  # fmt: skip
    return psnr


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"
