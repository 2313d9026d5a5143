"""Field measurements that the cadence decision is made on: combing of woven pairs, repeats of a field.

Everything here works on *luma fields at reduced cost*: a field's luma rows, every other column
(``decision_luma``), as float32 8-bit code values (a 10-bit source is scaled by 1/4). Vertical
resolution is kept whole, because combing is a vertical signal.

Measures (N fields in temporal order, field i's parity alternates with i):

- ``comb[i]`` (i = 0..N-2), the combing of the weave of fields i and i+1: for every interior line b
  of the woven frame with its neighbours a, c (which come from the *other* field) the mean over the
  picture of ``sqrt(max((a - b) (c - b), 0))``. The product is positive only where b lies outside
  [a, c] on one side, i.e. where the lines zig-zag (the comb a moving edge makes when the two fields
  were shot at different times); natural vertical detail is monotonic and contributes nothing. The
  square root makes it a magnitude in code values.
- ``intra[i]``: the same measure *inside* field i alone (its own lines at twice the spacing): the
  zig-zag that the picture's detail and noise make on their own. ``comb / intra`` puts pictures of
  different detail (a flat leader, a textured shot) on one scale. It is not an absolute "two moments"
  test: with slow motion over a detailed picture a pair of two moments can comb less than its fields
  do on their own, so the tracker compares it with the neighbouring pairs (``cadence.field_evidence``).
- ``dup[i]`` (i = 0..N-3): mean absolute difference of fields i and i+2 (same parity). The third field
  of a 3-field run repeats the first: they differ only by the codec's noise, while two different film
  frames also differ by their motion and by the film's own grain and noise.
- ``dup_local[i]`` (i = 0..N-3): the same difference where it is largest: the field is cut into 8x8
  tiles and the largest tile mean is kept. Sparse motion (a title scrolling over a dark card, a small
  object moving over a still background) hardly moves the mean over the picture, but moves some tiles
  by tens of code values, while a repeated field's coding noise is spread over all of them (the largest
  tile is about 1.1-1.5 times the mean).
- ``change[i]`` (i = 0..N-2): how much the *picture* changes from field i to i+1, on 32x24 thumbnails
  of the two fields: half the L1 distance of their 16-bin luma histograms plus half the mean absolute
  difference of their standardised luma (the measure ``cuts`` uses on output frames). Large at a cut,
  small within a shot however the fields are paired; ``shot_changes`` uses it to find the fields
  coded in one picture with a field of another shot (the *damaged* fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import cv2
import numpy as np


@dataclass(frozen=True)
class FieldMetrics:
    """The measures of a field stream (see the module docstring), all float32 code values (8-bit scale).

    Attributes:
        comb: (N-1,) combing of the weave of fields i and i+1.
        intra: (N,) the zig-zag inside field i alone.
        dup: (N-2,) mean absolute difference of fields i and i+2.
        dup_local: (N-2,) the largest 8x8-tile mean of that difference (empty when not measured).
        first_parity: parity of field 0 ("top" for top-field-first video); field i has this parity for even i.
        change: (N-1,) picture change from field i to i+1 (empty when not measured).
    """

    comb: np.ndarray
    intra: np.ndarray
    dup: np.ndarray
    first_parity: str
    change: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, np.float32))
    dup_local: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def field_count(self) -> int:
        return int(self.intra.shape[0])


def decision_luma(y_field: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """A field's luma reduced for decisions: every other column, float32 in 8-bit code values.

    Args:
        y_field: (h, W) uint8/uint16 luma codes of one field.
        bit_depth: bits per code value of ``y_field``.

    Returns:
        (h, ceil(W/2)) float32.
    """
    reduced = y_field[:, ::2].astype(np.float32)
    if bit_depth != 8:
        reduced *= np.float32(2.0 ** (8 - bit_depth))
    return reduced


def _zigzag_mean(d1: np.ndarray, d2: np.ndarray) -> tuple[float, int]:
    """Sum of sqrt(max(d1 * d2, 0)) and the count of terms (OpenCV: a few times faster than numpy here)."""
    p = np.maximum(cv2.multiply(d1, d2), np.float32(0.0))
    return float(cv2.sumElems(cv2.sqrt(p))[0]), int(p.size)


def zigzag(frame: np.ndarray) -> float:
    """Mean of ``sqrt(max((a - b)(c - b), 0))`` over interior lines b with neighbours a (above), c (below).

    Args:
        frame: (H, W) float32 luma, H >= 3.

    Returns:
        the mean zig-zag magnitude in the units of ``frame`` (0 for a picture with no line-to-line comb).
    """
    b = frame[1:-1]
    total, count = _zigzag_mean(cv2.subtract(frame[:-2], b), cv2.subtract(frame[2:], b))
    return total / max(count, 1)


def weave_zigzag(top: np.ndarray, bottom: np.ndarray) -> float:
    """``zigzag`` of the frame woven from ``top`` (even rows) and ``bottom`` (odd rows), without weaving it.

    With D = top - bottom (row k against row k) and E = top[1:] - bottom[:-1], a bottom row k has the
    product D[k] E[k] and a top row k >= 1 the product E[k-1] D[k].

    Args:
        top, bottom: (h, w) float32 fields of equal size, h >= 2.
    """
    d = cv2.subtract(top, bottom)
    e = cv2.subtract(top[1:], bottom[:-1])
    s1, n1 = _zigzag_mean(d[:-1], e)
    s2, n2 = _zigzag_mean(d[1:], e)
    return (s1 + s2) / max(n1 + n2, 1)


def weave_rows(first: np.ndarray, second: np.ndarray, first_is_top: bool) -> np.ndarray:
    """Interleave two (h, w) fields into a (2h, w) frame, ``first`` on the even rows if ``first_is_top``."""
    top, bottom = (first, second) if first_is_top else (second, first)
    out = np.empty((top.shape[0] + bottom.shape[0], top.shape[1]), dtype=top.dtype)
    out[0::2] = top
    out[1::2] = bottom
    return out


SHOT_CHANGE_MIN = 0.35  # a frame's two fields show two shots: change at least this ...
SHOT_CHANGE_RATIO = 3.0  # ... and this many times the median change of the fields around it
SHOT_CHANGE_WINDOW = 12  # fields each side for that median
SHOT_CHANGE_WEAK = 0.15  # the least change of a *weak* mark (``plan`` only: see ``shot_changes``)
_THUMB = (32, 24)
_HIST_BINS = 16
_TILES = (8, 8)


def field_signature(y_field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(16,) luma histogram (fractions) and (768,) standardised luma of a decision field's 32x24 thumbnail."""
    thumb = cv2.resize(y_field, _THUMB, interpolation=cv2.INTER_AREA).ravel()
    hist = np.bincount(
        np.clip((thumb * (_HIST_BINS / 256.0)).astype(np.int32), 0, _HIST_BINS - 1), minlength=_HIST_BINS
    )
    centred = thumb - thumb.mean()
    return hist.astype(np.float32) / np.float32(thumb.size), centred / (centred.std() + np.float32(5.0))


