"""Where each pixel of a frame was in the previous one: the reference's optical flow, and whether to trust it.

The film-look measures that compare consecutive frames (steadiness, and grain measured on frame
differences) follow the REFERENCE's motion, applied to both the render and the reference, so a render
is judged on the film's own motion. The flow is DIS optical flow (OpenCV, medium preset) on the
reference pair's luma low-passed by ``LookParams.steady_sigma`` (8-bit): it follows the picture, not
its grain. A pixel is trusted where it comes from inside the previous frame and the forward and
backward flows agree within ``LookParams.fb_threshold`` px (occlusions and uncovered edges fail).

The flow is noisy where the picture holds little to track (about 0.13 px RMS on a still star field
under grain; a sky or a wall gets whatever the grain suggests and fails the check). The frame's global
motion is far more precise: an affine model fitted (least squares, then again without the samples more
than ``MODEL_OUTLIER`` px off it: moving objects) to the trusted flow where the picture has structure
(gradient at least ``MODEL_GRADIENT``), or, with fewer than ``MODEL_MIN_SAMPLES`` such samples (a
picture flat all over), the translation the two pictures' phase correlation finds (Hann window,
sub-pixel; noisier on a picture with so little in it). ``Motion.warp`` follows that global motion
except where the flow moves on its own (its deviation from it, averaged over ``FLOW_SMOOTH`` px, more
than ``MODEL_OUTLIER``, where the picture has structure): the flow's noise follows the reference's
grain, and warping by it made the reference look steadier than a render with grain as strong
(``Motion.follow_maps``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from remaster_core.look.regions import LookParams, gaussian, luma


@dataclass(frozen=True)
class Motion:
    """How frame t maps onto frame t-1.

    Attributes:
        map_x, map_y: float32 (H, W) sampling maps into frame t-1 for ``cv2.remap`` (px).
        valid: bool (H, W), the pixels to trust (see the module docstring).
        model: float64 (2, 3), the global motion: frame t's pixel (x, y) was at ``model @ (x, y, 1)``
            in frame t-1.
        structured: bool (H, W), where the picture has structure to track (``structure``), or None:
            everywhere.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray
    model: np.ndarray = field(default_factory=lambda: np.eye(2, 3))
    structured: np.ndarray | None = None

    def model_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (H, W) sampling maps of the global motion alone (``model``), for ``cv2.remap``;
        read-only, made once per ``Motion`` (the grain and steadiness measures both read them)."""
        return self._model_maps

    @functools.cached_property
    def _model_maps(self) -> tuple[np.ndarray, np.ndarray]:
        map_x, map_y = affine_maps(self.model, self.valid.shape)
        return _read_only(map_x), _read_only(map_y)

    @property
    def valid_share(self) -> float:
        """The share of trusted pixels, 0..1."""
        return float(np.count_nonzero(self.valid)) / float(self.valid.size)

    def follow_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (H, W) sampling maps that follow the picture: the global motion (``model``) plus the
        flow's deviation from it averaged over a Gaussian of ``FLOW_SMOOTH`` px, where that deviation is
        more than ``MODEL_OUTLIER`` px and the picture has structure (``structured``): what moves on its
        own; the global motion alone everywhere else.

        The flow is computed on the grainy reference and follows its grain (about 0.13 px RMS on a still
        picture, more than ``MODEL_OUTLIER`` on a fifth of a pan's pixels): warping the reference by it
        cancels part of the reference's own grain change, which a render's independent grain keeps, so a
        render whose grain matched the film's exactly read 1.14-1.19 of the film's change (pans of 0-3 px
        a frame of ``remaster synth`` pictures under its grain; 1.10 with the flow computed on a picture
        blurred 6 px more, 1.13-1.15 on an NL-means denoised one, 1.003 with the clean picture's flow,
        1.006 with the global motion alone). Following the global motion but where the flow moves on its
        own, the same renders read 1.03-1.10, and 1.02-1.06 with the deviation averaged first
        (``tests/look/test_steadiness.py``); on the grain bench's seed 43 the stock drawn again read 1.23,
        1.19 and 1.11. A moving object's flow is more than ``MODEL_OUTLIER`` off the global motion over
        its extent and keeps it (within about ``FLOW_SMOOTH`` px of its edge, blended with the motion
        around it: both sequences are warped alike there). Read-only, made once per ``Motion`` (each
        frame pair's steadiness warps the render and the reference along them)."""
        return self._follow_maps

    @functools.cached_property
    def _follow_maps(self) -> tuple[np.ndarray, np.ndarray]:
        model_x, model_y = self.model_maps()
        dx = gaussian(self.map_x - model_x, FLOW_SMOOTH)
        dy = gaussian(self.map_y - model_y, FLOW_SMOOTH)
        own = np.hypot(dx, dy) > MODEL_OUTLIER
        if self.structured is not None:
            own &= self.structured
        map_x = np.where(own, model_x + dx, model_x).astype(np.float32)
        return _read_only(map_x), _read_only(np.where(own, model_y + dy, model_y).astype(np.float32))

    def warp(self, previous: np.ndarray) -> np.ndarray:
        """``previous`` (float32 (H, W) or (H, W, C), frame t-1) moved onto frame t along ``follow_maps``:
        bilinear, edges replicated."""
        map_x, map_y = self.follow_maps()
        return cv2.remap(previous, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def affine_maps(model: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """float32 (H, W) sampling maps for ``cv2.remap`` of an affine ``model`` (float64 (2, 3): pixel (x, y)
    of a picture of ``shape`` (H, W, ...) taken from ``model @ (x, y, 1)``), worked out in float64."""
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    map_x = model[0, 0] * xx + model[0, 1] * yy + model[0, 2]
    map_y = model[1, 0] * xx + model[1, 1] * yy + model[1, 2]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array`` marked read-only (a map cached on a ``Motion``, shared by its callers)."""
    array.flags.writeable = False
    return array


def flow_picture(reference: np.ndarray, params: LookParams) -> np.ndarray:
    """What the motion is computed on: float32 (H, W), the luma of ``reference`` (float32 (H, W, 3),
    0..1) low-passed by ``params.steady_sigma``."""
    return luma(gaussian(reference, params.steady_sigma))


MODEL_GRADIENT = 0.002
"""code values per px: the low-passed luma gradient from which a pixel's flow takes part in the global fit."""
MODEL_OUTLIER = 0.5
"""px: samples this far off the first global fit are left out of the second (moving objects)."""
FLOW_SMOOTH = 8.0
"""px: the Gaussian the flow's deviation from the global motion is averaged over before ``Motion.warp``
believes it: the flow's grain-driven noise changes from one patch of the flow's (8-12 px) to the next
and averages away, a moving part's motion does not."""
MODEL_MIN_SAMPLES = 200
"""samples (every 4th pixel each way) the affine fit needs; with fewer, the phase-correlation translation."""


def structure(picture: np.ndarray) -> np.ndarray:
    """bool (H, W): where ``picture`` (float32 (H, W), low-passed luma) has a gradient of at least
    ``MODEL_GRADIENT`` code values per px (central differences)."""
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REFLECT) * np.float32(0.5)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REFLECT) * np.float32(0.5)
    return np.hypot(gx, gy) >= MODEL_GRADIENT


