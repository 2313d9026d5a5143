"""Parity frames (sizes that exercise dynamic shapes, real images), comparison and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.parity import (
    FP16_TOLERANCE,
    FP32_TOLERANCE,
    REAL_CROP,
    ParityFrame,
    compare,
    image_frames,
    parity_frames,
    photo_frames,
    random_frames,
    run_parity,
    write_report,
)
from remaster_core.errors import MediaError
from remaster_core.io.images import write_image


@pytest.mark.parametrize("s", [2, 4])
def test_random_frames_cover_smallest_odd_batched_and_aligned_sizes(s: int) -> None:
    frames = random_frames(s)
    shapes = [f.pixels.shape for f in frames]
    assert (1, 3, s + 1, s + 1) in shapes  # the smallest input G accepts
    assert any(h % s and w % s for _, _, h, w in shapes)  # neither side a multiple of s
    assert any(n >= 2 for n, _, _, _ in shapes)  # a batch
    assert any(h % s == 0 and w % s == 0 for _, _, h, w in shapes)  # no padding needed
    for f in frames:
        assert f.kind == "random" and f.pixels.dtype == np.float32
        assert f.pixels.min() >= 0.0 and f.pixels.max() < 1.0
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(frames, random_frames(s), strict=True))


def test_photo_frames_are_real_images_cropped_to_odd_sizes() -> None:
    frames = photo_frames()
    assert [f.name for f in frames] == ["astronaut", "coffee"]
    for f in frames:
        assert f.kind == "real" and f.pixels.shape == (1, 3, *REAL_CROP) and f.pixels.dtype == np.float32
        assert 0.0 <= f.pixels.min() and f.pixels.max() <= 1.0 and f.pixels.std() > 0.1


def test_image_frames_read_files_and_crop_the_centre(tmp_path: Path) -> None:
    ramp = np.linspace(0, 1, 300 * 400 * 3, dtype=np.float32).reshape(300, 400, 3)
    write_image(tmp_path / "plate.0001.png", ramp, bit_depth="16")
    small = np.full((20, 30, 3), 0.25, dtype=np.float32)
    write_image(tmp_path / "small.png", small, bit_depth="16")
    frames = image_frames([tmp_path / "plate.0001.png", tmp_path / "small.png"])
    assert [f.name for f in frames] == ["plate.0001.png", "small.png"]
    big = frames[0].pixels
    assert big.shape == (1, 3, min(300, REAL_CROP[0]), min(400, REAL_CROP[1]))
    top, left = (300 - big.shape[2]) // 2, (400 - big.shape[3]) // 2
    assert (
        np.abs(big[0].transpose(1, 2, 0) - ramp[top : top + big.shape[2], left : left + big.shape[3]]).max()
        < 1e-4
    )
    assert frames[1].pixels.shape == (1, 3, 20, 30)
    assert [f.kind for f in parity_frames(2, [tmp_path / "small.png"])][-1] == "real"
    with pytest.raises(MediaError, match="missing.png"):
        image_frames([tmp_path / "missing.png"])


def test_report_fails_on_error_above_the_bar_and_on_nan(tmp_path: Path) -> None:
    frame = ParityFrame("f", "random", np.zeros((1, 3, 4, 4), dtype=np.float32))
    ref = np.zeros((1, 3, 4, 4), dtype=np.float32)
    close = compare(frame, ref, ref + 5e-5)
    assert close.finite and close.max_abs == pytest.approx(5e-5)
    nan = ref.copy()
    nan[0, 1, 2, 3] = np.nan
    broken = compare(frame, ref, nan)
    assert not broken.finite

    good = run_parity("onnx", "fp32", "test", lambda x: x + 5e-5, [frame], [ref])
    assert good.tolerance == FP32_TOLERANCE and good.passed and "PASS" in good.lines()[0]
    far = run_parity("onnx", "fp32", "test", lambda x: x + 2e-4, [frame], [ref])
    assert not far.passed and "FAIL" in far.lines()[0]
    assert run_parity("onnx", "fp16", "test", lambda x: x + 2e-4, [frame], [ref]).tolerance == FP16_TOLERANCE
    bad = run_parity("onnx", "fp16", "test", lambda x: nan, [frame], [ref])
    assert not bad.passed and "NaN/Inf" in bad.lines()[1]

    path = tmp_path / "m.onnx.parity.json"
    write_report(path, {"model": "m.onnx"}, [good, bad])
    data = json.loads(path.read_text())
    assert data["model"] == "m.onnx"
    assert [r["passed"] for r in data["reports"]] == [True, False]
    assert data["reports"][1]["cases"][0]["max_abs"] is None and data["reports"][1]["max_abs"] is None
    assert data["reports"][0]["cases"][0]["shape"] == [1, 3, 4, 4]


def test_shape_mismatch_is_an_error() -> None:
    frame = ParityFrame("f", "random", np.zeros((1, 3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        compare(frame, np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 3, 4, 5), np.float32))
