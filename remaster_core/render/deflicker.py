"""Temporal deflicker of the broadcast before the model: its low band averaged over neighbouring frames.

A tape transfer carries noise that is low in spatial frequency and slow in time (the synthetic
broadcasts model it as an AR(1) field, lag-1 correlation 0.85-0.95, 2.5-4 8-bit code values) and the
coding adds its own per-frame noise. The model cannot tell either from the picture on one frame (its
trunk may not move the local mean: ``training.model.mean_bound``), so it passes them on, and the
render flickers and boils where the film is steady (``remaster_core.look.steadiness``). The film's
picture, though, is the same from one frame to the next once its motion is followed, and the noise
is not. So each frame's low band (a Gaussian of ``DeflickerParams.sigma`` px at the input raster) is
replaced by a weighted mean of the low bands of its neighbours within ``radius`` frames, each warped
onto it by optical flow (DIS on the luma's band between ``GUIDE_FINE`` and ``GUIDE_COARSE`` times the
low band's sigma, at most ``FLOW_WIDTH`` px wide; see ``_flow_guide``):

    out = frame - low(frame) + sum_k w_k * warp_k(low(frame_k)) / sum_k w_k      (w = 1 for the frame itself)

Per pixel, ``w_k = exp(-(d / (tau * s))^2 / 2)`` where ``d`` is the warped neighbour's difference from the
frame's own low band (largest over R'G'B') and ``s`` the noise level: the smallest median ``d`` over the
window's neighbours (the likeliest same-shot, well-followed one). A neighbour whose warped low band does
not correlate with the frame's (normalised cross-correlation of luma under ``min_correlation``: another
shot, a flash, flow that failed) or whose median ``d`` is more than ``cut_ratio`` times ``s`` is left out
whole. Occlusions and motion the flow misses get small weights; a frame with no usable neighbour comes
out unchanged. What is above the low band (detail, grain) is the frame's own.

The sigma (2.5 px) is chosen by measurement on ``bench/grain.py``'s tuning seeds 1-3 (held-out shot, a
300-step lite model, with the grain deficit synthesised): 1.5 px steadies more but averages away the
film's coarse grain that the broadcast carries and the model reproduces (seed 2's middle octave band
0.75 of the film's), 4 px keeps the grain and steadies less (seed 3: 1.31). Figures in
docs/training.md ("Steadiness"). Measured since on motion-compensated frame differences, 2.5 px takes
most of the coarse grain too; the render synthesises it back (``render.chunk.frame_grain`` with
``passed_power``: the share of new-every-frame grain the deflicker leaves).

Each frame's output depends only on the input frames within ``radius`` of it, so a render in chunks
reads up to ``radius`` frames beyond each chunk and gives the same frames as one chunk.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.errors import InputError
from remaster_core.look.regions import gaussian, luma

FLOW_WIDTH = 360
"""px: the flow's guide is downscaled to at most this wide."""

GUIDE_FINE = 0.25
GUIDE_COARSE = 2.0
"""The flow is found on the luma's band between Gaussians of these times ``DeflickerParams.sigma``
(``_flow_guide``): the picture's detail, without the low band, where the slow tape noise lies, nor the
finest noise. On the low band itself (as before), slow noise that stays put on the screen pulls the flow
towards standing still where the picture is plain: the neighbours came back misplaced, their mean
lagged the picture, and the output's low band kept changing where the film's does not. Measured with
``bench/grain.py`` (held-out shot, steadiness of the output with both deflickers at radius 4, clean /
with the grain deficit): tuning seed 15, 0.85 / 1.27 on the low band, 0.53 / 1.09 on this band,
0.40 / 1.03 with the film's own flow (an oracle); a coarse edge of 3 sigma gave 0.59 / 1.12."""


OUTPUT_SIGMA = 2.0
"""px at the output raster: the output deflicker's low band (``remaster render --deflicker-output``).
The model turns the input's fine noise into slow change of its output's low band that no deflicker of
the input reaches; averaging the output's low band over neighbouring frames takes it out. Measured with
``bench/grain.py --deflicker 4 --deflicker-output 4`` on grain seeds 1-5 and 7-10 (docs/training.md)."""

MAX_RADIUS = 8
"""The largest deflicker radius, frames each side (``remaster render --deflicker``, the worker's
``deflicker``, the Nuke node's knob)."""


def deflicker_window(frame: int, radius: int, held: Container[int]) -> list[int]:
    """The input frames within ``radius`` of ``frame`` that the input holds (``held``; ``frame`` included),
    in order. A frame's deflicker reads these whatever chunk it is in, so chunking does not change it."""
    return [g for g in range(frame - radius, frame + radius + 1) if g in held]


def deflicker_reads(frames: Iterable[int], radius: int, held: Container[int]) -> list[int]:
    """Every input frame a deflicker of ``radius`` reads to render ``frames``, sorted: the frames
    themselves and their ``deflicker_window`` s."""
    todo = set(frames)
    return sorted({g for f in todo for g in deflicker_window(f, radius, held)} | todo)


