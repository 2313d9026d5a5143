"""The two training stages: what each one's loss is (as values), and the start of the GAN stage.

Stage 1 (``stage1_loss``): the reconstruction loss alone, ``stages.loss`` = ``fft`` (the paper's FFT-L1)
or ``l1`` (the ablation). Stage 2 (``gan_loss``): ``fft_weight * reconstruction + (adversarial_weight *
LSGAN(D(G(x)))`` plus the perceptual term: ``perceptual_weight * VGG19`` with ``stages.vgg_weights``
(the paper's formula), else ``feature_matching_weight * FM``) ``/ paper_scale`` (the paper's weights
read against its loss's scale), the L1 between D's features of G(x) and of
the film (no pretrained network: stage 2 runs on any machine); and D trained on the least-squares loss
(``discriminator_loss``). Each loss function returns a frozen ``GeneratorLoss`` of its terms; the step
(``training.step``) backpropagates its ``total`` and logs its ``terms``.

``start_gan_stage`` sets the second stage up: D (seeded, unless a resumed checkpoint brought it) and its
Adam in the ``TrainState``, VGG19 read from ``stages.vgg_weights`` (when given), D wrapped for DDP. The loop calls it
before the first stage-2 step it runs: at ``gan_start_step``, or before the first step of a run resumed
past it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import nn

from training import distributed
from training.config import StagesSection, TrainConfig
from training.discriminator import Discriminator
from training.losses import (
    feature_matching_loss,
    fft_l1_loss,
    l1_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    patch_weights,
    perceptual_loss,
)
from training.state import TrainState
from training.vgg import VGG19Features, load_vgg19

log = logging.getLogger("remaster.train")


@dataclass(frozen=True)
class GeneratorLoss:
    """G's loss on one batch and its terms: 0-d float32 tensors attached to the graph.

    Attributes:
        total: what is backpropagated.
        reconstruction: the stage-1 loss (FFT-L1 or L1), logged under ``reconstruction_name``.
        adversarial, perceptual: the GAN stage's terms (unweighted), None in stage 1; perceptual is
            VGG19's, None without VGG19 weights.
        feature_matching: the GAN stage's feature-matching term (unweighted) when there are no VGG19
            weights, else None.
    """

    total: torch.Tensor
    reconstruction: torch.Tensor
    reconstruction_name: str
    adversarial: torch.Tensor | None = None
    perceptual: torch.Tensor | None = None
    feature_matching: torch.Tensor | None = None

    def terms(self) -> dict[str, torch.Tensor]:
        """Metric name -> term, in log order: ``loss`` (the total), ``fft``/``l1``, then stage 2's."""
        named = {"loss": self.total, self.reconstruction_name: self.reconstruction}
        if self.adversarial is not None:
            named["adversarial"] = self.adversarial
        if self.perceptual is not None:
            named["perceptual"] = self.perceptual
        if self.feature_matching is not None:
            named["feature_matching"] = self.feature_matching
        return named


@dataclass(frozen=True)
class GanStage:
    """What stage 2 adds to a step: D (the module, for G's adversarial and feature-matching terms),
    ``d_train`` (D, wrapped for DDP under torchrun: D's own step), and the VGG19 features of the
    perceptual loss (None without ``stages.vgg_weights``: feature matching instead)."""

    discriminator: Discriminator
    d_train: nn.Module
    vgg: VGG19Features | None


def reconstruction_loss(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, stages: StagesSection
) -> torch.Tensor:
    """The stage-1 loss of ``output`` (computed in float32) against ``target`` over ``mask``."""
    loss = fft_l1_loss if stages.loss == "fft" else l1_loss
    return loss(output.float(), target, mask)


def stage1_loss(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, stages: StagesSection
) -> GeneratorLoss:
    """Stage 1: the reconstruction loss alone. output, target: (N, 3, H, W); mask: (N, 1, H, W) 0..1."""
    rec = reconstruction_loss(output, target, mask, stages)
    return GeneratorLoss(total=rec, reconstruction=rec, reconstruction_name=stages.loss)


