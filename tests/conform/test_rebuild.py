"""Orphan rebuild and video deinterlacing on pictures whose missing lines are known."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from remaster_core.color import quantise_codes, rgb_to_ycbcr
from remaster_core.conform.evaluate import psnr
from remaster_core.conform.rebuild import deinterlace_video, rebuild_orphan, spatial_lines
from remaster_core.io.video import Field, VideoInfo


def _info(width: int, height: int) -> VideoInfo:
    return VideoInfo(
        path=Path("synthetic"), codec="rawvideo", width=width, height=height, fps=Fraction(30000, 1001),
        frame_count=1, field_order="tff", pixel_aspect=Fraction(8, 9), matrix="bt601", range="limited",
        pix_fmt="yuv444p", bit_depth=8, chroma_subsampling=(1, 1),
    )  # fmt: skip


def _field(rgb: np.ndarray, parity: str) -> Field:
    """The Y'CbCr 4:4:4 8-bit field of an R'G'B' frame."""
    planes = [quantise_codes(p, 8) for p in rgb_to_ycbcr(rgb, matrix="bt601", range="limited")]
    rows = slice(0, None, 2) if parity == "top" else slice(1, None, 2)
    return Field(parity, planes[0][rows], planes[1][rows], planes[2][rows], 0)  # type: ignore[arg-type]


def _diagonal_picture(h: int = 96, w: int = 128) -> np.ndarray:
    """Thin dark diagonal lines on a light ground: what line doubling jags and ELA follows."""
    img = np.full((h, w, 3), 0.8, np.float32)
    for x0 in range(-h, w, 24):
        cv2.line(img, (x0, 0), (x0 + h // 2, h - 1), (0.1, 0.2, 0.3), 2, cv2.LINE_AA)
    return img


def _photo() -> np.ndarray:
    return cv2.resize(
        skimage.data.astronaut().astype(np.float32) / 255, (256, 192), interpolation=cv2.INTER_AREA
    )


def test_orphan_keeps_its_lines_and_beats_line_doubling() -> None:
    for truth in (_photo(), _photo()[::-1, ::-1].copy()):
        info = _info(truth.shape[1], truth.shape[0])
        for parity in ("top", "bottom"):
            frame = rebuild_orphan(_field(truth, parity), info)
            assert frame.shape == truth.shape and frame.dtype == np.float32
            own = slice(0, None, 2) if parity == "top" else slice(1, None, 2)
            assert np.abs(frame[own] - truth[own]).max() < 0.01  # its own lines, as decoded
            lines = frame[own]
            doubled = np.repeat(lines, 2, axis=0)[: truth.shape[0]]
            if parity == "bottom":
                doubled = np.concatenate([lines[:1], doubled])[: truth.shape[0]]
            assert psnr(frame, truth) > psnr(doubled, truth) + 2.0, parity


def test_spatial_lines_reproduce_a_vertical_ramp() -> None:
    ramp = np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[:, None, None], 3, axis=2) * np.ones(
        (1, 16, 1), np.float32
    )
    missing = spatial_lines(np.ascontiguousarray(ramp[0::2]), "top")
    assert np.allclose(missing[2:-2], ramp[1::2][2:-2], atol=1e-5)


def test_video_deinterlace_weaves_still_parts_and_interpolates_moving_ones() -> None:
    still = _photo()
    info = _info(still.shape[1], still.shape[0])
    keep = _field(still, "top")
    other = _field(still, "bottom")
    frame = deinterlace_video(keep, other, other, info)
    assert psnr(frame, still) > 40.0  # nothing moved: the other field's lines come back
    moved = np.roll(still, 9, axis=1)
    frame_moving = deinterlace_video(
        keep, _field(moved, "bottom"), _field(np.roll(still, -9, axis=1), "bottom"), info
    )
    assert psnr(frame_moving, still) > psnr(cv2.addWeighted(still, 0.5, moved, 0.5, 0)[..., :], still)
    assert frame_moving.shape == still.shape
