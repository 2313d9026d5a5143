"""Dense matrix products through OpenCV's ``cv2.gemm`` rather than NumPy's BLAS.

Why: alignment interleaves OpenCV work (DIS flow, blurs, remaps: OpenCV's thread pool) with small
matrix products (B-spline normal equations, Gauss-Newton). NumPy hands those to OpenBLAS, whose own
threads then compete with OpenCV's on a 2-core render node: measured here, a frame's alignment took
0.26 s with NumPy's ``@`` against 0.09 s with OpenBLAS limited to one thread. Setting
``OPENBLAS_NUM_THREADS`` is the caller's environment, not ours; routing the few hot products through
OpenCV keeps everything on one pool. Results equal ``@`` to rounding (float64 stays float64).
"""

from __future__ import annotations

import cv2
import numpy as np


def matmul(a: np.ndarray, b: np.ndarray, *, transpose_a: bool = False) -> np.ndarray:
    """``a @ b`` (or ``a.T @ b``) for 2-D float32/float64 arrays of one dtype (1-D ``b`` is a column).

    Returns an array of the common dtype, shape (M, N) (or (M,) for a 1-D ``b``).
    """
    dtype = np.float64 if np.float64 in (a.dtype, b.dtype) else np.float32
    vec = b.ndim == 1
    bb = np.ascontiguousarray(b.reshape(-1, 1) if vec else b, dtype=dtype)
    aa = np.ascontiguousarray(a, dtype=dtype)
    out = cv2.gemm(aa, bb, 1.0, None, 0.0, flags=cv2.GEMM_1_T if transpose_a else 0)
    return out.ravel() if vec else out
