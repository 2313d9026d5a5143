"""Pieces of a chunk: read-ahead, exit codes from frame outcomes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from remaster_core.errors import EXIT_BAD_INPUT, EXIT_MODEL, EXIT_OK, EXIT_PARTIAL
from remaster_core.render.chunk import Chunk, ChunkResult, FrameFailure, chunk_exit_code, prefetch


def test_prefetch_yields_everything_in_order_and_reraises() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    got = prefetch(broken())
    assert next(got) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(got)


def test_closing_prefetch_early_stops_its_thread() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = {t.ident for t in threading.enumerate()}
    gen = prefetch(endless(), depth=2)
    assert next(gen) == 0
    gen.close()
    deadline = time.monotonic() + 5
    while any(t.name == "remaster-read" and t.ident not in before for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the read-ahead thread did not stop"
        time.sleep(0.01)
    assert len(produced) <= 5  # it stopped producing


def _result(rendered=(), skipped=(), failed=()) -> ChunkResult:
    return ChunkResult(
        Chunk((1, 2, 3)),
        rendered=list(rendered),
        skipped=list(skipped),
        failed=[FrameFailure(f, "why", kind) for f, kind in failed],
    )


@pytest.mark.parametrize(
    "result,code",
    [
        (_result(rendered=[1, 2], skipped=[3]), EXIT_OK),
        (_result(rendered=[1, 3], failed=[(2, "input")]), EXIT_PARTIAL),
        (_result(failed=[(1, "input"), (2, "input"), (3, "input")]), EXIT_BAD_INPUT),
        (_result(failed=[(1, "model"), (2, "model"), (3, "model")]), EXIT_MODEL),
        (_result(failed=[(1, "model"), (2, "input")]), EXIT_PARTIAL),
        (_result(failed=[(1, "write"), (2, "not rendered"), (3, "not rendered")]), EXIT_PARTIAL),
        (_result(skipped=[1], failed=[(2, "model"), (3, "model")]), EXIT_PARTIAL),
    ],
)
def test_chunk_exit_codes(result: ChunkResult, code: int) -> None:
    assert chunk_exit_code(result) == code
