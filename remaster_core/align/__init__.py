"""Per-cut alignment of the conformed broadcast to the film scan, and the aligned training pairs.

``remaster align`` (``pipeline.align``): for each shot with film, a sparse fit (``sparse``: SIFT,
RANSAC, a robust fit of translation, non-uniform scale and radial lens distortion, pooled over frames),
a dense step (``dense``: DIS optical flow on grade-free pictures, refining the global model and adding
a smooth per-frame residual field, finished photometrically by ``direct``, with a validity mask), then the pairs (``pairs``: the broadcast
resampled bilinearly into the film raster, the film, the mask, ``align.json``) and a report
(``report``). Shots without film get the nominal transform. The geometry convention is in
``transform``, which the renderer shares.

Modules: ``transform`` (convention, Transform4, Radial, nominal transform, bilinear resampling),
``prep`` (luma, working raster, grade-free pictures), ``sparse``, ``dense``, ``direct`` (Gauss-Newton
refinement of the field on the pictures), ``shot`` (one shot: fit,
checks, each frame's mapping and mask), ``pairs`` (PAIRS/ layout, align.json), ``report``,
``pipeline`` (the whole ``align()``), ``evaluate`` (accuracy against a synth reel's truth), ``mat``
(matrix products on OpenCV's threads).
"""

from remaster_core.align.pipeline import AlignResult, align
from remaster_core.align.shot import AlignParams
from remaster_core.align.transform import (
    CONVENTION,
    Radial,
    Transform4,
    map_points,
    nominal_transform,
    resample,
    sampling_maps,
)

__all__ = [
    "CONVENTION",
    "AlignParams",
    "AlignResult",
    "Radial",
    "Transform4",
    "align",
    "map_points",
    "nominal_transform",
    "resample",
    "sampling_maps",
]
