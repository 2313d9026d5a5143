"""Test helpers: decode a broadcast's fields with PyAV and find which 24p frame each field came from."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from remaster_core.color import rgb_to_ycbcr


def decode_luma(path: Path) -> list[np.ndarray]:
    """Every decoded frame's Y' plane as float32 (H, W) 8-bit code values (10-bit codes are divided by 4)."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            plane = frame.planes[0]
            deep = frame.format.name.endswith(("10le", "10be"))
            dtype = np.dtype("<u2") if deep else np.uint8
            rows = np.frombuffer(plane, dtype=dtype).reshape(plane.height, -1)[:, : frame.width]
            frames.append(rows.astype(np.float32) / (4.0 if deep else 1.0))
    return frames


def reference_luma(rgb: np.ndarray) -> np.ndarray:
    """Y' (BT.601 limited range, 8-bit codes, float32 (H, W)) of an RGB 0..1 frame, as ffmpeg converts it."""
    y, _, _ = rgb_to_ycbcr(rgb, matrix="bt601", range="limited", bit_depth=8)
    return y


def field_psnr(decoded: np.ndarray, references: np.ndarray, parity: int) -> np.ndarray:
    """PSNR (dB) of field ``parity`` (0 top, 1 bottom) of ``decoded`` (H, W) against each of ``references``
    (N, H, W): an (N,) array."""
    diff = references[:, parity::2, :] - decoded[None, parity::2, :]
    mse = np.mean(diff * diff, axis=(1, 2))
    return 10.0 * np.log10(255.0**2 / np.maximum(mse, 1e-6))


def match_fields(decoded: list[np.ndarray], references: np.ndarray) -> tuple[list[list[int]], list[float]]:
    """For every decoded frame, the reference index closest to its top and bottom field, and the margin
    (dB) by which the best beats the runner-up for each field."""
    sources: list[list[int]] = []
    margins: list[float] = []
    for frame in decoded:
        pair = []
        for parity in (0, 1):
            psnr = field_psnr(frame, references, parity)
            order = np.argsort(psnr)[::-1]
            pair.append(int(order[0]))
            margins.append(float(psnr[order[0]] - psnr[order[1]]))
        sources.append(pair)
    return sources, margins
