"""What the film-look measures share: the high-pass residual, and where the reference is flat or textured.

Every measure looks at the same places in the render and the reference, chosen from the REFERENCE
only (so a render cannot move the goalposts by being soft or noisy):

- ``highpass``: the residual ``frame - GaussianBlur(frame, smooth_sigma)`` per channel (edges mirrored),
  what grain and fine detail live in, and the smooth picture it leaves;
- ``FramePlanes``: one frame split into square tiles of ``tile`` px (the frame's right and bottom
  leftovers are not used); each tile's structure is the RMS gradient of the reference's smoothed luma
  (code values per pixel; 3x3 Sobel / 8). A tile is *flat* below ``flat_gradient`` (what is left in its
  residual is grain, plus a little of the picture's fine structure: see ``LookParams``) and *textured*
  above ``texture_gradient``.

Luma: BT.601 weights over the R'G'B' code values, as the rest of the pipeline uses to find structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
CHANNELS = ("R", "G", "B")


@dataclass(frozen=True)
class LookParams:
    """Settings of the film-look measures (the defaults are what ``remaster evaluate`` uses).

    Attributes:
        smooth_sigma: px, the Gaussian whose residual is the high-pass picture. Its power transfer
            ``(1 - exp(-2 pi^2 sigma^2 f^2))^2`` is 0.25 at 1/16 cycle/px and 0.88 at 1/8 for 3 px: grain
            and fine detail pass, shading does not. The same filter is applied to both pictures, so
            every ratio is free of it.
        tile: px, the side of the square tiles (64: 1/64 cycle/px spectral resolution, 4 px-wide rings
            in the lowest grain band).
        flat_gradient: code values per px, the RMS gradient of the smoothed reference luma below which
            a tile is flat (0.004, one 8-bit code per px: a slow ramp or sky is flat; smoothed film
            grain of RMS 0.03 adds about 0.001). Structure finer than the smoothing (wavelengths under
            about 10 px) barely shows in this map; a flat tile's residual may hold some of it.
        texture_gradient: code values per px, the RMS gradient above which a tile is textured (0.02).
        grain_floor: code values RMS, a reference residual below this has no grain to compare to
            (0.0015: above the quantisation noise of an 8-bit file, 0.0011, and of half floats,
            0.00014 at mid grey; about 1.5 10-bit codes). Ratios to it are None, with a reason.
        bands: radial frequency bands (cycles/px) of the grain spectrum, finest first.
        level_edges: luma bin edges of grain amplitude against signal level (the first and last bins
            also take what lies below 0 and above 1).
        min_level_pixels: flat pixels a level bin needs to be measured (one tile's worth).
        profile_level_edges: luma bin edges of a grain profile's level response (``grain.profile``):
            0.1 wide, finer than the metric's (``level_edges``, which needs a flat tile's worth of
            pixels per bin), as the flat windows it is measured on hold most levels: a stock's grain
            falls by half or more from its peak level to the toe or the shoulder, and a 0.2-wide bin
            stood for a level 0.1 from where most of its pixels were.
        level_window: px, the side of the windows a grain profile measures the level response in (on
            frame differences: ``look.grain_sample.window_sample``; 16: flat windows fit between a
            picture's edges at nearly every level, and a window's 256 pixels still tell grain from
            sparse structure).
        steady_sigma: px, the Gaussian low-pass of the pictures compared frame to frame (2: grain is
            averaged away, anything the eye sees crawl or flicker is kept).
        fb_threshold: px, forward-backward flow disagreement above which a pixel is occluded or
            unreliable and left out of the steadiness.
        min_valid: fraction of reliable pixels a frame pair needs; below it (a cut, a flash, flow that
            failed) the pair is skipped and counted.
        change_floor: code values RMS, a reference that changes less than this after motion
            compensation gives no steadiness ratio (a still, noiseless reference).
    """

    smooth_sigma: float = 3.0
    tile: int = 64
    flat_gradient: float = 0.004
    texture_gradient: float = 0.02
    grain_floor: float = 0.0015
    bands: tuple[tuple[float, float], ...] = ((1 / 4, 1 / 2), (1 / 8, 1 / 4), (1 / 16, 1 / 8))
    level_edges: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    min_level_pixels: int = 4096
    profile_level_edges: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    level_window: int = 16
    steady_sigma: float = 2.0
    fb_threshold: float = 1.0
    min_valid: float = 0.5
    change_floor: float = 2e-4

    def to_dict(self) -> dict[str, object]:
        """The settings as JSON-able values."""
        return {
            "smooth_sigma": self.smooth_sigma,
            "tile": self.tile,
            "flat_gradient": self.flat_gradient,
            "texture_gradient": self.texture_gradient,
            "grain_floor": self.grain_floor,
            "bands": [list(b) for b in self.bands],
            "level_edges": list(self.level_edges),
            "min_level_pixels": self.min_level_pixels,
            "profile_level_edges": list(self.profile_level_edges),
            "level_window": self.level_window,
            "steady_sigma": self.steady_sigma,
            "fb_threshold": self.fb_threshold,
            "min_valid": self.min_valid,
            "change_floor": self.change_floor,
        }


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of float32 R'G'B' (H, W, 3): float32 (H, W)."""
    return (rgb @ _LUMA).astype(np.float32)


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of float32 (H, W) or (H, W, C), edges mirrored (``dcba|abcd``)."""
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def highpass(rgb: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(residual, smooth): ``smooth = gaussian(rgb, sigma)``, ``residual = rgb - smooth``, float32 like ``rgb``."""
    smooth = gaussian(rgb, sigma)
    return (rgb - smooth).astype(np.float32), smooth


