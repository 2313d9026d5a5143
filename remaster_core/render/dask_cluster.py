"""Run render chunks as tasks on an existing Dask distributed cluster (``remaster render --scheduler``).

Each chunk is one task, ``render_chunk(settings, chunk)``, submitted by reference: every worker needs
this package importable in its environment (the same ``remaster`` install as the submitting machine),
and the input, model and output paths must mean the same files on every worker (shared storage).

Failures:

- a worker lost mid-chunk (killed, crashed, machine gone): the scheduler reschedules the task on
  another worker (up to Dask's ``distributed.scheduler.allowed-failures``, 3 by default); the re-run
  chunk skips the frames already written (each write is atomic, each existing frame is checked), so no
  frame is lost and none is left half-written;
- a task that raises (a bug, an unexpected OS error): retried ``retries`` times;
- a chunk whose task finally fails is reported with all its frames failed and the job exits 4.

GPUs: chunks that need a GPU are submitted with ``resources={"GPU": 1}`` (``gpu_resources``: when the
provider is ``cuda`` or ``tensorrt``), so a GPU worker runs one chunk at a time per GPU. Start GPU
workers with ``dask worker tcp://HOST:8786 --nthreads 1 --resources GPU=1`` (one worker per GPU,
``CUDA_VISIBLE_DEVICES`` set per worker). A job that asks for GPUs on a cluster where no worker
offers them waits for such a worker; it is logged as a warning.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from remaster_core.errors import EXIT_PARTIAL, InputError
from remaster_core.node_params import GPU_PROVIDERS
from remaster_core.progress import progress
from remaster_core.render.chunk import Chunk, ChunkResult, FrameFailure, RenderSettings, render_chunk

log = logging.getLogger("remaster.render.dask")


def gpu_resources(provider: str) -> dict[str, float] | None:
    """``{"GPU": 1}`` for the GPU providers (``node_params.GPU_PROVIDERS``), else None (any worker)."""
    return {"GPU": 1} if provider in GPU_PROVIDERS else None


def connect(address: str, timeout: float = 20.0) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Raises:
        InputError: dask distributed is not installed, or no scheduler answers at ``address`` within
            ``timeout`` seconds.
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise InputError(
            f"--scheduler needs dask distributed, which is not installed here ({exc}); "
            "install the farm extra: pip install 'remaster[farm]'"
        ) from exc
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(exc).__name__}: {exc}); "
            "check that `dask scheduler` runs there and that this machine can reach its port"
        ) from exc


def _lost(chunk: Chunk, message: str) -> ChunkResult:
    failed = [FrameFailure(f, message, "not rendered") for f in chunk.frames]
    return ChunkResult(chunk, failed=failed, error=message, exit_code=EXIT_PARTIAL)


def _warn_missing_resources(client: Any, resources: dict[str, float] | None) -> None:
    if not resources:
        return
    workers = client.scheduler_info().get("workers", {})
    offering = [
        addr
        for addr, info in workers.items()
        if all(info.get("resources", {}).get(name, 0) >= amount for name, amount in resources.items())
    ]
    if not offering:
        log.warning(
            "no worker of the cluster offers %s yet: the chunks wait until one joins "
            "(start GPU workers with `dask worker SCHEDULER --nthreads 1 --resources GPU=1`)",
            resources,
        )


def run_on_dask(
    settings: RenderSettings,
    chunks: Sequence[Chunk],
    *,
    scheduler: str,
    resources: dict[str, float] | None = None,
    retries: int = 2,
    connect_timeout: float = 20.0,
    show_progress: bool = True,
) -> list[ChunkResult]:
    """Submit one task per chunk to the cluster at ``scheduler`` and wait for all of them.

    Returns:
        One ``ChunkResult`` per chunk, in frame order (a chunk whose task failed for good: all its
        frames failed, ``error`` says why).

    Raises:
        InputError: as ``connect``.
    """
    from distributed import as_completed

    client = connect(scheduler, connect_timeout)
    try:
        _warn_missing_resources(client, resources)
        job = uuid.uuid4().hex[:8]
        by_key: dict[str, Chunk] = {}
        futures = []
        for chunk in chunks:
            key = f"remaster-render-{job}-{chunk.name}"
            by_key[key] = chunk
            futures.append(
                client.submit(
                    render_chunk,
                    settings,
                    chunk,
                    key=key,
                    pure=False,
                    retries=retries,
                    resources=resources,
                )
            )
        log.info("submitted %d chunks to %s (job %s)", len(futures), scheduler, job)
        results: list[ChunkResult] = []
        done: Any = as_completed(futures, loop=client.loop)
        if show_progress:
            done = progress(done, total=len(futures), desc="render", unit="chunk")
        for future in done:
            chunk = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 (KilledWorker, a worker's exception: reported per chunk)
                message = f"{chunk.name} failed on the cluster ({type(exc).__name__}: {exc})"
                log.error("%s", message)
                result = _lost(chunk, message)
            results.append(result)
        return sorted(results, key=lambda r: r.chunk.first)
    finally:
        client.close()
