"""The broadcast-only leader of a synthetic reel: a countdown card before the first shot.

It exists only in the broadcast (never on film), like the slate/countdown a transfer carries. Each
leader frame shows a grey card with a ring, a cross-hair, a sweep wedge that turns from frame to frame
and a big digit counting down to 1, so leader frames differ from each other and from every shot.
The card is drawn in square display pixels (640x480 for a 4:3 picture) and stretched to the 720x480
raster with its 8:9 pixels, so the ring is round on a display.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from remaster_core.synth.geometry import BROADCAST_PAR, BROADCAST_SIZE


def leader_frame(
    index: int, count: int, broadcast_size: tuple[int, int] = BROADCAST_SIZE, par: float = BROADCAST_PAR
) -> np.ndarray:
    """Leader frame ``index`` of ``count`` (0-based): float32 RGB (H, W, 3) in 0..1 at the broadcast raster."""
    w, h = broadcast_size
    dw = round(w * par)  # display width in square pixels
    card = np.full((h, dw, 3), 70, dtype=np.uint8)
    cx, cy = dw // 2, h // 2
    radius = int(0.4 * h)
    # The sweep: a lighter wedge from 12 o'clock, clockwise, one turn over the leader.
    sweep = 360.0 * (index + 1) / max(count, 1)
    cv2.ellipse(card, (cx, cy), (radius, radius), -90.0, 0.0, sweep, (120, 120, 120), -1, cv2.LINE_AA)
    cv2.circle(card, (cx, cy), radius, (230, 230, 230), 6, cv2.LINE_AA)
    cv2.circle(card, (cx, cy), int(radius * 0.8), (200, 200, 200), 3, cv2.LINE_AA)
    cv2.line(card, (0, cy), (dw - 1, cy), (15, 15, 15), 3, cv2.LINE_AA)
    cv2.line(card, (cx, 0), (cx, h - 1), (15, 15, 15), 3, cv2.LINE_AA)
    text = str(count - index)
    font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, 7.0, 14
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(card, text, (cx - tw // 2, cy + th // 2), font, scale, (245, 245, 245), thick, cv2.LINE_AA)
    # A small tick at the sweep's leading edge, so consecutive frames differ even with the same digit.
    a = math.radians(sweep - 90.0)
    tip = (round(cx + radius * math.cos(a)), round(cy + radius * math.sin(a)))
    cv2.circle(card, tip, 10, (20, 20, 20), -1, cv2.LINE_AA)
    raster = cv2.resize(card, (w, h), interpolation=cv2.INTER_CUBIC)
    return raster.astype(np.float32) / np.float32(255.0)
