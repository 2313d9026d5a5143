"""Output frames from runs of fields: weave film, rebuild orphans from their own field, deinterlace video.

- Film (a run of 2 or 3 fields of one film frame): the two fields are woven back into the frame they
  were cut from; the two decodes of a 3-field run's repeated field are merged when ``plan`` says so:
  averaged where they agree (within twice their mean luma difference, the coding noise); where they
  do not, luma from the less blocky decode and chroma from the woven one (``_mean_field``). See
  ``plan`` for why. The chroma of a telecined frame was
  subsampled progressively before the fields were split, so it is upsampled as progressive 4:2:0.
- Orphan (a film frame with a single surviving field, at a cadence break or the reel's ends): rebuilt
  from that field alone, never from a neighbour (which may belong to another shot). Each missing line
  is interpolated by edge-directed interpolation (ELA): among the directions through the missing
  pixel (horizontal offsets of -2..2 px in half-pixel steps on the line above, mirrored on the line
  below) the one whose two end points agree best, over a 3-pixel window, is used if it agrees clearly
  better than the vertical; otherwise a 4-tap cubic vertical interpolation (-1, 9, 9, -1)/16 from the
  field lines at -3, -1, +1, +3.
- Video (a frame of video-originated material): the first field is kept and the other field's lines
  are rebuilt as yadif/bwdif do: the temporal prediction (mean of the other-parity fields just before
  and just after) clamped to within half their difference of the spatial (ELA) prediction; where the
  picture stands still this is the other field, where it moves it becomes the spatial interpolation.

Every function returns R'G'B' float32 (H, W, 3) code values (0..1 for in-range codes, not clipped).
"""

from __future__ import annotations

import cv2
import numpy as np

from remaster_core.io.video import Field, VideoInfo, YCbCrFrame, field_to_rgb, frame_to_rgb, weave

_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_DIRECTIONS = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)
_AGREE = 2.0  # two decodes of a field are averaged where they differ by <= this x their mean luma difference
_DIRECTION_MARGIN = 0.3  # a diagonal must agree this much better than the vertical to be used


def _robust_mean(primary: np.ndarray, other: np.ndarray, limit: float) -> np.ndarray:
    """Mean of two decodes of one plane where they differ by at most ``limit`` code values, else ``primary``."""
    p = primary.astype(np.float32)
    q = other.astype(np.float32)
    return np.where(np.abs(p - q) <= np.float32(limit), np.float32(0.5) * (p + q), p)


def blockiness(y: np.ndarray) -> float:
    """How blocky a luma plane is: mean |horizontal step| across 8-column block edges / elsewhere.

    MPEG-2, DV and ProRes code 8x8 DCT blocks on an 8-column grid; the coarser a picture was
    quantised, the more its block edges step. About 1 for a picture without block artefacts.

    Args:
        y: (h, w) luma codes, any dtype, w >= 9.
    """
    steps = np.abs(np.diff(y.astype(np.float32), axis=1))
    at_edge = (np.arange(steps.shape[1]) % 8) == 7
    if not at_edge.any() or at_edge.all():
        return 1.0
    return float(steps[:, at_edge].mean()) / (float(steps[:, ~at_edge].mean()) + 1e-3)


def _mean_field(woven: Field, other: Field) -> Field:
    """Two decodes of one field merged by ``_robust_mean``, float32 code values (not rounded).

    The limit is ``_AGREE`` times the mean luma difference of the two (at least 0.5 code values): the
    coding noise. Where the decodes differ by more, luma keeps the less blocky decode (``blockiness``:
    the more finely quantised picture) and chroma keeps ``woven`` (coded in one picture with the other
    field of its film frame: a chain that subsampled chroma across the fields of a picture that mixes
    two film frames contaminates the other decode's chroma, which the luma test cannot see).
    """
    luma_noise = float(np.abs(woven.y.astype(np.float32) - other.y.astype(np.float32)).mean())
    limit = _AGREE * max(luma_noise, 0.5)
    luma_first = woven if blockiness(woven.y) <= blockiness(other.y) else other
    luma_second = other if luma_first is woven else woven
    return Field(
        woven.parity,
        _robust_mean(luma_first.y, luma_second.y, limit),
        _robust_mean(woven.cb, other.cb, limit),
        _robust_mean(woven.cr, other.cr, limit),
        woven.frame_index,
    )


def _as_float(f: Field) -> Field:
    return Field(
        f.parity, f.y.astype(np.float32), f.cb.astype(np.float32), f.cr.astype(np.float32), f.frame_index
    )


def weave_film_planes(top: Field, bottom: Field, *, copy: Field | None = None) -> YCbCrFrame:
    """The woven Y'CbCr frame of a film run (progressive: both fields are one film frame).

    ``copy``, if given, is a second decode of ``top`` or ``bottom`` (same parity) and is merged with it
    (``_robust_mean``); the planes are then float32 code values, otherwise as decoded.
    """
    if copy is not None:
        if copy.parity == top.parity:
            top, bottom = _mean_field(top, copy), _as_float(bottom)
        else:
            top, bottom = _as_float(top), _mean_field(bottom, copy)
    return weave(top, bottom, interlaced=False)


