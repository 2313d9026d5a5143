"""Start G's grade path at the closed-form grade of the training pairs (and its colour path, when it has
one, at their least-squares colour fit); give the finished run's best weights the grade of every film
shot and the record of what it was trained on.

**The grade path** (``init_grade``, ``grade_path``): ``remaster_core.grade.fit_grade`` on a pixel sample
of the *training* shots is written into G's and the EMA's fixed ``GradePath`` buffers, so that
validation on the held-out shots measures colours the grade never saw. Its prior's strength is chosen
(``choose_ridge``) on those held-out shots among ``remaster_core.grade.RIDGES``: the grade that carries
best to a shot it was not fitted on. When the run ends
(``finalise_best``) the grade is fitted again on *all* aligned shots (training and held-out: every film
shot the show gave) and recorded, with the training coverage (``remaster_core.guard.Coverage`` of the
same pixels), in ``best.safetensors``' ``extra`` (``GUARD_KEY``); its weights stay those validation
scored. ``deployable_generator`` (export, benchmarks) writes that grade into the grade path: the model
that ships uses every film shot's colours, and the runtime's guard reads the same record from the
model's metadata. The trunk's residual is mean-locked to the grade (``training.model``), so swapping in
the wider grade leaves what it learned in place.

**The quadratic colour path** (older configs, ``colour_path = true``):

G's per-pixel colour path (``training.model``) adds ``W @ [c, c_i * c_j] + b`` to ``x`` with
``c = x - 0.5``: a general quadratic polynomial of the input colour. ``remaster_core.grade_fit`` fits
exactly such a polynomial (10 terms of the *uncentred* ``x``) to the pairs in closed form. Writing that
fit into the colour path before step 0 makes the untrained G equal to the colour-fit baseline (the
trunk's last conv starts at zero), so the optimiser spends its steps on what a per-pixel grade cannot do
(blur, chroma loss, noise) instead of first re-learning the grade through gradient descent.

Why (measured with the demo's evaluation, docs/demo.md): from a zero colour path, 400 ``lite`` steps
leave G's grade short of the closed-form one, and on a held-out shot G then scored below the colour-fit
baseline it contains (4-shot tiny reel, seed 1: 27.62 dB against 29.41; started from the fit: 29.12).

A new run uses the fit only where it beats no correction on the validation crops
(``init_colour_path``): a quadratic fitted to a narrow palette can extrapolate worse than nothing.

The conversion is exact algebra (``colour_path_parameters``): for output channel k,
``y_k = C0 + sum_i C_i x_i + sum_{i<=j} Q_ij x_i x_j`` and ``x = c + 0.5`` give the centred
coefficients, minus the identity (G adds ``x`` itself).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from remaster_core.errors import InputError
from remaster_core.grade import (
    DEFAULT_RIDGE,
    RIDGE_EVIDENCE_DB,
    RIDGES,
    Grade,
    PixelSample,
    fit_grade,
    sample_pairs,
)
from remaster_core.grade_fit import TERMS, ColourFit, fit_colour
from remaster_core.guard import Guard, coverage_of
from training.checkpoint import add_to_extra, load_checkpoint
from training.config import TrainConfig
from training.data import PairFrame, PairsIndex, ValidationSample
from training.model import Generator, build_generator
from training.state import TrainState
from training.validation import masked_psnr

log = logging.getLogger("remaster.train")

# index of each product term in ``TERMS`` (after 1, r, g, b): (i, j) with i <= j
_PRODUCTS: dict[tuple[int, int], int] = {
    (0, 0): 4, (1, 1): 5, (2, 2): 6, (0, 1): 7, (0, 2): 8, (1, 2): 9,
}  # fmt: skip


def colour_path_parameters(coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colour path's (weight, bias) that make ``x + colour(x)`` equal the fit.

    Args:
        coefficients: float (10, 3), ``ColourFit.coefficients`` (rows in ``TERMS`` order, columns R, G, B).

    Returns:
        weight float64 (3, 12): columns ``c_0..c_2`` then the products ``c_i * c_j`` in row-major (i, j)
        order, as ``training.model.quadratic_features`` lays them out (a symmetric product's coefficient
        is split equally between ``c_i c_j`` and ``c_j c_i``); bias float64 (3,).
    """
    coef = np.asarray(coefficients, np.float64)
    if coef.shape != (len(TERMS), 3):
        raise ValueError(f"expected colour-fit coefficients of shape ({len(TERMS)}, 3), got {coef.shape}")
    linear = coef[1:4]  # (3 inputs, 3 outputs)
    quad = np.zeros((3, 3, 3))  # symmetric Q[i, j, k]: y_k gets Q[i, j, k] * x_i * x_j summed over all i, j
    for (i, j), row in _PRODUCTS.items():
        if i == j:
            quad[i, i] = coef[row]
        else:
            quad[i, j] = quad[j, i] = coef[row] / 2.0
    # x_i x_j = c_i c_j + (c_i + c_j) / 2 + 1/4, summed over the symmetric Q
    bias = coef[0] + 0.5 * linear.sum(axis=0) + 0.25 * quad.sum(axis=(0, 1)) - 0.5
    lin_c = linear + quad.sum(axis=1) - np.eye(3)  # (input m, output k): d/dc_m, minus G's own + x
    weight = np.zeros((3, 12))
    weight[:, :3] = lin_c.T
    weight[:, 3:] = quad.reshape(9, 3).T
    return weight, bias


