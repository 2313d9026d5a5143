"""Film grain drawn from a ``GrainProfile`` onto a whole output frame, deterministic per (shot, frame, seed).

``add_grain(picture, profile, settings, shot=, frame=)``:

1. **white noise, drawn as its spectrum**: the spectrum of a plane of white noise is itself white, so it
   is drawn directly (no forward transform), in OpenCV's packed layout for the spectrum of a real (H, W)
   plane (CCS: the real and imaginary parts of the half spectrum laid out in an (H, W) real array, see
   ``ccs_frequencies``): three float32 planes (3, H, W) of independent zero-mean, unit-variance numbers.
   The numbers are uniform (16-bit integers read from numpy's SFC64 generator keyed by
   ``SeedSequence([GRAIN_STREAM, seed, shot, frame])``, signed numbers offset by 2^63, little-endian),
   not normal: every grain pixel is a weighted sum of thousands of them, so the grain is Gaussian all
   the same (central limit; the test measures its kurtosis) and only their variance matters, which is
   exact. The same key gives the same noise on any machine, in any order, whatever was drawn before;
   the render's chunking cannot change it;
2. **colour**: mixed by the Cholesky factor of the profile's channel correlation (a linear map, so it is
   the same in either domain: each plane stays of unit variance, the three correlate as the film's dye
   layers do);
3. **texture**: each channel's spectrum multiplied by the amplitude ``sqrt(S_c(size * |f|))`` of its
   profile spectrum ``S_c`` (radial, interpolated linearly between rings, 0 beyond the last), scaled so
   that its variance is the profile's whatever ``size`` is (``size`` 2 gives grain twice as coarse, of
   the same RMS), and by the factor that gives each packed number the power a frequency of real white
   noise has; then one inverse FFT over the WHOLE frame (``cv2.idft``, circular: grain has no edges).
   Grain is generated for the whole frame, never per tile, so it cannot depend on the engine's tiling;
4. **level**: multiplied per pixel and channel by the profile's level gain at the luma of ``picture``
   blurred by the profile's ``smooth_sigma`` (linear between the levels the bins' gains stand for, flat
   beyond the end ones; read from a 256-entry table over their span: within 1/510 of that span of the
   level), and by ``amount``; then added to ``picture``.

Cost (``bench/grain_synthesis.py``, one thread, against the numpy version this replaced): OpenCV's inverse
transform of the packed layout is about 3x faster than numpy's ``irfft2``; uniform 16-bit numbers cost a
fifth of float32 normals; the level gain is one table look-up for the three channels instead of three
``np.interp`` in float64.

``amount`` 0, or a profile that ``is_zero`` (scans without grain), returns ``picture`` itself, untouched
(the clean output bit for bit). Nothing is clipped (the file writer clips to its format).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.errors import InputError
from remaster_core.grain.profile import GrainProfile, level_bins
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


_UNIFORM_STD = float(np.sqrt((65536.0**2 - 1.0) / 12.0))
"""The standard deviation of a uniform 16-bit integer (its mean is -0.5)."""
_LEVEL_TABLE = 256
"""Entries of the level-gain table (step 4 of the docstring)."""


def white_ccs(height: int, width: int, *, shot: int, frame: int, seed: int) -> np.ndarray:
    """float32 (3, H, W): the spectra of three planes of white noise in OpenCV's packed layout, each number
    independent, of mean 0 and variance 1, keyed by (shot, frame, seed) (step 1 of the docstring).
    ``white_gain`` turns them into the power of real white noise."""
    key = np.random.SeedSequence(
        [GRAIN_STREAM, int(seed) + _OFFSET, int(shot) + _OFFSET, int(frame) + _OFFSET]
    )
    count = 3 * height * width
    raw = np.random.SFC64(key).random_raw((count + 3) // 4)
    planes = raw.astype("<u8", copy=False).view("<i2")[:count].reshape(3, height, width).astype(np.float32)
    planes += np.float32(0.5)
    planes *= np.float32(1.0 / _UNIFORM_STD)
    return planes


def ccs_frequencies(height: int, width: int) -> np.ndarray:
    """float64 (H, W): |f| (cycles a pixel) of each number of OpenCV's packed spectrum of a real (H, W)
    plane (CCS). Columns 1.. hold kx = (column + 1) // 2, real part then imaginary, with ky = the row
    (``fftfreq``); column 0, and the last column when W is even (kx = W / 2), hold a real plane's packed
    column spectrum: ky = (row + 1) // 2."""
    kx = (np.arange(width) + 1) // 2
    fx = kx / width
    radius = np.hypot(np.fft.fftfreq(height)[:, None], fx[None, :])
    packed_fy = ((np.arange(height) + 1) // 2) / height
    for column in [0] + ([width - 1] if width % 2 == 0 else []):
        radius[:, column] = np.hypot(packed_fy, fx[column])
    return radius


def white_gain(height: int, width: int) -> np.ndarray:
    """float64 (H, W): what turns ``white_ccs``'s unit-variance numbers into the packed spectrum of real
    white noise of variance 1 under ``cv2.idft`` without scaling: ``sqrt(H W / 2) / (H W)``, ``sqrt(2)``
    more where the frequency is its own conjugate (DC and the Nyquist ones: real numbers in any real
    plane's spectrum)."""
    gain = np.full((height, width), np.sqrt(height * width / 2.0) / (height * width))
    for r in [0] + ([height - 1] if height % 2 == 0 else []):
        for c in [0] + ([width - 1] if width % 2 == 0 else []):
            gain[r, c] *= np.sqrt(2.0)
    return gain


@functools.lru_cache(maxsize=2)  # a 4K set is ~100 MB
def _ccs_amplitudes(profile: GrainProfile, height: int, width: int, size: float) -> np.ndarray:
    """float32 (3, H, W): what multiplies each channel's packed unit-variance noise (step 3 of the
    docstring): the profile's amplitude at each number's frequency, scaled to the profile's variance at
    this ``size``, times ``white_gain`` (each packed number then carries the power of a real white plane's
    frequency)."""
    rings = np.arange(len(profile.spectrum[0]), dtype=np.float64)
    full = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]) * profile.tile
    packed = ccs_frequencies(height, width) * profile.tile
    unit = white_gain(height, width)
    out = np.empty((3, height, width), np.float32)
    for c, ch in enumerate(profile.spectrum):
        s = np.asarray(ch, np.float64)
        target = float(np.interp(full, rings, s, right=0.0).mean())  # the profile's variance on this grid
        got = float(np.interp(full * size, rings, s, right=0.0).mean())
        scale = np.sqrt(target / got) if got > 0 else 0.0
        amplitude = np.sqrt(np.interp(packed * size, rings, s, right=0.0)) * scale
        out[c] = (amplitude * unit).astype(np.float32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=4)
