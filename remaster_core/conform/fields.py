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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FieldMetrics:
    """The measures of a field stream (see the module docstring), all float32 code values (8-bit scale).

    Attributes:
        comb: (N-1,) combing of the weave of fields i and i+1.
        intra: (N,) the zig-zag inside field i alone.
        dup: (N-2,) mean absolute difference of fields i and i+2.
        first_parity: parity of field 0 ("top" for top-field-first video); field i has this parity for even i.
    """

    comb: np.ndarray
    intra: np.ndarray
    dup: np.ndarray
    first_parity: str

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
    prev2: np.ndarray | None = None
    prev1: np.ndarray | None = None
    for i, field in enumerate(fields):
        is_top = (i % 2 == 0) == (first_parity == "top")
        intra.append(zigzag(field) if field.shape[0] >= 3 else 0.0)
        if prev1 is not None:
            top, bottom = (field, prev1) if is_top else (prev1, field)
            if top.shape != bottom.shape:  # odd frame height: the top field has one line more
                top = top[: bottom.shape[0]]
            comb.append(weave_zigzag(top, bottom) if bottom.shape[0] >= 2 else 0.0)
        if prev2 is not None:
            dup.append(float(cv2.norm(field, prev2, cv2.NORM_L1)) / max(field.size, 1))
        prev2, prev1 = prev1, field
    return FieldMetrics(
        comb=np.asarray(comb, dtype=np.float32),
        intra=np.asarray(intra, dtype=np.float32),
        dup=np.asarray(dup, dtype=np.float32),
        first_parity=first_parity,
    )
