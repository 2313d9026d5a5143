"""Alignment of one shot: the shot's model from a few frames, then every frame's final mapping and mask.

``fit_shot`` (a few frames spread over the shot, the *fit frames*):

1. sparse: SIFT matches pooled over the fit frames -> RANSAC -> robust 5-parameter model
   (``sparse.fit_sparse``);
2. global refinement: dense flow through the current model on the fit frames, correspondences pooled,
   the 5 parameters refitted (``refine_iterations`` times): this removes the SIFT bias and is what
   ``transform`` (tx, ty, sx, sy) in ``align.json`` reports;
3. the shot's prior residual field (``dense.SplineField``) from the same pooled correspondences, then
   ``field_iterations`` passes of flow through the full mapping (model + field) refitting the field:
   the 5 parameters only initialise, the field absorbs any smooth warp of a few broadcast px a real
   telecine leaves (k2, k3, decentring, keystone, rotation, a smooth gate warp); then on each fit
   frame its own field (from its flow) finished by the direct photometric refinement (``direct``):
   the shot's field is their mean; and a grade-matching polynomial for the mask;
4. checks, after the dense step, each failure a ``AlignmentFailure`` whose message ends up as the
   shot's ``reason``, in this order: the sparse fit's own (too few matches or inliers, large residual,
   implausible scale), texture to measure on, then (when neighbouring broadcast frames are given)
   that the film does not pair better with a neighbouring broadcast frame (a wrong temporal offset),
   the similarity of the pictures through the final mapping (another shot), the share of the
   textured picture that still disagrees through it (``max_mismatch``: a replaced part), and the
   consistency of the fit frames' fields (``max_field_departure``). How far the flow departs from
   the mapping is reported, never a reason: a smooth warp the field absorbs is no evidence against
   the shot.

``align_frame`` (every frame): flow through the shot's model and field, a per-frame field whose shape
is pulled towards the shot's (weave, drift are free), finished by the direct step, the final sampling
maps on the film raster, the validity mask and statistics.

Residuals are reported in output (film) pixels: a broadcast-pixel vector (rx, ry) is (rx / sx, ry / sy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cv2
import numpy as np

from remaster_core.align import dense, direct
from remaster_core.align.dense import DenseParams, FlowPair, SplineField
from remaster_core.align.direct import DirectGrid, Warped
from remaster_core.align.prep import WorkMaps, WorkRaster, luma, work_maps
from remaster_core.align.sparse import (
    Correspondences,
    SparseFailure,
    SparseParams,
    SparseResult,
    fit_model,
    fit_sparse,
    frame_correspondences,
)
from remaster_core.align.transform import (
    Radial,
    Transform4,
    inside_broadcast,
    map_points,
    nominal_transform,
)

_MAX_GLOBAL_SAMPLES = 60_000
_TEMPORAL_FRAMES = 3  # fit frames re-paired by the temporal-offset check


_T = TypeVar("_T")


def _each(pool: Executor | None, fn: Callable[..., _T], *args: Iterable[Any]) -> list[_T]:
    """``fn`` over ``args`` zipped, in order: on ``pool``'s threads when given (a shot's fit frames
    are independent until they are pooled; OpenCV and NumPy release the GIL), else in this thread."""
    return list(map(fn, *args)) if pool is None else list(pool.map(fn, *args))


def _spread(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over 0..n-1 (all of them when n <= count)."""
    if n <= count:
        return list(range(n))
    return sorted({round(float(v)) for v in np.linspace(0, n - 1, count)})


def fit_frame_indices(n: int, count: int) -> list[int]:
    """Which of a shot's n paired frames fit its model: ``count`` spread evenly, avoiding the first and
    last frame when the shot is long enough (a cut detected one frame off puts a frame of the
    neighbouring shot there, and the ends lack a neighbour for the temporal-offset check)."""
    if n >= count + 2:
        return [1 + k for k in _spread(n - 2, count)]
    return _spread(n, count)


class AlignmentFailure(Exception):
    """The shot cannot be aligned reliably; ``str(exc)`` is the reason recorded in ``align.json``."""


