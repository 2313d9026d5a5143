"""The alignment's matrix helpers and its BLAS thread policy (``remaster_core.align.mat``)."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from remaster_core.align.mat import matmul, one_blas_thread, solve
from remaster_core.align.parallel import shot_pool


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_matmul_and_solve_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((178, 11)), rng.random((11, 238))
    assert np.allclose(matmul(a, b), a @ b, rtol=1e-12)
    v = rng.random(178)
    assert np.allclose(matmul(a, v, transpose_a=True), a.T @ v, rtol=1e-12)
    m = rng.random((20, 20))
    spd = m @ m.T + 20 * np.eye(20)
    rhs = rng.random((20, 2))
    assert np.allclose(solve(spd, rhs), np.linalg.solve(spd, rhs), rtol=1e-10)


def test_blas_runs_on_one_thread_inside_the_block_and_as_before_after_it() -> None:
    with threadpool_limits(limits=2, user_api="blas"):  # as on a 2-core node with nothing set
        before = _blas_threads()
        assert before  # NumPy's BLAS is seen (OpenBLAS in the wheels)
        with one_blas_thread():
            assert all(n == 1 for n in _blas_threads())
        assert _blas_threads() == before


def _worker_blas_threads() -> list[int]:
    return _blas_threads()


def test_an_align_worker_process_keeps_blas_on_one_thread() -> None:
    with shot_pool(1) as pool:
        threads = pool.submit(_worker_blas_threads).result(timeout=120)
    assert threads and all(n == 1 for n in threads)
