"""Validation: the scored weights (the EMA's) on the held-out crops, the best checkpoint, previews.

Rank 0 validates every ``validation.every`` steps and at the end. The score is the mean masked PSNR
(dB, peak 1.0) over the validation crops; the input's own PSNR is logged beside it, and a new best
writes ``best.safetensors`` (``TrainState.save_best``).
"""

from __future__ import annotations

import logging
import math
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch

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


def _panel(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy().transpose(1, 2, 0)


def validate(
    state: TrainState,
    samples: list[ValidationSample],
    runlog: RunLog,
    best_file: Path,
    autocast: AbstractContextManager[Any],
) -> float | None:
    """Score ``state.scored`` on ``samples``; log, write previews, and on a new best update the state's
    best and write ``best_file``. Returns the PSNR, or None when no crop has a valid pixel."""
    scores, baseline = [], []
    with torch.no_grad(), autocast:
        for i, sample in enumerate(samples):
            x, y, m = (t.to(state.device) for t in (sample.input, sample.target, sample.mask))
            out = state.scored(x).float()
            psnr = masked_psnr(out, y, m)
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
    if state.best_psnr is None or psnr > state.best_psnr:
        state.best_psnr, state.best_step = psnr, state.step
        state.save_best(best_file, psnr)
    runlog.write(
        "val",
        state.step,
        {"psnr": psnr, "psnr_min": float(np.min(scores)), "input_psnr": state.input_psnr,
         "best_psnr": state.best_psnr, "frames": len(scores)},
    )  # fmt: skip
    log.info(
        "step %d: validation PSNR %.2f dB (input %.2f dB, best %.2f dB at step %d)",
        state.step, psnr, state.input_psnr, state.best_psnr, state.best_step,
    )  # fmt: skip
    return psnr