@dataclass(frozen=True)
class AlignParams:
    """Settings of a shot's alignment.

    Attributes:
        work_width: the working raster (dense flow, the direct step) is at most this wide (px). Its cost
            goes with its area; measured on 960x720 warp shots (``bench/align.py``'s families, tuning
            seeds 3 and 4, 3 fit frames): 720 wide 0.022 film px RMS and 0.46 CPU s a frame, 540 wide
            0.030 px and 0.27 s, against the 0.1 px the pairs must meet; but at 540 a flat frame that
            follows the shot's field lands 0.38 px off on a 960 shot (``test_a_flat_frame_follows_the_shot``
            allows 0.25), so 720 stays.
        sparse_width: the raster SIFT runs on is at most this wide (px). The sparse fit has only to start
            the dense steps within a pixel or so: 384 against 512 on the tuning seeds 3 and 4 of
            ``bench/align.py`` (18 shots, 960x720) gave the same pairs (0.026 film px RMS, worst 0.055,
            98.8 % valid) for 72.8 -> 66.0 CPU-s (SIFT doubles its input first: its cost goes with the area).
        fit_frames: frames of the shot used to fit its model (spread evenly): each costs a SIFT match and
            four flows; three fit a shot as well as five did (the tests' accuracy bars met with three).
        min_frames: a shot with fewer paired frames is rejected (too short to fit).
        refine_iterations: dense refinements of the 5-parameter model. One: the field and the direct
            step absorb what a second would move (same figures on tuning seeds 3 and 4 as with two, for
            three fewer flows and model fits a shot).
        field_iterations: passes of flow through the full mapping (model + the shot's field so far),
            each refitting the field: one brings a warp of a few px the model cannot express within a
            fraction of a px, and the direct step (``direct``) on each fit frame finishes it.
        min_similarity: normalised cross-correlation of the aligned, normalised pictures (through the
            final mapping, inside the broadcast) below which they are taken not to match (another shot).
        max_mismatch: share of the judged picture (``dense.judged``, inside the broadcast) whose local
            photometric disagreement after the dense step exceeds ``dense.max_disagreement``, above which the
            pictures differ in part (a replaced or retouched picture, a title): the shot when the fit
            frames' median exceeds it, a frame (all-zero mask) when its own does.
        max_field_departure: how far (broadcast px RMS, over the field's control points) a frame's
            field may depart in shape from the shot's (its bilinear part removed: weave and drift are
            a shift and a zoom) before the field is taken to be absorbing a picture change rather than
            the telecine's geometry: the fit frames against each other, each frame against the shot.
        min_valid: a shot whose frames have a smaller valid fraction on average is rejected.
        offset_ratio: a neighbouring broadcast frame whose pairing leaves less than this fraction of the
            given pairing's residual means a wrong temporal offset (``_temporal_check``).
        sparse, dense: the stages' settings.
    """

    work_width: int = 720
    sparse_width: int = 384
    fit_frames: int = 3
    min_frames: int = 3
    refine_iterations: int = 1
    field_iterations: int = 1
    min_similarity: float = 0.25
    max_mismatch: float = 0.1
    max_field_departure: float = 0.5
    min_valid: float = 0.5
    offset_ratio: float = 0.75
    sparse: SparseParams = field(default_factory=SparseParams)
    dense: DenseParams = field(default_factory=DenseParams)


@dataclass(frozen=True)
class FitFlow:
    """A fit frame's last flow in ``fit_shot`` (its field pass), which ``align_frame`` takes instead of
    computing that frame's flow again.

    Attributes:
        pair: the flow, both ways, through the model plus the field ``field_coeffs``.
        samples: its correspondences (``dense.flow_correspondences`` through the same mapping).
        field_coeffs: float64 (n, 2) the field coefficients (broadcast px) the flow ran through.
    """

    pair: FlowPair
    samples: dense.Samples
    field_coeffs: np.ndarray


