"""Detail: does the render hold fine structure where the film has it, as much as the film?

Measured on the high-pass residual (``regions.highpass``) in the reference's textured tiles
(``regions.FramePlanes``: RMS gradient of the smoothed reference luma at least
``LookParams.texture_gradient``), the same tiles in both pictures:

    detail energy = mean residual^2 over the textured tiles - mean residual^2 over the flat tiles

per channel, in code value^2, for the render and the reference separately, clipped at 0. The second
term takes each picture's own grain out (its power in flat areas, where the residual is grain), so that
a render is credited for structure, not noise: grain matching the film's is ``grain``'s business. When
no tile is flat nothing is subtracted (``grain_subtracted`` false) and grain counts as detail. The
subtraction assumes the grain is about as strong in textured areas as in flat ones (it varies with
signal level; see ``grain``'s levels).

Reported as render/reference energy per channel and with the channels pooled (the summary): 1 is the
film's detail, below 1 a softer render (a Gaussian blur of sigma 1 px keeps about half the energy of a
photograph's texture, 2 px a quarter), above 1 an over-sharpened one (haloes and ringing count as detail here). A
reference with no textured tile, or whose detail energy is below ``grain_floor^2``, gives None and a
reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from remaster_core.look.ratio import Ratio, ratio_of, unmeasured
from remaster_core.look.regions import CHANNELS, FramePlanes, LookParams, tiles


@dataclass(frozen=True)
class DetailResult:
    """The detail of a render against its reference's (see the module docstring).

    Attributes:
        energy: render/reference detail energy (code value^2), channels pooled (the summary).
        channels: the same per channel (R, G, B).
        textured_tiles, tiles: textured tiles and all tiles, all frames together.
        grain_subtracted: whether the flat tiles' power was taken out (some tile was flat).
        reason: why nothing could be measured (no textured tile), else None.
    """

    energy: Ratio
    channels: tuple[Ratio, ...]
    textured_tiles: int
    tiles: int
    grain_subtracted: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "energy": self.energy.to_dict(),
            "channels": {n: r.to_dict() for n, r in zip(CHANNELS, self.channels, strict=True)},
            "textured_tiles": self.textured_tiles,
            "tiles": self.tiles,
            "grain_subtracted": self.grain_subtracted,
            "reason": self.reason,
        }


def _tile_power(residual: np.ndarray, which: np.ndarray, tile: int) -> np.ndarray:
    """Sum of residual^2 per channel (float64 (3,)) over the tiles ``which`` (bool (rows, cols))."""
    chosen = tiles(residual, tile)[which]  # (n, tile, tile, 3)
    return np.einsum("nijc,nijc->c", chosen, chosen, dtype=np.float64)


@dataclass
class DetailAccumulator:
    """Pools the detail statistics of frame pairs; ``result()`` gives the ``DetailResult``."""

    params: LookParams
    tiles: int = 0
    textured_tiles: int = 0
    flat_tiles: int = 0
    textured_render: np.ndarray = field(default_factory=lambda: np.zeros(3))
    textured_reference: np.ndarray = field(default_factory=lambda: np.zeros(3))
    flat_render: np.ndarray = field(default_factory=lambda: np.zeros(3))
    flat_reference: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def add(self, planes: FramePlanes) -> None:
        """Add one frame pair's textured and flat tiles."""
        t = self.params.tile
        self.tiles += planes.flat.size
        if planes.textured.any():
            self.textured_tiles += int(np.count_nonzero(planes.textured))
            self.textured_render += _tile_power(planes.render_residual, planes.textured, t)
            self.textured_reference += _tile_power(planes.reference_residual, planes.textured, t)
        if planes.flat.any():
            self.flat_tiles += int(np.count_nonzero(planes.flat))
            self.flat_render += _tile_power(planes.render_residual, planes.flat, t)
            self.flat_reference += _tile_power(planes.reference_residual, planes.flat, t)

    def result(self) -> DetailResult:
        """The detail measures of everything added."""
        p = self.params
        subtracted = self.flat_tiles > 0
        if self.textured_tiles == 0:
            reason = (
                f"no textured region: no {p.tile} px tile of the reference has an RMS gradient of "
                f"{p.texture_gradient} code values/px or more (a flat or very soft picture)"
            )
            return DetailResult(
                unmeasured(reason),
                tuple(unmeasured(reason) for _ in CHANNELS),
                0,
                self.tiles,
                subtracted,
                reason,
            )
        area = float(p.tile * p.tile)
        render = self.textured_render / (self.textured_tiles * area)
        reference = self.textured_reference / (self.textured_tiles * area)
        if subtracted:
            render = np.maximum(render - self.flat_render / (self.flat_tiles * area), 0.0)
            reference = np.maximum(reference - self.flat_reference / (self.flat_tiles * area), 0.0)
        floor = p.grain_floor**2
        return DetailResult(
            energy=ratio_of(float(render.sum()), float(reference.sum()), floor=3 * floor, what="detail"),
            channels=tuple(
                ratio_of(float(render[c]), float(reference[c]), floor=floor, what=f"detail in {CHANNELS[c]}")
                for c in range(3)
            ),
            textured_tiles=self.textured_tiles,
            tiles=self.tiles,
            grain_subtracted=subtracted,
        )
