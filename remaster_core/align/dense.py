"""Dense alignment: optical flow between the film and the globally aligned broadcast, regularised.

What the 5-parameter model (``sparse``) leaves is low-frequency: lens distortion beyond k1, weave
(per-frame jitter of the film in the gate), drift. Per frame:

1. ``prepare_pair``: film luma on the working raster, blurred to the broadcast's sharpness; broadcast
   luma resampled onto the working raster through the current model; both locally contrast-normalised
   (``prep.normalised``), which removes the grade and the broadcast's low-frequency noise.
2. ``flow_pair``: OpenCV DIS optical flow (patch 8, stride 4, finest scale 1, variational refinement),
   forward (film -> broadcast) and, where a field is fitted to it, backward; ``fb_error`` is their
   disagreement: on a flat, noisy area (a dark sky under grain and coding noise) the two flows are
   noise and disagree, where the picture has texture they agree.
3. ``flow_correspondences``: every ``stride``-th working pixel x gives the correspondence film x <->
   broadcast ``model(x + flow(x))``, weighted by texture (``prep.gradient_energy``) and flow
   consistency. Correspondences do not depend on the model they were measured through, so they can
   refine it (``refine_global``: the 5-parameter model refitted on correspondences pooled over
   several frames, which removes the SIFT bias) and feed the residual field.
4. ``SplineField``: the residual (correspondence minus model, in broadcast px) is fitted by a cubic
   B-spline on a coarse grid (control points about ``spacing`` film px apart) by robust, regularised
   least squares. The shot's pooled field is the prior; each frame's field is pulled towards it
   (``solve_frame``), so a frame with texture follows its own weave and a flat or dark frame follows
   the shot. This is the regularisation: per-pixel flow is noisy (grain, tape noise), the geometry
   is smooth.

The field is then finished on the pictures themselves (``direct``: Gauss-Newton on the photometric
difference), which the flow alone cannot do to better than about a tenth of a pixel.

The validity mask (``validity_mask``) is false where the final mapping samples outside the broadcast
(with a margin), where textured pixels' forward and backward flow disagree (when the backward flow was
computed), where textured pixels' flow departs from the smooth field (things that moved), where the
pictures through the final mapping still disagree locally (``direct.Warped.disagreement``: occlusions, overlays, a
changed picture) and where the grade-matched pictures disagree in local mean (an occlusion on a flat
area). Lens mismatch is not among them: the field absorbs it. It is eroded by a few pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from remaster_core.align.mat import matmul, solve
from remaster_core.align.prep import (
    WorkMaps,
    WorkRaster,
    broadcast_on_work,
    gradient_energy,
    local_mean,
    normalised,
    to_u8,
)
from remaster_core.align.transform import Radial, Transform4, map_points


@dataclass(frozen=True)
class DenseParams:
    """Settings of the dense step (lengths in working-raster px unless stated).

    Attributes:
        norm_sigma: Gaussian sigma of the local contrast normalisation.
        norm_eps: noise floor of the normalisation, in luma units (0..1).
        film_blur: Gaussian sigma applied to the film, in broadcast px (converted per shot): brings
            the film's sharpness near the broadcast's.
        stride: sample every ``stride``-th working pixel for the fits.
        texture_sigma: window of the structure tensor (``prep.gradient_energy``).
        fb_threshold: forward-backward disagreement above which flow is not trusted.
        outlier_threshold: textured flow further than this from the smooth field is masked.
        spacing: B-spline control point spacing, in film px.
        smoothness: weight of the B-spline second-difference penalty (relative to the data).
        prior_weight: pull of the shape of each frame's field towards the shot's (the second
            differences of their difference, relative to the data: ``solve_field``).
        shape_weight: pull of each frame's field towards the shot's on what of their difference no
            bilinear warp expresses (``prior_pull``), relative to the data: where a frame has texture
            its data carry it, where it has none (a flat sky, the frame's edges) the field keeps the
            shot's shape instead of extrapolating its own flow's noise, which bent the fit frames'
            fields apart by 0.5-0.7 broadcast px on the dark-sky shots of ``bench/align_cli.py`` (every
            frame masked). Tuning seeds 3 and 4 of ``bench/align.py`` (none: 0.026 film px RMS, worst
            0.054): 0.03 gives 0.025 / 0.049, 0.1 0.024 / 0.045, 1 0.025 / 0.041, 3 0.029, 10 0.035;
            ``bench/align_cli.py`` seeds 77-86 on the frames the conform put in place (the alignment's
            own error): 0.1 gives 0.060 RMS (worst 0.200), 1 0.053 (worst 0.139). 1 puts a frame of
            the 20-seed corpus of ``tests/align/test_warps.py`` over its bar (seed 110, a textured
            picture: 0.103 px), so 0.1.
        direct_iterations: Gauss-Newton iterations of the photometric refinement (``direct``).
        direct_cauchy: its Cauchy scale, in robust standard deviations of the residual (0: none).
        direct_pool: its normal equations are summed over blocks of this many working px a side.
        disagreement_sigma: window (working px) of the local photometric disagreement (``direct``).
        max_disagreement: a judged pixel (``judged_texture``) whose local disagreement exceeds this
            does not match (the mask; the share of such pixels is the shot's and frame's mismatch).
        judged_texture: the photometric disagreement is evidence only where the film's structure is at
            least this many times ``texture_level``. That level is capped at a quarter of the 90th
            percentile (``texture_threshold``: a picture textured all over has no quiet 5 %), and on a
            frame that is mostly a dark sky under thin towers the cap falls below the sky's own noise
            floor; there film grain, coding noise and faint detail the codec wiped disagree as unrelated
            pictures do. On the rocket shots of ``bench/align_cli.py`` (MPEG-2, seeds 302 and 304)
            10-16 % of the pixels over the level alone disagreed, speckles over the sky, and the shot or
            a frame was rejected as "differing in part"; over twice the level 0.6-1.2 %. A quarter of
            the picture replaced by another photograph (``tests/align``) reads 16-18 % either way.
        cauchy: Cauchy loss scale of the robust fits, in broadcast px.
        cauchy_start: the field fit's first reweighting uses this scale, shrinking geometrically to
            ``cauchy`` (a warp the model misses leaves px-sized residuals everywhere at first).
        margin: broadcast px that valid samples keep from the raster edge.
        photo_sigma, photo_threshold: local-mean window (px) and absolute luma difference above which
            grade-matched pictures disagree.
        erode: invalid areas grow by this many film px.
        flow_finest_scale: the finest pyramid level the DIS flow is computed on (0: the working raster,
            1: half of it, upsampled; each level up costs about a quarter).
        flow_iterations: DIS gradient-descent iterations per patch.
        flow_refinement: DIS variational refinement iterations per level: each costs about a tenth of
            a flow (720x540, finest scale 1: 25.5 ms with 5, 21.5 with 3, 17.0 with 1). Two: the fitted
            field and the direct step finish what the flow leaves (tuning seeds 3 and 4 of
            ``bench/align.py``: 0.026 film px RMS, worst 0.055, as with 5; 98.7 % valid against 98.8).
    """

    norm_sigma: float = 4.0
    norm_eps: float = 0.01
    film_blur: float = 0.8
    stride: int = 3
    texture_sigma: float = 2.0
    fb_threshold: float = 1.0
    outlier_threshold: float = 1.0
    spacing: float = 120.0
    smoothness: float = 0.01
    prior_weight: float = 0.01
    shape_weight: float = 0.1
    direct_iterations: int = 2
    direct_cauchy: float = 4.0
    direct_pool: int = 8
    disagreement_sigma: float = 6.0
    max_disagreement: float = 0.6
    judged_texture: float = 2.0
    cauchy: float = 0.5
    cauchy_start: float = 3.0
    margin: float = 1.0
    photo_sigma: float = 4.0
    photo_threshold: float = 0.08
    erode: int = 2
    flow_finest_scale: int = 1
    flow_iterations: int = 16
    flow_refinement: int = 2


@dataclass(frozen=True)
class FlowPair:
    """Flow between the prepared film and broadcast of one frame (working raster).

    Attributes:
        film, broadcast: uint8 (h, w) the normalised pictures the flow ran on.
        forward: float32 (h, w, 2): film(x) matches broadcast(x + forward(x)).
        fb_error: float32 (h, w) forward-backward disagreement in working px (zeros when the backward
            flow was not computed).
        texture: float32 (h, w) structure-tensor confidence of the film.
        film_lum, broadcast_lum: float32 (h, w) the film luma (blurred) and the resampled broadcast luma.
        film_normalised: float32 (h, w) ``prep.normalised`` of ``film_lum`` (what ``film`` quantises), or
            None (then computed where needed).

    ``texture_level`` is ``texture_threshold(texture)``, computed once: the flow weights, the mask and the
    shot's checks all ask for it.
    """

    film: np.ndarray
    broadcast: np.ndarray
    forward: np.ndarray
    fb_error: np.ndarray
    texture: np.ndarray
    film_lum: np.ndarray
    broadcast_lum: np.ndarray
    film_normalised: np.ndarray | None = None

    @functools.cached_property
    def texture_level(self) -> float:
        return texture_threshold(self.texture)


def film_for_flow(
    film_lum_work: np.ndarray, work: WorkRaster, transform: Transform4, params: DenseParams
) -> np.ndarray:
    """The film luma (working raster, float32) blurred to about the broadcast's sharpness."""
    # params.film_blur broadcast px, in working px along each axis; isotropic blur of their mean.
    sig = params.film_blur * 0.5 * (work.scale / abs(transform.sx) + work.scale / abs(transform.sy))
    if sig < 0.1:
        return film_lum_work
    return cv2.GaussianBlur(film_lum_work, (0, 0), sig)


def _dis(params: DenseParams) -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(8)
    dis.setPatchStride(4)
    dis.setFinestScale(params.flow_finest_scale)
    dis.setGradientDescentIterations(params.flow_iterations)
    dis.setVariationalRefinementIterations(params.flow_refinement)
    return dis


def flow_pair(
    film_lum_work: np.ndarray,
    broadcast_lum: np.ndarray,
    work: WorkRaster,
    transform: Transform4,
    radial: Radial,
    params: DenseParams,
    *,
    maps: WorkMaps | None = None,
    backward: bool = True,
    film_side: FlowPair | None = None,
) -> FlowPair:
    """DIS flow between the film and the broadcast resampled through the model.

    Args:
        film_lum_work: film luma float32 (h, w) on the working raster.
        broadcast_lum: broadcast luma float32 (Hb, Wb).
        work, transform, radial: the working raster and the current model.
        params: settings.
        maps: the model's ``prep.work_maps`` if already computed.
        backward: also compute the backward flow (for ``fb_error``, which weights the samples a field is
            fitted to); the 5-parameter refinement does without it (its robust fit over many frames).
        film_side: a pair of the same film frame through the same ``transform`` and ``params``: its
            prepared film (blurred, normalised, quantised, its texture) is taken instead of recomputed.
    """
    if film_side is not None and film_side.film_normalised is not None:
        film, film_n, film_u8 = film_side.film_lum, film_side.film_normalised, film_side.film
        texture = film_side.texture
    else:
        film = film_for_flow(film_lum_work, work, transform, params)
        film_n = normalised(film, params.norm_sigma, params.norm_eps)
        film_u8 = to_u8(film_n)
        texture = gradient_energy(film, params.texture_sigma)
    bc = broadcast_on_work(broadcast_lum, work, transform, radial, maps)
    bc_u8 = to_u8(normalised(bc, params.norm_sigma, params.norm_eps))
    dis = _dis(params)
    fwd = dis.calc(film_u8, bc_u8, None)
    if backward:
        bwd = dis.calc(bc_u8, film_u8, None)
        h, w = film_u8.shape
        xx = np.arange(w, dtype=np.float32)[None, :] + fwd[..., 0]
        yy = np.arange(h, dtype=np.float32)[:, None] + fwd[..., 1]
        back = cv2.remap(bwd, xx, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fb = cv2.magnitude(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1])
    else:
        fb = np.zeros(film_u8.shape, np.float32)
    return FlowPair(film_u8, bc_u8, fwd, fb, texture, film, bc, film_n)


# the noise floor of ``texture_threshold``: see there
_QUIET_PERCENTILE = 5.0
_NOISE_SPREAD = 6.0
_NOISE_CAP = 0.25


def texture_threshold(texture: np.ndarray) -> float:
    """The structure-tensor level above which a pixel counts as textured (``texture``: float32 (h, w)).

    The larger of two floors. A twentieth of the frame's 90th percentile, so the level adapts to the
    picture's contrast (dark and flat frames have little). And the picture's noise floor: film grain
    and coding noise give every pixel some structure-tensor energy, which on a dark, flat sky passes
    the first floor (on the rocket photograph of the small preset, 97 % of the pixels) while giving
    the flow nothing to follow and the photometric checks nothing to compare. The frame's quietest
    5 % is taken for noise alone; on generated Gaussian noise correlated over 0 to 1.5 px (grain and
    the film blur on the working raster) the 99th percentile of this measure is 2.9 to 6.7 times the
    5th, so the floor is 6 times it. A picture textured all over has no quiet 5 %, so that floor is
    capped at a quarter of the 90th percentile.
    """
    p5, p90 = np.percentile(texture[::2, ::2], [_QUIET_PERCENTILE, 90.0])  # a quarter of the pixels: plenty
    noise = min(_NOISE_SPREAD * float(p5), _NOISE_CAP * float(p90))
    return max(0.05 * float(p90), noise, 1e-7)


def judged(pair: FlowPair, params: DenseParams) -> np.ndarray:
    """bool (h, w): where the film's structure is strong enough for the pictures' photometric
    disagreement to count (``params.judged_texture`` times the texture level)."""
    return pair.texture > np.float32(params.judged_texture * pair.texture_level)


def flow_weights(pair: FlowPair, params: DenseParams, at: Any = ...) -> np.ndarray:
    """Confidence of each working pixel's flow, float32 (h, w) in 0..1: texture x flow consistency
    (``at``: an index into the raster, to weigh only those pixels)."""
    texture = pair.texture[at]
    t = texture / (texture + np.float32(pair.texture_level))
    fb = np.float32(1.0) / (1.0 + (pair.fb_error[at] / np.float32(0.5 * params.fb_threshold)) ** 2)
    return (t * fb).astype(np.float32)


@dataclass(frozen=True)
class Samples:
    """Flow correspondences of one frame on a regular grid of working pixels.

    Attributes:
        xs: float64 (Ws,) film x of the grid's columns; ys: float64 (Hs,) film y of its rows.
        broadcast_xy: float64 (Hs, Ws, 2) broadcast coordinates each grid point corresponds to.
        weight: float64 (Hs, Ws) confidence (0..1).
    """

    xs: np.ndarray
    ys: np.ndarray
    broadcast_xy: np.ndarray
    weight: np.ndarray

    def film_xy(self) -> np.ndarray:
        """float64 (Hs * Ws, 2) film coordinates of the grid points, row-major."""
        xx, yy = np.meshgrid(self.xs, self.ys)
        return np.stack([xx.ravel(), yy.ravel()], 1)


def flow_correspondences(
    pair: FlowPair,
    work: WorkRaster,
    transform: Transform4,
    radial: Radial,
    params: DenseParams,
    maps: WorkMaps | None = None,
) -> Samples:
    """Film <-> broadcast correspondences from a frame's flow.

    The flow was measured through ``maps`` when given (a mapping that includes a residual field:
    the broadcast position of a working pixel plus its flow is read from the maps, bilinearly, in
    float64), else through ``transform``/``radial`` (evaluated exactly).
    """
    h, w = pair.forward.shape[:2]
    m = max(2, round(params.norm_sigma))  # borders: the flow's patches hang off the raster
    cols = np.arange(m, w - m, params.stride)
    rows = np.arange(m, h - m, params.stride)
    fl = pair.forward[np.ix_(rows, cols)].astype(np.float64)
    xs, _ = work.to_film(cols, np.zeros(1))
    _, ys = work.to_film(np.zeros(1), rows)
    if maps is None:
        gx, gy = work.to_film(cols[None, :] + fl[..., 0], rows[:, None] + fl[..., 1])
        bx, by = map_points(gx, gy, transform, radial)
    else:
        bx, by = _bilinear(maps, cols[None, :] + fl[..., 0], rows[:, None] + fl[..., 1])
    weight = flow_weights(pair, params, np.ix_(rows, cols)).astype(np.float64)
    return Samples(xs, ys, np.stack([bx, by], -1), weight)


def _bilinear(maps: WorkMaps, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``maps.map_x``/``map_y`` (h, w) read at working coordinates (x, y) float64 (any shape), bilinear,
    extrapolated linearly past the raster edge (the maps are smooth)."""
    h, w = maps.map_x.shape
    x0 = np.clip(np.floor(x).astype(np.int64), 0, w - 2)
    y0 = np.clip(np.floor(y).astype(np.int64), 0, h - 2)
    fx, fy = x - x0, y - y0
    out = []
    for m in (maps.map_x, maps.map_y):
        a, b = m[y0, x0].astype(np.float64), m[y0, x0 + 1].astype(np.float64)
        c, d = m[y0 + 1, x0].astype(np.float64), m[y0 + 1, x0 + 1].astype(np.float64)
        out.append((a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy)
    return out[0], out[1]


def field_maps(base: WorkMaps, field: SplineField, coeffs: np.ndarray, work: WorkRaster) -> WorkMaps:
    """``base`` (the 5-parameter model's working maps) plus the smooth residual field ``coeffs`` (broadcast
    px) evaluated on the working raster: the full mapping's ``WorkMaps``."""
    xs, _ = work.to_film(np.arange(work.size[0]), np.zeros(1))
    _, ys = work.to_film(np.zeros(1), np.arange(work.size[1]))
    fx, fy = field.evaluate(coeffs, xs, ys)
    return WorkMaps(
        (base.map_x + fx).astype(np.float32), (base.map_y + fy).astype(np.float32), base.sigma_x, base.sigma_y
    )


def flat_correspondences(
    samples: list[Samples], min_weight: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled (film_xy (N, 2), broadcast_xy (N, 2), weight (N,)) of several frames' samples, dropping
    samples with less than ``min_weight`` confidence."""
    fxy = np.concatenate([s.film_xy() for s in samples])
    bxy = np.concatenate([s.broadcast_xy.reshape(-1, 2) for s in samples])
    w = np.concatenate([s.weight.ravel() for s in samples])
    keep = w >= min_weight
    return fxy[keep], bxy[keep], w[keep]


# --- the smooth residual field ------------------------------------------------------------------------


def _bspline_basis(t: np.ndarray, n: int) -> np.ndarray:
    """Uniform cubic B-spline basis at knot coordinates ``t`` (float64 (N,), 0..n-3): float64 (N, n),
    each row summing to 1 with at most 4 non-zero entries."""
    i = np.clip(np.floor(t).astype(np.int64), 0, n - 4)
    u = t - i
    w = np.stack(
        [(1 - u) ** 3 / 6, (3 * u**3 - 6 * u**2 + 4) / 6, (-3 * u**3 + 3 * u**2 + 3 * u + 1) / 6, u**3 / 6], 1
    )
    out = np.zeros((len(t), n))
    rows = np.arange(len(t))
    for k in range(4):
        out[rows, i + k] = w[:, k]
    return out


@dataclass(frozen=True)
class SplineField:
    """A smooth 2-D vector field over the film raster: cubic B-spline on a regular grid of control points.

    Coefficients are float64 (ny * nx, 2), row-major over the grid, one column per vector component.
    Everything is evaluated on separable grids (columns x rows), which keeps fits and evaluation cheap.

    Attributes:
        film_size: (W, H) of the film raster.
        nx, ny: control points per axis (cells + 3).
    """

    film_size: tuple[int, int]
    nx: int
    ny: int

    @classmethod
    def for_film(cls, film_size: tuple[int, int], spacing: float) -> SplineField:
        """A grid with cells about ``spacing`` film px wide (at least 1 cell per axis)."""
        w, h = film_size
        return cls(film_size, max(1, round(w / spacing)) + 3, max(1, round(h / spacing)) + 3)

    @property
    def n(self) -> int:
        return self.nx * self.ny

    def basis_x(self, xs: np.ndarray) -> np.ndarray:
        """float64 (len(xs), nx) basis along x at film x coordinates."""
        return _bspline_basis((np.asarray(xs, np.float64) + 0.5) / self.film_size[0] * (self.nx - 3), self.nx)

    def basis_y(self, ys: np.ndarray) -> np.ndarray:
        """float64 (len(ys), ny) basis along y at film y coordinates."""
        return _bspline_basis((np.asarray(ys, np.float64) + 0.5) / self.film_size[1] * (self.ny - 3), self.ny)

    def penalty(self) -> np.ndarray:
        """float64 (n, n): sum of squared second differences of the coefficients along both axes."""

        def second_diff(m: int) -> np.ndarray:
            d = np.zeros((max(m - 2, 0), m))
            for r in range(m - 2):
                d[r, r : r + 3] = (1.0, -2.0, 1.0)
            return d.T @ d

        return np.kron(np.eye(self.ny), second_diff(self.nx)) + np.kron(second_diff(self.ny), np.eye(self.nx))

    def shape_projector(self) -> np.ndarray:
        """float64 (n, n) ``I - P``, P the orthogonal projection of the coefficients onto their bilinear
        part (1, i, j, i*j over the control grid): ``c^T (I - P) c`` is the squared size of what a
        bilinear warp cannot express (``shot.field_departure`` squared, times n)."""
        j, i = np.mgrid[0 : self.ny, 0 : self.nx].astype(np.float64)
        basis = np.stack([np.ones(self.n), i.ravel(), j.ravel(), (i * j).ravel()], 1)
        q, _ = np.linalg.qr(basis)
        return np.eye(self.n) - q @ q.T

    def evaluate(self, coeffs: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The field on the grid of film coordinates ``xs`` (W,) x ``ys`` (H,).

        Returns:
            float64 (H, W) x and y components.
        """
        bx, by = self.basis_x(xs), self.basis_y(ys)
        cx = coeffs[:, 0].reshape(self.ny, self.nx)
        cy = coeffs[:, 1].reshape(self.ny, self.nx)
        bxt = np.ascontiguousarray(bx.T)
        return matmul(matmul(by, cx), bxt), matmul(matmul(by, cy), bxt)

    def normal_equations(
        self, xs: np.ndarray, ys: np.ndarray, values: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``A^T W A`` float64 (n, n) and ``A^T W v`` float64 (n, 2) of fitting ``values`` (Hs, Ws, 2)
        given on the grid ``xs`` x ``ys`` with ``weight`` (Hs, Ws) (separable: O(N (nx^2 + ny^2)))."""
        bx, by = self.basis_x(xs), self.basis_y(ys)
        ty = (by[:, :, None] * by[:, None, :]).reshape(len(ys), -1)  # (Hs, ny^2)
        tx = (bx[:, :, None] * bx[:, None, :]).reshape(len(xs), -1)  # (Ws, nx^2)
        m = matmul(matmul(ty, weight, transpose_a=True), tx).reshape(self.ny, self.ny, self.nx, self.nx)
        ata = m.transpose(0, 2, 1, 3).reshape(self.n, self.n)
        atb = np.stack(
            [matmul(matmul(by, weight * values[..., c], transpose_a=True), bx).ravel() for c in (0, 1)], 1
        )
        return ata, atb


def prior_pull(field: SplineField, params: DenseParams) -> np.ndarray:
    """float64 (n, n) the quadratic form that pulls a frame's field towards the shot's (per unit of
    data weight): ``prior_weight`` on the second differences of their difference, ``shape_weight`` on
    the part of it no bilinear warp expresses (``SplineField.shape_projector``). Neither costs a
    bilinear difference (weave, drift)."""
    return params.prior_weight * field.penalty() + params.shape_weight * field.shape_projector()


def solve_field(
    field: SplineField,
    ata: np.ndarray,
    atb: np.ndarray,
    total_weight: float,
    params: DenseParams,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Regularised solve of the normal equations: coefficients float64 (n, 2).

    Minimises ``data + smoothness * W * |D c|^2 + W * (c - prior)^T Q (c - prior)
    + 1e-3 * W * |c - prior|^2`` where D takes the second differences, Q is ``prior_pull``, W is the
    data's mean weight per coefficient (so the balance does not depend on how many samples there are),
    and the prior is zero when none is given (then Q is not applied). The pull towards the prior acts on
    the *shape* of the difference: a frame's field may depart from the shot's by any bilinear warp (the
    gate's weave and drift: a shift, a slight zoom) at no cost, so the frame follows it everywhere,
    edges included, where a pull on the coefficients themselves held the sparsely sampled edge
    coefficients at the shot's; where a frame has no data (a flat sky, an edge) its shape is the shot's.
    """
    scale = max(total_weight / field.n, 1e-12)
    penalty = field.penalty()
    target = prior if prior is not None else np.zeros((field.n, 2))
    lhs = ata + params.smoothness * scale * penalty + 1e-3 * scale * np.eye(field.n)
    rhs = atb + 1e-3 * scale * target
    if prior is not None:
        pull = prior_pull(field, params)
        lhs = lhs + scale * pull
        rhs = rhs + scale * (pull @ prior)
    return solve(lhs, rhs)


def fit_field(
    field: SplineField,
    samples: list[Samples],
    model: tuple[Transform4, Radial],
    params: DenseParams,
    prior: np.ndarray | None = None,
    iterations: int = 3,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Robust (IRLS, Cauchy) regularised fit of the residual ``broadcast - model(film)``, pooled over frames.

    Args:
        field: the grid.
        samples: one or more frames' correspondences (with confidence weights).
        model: the 5-parameter model the residual is taken over.
        params: settings.
        prior: coefficients float64 (n, 2) the fit is pulled towards (the shot's field), or None.
        iterations: IRLS iterations.

    Returns:
        (coeffs float64 (n, 2), per frame float64 (Hs, Ws, 2): each sample's correspondence minus
        model and field, in broadcast px).
    """
    values = []
    for s in samples:
        px, py = map_points(s.xs[None, :], s.ys[:, None], *model)
        values.append(
            s.broadcast_xy
            - np.stack([np.broadcast_to(px, s.weight.shape), np.broadcast_to(py, s.weight.shape)], -1)
        )
    weights = [s.weight.copy() for s in samples]
    coeffs = np.zeros((field.n, 2))
    resid = values
    # annealed Cauchy scale: from cauchy_start (the first flow through a model that misses a warp of a
    # few px is off by that much everywhere) down to cauchy (robust against outliers once converged)
    scales = np.geomspace(max(params.cauchy_start, params.cauchy), params.cauchy, max(iterations, 1))
    for it in range(iterations):
        ata = np.zeros((field.n, field.n))
        atb = np.zeros((field.n, 2))
        for s, v, w in zip(samples, values, weights, strict=True):
            a, b = field.normal_equations(s.xs, s.ys, v, w)
            ata += a
            atb += b
        coeffs = solve_field(field, ata, atb, float(sum(w.sum() for w in weights)), params, prior)
        resid = []
        for k, (s, v) in enumerate(zip(samples, values, strict=True)):
            fx, fy = field.evaluate(coeffs, s.xs, s.ys)
            r = v - np.stack([fx, fy], -1)
            resid.append(r)
            c = scales[min(it + 1, len(scales) - 1)]
            weights[k] = s.weight / (1.0 + np.sum(r * r, -1) / (c * c))
    return coeffs, resid


# --- masks and scores ---------------------------------------------------------------------------------


def similarity(film_u8: np.ndarray, broadcast_u8: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Normalised cross-correlation (-1..1) of two prepared pictures over ``valid`` (bool, same shape)."""
    a = film_u8.astype(np.float32)
    b = broadcast_u8.astype(np.float32)
    if valid is not None:
        a, b = a[valid], b[valid]
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / den) if den > 0 else 0.0


def validity_mask(
    inside: np.ndarray,
    pair: FlowPair,
    flow_deviation: np.ndarray,
    photo_diff: np.ndarray | None,
    params: DenseParams,
    disagreement: np.ndarray | None = None,
) -> np.ndarray:
    """The validity mask on the film raster, bool (H, W).

    Args:
        inside: bool (H, W) film raster: the final mapping samples inside the broadcast (with margin).
        pair: the frame's flow (working raster).
        flow_deviation: float32 (h, w) distance between the raw flow and the final smooth mapping,
            in working px.
        photo_diff: float32 (h, w) absolute local-mean difference of the grade-matched pictures, or None.
        params: settings.
        disagreement: float32 (h, w) local photometric disagreement of the pictures through the final
            mapping (``direct.Warped.disagreement``), or None: judged pixels (``judged``) above
            ``max_disagreement`` show something the other picture does not.
    """
    textured = pair.texture > pair.texture_level
    # a flat area's flow is noise whichever way it points, and its pixels match by the photometric
    # checks or not at all: forward-backward disagreement counts on texture only
    bad = textured & (pair.fb_error > params.fb_threshold)
    bad |= textured & (flow_deviation > params.outlier_threshold)
    if photo_diff is not None:
        bad |= photo_diff > params.photo_threshold
    if disagreement is not None:
        bad |= judged(pair, params) & (disagreement > params.max_disagreement)
    h, w = inside.shape
    if bad.shape != (h, w):
        bad = cv2.resize(bad.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    valid = inside & ~bad
    if params.erode > 0:
        k = 2 * params.erode + 1
        valid = (
            cv2.erode(valid.astype(np.uint8), np.ones((k, k), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
        )
    return valid


def fit_grade(
    film_lum: np.ndarray, broadcast_lum: np.ndarray, weight: np.ndarray, degree: int = 3
) -> np.ndarray:
    """Polynomial (float64 (degree + 1,), highest power first) mapping broadcast luma to film luma.

    Fitted on aligned luma samples (any shape, flattened) with weights, robustly (two Cauchy
    reweightings). It is only used to compare local means for the mask, not to grade anything.
    """
    x = broadcast_lum.ravel().astype(np.float64)
    y = film_lum.ravel().astype(np.float64)
    w = weight.ravel().astype(np.float64)
    coeffs = np.polyfit(x, y, 1, w=np.sqrt(w))
    if len(x) <= 4 * (degree + 1):
        return np.concatenate([np.zeros(degree - 1), coeffs])
    for _ in range(3):
        coeffs = np.polyfit(x, y, degree, w=np.sqrt(w))
        r = y - np.polyval(coeffs, x)
        s = 1.4826 * float(np.median(np.abs(r))) + 1e-4
        w = weight.ravel() / (1.0 + (r / (2.0 * s)) ** 2)
    return coeffs


def photo_difference(
    film_lum: np.ndarray, broadcast_lum: np.ndarray, grade: np.ndarray, sigma: float
) -> np.ndarray:
    """float32 |G*film - G*grade(broadcast)| (same shape as the inputs): local means of the aligned
    luma after matching the grade; large where one picture shows something the other does not."""
    matched = np.polyval(np.asarray(grade, np.float32), broadcast_lum.astype(np.float32, copy=False))
    return np.abs(local_mean(film_lum - matched, sigma))  # the local mean is linear: one blur, not two