@dataclass
class ShotModel:
    """Everything ``align_frame`` needs, and what the report shows about the fit.

    Attributes:
        transform, radial: the refined 5-parameter model (output -> broadcast).
        sparse_transform, sparse_radial: the model as the sparse fit left it (before refinement).
        spline: the residual field's grid; prior: its shot-level coefficients float64 (n, 2).
        grade: broadcast -> film luma polynomial (mask only).
        work: the working raster; broadcast_size: (W, H); film_size: (W, H).
        sparse: the sparse fit (matches, inliers).
        stats: numbers for ``align.json`` (sparse inliers, RMS, refinement, similarity, offset check).
        direct_pool: block size of the direct step's normal equations (``DenseParams.direct_pool``).
        fit_flows: per fit frame (in ``fit_shot``'s order), its last flow (``FitFlow``); empty when the
            fit made none through a field (``field_iterations`` 0).
        maps: the model's sampling of the broadcast on the working raster (computed once).
        prior_maps: the same through the model plus the shot's field (where each frame's flow runs).
        grid: the field's basis on the working raster (``direct``).
        prior_work: float64 (h, w) x and y of the shot's field on the working raster.
        base_x, base_y: float64 (Hf, Wf) the model's broadcast coordinates of every film pixel.
    """

    transform: Transform4
    radial: Radial
    sparse_transform: Transform4
    sparse_radial: Radial
    spline: SplineField
    prior: np.ndarray
    grade: np.ndarray
    work: WorkRaster
    broadcast_size: tuple[int, int]
    film_size: tuple[int, int]
    sparse: SparseResult
    stats: dict[str, Any]
    direct_pool: int = 8
    fit_flows: list[FitFlow] = field(default_factory=list, repr=False)
    maps: WorkMaps = field(init=False, repr=False)
    prior_maps: WorkMaps = field(init=False, repr=False)
    grid: DirectGrid = field(init=False, repr=False)
    prior_work: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)
    base_x: np.ndarray = field(init=False, repr=False)
    base_y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.maps = work_maps(self.work, self.transform, self.radial)
        self.prior_maps = dense.field_maps(self.maps, self.spline, self.prior, self.work)
        self.grid = DirectGrid.build(self.spline, self.work, self.direct_pool)
        self.prior_work = self.grid.evaluate(self.prior)
        wf, hf = self.film_size
        yy, xx = np.mgrid[0:hf, 0:wf].astype(np.float64)
        self.base_x, self.base_y = map_points(xx, yy, self.transform, self.radial)


@dataclass
class FrameAlignment:
    """The final mapping of one frame.

    Attributes:
        map_x, map_y: float32 (H, W) broadcast coordinates of every film pixel (for ``transform.resample``).
        valid: bool (H, W) validity mask.
        stats: ``flow_rms_px`` (film px) and ``flow_rms_broadcast_px``, ``field_mean``/``field_max`` (magnitude of the dense correction
            over the 5-parameter model, film px), ``valid_fraction``, ``similarity``.
        pair: the frame's flow (for the report).
    """

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray
    stats: dict[str, float | None]
    pair: FlowPair


def to_film_px(r: np.ndarray, transform: Transform4) -> np.ndarray:
    """Broadcast-pixel vectors float (N, 2) -> lengths in film px (float64 (N,))."""
    return np.hypot(r[:, 0] / transform.sx, r[:, 1] / transform.sy)


def _robust_rms(values: np.ndarray, weight: np.ndarray) -> float:
    """RMS of ``values`` over the confident samples (weight > 0.25), ignoring the worst 10 % (outliers);
    NaN when fewer than 50 samples are confident (nothing to measure: a dark or flat picture)."""
    v = values[weight > 0.25]
    if len(v) < 50:
        return float("nan")
    v = v[v <= np.percentile(v, 90)]
    return float(np.sqrt(np.mean(v * v)))


def _without_weave(resid: list[np.ndarray], samples: list[dense.Samples]) -> list[np.ndarray]:
    """Each frame's residual (float64 (Hs, Ws, 2), broadcast px) less its own median shift over the
    confident samples: the gate weaves and drifts from frame to frame, so one shot-level field leaves
    each frame's shift in its residual, which is not a disagreement of the pictures (``align_frame``
    follows it with the frame's own field)."""
    out = []
    for r, smp in zip(resid, samples, strict=True):
        sure = smp.weight > 0.25
        if sure.sum() < 50:
            out.append(r)
            continue
        out.append(r - np.median(r[sure], axis=0))
    return out


