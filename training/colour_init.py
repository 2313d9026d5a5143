"""Start G's colour path at the least-squares colour fit of the training pairs.

G's per-pixel colour path (``training.model``) adds ``W @ [c, c_i * c_j] + b`` to ``x`` with
``c = x - 0.5``: a general quadratic polynomial of the input colour. ``remaster_core.grade_fit`` fits
exactly such a polynomial (10 terms of the *uncentred* ``x``) to the pairs in closed form. Writing that
fit into the colour path before step 0 makes the untrained G equal to the colour-fit baseline (the
trunk's last conv starts at zero), so the optimiser spends its steps on what a per-pixel grade cannot do
(blur, chroma loss, noise) instead of first re-learning the grade through gradient descent.

Why (measured with the demo's evaluation, docs/demo.md): from a zero colour path, 400 ``lite`` steps
leave G's grade short of the closed-form one, and on a held-out shot G then scored below the colour-fit
baseline it contains (4-shot tiny reel, seed 1: 27.62 dB against 29.41; started from the fit: 29.12).

The trainer uses the fit only where it beats no correction on the validation crops
(``training.trainer``): a quadratic fitted to a narrow palette can extrapolate worse than nothing.

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

from remaster_core.grade_fit import TERMS, ColourFit, fit_colour
from training.model import Generator

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
