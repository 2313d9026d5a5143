"""Losses of both training stages (docs/architecture.md, section 1), all honouring the alignment masks.

Tensors are (N, 3, H, W) float RGB 0..1 (generator output, film target); a mask is (N, 1, H, W) or
(N, H, W), float in 0..1 or bool, 1 where the aligned pair is valid. Every loss returns a 0-d tensor.

Stage 1:  ``fft_l1_loss(G(x), target)``                       (``l1_loss`` for the paper's ablation)
Stage 2:  L_g = fft + 3.0 * lsgan_generator_loss(D(G(x))) + 0.5 * perceptual_loss(vgg, G(x), target)
          L_d = lsgan_discriminator_loss(D(G(x)), D(target))             (weights: ``PAPER_WEIGHTS``)

**FFT-L1: what is compared.** The real and imaginary parts of the 2-D DFT of the difference
``d = G(x) - target`` (the DFT is linear, so this is l1(FFT(G(x)), FFT(target)) exactly), not magnitude
and phase: (1) it is a norm of ``d`` in an orthonormal basis, so the loss is convex in the output and zero
only when the images are equal; magnitude+phase is neither (phase wraps at +-pi, is undefined where the
magnitude is zero, and the magnitude alone ignores where things are); (2) its gradient is bounded and
defined everywhere except on a measure-zero set, like L1. The price is a mild anisotropy: an error of
amplitude ``a`` in one coefficient costs ``a * (|cos phi| + |sin phi|)``, between 1 and sqrt(2) times ``a``
depending on its phase.

**FFT-L1: normalisation, decided by measurement.** ``rfft2(d, norm="ortho")`` per channel; the
half-spectrum is weighted so that it counts exactly the full spectrum of a real image; the sum of
``|Re| + |Im|`` is divided by the number of coefficients (H * W), the channels and the valid fraction.
So white noise of std sigma costs 2 / sqrt(pi) * sigma ~ 1.13 sigma (L1: 0.80 sigma): for the dense,
high-frequency errors that remain late in training (grain, detail) the loss has L1's scale, which keeps
the paper's stage-2 weights (3.0, 0.5) meaningful. A spectrally *concentrated* error costs sqrt(H * W)
times less than under L1: a uniform offset delta costs delta / sqrt(H * W), a sinusoid of amplitude a
costs a * (|cos| + |sin|) / sqrt(H * W). That is the loss's point, not a flaw: a low-frequency error
stands alone in its coefficient above the grain, so its gradient sign is right as soon as
sqrt(H * W) * delta exceeds the grain there, while L1's per-pixel signs are decided by the grain and
its pull on a small offset shrinks like delta / sigma (``test_losses`` shows both). Adam divides each
parameter's gradient by its own scale, so a global factor on the loss changes nothing in stage 1;
only *relative* weights across frequencies do.

We measured the alternative the ANCHORS note suggests (weight the DC coefficient by sqrt(H * W) so that a
uniform offset costs what L1 charges) against this one, on synthetic pairs (skimage photographs;
broadcast = colour matrix + gamma + lift, blur, chroma blur, low-frequency noise; film = photograph +
grain), ``lite`` without the colour path, Adam, batch 8 of 96 px crops, PSNR against the grain-free film
on held-out photographs (input 19.5 dB, quadratic colour fit 22.6 dB)::

    300 steps, lr 2e-4:  L1 22.4   this FFT-L1 23.3   DC-weighted 22.2   1/frequency-weighted 22.7
    400 steps, lr 1e-3:  L1 22.6   this FFT-L1 23.6   DC-weighted 22.2   image-pyramid FFT-L1 23.1
    strong grade (input 15.3, colour fit 20.4), 300 steps, lr 2e-4:  L1 21.6  this 22.9  DC-weighted 21.2

Up-weighting the low frequencies made the loss chase each crop's mean colour, which the input's
low-frequency noise makes unreliable, and lost about 1 dB; the plain ortho mean beat L1 and the colour
fit in every case. The slow grade learning of a deep trunk (see ``training.model``) is answered in the architecture
(``training.model``: the colour path) rather than by bending this loss.

**Masks.** ``d`` is multiplied by the mask before the transform (equivalently: invalid output pixels
are filled with the target), so invalid pixels never reach the loss or the gradient, and the loss is
zero iff the output equals the target on every valid pixel. The total is divided by the batch's summed
valid fraction, so a valid pixel weighs the same in a half-masked crop as in a full one (the same
pooling as the masked L1). A batch with no valid pixel gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from training.vgg import VGG19Features


@dataclass(frozen=True)
class LossWeights:
    """Weights of the stage-2 generator objective L_g = fft * L_fft + adversarial * L_adv + perceptual *
    L_vgg. ``PAPER_WEIGHTS`` holds the paper's values."""

    fft: float = 1.0
    adversarial: float = 3.0
    perceptual: float = 0.5