def weave_film(top: Field, bottom: Field, info: VideoInfo, *, copy: Field | None = None) -> np.ndarray:
    """R'G'B' float32 (H, W, 3) of a film run: its fields woven, chroma upsampled as progressive."""
    return frame_to_rgb(weave_film_planes(top, bottom, copy=copy), info)


def _neighbour_rows(h: int, parity: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each missing frame row (in order), the field rows two and one above, one and two below."""
    m = np.arange(h)
    if parity == "top":  # field row m is frame row 2m; missing row 2m+1
        above, below = m, np.minimum(m + 1, h - 1)
    else:  # field row m is frame row 2m+1; missing row 2m
        above, below = np.maximum(m - 1, 0), m
    return np.maximum(above - 1, 0), above, below, np.minimum(below + 1, h - 1)


def _box3(a: np.ndarray) -> np.ndarray:
    return cv2.blur(a, (3, 1), borderType=cv2.BORDER_REPLICATE)


def _shift_cols(a: np.ndarray, k: float) -> np.ndarray:
    """a[:, x + k] with the edge column replicated; a half-pixel k takes the mean of the two columns."""
    if k == 0:
        return a
    w = a.shape[1]
    lo = int(np.floor(k))
    idx = np.clip(np.arange(w) + lo, 0, w - 1)
    if k == lo:
        return a[:, idx]
    idx1 = np.clip(np.arange(w) + lo + 1, 0, w - 1)
    return 0.5 * (a[:, idx] + a[:, idx1])


def spatial_lines(field_rgb: np.ndarray, parity: str) -> np.ndarray:
    """The missing lines of a field, interpolated from the field alone (ELA with a cubic vertical fallback).

    Args:
        field_rgb: (h, W, 3) float32 R'G'B' of one field.
        parity: "top" (the field is frame rows 0, 2, ...) or "bottom" (rows 1, 3, ...).

    Returns:
        (h, W, 3) float32: frame rows 1, 3, ... (top) or 0, 2, ... (bottom), in order.
    """
    h = field_rgb.shape[0]
    up2, up, down, down2 = _neighbour_rows(h, parity)
    u, d = field_rgb[up], field_rgb[down]
    cubic = (9.0 * (u + d) - field_rgb[up2] - field_rgb[down2]) * np.float32(1.0 / 16.0)
    luma = field_rgb @ _LUMA_WEIGHTS
    lu, ld = luma[up], luma[down]
    best_cost = _box3(np.abs(lu - ld)) * np.float32(_DIRECTION_MARGIN)
    out = cubic.copy()
    for k in _DIRECTIONS:
        cost = _box3(np.abs(_shift_cols(lu, k) - _shift_cols(ld, -k)))
        better = cost < best_cost
        if not better.any():
            continue
        best_cost = np.where(better, cost, best_cost)
        diag = 0.5 * (_shift_cols(u, k) + _shift_cols(d, -k))
        out[better] = diag[better]
    return out


def _assemble(field_rgb: np.ndarray, missing: np.ndarray, parity: str, height: int) -> np.ndarray:
    frame = np.empty((height, field_rgb.shape[1], 3), dtype=np.float32)
    own, other = (
        (slice(0, None, 2), slice(1, None, 2)) if parity == "top" else (slice(1, None, 2), slice(0, None, 2))
    )
    frame[own] = field_rgb[: len(range(height)[own])]
    frame[other] = missing[: len(range(height)[other])]
    return frame


def rebuild_orphan(field: Field, info: VideoInfo) -> np.ndarray:
    """R'G'B' float32 (H, W, 3) of a lone field: its lines as decoded, the others interpolated from it."""
    rgb = field_to_rgb(field, info)
    return _assemble(rgb, spatial_lines(rgb, field.parity), field.parity, info.height)


def deinterlace_video(keep: Field, before: Field | None, after: Field | None, info: VideoInfo) -> np.ndarray:
    """R'G'B' float32 (H, W, 3) of video at the moment of ``keep`` (yadif/bwdif-style, see module doc).

    Args:
        keep: the field whose moment the frame shows; its lines are kept.
        before, after: the other-parity fields just before and just after ``keep`` (None at the ends:
            the other one is used; with neither, the frame is rebuilt from ``keep`` alone).
        info: the stream's description (matrix, range, size).
    """
    rgb = field_to_rgb(keep, info)
    spatial = spatial_lines(rgb, keep.parity)
    neighbours = [f for f in (before, after) if f is not None]
    if not neighbours:
        return _assemble(rgb, spatial, keep.parity, info.height)
    a = field_to_rgb(neighbours[0], info)
    b = field_to_rgb(neighbours[-1], info)
    n = min(a.shape[0], b.shape[0], spatial.shape[0])
    a, b = a[:n], b[:n]
    temporal = 0.5 * (a + b)
    spread = 0.5 * np.abs(a - b).max(axis=2, keepdims=True)
    spread = cv2.dilate(spread[..., 0], np.ones((3, 3), np.uint8))[..., None]
    missing = spatial.copy()
    missing[:n] = np.clip(spatial[:n], temporal - spread, temporal + spread)
    return _assemble(rgb, missing, keep.parity, info.height)
