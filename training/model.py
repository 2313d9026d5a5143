"""The enhancement generator G: dense compression units behind a space-to-depth (docs/architecture.md, section 1).

Data flow, for an input ``x`` of shape (N, 3, H, W), float32 RGB code values 0..1 (the broadcast frame
already resampled bilinearly to the output raster)::

    x --reflect-pad to a multiple of s--> pixel_unshuffle(s)          (N, 3*s*s, H/s, W/s)
      --3x3 conv--> f                                                 (N, width, H/s, W/s)
      --DCU x num_dcus--> 3x3 conv --> + f   (global residual over the trunk, as ProSR)
      --3x3 conv (zero-initialised)--> pixel_shuffle(s) --> crop to H, W    residual r (N, 3, H, W)
    r' = r - box_k(r) + b * tanh(box_k(r) / b)          (the mean lock)
    G(x) = grade(x) + r' - box_K(r') + B * tanh(box_K(r') / B) [+ colour(x)]   (the wide lock)

``grade(x)`` (``GradePath``, when ``grade_path``; else ``x``) is the fixed global grade: a quadratic
colour correction with a prior towards an affine one, fitted in closed form on the training pairs
(``remaster_core.grade``), bounded (affine) outside the training inputs' range. Its numbers are *buffers*, written from the fit by the trainer
(``training.colour_init.init_grade``) and never trained: it cannot bend to the training palettes.
``box_k`` (``mean_lock`` = k > 1) is a k x k box low-pass (edge-replicated) and ``b`` (``mean_bound``)
a bound in code values: by construction the trunk cannot move the local mean colour more than ``b`` away
from the grade (``b`` = 0: not at all), so it learns what a grade cannot (blur, chroma loss, noise,
detail, and low-frequency noise up to ``b``), and a colour the trunk never saw keeps the grade's mean
within ``b``. The wide lock (``wide_lock`` = K, ``wide_bound`` = B; off when K <= 1) does the same over a
wider box with a tighter bound: the room ``b`` leaves is for the broadcast's low-frequency noise, which
averages out over K pixels, where a colour cast of the trunk's does not (a correction it learned against
the training shots' grade, which the all-shots grade it ships with no longer needs, or a palette it
never saw). Each lock adds ``k // 2`` pixels to the receptive field. docs/training.md ("The grade") has
the measurements behind them.

A dense compression unit (DCU, ProSR's ``DenseResidualBlock``) is ``dense_layers`` dense layers, each
1x1 conv (to 4*growth, bias) -> ReLU -> 3x3 conv (to growth, bias, reflection padding) whose output is
concatenated to its input, then a 1x1 compression (no bias) back to ``width``; the unit returns
``x + res_scale * block(x)``. There is no normalisation layer anywhere.

``colour(x)`` (``colour_path``, off in the presets since the grade path) is a trainable per-pixel
quadratic colour transform of the input: a 1x1 conv over the centred
channels ``c = x - 0.5`` and their pairwise products ``c_i * c_j``. It is our addition to ProSR, made
because of a measurement made before this project (a small CNN against a colour-fit baseline): under a small CPU budget a small CNN scored *below* a global
quadratic colour fit, i.e. the grade (the largest part of the broadcast -> film error) is learned slowly
through a deep trunk. With this path, G contains the colour-fit baseline exactly (it is that baseline
plus the trunk), and the grade is learned by 39 parameters one layer from the loss. It costs about 50
operations a pixel, is exportable (mul/concat/1x1 conv) and is tiling-neutral (per pixel). Measured
gain, so that nobody expects more: on a pure global grade ``lite`` is ~1.4 dB further after 20 steps
with it (``test_model``); on the synthetic pairs of ``training.losses``' note (grade + blur + noise) it
was 0.35 dB ahead after 75 steps and level (23.5 vs 23.4 dB) after 300. It speeds the start, and
guarantees that G can express the colour-fit baseline; it does not replace training.

Initialisation: the last trunk conv and the colour path start at zero and the grade path at the
identity, so an untrained G is exactly the identity (its output is the bilinear baseline). The trainer
then, by default, writes the training pairs' closed-form grade into the grade path (and, for a G with
the quadratic colour path, their colour fit into it) before the first step (``training.colour_init``),
so a run starts from the colour-fit baseline. Training starts from the baseline instead of from a
random residual: the first steps already improve on it, and no step is spent unlearning noise. The
gradient still reaches every parameter after the first optimiser step.

The forward pass does not clamp: the losses see the raw output (a clamp would zero the gradient of
saturated pixels, and film highlights may legitimately exceed the broadcast's range). Clamping to the
output format is the runtime's job when it writes a file.

Any H, W >= ``min_input_size(cfg)`` work: the module reflection-pads to the next multiple of ``s``
internally and crops back (always, by zero pixels when H, W are multiples already: no shape-dependent
branch). Export, as checked with torch 2.13: ``torch.jit.script`` and the legacy ONNX exporter
(``dynamo=False``, dynamic N/H/W) keep any-size inputs (onnxruntime matches torch to ~1e-7 at 37x53);
``torch.export`` / the dynamo exporter cannot prove the padding's bounds for a free H, so declare H and W
as ``s * Dim(...)`` there (then the padding is empty).

Tiling caveat for the runtime: G is translation-equivariant only for shifts that are multiples of ``s``
(the pixel-unshuffle grid), so tile origins must be multiples of ``s`` for tiled output to equal
untiled output; the context each side must be at least ``receptive_field(cfg)`` pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from remaster_core.grade import Grade
from training.architecture import PRESETS, GeneratorConfig

__all__ = [  # the configs and presets live in training.architecture (torch-free); re-exported here
    "PRESETS",
    "DenseCompressionUnit",
    "DenseLayer",
    "Generator",
    "GeneratorConfig",
    "GradePath",
    "build_generator",
    "count_parameters",
    "min_input_size",
    "quadratic_colour_features",
    "receptive_field",
]


def _conv3x3(in_channels: int, out_channels: int, bias: bool = True) -> nn.Conv2d:
    """3x3 convolution, stride 1, reflection padding (ProSR's choice: no dark seams at borders)."""
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect", bias=bias)


class DenseLayer(nn.Module):
    """1x1 conv (in -> 4*growth) -> ReLU -> 3x3 conv (-> growth); returns cat(x, new): in + growth ch."""

    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 4 * growth, 1)
        self.conv2 = _conv3x3(4 * growth, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv2(F.relu(self.conv1(x)))], dim=1)


