"""Which flat tiles of the film scans hold grain alone: the tiles a grain profile is pooled from.

Grain has one spectral shape wherever it is measured; only its strength follows the signal level (the
level response). A flat tile of a frame difference (or of a single frame) can still hold some of the
picture: fine texture that a sub-pixel warp does not cancel, fur or foliage that passed the flatness
test, a soft shading edge. Such a tile adds power where the picture has it, so its SHAPE differs from
the grain's: more of its power in the finest band (texture) or in the coarsest (shading) against the
middle band. Pooled with the others by a plain mean, a handful of them set the profile: on
``bench/grain.py``'s seeds 8 and 10 the profile's finest band read 1.5 and 1.65 times the synthetic
stock's, while the median tile read 1.0 and 1.03; the profile then synthesised half again the film's
finest grain on every render.

``consistent_tiles`` keeps the tiles whose shape lies within ``SHAPE_LIMIT`` robust standard deviations
(1.4826 x the median absolute deviation over the tiles) of the median tile's, per ratio: the finest band
over the middle one, and the coarsest over the middle one (log power). The spread is the tiles' own, so
a small tile's noisier spectrum widens it and clean grain keeps nearly every tile (on seed 3, 305 of
311); where the picture leaks into most tiles alike, the median moves with it and nothing is gained (a
limit of the rule, not a failure of it). With fewer than ``MIN_TILES`` tiles nothing is left out: the
median of a few tiles is no standard.

``MIN_TILES`` is also the fewest flat tiles a tile size must show for a profile to be measured there
(``look.grain_sample.chosen``'s ``min_tiles``): one 64 px tile, all a seed's 64 px frame differences had,
gave a profile whose coarse band read 0.4 of the stock's, where its 15 tiles of 32 px read 0.88.
"""

from __future__ import annotations

import numpy as np

SHAPE_LIMIT = 4.0
"""Robust standard deviations from the median tile's shape beyond which a tile is left out."""
MIN_TILES = 8
"""The fewest tiles the shape rule is applied to, and the fewest a tile size needs to be measured at."""


def consistent_tiles(bands: np.ndarray) -> np.ndarray:
    """bool (N,): the tiles whose spectral shape is the grain's (see the module docstring).

    Args:
        bands: float64 (N, 3), each tile's power (code value^2, channels pooled) in the finest, middle and
            coarsest band (``LookParams.bands``).
    """
    n = bands.shape[0]
    keep = np.ones(n, bool)
    if n < MIN_TILES:
        return keep
    tiny = np.finfo(np.float64).tiny
    logs = np.log(np.maximum(bands, tiny))
    shape = np.stack([logs[:, 0] - logs[:, 1], logs[:, 2] - logs[:, 1]], axis=1)
    centre = np.median(shape, axis=0)
    spread = 1.4826 * np.median(np.abs(shape - centre), axis=0)
    for c in range(shape.shape[1]):
        if spread[c] > 0:
            keep &= np.abs(shape[:, c] - centre[c]) <= SHAPE_LIMIT * spread[c]
    return keep
