"""The worker's loop: read a request line from stdin, answer one response line on stdout, until the end.

``serve(requests, responses)`` works on any pair of binary streams (the tests drive it with pipes);
``serve_stdio()`` is what ``remaster worker`` runs. It first takes stdout for the protocol alone: the
real stdout file descriptor is duplicated for the responses and descriptor 1 is pointed at stderr, so
a library that prints (onnxruntime, OpenImageIO, a stray ``print``) writes into the log instead of
corrupting the protocol. Logs and tracebacks go to stderr, which the host points at a log file.

One request at a time, in order. An error in a request (bad input, a broken model, a malformed line,
even a bug) is answered as an error response and the worker goes on; ``shutdown`` or the end of stdin
(the host closed the pipe or died) ends it with exit code 0.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from remaster_core.worker import ops
from remaster_core.worker.protocol import (
    MAX_LINE_BYTES,
    Request,
    encode,
    error_kind,
    parse_request,
    request_id,
)

log = logging.getLogger("remaster.worker")

HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ping": ops.ping,
    "describe": ops.describe,
    "render": ops.render,
    "align": ops.align,
}


def _render_outcome(response: dict[str, Any]) -> dict[str, Any]:
    """``ok``/``error``/``kind`` of a render response: failed frames make it an error response that
    still lists what was done."""
    message = ops.render_failure(response)
    if message is None:
        return {"ok": True, **response}
    model = any(f["kind"] == "model" for f in response["failed"]) or response["exit_code"] == 3
    return {"ok": False, "error": message, "kind": "model" if model else "input", **response}


def handle(line: bytes) -> tuple[dict[str, Any], bool]:
    """Answer one request line: (response, whether to stop serving)."""
    started = time.monotonic()
    rid = request_id(line)
    request: Request | None = None
    try:
        request = parse_request(line)
        if request.op == "shutdown":
            return {"id": rid, "ok": True, "op": "shutdown", "seconds": 0.0}, True
        result = HANDLERS[request.op](request.body)
        response = _render_outcome(result) if request.op == "render" else {"ok": True, **result}
    except Exception as exc:  # every error becomes a response; the worker keeps serving
        kind = error_kind(exc)
        if kind == "internal":
            log.exception("internal error in %s request %r", request.op if request else "a", rid)
            message = (
                f"internal error in the worker: {type(exc).__name__}: {exc} (traceback in the worker log)"
            )
        else:
            log.error("%s request %r: %s", request.op if request else "bad", rid, exc)
            message = str(exc)
        response = {"ok": False, "error": message, "kind": kind}
    op = request.op if request else None
    return {"id": rid, "op": op, **response, "seconds": round(time.monotonic() - started, 4)}, False


def serve(requests: IO[bytes], responses: IO[bytes]) -> int:
    """Serve requests from ``requests`` until ``shutdown`` or its end; returns the exit code (0)."""
    log.info("remaster worker (pid %d) serving", os.getpid())
    while True:
        line = requests.readline(MAX_LINE_BYTES + 1)  # bounded: a line without end never fills the memory
        if not line:
            log.info("stdin closed: the host is gone; exiting")
            return 0
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            size = len(line) + _skip_line(requests)
            message = f"request of {size} bytes, the limit is {MAX_LINE_BYTES}"
            log.error("bad request: %s", message)
            response = {
                "id": None,
                "op": None,
                "ok": False,
                "error": message,
                "kind": "protocol",
                "seconds": 0.0,
            }
            stop = False
        elif not line.strip():
            continue
        else:
            response, stop = handle(line.strip())
        responses.write(encode(response))
        responses.flush()
        if stop:
            log.info("shutdown requested; exiting")
            return 0


def _skip_line(requests: IO[bytes]) -> int:
    """Read the rest of an over-long line (in bounded pieces) and drop it; returns its length."""
    skipped = 0
    while True:
        piece = requests.readline(MAX_LINE_BYTES)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def protocol_stdout() -> IO[bytes]:
    """Take stdout for the protocol alone (see the module docstring); returns the protocol stream."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def serve_stdio() -> int:
    """``serve`` on this process's stdin and (protected) stdout."""
    responses = protocol_stdout()
    try:
        return serve(sys.stdin.buffer, responses)
    finally:
        responses.close()