@dataclass(frozen=True)
class DeflickerParams:
    """Attributes:
    radius: frames each side averaged with a frame (0: off).
    sigma: px at the raster it runs on (the input's, or the output's for the output deflicker), the
        Gaussian whose band is averaged over time.
    tau: a neighbour's pixel keeps weight exp(-1/2) at ``tau`` times the noise level.
    cut_ratio: a neighbour whose median difference exceeds this times the noise level is left out.
    min_correlation: a neighbour whose warped low luma correlates less than this is left out.
    """

    radius: int = 2
    sigma: float = 2.5
    tau: float = 3.0
    cut_ratio: float = 4.0
    min_correlation: float = 0.9

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, int) and 0 <= self.radius <= MAX_RADIUS):
            raise InputError(
                f"deflicker radius must be a whole number of frames from 0 to {MAX_RADIUS}, got {self.radius!r}"
            )
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise InputError(f"deflicker sigma must be > 0 px, got {self.sigma!r}")

    @property
    def off(self) -> bool:
        return self.radius == 0


def passed_power(frequencies: np.ndarray, params: DeflickerParams, scale: float) -> np.ndarray:
    """The share of noise new in every frame (film grain the model reproduces) that the deflicker
    leaves, at ``frequencies`` (float64, cycles per output px), every neighbour used at equal weight.

    The frame's low band (transfer ``G``) is replaced by the mean of ``2 r + 1`` frames' low bands, so
    the frame keeps ``1 - (1 - k) G`` of its own noise and gets ``k G`` of each neighbour's: power
    ``(1 - (1 - k) G)^2 + k (1 - k) G^2`` with ``k = 1 / (2 r + 1)``, ``G = exp(-2 pi^2 (sigma scale)^2 f^2)``
    (``scale``: output px per input px; the deflicker runs at the input raster). 1 when it is off.
    Neighbours left out (cuts, occlusions) or weighed down leave more than this.
    """
    f = np.asarray(frequencies, np.float64)
    if params.off:
        return np.ones_like(f)
    k = 1.0 / (2 * params.radius + 1)
    g = np.exp(-2.0 * np.pi**2 * (params.sigma * scale) ** 2 * f**2)
    return (1.0 - (1.0 - k) * g) ** 2 + k * (1.0 - k) * g**2


def _band(frame: np.ndarray, sigma: float, scale: float) -> np.ndarray:
    """The luma band of ``frame`` (float32 (H, W, 3)) the flow follows (``GUIDE_FINE``..``GUIDE_COARSE``
    times ``sigma`` px of ``frame``), float32 (h, w), downscaled by ``scale`` first (the Gaussians run
    on the smaller picture)."""
    y = luma(frame)
    if scale < 1.0:
        y = cv2.resize(y, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gaussian(y, GUIDE_FINE * sigma * scale) - gaussian(y, GUIDE_COARSE * sigma * scale)


def _flow_guide(band: np.ndarray, spread: float) -> np.ndarray:
    """uint8 picture of ``band`` (``_band``) for DIS: 4 ``spread`` (the centre frame's robust standard
    deviation of its band, the same for every frame of a window) either side of mid-grey."""
    return np.clip(127.5 + band * np.float32(127.5 / (4.0 * spread)), 0, 255).astype(np.uint8)


def _spread(band: np.ndarray) -> float:
    """Robust standard deviation of ``band`` (1.4826 x its median absolute value), at least 1e-4."""
    return max(1.4826 * float(np.median(np.abs(band))), 1e-4)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else 0.0


def deflicker_frame(window: Sequence[np.ndarray | None], centre: int, params: DeflickerParams) -> np.ndarray:
    """The frame ``window[centre]`` with its low band averaged over the other frames of ``window``.

    Args:
        window: float32 (H, W, 3) frames in time order, the same size (None: a frame that could not be
            read, left out); any colour space in which noise adds (the render's working space).
        centre: index of the frame to deflicker in ``window``.
        params: the settings (``radius`` is the caller's: every frame of ``window`` is used).

    Returns:
        float32 (H, W, 3), a new array (the frame itself, copied, when no neighbour is usable).
    """
    frame = window[centre]
    if frame is None:
        raise ValueError("the centre frame of a deflicker window must be present")
    frame = np.asarray(frame, np.float32)
    h, w = frame.shape[:2]
    others = [k for k, f in enumerate(window) if k != centre and f is not None and f.shape == frame.shape]
    if not others:
        return frame.copy()
    scale = min(1.0, FLOW_WIDTH / w)
    low_c = gaussian(frame, params.sigma)
    y_c = luma(low_c)
    band_c = _band(frame, params.sigma, scale)
    spread = _spread(band_c)
    guide_c = _flow_guide(band_c, spread)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped: list[np.ndarray] = []
    diffs: list[np.ndarray] = []
    medians: list[float] = []
    for k in others:
        frame_k = np.asarray(window[k], np.float32)
        low_k = gaussian(frame_k, params.sigma)
        flow = dis.calc(guide_c, _flow_guide(_band(frame_k, params.sigma, scale), spread), None)
        if scale < 1.0:
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) / np.float32(scale)
        moved = cv2.remap(
            low_k, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if _correlation(luma(moved), y_c) < params.min_correlation:
            continue
        a = np.abs(moved - low_c)
        d = np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])  # per pixel, over R'G'B'
        warped.append(moved)
        diffs.append(d)
        medians.append(float(np.median(d)))
    if not warped:
        return frame.copy()
    noise = max(min(medians), 1e-5)
    acc = low_c.copy()
    total = np.ones((h, w), np.float32)
    for moved, d, med in zip(warped, diffs, medians, strict=True):
        if med > params.cut_ratio * noise:
            continue
        weight = np.exp(-0.5 * np.square(d / np.float32(params.tau * noise))).astype(np.float32)
        acc += weight[..., None] * moved
        total += weight
    return frame - low_c + acc / total[..., None]
