"""Direct refinement of the smooth residual field: Gauss-Newton on the pictures themselves.

The flow correspondences (``dense``) bring a frame's mapping within about a tenth of a broadcast pixel,
and no closer: each is one patch's estimate, and their errors are correlated over the patches, so a
single frame's DIS flow measured through the *true* mapping still holds a smooth component of about
0.1 film px RMS (960x720 film, a tuning shot of ``synth.warps``) that the fitted field takes for
geometry. The field is finished by minimising the photometric disagreement over its coefficients c:

    E(c) = sum_x w(x) (Bn(x; c) - Fn(x))^2 + the field's regularisation (``dense.solve_field``)

- ``Fn``: the film luma on the working raster, blurred to the broadcast's sharpness
  (``dense.film_for_flow``), locally contrast-normalised (``prep.normalised``);
- ``Bn(x; c)``: the broadcast luma, anti-aliased for the working raster (``prep.work_maps``), sampled
  through the 5-parameter model's maps plus the field c, normalised the same way;
- ``w``: inside the broadcast (with a margin) times a Cauchy weight of the residual (a part of the
  picture that does not match pulls little).

Gauss-Newton with the efficient second-order gradient (the mean of both pictures' gradients, converted
from working px to broadcast px by the model's scale). The Jacobian of a pixel's residual with respect
to a coefficient is its gradient times the coefficient's separable B-spline basis, so the normal
equations are three separable products like ``SplineField.normal_equations`` (weights gx^2, gx*gy,
gy^2). Frames pooled in one call share the coefficients. The regularisation scale W is the data's
information per coefficient (mean of the squared gradient, weighted), so the settings mean what they
mean for the flow fit. Measured on that shot: flow-only 0.12-0.15 film px RMS from the truth, three
iterations 0.05-0.06.

``Warped`` (the pictures through the final mapping) is what the masks and the shot's checks judge:
``disagreement`` is the local share of the pictures' energy their difference holds (0 where they match,
about 1 where they are unrelated), the photometric evidence of an occlusion or a changed picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from remaster_core.align.dense import DenseParams, SplineField, prior_pull
from remaster_core.align.mat import matmul, solve
from remaster_core.align.prep import WorkMaps, WorkRaster, local_mean, normalised
from remaster_core.align.transform import Transform4


@dataclass(frozen=True)
class DirectGrid:
    """The field's basis on the working raster (computed once per shot).

    The normal equations are summed over blocks of ``pool`` x ``pool`` working px first (the products
    averaged per block, the basis taken at the block's centre): the basis changes by about a hundredth
    over a block (control points are 60-90 working px apart), and the products cost ``pool^2`` less
    (8 x 8 blocks against 4 x 4: the same accuracy on the warp shots, 0.0222 against 0.0223 film px RMS).

    Attributes:
        spline: the field's grid.
        bx, by: float64 (w, nx), (h, ny) B-spline bases along the working raster's columns and rows.
        pool: block size of the normal equations.
        pbx, pby: float64 (w // pool, nx), (h // pool, ny) the bases at the blocks' centres.
        ptx, pty: float64 (w // pool, nx^2), (h // pool, ny^2) their row-wise outer products.
    """

    spline: SplineField
    bx: np.ndarray
    by: np.ndarray
    pool: int
    pbx: np.ndarray
    pby: np.ndarray
    ptx: np.ndarray
    pty: np.ndarray

    @classmethod
    def build(cls, spline: SplineField, work: WorkRaster, pool: int = 4) -> DirectGrid:
        w, h = work.size
        xs, _ = work.to_film(np.arange(w), np.zeros(1))
        _, ys = work.to_film(np.zeros(1), np.arange(h))
        pool = max(1, min(pool, w, h))
        pxs, _ = work.to_film(pool * np.arange(w // pool) + (pool - 1) / 2, np.zeros(1))
        _, pys = work.to_film(np.zeros(1), pool * np.arange(h // pool) + (pool - 1) / 2)
        pbx, pby = spline.basis_x(pxs), spline.basis_y(pys)
        ptx = (pbx[:, :, None] * pbx[:, None, :]).reshape(len(pxs), -1)
        pty = (pby[:, :, None] * pby[:, None, :]).reshape(len(pys), -1)
        return cls(spline, spline.basis_x(xs), spline.basis_y(ys), pool, pbx, pby, ptx, pty)

    def pooled(self, image: np.ndarray) -> np.ndarray:
        """float64 (h // pool, w // pool): the means of ``image`` (h, w) over the blocks."""
        p = self.pool
        hp, wp = len(self.pby), len(self.pbx)
        crop = image[: hp * p, : wp * p]
        if p == 1:
            return np.ascontiguousarray(crop, dtype=np.float64)
        # averaged in the image's own float32 (a block's 64 values: a relative error near 1e-7, and
        # at half the cost of converting the whole raster to float64 first)
        return cv2.resize(crop, (wp, hp), interpolation=cv2.INTER_AREA).astype(np.float64)

    def evaluate(self, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The field float64 (h, w) x and y (broadcast px) on the working raster."""
        s = self.spline
        bxt = np.ascontiguousarray(self.bx.T)
        cx = coeffs[:, 0].reshape(s.ny, s.nx)
        cy = coeffs[:, 1].reshape(s.ny, s.nx)
        return matmul(matmul(self.by, cx), bxt), matmul(matmul(self.by, cy), bxt)

    def ata(self, weight: np.ndarray) -> np.ndarray:
        """float64 (n, n): ``weight`` (h, w) times the basis outer products, summed over the raster
        (per block: the sum over all pixels divided by ``pool^2``)."""
        s = self.spline
        m = matmul(matmul(self.pty, self.pooled(weight), transpose_a=True), self.ptx)
        return m.reshape(s.ny, s.ny, s.nx, s.nx).transpose(0, 2, 1, 3).reshape(s.n, s.n)

    def atb(self, values: np.ndarray) -> np.ndarray:
        """float64 (n,): ``values`` (h, w) projected on the basis (per block, like ``ata``)."""
        return matmul(matmul(self.pby, self.pooled(values), transpose_a=True), self.pbx).ravel()


@dataclass(frozen=True)
class DirectFrame:
    """One frame's pictures for the direct refinement.

    Attributes:
        film: float32 (h, w) the normalised film (``Fn``) on the working raster.
        broadcast: float32 (Hb, Wb) the broadcast luma, anti-aliased for the working raster.
    """

    film: np.ndarray
    broadcast: np.ndarray


def prepare_frame(
    film_lum: np.ndarray,
    broadcast_lum: np.ndarray,
    base: WorkMaps,
    params: DenseParams,
    film_normalised: np.ndarray | None = None,
) -> DirectFrame:
    """A frame's ``DirectFrame`` from its film luma on the working raster already blurred to the
    broadcast's sharpness (``dense.film_for_flow``, ``FlowPair.film_lum``) and its broadcast luma;
    ``film_normalised``: ``prep.normalised`` of that film luma when already computed
    (``FlowPair.film_normalised``)."""
    film = (
        normalised(film_lum, params.norm_sigma, params.norm_eps) if film_normalised is None else film_normalised
    )
    src = broadcast_lum
    if base.sigma_x > 0.05 or base.sigma_y > 0.05:
        src = cv2.GaussianBlur(src, (0, 0), sigmaX=max(base.sigma_x, 1e-3), sigmaY=max(base.sigma_y, 1e-3))
    return DirectFrame(film, src)


@dataclass(frozen=True)
class Warped:
    """A frame's pictures through a mapping (working raster).

    Attributes:
        film, broadcast: float32 (h, w) the normalised film and broadcast.
        inside: bool (h, w) where the mapping samples inside the broadcast (with the margin).
        broadcast_lum: float32 (h, w) the (anti-aliased) broadcast luma through the mapping.
    """

    film: np.ndarray
    broadcast: np.ndarray
    inside: np.ndarray
    broadcast_lum: np.ndarray

    def disagreement(self, sigma: float) -> np.ndarray:
        """float32 (h, w): ``G*(Bn - Fn)^2 / (G*Fn^2 + G*Bn^2 + eps)`` with a Gaussian G of ``sigma`` px:
        0 where the pictures match, about 1 where they are unrelated (2 if opposite), small on flat
        areas (the normalisation's noise floor keeps both small there: no evidence either way)."""
        r = self.broadcast - self.film
        e = local_mean(r * r, sigma)
        ab = local_mean(self.film * self.film + self.broadcast * self.broadcast, sigma)  # G*a + G*b = G*(a+b)
        return e / (ab + np.float32(0.1))


def warp_frame(
    frame: DirectFrame, base: WorkMaps, grid: DirectGrid, coeffs: np.ndarray, params: DenseParams
) -> Warped:
    """The frame's broadcast through ``base`` plus the field ``coeffs``, normalised, with the inside mask."""
    fx, fy = grid.evaluate(coeffs)
    # the field is a few px: in float32 it is off by under 1e-6 px, against remap's 1/32 px steps
    mx = base.map_x + fx.astype(np.float32)
    my = base.map_y + fy.astype(np.float32)
    lum = cv2.remap(frame.broadcast, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    hb, wb = frame.broadcast.shape
    m = params.margin + 1.0
    inside = (mx >= m) & (mx <= wb - 1 - m) & (my >= m) & (my <= hb - 1 - m)
    return Warped(frame.film, normalised(lum, params.norm_sigma, params.norm_eps), inside, lum)


def refine_field(
    frames: list[DirectFrame],
    base: WorkMaps,
    grid: DirectGrid,
    transform: Transform4,
    work: WorkRaster,
    coeffs: np.ndarray,
    params: DenseParams,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Warped]]:
    """Gauss-Newton refinement of the field ``coeffs`` (float64 (n, 2), broadcast px) on ``frames``.

    Args:
        frames: one or more frames (pooled: they share the field).
        base: the 5-parameter model's working maps.
        grid: the field's basis on the working raster.
        transform: the model's affine part (the gradient's scale, working px -> broadcast px).
        work: the working raster.
        coeffs: the start (the flow-fitted field).
        params: ``direct_iterations``, ``direct_cauchy``, the field's regularisation, the normalisation.
        prior: the shot's field, or None (``dense.solve_field``).

    Returns:
        (coeffs float64 (n, 2), each frame's ``Warped`` through the final mapping).
    """
    spline = grid.spline
    n = spline.n
    penalty = spline.penalty()
    prior_form = None if prior is None else prior_pull(spline, params)
    gsx = np.float32(work.scale / transform.sx / 8.0)  # Sobel (x8), working px -> broadcast px
    gsy = np.float32(work.scale / transform.sy / 8.0)
    c = coeffs.copy()
    for _ in range(params.direct_iterations):
        axx, axy, ayy = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n))
        bxv, byv = np.zeros(n), np.zeros(n)
        for frame in frames:
            wp = warp_frame(frame, base, grid, c, params)
            r = wp.broadcast - wp.film
            g = 0.5 * (wp.broadcast + wp.film)
            gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) * gsx
            gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) * gsy
            w = wp.inside.astype(np.float32)
            if params.direct_cauchy > 0 and wp.inside.any():
                s = 1.4826 * float(np.median(np.abs(r[wp.inside][::7]))) + 1e-6  # a subset is plenty
                w /= 1.0 + (r / np.float32(params.direct_cauchy * s)) ** 2
            wgx, wgy = w * gx, w * gy
            axx += grid.ata(wgx * gx)
            axy += grid.ata(wgx * gy)
            ayy += grid.ata(wgy * gy)
            bxv += grid.atb(wgx * r)
            byv += grid.atb(wgy * r)
        scale = max((np.trace(axx) + np.trace(ayy)) / (2 * n), 1e-12)
        # dense.solve_field's terms: smoothness of c, and the pull towards the prior (zero without one)
        smooth = params.smoothness * scale * penalty
        pull = 1e-3 * scale * np.eye(n)
        target = np.zeros((n, 2)) if prior is None else prior
        if prior_form is not None:
            pull = pull + scale * prior_form
        reg = smooth + pull
        lhs = np.block([[axx + reg, axy], [axy, ayy + reg]])
        # the regularisation acts on the new coefficients c + delta: its gradient at c goes to the right
        grad_reg = smooth @ c + pull @ (c - target)
        rhs = -np.concatenate([bxv + grad_reg[:, 0], byv + grad_reg[:, 1]])
        delta = solve(lhs, rhs)
        c = c + np.stack([delta[:n], delta[n:]], 1)
    return c, [warp_frame(f, base, grid, c, params) for f in frames]