def signature_change(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """``change`` between two ``field_signature``s (see the module docstring)."""
    return 0.5 * float(np.abs(a[0] - b[0]).sum()) + 0.5 * float(np.abs(a[1] - b[1]).mean())


def measure_fields(fields: Iterable[np.ndarray], first_parity: str = "top") -> FieldMetrics:
    """Measure a stream of decision fields (``decision_luma`` output) in temporal order.

    Streams: holds only the last two fields. Cost: about three passes over each reduced field.

    Args:
        fields: (h, w) float32 luma fields in temporal order; parities alternate, field 0 is ``first_parity``.
        first_parity: "top" or "bottom".

    Returns:
        ``FieldMetrics`` for the N fields seen (N may be 0).
    """
    comb: list[float] = []
    intra: list[float] = []
    dup: list[float] = []
    dup_local: list[float] = []
    change: list[float] = []
    prev2: np.ndarray | None = None
    prev1: np.ndarray | None = None
    prev_sig: tuple[np.ndarray, np.ndarray] | None = None
    for i, field in enumerate(fields):
        sig = field_signature(field)
        if prev_sig is not None:
            change.append(signature_change(prev_sig, sig))
        prev_sig = sig
        is_top = (i % 2 == 0) == (first_parity == "top")
        intra.append(zigzag(field) if field.shape[0] >= 3 else 0.0)
        if prev1 is not None:
            top, bottom = (field, prev1) if is_top else (prev1, field)
            if top.shape != bottom.shape:  # odd frame height: the top field has one line more
                top = top[: bottom.shape[0]]
            comb.append(weave_zigzag(top, bottom) if bottom.shape[0] >= 2 else 0.0)
        if prev2 is not None:
            diff = cv2.absdiff(field, prev2)
            dup.append(float(cv2.sumElems(diff)[0]) / max(field.size, 1))
            dup_local.append(float(cv2.resize(diff, _TILES, interpolation=cv2.INTER_AREA).max()))
        prev2, prev1 = prev1, field
    return FieldMetrics(
        comb=np.asarray(comb, dtype=np.float32),
        intra=np.asarray(intra, dtype=np.float32),
        dup=np.asarray(dup, dtype=np.float32),
        first_parity=first_parity,
        change=np.asarray(change, dtype=np.float32),
        dup_local=np.asarray(dup_local, dtype=np.float32),
    )


def shot_changes(metrics: FieldMetrics, minimum: float = SHOT_CHANGE_MIN) -> np.ndarray:
    """(N,) bool: field i is coded in one broadcast frame with a field of another shot.

    Frame k holds fields 2k and 2k+1; its change ``metrics.change[2k]`` says "two shots" when it is at
    least ``SHOT_CHANGE_MIN`` and ``SHOT_CHANGE_RATIO`` times the median change of the other fields
    within ``SHOT_CHANGE_WINDOW`` (a fast pan raises them all; a fade or dissolve changes gradually).
    Without ``change`` (not measured) nothing is marked. ``minimum`` replaces ``SHOT_CHANGE_MIN``: the
    cadence takes the marks at that level (a mark takes a field's evidence away); the frame recipes
    (``plan``) also heed *weak* marks, down to ``SHOT_CHANGE_WEAK``, where a wrong mark costs little (a
    repeat woven from its other decode instead of merged, a rebuild only where the weave combs): a cut
    from a moving shot into a fade's dark first frame changes the thumbnails less (0.31 on stress seed 905).
    """
    n = metrics.field_count
    out = np.zeros(n, dtype=bool)
    change = metrics.change
    if change.shape[0] == 0:
        return out
    for i in range(0, min(change.shape[0], n - 1), 2):
        c = float(change[i])
        if c < minimum:
            continue
        lo, hi = max(0, i - SHOT_CHANGE_WINDOW), min(change.shape[0], i + SHOT_CHANGE_WINDOW + 1)
        around = np.concatenate([change[lo:i], change[i + 1 : hi]])
        if around.size and c < SHOT_CHANGE_RATIO * float(np.median(around)):
            continue
        out[i] = out[i + 1] = True
    return out