def set_colour_path(generators: Sequence[Generator], fit: ColourFit) -> None:
    """Write ``fit`` into the colour path of every module in ``generators`` (G and its EMA copy).

    Raises:
        ValueError: a generator built without the colour path.
    """
    weight, bias = colour_path_parameters(fit.coefficients)
    for g in generators:
        if g.colour is None or g.colour.bias is None:
            raise ValueError("this generator has no colour path (model.colour_path = false)")
        with torch.no_grad():
            g.colour.weight.copy_(torch.from_numpy(weight).to(g.colour.weight)[:, :, None, None])
            g.colour.bias.copy_(torch.from_numpy(bias).to(g.colour.bias))


def apply_fit_nchw(fit: ColourFit, x: torch.Tensor) -> np.ndarray:
    """``fit`` applied to a (1, 3, H, W) float tensor (CPU): float32 numpy (1, 3, H, W), not clipped."""
    rgb = x[0].detach().cpu().numpy().transpose(1, 2, 0)
    return np.ascontiguousarray(fit.apply(rgb).transpose(2, 0, 1))[None]


def fit_training_colour(frames: Sequence[tuple[Path, Path, Path]], *, max_frames: int = 200) -> ColourFit:
    """The closed-form colour fit of the training pairs ((input, target, mask) files), logged."""
    fit = fit_colour(frames, max_frames=max_frames)
    log.info(
        "colour fit of the training pairs: least squares on %d frame(s), %d pixels, RMS residual %.4f",
        fit.frames, fit.pixels, fit.rms_fit,
    )  # fmt: skip
    return fit