def _flows(
    film_work: list[np.ndarray],
    broadcast_lum: list[np.ndarray],
    work: WorkRaster,
    model: tuple[Transform4, Radial],
    params: DenseParams,
    maps: WorkMaps,
    sample_maps: WorkMaps | None,
    pool: Executor | None,
    *,
    backward: bool,
    film_sides: list[FlowPair | None] | None = None,
) -> tuple[list[FlowPair], list[dense.Samples]]:
    """Each frame's flow through ``maps`` (``dense.flow_pair``, ``backward`` too where a field is fitted
    to it) and its correspondences (``dense.flow_correspondences`` through ``sample_maps``, or the
    model's exact mapping); ``film_sides``: per frame, a pair of its film frame through the same
    transform whose prepared film is reused (or None)."""
    transform, radial = model

    def one(f: np.ndarray, b: np.ndarray, side: FlowPair | None) -> tuple[FlowPair, dense.Samples]:
        p = dense.flow_pair(
            f, b, work, transform, radial, params, maps=maps, backward=backward, film_side=side
        )
        return p, dense.flow_correspondences(p, work, transform, radial, params, sample_maps)

    sides = [None] * len(film_work) if film_sides is None else film_sides
    done = _each(pool, one, film_work, broadcast_lum, sides)
    return [p for p, _ in done], [s for _, s in done]


def _refine(
    film_work: list[np.ndarray],
    broadcast_lum: list[np.ndarray],
    work: WorkRaster,
    transform: Transform4,
    radial: Radial,
    params: AlignParams,
    pool: Executor | None = None,
) -> tuple[Transform4, Radial, list[dense.Samples], list[FlowPair]]:
    """Refit the 5-parameter model on flow correspondences pooled over the fit frames."""
    samples: list[dense.Samples] = []
    pairs: list[FlowPair] = []
    for _ in range(params.refine_iterations):
        maps = work_maps(work, transform, radial)
        pairs, samples = _flows(
            film_work,
            broadcast_lum,
            work,
            (transform, radial),
            params.dense,
            maps,
            None,
            pool,
            backward=False,
        )
        fxy, bxy, w = dense.flat_correspondences(samples)
        if len(w) > _MAX_GLOBAL_SAMPLES:  # plenty: a regular subset keeps the fit fast
            step = len(w) // _MAX_GLOBAL_SAMPLES + 1
            fxy, bxy, w = fxy[::step], bxy[::step], w[::step]
        if len(w) < 100:
            raise AlignmentFailure(
                "the dense flow found almost no texture to align on (dark or flat pictures)"
            )
        # a wide Cauchy scale: the 5 parameters are the best smooth start, not a model the shot obeys;
        # what a real lens adds (a few px) is the field's to absorb, not outliers to ignore
        transform, radial = fit_model(
            fxy, bxy, transform, radial, weights=w, cauchy_scale=params.dense.cauchy_start, iterations=8
        )
    return transform, radial, samples, pairs


