"""Telecine warps beyond the synth's lens model: any smooth distortion a real telecine leaves, with truth.

A real telecine lens is never exactly ``geometry``'s one-parameter barrel: it has higher radial terms,
decentring, keystone, a slight rotation, a gate that drifts during a shot and weaves from frame to
frame. A ``TelecineWarp`` adds such a warp on top of a shot's ``ShotGeometry``, per frame.

Convention (also written into ``truth.json``, ``conventions.warp``, when a reel has warps):

- The warp acts on broadcast pixel coordinates before the shot's geometry is inverted: broadcast pixel
  ``xb`` (pixel centres at integers) shows the film at ``broadcast_to_film(W_k(xb), geometry)`` where
  ``W_k(xb) = xb + D_k(xb)``, k the frame within the shot. So the degrader samples the film exactly.
- ``D_k`` is computed in the geometry's display units about the broadcast raster centre:
  ``u = (xb - cx) * par / r_norm``, ``v = (yb - cy) / r_norm``, ``r2 = u^2 + v^2``. A displacement
  (du, dv) in those units is (du * r_norm / par, dv * r_norm) broadcast px. The static part, summed:

  * radial: ``(u, v) * (k1 r2 + k2 r2^2 + k3 r2^3)`` (either sign);
  * tangential (decentring, Brown-Conrady): ``(2 p1 u v + p2 (r2 + 2 u^2), p1 (r2 + 2 v^2) + 2 p2 u v)``;
  * keystone (a projective tilt): ``(u, v) / (1 + a u + b v) - (u, v)``;
  * rotation by ``rotation_deg`` about the centre: ``R (u, v) - (u, v)``;
  * a random smooth field, in broadcast px: ``sum_m (ax_m, ay_m) * cos(2 pi (fu_m u + fv_m v) + phase_m)``;

  and the part that changes with the frame, in broadcast px: a drift ``t * (dx, dy)`` plus a zoom
  ``t * ds * (xb - cx, yb - cy)`` with ``t = k / (n_frames - 1)``, and the gate weave ``weave[k]``.
- ``film_to_broadcast`` (the truth's film -> broadcast mapping, what the alignment must find) inverts
  ``W_k`` by fixed-point iteration ``xb = y - D_k(xb)`` from ``y = geometry.film_to_broadcast(xf)``:
  ``D_k`` is smooth and its gradient far below 1, so 30 iterations reach ~1e-10 px.

``sample_warp`` draws one shot's warp from a ``family`` (``FAMILIES``): one kind alone, ``all`` (every
kind at once) or ``mixed`` (each kind with probability one half, at least one), and shrinks it until the
broadcast raster samples inside the film frame. ``render_warped_shot`` renders a short shot (film with
grain, the degraded 24p broadcast) with the reel's own functions, for tests and ``bench/align.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from remaster_core.errors import InputError
from remaster_core.synth.degrade import (
    FramingMaps,
    antialias_sigmas,
    degrade_film_frame,
    low_frequency_noise,
    sample_degrade_params,
    sample_grade,
)
from remaster_core.synth.geometry import BROADCAST_SIZE, ShotGeometry, sample_geometry
from remaster_core.synth.geometry import broadcast_to_film as _geometry_to_film
from remaster_core.synth.geometry import film_to_broadcast as _geometry_to_broadcast
from remaster_core.synth.scenes import GrainParams, add_grain, load_picture, render_view

KINDS = ("radial", "tangential", "keystone", "rotation", "field", "drift", "weave")
FAMILIES = ("none", *KINDS, "all", "mixed")

WARP_CONVENTION = (
    "Broadcast pixel xb shows the film at geometry.broadcast_to_film(xb + D_k(xb)), k the frame within "
    "the shot. D_k in display units about the raster centre, u = (xb-cx)*par/r_norm, v = (yb-cy)/r_norm, "
    "r2 = u^2+v^2: radial (u,v)*(k1 r2 + k2 r2^2 + k3 r2^3); tangential (2 p1 u v + p2 (r2 + 2u^2), "
    "p1 (r2 + 2v^2) + 2 p2 u v); keystone (u,v)/(1 + a u + b v) - (u,v); rotation R(rotation_deg)(u,v) - "
    "(u,v); (du, dv) -> (du*r_norm/par, dv*r_norm) px; plus in px: field sum (ax, ay)*cos(2 pi (fu u + fv v) "
    "+ phase), drift t*(dx, dy) + t*ds*(xb-cx, yb-cy) with t = k/(n_frames-1), weave[k]. Implemented by "
    "remaster_core.synth.warps (film_to_broadcast inverts it by fixed-point iteration)."
)


@dataclass(frozen=True)
class TelecineWarp:
    """One shot's warp on top of its geometry (see the module docstring for the formula).

    Attributes:
        family: what it was drawn as (``FAMILIES``), for the record.
        radial: (k1, k2, k3) display units.
        tangential: (p1, p2) display units.
        keystone: (a, b) display units.
        rotation_deg: degrees, positive counter-clockwise on the raster (y down).
        field: modes (fu, fv, phase, ax, ay): frequencies in cycles per display unit, amplitudes in px.
        drift: (dx, dy, ds): translation (broadcast px) and relative zoom reached at the shot's last frame.
        weave: per frame (dx, dy) broadcast px (empty: none); its length is ``n_frames`` otherwise.
        n_frames: frames of the shot.
    """

    family: str
    n_frames: int
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)
    keystone: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    field: tuple[tuple[float, float, float, float, float], ...] = ()
    drift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    weave: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for ``truth.json``."""
        return {
            "family": self.family,
            "n_frames": self.n_frames,
            "radial": list(self.radial),
            "tangential": list(self.tangential),
            "keystone": list(self.keystone),
            "rotation_deg": self.rotation_deg,
            "field": [list(m) for m in self.field],
            "drift": list(self.drift),
            "weave": [list(w) for w in self.weave],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TelecineWarp:
        """Inverse of ``to_dict``."""
        return cls(
            family=str(d["family"]),
            n_frames=int(d["n_frames"]),
            radial=tuple(float(v) for v in d["radial"]),  # type: ignore[arg-type]
            tangential=tuple(float(v) for v in d["tangential"]),  # type: ignore[arg-type]
            keystone=tuple(float(v) for v in d["keystone"]),  # type: ignore[arg-type]
            rotation_deg=float(d["rotation_deg"]),
            field=tuple(tuple(float(v) for v in m) for m in d["field"]),  # type: ignore[misc]
            drift=tuple(float(v) for v in d["drift"]),  # type: ignore[arg-type]
            weave=tuple(tuple(float(v) for v in w) for w in d["weave"]),  # type: ignore[misc]
        )

    def scaled(self, factor: float) -> TelecineWarp:
        """The same warp with every displacement multiplied by ``factor`` (about; keystone and rotation
        exactly in their small-angle terms)."""
        f = float(factor)
        return replace(
            self,
            radial=tuple(f * v for v in self.radial),  # type: ignore[arg-type]
            tangential=tuple(f * v for v in self.tangential),  # type: ignore[arg-type]
            keystone=tuple(f * v for v in self.keystone),  # type: ignore[arg-type]
            rotation_deg=f * self.rotation_deg,
            field=tuple((m[0], m[1], m[2], f * m[3], f * m[4]) for m in self.field),
            drift=tuple(f * v for v in self.drift),  # type: ignore[arg-type]
            weave=tuple((f * w[0], f * w[1]) for w in self.weave),
        )

    def displacement(
        self, xb: np.ndarray, yb: np.ndarray, frame: int, geom: ShotGeometry
    ) -> tuple[np.ndarray, np.ndarray]:
        """``D_k`` at broadcast coordinates (float64 arrays like ``xb``): (dx, dy) in broadcast px."""
        xb = np.asarray(xb, np.float64)
        yb = np.asarray(yb, np.float64)
        u = (xb - geom.cx) * (geom.par / geom.r_norm)
        v = (yb - geom.cy) / geom.r_norm
        r2 = u * u + v * v
        k1, k2, k3 = self.radial
        f = r2 * (k1 + r2 * (k2 + r2 * k3))
        du, dv = u * f, v * f
        p1, p2 = self.tangential
        du = du + 2 * p1 * u * v + p2 * (r2 + 2 * u * u)
        dv = dv + p1 * (r2 + 2 * v * v) + 2 * p2 * u * v
        a, b = self.keystone
        if a or b:
            den = 1.0 + a * u + b * v
            du, dv = du + u / den - u, dv + v / den - v
        if self.rotation_deg:
            c, s = math.cos(math.radians(self.rotation_deg)), math.sin(math.radians(self.rotation_deg))
            du, dv = du + (c - 1) * u - s * v, dv + s * u + (c - 1) * v
        dx = du * (geom.r_norm / geom.par)
        dy = dv * geom.r_norm
        for fu, fv, phase, ax, ay in self.field:
            wave = np.cos(2 * math.pi * (fu * u + fv * v) + phase)
            dx, dy = dx + ax * wave, dy + ay * wave
        t = frame / (self.n_frames - 1) if self.n_frames > 1 else 0.0
        ddx, ddy, ds = self.drift
        dx = dx + t * (ddx + ds * (xb - geom.cx))
        dy = dy + t * (ddy + ds * (yb - geom.cy))
        if self.weave:
            wx, wy = self.weave[frame]
            dx, dy = dx + wx, dy + wy
        return dx, dy


def broadcast_to_film(
    xb: np.ndarray | float, yb: np.ndarray | float, geom: ShotGeometry, warp: TelecineWarp | None, frame: int
) -> tuple[np.ndarray, np.ndarray]:
    """Film coordinates (float64) shown at broadcast coordinates ``(xb, yb)`` in frame ``frame``."""
    xb = np.asarray(xb, np.float64)
    yb = np.asarray(yb, np.float64)
    if warp is None:
        return _geometry_to_film(xb, yb, geom)
    dx, dy = warp.displacement(xb, yb, frame, geom)
    return _geometry_to_film(xb + dx, yb + dy, geom)


def film_to_broadcast(
    xf: np.ndarray | float,
    yf: np.ndarray | float,
    geom: ShotGeometry,
    warp: TelecineWarp | None,
    frame: int,
    iterations: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """The truth's film -> broadcast mapping of frame ``frame`` (float64 arrays like ``xf``).

    Fixed-point inversion of ``W_k``: ``xb = y - D_k(xb)`` from ``y = geometry.film_to_broadcast(xf)``.
    """
    yx, yy = _geometry_to_broadcast(xf, yf, geom)
    if warp is None:
        return yx, yy
    xb, yb = yx.copy(), yy.copy()
    for _ in range(iterations):
        dx, dy = warp.displacement(xb, yb, frame, geom)
        xb, yb = yx - dx, yy - dy
    return xb, yb


def truth_maps(
    geom: ShotGeometry, warp: TelecineWarp | None, frame: int, film_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """float64 (Hf, Wf) broadcast coordinates of every film pixel centre in frame ``frame``."""
    w, h = film_size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return film_to_broadcast(xx, yy, geom, warp, frame)


def framing_maps(
    geom: ShotGeometry,
    warp: TelecineWarp | None,
    frame: int,
    broadcast_size: tuple[int, int] = BROADCAST_SIZE,
) -> FramingMaps:
    """The degrader's ``FramingMaps`` of frame ``frame`` (film coordinates of every broadcast pixel)."""
    w, h = broadcast_size
    yy, xx = np.mgrid[0:h, 0:w]
    fx, fy = broadcast_to_film(xx, yy, geom, warp, frame)
    sigma_x, sigma_y = antialias_sigmas(geom)
    return FramingMaps(fx.astype(np.float32), fy.astype(np.float32), sigma_x, sigma_y)


def covers(
    geom: ShotGeometry,
    warp: TelecineWarp | None,
    film_size: tuple[int, int],
    broadcast_size: tuple[int, int] = BROADCAST_SIZE,
    margin: float = 0.5,
) -> bool:
    """True if, in every frame, the whole broadcast raster samples inside the film with ``margin`` px."""
    w, h = broadcast_size
    xs = np.concatenate([np.arange(w), np.arange(w), np.zeros(h), np.full(h, w - 1)]).astype(np.float64)
    ys = np.concatenate([np.zeros(w), np.full(w, h - 1), np.arange(h), np.arange(h)]).astype(np.float64)
    wf, hf = film_size
    frames = range(warp.n_frames) if warp is not None else (0,)
    for k in frames:
        fx, fy = broadcast_to_film(xs, ys, geom, warp, k)
        if fx.min() < margin or fy.min() < margin or fx.max() > wf - 1 - margin or fy.max() > hf - 1 - margin:
            return False
    return True


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def sample_warp(
    rng: np.random.Generator,
    family: str,
    n_frames: int,
    geom: ShotGeometry,
    film_size: tuple[int, int],
    broadcast_size: tuple[int, int] = BROADCAST_SIZE,
) -> TelecineWarp | None:
    """Draw one shot's warp of ``family`` (None for ``none``), shrunk (by 0.85 at a time) until every
    broadcast pixel of every frame samples inside the film (``covers``; ``geometry.sample_geometry``
    leaves at least 2 film px).

    Ranges (each kind, when drawn): radial k1 +-[0.01, 0.03], k2 +-[0, 0.015], k3 +-[0, 0.008] (either
    way, so the lens can end up barrel or pincushion and not of the geometry's shape); tangential
    p1, p2 +-[0.002, 0.006] (1-2.5 px at the corners); keystone a, b +-[0.005, 0.02]; rotation
    +-[0.2, 1.0] degree; a field of 3 random modes (0.3-1.2 cycles across the picture) whose peak is
    1-3 px; a drift reaching 0.5-2 px and a zoom of 0.1-0.3 % by the last frame; a gate weave of
    independent per-frame offsets, Gaussian with sigma 0.4 px, clipped to 1 px.
    """
    if family not in FAMILIES:
        raise InputError(f"unknown telecine warp {family!r}; choose one of {', '.join(FAMILIES)}")
    if family == "none":
        return None
    if family == "all":
        kinds = set(KINDS)
    elif family == "mixed":
        kinds = {k for k in KINDS if rng.random() < 0.5} or {KINDS[int(rng.integers(len(KINDS)))]}
    else:
        kinds = {family}
    fields: dict[str, Any] = {}
    if "radial" in kinds:
        fields["radial"] = (
            _sign(rng) * float(rng.uniform(0.01, 0.03)),
            _sign(rng) * float(rng.uniform(0.0, 0.015)),
            _sign(rng) * float(rng.uniform(0.0, 0.008)),
        )
    if "tangential" in kinds:
        fields["tangential"] = (_sign(rng) * float(rng.uniform(0.002, 0.006)),
                                _sign(rng) * float(rng.uniform(0.002, 0.006)))  # fmt: skip
    if "keystone" in kinds:
        fields["keystone"] = (_sign(rng) * float(rng.uniform(0.005, 0.02)),
                              _sign(rng) * float(rng.uniform(0.005, 0.02)))  # fmt: skip
    if "rotation" in kinds:
        fields["rotation_deg"] = _sign(rng) * float(rng.uniform(0.2, 1.0))
    if "field" in kinds:
        modes = []
        for _ in range(3):
            fu, fv = rng.uniform(-0.6, 0.6, size=2)
            ang = rng.uniform(0, 2 * math.pi)
            modes.append(
                [float(fu), float(fv), float(rng.uniform(0, 2 * math.pi)), math.cos(ang), math.sin(ang)]
            )
        peak = float(rng.uniform(1.0, 3.0))
        total = sum(math.hypot(m[3], m[4]) for m in modes)
        fields["field"] = tuple((m[0], m[1], m[2], m[3] * peak / total, m[4] * peak / total) for m in modes)
    if "drift" in kinds:
        ang = float(rng.uniform(0, 2 * math.pi))
        amount = float(rng.uniform(0.5, 2.0))
        fields["drift"] = (
            amount * math.cos(ang),
            amount * math.sin(ang),
            _sign(rng) * float(rng.uniform(0.001, 0.003)),
        )
    if "weave" in kinds:
        jitter = np.clip(rng.normal(0.0, 0.4, (n_frames, 2)), -1.0, 1.0)
        fields["weave"] = tuple((float(a), float(b)) for a, b in jitter)
    warp = TelecineWarp(family=family, n_frames=n_frames, **fields)
    for _ in range(20):
        if covers(geom, warp, film_size, broadcast_size):
            return warp
        warp = warp.scaled(0.85)
    raise ValueError(f"could not fit a {family} warp inside a {film_size[0]}x{film_size[1]} film frame")


# --- short shots for tests and the benchmark ------------------------------------------------------------

# Real photographs shipped inside the scikit-image wheel that the reel's scenes never use
# (``scenes.SOURCE_PICTURES`` are the others): held out, so the alignment is checked on pictures it was
# not tuned on. Grey ones are made RGB.
HELD_OUT_PICTURES: dict[str, Callable[[], np.ndarray]] = {
    "camera": lambda: _skimage_data().camera(),
    "coins": lambda: _skimage_data().coins(),
    "moon": lambda: _skimage_data().moon(),
    "brick": lambda: _skimage_data().brick(),
    "grass": lambda: _skimage_data().grass(),
    "gravel": lambda: _skimage_data().gravel(),
    "motorcycle_right": lambda: _skimage_data().stereo_motorcycle()[1],
}


def _skimage_data() -> Any:
    import skimage.data

    return skimage.data


def picture(name: str) -> np.ndarray:
    """A source picture float32 RGB (H, W, 3) 0..1: the reel's (``scenes``) or a held-out one."""
    if name not in HELD_OUT_PICTURES:
        return load_picture(name)
    img = np.asarray(HELD_OUT_PICTURES[name]())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3], dtype=np.float32) / np.float32(255.0)


@dataclass(frozen=True)
class WarpedShot:
    """A rendered shot: film float32 RGB (Hf, Wf, 3) frames, broadcast 24p frames float32 RGB (480, 720, 3)
    (8-bit values / 255), the geometry, the warp (None: none) and the source picture's name."""

    film: list[np.ndarray]
    broadcast: list[np.ndarray]
    geometry: ShotGeometry
    warp: TelecineWarp | None
    source: str

    def truth_maps(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """float64 (Hf, Wf) the true film -> broadcast mapping of frame ``frame``."""
        h, w = self.film[0].shape[:2]
        return truth_maps(self.geometry, self.warp, frame, (w, h))


def render_warped_shot(
    seed: int,
    family: str,
    n_frames: int,
    film_size: tuple[int, int] = (960, 720),
    source: str = "astronaut",
    *,
    film_fn: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> WarpedShot:
    """Render a shot of ``n_frames`` over picture ``source`` with a warp of ``family``, the way the reel
    is made (grain, framing, grade, lens blur, chroma loss, tape noise), from ``seed``.

    The camera pans 1-3 film px a frame in a random direction and zooms by up to 0.3 % a frame over
    82-92 % of the largest window that fits the picture. ``film_fn(k, film)`` may replace film frame k
    after the broadcast was made from it (bad input: a changed picture).
    """
    rng = np.random.default_rng([seed, 40])
    pic = picture(source)
    ph, pw = pic.shape[:2]
    wf, hf = film_size
    fit = min((pw - 8) / (wf - 1), (ph - 8) / (hf - 1))
    s0 = fit * float(rng.uniform(0.82, 0.92))
    zoom = float(rng.uniform(-0.003, 0.003))
    speed = float(rng.uniform(1.0, 3.0)) * s0
    ang = float(rng.uniform(0, 2 * math.pi))
    steps = max(n_frames - 1, 1)
    s_end = s0 * math.exp(-abs(zoom) * steps)
    hw, hh = (wf - 1) / 2 * s0 + 3, (hf - 1) / 2 * s0 + 3
    dx, dy = speed * steps * math.cos(ang), speed * steps * math.sin(ang)
    room_x, room_y = max(pw - 1 - 2 * hw, 0.0), max(ph - 1 - 2 * hh, 0.0)
    shrink = min(1.0, room_x / max(abs(dx), 1e-9), room_y / max(abs(dy), 1e-9))
    dx, dy = dx * shrink, dy * shrink
    x0 = float(rng.uniform(hw + max(0.0, -dx), pw - 1 - hw - max(0.0, dx))) if room_x > 0 else (pw - 1) / 2
    y0 = float(rng.uniform(hh + max(0.0, -dy), ph - 1 - hh - max(0.0, dy))) if room_y > 0 else (ph - 1) / 2
    geometry = sample_geometry(rng, film_size)
    warp = sample_warp(rng, family, n_frames, geometry, film_size)
    grade = sample_grade(rng)
    params = sample_degrade_params(rng)
    lf = low_frequency_noise(np.random.default_rng([seed, 42]), params)
    film, broadcast = [], []
    for k in range(n_frames):
        w = k / steps
        scale = s0 * (s_end / s0) ** w if zoom >= 0 else s_end * (s0 / s_end) ** w
        view = render_view(pic, (x0 + dx * w, y0 + dy * w), scale, film_size)
        f = add_grain(view, np.random.default_rng([seed, 41, k]), GrainParams())
        maps = framing_maps(geometry, warp, k)
        b = degrade_film_frame(f, maps, grade, params, next(lf), np.random.default_rng([seed, 43, k]))
        if film_fn is not None:
            f = film_fn(k, f)
        film.append(f)
        broadcast.append(b.astype(np.float32) / np.float32(255.0))
    return WarpedShot(film, broadcast, geometry, warp, source)


def resize_film(shot: WarpedShot, film_size: tuple[int, int]) -> WarpedShot:
    """The same shot with its film rescanned at ``film_size`` (area / cubic resize) and the truth
    rescaled to it (geometry scales and translation; the warp acts on the broadcast, unchanged)."""
    h, w = shot.film[0].shape[:2]
    fx, fy = film_size[0] / w, film_size[1] / h
    geom = shot.geometry
    # film pixel xf' = (xf + 0.5) * fx - 0.5 -> xf = (xf' + 0.5) / fx - 0.5
    g = replace(
        geom,
        sx=geom.sx / fx,
        sy=geom.sy / fy,
        tx=geom.tx + geom.sx * (0.5 / fx - 0.5),
        ty=geom.ty + geom.sy * (0.5 / fy - 0.5),
    )
    interp = cv2.INTER_AREA if fx < 1 else cv2.INTER_CUBIC
    film = [np.clip(cv2.resize(f, film_size, interpolation=interp), 0, 1) for f in shot.film]
    return WarpedShot(film, shot.broadcast, g, shot.warp, shot.source)