class DenseCompressionUnit(nn.Module):
    """ProSR's DCU: ``x + res_scale * compress(dense_layers(x))``; (N, width, h, w) in and out."""

    def __init__(self, width: int, growth: int, dense_layers: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = float(res_scale)
        self.dense = nn.Sequential(*[DenseLayer(width + i * growth, growth) for i in range(dense_layers)])
        self.compress = nn.Conv2d(width + dense_layers * growth, width, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.compress(self.dense(x))


def quadratic_colour_features(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel colour terms of ``x`` (N, C, H, W): centred ``c = x - 0.5`` and all products c_i*c_j.

    Returns (N, C + C*C, H, W), same dtype as ``x`` (the symmetric products appear twice; a 1x1 conv
    over them is still exactly a general quadratic polynomial of the colour).
    """
    c = x - 0.5
    products = torch.flatten(c.unsqueeze(1) * c.unsqueeze(2), 1, 2)
    return torch.cat([c, products], dim=1)


class GradePath(nn.Module):
    """The fixed grade of ``remaster_core.grade.Grade``, as buffers.

    (N, 3, H, W) -> (N, 3, H, W): ``xc = clip(x, lo, hi)``, ``c = xc - 0.5``, then ``bias + W @ [c, c^2,
    c_r c_g, c_r c_b, c_g c_b] + slope @ (x - xc)`` per pixel. Starts as the identity; ``set_grade``
    writes a fit in.
    """

    if TYPE_CHECKING:  # the buffers' types, for the type checker only: TorchScript cannot read
        # string annotations (``from __future__ import annotations``) on a module's class
        lo: torch.Tensor
        hi: torch.Tensor
        weight: torch.Tensor
        bias: torch.Tensor
        slope: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("lo", torch.zeros(1, 3, 1, 1))
        self.register_buffer("hi", torch.ones(1, 3, 1, 1))
        self.register_buffer("weight", torch.zeros(3, 9, 1, 1))
        self.register_buffer("bias", torch.zeros(3))
        self.register_buffer("slope", torch.zeros(3, 3, 1, 1))
        self.set_grade(Grade.identity())

    def set_grade(self, grade: Grade) -> None:
        """Write ``grade`` into the buffers."""
        with torch.no_grad():
            self.lo.copy_(torch.from_numpy(grade.lo).view(1, 3, 1, 1))
            self.hi.copy_(torch.from_numpy(grade.hi).view(1, 3, 1, 1))
            self.weight.copy_(torch.from_numpy(grade.weight).view(3, 9, 1, 1))
            self.bias.copy_(torch.from_numpy(grade.bias))
            self.slope.copy_(torch.from_numpy(grade.slope).view(3, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xc = torch.minimum(torch.maximum(x, self.lo.to(x.dtype)), self.hi.to(x.dtype))
        c = xc - 0.5
        r, g, b = c[:, 0:1], c[:, 1:2], c[:, 2:3]
        terms = torch.cat([c, c * c, r * g, r * b, g * b], dim=1)
        out = F.conv2d(terms, self.weight.to(x.dtype), self.bias.to(x.dtype))
        return out + F.conv2d(x - xc, self.slope.to(x.dtype))


def _box_pools(padded: torch.Tensor, size: int) -> torch.Tensor:
    """The exported form of ``box_lowpass``: two average pools (1 x size, then size x 1) of the padded
    (N, C, H + size - 1, W + size - 1) tensor; (N, C, H, W)."""
    return F.avg_pool2d(F.avg_pool2d(padded, (1, size), stride=1), (size, 1), stride=1)


def box_lowpass(r: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """``size`` x ``size`` box mean of (N, C, H, W) ``r`` (C = ``channels``), edges replicated; same
    shape (separable).

    Two depthwise convolutions (1 x size, then size x 1) rather than ``avg_pool2d``: the same sums
    (within float rounding, ~1e-7), but PyTorch's CPU average pooling was the slowest op of a ``lite``
    training step (forward + backward 0.53 s against 0.17 s for the convolutions, batch 8 of 128 px,
    one thread, loaded 2-core AMD EPYC); the graph exports to ONNX as two depthwise ``Conv`` nodes
    (``channels`` is a Python int so that their kernel shapes are fixed in a traced graph).

    Exported (ONNX, traced, or scripted into the TorchScript file for Nuke), the mean is two average
    pools instead (1 x size, then size x 1): OpenVINO's CPU plugin does not finish compiling the two
    long depthwise convolutions in bf16 (over 20 minutes for the paper preset, over 45 s for the box
    alone at 64 x 64, OpenVINO 2025.4 and 2026.4, where the pool compiles at once), and PyTorch's own
    CPU backend (oneDNN) stalls the same way in float16 on CPUs with AVX512-FP16 (an Intel Xeon with
    AMX: a 17-tap depthwise convolution of 16 channels at 90 x 64 did not finish in 30 s, its first call
    generating the kernel; the pools take milliseconds), which a TorchScript model run in half precision
    (Nuke's "Optimize for Speed and Memory", the export's fp16 parity check) meets. The two forms agree
    within 1e-6."""
    before, after = (size - 1) // 2, size // 2
    padded = F.pad(r, (before, after, before, after), mode="replicate")
    if torch.jit.is_scripting():  # TorchScript compiles this branch alone (the test below is not scriptable)
        return _box_pools(padded, size)
    if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
        return _box_pools(padded, size)
    row = torch.full((channels, 1, 1, size), 1.0 / size, dtype=r.dtype, device=r.device)
    column = torch.full((channels, 1, size, 1), 1.0 / size, dtype=r.dtype, device=r.device)
    return F.conv2d(F.conv2d(padded, row, groups=channels), column, groups=channels)


def bound_mean(r: torch.Tensor, size: int, bound: float, channels: int) -> torch.Tensor:
    """``r - box(r) + bound * tanh(box(r) / bound)`` (``box``: ``box_lowpass`` of ``size``): (N, C, H, W)
    ``r`` with its ``size`` px local mean kept within ``bound`` (0: removed); the same shape."""
    low = box_lowpass(r, size, channels)
    if bound > 0:
        return r - low + bound * torch.tanh(low / bound)
    return r - low


class Generator(nn.Module):
    """G: (N, C, H, W) float RGB 0..1 -> (N, C, H, W), ``x`` + learned residual, not clamped.

    Build with ``build_generator(cfg)``. H and W must be at least ``min_input_size(cfg)``; any value
    above works (reflection padding to a multiple of ``s`` inside). Nothing in ``forward`` creates a
    tensor of a fixed dtype, so it runs in the input's precision (Nuke's fp16 rule).
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        s = cfg.space_to_depth
        self.scale = s
        self.head = _conv3x3(cfg.in_channels * s * s, cfg.width)
        self.trunk = nn.Sequential(
            *[
                DenseCompressionUnit(cfg.width, cfg.growth, cfg.dense_layers, cfg.res_scale)
                for _ in range(cfg.num_dcus)
            ]
        )
        self.trunk_conv = _conv3x3(cfg.width, cfg.width)
        self.tail = _conv3x3(cfg.width, cfg.in_channels * s * s)
        for parameter in self.tail.parameters():
            nn.init.zeros_(parameter)
        self.grade: GradePath | None = GradePath() if cfg.grade_path else None
        self.channels = cfg.in_channels
        self.mean_lock = cfg.mean_lock
        self.mean_bound = float(cfg.mean_bound)
        self.wide_lock = cfg.wide_lock
        self.wide_bound = float(cfg.wide_bound)
        self.colour: nn.Conv2d | None = None
        if cfg.colour_path:
            self.colour = nn.Conv2d(cfg.in_channels + cfg.in_channels**2, cfg.in_channels, 1)
            for parameter in self.colour.parameters():
                nn.init.zeros_(parameter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale
        h, w = x.shape[-2], x.shape[-1]
        if not torch.jit.is_tracing() and (h <= s or w <= s):
            raise ValueError(f"generator input must be larger than {s}x{s} pixels, got {h}x{w}")
        # Always pad (possibly by zero pixels): no shape-dependent branch, so tracing and torch.export
        # keep H and W dynamic. ``(h + s - 1) // s * s`` states the padded size as a multiple of s.
        padded = F.pad(x, (0, (w + s - 1) // s * s - w, 0, (h + s - 1) // s * s - h), mode="reflect")
        features = self.head(F.pixel_unshuffle(padded, s))
        trunk = self.trunk_conv(self.trunk(features)) + features
        residual = F.pixel_shuffle(self.tail(trunk), s)[:, :, :h, :w]
        if self.mean_lock > 1:
            residual = bound_mean(residual, self.mean_lock, self.mean_bound, self.channels)
        if self.wide_lock > 1:
            residual = bound_mean(residual, self.wide_lock, self.wide_bound, self.channels)
        out = (self.grade(x) if self.grade is not None else x) + residual
        if self.colour is not None:
            out = out + self.colour(quadratic_colour_features(x))
        return out


def build_generator(cfg: GeneratorConfig) -> Generator:
    """A freshly initialised G for ``cfg``: exactly the identity until trained (see module docstring)."""
    return Generator(cfg)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def receptive_field(cfg: GeneratorConfig) -> int:
    """How far, in input pixels, an input pixel can influence an output pixel (one side, L-inf).

    The trunk has ``3 + num_dcus * dense_layers`` 3x3 convs (head, one per dense layer, trunk conv,
    tail), each reaching one trunk pixel = ``s`` input pixels further; the pixel-unshuffle block adds up
    to ``s - 1`` pixels within a block. So an output pixel depends on inputs at most
    ``s * (n3x3 + 1) - 1`` pixels away (the colour and grade paths are per pixel); the mean locks' boxes
    add ``mean_lock // 2`` and ``wide_lock // 2``. A tile whose border has at least
    this many pixels of real context on each side (and whose origin is a multiple of ``s``) produces the
    same interior as the whole frame.
    """
    n3x3 = 3 + cfg.num_dcus * cfg.dense_layers
    locks = sum(k // 2 for k in (cfg.mean_lock, cfg.wide_lock) if k > 1)
    return cfg.space_to_depth * (n3x3 + 1) - 1 + locks


def min_input_size(cfg: GeneratorConfig) -> int:
    """Smallest H and W G accepts: ``s + 1`` (the trunk needs 2 pixels for its reflection padding)."""
    return cfg.space_to_depth + 1