def global_model(
    map_x: np.ndarray, map_y: np.ndarray, trackable: np.ndarray, shift: tuple[float, float]
) -> np.ndarray:
    """The affine (float64 (2, 3)) that best maps frame t's pixels to frame t-1 (see the module docstring).

    Args:
        map_x, map_y: the flow's maps (float32 (H, W)); trackable: bool (H, W), the trusted pixels with
            structure to track (``structure``); shift: the phase-correlation translation (dx, dy) px.
    """
    fallback = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    use = trackable[::4, ::4]
    ys, xs = np.nonzero(use)
    if ys.size < MODEL_MIN_SAMPLES:
        return fallback
    x, y = xs * 4.0, ys * 4.0
    design = np.stack([x, y, np.ones_like(x)], axis=1)
    target = np.stack([map_x[::4, ::4][use], map_y[::4, ::4][use]], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    keep = np.hypot(*(design @ coef - target).T) <= MODEL_OUTLIER
    if np.count_nonzero(keep) < MODEL_MIN_SAMPLES:
        return fallback
    coef, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
    return np.ascontiguousarray(coef.T)


@functools.lru_cache(maxsize=4)
def _hann(shape: tuple[int, int]) -> np.ndarray:
    return cv2.createHanningWindow((shape[1], shape[0]), cv2.CV_32F)


def _u8(plane: np.ndarray) -> np.ndarray:
    """float (H, W), 0..1 -> uint8 (H, W) for the flow; NaN as 0 (a NaN pixel is no evidence of motion,
    and its cast would be undefined), +-Inf as the nearest end."""
    return np.clip(np.nan_to_num(plane * 255.0 + 0.5, nan=0.0, posinf=255.0, neginf=0.0), 0, 255).astype(
        np.uint8
    )


def compensation(
    previous: np.ndarray, current: np.ndarray, fb_threshold: float, dis: cv2.DISOpticalFlow
) -> Motion:
    """The motion from ``previous`` to ``current`` (float32 (H, W) pictures, ``flow_picture``)."""
    (sx, sy), _ = cv2.phaseCorrelate(previous, current, _hann(current.shape))  # current ~ previous moved by s
    picture = current
    previous, current = _u8(previous), _u8(current)
    back = dis.calc(current, previous, None)  # current(x) ~ previous(x + back(x))
    fwd = dis.calc(previous, current, None)  # previous(y) ~ current(y + fwd(y))
    h, w = current.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xx + back[..., 0], yy + back[..., 1]
    there = cv2.remap(fwd, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fb = np.hypot(back[..., 0] + there[..., 0], back[..., 1] + there[..., 1])
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    valid = inside & (fb <= fb_threshold)
    structured = structure(picture)
    model = global_model(map_x, map_y, valid & structured, (-float(sx), -float(sy)))
    return Motion(map_x, map_y, valid, model, structured)


class MotionTracker:
    """Follows a reference sequence frame by frame: ``next(reference)`` gives the ``Motion`` from the
    previous frame given to this one (None for the first)."""

    def __init__(self, params: LookParams) -> None:
        self.params = params
        self._previous: np.ndarray | None = None
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def next(self, reference: np.ndarray) -> Motion | None:
        """The motion onto ``reference`` (float32 (H, W, 3), 0..1) from the frame before it."""
        grey = flow_picture(reference, self.params)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return None
        return compensation(previous, grey, self.params.fb_threshold, self._dis)


def motion_between(previous: np.ndarray, current: np.ndarray, params: LookParams) -> Motion:
    """The motion from one reference frame to another (float32 (H, W, 3), 0..1, same size)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return compensation(
        flow_picture(previous, params), flow_picture(current, params), params.fb_threshold, dis
    )
