"""score_sequences (remaster_core.look.report): inputs it refuses, and a report that is always valid JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from remaster_core.errors import InputError
from remaster_core.look import format_table, score_sequences
from remaster_core.look.fidelity import SquaredError, ssim, ssim_map
from remaster_core.look.report import MISMATCH
from tests.look import SIZE, photo, smooth_picture, white_grain


def test_ssim_map_is_scikit_images() -> None:
    rng = np.random.default_rng(8)
    a = photo(200)[..., 1].astype(np.float64)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    _, expected = structural_similarity(
        a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True
    )
    assert np.max(np.abs(ssim_map(a, b) - expected)) < 1e-12


def test_the_report_holds_psnr_and_ssim_of_the_whole_sequence_and_is_json() -> None:
    rng = np.random.default_rng(9)
    film = [photo()[:SIZE, :SIZE] + white_grain(rng, 0.01) for _ in range(2)]
    render = [f + white_grain(rng, 0.02) for f in film]
    report = score_sequences(render, film)
    whole = np.ones((SIZE, SIZE), bool)
    pooled = SquaredError()
    for r, f in zip(render, film, strict=True):
        pooled.add(r, f, whole)
    assert report.fidelity.psnr_db == pytest.approx(pooled.psnr(), abs=1e-9)
    expected_ssim = np.mean([ssim(r, f, whole) for r, f in zip(render, film, strict=True)])
    assert report.fidelity.ssim == pytest.approx(expected_ssim, abs=1e-12)
    assert (report.frames, report.width, report.height) == (2, SIZE, SIZE)
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(document) == {
        "frames",
        "width",
        "height",
        "fidelity",
        "grain",
        "detail",
        "steadiness",
        "params",
    }
    assert document["grain"]["amplitude"]["ratio"] == pytest.approx(report.grain.amplitude.ratio)
    assert document["grain"]["bands"][0]["cycles_per_pixel"] == [0.25, 0.5]
    assert set(document["grain"]["channels"]) == {"R", "G", "B"}
    table = format_table(report)
    for row in ("PSNR dB", "SSIM", "grain RMS", "detail", "steadiness"):
        assert row in table


def test_a_digital_reference_and_an_identical_render_give_reasons_never_nan() -> None:
    pic = smooth_picture()
    report = score_sequences([pic, pic], [pic, pic])
    assert report.fidelity.psnr_db is None and "equals the reference" in str(report.fidelity.reason)
    assert report.fidelity.ssim == pytest.approx(1.0)
    document = report.to_dict()
    text = json.dumps(document, allow_nan=False)  # raises on NaN or infinity

    def numbers(obj: object) -> list[float]:
        if isinstance(obj, dict):
            return [x for v in obj.values() for x in numbers(v)]
        if isinstance(obj, list):
            return [x for v in obj for x in numbers(v)]
        return [float(obj)] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []

    assert all(math.isfinite(x) for x in numbers(document))
    assert "no measurable grain" in text and "no textured region" in text


def test_frames_of_another_size_are_refused_naming_both() -> None:
    a = np.zeros((128, 128, 3), np.float32)
    b = np.zeros((128, 96, 3), np.float32)
    with pytest.raises(InputError, match=f"render is 128x128, the reference 96x128: {MISMATCH}"):
        score_sequences([a], [b])


def test_sequences_of_another_length_are_refused() -> None:
    a = np.zeros((128, 128, 3), np.float32)
    with pytest.raises(InputError, match=rf"the reference has more frames than the render \(2\): {MISMATCH}"):
        score_sequences([a, a], [a, a, a])
    with pytest.raises(InputError, match=rf"the render has more frames than the reference \(1\): {MISMATCH}"):
        score_sequences([a, a], [a])


def test_bad_frames_are_refused_with_what_to_do() -> None:
    a = np.zeros((128, 128, 3), np.float32)
    with pytest.raises(InputError, match="no frames to score"):
        score_sequences([], [])
    with pytest.raises(InputError, match=r"frame 0 of the render: expected an RGB array \(H, W, 3\)"):
        score_sequences([a[..., 0]], [a])
    bad = a.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(InputError, match="frame 1 of the reference holds NaN or infinity in 1 samples"):
        score_sequences([a, a], [a, bad])
    with pytest.raises(InputError, match="smaller than one 64 px tile"):
        score_sequences([a[:32]], [a[:32]])
    with pytest.raises(InputError, match="every frame of a sequence must have one size"):
        score_sequences([a, a[:, :100]], [a, a[:, :100]])
