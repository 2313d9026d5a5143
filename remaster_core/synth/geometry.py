"""Per-shot telecine framing of a synthetic reel: where a film pixel lands in the broadcast raster.

Convention (also written into ``truth.json`` under ``conventions.geometry``; future evaluation code
must use ``film_to_broadcast`` / ``broadcast_to_film`` rather than re-deriving it):

- Pixel centres sit at integer coordinates in both rasters: film pixel (xf, yf) is the centre of
  column xf, row yf of the film frame; broadcast pixel (xb, yb) likewise in the 720x480 raster.
- Step 1, a 4-parameter affine (translation and non-uniform scale, no rotation), film -> undistorted
  broadcast coordinates: ``xa = sx * xf + tx``, ``ya = sy * yf + ty``.
- Step 2, a radial distortion about the broadcast raster centre ``(cx, cy) = ((W - 1) / 2, (H - 1) / 2)``,
  computed in square (display) units: with the broadcast pixel aspect ``par`` (8/9: a pixel is 8/9 as
  wide as tall) and ``r_norm`` the half-diagonal of the displayed picture (``hypot(W * par, H) / 2``,
  400 for 720x480 at 8/9),
  ``u = (xa - cx) * par / r_norm``, ``v = (ya - cy) / r_norm``, ``r_u^2 = u^2 + v^2``,
  ``(u_d, v_d) = (u, v) * (1 + k1 * r_u^2)`` (so ``r_d = r_u * (1 + k1 * r_u^2)``), then
  ``xb = cx + u_d * r_norm / par``, ``yb = cy + v_d * r_norm``.
- Sign of ``k1``: this is the usual Brown-Conrady / OpenCV convention for the undistorted -> distorted
  direction, so **k1 < 0 is barrel** distortion (points far from the centre are pulled inwards, straight
  lines bow outwards). The synthetic telecine lens is barrel with ``|k1|`` in [0.016, 0.03]: ``k1`` is
  stored negative. At the picture corner (r_u = 1) that moves a point by ``|k1| * 400`` display px.
- ``broadcast_to_film`` inverts step 2 by Newton's method on ``r_u * (1 + k1 * r_u^2) = r_d`` (monotonic
  for ``|k1| r^2 < 1/3``, far beyond the picture) and step 1 exactly; the round trip is exact to ~1e-12 px.

The degrader renders a broadcast frame by evaluating ``broadcast_to_film`` at every broadcast pixel
centre and sampling the film frame there (``remaster_core.synth.degrade``), so the truth and the picture
come from the same function.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

BROADCAST_SIZE = (720, 480)  # (W, H) of the NTSC raster
BROADCAST_PAR = 8.0 / 9.0  # pixel aspect ratio (width / height) of 720x480 shown at 4:3

GEOMETRY_CONVENTION = (
    "Pixel centres at integer coordinates in both rasters. Film pixel (xf, yf) -> broadcast (xb, yb): "
    "affine xa = sx*xf + tx, ya = sy*yf + ty; then radial distortion about (cx, cy) = ((W-1)/2, (H-1)/2) "
    "of the broadcast raster in display units: u = (xa-cx)*par/r_norm, v = (ya-cy)/r_norm, "
    "r_u^2 = u^2+v^2, (u_d, v_d) = (u, v)*(1 + k1*r_u^2), xb = cx + u_d*r_norm/par, yb = cy + v_d*r_norm; "
    "par = broadcast pixel aspect 8/9, r_norm = hypot(W*par, H)/2 = 400 (half-diagonal of the displayed "
    "4:3 picture). k1 < 0 is barrel (OpenCV sign convention). Implemented by "
    "remaster_core.synth.geometry.film_to_broadcast and its inverse broadcast_to_film."
)


@dataclass(frozen=True)
class ShotGeometry:
    """The film -> broadcast framing of one shot (see the module docstring for the exact formula).

    Attributes:
        sx, sy: scale, broadcast px per film px, horizontally and vertically (non-uniform).
        tx, ty: translation in broadcast px.
        k1: radial distortion coefficient, undistorted -> distorted; negative is barrel.
        cx, cy: distortion centre in broadcast px ((W - 1) / 2, (H - 1) / 2).
        par: broadcast pixel aspect ratio (width / height), 8/9 for NTSC.
        r_norm: normalising radius in display (square) px, the half-diagonal of the displayed picture.
    """

    sx: float
    sy: float
    tx: float
    ty: float
    k1: float
    cx: float
    cy: float
    par: float = BROADCAST_PAR
    r_norm: float = 400.0

    def to_dict(self) -> dict[str, float]:
        """Plain floats for ``truth.json``."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShotGeometry:
        """Rebuild from a ``truth.json`` ``geometry`` entry (ignores unknown keys)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: float(d[k]) for k in names if k in d})


def raster_centre_and_norm(
    size: tuple[int, int] = BROADCAST_SIZE, par: float = BROADCAST_PAR
) -> tuple[float, float, float]:
    """(cx, cy, r_norm) of a raster of ``size`` = (W, H) with pixel aspect ``par``."""
    w, h = size
    return (w - 1) / 2.0, (h - 1) / 2.0, math.hypot(w * par, h) / 2.0


def nominal_affine(
    film_size: tuple[int, int], broadcast_size: tuple[int, int] = BROADCAST_SIZE
) -> tuple[float, float, float, float]:
    """(sx, sy, tx, ty) that map the film frame edge to edge onto the broadcast raster.

    With pixel centres at integers, film edge -0.5 maps to broadcast edge -0.5 and film edge
    ``Wf - 0.5`` to ``Wb - 0.5``: ``sx = Wb / Wf``, ``tx = 0.5 * sx - 0.5`` (same vertically).
    """
    (wf, hf), (wb, hb) = film_size, broadcast_size
    sx, sy = wb / wf, hb / hf
    return sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5


def film_to_broadcast(
    xf: np.ndarray | float, yf: np.ndarray | float, geom: ShotGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Map film pixel coordinates to broadcast pixel coordinates (float64 arrays of the input shape)."""
    xf64 = np.asarray(xf, dtype=np.float64)
    yf64 = np.asarray(yf, dtype=np.float64)
    xa = geom.sx * xf64 + geom.tx
    ya = geom.sy * yf64 + geom.ty
    u = (xa - geom.cx) * geom.par / geom.r_norm
    v = (ya - geom.cy) / geom.r_norm
    f = 1.0 + geom.k1 * (u * u + v * v)
    return geom.cx + u * f * geom.r_norm / geom.par, geom.cy + v * f * geom.r_norm