PAPER_WEIGHTS = LossWeights()

_EMPTY_CLAMP = 1e-12


def _check_pair(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.dim() != 4 or output.shape != target.shape:
        raise ValueError(
            f"losses need output and target of one shape (N, C, H, W); got {tuple(output.shape)} "
            f"and {tuple(target.shape)}"
        )


def _as_mask(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """Mask as (N, 1, H, W) in ``like``'s dtype and device; None stays None."""
    if mask is None:
        return None
    n, _, h, w = like.shape
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4 or mask.shape[0] != n or mask.shape[1] != 1 or mask.shape[-2:] != (h, w):
        raise ValueError(
            f"mask must be (N, 1, H, W) or (N, H, W) matching {tuple(like.shape)}, got {tuple(mask.shape)}"
        )
    return mask.to(dtype=like.dtype, device=like.device)


def _hermitian_column_weights(width: int, like: torch.Tensor) -> torch.Tensor:
    """(W//2+1,) weights making a sum over ``rfft2``'s half spectrum equal the sum over the full one.

    Columns 1 .. ceil(W/2)-1 stand for themselves and their conjugate mirror (weight 2); column 0 and,
    for even W, the Nyquist column W/2 are their own mirrors (weight 1).
    """
    weights = torch.full((width // 2 + 1,), 2.0, dtype=like.dtype, device=like.device)
    weights[0] = 1.0
    if width % 2 == 0:
        weights[-1] = 1.0
    return weights


def fft_l1_loss(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Stage-1 loss: L1 between the real and imaginary parts of the 2-D DFTs of output and target.

    ``sum_k (|Re D_k| + |Im D_k|) / (H * W * C * valid)`` with ``D = fft2(mask * (output - target),
    norm="ortho")`` over the full spectrum of each channel (see the module docstring for why this
    normalisation, and the measurements behind it). Runs the transform in float32 at least.

    Args:
        output, target: (N, C, H, W) float.
        mask: None, or (N, 1, H, W) / (N, H, W) weights in 0..1.
    Returns:
        0-d tensor >= 0; zero iff output == target on every pixel the mask keeps.
    """
    _check_pair(output, target)
    m = _as_mask(mask, output)
    diff = output - target
    if m is not None:
        diff = diff * m
    if diff.dtype in (torch.float16, torch.bfloat16):
        diff = diff.float()
    n, c, h, w = diff.shape
    spectrum = torch.fft.rfft2(diff, norm="ortho")
    per_coeff = (spectrum.real.abs() + spectrum.imag.abs()) * _hermitian_column_weights(w, diff)
    total = per_coeff.sum()
    valid = (
        torch.tensor(float(n), dtype=diff.dtype, device=diff.device)
        if m is None
        else m.float().mean(dim=(1, 2, 3)).sum()
    )
    return total / (valid.clamp_min(_EMPTY_CLAMP) * (c * h * w))


def l1_loss(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Plain per-pixel L1 (the paper's ablation): mean |output - target| over valid pixels and channels.

    With a mask: ``sum(mask * |d|) / (C * sum(mask))``; a batch with no valid pixel gives 0.
    """
    _check_pair(output, target)
    m = _as_mask(mask, output)
    diff = (output - target).abs()
    if m is None:
        return diff.mean()
    return (diff * m).sum() / (m.sum() * output.shape[1]).clamp_min(_EMPTY_CLAMP)


def patch_weights(mask: torch.Tensor | None, scores: torch.Tensor) -> torch.Tensor | None:
    """The mask brought to the discriminator's score grid: each score's valid area fraction.

    Args:
        mask: None or (N, 1, H, W) / (N, H, W) in 0..1, at image resolution.
        scores: D's output (N, 1, h, w).
    Returns:
        None, or (N, 1, h, w) weights in 0..1 (adaptive average pooling of the mask).
    """
    if mask is None:
        return None
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    return F.adaptive_avg_pool2d(mask.to(scores.dtype), (scores.shape[-2], scores.shape[-1]))


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    if weight.shape != values.shape:
        raise ValueError(f"weights {tuple(weight.shape)} do not match scores {tuple(values.shape)}")
    return (values * weight).sum() / weight.sum().clamp_min(_EMPTY_CLAMP)


def lsgan_generator_loss(d_fake: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's adversarial term for G: mean over D's scores of (D(G(x)) - 1)^2.

    Args:
        d_fake: D's scores for generated images, any shape (here (N, 1, h, w) patch scores).
        weight: None, or per-score weights of the same shape (``patch_weights``): a weighted mean.
    """
    return _weighted_mean((d_fake - 1.0) ** 2, weight)


def lsgan_discriminator_loss(
    d_fake: torch.Tensor, d_real: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """The paper's L_d = D(G(x))^2 + (D(I) - 1)^2, each term a mean over D's scores (no 1/2 factor).

    Pass ``d_fake`` computed on a detached G output. ``weight`` (``patch_weights`` of the pair's mask)
    applies to both terms: patches of the film target over invalid areas are as uninformative as those
    of G's output there.
    """
    return _weighted_mean(d_fake**2, weight) + _weighted_mean((d_real - 1.0) ** 2, weight)


def perceptual_loss(
    vgg: VGG19Features, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over the extractor's pooling layers k of mean((Phi_k(output) - Phi_k(target))^2).

    The paper's sum_k ||Phi_k(G(x)) - Phi_k(I)||^2 with each squared norm divided by its element count,
    so that layers of different sizes and crops of different sizes weigh alike. Masks: invalid output
    pixels are replaced by the target's before the features are computed (so they contribute nothing,
    not even through VGG's wide receptive fields, and get no gradient), and each term is divided by the
    batch's valid fraction. The target's features are computed without gradient.

    Args:
        vgg: a frozen ``VGG19Features`` (from ``training.vgg.load_vgg19``).
        output, target: (N, 3, H, W) float RGB 0..1; H, W at least 2**(deepest pool).
        mask: None or (N, 1, H, W) / (N, H, W) in 0..1.
    """
    _check_pair(output, target)
    m = _as_mask(mask, output)
    if m is not None:
        output = m * output + (1.0 - m) * target
    with torch.no_grad():
        target_features = vgg(target)
    output_features = vgg(output)
    total = output.new_zeros(())
    for phi_out, phi_target in zip(output_features, target_features, strict=True):
        total = total + F.mse_loss(phi_out, phi_target)
    if m is not None:
        total = total / m.mean().clamp_min(_EMPTY_CLAMP)
    return total


def feature_matching_loss(
    fake: list[torch.Tensor], real: list[torch.Tensor], mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over D's layers of the masked L1 between its features of G(x) (``fake``) and of the film
    (``real``, taken as constants): the perceptual term of the GAN stage without a pretrained network
    (pix2pixHD's feature matching). Each layer's term is the mean absolute difference over its channels
    and the valid area (the mask average-pooled to the layer's grid), so layers of every size weigh alike.

    Args:
        fake, real: D's features (``Discriminator.features``), the same shapes layer by layer.
        mask: None or (N, 1, H, W) / (N, H, W) in 0..1 at image resolution.
    """
    if len(fake) != len(real) or not fake:
        raise ValueError(f"feature lists differ or are empty: {len(fake)} and {len(real)} layers")
    terms = []
    for a, b in zip(fake, real, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"feature shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
        diff = (a.float() - b.detach().float()).abs().mean(dim=1, keepdim=True)
        weight = patch_weights(mask, diff)
        terms.append(_weighted_mean(diff, weight))
    return torch.stack(terms).mean()
