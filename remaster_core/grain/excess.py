"""Taking away the grain a model's output carries beyond the film's, where the picture is flat.

Grain synthesis (``synthesis.add_grain`` of ``profile.grain_deficit``) adds what the output lacks; it
cannot take away what the output has too much of. A model trained on grainy scans can make grain of its
own at a scale the film has less of (``bench/grain.py``'s looked-at grain seeds 32 and 34: 1.32 and 1.71
of the film's finest octave on the held-out shot, all of it the model's). How much differs from shot
to shot (seed 34: 2.68 on the training shots), so the training record (``remaster.output_grain``: the
output's grain ``O`` measured in the film's flat tiles, times the share ``passed`` a deflicker lets
through) gives its shape, and each frame says how strong it is.

The grain's frequencies (from an octave below 1/16 cycle/px, the coarsest ``LookParams.bands`` edge,
up) are split into half-octave bands (``band_centres``: 2^-1.5, 1/4, ... 1/16 cycle/px) by ``w_b``, a
partition of unity linear in log frequency between the centres, faded out over the octave below 1/16
(slower change is the picture's and the deflickers' business) (``_band_weights``). For each band that
holds rings where ``O`` is more than the film's ``F`` (taking them down to ``F`` lowers its power by
more than ``MIN_CUT`` of the film's), and each channel:

1. **two filters** (radial, linear between rings; the picture reflect-padded by ``PAD`` px or more, to
   a size the transform is fast at, so that the wrap-around sees no edge): the band, ``C = w_b(|f|)``,
   and its excess, ``R = (1 - g(|f|)) w_b(|f|)`` with ``g = sqrt(min(1, F / O))`` ring by ring;
2. **the frame's strength** ``k``: the local power of ``C`` over what ``O`` gives there (``A0``, its
   power in the band, times the square of the output's level gain at the pixel,
   ``synthesis.gain_at_level``), read over a Gaussian of ``STRENGTH_SPREAD`` times ``MASK_SIGMA`` px (at
   the finest band; sqrt(2) wider a band down): about 1 where the frame's grain is the training
   shots'. On one frame that power holds the picture's fine texture as well as the grain. Given the
   model's output of an adjacent frame (``pair``; the render's output deflicker makes it), ``k`` is
   also read on the two frames' difference once the neighbour is moved onto the frame
   (``grain_difference``: the affine motion of ``look.motion`` or none, Lanczos-4 as the look metric
   moves it; the power divided by ``1 +`` the band's mean warp transfer in each ``TRANSFER_TILE`` px
   tile, as grain new in each frame adds), where texture that follows the motion cancels and grain does
   not; the lower of the two reads is taken (an occlusion, a cut or motion the affine misses read high
   in the difference and leave the frame's own). Held-out grain seed 64's shot: the finest half-octave
   band's ``k`` read 1.8-2.0 on single frames in the look metric's flat tiles (its fine texture) and
   1.2-1.4 on the difference, so the step took away only what it takes above ``SURE`` (the finest
   octave 2.61 -> 1.93 of the film's); read on the difference too, 2.61 -> 1.31 (``beta`` at most 1
   leaves ``k`` times the film's at best). A neighbour showing the same picture (a frozen shot, a
   repeated frame: the difference's median ``k`` under ``SAME_PICTURE`` in the first band looked at) is
   not used;
3. **how much of R**: ``beta`` in 0..1 such that the band, ``k`` times ``O``'s power, less ``beta R``,
   holds the target ``T(k)``. Up to ``SURE`` (1.25: the strength's read scatters by less about the
   record's 1), ``sum w_b^2 min(F', k O)`` (``F'``: ``F`` at the film's level gain there): the film's
   where the output has more, the output's own where it has less. Above it, ``T(SURE) + (k - SURE)
   A0``: the power taken from grain of ``SURE`` times the record's, and no more. What reads as more
   than the record's grain is often the picture's fine texture in a flat area, or the tape's noise,
   rather than grain of its own: taking more there took seed 32's coarsest octave from 0.97 to 0.68 of
   the film's without a deflicker, and a target of ``min(F', k O)`` there, scaling the whole band by
   ``g``, left held-out seed 46's finest octave (0.69 of it the picture's own) at 0.70 of the film's
   (0.78 now); the price is a shot whose model makes more grain than on the training shots (held-out
   seed 36: 1.62 -> 1.73). With ``A1``, ``A2`` the powers of ``O (1 - g)`` and ``O (1 - g)^2`` in the
   band, ``beta`` solves ``k (A0 - 2 beta A1 + beta^2 A2) = target`` (``_beta``); ``k = 1`` gives ``beta
   = 1`` (the record's excess, exactly), a frame with no excess ``beta = 0``, one of more than ``SURE``
   times the record less than 1;
4. **only where it is grain**: the same ratio read over ``MASK_SIGMA`` px (edges and texture read far
   more than grain): up to ``GRAIN_ONLY``, ``beta`` in full; none from ``DETAIL``, linearly between;
5. ``picture - sum_b weight_b beta_b R_b``.

The filters act on the picture, texture and grain alike: what tells them apart is only how much is
taken (``beta``), and where (``weight``).

The deficit synthesised afterwards is ``grain_deficit``'s (the profile export embeds): nothing in an
octave where the output holds more than the film, the film's less the output's elsewhere. Whole-frame
operations only (no tiles, no randomness): a frame is the same for any chunking or tiling (with ``pair``,
for the same neighbour: the render reads it past the chunk's ends, as the output deflicker does). Cost: two
inverse transforms per channel and band looked at (two or three bands for a fine excess); with ``pair``,
the motion between the two frames, one more forward transform per channel and one more inverse per
channel and band.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.grain.profile import GrainProfile, grain_deficit
from remaster_core.grain.synthesis import ccs_frequencies, gain_at_level, picture_level
from remaster_core.look.grain_sample import WARP, warp_transfer
from remaster_core.look.motion import affine_maps, motion_between
from remaster_core.look.regions import LookParams, gaussian, tiles

PAD = 16
"""px of mirrored picture around the frame before the transform (the band filters' kernels are a few
px)."""
MASK_SIGMA = 4.0
"""px: the Gaussian a band's local power is averaged over to tell grain from detail, at the finest band
(about 200 px: grain alone reads within about 0.2 of its mean); sqrt(2) wider a band down."""
STRENGTH_SPREAD = 3.0
"""The frame's grain strength ``k`` is read over a Gaussian this many times wider than the detail's
(``MASK_SIGMA``): ``beta`` is capped at 1, so the scatter of a narrow read would leave part of the
excess (about 6 % of the film's power in the finest octave read at ``MASK_SIGMA``)."""
COARSE = 4
"""The strength ``k`` and ``beta`` are worked out at 1/``COARSE`` of the resolution (area-averaged) and
interpolated back: they follow the picture over ``STRENGTH_SPREAD * MASK_SIGMA`` px at least."""
GRAIN_ONLY = 2.0
"""``k`` up to which the excess is taken away in full (a frame with twice the training shots' grain)."""
DETAIL = 4.0
"""``k`` from which nothing is taken away (an edge or texture)."""
MIN_CUT = 0.01
"""A band is looked at where taking the recorded excess away there (``A0 - T(1)``, channels summed)
lowers its power by more than this share of the film's: rings shared with the next band count in
both."""
SURE = 1.25
"""``k`` up to which a frame's grain is taken for the record's (the strength's read scatters by less);
above it the frame keeps what it holds beyond (module docstring, step 3)."""
SAME_PICTURE = 0.1
"""A neighbour whose moved difference reads a median strength ``k`` under this in the finest band looked
at shows the frame's own picture and grain (a frozen shot, a repeated frame): ``k`` is read on the frame
alone (step 2)."""
TRANSFER_TILE = 64
"""px: the tiles whose sub-pixel positions give the warp's power transfer (``grain_difference``)."""
MOTION_WIDTH = 480
"""px: the widest picture the motion between a frame and its neighbour is found on (``grain_difference``:
a global affine; a 1440x1080 frame's at full size took 1.2 s of one core)."""
FINE_SIGMA = 1.0
"""px: the Gaussian above which ``grain_difference`` compares what two moves of a neighbour leave."""
_STRENGTHS = np.geomspace(1e-3, 2 * DETAIL, 256)
"""The ``k`` at which each band's target power is tabulated (``_Bands.target``)."""


@dataclass(frozen=True)
class ExcessPlan:
    """What a render does to a model's output for the film's grain.

    Attributes:
        deficit: the grain to synthesise (``grain_deficit``), or None: no grain.
        bands: per half-octave band (``band_centres``, finest first), whether its excess is taken away;
            None: nothing is (no band has one, or the profiles are missing).
        film, output: the film's grain and the output's (None with ``bands`` None).
        passed: per ring, the share of the output's grain power a deflicker passes; None: all of it.
    """

    deficit: GrainProfile | None
    bands: tuple[bool, ...] | None = None
    film: GrainProfile | None = None
    output: GrainProfile | None = None
    passed: tuple[float, ...] | None = None

    @property
    def removes(self) -> bool:
        """Whether ``remove_excess`` may change a picture."""
        return self.bands is not None


def band_centres() -> np.ndarray:
    """float64 (bands,): the centres (cycles/px) of the half-octave bands the excess is judged in,
    finest first: 2^(-3/2), 2^(-2), ... down to the coarsest ``LookParams.bands`` edge (1/16)."""
    low = min(lo for lo, _ in LookParams().bands)
    count = round(float(2 * np.log2(2.0**-1.5 / low))) + 1
    return 2.0 ** (-1.5 - 0.5 * np.arange(count))


def _band_weights(frequency: np.ndarray) -> np.ndarray:
    """float64 (bands, *frequency.shape): a partition of unity over the half-octave bands
    (``band_centres``, finest first) at ``frequency`` (cycles/px): 1 at each band's centre, linear in
    log frequency to 0 at the next centres; the finest band's weight stays 1 above its centre, the
    coarsest's (1/16) falls linearly in log frequency to 0 an octave below it."""
    centres = np.log2(band_centres())[::-1]  # increasing
    x = np.log2(np.maximum(frequency, 1e-12))
    one_hot = np.eye(len(centres))[::-1]  # column j: the band at centres[j]
    ramp = np.clip(x - centres[0] + 1.0, 0.0, 1.0)
    return np.stack([np.interp(x, centres, one_hot[:, b]) * ramp for b in range(len(centres))])


@dataclass(frozen=True)
class _Bands:
    """A plan's per-band numbers (float64, (bands, 3) per channel; ``target`` (bands, 3, strengths)):
    ``film`` the power of ``F`` in each band; ``a0``, ``a1``, ``a2`` those of ``O``, ``O (1 - g)`` and
    ``O (1 - g)^2``; ``target[..., i]`` = ``T(k_i)`` at ``k_i = _STRENGTHS[i]`` (``sum w^2 min(F, k O)``
    up to ``k = SURE``, ``T(SURE) + (k - SURE) a0`` above: step 3 of the module docstring); ``gains``:
    ``g`` per channel and ring."""

    film: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    target: np.ndarray
    gains: np.ndarray


@functools.lru_cache(maxsize=4)
def _bands(film_profile: GrainProfile, output: GrainProfile, passed: tuple[float, ...] | None) -> _Bands:
    """The per-band numbers of a film, an output and a deflicker's ``passed`` share (``_Bands``),
    integrated over the unit square of frequencies (on a ``2 tile`` grid: the profiles' own measure,
    ``GrainProfile.rms``)."""
    tile = film_profile.tile
    n = 2 * tile
    radius = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :])
    weights = _band_weights(radius) ** 2  # (bands, n, n)
    rings = np.arange(len(film_profile.spectrum[0]), dtype=np.float64)
    share = np.ones(len(rings)) if passed is None else np.asarray(passed)
    film = np.asarray(film_profile.spectrum, np.float64)
    carried = share[None, :] * np.asarray(output.spectrum, np.float64)
    gains = np.sqrt(np.divide(film, carried, out=np.ones_like(film), where=carried > film))
    bands = weights.shape[0]
    power, a0, a1, a2 = (np.empty((bands, 3)) for _ in range(4))
    target = np.empty((bands, 3, len(_STRENGTHS)))
    for c in range(3):
        f = np.interp(radius * tile, rings, film[c])
        o = np.interp(radius * tile, rings, carried[c])
        cut = 1.0 - np.interp(radius * tile, rings, gains[c])
        for b in range(bands):
            w = weights[b]
            power[b, c] = float((f * w).mean())
            a0[b, c] = float((o * w).mean())
            a1[b, c] = float((o * cut * w).mean())
            a2[b, c] = float((o * cut * cut * w).mean())
            at_sure = float((np.minimum(f, SURE * o) * w).mean())
            target[b, c] = [
                float((np.minimum(f, k * o) * w).mean()) if k <= SURE else _past_sure(at_sure, k, a0[b, c])
                for k in _STRENGTHS
            ]
    return _Bands(power, a0, a1, a2, target, gains)