def undistort_radius(r_d: np.ndarray, k1: float, iterations: int = 8) -> np.ndarray:
    """Solve ``r_u * (1 + k1 * r_u^2) = r_d`` for r_u >= 0 (Newton; float64 array like ``r_d``).

    Converges quadratically from ``r_u = r_d`` for the mild distortions used here (|k1| r^2 << 1/3).
    """
    r_d = np.asarray(r_d, dtype=np.float64)
    r = r_d.copy()
    for _ in range(iterations):
        f = r * (1.0 + k1 * r * r) - r_d
        r = r - f / (1.0 + 3.0 * k1 * r * r)
    return r


def broadcast_to_film(
    xb: np.ndarray | float, yb: np.ndarray | float, geom: ShotGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``film_to_broadcast``: broadcast pixel coordinates -> film pixel coordinates (float64)."""
    xb64 = np.asarray(xb, dtype=np.float64)
    yb64 = np.asarray(yb, dtype=np.float64)
    ud = (xb64 - geom.cx) * geom.par / geom.r_norm
    vd = (yb64 - geom.cy) / geom.r_norm
    r_d = np.hypot(ud, vd)
    r_u = undistort_radius(r_d, geom.k1)
    ratio = np.divide(r_u, r_d, out=np.ones_like(r_d), where=r_d > 0)
    xa = geom.cx + ud * ratio * geom.r_norm / geom.par
    ya = geom.cy + vd * ratio * geom.r_norm
    return (xa - geom.tx) / geom.sx, (ya - geom.ty) / geom.sy


def broadcast_sampling_maps(
    geom: ShotGeometry, broadcast_size: tuple[int, int] = BROADCAST_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Film coordinates of every broadcast pixel centre, as ``cv2.remap`` maps.

    Returns:
        (map_x, map_y): float32 (H, W) arrays for a broadcast raster of ``broadcast_size`` = (W, H).
    """
    w, h = broadcast_size
    yy, xx = np.mgrid[0:h, 0:w]
    fx, fy = broadcast_to_film(xx, yy, geom)
    return fx.astype(np.float32), fy.astype(np.float32)


def covers_broadcast(
    geom: ShotGeometry,
    film_size: tuple[int, int],
    broadcast_size: tuple[int, int] = BROADCAST_SIZE,
    margin: float = 2.0,
) -> bool:
    """True if every broadcast pixel samples inside the film frame with ``margin`` film px to spare.

    Checked on the raster border, where the extreme coordinates are (the map is monotonic).
    """
    w, h = broadcast_size
    xs = np.concatenate([np.arange(w), np.arange(w), np.zeros(h), np.full(h, w - 1)])
    ys = np.concatenate([np.zeros(w), np.full(w, h - 1), np.arange(h), np.arange(h)])
    fx, fy = broadcast_to_film(xs, ys, geom)
    wf, hf = film_size
    return bool(
        fx.min() >= margin
        and fy.min() >= margin
        and fx.max() <= wf - 1 - margin
        and fy.max() <= hf - 1 - margin
    )


def sample_geometry(
    rng: np.random.Generator,
    film_size: tuple[int, int],
    *,
    zoom_range: tuple[float, float] = (1.03, 1.07),
    shift_px: float = 4.0,
    k1_range: tuple[float, float] = (0.016, 0.03),
    broadcast_size: tuple[int, int] = BROADCAST_SIZE,
) -> ShotGeometry:
    """Draw one shot's telecine framing: slightly zoomed in (overscan), off-centre, barrel.

    ``sx``/``sy`` are the nominal edge-to-edge scales times independent factors from ``zoom_range``
    (non-uniform scale of a few percent), ``tx``/``ty`` add up to ``shift_px`` broadcast px to the
    nominal translation, and ``k1 = -U(k1_range)`` (barrel). Draws again (deterministically, from
    ``rng``) until the whole broadcast raster samples inside the film frame, so no border ever shows.
    """
    cx, cy, r_norm = raster_centre_and_norm(broadcast_size)
    sx0, sy0, _, _ = nominal_affine(film_size, broadcast_size)
    wf, hf = film_size
    for _ in range(100):
        zx, zy = rng.uniform(*zoom_range, size=2)
        dx, dy = rng.uniform(-shift_px, shift_px, size=2)
        k1 = -float(rng.uniform(*k1_range))
        sx, sy = sx0 * zx, sy0 * zy
        # Zoom about the film centre, then shift: keeps the overscan margin symmetric before the shift.
        tx = cx - sx * (wf - 1) / 2.0 + dx
        ty = cy - sy * (hf - 1) / 2.0 + dy
        geom = ShotGeometry(float(sx), float(sy), float(tx), float(ty), k1, cx, cy, BROADCAST_PAR, r_norm)
        if covers_broadcast(geom, film_size, broadcast_size):
            return geom
    raise ValueError(
        f"could not draw a telecine framing that covers the broadcast raster from a {wf}x{hf} film frame; "
        "widen zoom_range or reduce shift_px / k1_range"
    )
