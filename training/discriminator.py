"""The discriminator D of the GAN stage: SRGAN-like, fully convolutional, one score per 16x16 patch.

Layout (SRGAN's, Ledig et al. 2017, with ``c = base_channels``, 64 as ProSR's ``ndf``)::

    3x3 conv c, LReLU
    3x3 conv c stride 2, LReLU                  1/2
    3x3 conv 2c, LReLU; 3x3 conv 2c stride 2    1/4
    3x3 conv 4c, LReLU; 3x3 conv 4c stride 2    1/8
    3x3 conv 8c, LReLU; 3x3 conv 8c stride 2    1/16
    1x1 conv 16c, LReLU; 1x1 conv 1             scores (N, 1, H/16, W/16), unbounded (least squares)

LeakyReLU slope 0.2 (ProSR's option). Decisions:

- SRGAN's two dense layers (1024 units, then 1) become 1x1 convolutions: the same per-location
  computation, but D takes any crop size that is a multiple of 16 and returns a patch score map
  (each score sees 61x61 px of the image). The LSGAN losses average over the scores, and a score
  map is what lets the alignment masks weight patches (``training.losses.patch_weights``).
- No BatchNorm (SRGAN has it): D sees a batch of films and a batch of fakes in separate forward passes,
  so batch statistics would differ between them and give D a batch-level shortcut, and per-GPU batches
  are small; without normalisation the scores of one image do not depend on the rest of its batch.
- No sigmoid: the least-squares GAN regresses raw scores to 0 (fake) and 1 (real).

Input: (N, 3, H, W) float RGB 0..1, H and W multiples of 16; mapped to -1..1 inside.

``features(x)``: the activations after each LeakyReLU (the four scales and the 1x1 layer), what the GAN
stage's feature-matching term compares between G(x) and the film when no VGG19 weights are given.
"""

from __future__ import annotations

import torch
from torch import nn

from training.architecture import DISCRIMINATOR_PRESETS, DiscriminatorConfig

__all__ = [  # the config and presets live in training.architecture (torch-free); re-exported here
    "DISCRIMINATOR_PRESETS",
    "PATCH_STRIDE",
    "Discriminator",
    "DiscriminatorConfig",
    "build_discriminator",
]

PATCH_STRIDE = 16


def _block(in_channels: int, out_channels: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1), nn.LeakyReLU(0.2)]


class Discriminator(nn.Module):
    """D: (N, 3, H, W) RGB 0..1, H and W multiples of 16 -> (N, 1, H/16, W/16) least-squares scores."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.base_channels
        layers: list[nn.Module] = _block(cfg.in_channels, c, 1) + _block(c, c, 2)
        for level in range(1, 4):
            width = c * 2**level
            layers += _block(width // 2, width, 1) + _block(width, width, 2)
        layers += [nn.Conv2d(8 * c, 16 * c, 1), nn.LeakyReLU(0.2), nn.Conv2d(16 * c, 1, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x)
        return self.body(x * 2.0 - 1.0)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """D's intermediate activations of ``x`` (after each LeakyReLU, shallow to deep); the scores are
        not among them. Same input contract as ``forward``."""
        _check_size(x)
        out, y = [], x * 2.0 - 1.0
        for layer in self.body:
            y = layer(y)
            if isinstance(layer, nn.LeakyReLU):
                out.append(y)
        return out


def _check_size(x: torch.Tensor) -> None:
    h, w = x.shape[-2], x.shape[-1]
    if h % PATCH_STRIDE or w % PATCH_STRIDE:
        raise ValueError(f"discriminator crops must be multiples of {PATCH_STRIDE} pixels, got {h}x{w}")


def build_discriminator(cfg: DiscriminatorConfig) -> Discriminator:
    """A freshly initialised D (PyTorch's default initialisation)."""
    return Discriminator(cfg)