def excess_plan(film: GrainProfile, output: GrainProfile, passed: np.ndarray | None = None) -> ExcessPlan:
    """The plan for an output whose recorded grain is ``output`` (measured in ``film``'s flat tiles, on
    the same tile), ``passed`` (float64 (rings,), 0..1, or None: 1) of it surviving a deflicker.

    Raises:
        InputError: the two profiles were measured on different tiles, or ``passed`` has the wrong length.
    """
    deficit = grain_deficit(film, output, passed)  # names a tile or length mismatch
    if film.is_zero or output.is_zero:
        return ExcessPlan(deficit)
    share = None if passed is None else tuple(float(v) for v in np.asarray(passed, np.float64))
    numbers = _bands(film, output, share)
    at_one = numbers.target[:, :, int(np.argmin(np.abs(np.log(_STRENGTHS))))]  # T(k = 1)
    have, cut = numbers.film.sum(axis=1), (numbers.a0 - at_one).sum(axis=1)
    bands = tuple(bool(c > MIN_CUT * h) for c, h in zip(cut, have, strict=True))
    if not any(bands):
        return ExcessPlan(deficit)
    return ExcessPlan(deficit, bands, film, output, share)


@functools.lru_cache(maxsize=4)
def _transfers(plan: ExcessPlan, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 (bands, H, W), float32 (bands, 3, H, W)): ``w_b`` and ``(1 - g) w_b`` per channel, in
    OpenCV's packed spectrum layout (CCS) of a real (H, W) plane (``synthesis.ccs_frequencies``)."""
    assert plan.film is not None and plan.output is not None
    radius = ccs_frequencies(height, width)
    weights = _band_weights(radius)
    rings = np.arange(len(plan.film.spectrum[0]), dtype=np.float64)
    gains = _bands(plan.film, plan.output, plan.passed).gains
    cut = np.stack([1.0 - np.interp(radius * plan.film.tile, rings, gains[c], right=1.0) for c in range(3)])
    band = weights.astype(np.float32)
    excess = (weights[:, None] * cut[None]).astype(np.float32)
    band.flags.writeable = False
    excess.flags.writeable = False
    return band, excess