def fit_shot(
    film: list[np.ndarray],
    broadcast: list[np.ndarray],
    broadcast_par: float,
    params: AlignParams,
    neighbours: list[tuple[np.ndarray | None, np.ndarray | None]] | None = None,
    pool: Executor | None = None,
) -> ShotModel:
    """Fit a shot's model on its fit frames.

    Args:
        film: film frames float32 RGB (Hf, Wf, 3), all one size.
        broadcast: the broadcast frames showing them, float32 RGB (Hb, Wb, 3), all one size.
        broadcast_par: the broadcast pixel aspect (width / height).
        params: settings.
        neighbours: optional, per fit frame, the broadcast frames before and after it in the shot
            (None where the shot has none), for the temporal-offset check.
        pool: threads the fit frames' work runs on (each frame's SIFT, flows and direct step); the
            result does not depend on it.

    Raises:
        AlignmentFailure: with the reason (too few inliers, large residual, pictures that do not
            match, a wrong temporal offset).
    """
    hf, wf = film[0].shape[:2]
    hb, wb = broadcast[0].shape[:2]
    film_size, broadcast_size = (wf, hf), (wb, hb)
    work = WorkRaster.for_film(film_size, params.work_width)
    prior = nominal_transform(broadcast_size, broadcast_par, film_size)
    radial0 = Radial.for_raster(broadcast_size, broadcast_par)
    film_lum = [luma(f) for f in film]
    film_work = [work.shrink(f) for f in film_lum]
    bc_lum = [luma(b) for b in broadcast]

    # the sparse fit only has to be right to a pixel or so (the dense refinement follows): a smaller
    # raster makes SIFT much cheaper
    sparse_work = WorkRaster.for_film(film_size, params.sparse_width)
    pooled = _each(
        pool,
        lambda f, b: frame_correspondences(sparse_work.shrink(f), b, sparse_work, prior, params.sparse),
        film_lum,
        bc_lum,
    )
    del film_lum
    matches = Correspondences(
        np.concatenate([p[0] for p in pooled]),
        np.concatenate([p[1] for p in pooled]),
        np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(pooled)]),
    )
    try:
        sparse = fit_sparse(matches, len(film), prior, radial0, params.sparse)
    except SparseFailure as exc:
        raise AlignmentFailure(str(exc)) from None

    transform, radial, samples, pairs = _refine(
        film_work, bc_lum, work, sparse.transform, sparse.radial, params, pool
    )
    spline = SplineField.for_film(film_size, params.dense.spacing)
    coeffs, resid = dense.fit_field(spline, samples, (transform, radial), params.dense)
    # the field absorbs whatever the 5 parameters cannot (higher radial terms, decentring, keystone,
    # rotation, a smooth gate warp): the flow is measured again through the full mapping, so what is
    # left for it is small and the field converges on the warp instead of on a biased first flow.
    # That flow runs both ways: on a flat area under grain and coding noise (a dark sky) the forward
    # flow is noise, the backward flow disagrees with it, and its weight falls (``dense.flow_weights``);
    # without it such flow bent each fit frame's field its own way by 1-3 px (bench/align_cli.py, the
    # rocket photograph: every shot rejected for a changing field or a partly differing picture)
    base_maps = work_maps(work, transform, radial)
    flow_field = coeffs
    for _ in range(params.field_iterations):
        flow_field = coeffs
        maps = dense.field_maps(base_maps, spline, coeffs, work)
        pairs, samples = _flows(
            film_work, bc_lum, work, (transform, radial), params.dense, maps, maps, pool, backward=True
        )
        coeffs, resid = dense.fit_field(spline, samples, (transform, radial), params.dense)
    resid = _without_weave(resid, samples)
    weights = np.concatenate([s.weight.ravel() for s in samples])
    # the direct step on each fit frame (from its own flow-fitted field): the shot's field is their
    # mean, and what the pictures still disagree on through it is what the checks judge
    grid = DirectGrid.build(spline, work, params.dense.direct_pool)
    shot_field = coeffs

    def direct_step(p: FlowPair, b: np.ndarray, smp: dense.Samples) -> tuple[np.ndarray, Warped]:
        start, _ = dense.fit_field(spline, [smp], (transform, radial), params.dense, prior=shot_field)
        frame = direct.prepare_frame(p.film_lum, b, base_maps, params.dense, p.film_normalised)
        c, (wp,) = direct.refine_field(
            [frame], base_maps, grid, transform, work, start, params.dense, shot_field
        )
        return c, wp

    done_direct = _each(pool, direct_step, pairs, bc_lum, samples)
    fitted = [c for c, _ in done_direct]
    warped = [wp for _, wp in done_direct]
    coeffs = np.mean(fitted, axis=0)
    departure = max(field_departure(c, coeffs, spline) for c in fitted)
    mismatch = float(
        np.median([mismatch_share(wp, p, params.dense) for wp, p in zip(warped, pairs, strict=True)])
    )
    flow_rms = _robust_rms(np.concatenate([to_film_px(r.reshape(-1, 2), transform) for r in resid]), weights)
    flow_rms_bc = _robust_rms(
        np.concatenate([np.hypot(r[..., 0], r[..., 1]).ravel() for r in resid]), weights
    )

    sims = [dense.similarity(wp.film, wp.broadcast, wp.inside) for wp in warped]
    corners = _corner_shift(film_size, sparse.transform, sparse.radial, transform, radial)
    stats: dict[str, Any] = {
        "fit_frames": len(film),
        "sparse_matches": len(matches),
        "sparse_inliers": int(sparse.inliers.sum()),
        "sparse_inliers_per_frame": sparse.per_frame_inliers,
        "sparse_rms_broadcast_px": round(sparse.rms, 4),
        "refinement_corner_shift_px": round(corners, 4),
        "flow_rms_px": _finite(flow_rms),
        "flow_rms_broadcast_px": _finite(flow_rms_bc),
        "similarity": round(float(np.median(sims)), 4),
        "mismatch": _finite(mismatch),
        "field_departure_px": round(departure, 4),
    }
    grade = _grade(pairs, params)
    model = ShotModel(
        transform, radial, sparse.transform, sparse.radial, spline, coeffs, grade, work,
        broadcast_size, film_size, sparse, stats, params.dense.direct_pool,
        [FitFlow(p, smp, flow_field) for p, smp in zip(pairs, samples, strict=True)]
        if params.field_iterations > 0 else [],
    )  # fmt: skip
    if not np.isfinite(flow_rms):
        raise AlignmentFailure("the pictures hold almost no texture to check the alignment on (dark or flat)")
    if neighbours is not None:  # first: a wrong offset also lowers the similarity, raises the mismatch
        # the field passes' pairs ran through the model's transform (the refinement's, through the one before)
        sides: list[FlowPair | None] = list(pairs) if params.field_iterations > 0 else [None] * len(pairs)
        stats["temporal_check"] = _temporal_check(model, film_work, samples, sides, neighbours, params, pool)
    if stats["similarity"] < params.min_similarity:
        raise AlignmentFailure(
            f"the aligned pictures do not match: similarity {stats['similarity']:.2f} "
            f"(need {params.min_similarity}); film and broadcast of different shots?"
        )
    if mismatch > params.max_mismatch:
        raise AlignmentFailure(
            f"the pictures differ in part: after the dense alignment {100 * mismatch:.0f} % of the textured "
            f"picture still does not match (limit {100 * params.max_mismatch:.0f} %); a replaced or retouched "
            "picture, a title or another take in the film or the broadcast"
        )
    if departure > params.max_field_departure:
        raise AlignmentFailure(
            f"the dense field changes shape from frame to frame by {departure:.2f} broadcast px (limit "
            f"{params.max_field_departure}): the pictures change between the fit frames in a way no telecine "
            "geometry does (a dissolve, a different take)"
        )
    return model