def init_colour_path(
    state: TrainState, frames: Sequence[PairFrame], samples: Sequence[ValidationSample]
) -> None:
    """Start a new run's G (and its EMA) at the training pairs' colour fit when ``model.colour_init``
    is ``fit``, unless the fit scores below the identity on the validation crops: a fit to a narrow
    palette can extrapolate worse than no correction on colours it never saw, and the validation shots
    are there to tell. Every rank computes the same fit and the same scores from the same files, so the
    replicas agree.

    Args:
        state: the run at step 0.
        frames: the training pairs (``PairsIndex.train``).
        samples: the run's validation crops (``load_validation``), read on every rank for this.
    """
    if state.cfg.model.colour_init != "fit":
        return
    if state.generator.colour is None:
        if state.generator.grade is None:
            log.info("model.colour_init = fit ignored: this generator has no colour or grade path")
        return
    try:
        fit = fit_training_colour([(f.input, f.target, f.mask) for f in frames])
    except InputError as exc:  # no finite valid pixel: the steps will say more (NaN/Inf input)
        log.warning("no colour fit (%s): the colour path starts at zero", exc)
        return
    if not np.isfinite(fit.coefficients).all():
        log.warning("the colour fit of the training pairs is not finite: the colour path starts at zero")
        return
    scored = [
        (masked_psnr(torch.from_numpy(apply_fit_nchw(fit, s.input)), s.target, s.mask),
         masked_psnr(s.input, s.target, s.mask))
        for s in samples
    ]  # fmt: skip
    pairs = [(a, b) for a, b in scored if a is not None and b is not None]
    if pairs:
        fit_psnr, identity_psnr = (float(np.mean(v)) for v in zip(*pairs, strict=True))
        if fit_psnr <= identity_psnr:
            log.warning(
                "the colour fit of the training pairs scores %.2f dB on the validation crops, below "
                "no correction (%.2f dB): the training shots' colours do not cover the validation "
                "shots'; the colour path starts at zero (model.colour_init = zero does so always)",
                fit_psnr, identity_psnr,
            )  # fmt: skip
            return
        log.info(
            "the colour path starts at the colour fit: %.2f dB on the validation crops (no correction "
            "%.2f dB)", fit_psnr, identity_psnr,
        )  # fmt: skip
    set_colour_path([g for g in (state.generator, state.ema) if g is not None], fit)


GUARD_KEY = "guard"  # best.safetensors' extra: ``Guard.to_dict()`` (the all-shots grade and the coverage)


def pixel_sample(frames: Sequence[PairFrame], *, seed: int = 0) -> PixelSample:
    """A bounded random sample of the valid, finite pixels of ``frames`` (``sample_pairs``)."""
    return sample_pairs([(f.input, f.target, f.mask) for f in frames], seed=seed)


def training_sample(frames: Sequence[PairFrame], *, seed: int) -> PixelSample | None:
    """``pixel_sample`` of the training pairs, or None (logged) when they hold no valid finite pixel."""
    try:
        return pixel_sample(frames, seed=seed)
    except InputError as exc:
        log.warning("no pixel sample of the training pairs (%s): no grade fit, no colour-fit baseline", exc)
        return None


def set_grade(generators: Sequence[Generator], grade: Grade) -> None:
    """Write ``grade`` into the grade path of every module in ``generators`` (G and its EMA copy)."""
    for g in generators:
        if g.grade is None:
            raise ValueError("this generator has no grade path (model.grade_path = false)")
        g.grade.set_grade(grade)


def _score(grade: Grade, samples: Sequence[ValidationSample]) -> float | None:
    """Mean masked PSNR of ``grade`` on the validation crops (None: no valid pixel)."""
    scores = []
    for s in samples:
        rgb = s.input[0].numpy().transpose(1, 2, 0)
        out = torch.from_numpy(np.ascontiguousarray(grade.apply(rgb).transpose(2, 0, 1)))[None]
        psnr = masked_psnr(out, s.target, s.mask)
        if psnr is not None:
            scores.append(psnr)
    return float(np.mean(scores)) if scores else None


def choose_ridge(
    cfg: TrainConfig, sample: PixelSample, samples: Sequence[ValidationSample], *, whole_shots: bool
) -> float:
    """The grade's prior strength: ``model.grade_ridge`` when set; else, with whole shots held out, 0 (the
    plain colour fit, the baseline G must beat) unless another of ``RIDGES`` scores at least
    ``RIDGE_EVIDENCE_DB`` better on the held-out shots' crops (the colour fit of a palette far from the
    held-out shot's: docs/training.md, "The grade"); with no whole shot held out (frames of a training
    shot cannot tell a palette fit from a grade), ``DEFAULT_RIDGE``. Deterministic, so a resumed run
    chooses again the same."""
    if cfg.model.grade_ridge is not None:
        return float(cfg.model.grade_ridge)
    if not whole_shots or not samples:
        return DEFAULT_RIDGE
    scored = [(_score(fit_grade(sample, ridge=r), samples), r) for r in RIDGES]
    valid = [(p, r) for p, r in scored if p is not None]
    if not valid:
        return DEFAULT_RIDGE
    plain = next((p for p, r in valid if r == 0.0), None)
    top, best = max(valid)
    if plain is not None and top < plain + RIDGE_EVIDENCE_DB:
        best = 0.0
    log.info(
        "grade prior chosen on the held-out shots: %s (dB of each: %s)",
        best, ", ".join(f"{r:g}: {p:.2f}" for p, r in valid),
    )  # fmt: skip
    return best