def _past_sure(at_sure: float, k: np.ndarray | float, a0: float) -> np.ndarray | float:
    """``T(k)`` above ``SURE`` (step 3): ``T(SURE)`` (``at_sure``) and the band's whole power ``a0`` per
    unit of ``k`` beyond, i.e. the power taken from grain of ``SURE`` times the record's and no more."""
    return at_sure + (k - SURE) * a0


def _beta(strength: np.ndarray, ratio: np.ndarray, o: _Bands, b: int) -> np.ndarray:
    """float32 (H, W, 3) in 0..1: how much of band ``b``'s excess to take away (step 3) where the frame's
    grain is ``strength`` (float32 (H, W, 3), ``k``) times the record's and the film's level gain
    squared over the output's is ``ratio`` (float32 (H, W, 3), ``rho``): the target is ``rho
    T(k / rho)`` with ``T`` the film-level table (``sum w^2 min(rho F, k O) = rho T(k / rho)``)."""
    out = np.empty_like(strength)
    log_k = np.log(_STRENGTHS)
    for c in range(3):
        k = np.maximum(strength[..., c], 1e-6)
        rho = ratio[..., c]
        x = k / rho
        at_sure = np.interp(np.log(SURE), log_k, o.target[b, c])
        below = np.interp(np.log(np.maximum(x, 1e-9)), log_k, o.target[b, c])
        target = rho * np.where(x <= SURE, below, _past_sure(at_sure, x, o.a0[b, c]))  # past the table too
        a0, a1, a2 = o.a0[b, c], o.a1[b, c], o.a2[b, c]
        if a2 <= 0:
            out[..., c] = 0.0
            continue
        tau = target / k  # the power, at k = 1, that the band is to keep
        disc = np.maximum(a1 * a1 - a2 * (a0 - tau), 0.0)
        out[..., c] = np.clip((a1 - np.sqrt(disc)) / a2, 0.0, 1.0)
    return out


