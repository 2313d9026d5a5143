"""Progress reporting for long work: a bar on a terminal, plain log lines otherwise.

Farm logs and CI have no terminal; a bar there is unreadable noise, so when stderr is not a TTY we
log one line every ``every_percent`` percent instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("remaster.progress")


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it", every_percent: int = 10
) -> Iterator[T]:
    """Yield ``items`` while reporting progress on stderr.

    Args:
        items: what to iterate.
        total: number of items, if ``items`` has no ``len``.
        desc: a short label ("decode", "telecine", ...).
        unit: what one item is ("frame", "field", "step").
        every_percent: in non-TTY mode, log a line each time this many percent more are done.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
        return
    start = time.monotonic()
    next_mark = every_percent
    done = 0
    for item in items:
        yield item
        done += 1
        if total:
            pct = 100 * done // total
            if pct >= next_mark or done == total:
                rate = done / max(time.monotonic() - start, 1e-9)
                log.info("%s: %d/%d %s (%d%%, %.1f %s/s)", desc, done, total, unit, pct, rate, unit)
                next_mark = (pct // every_percent + 1) * every_percent
    if not total:
        log.info("%s: %d %s done", desc, done, unit)
