"""``remaster worker``: the engine out of process, for hosts that cannot load our binary dependencies.

Nuke embeds its own Python and may not load onnxruntime, OpenImageIO or numpy builds of ours
(docs/architecture.md, section 7), so the Nuke plugin starts one ``remaster worker`` per Nuke session, in the
project's own environment, and talks to it over the worker's stdin and stdout: JSON lines, one
request and one response per line; frames travel as EXR files whose paths the messages carry.

One job per module:

- ``protocol``: the wire format (requests, responses, error kinds) and the parsing of requests into
  checked values (``NodeParams``, ``RenderJob``);
- ``ops``: what each op does (``ping``, ``describe``, ``render``, ``align``); ``render`` is exactly the
  code path of ``remaster render`` (``render.job.plan_job`` + ``run_job``), so a frame is bit-identical;
- ``server``: the loop over stdin/stdout, with stdout kept for the protocol alone.

Run it with ``remaster worker`` (or ``python -m remaster_core.worker``).
"""

from __future__ import annotations

from remaster_core.worker.protocol import OPS, PROTOCOL_VERSION, ProtocolError, RenderJob, parse_request
from remaster_core.worker.server import handle, serve, serve_stdio

__all__ = [
    "OPS",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "RenderJob",
    "handle",
    "parse_request",
    "serve",
    "serve_stdio",
]