def field_departure(coeffs: np.ndarray, reference: np.ndarray, spline: SplineField) -> float:
    """How far a field departs in shape from another: RMS (broadcast px) over the control points of
    ``coeffs - reference`` (float64 (n, 2)) less its best bilinear part (a shift, a zoom, a shear:
    what gate weave and drift change from frame to frame)."""
    j, i = np.mgrid[0 : spline.ny, 0 : spline.nx].astype(np.float64)
    basis = np.stack([np.ones(spline.n), i.ravel(), j.ravel(), (i * j).ravel()], 1)
    diff = coeffs - reference
    sol, *_ = np.linalg.lstsq(basis, diff, rcond=None)
    rest = diff - basis @ sol
    return float(np.sqrt(np.mean(np.sum(rest * rest, 1))))


def mismatch_share(
    warped: Warped, pair: FlowPair, params: DenseParams, disagreement: np.ndarray | None = None
) -> float:
    """Share of the judged pixels (``dense.judged``: structure well above the noise) inside the broadcast
    whose local photometric disagreement through the final mapping (``disagreement``, computed when not
    given) exceeds ``max_disagreement`` (NaN with fewer than 100 such pixels)."""
    sel = warped.inside & dense.judged(pair, params)
    if sel.sum() < 100:
        return float("nan")
    if disagreement is None:
        disagreement = warped.disagreement(params.disagreement_sigma)
    return float(np.mean(disagreement[sel] > params.max_disagreement))


def _corner_shift(
    film_size: tuple[int, int], t0: Transform4, r0: Radial, t1: Transform4, r1: Radial
) -> float:
    """Largest movement (film px) of the film raster's corners between two models."""
    w, h = film_size
    x = np.array([0.0, w - 1, 0.0, w - 1])
    y = np.array([0.0, 0.0, h - 1, h - 1])
    ax, ay = map_points(x, y, t0, r0)
    bx, by = map_points(x, y, t1, r1)
    return float(np.max(to_film_px(np.stack([bx - ax, by - ay], 1), t1)))


def _grade(pairs: list[FlowPair], params: AlignParams) -> np.ndarray:
    """Broadcast -> film luma polynomial fitted on the fit frames' aligned luma (subsampled, textured
    pixels weighted down: their values depend most on the sharpness difference)."""
    s = params.dense.stride
    film = np.concatenate([p.film_lum[::s, ::s].ravel() for p in pairs])
    bc = np.concatenate([p.broadcast_lum[::s, ::s].ravel() for p in pairs])
    weight = np.concatenate([(1.0 / (1.0 + p.texture[::s, ::s] / p.texture_level)).ravel() for p in pairs])
    return dense.fit_grade(film, bc, weight)