def init_grade(state: TrainState, sample: PixelSample | None, ridge: float) -> Grade | None:
    """Write the closed-form grade (prior ``ridge``) of the training pairs' pixel ``sample`` into a new
    run's grade path (when ``model.colour_init`` is ``fit`` and G has one). Returns the grade, or None
    when none was written (the path then stays the identity)."""
    if state.generator.grade is None or state.cfg.model.colour_init != "fit" or sample is None:
        return None
    grade = fit_grade(sample, ridge=ridge)
    set_grade([g for g in (state.generator, state.ema) if g is not None], grade)
    log.info(
        "grade path: closed-form fit of the training shots (%d pixels of %d frames, prior %g), RMS "
        "residual %.4f", grade.pixels, sample.frames, ridge, grade.rms_fit,
    )  # fmt: skip
    return grade


def finalise_best(best: Path, index: PairsIndex, *, ridge: float, seed: int) -> Guard | None:
    """Record in ``best.safetensors`` the grade (prior ``ridge``) of every aligned shot and the run's
    training coverage (see the module docstring; the weights are unchanged). Returns the guard
    written, or None (no best file, no grade path, no pixel)."""
    if not best.is_file():
        return None
    ckpt = load_checkpoint(best)
    if not ckpt.generator_config.grade_path:
        return None
    try:
        sample = pixel_sample(list(index.train) + list(index.val), seed=seed)
    except InputError as exc:
        log.warning("no grade of all the film shots (%s): best.safetensors records no guard", exc)
        return None
    guard = Guard(fit_grade(sample, ridge=ridge), coverage_of(sample), index.whole_shots_held_out)
    add_to_extra(best, {GUARD_KEY: guard.to_dict()}, ckpt)
    if not guard.grade_fallback:
        log.warning(
            "a single film shot: its grade was never scored on another shot, so the render's guard falls "
            "back to the plain input (bilinear), not to the grade, where colours leave the training coverage"
        )
    log.info(
        "best.safetensors: grade of every aligned shot (%d pixels, RMS residual %.4f); training coverage "
        "%.1f%% of the colour histogram, targets %s..%s",
        guard.grade.pixels, guard.grade.rms_fit, 100 * guard.coverage.occupancy,
        np.round(guard.coverage.target_lo, 3).tolist(), np.round(guard.coverage.target_hi, 3).tolist(),
    )  # fmt: skip
    return guard


def checkpoint_guard(extra: dict[str, object], where: str) -> Guard | None:
    """The ``GUARD_KEY`` record of a checkpoint's ``extra`` (None when it has none).

    Raises:
        InputError: a record that is not a guard (naming ``where``).
    """
    value = extra.get(GUARD_KEY)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{where}: extra '{GUARD_KEY}' is not an object")
    return Guard.from_dict(value, f"{where} extra '{GUARD_KEY}'")


def deployable_generator(path: Path) -> tuple[Generator, Guard | None]:
    """G of the checkpoint ``path`` as it ships: its weights, with the all-shots grade of its
    ``GUARD_KEY`` record (when it has one) in the grade path; in eval mode. Returns (G, the guard)."""
    ckpt = load_checkpoint(path)
    generator = build_generator(ckpt.generator_config)
    generator.load_state_dict(ckpt.generator)
    guard = checkpoint_guard(ckpt.extra, str(path))
    if guard is not None and generator.grade is not None:
        set_grade([generator], guard.grade)
    return generator.eval(), guard
