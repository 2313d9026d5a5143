"""Shots aligned in worker processes, so that every core works: the pool, each worker's setup, and its
log records handed to the parent's logging.

Why processes and not threads: a frame's alignment interleaves OpenCV calls (which release the GIL)
with NumPy and Python work on small arrays (which holds it: the B-spline fits, the statistics), and a
shot's fit runs frame after frame. On two threads the second core idled about half the time; two
processes over the shots keep both busy (``bench/align.py`` measures it). A worker aligns a whole shot
(its fit, then its frames, its files written into its hidden folder and renamed into place), so what
reaches the disk, and when, is what one process did before; the parent assembles align.json.

Workers start with ``spawn`` (a fork of a process whose OpenCV and OpenImageIO thread pools are running
can deadlock). Each costs about 0.7 CPU s to start, so one shot is aligned in the parent.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import cv2
from threadpoolctl import threadpool_limits

MAX_WORKERS = 8  # each holds a shot's fit frames: a bound on memory on a many-core machine


def worker_count(jobs: int, limit: int | None = None) -> int:
    """How many worker processes for ``jobs`` shots: one per core this process may run on, at most
    ``limit`` (default ``MAX_WORKERS``) and at most ``jobs``; 1 means align in this process."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, cores, MAX_WORKERS if limit is None else limit))


class _ToParentLoggers(logging.Handler):
    """Hands a worker's record to the parent's logger of the same name (its level, handlers, format)."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def _init_worker(queue: Any, level: int) -> None:
    """A worker's setup: its log records go to the parent; OpenCV and NumPy's BLAS on one thread (the
    workers share the cores; ``mat`` says why BLAS's own threads cost more than they give)."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(queue)]
    root.setLevel(level)
    cv2.setNumThreads(1)
    threadpool_limits(limits=1, user_api="blas")  # for the worker's life


@contextmanager
def shot_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes whose log records reach this process's logging.

    On an exception (an interrupt included) the shots not started are cancelled and the running ones
    end (a worker interrupted too removes its shot's hidden folder) before it propagates.
    """
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    listener = logging.handlers.QueueListener(queue, _ToParentLoggers())
    listener.start()
    level = min(logging.getLogger().getEffectiveLevel(), logging.getLogger("remaster").getEffectiveLevel())
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(queue, level))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        listener.stop()
