"""Grain synthesis: deterministic per (shot, frame, seed), whole-frame, controls, off is the clean picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grain import GrainSettings, add_grain, estimate_profile
from remaster_core.grain.synthesis import ccs_frequencies, grain_field, white_ccs, white_gain
from remaster_core.look import score_sequences
from tests.grain.test_profile import film, ramp


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return estimate_profile(film())


def test_the_same_key_gives_the_same_bits_whatever_came_before(profile) -> None:  # type: ignore[no-untyped-def]
    a = add_grain(ramp(), profile, GrainSettings(seed=5), shot=2, frame=7)
    add_grain(ramp(), profile, GrainSettings(seed=5), shot=2, frame=8)  # other draws in between
    b = add_grain(ramp(), profile, GrainSettings(seed=5), shot=2, frame=7)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("other", [{"shot": 3}, {"frame": 8}, {"seed": 6}, {"shot": -1}])
def test_another_shot_frame_or_seed_gives_other_grain(profile, other: dict) -> None:  # type: ignore[no-untyped-def]
    key = {"shot": 2, "frame": 7, "seed": 5, **other}
    a = grain_field(profile, 64, 64, shot=2, frame=7, seed=5)
    b = grain_field(profile, 64, 64, **key)
    assert abs(float(np.corrcoef(a.ravel(), b.ravel())[0, 1])) < 0.1


def test_amount_zero_returns_the_clean_picture_itself(profile) -> None:  # type: ignore[no-untyped-def]
    picture = ramp()
    assert add_grain(picture, profile, GrainSettings(amount=0.0), shot=0, frame=0) is picture
    assert add_grain(picture, None, GrainSettings(), shot=0, frame=0) is picture


def test_amount_scales_the_grain_and_size_coarsens_it_at_the_same_rms(profile) -> None:  # type: ignore[no-untyped-def]
    clean = ramp()
    one = add_grain(clean, profile, GrainSettings(amount=1.0), shot=0, frame=0) - clean
    two = add_grain(clean, profile, GrainSettings(amount=2.0), shot=0, frame=0) - clean
    assert np.allclose(two, 2 * one, atol=1e-6)
    fine = [add_grain(clean, profile, GrainSettings(), shot=0, frame=k) for k in range(3)]
    coarse = [add_grain(clean, profile, GrainSettings(size=2.0), shot=0, frame=k) for k in range(3)]
    report = score_sequences(coarse, fine)
    finest, _, lowest = report.grain.bands
    assert finest.power.ratio < 0.5 and lowest.power.ratio > 1.5  # type: ignore[operator]
    rms = [float(np.std(g - clean)) for g in (fine[0], coarse[0])]
    assert rms[1] == pytest.approx(rms[0], rel=0.1)


def test_the_grain_follows_the_level_response(profile) -> None:  # type: ignore[no-untyped-def]
    levels = np.asarray(profile.level_gain)
    boosted = type(profile)(**{**profile.__dict__, "level_gain": tuple(
        tuple(3.0 if i == 0 else 1.0 for _ in range(3)) for i in range(len(levels)))})  # fmt: skip
    dark = np.full((128, 128, 3), 0.05, np.float32)
    mid = np.full((128, 128, 3), 0.5, np.float32)
    d = add_grain(dark, boosted, GrainSettings(), shot=0, frame=0) - dark
    m = add_grain(mid, boosted, GrainSettings(), shot=0, frame=0) - mid
    assert float(d.std()) == pytest.approx(3 * float(m.std()), rel=0.05)


def test_the_grain_of_a_frame_does_not_depend_on_anything_but_its_size_and_key(profile) -> None:  # type: ignore[no-untyped-def]
    whole = grain_field(profile, 96, 128, shot=1, frame=4, seed=0)
    again = grain_field(profile, 96, 128, shot=1, frame=4, seed=0)
    assert whole.dtype == np.float32 and whole.shape == (96, 128, 3) and np.array_equal(whole, again)


@pytest.mark.parametrize("bad", [{"amount": -1.0}, {"size": 0.0}, {"amount": float("nan")}])
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(InputError, match="grain"):
        GrainSettings(**bad)


@pytest.mark.parametrize("width", [128, 127])
def test_the_field_has_the_profiles_rms_in_every_channel_at_even_and_odd_widths(profile, width: int) -> None:  # type: ignore[no-untyped-def]
    fields = np.stack([grain_field(profile, 96, width, shot=0, frame=k, seed=0) for k in range(8)])
    assert np.allclose(fields.reshape(-1, 3).std(axis=0), profile.rms, rtol=0.05)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (32, 31), (31, 32), (31, 31)])
def test_the_drawn_spectrum_is_the_spectrum_of_real_white_noise_at_every_frequency(
    height: int, width: int
) -> None:
    """Every row and column of frequencies of the packed spectrum (DC, the ``kx = 0`` and Nyquist ones
    too) keeps the power of real white noise of variance 1: |X|^2 averages H * W."""
    gain = white_gain(height, width).astype(np.float32)
    planes = np.stack([
        cv2.idft(plane * gain, flags=cv2.DFT_REAL_OUTPUT)
        for k in range(60)
        for plane in white_ccs(height, width, shot=0, frame=k, seed=0)
    ])  # fmt: skip
    assert planes.var() == pytest.approx(1.0, rel=0.03)
    power = (np.abs(np.fft.fft2(planes)) ** 2).mean(axis=0) / (height * width)
    for along in (0, 1):  # each column's power averaged over its rows, and each row's over its columns
        assert np.all(np.abs(power.mean(axis=along) - 1.0) < 0.12), power.mean(axis=along)
    own_conjugates = [
        (r, c) for r in {0, height // 2 * (1 - height % 2)} for c in {0, width // 2 * (1 - width % 2)}
    ]
    assert abs(np.mean([power[p] for p in own_conjugates]) - 1.0) < 0.25  # DC, Nyquists: real numbers


@pytest.mark.parametrize(("height", "width"), [(32, 32), (32, 31), (31, 32), (31, 33), (48, 64)])
def test_the_packed_layout_puts_each_number_at_its_frequency(height: int, width: int) -> None:
    """A radial filter applied to OpenCV's packed spectrum at ``ccs_frequencies`` is numpy's on the half
    spectrum."""
    x = np.random.default_rng(0).standard_normal((height, width)).astype(np.float32)

    def filt(f: np.ndarray) -> np.ndarray:
        return np.exp(-((8 * f) ** 2)) + 0.3 * f

    packed = cv2.idft(cv2.dft(x) * filt(ccs_frequencies(height, width)).astype(np.float32),
                      flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)  # fmt: skip
    half = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
    reference = np.fft.irfft2(np.fft.rfft2(x) * filt(half), s=(height, width))
    assert np.abs(packed - reference).max() < 1e-5


def test_the_grain_is_gaussian_though_the_drawn_numbers_are_uniform(profile) -> None:  # type: ignore[no-untyped-def]
    field = grain_field(profile, 256, 256, shot=0, frame=0, seed=0)
    centred = field - field.mean(axis=(0, 1))
    excess_kurtosis = (centred**4).mean(axis=(0, 1)) / (centred**2).mean(axis=(0, 1)) ** 2 - 3
    assert np.all(np.abs(excess_kurtosis) < 0.05), excess_kurtosis
    assert field.flags.c_contiguous
