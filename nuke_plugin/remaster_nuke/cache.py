"""Where a Remaster node's frames live on disk. Pure standard library.

One folder per cache key (``settings.settings_key``) under the cache root::

    <root>/<key>/source/staged/src.####.exr  the Source frames as Nuke just wrote them (32-bit float RGB)
    <root>/<key>/source/src.####.exr       the Source frames the enhanced frames were rendered from (the
                                           worker promotes a staged frame when its pixels changed)
    <root>/<key>/out/remaster.####.exr     the enhanced frames the worker wrote (32-bit float RGB)
    <root>/<key>/out/.remaster/            the worker's chunk logs (and shifted align.json copies)

Paths use forward slashes, which Nuke's file knobs accept on every platform. Old keys are never
deleted by the plugin: the cache root is a scratch folder the user cleans (docs/nuke.md).
"""

from __future__ import annotations

import os
from typing import NamedTuple

SOURCE_NAME = "src"
RESULT_NAME = "remaster"
PADDING = "####"


class CachePaths(NamedTuple):
    """The files of one cache key (see the module docstring)."""

    root: str
    key: str
    folder: str
    source_pattern: str
    staged_pattern: str
    result_pattern: str

    def source(self, frame: int) -> str:
        """The source file of ``frame``."""
        return frame_path(self.source_pattern, frame)

    def result(self, frame: int) -> str:
        """The enhanced file of ``frame``."""
        return frame_path(self.result_pattern, frame)


def _slashes(path: str) -> str:
    return path.replace("\\", "/")


def cache_paths(root: str, key: str) -> CachePaths:
    """The ``CachePaths`` of ``key`` under ``root``."""
    folder = _slashes(os.path.join(os.path.abspath(root), key))
    return CachePaths(
        root=_slashes(os.path.abspath(root)),
        key=key,
        folder=folder,
        source_pattern=f"{folder}/source/{SOURCE_NAME}.{PADDING}.exr",
        staged_pattern=f"{folder}/source/staged/{SOURCE_NAME}.{PADDING}.exr",
        result_pattern=f"{folder}/out/{RESULT_NAME}.{PADDING}.exr",
    )


def frame_path(pattern: str, frame: int) -> str:
    """``pattern`` with its ``####`` replaced by ``frame`` (zero-padded to 4 digits, more if needed;
    negative frames as Nuke writes them, ``-001``)."""
    width = pattern.count("#")
    text = "-{n:0{w}d}".format(n=-frame, w=width - 1) if frame < 0 else "{n:0{w}d}".format(n=frame, w=width)
    return pattern.replace("#" * width, text)


def cached_frames(paths: CachePaths, frames: list[int]) -> list[int]:
    """The frames of ``frames`` whose enhanced file exists."""
    return [f for f in frames if os.path.isfile(paths.result(f))]
