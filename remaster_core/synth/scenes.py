"""The film side of a synthetic reel: source photographs, camera paths, film frames with grain.

Decisions:

- Source pictures are scikit-image's bundled photographs (files inside the wheel, nothing is
  downloaded): ``SOURCE_PICTURES`` lists the colour ones that load offline. Each shot films one picture,
  so consecutive shots differ clearly (a cut is visible) while frames inside a shot only move.
- A shot's camera is a smooth path over the picture: the window centre moves on a straight line
  (a pan) and the window scale changes geometrically (a zoom), both eased by a blend of linear and
  smoothstep timing. Motion is sub-pixel and a few film px per frame. The window always stays inside
  the picture (no border is ever sampled).
- A film frame is rendered with ``cv2.warpAffine`` (Lanczos-4) from the picture: film pixel (xf, yf)
  samples picture position ``centre + scale * (xf - (Wf - 1) / 2, yf - (Hf - 1) / 2)`` (pixel centres at
  integers). When the window is larger than the film raster (scale > 1 picture px per film px) the
  picture is pre-blurred with sigma ``(scale - 1) / 2`` (scikit-image's anti-aliasing rule) first.
  The photographs are 450-1400 px wide, so at 960x720 the film is mostly an upsampled photograph: its
  fine detail is the photograph's plus the grain.
- Film grain: fresh per frame, fine (white noise blurred with sigma ``size`` px), mostly monochrome with
  a little independent colour, luminance dependent (the presets' stock: ``amplitude`` at mid grey, 0.4x
  at black and white; ``remaster synth --grain-stock drawn``: every parameter drawn from the seed,
  ``drawn_stock``).
- Film frames are float32 RGB (H, W, 3) code values in 0..1, display-referred (no transfer function is
  applied or removed), 23.976 fps progressive, square pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from remaster_core.errors import InputError


def _photos() -> Any:
    """``skimage.data``, imported when a picture is first loaded (not by ``remaster render`` or the worker)."""
    import skimage.data

    return skimage.data


# name -> loader of an (H, W, 3) uint8 RGB photograph shipped inside the scikit-image wheel.
SOURCE_PICTURES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": lambda: _photos().astronaut(),
    "coffee": lambda: _photos().coffee(),
    "chelsea": lambda: _photos().chelsea(),
    "rocket": lambda: _photos().rocket(),
    "hubble_deep_field": lambda: _photos().hubble_deep_field(),
    "immunohistochemistry": lambda: _photos().immunohistochemistry(),
    "motorcycle": lambda: _photos().stereo_motorcycle()[0],  # the left view of the stereo pair
    "retina": lambda: _photos().retina(),
}


@functools.lru_cache(maxsize=16)
def load_picture(name: str) -> np.ndarray:
    """The source photograph ``name`` as float32 RGB (H, W, 3) in 0..1 (read-only, cached)."""
    if name not in SOURCE_PICTURES:
        raise InputError(f"unknown source picture {name!r}; choose one of {', '.join(SOURCE_PICTURES)}")
    try:
        rgb8 = SOURCE_PICTURES[name]()
    except Exception as exc:  # scikit-image raises several kinds for a missing data file
        raise InputError(
            f"cannot load scikit-image's picture {name!r} ({exc}); reinstall scikit-image (the photographs "
            "ship inside its wheel)"
        ) from exc
    picture = np.ascontiguousarray(rgb8[..., :3], dtype=np.float32) / np.float32(255.0)
    picture.setflags(write=False)
    return picture


@dataclass(frozen=True)
class CameraPath:
    """A shot's camera over its picture. Positions in picture px (pixel centres at integers).

    Attributes:
        source: key of ``SOURCE_PICTURES``.
        centre_start, centre_end: picture position at the film frame centre, first and last frame.
        scale_start, scale_end: picture px per film px, first and last frame (< 1 magnifies).
        ease: 0 = constant speed, 1 = smoothstep (starts and stops gently); blended linearly between.
        n_frames: frames in the shot.
    """

    source: str
    centre_start: tuple[float, float]
    centre_end: tuple[float, float]
    scale_start: float
    scale_end: float
    ease: float
    n_frames: int

    def timing(self, frame: int) -> float:
        """Eased progress 0..1 of ``frame`` (0-based within the shot)."""
        u = frame / (self.n_frames - 1) if self.n_frames > 1 else 0.0
        return (1.0 - self.ease) * u + self.ease * u * u * (3.0 - 2.0 * u)

    def at(self, frame: int) -> tuple[float, float, float]:
        """(centre_x, centre_y, scale) at ``frame``; the scale interpolates geometrically."""
        w = self.timing(frame)
        cx = self.centre_start[0] + (self.centre_end[0] - self.centre_start[0]) * w
        cy = self.centre_start[1] + (self.centre_end[1] - self.centre_start[1]) * w
        scale = self.scale_start * (self.scale_end / self.scale_start) ** w
        return cx, cy, scale

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CameraPath:
        """A camera as ``to_dict`` wrote it into ``truth.json`` (the derived motion figures are ignored)."""
        return cls(
            source=str(d["source"]),
            centre_start=(float(d["centre_start"][0]), float(d["centre_start"][1])),
            centre_end=(float(d["centre_end"][0]), float(d["centre_end"][1])),
            scale_start=float(d["scale_start"]),
            scale_end=float(d["scale_end"]),
            ease=float(d["ease"]),
            n_frames=int(d["n_frames"]),
        )

    def to_dict(self, film_size: tuple[int, int]) -> dict[str, Any]:
        """For ``truth.json``: the parameters plus the mean motion in film px per frame."""
        d = asdict(self)
        d["centre_start"] = list(self.centre_start)
        d["centre_end"] = list(self.centre_end)
        n = max(self.n_frames - 1, 1)
        mean_scale = math.sqrt(self.scale_start * self.scale_end)
        pan = math.hypot(self.centre_end[0] - self.centre_start[0], self.centre_end[1] - self.centre_start[1])
        d["pan_px_per_frame"] = pan / mean_scale / n
        # Motion of the film frame's corner due to the zoom alone.
        half_diag = math.hypot(*film_size) / 2.0
        d["zoom_px_per_frame"] = abs(math.log(self.scale_end / self.scale_start)) * half_diag / n
        return d


def sample_camera(
    rng: np.random.Generator, source: str, film_size: tuple[int, int], n_frames: int
) -> CameraPath:
    """Draw a smooth pan and/or zoom over picture ``source`` for a shot of ``n_frames`` film frames.

    The widest window of the shot is 78-92 % of the largest that fits the picture. A shot is a pan
    (1-4 film px a frame), a zoom (the scale changes by 0.3-0.6 % a frame: the frame corners move
    0.9-1.8 px a frame at 480x360, 1.8-3.6 at 960x720) or both (0.5-2 px and 0.2-0.4 %). A pan is
    shortened if the picture has no room for it.
    """
    pic_h, pic_w = load_picture(source).shape[:2]
    wf, hf = film_size
    kind = int(rng.integers(3))  # 0 pan, 1 zoom, 2 pan + zoom
    fit = min((pic_w - 8) / (wf - 1), (pic_h - 8) / (hf - 1))
    s_max = fit * float(rng.uniform(0.78, 0.92))
    steps = max(n_frames - 1, 1)
    zoom_rate = float(
        rng.uniform(0.003, 0.006) if kind == 1 else rng.uniform(0.002, 0.004) if kind == 2 else 0.0
    )
    s_min = s_max * math.exp(-zoom_rate * steps)
    zoom_out = bool(rng.integers(2))
    s0, s1 = (s_min, s_max) if zoom_out else (s_max, s_min)
    speed = float(rng.uniform(1.0, 4.0) if kind == 0 else rng.uniform(0.5, 2.0) if kind == 2 else 0.0)
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    dist = speed * steps * math.sqrt(s0 * s1)  # picture px
    dx, dy = dist * math.cos(angle), dist * math.sin(angle)
    # Centres allowed for the widest window (Lanczos needs 3 px beyond the window).
    hw, hh = (wf - 1) / 2.0 * s_max + 3.0, (hf - 1) / 2.0 * s_max + 3.0
    x_lo, x_hi, y_lo, y_hi = hw, pic_w - 1 - hw, hh, pic_h - 1 - hh
    shrink = min(1.0, (x_hi - x_lo) / max(abs(dx), 1e-9), (y_hi - y_lo) / max(abs(dy), 1e-9))
    dx, dy = dx * shrink, dy * shrink
    x0 = float(rng.uniform(x_lo + max(0.0, -dx), x_hi - max(0.0, dx)))
    y0 = float(rng.uniform(y_lo + max(0.0, -dy), y_hi - max(0.0, dy)))
    return CameraPath(
        source=source,
        centre_start=(x0, y0),
        centre_end=(x0 + dx, y0 + dy),
        scale_start=s0,
        scale_end=s1,
        ease=float(rng.uniform(0.0, 0.3)),
        n_frames=n_frames,
    )


def render_view(
    picture: np.ndarray, centre: tuple[float, float], scale: float, film_size: tuple[int, int]
) -> np.ndarray:
    """Render the film raster's view of ``picture`` (float32 RGB (H, W, 3)) at ``centre``/``scale``.

    Returns float32 RGB (Hf, Wf, 3), values 0..1 (Lanczos overshoot is clipped).
    """
    wf, hf = film_size
    if scale > 1.0:
        sigma = (scale - 1.0) / 2.0
        picture = cv2.GaussianBlur(
            picture, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
    cx, cy = centre
    m = np.array(
        [[scale, 0.0, cx - scale * (wf - 1) / 2.0], [0.0, scale, cy - scale * (hf - 1) / 2.0]],
        dtype=np.float64,
    )
    view = cv2.warpAffine(
        picture,
        m,
        (wf, hf),
        flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.clip(view, 0.0, 1.0, out=view)


@dataclass(frozen=True)
class GrainParams:
    """Film grain. ``amplitude``: std in code values (0..1) at the strongest level; ``size``: blur sigma in
    film px; ``colour``: weight of the independent per-channel part against the monochrome part (1.0).
    Level response (``grain_level_response``): the std is ``amplitude`` at luma ``peak`` and falls to
    ``floor`` times that at black or white, whichever lies further from ``peak`` (a print's toe and
    shoulder compress the negative's grain); ``floor`` 1 is a flat response."""

    amplitude: float = 0.012
    size: float = 0.6
    colour: float = 0.35
    floor: float = 0.4
    peak: float = 0.5


def grain_level_response(lum: np.ndarray, grain: GrainParams) -> np.ndarray:
    """float32, shaped like ``lum`` (luma 0..1): the grain's std over ``grain.amplitude`` at each level,
    ``floor`` .. 1, a parabola peaking at ``peak`` (0.4 + 2.4 L (1 - L) for the defaults)."""
    half = np.float32(max(grain.peak, 1.0 - grain.peak))
    bell = np.float32(1.0) - np.square((lum - np.float32(grain.peak)) / half)
    return np.float32(grain.floor) + np.float32(1.0 - grain.floor) * np.maximum(bell, np.float32(0.0))


DRAWN_STOCK_SALT = 9
"""``drawn_stock`` draws from ``default_rng([seed, DRAWN_STOCK_SALT])``: a stream no other part of a reel uses."""


def drawn_stock(seed: int) -> GrainParams:
    """A film stock drawn from ``seed`` (``remaster synth --grain-stock drawn``): amplitude 0.005-0.03,
    size 0.4-1.2 film px, colour 0.1-0.6, level response floor 0.2-1.0 peaking at luma 0.3-0.7, each
    uniform. The presets' one stock (``GrainParams()``) is one point of these ranges."""
    rng = np.random.default_rng([seed, DRAWN_STOCK_SALT])
    return GrainParams(
        amplitude=round(float(rng.uniform(0.005, 0.03)), 5),
        size=round(float(rng.uniform(0.4, 1.2)), 3),
        colour=round(float(rng.uniform(0.1, 0.6)), 3),
        floor=round(float(rng.uniform(0.2, 1.0)), 3),
        peak=round(float(rng.uniform(0.3, 0.7)), 3),
    )


def _blur_gain(sigma: float) -> float:
    """Std of unit white noise after a 2-D Gaussian blur of ``sigma`` (as ``cv2.GaussianBlur`` does it)."""
    k = cv2.getGaussianKernel(2 * math.ceil(4 * sigma) + 1, sigma).ravel()
    return float(np.sum(k * k))


def add_grain(frame: np.ndarray, rng: np.random.Generator, grain: GrainParams) -> np.ndarray:
    """Return ``frame`` (float32 RGB (H, W, 3), 0..1) plus fresh film grain, clipped to 0..1."""
    h, w = frame.shape[:2]
    white: np.ndarray = rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(grain.colour)
    white += rng.standard_normal((h, w, 1), dtype=np.float32)
    ksize = 2 * math.ceil(4 * grain.size) + 1
    noise: np.ndarray = cv2.GaussianBlur(white, (ksize, ksize), sigmaX=grain.size, sigmaY=grain.size)
    noise *= np.float32(1.0 / (_blur_gain(grain.size) * math.sqrt(1.0 + grain.colour**2)))
    lum = frame @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    amp = np.float32(grain.amplitude) * grain_level_response(lum, grain)
    out = frame + amp[..., None] * noise
    return np.clip(out, 0.0, 1.0, out=out)


def render_film_frame(
    camera: CameraPath, frame: int, film_size: tuple[int, int], grain: GrainParams, rng: np.random.Generator
) -> np.ndarray:
    """Film frame ``frame`` (0-based within the shot): the camera's view plus grain drawn from ``rng``.

    Returns float32 RGB (Hf, Wf, 3), display-referred code values 0..1.
    """
    cx, cy, scale = camera.at(frame)
    view = render_view(load_picture(camera.source), (cx, cy), scale, film_size)
    return add_grain(view, rng, grain)
