"""Batch render (``remaster render``): frames through the per-frame node, locally or on a Dask cluster.

One job per module:

- ``inputs``: frame sources: an image sequence, a conform folder, a broadcast video conformed on the fly;
- ``outputs``: the output pattern and formats (EXR half, DPX 10-bit, PNG 16), render keys stamped in
  each frame, validity of existing frames, atomic writes, stale temporaries;
- ``chunk``: render one chunk (the unit of work): skip valid frames, render the rest, JSON-lines log;
- ``job``: check a job, split its frames into chunks, run them here or on Dask, exit codes;
- ``dask_cluster``: submit chunks to a Dask scheduler (retries, GPU resources);
- ``review``: a ProRes / H.264 review movie with timecode from the rendered frames.

The farm contract (docs/architecture.md, section 6): every frame is written atomically, a valid existing frame is
skipped, so a chunk can be killed and re-run, and a frame's bits do not depend on the chunking or the
worker. See ``docs/farm.md`` for Deadline and OpenCue job templates.
"""

from __future__ import annotations

from remaster_core.render.chunk import Chunk, ChunkResult, FrameFailure, RenderSettings, render_chunk
from remaster_core.render.inputs import FrameSource, SourceFrame, open_source
from remaster_core.render.job import JobPlan, JobResult, job_exit_code, plan_job, run_job, split_chunks
from remaster_core.render.outputs import OutputSpec, frame_status, output_spec, render_key
from remaster_core.render.review import write_review

__all__ = [
    "Chunk",
    "ChunkResult",
    "FrameFailure",
    "FrameSource",
    "JobPlan",
    "JobResult",
    "OutputSpec",
    "RenderSettings",
    "SourceFrame",
    "frame_status",
    "job_exit_code",
    "open_source",
    "output_spec",
    "plan_job",
    "render_chunk",
    "render_key",
    "run_job",
    "split_chunks",
    "write_review",
]
