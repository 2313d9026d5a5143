"""Film grain drawn from a ``GrainProfile`` onto a whole output frame, deterministic per (shot, frame, seed).

``add_grain(picture, profile, settings, shot=, frame=)``:

1. **white noise, drawn as its spectrum**: the real 2-D FFT (``rfft2``, (3, H, W // 2 + 1)) of three
   planes of unit-variance white noise is itself white and Gaussian, so it is drawn directly, without a
   forward FFT: real and imaginary parts float32 standard normals times ``sqrt(H * W / 2)`` (the
   columns ``kx = 0`` and ``kx = W / 2``, whose imaginary halves ``irfft2`` folds away, times a further
   ``sqrt(2)``, so that every frequency keeps the power of real white noise). The numbers come from
   numpy's SFC64 generator keyed by ``SeedSequence([GRAIN_STREAM, seed, shot, frame])`` (signed numbers
   offset by 2^63): the same key gives the same noise on any machine, in any order, whatever was drawn
   before; the render's chunking cannot change it;
2. **colour**: mixed by the Cholesky factor of the profile's channel correlation (a linear map, so it is
   the same in either domain: each plane stays of unit variance, the three correlate as the film's dye
   layers do);
3. **texture**: each channel's spectrum multiplied by the amplitude ``sqrt(S_c(size * |f|))`` of its
   profile spectrum ``S_c`` (radial, interpolated linearly between rings, 0 beyond the last), scaled so
   that its variance is the profile's whatever ``size`` is (``size`` 2 gives grain twice as coarse, of
   the same RMS), then one inverse FFT over the WHOLE frame (circular: grain has no edges). Grain is
   generated for the whole frame, never per tile, so it cannot depend on the engine's tiling;
4. **level**: multiplied per pixel and channel by the profile's level gain at the luma of ``picture``
   blurred by the profile's ``smooth_sigma`` (linear between bin centres, flat beyond the end ones),
   and by ``amount``; then added to ``picture``.

Cost (1440x1080, one core of the project's 2-core machine, ``bench/grain_synthesis.py``): drawing the
spectrum instead of transforming drawn noise saves one of the two FFTs, SFC64 draws normals about 3x faster
than Philox, and the level is blurred on luma alone (blur and luma are both linear: the same numbers to
float rounding) instead of on three channels.

``amount`` 0, or a profile that ``is_zero`` (scans without grain), returns ``picture`` itself, untouched
(the clean output bit for bit). Nothing is clipped (the file writer clips to its format).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from remaster_core.errors import InputError
from remaster_core.grain.profile import GrainProfile
from remaster_core.look.regions import gaussian, luma

GRAIN_STREAM = 0x6772_6169_6E  # "grain": keeps these streams apart from any other SeedSequence use
_OFFSET = 1 << 63


@dataclass(frozen=True)
class GrainSettings:
    """The grain controls of a render (``node_params``: grain_amount, grain_size, grain_seed).

    Attributes:
        amount: times the film's grain amplitude (1: as measured; 0: off, the clean output).
        size: times the film's grain size (2: twice as coarse, the same RMS).
        seed: picks another grain pattern; the same seed gives the same grain.
    """

    amount: float = 1.0
    size: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.amount) and self.amount >= 0):
            raise InputError(f"grain amount must be a number >= 0, got {self.amount!r}")
        if not (np.isfinite(self.size) and self.size > 0):
            raise InputError(f"grain size must be a number > 0, got {self.size!r}")

    @property
    def off(self) -> bool:
        return self.amount == 0.0


def white_spectrum(height: int, width: int, *, shot: int, frame: int, seed: int) -> np.ndarray:
    """complex64 (3, H, W // 2 + 1): the ``rfft2`` of three planes of unit-variance white noise, keyed by
    (shot, frame, seed) (step 1 of the docstring): ``irfft2`` of it has variance 1 at every pixel."""
    key = np.random.SeedSequence(
        [GRAIN_STREAM, int(seed) + _OFFSET, int(shot) + _OFFSET, int(frame) + _OFFSET]
    )
    rng = np.random.Generator(np.random.SFC64(key))
    half = width // 2 + 1
    parts = rng.standard_normal((3, height, half, 2), dtype=np.float32)
    parts *= np.float32(np.sqrt(height * width / 2.0))
    parts[:, :, 0] *= np.float32(np.sqrt(2.0))  # irfft2 keeps only the real half of these columns
    if width % 2 == 0:
        parts[:, :, -1] *= np.float32(np.sqrt(2.0))
    return parts.view(np.complex64)[..., 0]


@functools.lru_cache(maxsize=2)  # a 4K filter set is ~100 MB
def _filters(profile: GrainProfile, height: int, width: int, size: float) -> np.ndarray:
    """float32 (3, H, W // 2 + 1) FFT amplitudes of the three channels (step 3 of the docstring)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fy, fx) * profile.tile  # in rings
    rings = np.arange(len(profile.spectrum[0]), dtype=np.float64)
    out = np.empty((3, height, width // 2 + 1), np.float32)
    full = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]) * profile.tile
    for c, ch in enumerate(profile.spectrum):
        s = np.asarray(ch, np.float64)
        target = float(np.interp(full, rings, s, right=0.0).mean())  # the profile's variance on this grid
        psd = np.interp(radius * size, rings, s, right=0.0)
        got = _rfft_mean(psd, width)
        scale = np.sqrt(target / got) if got > 0 else 0.0
        out[c] = (np.sqrt(psd) * scale).astype(np.float32)
    out.flags.writeable = False
    return out


def _rfft_mean(half: np.ndarray, width: int) -> float:
    """The mean over the full (H, W) spectrum of a real signal's spectrum given by its half (H, W//2+1)."""
    weights = np.full(half.shape[1], 2.0)
    weights[0] = 1.0
    if width % 2 == 0:
        weights[-1] = 1.0
    return float((half * weights[None, :]).sum() / (half.shape[0] * width))


@functools.lru_cache(maxsize=4)
def _mixing(profile: GrainProfile) -> np.ndarray:
    return np.linalg.cholesky(np.asarray(profile.correlation, np.float64)).astype(np.float32)


def grain_field(profile: GrainProfile, height: int, width: int, *, shot: int, frame: int, seed: int,
                size: float = 1.0) -> np.ndarray:  # fmt: skip
    """float32 (H, W, 3): grain of the profile's spectrum and correlation at level gain 1 (steps 1-3 of
    the module docstring); a view of planar (3, H, W) memory (the inverse FFT's layout)."""
    spectrum = white_spectrum(height, width, shot=shot, frame=frame, seed=seed)
    mixed = np.einsum("ij,jhw->ihw", _mixing(profile).astype(np.complex64), spectrum, optimize=False)
    mixed *= _filters(profile, height, width, float(size))
    field = np.fft.irfft2(mixed, s=(height, width), axes=(1, 2)).astype(np.float32, copy=False)
    return field.transpose(1, 2, 0)


def level_gain(profile: GrainProfile, picture: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3): the profile's level gain at each pixel of ``picture`` (step 4)."""
    level = gaussian(luma(np.asarray(picture, np.float32)), profile.smooth_sigma)
    edges = np.asarray(profile.level_edges)
    centres = (edges[:-1] + edges[1:]) / 2
    gains = np.asarray(profile.level_gain)
    out = np.empty(picture.shape, np.float32)
    for c in range(3):
        out[..., c] = np.interp(level, centres, gains[:, c])
    return out


def add_grain(
    picture: np.ndarray, profile: GrainProfile | None, settings: GrainSettings, *, shot: int, frame: int
) -> np.ndarray:
    """``picture`` (float32 (H, W, 3)) plus grain (see the module docstring); ``picture`` itself when the
    amount is 0, there is no profile, or the profile is zero."""
    if settings.off or profile is None or profile.is_zero:
        return picture
    h, w = picture.shape[:2]
    field = grain_field(profile, h, w, shot=shot, frame=frame, seed=settings.seed, size=settings.size)
    grain = level_gain(profile, picture)
    grain *= np.float32(settings.amount)
    grain *= field
    grain += picture
    return grain
