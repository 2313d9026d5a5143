"""Dense matrix products and solves through OpenCV (``cv2.gemm``, ``cv2.solve``) rather than NumPy's BLAS.

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


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for a symmetric positive definite float64 ``a`` (n, n) and ``b`` (n,)
    or (n, k), through OpenCV (Cholesky) for the same reason as ``matmul``: measured under load, NumPy's
    solve of the 198-unknown Gauss-Newton system took 0.2 s, OpenBLAS's threads waiting on OpenCV's."""
    vec = b.ndim == 1
    bb = np.ascontiguousarray(b.reshape(-1, 1) if vec else b, dtype=np.float64)
    ok, x = cv2.solve(np.ascontiguousarray(a, dtype=np.float64), bb, flags=cv2.DECOMP_CHOLESKY)
    if not ok:  # not positive definite after all (rounding): LU
        ok, x = cv2.solve(np.ascontiguousarray(a, dtype=np.float64), bb, flags=cv2.DECOMP_LU)
    return x.ravel() if vec else x