def paper_scale(output: torch.Tensor, stages: StagesSection) -> float:
    """How many times larger the paper's reconstruction loss is than ours, for ``output`` (N, 3, H, W):
    ``sqrt(H * W)`` with the FFT-L1, 1 with plain L1.

    Our FFT-L1 takes the orthonormal transform (``training.losses``: a loss of L1's scale, which Adam
    makes irrelevant in stage 1); the transform's default scaling, which the paper's weights (3.0 on
    LSGAN, 0.5 on the perceptual term) are read against, makes every coefficient ``sqrt(H * W)`` times
    larger. Stage 2 divides its adversarial and perceptual terms by this factor, which keeps the
    paper's balance (the same direction of G's gradient as ``sqrt(H W) L_fft + 3 LSGAN + 0.5 VGG``)
    without changing the gradient's scale that clipping sees. Measured with ``bench/grain.py``
    (``tiny`` reels, ``lite``, 300 steps of stage 1 then 150 of stage 2 with feature matching, held-out
    shot): the weights as they stand against our loss made G answer D with noise that changes every
    frame (seeds 2 and 3: 6.0 and 6.2 dB below stage 1, grain amplitude 2.9 and 2.2 times the film's,
    finest band 9.3 and 4.6 times; held-out seeds 6 and 7: 9 and 12 dB lost, 4.5 and 13.8 times the
    grain); divided by 16, seed 2 still lost 1.3 dB and gained a fifth more grain; divided by 128
    (this factor at 128 px crops), stage 2 kept stage 1's PSNR (+0.03 and +0.13 dB) and its grain
    (within 0.02).
    """
    return math.sqrt(output.shape[-2] * output.shape[-1]) if stages.loss == "fft" else 1.0


def gan_loss(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, stages: StagesSection, gan: GanStage
) -> GeneratorLoss:
    """Stage 2's G loss: weighted reconstruction, LSGAN (D's scores, patches weighted by the mask) and
    the perceptual term: VGG19's with its weights, else D's feature matching against the film; the last
    two divided by ``paper_scale``. D's parameters get no gradient from it."""
    rec = reconstruction_loss(output, target, mask, stages)
    gan.discriminator.requires_grad_(False)
    scores = gan.discriminator(output)
    adv = lsgan_generator_loss(scores.float(), patch_weights(mask, scores.float()))
    perc = fm = None
    if gan.vgg is not None:
        perc = perceptual_loss(gan.vgg, output, target, mask).float()
    else:
        with torch.no_grad():
            real = gan.discriminator.features(target)
        fm = feature_matching_loss(gan.discriminator.features(output), real, mask)
    gan.discriminator.requires_grad_(True)
    scale = 1.0 / paper_scale(output, stages)
    total = stages.fft_weight * rec + (stages.adversarial_weight * scale) * adv
    if perc is not None:
        total = total + (stages.perceptual_weight * scale) * perc
    if fm is not None:
        total = total + (stages.feature_matching_weight * scale) * fm
    return GeneratorLoss(
        total=total, reconstruction=rec, reconstruction_name=stages.loss, adversarial=adv, perceptual=perc,
        feature_matching=fm,
    )  # fmt: skip


def discriminator_loss(
    d_train: nn.Module, fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """D's least-squares loss on G's detached output ``fake`` and the films ``real``, patches weighted by
    ``mask``. Both go through D in one forward (D has no batch statistics: the same scores as two)."""
    scores = d_train(torch.cat([fake, real])).float()
    d_fake, d_real = scores.chunk(2)
    return lsgan_discriminator_loss(d_fake, d_real, patch_weights(mask, d_fake))


def start_gan_stage(state: TrainState, cfg: TrainConfig, info: distributed.DistInfo) -> GanStage:
    """Set stage 2 up at step ``state.step``: D and its Adam (kept when a resumed checkpoint brought
    them), the VGG19 features, D wrapped for DDP (collective: every rank calls this at the same step)."""
    if state.discriminator is None:
        state.add_discriminator()
    assert state.discriminator is not None  # for the type checker: add_discriminator set it
    vgg = load_vgg19(cfg.stages.vgg_weights).to(state.device) if cfg.stages.vgg_weights else None
    if info.is_main:
        log.info(
            "stage 2 (GAN) from step %d: discriminator and %s ready", state.step,
            "VGG19 features" if vgg is not None else "D feature matching (no VGG19 weights given)",
        )  # fmt: skip
    return GanStage(state.discriminator, distributed.wrap(state.discriminator, info), vgg)
