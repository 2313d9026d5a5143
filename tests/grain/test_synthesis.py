"""Grain synthesis: deterministic per (shot, frame, seed), whole-frame, controls, off is the clean picture."""

from __future__ import annotations

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.grain import GrainSettings, add_grain, estimate_profile
from remaster_core.grain.synthesis import grain_field, white_spectrum
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


@pytest.mark.parametrize("width", [32, 31])
def test_the_drawn_spectrum_is_the_spectrum_of_real_white_noise_at_every_frequency(width: int) -> None:
    """Every column of the half spectrum (the ``kx = 0`` and Nyquist ones too) keeps the power of real
    white noise of variance 1: |X|^2 averages H * W."""
    height = 32
    planes = np.stack([
        np.fft.irfft2(white_spectrum(height, width, shot=0, frame=k, seed=0), s=(height, width), axes=(1, 2))
        for k in range(60)
    ])  # fmt: skip
    assert planes.var() == pytest.approx(1.0, rel=0.03)
    power = (np.abs(np.fft.rfft2(planes, axes=(2, 3))) ** 2).mean(axis=(0, 1, 2)) / (height * width)
    assert np.all(np.abs(power - 1.0) < 0.12), power