def grain_difference(frame: np.ndarray, neighbour: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """What grain new in each frame reads as once ``neighbour`` is moved onto ``frame`` (both float32
    (H, W, 3), R'G'B', the model's outputs of two adjacent frames): ``(difference, transfer)``, the
    difference float32 (H, W, 3) ``frame - warp(neighbour)`` and the warp's power transfer in each of
    the frame's ``TRANSFER_TILE`` px tiles, float64 (rows, cols, t, t) (``look.grain_sample.
    warp_transfer``, fftfreq order; one tile of the whole frame where it is smaller): there the
    difference holds ``1 +`` it times a frame's grain power. The warp is the affine motion from
    ``neighbour`` to ``frame`` (``look.motion.motion_between``'s model, found at most ``MOTION_WIDTH``
    px wide: ``_affine_maps``; resampled with ``look.grain_sample.WARP``: a zoom's sub-pixel positions,
    and with them the transfer, change across the frame) or none at all, whichever leaves less fine
    power (above a Gaussian of ``FINE_SIGMA`` px) in the difference per unit of the grain it carries
    (``1 +`` the move's mean transfer there): a still camera over a picture with nothing coarse to track
    (a flat wall's fine texture) gives the affine a stray fraction of a pixel that the texture would not
    cancel at. None where the two differ in size."""
    if neighbour.shape != frame.shape or frame.ndim != 3:
        return None
    frame = np.ascontiguousarray(frame, np.float32)
    neighbour = np.ascontiguousarray(neighbour, np.float32)
    h, w = frame.shape[:2]
    t = min(TRANSFER_TILE, h, w)
    radius = np.hypot(np.fft.fftfreq(t)[:, None], np.fft.fftfreq(t)[None, :])
    above = (1.0 - np.exp(-2.0 * np.pi**2 * FINE_SIGMA**2 * radius**2)) ** 2  # what the fine residual keeps
    above /= above.sum()
    rows, cols = max(1, h // t), max(1, w // t)
    map_x, map_y = _affine_maps(frame, neighbour)
    cut_x, cut_y = tiles(map_x, t), tiles(map_y, t)
    moves = (
        (frame - neighbour, np.ones((rows, cols, t, t))),  # none: whole pixels, everything passes
        (
            frame - cv2.remap(neighbour, map_x, map_y, WARP, borderMode=cv2.BORDER_REPLICATE),
            warp_transfer(cut_x.reshape(-1, t, t), cut_y.reshape(-1, t, t)).reshape(rows, cols, t, t),
        ),
    )
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for difference, transfer in moves:
        fine = difference - gaussian(difference, FINE_SIGMA)
        # per unit of grain: a move that low-passes the neighbour leaves less of its grain, not less texture
        power = float(np.mean(fine * fine)) / (1.0 + float((transfer.mean(axis=(0, 1)) * above).sum()))
        if best is None or power < best[0]:
            best = (power, difference, transfer)
    assert best is not None
    return best[1], best[2]


def _affine_maps(frame: np.ndarray, neighbour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (H, W) sampling maps into ``neighbour`` of the affine motion from it to ``frame`` (both
    float32 (H, W, 3)): ``look.motion.motion_between``'s global model, found on both downscaled to at
    most ``MOTION_WIDTH`` px wide (area average; the model brought back to full size, pixel centres
    kept) and applied at full size."""
    h, w = frame.shape[:2]
    size = (max(1, min(w, MOTION_WIDTH)), max(1, round(h * min(w, MOTION_WIDTH) / w)))
    if size[0] < w:
        small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in (neighbour, frame)]
        m = motion_between(small[0], small[1], LookParams()).model
        sx, sy = size[0] / w, size[1] / h
        ox, oy = 0.5 * (sx - 1.0), 0.5 * (sy - 1.0)  # small = s * full + o, at pixel centres
        m = np.array(
            [
                [m[0, 0], m[0, 1] * sy / sx, (m[0, 0] * ox + m[0, 1] * oy + m[0, 2] - ox) / sx],
                [m[1, 0] * sx / sy, m[1, 1], (m[1, 0] * ox + m[1, 1] * oy + m[1, 2] - oy) / sy],
            ]
        )
    else:
        m = motion_between(neighbour, frame, LookParams()).model
    return affine_maps(m, frame.shape)


@functools.lru_cache(maxsize=8)
def _band_shares(size: int) -> np.ndarray:
    """float64 (bands, size, size): ``w_b^2`` on a ``size`` px tile's DFT grid (fftfreq order), each
    band's weights summing to 1 (a mean over the band)."""
    radius = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :])
    weights = _band_weights(radius) ** 2
    return weights / np.maximum(weights.sum(axis=(1, 2), keepdims=True), 1e-12)


def remove_excess(
    picture: np.ndarray, plan: ExcessPlan, pair: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """``picture`` (float32 (H, W, 3), the model's output on the output raster, R'G'B') less the grain it
    carries beyond the film's, in its flat areas (module docstring); ``picture`` itself when the plan
    removes nothing. Not clipped.

    ``pair``: (this frame's model output, an adjacent frame's), float32 (H, W, 3) each, before any output
    deflicker (``picture`` may be the deflickered one): the strength is read on their moved difference
    too (step 2). None, or of another size than ``picture``: on the frame alone."""
    if plan.bands is None:
        return picture
    assert plan.film is not None and plan.output is not None
    picture = np.ascontiguousarray(picture, np.float32)
    h, w = picture.shape[:2]
    pad = min(PAD, h - 1, w - 1)
    bottom = min(cv2.getOptimalDFTSize(h + 2 * pad) - h - pad, h - 1)  # a size the transform is fast at
    right = min(cv2.getOptimalDFTSize(w + 2 * pad) - w - pad, w - 1)

    def padded_spectra(image: np.ndarray) -> list[np.ndarray]:
        padded = cv2.copyMakeBorder(image, pad, bottom, pad, right, cv2.BORDER_REFLECT_101)
        return [cv2.dft(np.ascontiguousarray(padded[:, :, c])) for c in range(3)]

    spectra = padded_spectra(picture)
    band_filters, excess_filters = _transfers(plan, h + pad + bottom, w + pad + right)
    o = _bands(plan.film, plan.output, plan.passed)
    level = picture_level(picture, plan.output.smooth_sigma)
    if plan.film.smooth_sigma != plan.output.smooth_sigma:  # export writes them alike
        film_level = picture_level(picture, plan.film.smooth_sigma)
    else:
        film_level = level
    output_level = np.maximum(gain_at_level(plan.output, level) ** 2, np.float32(1e-12))
    ratio = gain_at_level(plan.film, film_level) ** 2 / output_level  # rho
    moved = grain_difference(*pair) if pair is not None and pair[0].shape == picture.shape else None
    # the difference's spectra, its tiles' warp transfer and the band weights on the transfer's grid
    reading = (padded_spectra(moved[0]), moved[1], _band_shares(moved[1].shape[-1])) if moved else None

    def filtered(source: list[np.ndarray], transfer: np.ndarray, c: int) -> np.ndarray:
        flags = cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE
        return cv2.idft(source[c] * transfer, flags=flags)[pad : pad + h, pad : pad + w]

    half = (max(1, w // 2), max(1, h // 2))  # the detail's power, at half the resolution
    small = (max(1, w // COARSE), max(1, h // COARSE))  # the strength's, at 1/COARSE
    small_ratio = cv2.resize(ratio, small, interpolation=cv2.INTER_AREA)
    out = picture.copy()
    use_difference: bool | None = None  # judged on the first band looked at
    for b, on in enumerate(plan.bands):
        if not on:
            continue
        band = cv2.merge([filtered(spectra, band_filters[b], c) for c in range(3)])
        squared = band * band
        expected = output_level * o.a0[b].astype(np.float32) + np.float32(1e-20)
        sigma = MASK_SIGMA * 2.0 ** (b / 2)
        blurred = gaussian(cv2.resize(squared, half, interpolation=cv2.INTER_AREA), sigma / 2)
        local = cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR) / expected
        weight = np.clip((DETAIL - local) / (DETAIL - GRAIN_ONLY), 0.0, 1.0)
        # how strong, read wider: at a quarter of the resolution (it changes slowly), then back
        small_expected = cv2.resize(expected, small, interpolation=cv2.INTER_AREA)
        spread = STRENGTH_SPREAD * sigma / COARSE
        strength = gaussian(cv2.resize(squared, small, interpolation=cv2.INTER_AREA), spread) / small_expected
        if reading is not None and use_difference is not False:
            moved_spectra, transfer, shares = reading
            moved_band = cv2.merge([filtered(moved_spectra, band_filters[b], c) for c in range(3)])
            # the grain power the difference holds per unit of the frame's, tile by tile, at 1/COARSE
            adds = (1.0 + np.einsum("rcij,ij->rc", transfer, shares[b])).astype(np.float32)
            adds = cv2.resize(adds, small, interpolation=cv2.INTER_LINEAR)[..., None]
            power = gaussian(cv2.resize(moved_band * moved_band, small, interpolation=cv2.INTER_AREA), spread)
            from_difference = power / (adds * small_expected)
            if use_difference is None:  # a neighbour of the same picture differs by nothing
                use_difference = bool(np.median(from_difference) >= SAME_PICTURE)
            if use_difference:
                strength = np.minimum(strength, from_difference)
        beta = _beta(strength, small_ratio, o, b)
        amount = weight * cv2.resize(beta, (w, h), interpolation=cv2.INTER_LINEAR)
        excess = cv2.merge([filtered(spectra, excess_filters[b, c], c) for c in range(3)])
        out -= amount * excess
    return out