def _pooled_residual(samples: list[dense.Samples], model: ShotModel, params: AlignParams) -> float:
    """How well one shot-level mapping explains these pairs' flow correspondences (``samples``): a
    5-parameter refit from ``model`` and a pooled smooth field, then the robust RMS (film px) of the
    correspondences around it, less each frame's own shift (gate weave, ``_without_weave``)."""
    fxy, bxy, w = dense.flat_correspondences(samples)
    if len(w) < 100:
        return float("inf")
    step = len(w) // _MAX_GLOBAL_SAMPLES + 1
    transform, radial = fit_model(
        fxy[::step], bxy[::step], model.transform, model.radial, weights=w[::step],
        cauchy_scale=params.dense.cauchy_start, iterations=6,
    )  # fmt: skip
    _, resid = dense.fit_field(model.spline, samples, (transform, radial), params.dense)
    resid = _without_weave(resid, samples)
    return _robust_rms(
        np.concatenate([to_film_px(r.reshape(-1, 2), transform) for r in resid]),
        np.concatenate([s.weight.ravel() for s in samples]),
    )


def _temporal_check(
    model: ShotModel,
    film_work: list[np.ndarray],
    given_samples: list[dense.Samples],
    given_pairs: list[FlowPair | None],
    neighbours: list[tuple[np.ndarray | None, np.ndarray | None]],
    params: AlignParams,
    pool: Executor | None = None,
) -> dict[str, Any]:
    """Would the film pair better with the broadcast one frame earlier or later?

    For each candidate offset (-1, +1) the fit frames that have that neighbour are re-paired with it
    and one shot-level mapping is refitted to them (``_pooled_residual``); the same is done for the
    offset as given on the same frames, from their flow correspondences of the fit
    (``given_samples``: correspondences do not depend on the mapping the flow ran through, and the
    fit's last flow ran through nearly the same; their pairs, ``given_pairs``, lend the re-paired flows
    their prepared film). The telecine framing is constant within a shot, so the right
    pairing is explained by one mapping, while a wrong one leaves the camera's changing motion (and any
    parallax) in the residual. A candidate that explains the pairs clearly better (residual below
    ``offset_ratio`` times the given one's) means a wrong temporal offset: ``AlignmentFailure``.
    Where no candidate can be told apart (a steady pan over a flat picture) the offset stands.
    """
    result: dict[str, Any] = {}
    given_cache: dict[tuple[int, ...], float] = {}
    worst: tuple[float, int, float, float, int] | None = None  # (ratio, offset, other, given, frames)
    both = [k for k, (prev, nxt) in enumerate(neighbours) if prev is not None and nxt is not None]
    for offset, pick in ((-1, 0), (1, 1)):
        idx = both if len(both) >= 2 else [k for k, nb in enumerate(neighbours) if nb[pick] is not None]
        if len(idx) < 2:
            continue
        idx = [idx[j] for j in _spread(len(idx), _TEMPORAL_FRAMES)]
        key = tuple(idx)
        if key not in given_cache:
            given_cache[key] = _pooled_residual([given_samples[k] for k in idx], model, params)
        given = given_cache[key]
        nb = [neighbours[k][pick] for k in idx]
        _, samples = _flows(
            [film_work[k] for k in idx],
            [luma(b) for b in nb if b is not None],
            model.work,
            (model.transform, model.radial),
            params.dense,
            model.prior_maps,
            model.prior_maps,
            pool,
            backward=False,
            film_sides=[given_pairs[k] for k in idx],
        )  # the flow run through the model and the shot's field
        other = _pooled_residual(samples, model, params)
        result[f"residual_px_offset_{offset:+d}"] = _finite(other)
        result["residual_px_offset_0"] = _finite(given)
        if other < params.offset_ratio * given and given - other > 0.02:
            ratio = other / given
            if worst is None or ratio < worst[0]:
                worst = (ratio, offset, other, given, len(idx))
    if worst is not None:
        _, offset, other, given, n = worst
        raise AlignmentFailure(
            f"wrong temporal offset: the film pairs better with the broadcast frame "
            f"{'after' if offset > 0 else 'before'} (residual {other:.2f} px against {given:.2f} px over {n} "
            "frames); fix the conform's film offset for this shot"
        )
    return result


