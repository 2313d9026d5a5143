"""The output -> broadcast mapping of a shot: its convention, the nominal transform, and the resampling.

Convention (written into ``align.json`` as ``conventions``; the renderer uses the same functions):

- Pixel centres sit at integer coordinates in both rasters. The *output raster* is the film scan's
  (square pixels); the *broadcast raster* is the conformed frame's (e.g. 720x480 with pixel aspect 8/9,
  a pixel 8/9 as wide as tall).
- Every mapping goes from output (film) pixel coordinates to broadcast pixel coordinates, the direction
  a resampler needs: output pixel (x, y) takes the broadcast's value at (xb, yb).
- ``Transform4`` (tx, ty, sx, sy): ``xb = sx * x + tx``, ``yb = sy * y + ty`` (translation and
  non-uniform scale, no rotation). Pixel aspect lives in the scales: a 960x720 output of a 720x480 8/9
  broadcast has sx = 0.75, sy = 0.667.
- ``Radial`` (optional, aligned shots only): lens distortion applied *after* the affine step, about the
  broadcast raster centre ``(cx, cy) = ((W - 1) / 2, (H - 1) / 2)`` in display (square) units: with
  ``r_norm = hypot(W * par, H) / 2``, ``u = (xa - cx) * par / r_norm``, ``v = (ya - cy) / r_norm``,
  ``(u, v) *= 1 + k1 * (u^2 + v^2)``, back to pixels. k1 < 0 is barrel (OpenCV's sign). This is the
  telecine lens model of ``remaster_core.synth.geometry``; ``Transform4`` is then exactly the affine part.
- The dense step adds a smooth per-frame residual in broadcast pixels on top (``pipeline``); the
  written input frames include it, ``align.json`` records its statistics.

Shots without film get ``nominal_transform``: a plain scale that fits the whole broadcast picture into
the output raster, centred, honouring the broadcast pixel aspect (equal display scale on both axes).
It is a ``Transform4`` like the aligned shots' so the renderer has one code path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

CONVENTION = (
    "Pixel centres at integer coordinates in both rasters. Every mapping goes from output (film) pixel "
    "(x, y) to broadcast pixel (xb, yb), the direction a resampler needs. transform: xb = sx*x + tx, "
    "yb = sy*y + ty (pixel aspect is in the scales). distortion (aligned shots): after the affine step, "
    "radial about the broadcast raster centre (cx, cy) = ((W-1)/2, (H-1)/2) in display units: "
    "u = (xa-cx)*par/r_norm, v = (ya-cy)/r_norm, (u, v) *= 1 + k1*(u^2+v^2), xb = cx + u*r_norm/par, "
    "yb = cy + v*r_norm, r_norm = hypot(W*par, H)/2; k1 < 0 is barrel. The input frames also include a "
    "smooth per-frame residual (dense alignment) added in broadcast pixels. Shots without film: the "
    "nominal transform, the broadcast picture fitted into the output raster, centred, with equal display "
    "scale on both axes. Resampling: bilinear (cv2.remap), values as stored (no colour conversion)."
)


@dataclass(frozen=True)
class Transform4:
    """Output (film) pixel (x, y) -> broadcast pixel: ``xb = sx * x + tx``, ``yb = sy * y + ty``.

    Attributes:
        tx, ty: translation in broadcast pixels.
        sx, sy: broadcast pixels per output pixel, horizontally and vertically.
    """

    tx: float
    ty: float
    sx: float
    sy: float

    def apply(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Broadcast coordinates (float64 arrays like ``x``) of output coordinates ``(x, y)``."""
        return self.sx * np.asarray(x, np.float64) + self.tx, self.sy * np.asarray(y, np.float64) + self.ty

    def invert(self, xb: np.ndarray | float, yb: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Output coordinates (float64) of broadcast coordinates ``(xb, yb)``."""
        return (np.asarray(xb, np.float64) - self.tx) / self.sx, (
            np.asarray(yb, np.float64) - self.ty
        ) / self.sy

    def to_dict(self) -> dict[str, float]:
        """``{"tx", "ty", "sx", "sy"}`` as plain floats (for ``align.json``)."""
        return {"tx": float(self.tx), "ty": float(self.ty), "sx": float(self.sx), "sy": float(self.sy)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transform4:
        """Inverse of ``to_dict`` (extra keys ignored)."""
        return cls(float(d["tx"]), float(d["ty"]), float(d["sx"]), float(d["sy"]))


@dataclass(frozen=True)
class Radial:
    """Radial lens distortion about the broadcast raster centre (see the module docstring).

    Attributes:
        k1: coefficient, undistorted -> distorted; negative is barrel, 0 is none.
        cx, cy: centre in broadcast pixels.
        par: broadcast pixel aspect (width / height).
        r_norm: normalising radius in display (square) pixels, the half-diagonal of the picture.
    """

    k1: float
    cx: float
    cy: float
    par: float
    r_norm: float

    @classmethod
    def for_raster(cls, size: tuple[int, int], par: float, k1: float = 0.0) -> Radial:
        """The distortion of a broadcast raster of ``size`` = (W, H) and pixel aspect ``par``."""
        w, h = size
        return cls(float(k1), (w - 1) / 2.0, (h - 1) / 2.0, float(par), math.hypot(w * par, h) / 2.0)

    def with_k1(self, k1: float) -> Radial:
        """The same centre and normalisation with another coefficient."""
        return Radial(float(k1), self.cx, self.cy, self.par, self.r_norm)

    def apply(self, xa: np.ndarray, ya: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distort undistorted broadcast coordinates (float64 arrays of the input shape)."""
        u = (np.asarray(xa, np.float64) - self.cx) * (self.par / self.r_norm)
        v = (np.asarray(ya, np.float64) - self.cy) / self.r_norm
        f = 1.0 + self.k1 * (u * u + v * v)
        return self.cx + u * f * (self.r_norm / self.par), self.cy + v * f * self.r_norm

    def invert(self, xb: np.ndarray, yb: np.ndarray, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Undistort broadcast coordinates (float64): Newton on ``r_u (1 + k1 r_u^2) = r_d``.

        Converges for ``|k1| r^2 < 1/3`` (far beyond the picture for any plausible telecine lens).
        """
        ud = (np.asarray(xb, np.float64) - self.cx) * (self.par / self.r_norm)
        vd = (np.asarray(yb, np.float64) - self.cy) / self.r_norm
        r_d = np.hypot(ud, vd)
        r = r_d.copy()
        for _ in range(iterations):
            r = r - (r * (1.0 + self.k1 * r * r) - r_d) / (1.0 + 3.0 * self.k1 * r * r)
        ratio = np.divide(r, r_d, out=np.ones_like(r_d), where=r_d > 0)
        return self.cx + ud * ratio * (self.r_norm / self.par), self.cy + vd * ratio * self.r_norm

    def to_dict(self) -> dict[str, float]:
        """Plain floats for ``align.json``."""
        return {"k1": float(self.k1), "cx": self.cx, "cy": self.cy, "par": self.par, "r_norm": self.r_norm}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Radial:
        """Inverse of ``to_dict``."""
        return cls(float(d["k1"]), float(d["cx"]), float(d["cy"]), float(d["par"]), float(d["r_norm"]))


def map_points(
    x: np.ndarray, y: np.ndarray, transform: Transform4, radial: Radial | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast coordinates (float64) of output coordinates through ``transform`` then ``radial``."""
    xa, ya = transform.apply(x, y)
    if radial is None or radial.k1 == 0.0:
        return xa, ya
    return radial.apply(xa, ya)


def nominal_transform(
    broadcast_size: tuple[int, int], broadcast_par: float, out_size: tuple[int, int]
) -> Transform4:
    """The plain scale that fits the broadcast picture into the output raster, centred.

    The display scale (output pixels per broadcast display unit) is the same on both axes, so shapes
    keep their proportions: ``k = min(Wo / (Wb * par), Ho / Hb)``, ``sx = 1 / (k * par)``,
    ``sy = 1 / k``, and the raster centres coincide. When the display aspects agree (720x480 at 8/9 into
    960x720) this is edge to edge: ``sx = Wb / Wo``, ``tx = 0.5 * sx - 0.5``. When they differ, the
    broadcast is letter- or pillar-boxed (the renderer's samples outside it are black).

    Args:
        broadcast_size: (W, H) of the broadcast raster.
        broadcast_par: its pixel aspect (width / height), 8/9 for NTSC 720x480 at 4:3.
        out_size: (W, H) of the output raster (square pixels).
    """
    (wb, hb), (wo, ho) = broadcast_size, out_size
    if min(wb, hb, wo, ho) <= 0 or broadcast_par <= 0:
        raise ValueError(
            f"nominal_transform: bad sizes {broadcast_size}, {out_size} or aspect {broadcast_par}"
        )
    k = min(wo / (wb * broadcast_par), ho / hb)
    sx, sy = 1.0 / (k * broadcast_par), 1.0 / k
    return Transform4((wb - 1) / 2.0 - sx * (wo - 1) / 2.0, (hb - 1) / 2.0 - sy * (ho - 1) / 2.0, sx, sy)


def output_grid(out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of an output raster of ``out_size`` = (W, H): float64 (H, W) x and y."""
    w, h = out_size
    yy, xx = np.mgrid[0:h, 0:w]
    return xx.astype(np.float64), yy.astype(np.float64)


def sampling_maps(
    transform: Transform4,
    out_size: tuple[int, int],
    radial: Radial | None = None,
    residual: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast coordinates of every output pixel centre, as ``cv2.remap`` maps.

    Args:
        transform: the affine step.
        out_size: (W, H) of the output raster.
        radial: optional lens distortion after the affine step.
        residual: optional (dx, dy) float (H, W) arrays added in broadcast pixels (the dense step).

    Returns:
        (map_x, map_y): float32 (H, W).
    """
    xx, yy = output_grid(out_size)
    mx, my = map_points(xx, yy, transform, radial)
    if residual is not None:
        mx = mx + residual[0]
        my = my + residual[1]
    return mx.astype(np.float32), my.astype(np.float32)


def resample(
    broadcast: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, *, border: str = "replicate"
) -> np.ndarray:
    """Bilinear resampling of a broadcast frame through ``sampling_maps``.

    Args:
        broadcast: float32 (Hb, Wb, C) or (Hb, Wb), values as stored (no clipping, no conversion).
        map_x, map_y: float32 (H, W) broadcast coordinates of each output pixel.
        border: "replicate" (edge pixels continue: for training inputs, whose mask flags them) or
            "black" (zero outside the broadcast: for renders of letterboxed nominal transforms).

    Returns:
        float32 array (H, W, C) (or (H, W)), same channel count as ``broadcast``.

    OpenCV interpolates at 1/32-pixel steps (its ``INTER_BITS``): at most 1/64 px of position error.
    """
    if border not in ("replicate", "black"):
        raise ValueError(f"resample: border must be 'replicate' or 'black', not {border!r}")
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    src = np.ascontiguousarray(broadcast, dtype=np.float32)
    out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=mode, borderValue=0)
    if src.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out


def inside_broadcast(
    map_x: np.ndarray, map_y: np.ndarray, broadcast_size: tuple[int, int], margin: float = 1.0
) -> np.ndarray:
    """bool (H, W): where the maps sample at least ``margin`` broadcast px inside the broadcast raster."""
    w, h = broadcast_size
    return (map_x >= margin) & (map_y >= margin) & (map_x <= w - 1 - margin) & (map_y <= h - 1 - margin)
