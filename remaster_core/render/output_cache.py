"""The model's outputs a process keeps for an output deflicker's next windows (``remaster render
--deflicker-output``, the worker behind the Nuke node).

With an output deflicker of radius ``r`` a frame is made from the model's output on ``2 r + 1`` frames.
A chunk runs the model once on each of them, but a host that asks for one frame at a time (the Nuke
node while a compositor steps through a shot) and a farm worker that renders consecutive chunks would
run it again on the frames the windows share. This cache keeps the latest outputs in memory, keyed by
everything an output depends on (``chunk._model_key``: the model's hash, the node's pixel fields, the
frame's mapping, the colour steps, the input deflicker and the identities of every input frame read),
so that stepping to the next frame runs the model once.

Bounded by ``CACHE_BYTES`` (least recently used out first); a process-wide, thread-safe store. Entries
are never modified: a caller gets the stored array and must not write into it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

import numpy as np

CACHE_BYTES = 1 << 30
"""Bytes of model outputs kept (about 57 frames of 1440x1080 RGB float32, 14 of 4096x3112)."""

T = TypeVar("T")


class OutputCache(Generic[T]):
    """A least-recently-used store of ``(array, extra)`` by key, at most ``limit`` bytes of arrays."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._items: OrderedDict[str, tuple[np.ndarray, T]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[np.ndarray, T] | None:
        """The stored ``(array, extra)`` for ``key`` (now the most recent), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, array: np.ndarray, extra: T) -> None:
        """Store ``array`` (read-only from now on) and ``extra`` under ``key``; the oldest entries go
        until the store fits. An array larger than the whole store is not kept."""
        if array.nbytes > self.limit:
            return
        array.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes
            self._items[key] = (array, extra)
            self._bytes += array.nbytes
            while self._bytes > self.limit:
                _, (dropped, _) = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
