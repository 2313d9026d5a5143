"""Dense matrix products and solves through OpenCV (``cv2.gemm``, ``cv2.solve``), and NumPy's BLAS kept
to the calling thread while alignment runs (``one_blas_thread``).

Why: alignment interleaves OpenCV work (DIS flow, blurs, remaps: OpenCV's thread pool) with small
matrix products (B-spline normal equations, Gauss-Newton). NumPy hands products to OpenBLAS, whose own
threads then compete with OpenCV's on a 2-core render node: measured here, a frame's alignment took
0.26 s with NumPy's ``@`` against 0.09 s with OpenBLAS limited to one thread. Routing the hot products
through OpenCV was not enough: every other NumPy product (a least-squares fit, a polynomial fit, a
small ``@``) still wakes OpenBLAS's threads, which then spin waiting for more work and take the core
the next OpenCV call needs. Measured on ``bench/align.py``'s held-out corpus (180 pairs, 960x720, one
process, no threads of its own): 94.7 CPU-s with OpenBLAS free, 73.4 with it on one thread; a
(178, 11) x (11, 238) ``cv2.gemm`` took 0.9-1.8 ms beside a spinning OpenBLAS thread, 0.035 ms alone.
``OPENBLAS_NUM_THREADS`` is the caller's environment, not ours, so ``align`` and its worker processes
limit the BLAS pools at run time (threadpoolctl) and leave them as they were after. Results equal
``@`` to rounding (float64 stays float64).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np
from threadpoolctl import threadpool_limits


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS (OpenBLAS, MKL, BLIS: whichever this process loaded) on one thread inside the block,
    restored after it; the products then run on the calling thread, beside OpenCV's pool."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


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