def _mixing(profile: GrainProfile) -> np.ndarray:
    return np.linalg.cholesky(np.asarray(profile.correlation, np.float64)).astype(np.float32)


def grain_field(profile: GrainProfile, height: int, width: int, *, shot: int, frame: int, seed: int,
                size: float = 1.0) -> np.ndarray:  # fmt: skip
    """float32 (H, W, 3), C-contiguous: grain of the profile's spectrum and correlation at level gain 1
    (steps 1-3 of the module docstring)."""
    noise = white_ccs(height, width, shot=shot, frame=frame, seed=seed)
    mixing = _mixing(profile)
    amplitudes = _ccs_amplitudes(profile, height, width, float(size))
    planes = []
    mixed = np.empty((height, width), np.float32)
    for i in range(3):  # the Cholesky factor is lower-triangular
        np.multiply(noise[0], mixing[i, 0], out=mixed)
        for j in range(1, i + 1):
            mixed += noise[j] * mixing[i, j]
        mixed *= amplitudes[i]
        planes.append(cv2.idft(mixed, flags=cv2.DFT_REAL_OUTPUT))
    return cv2.merge(planes)


def level_positions(profile: GrainProfile) -> np.ndarray:
    """float64 (bins,): the luma each of the profile's level gains stands for: its ``level_position``
    (the mean level of the pixels measured), the bins' centres when a profile does not record it."""
    if profile.level_position is not None:
        return np.asarray(profile.level_position, np.float64)
    edges = np.asarray(profile.level_edges, np.float64)
    return (edges[:-1] + edges[1:]) / 2


@functools.lru_cache(maxsize=4)
def _level_table(profile: GrainProfile) -> tuple[np.ndarray, float, float]:
    """(float32 (256, 1, 3) gains, the level at entry 0, entries per unit of level): the profile's level
    gain per channel, linear between the levels the bins' gains stand for (``level_positions``), sampled
    over their span (step 4)."""
    positions = level_positions(profile)
    gains = np.asarray(profile.level_gain, np.float64)
    span = float(positions[-1] - positions[0])
    if span <= 0:  # one bin: a constant gain
        span = 1.0
    grid = positions[0] + np.arange(_LEVEL_TABLE) * (span / (_LEVEL_TABLE - 1))
    table = np.stack([np.interp(grid, positions, gains[:, c]) for c in range(3)], -1).astype(np.float32)
    return table.reshape(_LEVEL_TABLE, 1, 3), float(positions[0]), (_LEVEL_TABLE - 1) / span


def picture_level(picture: np.ndarray, sigma: float) -> np.ndarray:
    """float32 (H, W): the level grain follows at each pixel of ``picture`` (float32 (H, W, 3) R'G'B'):
    its luma blurred by ``sigma`` px (a profile's ``smooth_sigma``)."""
    return gaussian(luma(np.asarray(picture, np.float32)), sigma)


def gain_at_level(profile: GrainProfile, level: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3): the profile's level gain at each pixel of ``level`` (``picture_level`` with
    the profile's ``smooth_sigma``; not changed) (step 4)."""
    table, start, per_unit = _level_table(profile)
    floored = np.maximum(level, np.float32(start))  # convertScaleAbs takes |x|: nothing below the start
    index = cv2.convertScaleAbs(floored, alpha=per_unit, beta=-start * per_unit)  # rounded, saturated
    return cv2.LUT(cv2.merge([index, index, index]), table)


def level_gain(profile: GrainProfile, picture: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3): the profile's level gain at each pixel of ``picture`` (step 4)."""
    return gain_at_level(profile, picture_level(picture, profile.smooth_sigma))


def unmeasured_share(profile: GrainProfile | None, picture: np.ndarray) -> float | None:
    """The share (0..1) of ``picture``'s pixels (float32 (H, W, 3) R'G'B') whose level (the luma
    blurred by the profile's ``smooth_sigma``, as ``level_gain`` takes it) lies in a level bin where the
    film's grain was never measured (``GrainProfile.level_measured``): there the synthesised grain's
    amplitude is guessed from the measured levels. None: no profile, a zero profile, or one that does
    not record which bins were measured (or measured them all)."""
    if profile is None or profile.is_zero or profile.level_measured is None or all(profile.level_measured):
        return None
    bins = level_bins(picture_level(picture, profile.smooth_sigma), profile.level_edges)
    unmeasured = ~np.asarray(profile.level_measured, bool)
    return float(np.count_nonzero(unmeasured[bins])) / bins.size


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