FALLBACK_TILE = 32
"""px: the tile flat regions are looked for at when a picture has no flat tile of ``LookParams.tile``
(textured all over: the tiny reels' 480x360 frames hold 35 tiles of 64 px); four times as many tiles,
each fitting between the picture's edges more often, spectral rings ``1/32`` cycle/px apart. Both the
grain profile (``remaster_core.grain.profile``) and the grain measure (``score_sequences``) use it."""


def tiles(image: np.ndarray, tile: int) -> np.ndarray:
    """``image`` (H, W, ...) cut into whole tiles: (rows, cols, tile, tile, ...), a view where possible."""
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    cut = image[: rows * tile, : cols * tile]
    shaped = cut.reshape(rows, tile, cols, tile, *image.shape[2:])
    return np.swapaxes(shaped, 1, 2)


def tile_gradient(smooth_luma: np.ndarray, tile: int) -> np.ndarray:
    """RMS gradient (code values per px) of ``smooth_luma`` (float32 (H, W)) in each tile: (rows, cols)."""
    gx = cv2.Sobel(smooth_luma, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / np.float32(8)
    gy = cv2.Sobel(smooth_luma, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / np.float32(8)
    energy = tiles(gx * gx + gy * gy, tile)
    return np.sqrt(energy.mean(axis=(2, 3), dtype=np.float64))


def flat_tiles(smooth_luma: np.ndarray, params: LookParams) -> np.ndarray:
    """bool (rows, cols): the tiles of ``params.tile`` px of ``smooth_luma`` (float32 (H, W), the smoothed
    reference luma) whose RMS gradient is under ``params.flat_gradient``: where grain is measured. The
    one flatness rule of the look metric, the grain profile and the output-grain measure."""
    return tile_gradient(smooth_luma, params.tile) < params.flat_gradient


@dataclass(frozen=True)
class FramePlanes:
    """One render/reference frame pair prepared for the grain and detail measures.

    Attributes:
        render_residual, reference_residual: float32 (H, W, 3) high-pass residuals.
        reference_level: float32 (H, W) luma of the smoothed reference (the local signal level).
        structure: float64 (rows, cols) RMS gradient of each tile of the smoothed reference luma.
        flat, textured: bool (rows, cols), the flat and the textured tiles.
    """

    render_residual: np.ndarray
    reference_residual: np.ndarray
    reference_level: np.ndarray
    structure: np.ndarray
    flat: np.ndarray
    textured: np.ndarray


def frame_planes(render: np.ndarray, reference: np.ndarray, params: LookParams) -> FramePlanes:
    """Residuals, signal level and tile classes of one frame pair (float32 (H, W, 3), 0..1, same size)."""
    render_residual, _ = highpass(render, params.smooth_sigma)
    reference_residual, reference_smooth = highpass(reference, params.smooth_sigma)
    level = luma(reference_smooth)
    structure = tile_gradient(level, params.tile)
    return FramePlanes(
        render_residual=render_residual,
        reference_residual=reference_residual,
        reference_level=level,
        structure=structure,
        flat=structure < params.flat_gradient,
        textured=structure >= params.texture_gradient,
    )