def _finite(value: float) -> float | None:
    """``value`` rounded for JSON, or None if it is not finite."""
    return round(float(value), 4) if np.isfinite(value) else None


def align_frame(
    film: np.ndarray,
    broadcast: np.ndarray,
    model: ShotModel,
    params: AlignParams,
    flow: FitFlow | None = None,
) -> FrameAlignment:
    """The final mapping, mask and statistics of one frame pair.

    Args:
        film: float32 RGB (Hf, Wf, 3), the shot's film size.
        broadcast: float32 RGB (Hb, Wb, 3), the shot's broadcast size.
        model: the shot's model (``fit_shot``).
        params: settings.
        flow: for a fit frame, its flow from the fit (``model.fit_flows``): taken instead of a new flow
            through the shot's field. The fit's ran through the field before the direct step, a few
            tenths of a px from the shot's at most; the correspondences do not depend on it.
    """
    d = params.dense
    work, transform, radial = model.work, model.transform, model.radial
    bc_lum = luma(broadcast)
    if flow is None:
        film_lum = work.shrink(luma(film))
        # both ways: where they disagree (noise on a flat area) the field follows the shot's (fit_shot)
        pair = dense.flow_pair(
            film_lum, bc_lum, work, transform, radial, d, maps=model.prior_maps, backward=True
        )
        samples = dense.flow_correspondences(pair, work, transform, radial, d, model.prior_maps)
        flow_work = model.prior_work  # the flow ran through the shot's field
    else:
        pair, samples = flow.pair, flow.samples
        flow_work = model.grid.evaluate(flow.field_coeffs)
    coeffs, (r,) = dense.fit_field(model.spline, [samples], (transform, radial), d, prior=model.prior)
    flow_rms = _robust_rms(to_film_px(r.reshape(-1, 2), transform), samples.weight.ravel())
    flow_rms_bc = _robust_rms(np.hypot(r[..., 0], r[..., 1]).ravel(), samples.weight.ravel())
    # the flow-fitted field finished on the pictures themselves (``direct``)
    frame = direct.prepare_frame(pair.film_lum, bc_lum, model.maps, d, pair.film_normalised)
    coeffs, (warped,) = direct.refine_field(
        [frame], model.maps, model.grid, transform, work, coeffs, d, prior=model.prior
    )

    wf, hf = model.film_size
    xs, ys = np.arange(wf, dtype=np.float64), np.arange(hf, dtype=np.float64)
    fx, fy = model.spline.evaluate(coeffs, xs, ys)
    map_x, map_y = (model.base_x + fx).astype(np.float32), (model.base_y + fy).astype(np.float32)
    # its size, for the statistics, on every other film pixel (the field is smooth over tens of px)
    fx, fy = model.spline.evaluate(coeffs, xs[::2], ys[::2])
    field_len = np.hypot(fx / transform.sx, fy / transform.sy)

    # flow the final mapping implies on the working raster vs the raw flow (working px)
    wx, wy = model.grid.evaluate(coeffs)
    px, py = flow_work
    ux = ((wx - px) * (work.scale / transform.sx)).astype(np.float32)
    uy = ((wy - py) * (work.scale / transform.sy)).astype(np.float32)
    deviation = cv2.magnitude(pair.forward[..., 0] - ux, pair.forward[..., 1] - uy)

    photo = dense.photo_difference(pair.film_lum, warped.broadcast_lum, model.grade, d.photo_sigma)
    inside = inside_broadcast(map_x, map_y, model.broadcast_size, d.margin)
    disagreement = warped.disagreement(d.disagreement_sigma)
    valid = dense.validity_mask(inside, pair, deviation, photo, d, disagreement)
    mismatch = mismatch_share(warped, pair, d, disagreement)
    stats: dict[str, float | None] = {
        "flow_rms_px": _finite(flow_rms),
        "flow_rms_broadcast_px": _finite(flow_rms_bc),
        "field_mean_px": round(float(field_len.mean()), 4),
        "field_max_px": round(float(field_len.max()), 4),
        "field_departure_px": round(field_departure(coeffs, model.prior, model.spline), 4),
        "mismatch": _finite(mismatch),
        "valid_fraction": round(float(valid.mean()), 4),
        "similarity": round(dense.similarity(warped.film, warped.broadcast, warped.inside), 4),
    }
    return FrameAlignment(map_x, map_y, valid, stats, pair)
