"""The architectures of G and D as plain data: their configs and presets (no torch).

``GeneratorConfig`` and ``DiscriminatorConfig`` describe everything that changes the parameter shapes
(``training.model`` and ``training.discriminator`` build the modules from them); ``PRESETS`` and
``DISCRIMINATOR_PRESETS`` are the named sizes (``paper``, ``lite``). They live apart from the modules so
that the training config (``training.config``) and the ``remaster train`` command line read them
without importing torch.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of G. Everything that changes the parameter shapes or the function lives here.

    Attributes:
        width: channels of the trunk (ProSR's ``num_init_features``, 160).
        growth: channels each dense layer adds (ProSR's ``growth_rate``, 40); its 1x1 conv widens to
            ``4 * growth`` (ProSR's ``bn_size`` 4).
        dense_layers: dense layers per DCU (ProSR: 8).
        num_dcus: DCUs in the trunk.
        space_to_depth: ``s``, the pixel-unshuffle factor: the trunk runs at 1/s of the input size.
        in_channels: image channels (3, RGB); the output has the same channels.
        res_scale: residual scaling inside each DCU (ProSR: 0.2).
        colour_path: add the trainable per-pixel quadratic colour transform of the input (the path
            that ran away on colours outside the training palettes; off in the presets, kept so that
            older checkpoints load).
        grade_path: add the fixed, closed-form grade path (``remaster_core.grade``; buffers written
            from the fit, never trained); without it G adds its residual to the input itself.
        mean_lock: box size (input pixels) of the low-pass of the trunk's residual that is bounded, so
            that the trunk cannot move the local mean colour far from the grade; 0: no lock.
        mean_bound: how far (code values) the trunk may move that local mean: the low-passed residual
            goes through ``mean_bound * tanh(. / mean_bound)``; 0: not at all (removed).
        wide_lock, wide_bound: the same, once more, over a wider box (after ``mean_lock``): the room
            ``mean_bound`` leaves at 17 px is for the broadcast's low-frequency noise, which averages
            out over a wide box, where a colour cast of the trunk's (a correction learned against
            the training shots' grade, or a palette it never saw) does not. 0: no wide lock.
    """

    width: int
    growth: int
    dense_layers: int
    num_dcus: int
    space_to_depth: int
    in_channels: int = 3
    res_scale: float = 0.2
    colour_path: bool = True
    grade_path: bool = False
    mean_lock: int = 0
    mean_bound: float = 0.0
    wide_lock: int = 0
    wide_bound: float = 0.0

    def __post_init__(self) -> None:
        for name in ("mean_lock", "wide_lock"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"GeneratorConfig.{name} must be an int >= 0, got {value!r}")
        for name in ("mean_bound", "wide_bound"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= float(value) <= 1.0):
                raise ValueError(f"GeneratorConfig.{name} must be in 0..1, got {value!r}")
        if self.grade_path and self.in_channels != 3:
            raise ValueError("GeneratorConfig.grade_path needs in_channels = 3 (an RGB grade)")
        for name in ("width", "growth", "dense_layers", "num_dcus", "space_to_depth", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GeneratorConfig.{name} must be a positive int, got {value!r}")
        if not 0.0 < float(self.res_scale) <= 1.0:
            raise ValueError(f"GeneratorConfig.res_scale must be in (0, 1], got {self.res_scale!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the fields (for checkpoint metadata and exported model metadata)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Inverse of ``to_dict``. Raises ValueError naming unknown or missing fields."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown generator config fields {unknown}; known: {sorted(names)}")
        required = {f.name for f in fields(cls) if f.default is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"generator config lacks fields {missing}")
        return cls(**data)


# ``paper``: ProSR's block (width 160, growth 40, 8 dense layers, DCU ~0.92M parameters). ProSR x8 has
# 13 DCUs over three pyramid levels (9 + 3 + 1, ~15.5M parameters); G has a single level because its
# input is already at the output raster, so it keeps ProSR's total of 13 DCUs in one trunk (~12.3M
# parameters). s = 2: the remaster deliverable is an HD/2K raster made from a 480-line broadcast (a
# factor 2.25 to 3.2), so a trunk at 1/2 resolution still has more samples than the source has lines
# (nothing the broadcast holds is squeezed), costs a quarter of a full-resolution trunk, and leaves the
# output conv a 2x2 sub-pixel freedom for grain and sharp edges; s = 4 would put the trunk below the
# source's density. Receptive field: 2 * (3 + 13 * 8 + 1) - 1 = 215 input pixels each side.
#
# ``lite``: trains in minutes on 2 CPU cores. s = 4, so the trunk runs on 1/16 of the pixels: a 128 px
# crop is a 32 x 32 trunk, which keeps a step of batch 8 at 128 px (forward, backward, Adam) at 0.12 s
# on 2 idle cores (0.19 s on one), while still giving a receptive field of 4 * (3 + 3 * 4 + 1) - 1 = 63
# input pixels each side, wide enough for low-frequency noise. ~0.2M parameters.
#
# Both carry the grade in the fixed closed-form path (``grade_path``) and keep the
# trunk's 17 px local mean within 0.04 of it (``mean_lock``, ``mean_bound``: room for the broadcast's
# low-frequency noise, 2.5-4 8-bit code values of std, not for a new grade) and its 65 px mean within
# 0.01 (``wide_lock``, ``wide_bound``: that noise averages out over 65 px, a colour cast does not),
# instead of the trainable quadratic colour path, which
# bent to the training palettes and extrapolated wildly outside them (docs/training.md, "The grade").
# fmt: off
PRESETS: dict[str, GeneratorConfig] = {
    "paper": GeneratorConfig(
        width=160, growth=40, dense_layers=8, num_dcus=13, space_to_depth=2, colour_path=False,
        grade_path=True, mean_lock=17, mean_bound=0.04, wide_lock=65, wide_bound=0.01,
    ),
    "lite": GeneratorConfig(
        width=32, growth=16, dense_layers=4, num_dcus=3, space_to_depth=4, colour_path=False,
        grade_path=True, mean_lock=17, mean_bound=0.04, wide_lock=65, wide_bound=0.01,
    ),
}
# fmt: on


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Width of D: ``base_channels`` (64 in SRGAN/ProSR; 32 keeps the CPU demo quick)."""

    base_channels: int = 64
    in_channels: int = 3

    def __post_init__(self) -> None:
        for name in ("base_channels", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DiscriminatorConfig.{name} must be a positive int, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscriminatorConfig:
        unknown = sorted(set(data) - {"base_channels", "in_channels"})
        if unknown:
            raise ValueError(f"unknown discriminator config fields {unknown}")
        return cls(**data)


DISCRIMINATOR_PRESETS: dict[str, DiscriminatorConfig] = {
    "paper": DiscriminatorConfig(base_channels=64),
    "lite": DiscriminatorConfig(base_channels=32),
}
