"""Pictures for the demo report: 8-bit conversion, inline data URIs, the wipe, detail crops, checkerboards.

Every function takes float32 R'G'B' (H, W, 3) code values (clipped to 0..1 for display) or uint8 RGB and
returns HTML or uint8 RGB. Images are embedded as ``data:`` URIs (JPEG for whole frames, PNG for the
magnified crops, whose pixels must stay sharp), so the report is one self-contained file.
"""

from __future__ import annotations

import base64
import html

import cv2
import numpy as np

JPEG_QUALITY = 92


def to_u8(rgb: np.ndarray) -> np.ndarray:
    """float R'G'B' (H, W, 3) -> uint8 RGB (clipped to 0..1, rounded); uint8 passes through."""
    if rgb.dtype == np.uint8:
        return rgb
    return np.clip(np.rint(np.clip(rgb, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)


def data_uri(rgb: np.ndarray, *, png: bool = False) -> str:
    """A ``data:image/jpeg`` (or png) URI of an RGB picture."""
    bgr = cv2.cvtColor(to_u8(rgb), cv2.COLOR_RGB2BGR)
    if png:
        ok, buf = cv2.imencode(".png", bgr)
        mime = "image/png"
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        mime = "image/jpeg"
    if not ok:
        raise ValueError("could not encode a report picture")
    return f"data:{mime};base64,{base64.b64encode(buf.tobytes()).decode('ascii')}"


def figure(rgb: np.ndarray, caption: str, *, png: bool = False, width: int | None = None) -> str:
    """``<figure>`` with the picture and its caption (``width``: display width in CSS px)."""
    w = f' width="{width}"' if width else ""
    return (
        f'<figure><img src="{data_uri(rgb, png=png)}"{w} alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def wipe(left: np.ndarray, right: np.ndarray, left_label: str, right_label: str) -> str:
    """A wipe: ``right`` under ``left``, a slider moving the border (a few lines of inline JS)."""
    h, w = left.shape[:2]
    return (
        f'<div class="wipe" style="width:{w}px;height:{h}px">'
        f'<img src="{data_uri(right)}" alt="{html.escape(right_label)}">'
        f'<div class="top" style="width:50%"><img src="{data_uri(left)}" alt="{html.escape(left_label)}"'
        f' style="width:{w}px;height:{h}px"></div></div>'
        f'<input type="range" min="0" max="100" value="50" style="width:{w}px" '
        "oninput=\"this.previousElementSibling.querySelector('.top').style.width=this.value+'%'\">"
        f"<div class='caption'>wipe: {html.escape(left_label)} (left) | {html.escape(right_label)} (right)"
        "</div>"
    )


def detail_box(film: np.ndarray, mask: np.ndarray, size: int) -> tuple[int, int, int]:
    """(x, y, size) of the ``size`` px square with the most detail (luma gradient energy) of ``film``,
    entirely inside ``mask``; the whole-frame centre when no square fits."""
    h, w = mask.shape
    size = min(size, h, w)
    grey = cv2.cvtColor(np.clip(film, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    energy = cv2.boxFilter(
        gx * gx + gy * gy, -1, (size, size), normalize=True, borderType=cv2.BORDER_CONSTANT
    )
    inside = cv2.erode(mask.astype(np.uint8), np.ones((size, size), np.uint8), borderValue=0).astype(bool)
    if not inside.any():
        return (w - size) // 2, (h - size) // 2, size
    cy, cx = np.unravel_index(np.argmax(np.where(inside, energy, -1.0)), energy.shape)
    x = int(np.clip(cx - size // 2, 0, w - size))
    y = int(np.clip(cy - size // 2, 0, h - size))
    return x, y, size


def flat_box(film: np.ndarray, mask: np.ndarray, size: int) -> tuple[int, int, int]:
    """(x, y, size) of the ``size`` px square of ``film`` with the least picture structure (luma gradient
    energy after a 2 px blur, so the grain itself does not count), mid-grey rather than clipped, inside
    ``mask``: where grain shows best. The whole-frame centre when no square fits."""
    h, w = mask.shape
    size = min(size, h, w)
    grey = cv2.cvtColor(np.clip(film, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    smooth = cv2.GaussianBlur(grey, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    mean = cv2.boxFilter(grey, -1, (size, size), normalize=True, borderType=cv2.BORDER_CONSTANT)
    energy = cv2.boxFilter(
        gx * gx + gy * gy, -1, (size, size), normalize=True, borderType=cv2.BORDER_CONSTANT
    )
    inside = cv2.erode(mask.astype(np.uint8), np.ones((size, size), np.uint8), borderValue=0).astype(bool)
    mid = inside & (mean >= 0.25) & (mean <= 0.75)  # mid-tones: grain is clipped in black and white
    inside = mid if mid.any() else inside
    if not inside.any():
        return (w - size) // 2, (h - size) // 2, size
    cy, cx = np.unravel_index(np.argmin(np.where(inside, energy, np.inf)), energy.shape)
    x = int(np.clip(cx - size // 2, 0, w - size))
    y = int(np.clip(cy - size // 2, 0, h - size))
    return x, y, size


def zoom(rgb: np.ndarray, box: tuple[int, int, int], factor: int) -> np.ndarray:
    """The ``box`` crop of ``rgb`` magnified ``factor`` times with nearest-neighbour pixels (uint8 RGB)."""
    x, y, s = box
    crop = to_u8(rgb[y : y + s, x : x + s])
    return cv2.resize(crop, (s * factor, s * factor), interpolation=cv2.INTER_NEAREST)


def outline(rgb: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """uint8 RGB copy of ``rgb`` with ``box`` drawn in yellow."""
    out = to_u8(rgb).copy()
    x, y, s = box
    cv2.rectangle(out, (x, y), (x + s - 1, y + s - 1), (255, 220, 0), 2)
    return out


def checkerboard(a: np.ndarray, b: np.ndarray, cell: int) -> np.ndarray:
    """uint8 RGB squares of ``cell`` px taken alternately from ``a`` and ``b`` (same size): edges that
    break at square borders show misregistration."""
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    pick = ((yy // cell + xx // cell) % 2 == 0)[..., None]
    return np.where(pick, to_u8(a), to_u8(b))
