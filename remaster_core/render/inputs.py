"""Frame sources for ``remaster render``: an image sequence, a conform folder, or a video conformed on the fly.

``open_source(arg)`` decides from the argument:

- a folder holding ``conform.json`` -> the conform's frames (``remaster conform --out DIR``), numbered
  by conformed frame index from 0, the indices ``align.json`` uses;
- another folder, or a frame pattern (``plate.####.exr``, ``plate.%06d.dpx``) -> that image sequence,
  with its own frame numbers;
- a file -> a broadcast video, conformed on the fly: the conform's decision passes
  (``conform.pipeline.analyse``: cadence, orphans, video stretches) run once per process, then its
  frames are rebuilt in order (``build_frames``) exactly as ``remaster conform`` would write them, but
  in float32 (no half-float rounding). Frame N is conformed frame N, as in a conform folder, and
  carries the same timecode a conform would stamp on it (``conform.timecode``: the 23.976 record
  timecode, and its source fields' timecode as ``remaster:source_timecode``), which the render writes.

Every source has one raster (``size``, ``pixel_aspect``): a frame of another size is reported as a
failed frame, not resampled differently. The pixel aspect is, first match wins: the caller's
override; the file's own (image header or video stream) when it is not 1; 8/9 for the NTSC rasters
720x480, 720x486 and 704x480 (conformed frames are written without one); else 1.

``identity(frame)`` is what identifies the input of a frame in render keys without decoding it: the
sha256 of the frame file's bytes (sequences, conform folders), or the video file's sha256 with the
conformed index and the conform version (videos). So a re-scanned or re-conformed input frame makes
the existing output frame stale.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from remaster_core.align.pipeline import default_broadcast_par
from remaster_core.conform import timecode as timecode_mod
from remaster_core.conform.pipeline import (
    CONFORM_VERSION,
    FPS_FILM,
    FPS_NTSC,
    Analysis,
    _plan_record,
    analyse,
    build_frames,
)
from remaster_core.errors import InputError, MediaError
from remaster_core.io.images import ImageMeta, image_size, read_image, read_meta
from remaster_core.io.sequence import IMAGE_EXTENSIONS, SequencePattern, parse_pattern, resolve_sequence
from remaster_core.io.video import frame_to_rgb, iter_ycbcr_frames, probe_video
from remaster_core.manifests.conform import read_conform
from remaster_core.runtime.model import file_sha256

log = logging.getLogger("remaster.render.inputs")


@dataclass
class SourceFrame:
    """One input frame as read: ``rgb`` float32 (H, W, 3) R'G'B' with its ``meta``, or the ``error``
    that prevented reading it (then ``rgb`` and ``meta`` are None)."""

    frame: int
    rgb: np.ndarray | None
    meta: ImageMeta | None
    error: str | None = None


class FrameSource(Protocol):
    """What a renderer needs from an input (see the module docstring)."""

    kind: str
    label: str
    size: tuple[int, int]
    pixel_aspect: float
    fps: Fraction | None

    def available(self) -> list[int]:
        """The frame numbers this source holds, sorted."""
        ...

    def identity(self, frame: int) -> str:
        """A string that changes whenever frame ``frame``'s pixels may (MediaError if it has none)."""
        ...

    def read(self, frames: Sequence[int]) -> Iterator[SourceFrame]:
        """Yield ``frames`` (sorted ascending), each read or with its error."""
        ...


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pixel_aspect(size: tuple[int, int], file_par: float, override: float | None) -> float:
    par = float(override) if override is not None else default_broadcast_par(size, file_par)
    if not 0.25 <= par <= 4.0:
        raise InputError(f"pixel aspect {par} is not plausible (0.25..4); 8/9 is NTSC 4:3")
    return par


class SequenceSource:
    """An image sequence (or the frames of a conform folder), read with OpenImageIO.

    Attributes:
        kind: "sequence" or "conform".
        pattern: the frame pattern.
        label: how messages name the input.
        size, pixel_aspect: the raster, from the first frame on disk (see the module docstring).
        fps: the frame rate (conform.json's, or the first frame's header), or None.
    """

    def __init__(
        self,
        pattern: SequencePattern,
        *,
        kind: str = "sequence",
        pixel_aspect: float | None = None,
        fps: Fraction | None = None,
        limit: int | None = None,
    ) -> None:
        self.kind = kind
        self.pattern = pattern
        self.label = str(pattern)
        self._limit = limit
        frames = self.available()
        if not frames:
            raise InputError(
                f"{pattern}: no frames found on disk (looked for files like {pattern.path(1001).name}); "
                "check the path and the frame pattern"
            )
        first = pattern.path(frames[0])
        width, height, _ = image_size(first)
        meta = read_meta(first)
        self.size = (width, height)
        self.pixel_aspect = _pixel_aspect(self.size, meta.pixel_aspect, pixel_aspect)
        self.fps = fps if fps is not None else meta.frame_rate

    def available(self) -> list[int]:
        frames = self.pattern.frames_on_disk()
        if self._limit is not None:
            frames = [f for f in frames if 0 <= f < self._limit]
        return frames

    def identity(self, frame: int) -> str:
        path = self.pattern.path(frame)
        try:
            return "file:" + _sha256_file(path)
        except FileNotFoundError:
            raise MediaError(f"frame {frame} of {self.pattern}: no such file ({path})") from None
        except OSError as exc:
            raise MediaError(f"frame {frame} of {self.pattern}: cannot read {path} ({exc.strerror})") from exc

    def read(self, frames: Sequence[int]) -> Iterator[SourceFrame]:
        for frame in frames:
            try:
                rgb, meta = read_image(self.pattern.path(frame))
            except MediaError as exc:
                yield SourceFrame(frame, None, None, f"frame {frame} of {self.pattern}: {exc}")
                continue
            if (rgb.shape[1], rgb.shape[0]) != self.size:
                yield SourceFrame(
                    frame,
                    None,
                    None,
                    f"frame {frame} of {self.pattern} is {rgb.shape[1]}x{rgb.shape[0]}, the sequence is "
                    f"{self.size[0]}x{self.size[1]}; resize or replace it",
                )
                continue
            yield SourceFrame(frame, rgb, meta)


_ANALYSES: dict[tuple[str, int, int], Analysis] = {}


def _analysis(path: Path) -> Analysis:
    """``conform.pipeline.analyse`` of ``path``, once per process per file version."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _ANALYSES:
        log.info("%s: conforming on the fly (cadence analysis)", path)
        _ANALYSES.clear()
        _ANALYSES[key] = analyse(path)
    return _ANALYSES[key]


class VideoSource:
    """A broadcast video conformed on the fly (see the module docstring).

    Attributes:
        path: the video file.
        size, pixel_aspect: the conformed raster (the coded picture) and its pixel aspect.
        fps: 24000/1001 (conformed frames).
    """

    kind = "video"

    def __init__(self, path: Path, *, pixel_aspect: float | None = None) -> None:
        self.path = path
        self.label = str(path)
        self.info = probe_video(path)
        self.size = (self.info.width, self.info.height)
        self.pixel_aspect = _pixel_aspect(self.size, float(self.info.pixel_aspect), pixel_aspect)
        self.fps: Fraction | None = FPS_FILM

    def available(self) -> list[int]:
        analysis = _analysis(self.path)
        count = analysis.frames_decoded if analysis.kind == "progressive24" else len(analysis.plans)
        return list(range(count))

    def identity(self, frame: int) -> str:
        return f"video:{file_sha256(self.path)}:conform-v{CONFORM_VERSION}:{frame}"

    def _frames(self, analysis: Analysis) -> Iterator[tuple[list[int], np.ndarray]]:
        """(the broadcast fields the frame shows, its pixels) of every conformed frame, in order."""
        if analysis.kind == "progressive24":
            for decoded in iter_ycbcr_frames(self.path, count=analysis.frames_decoded):
                yield [2 * decoded.index, 2 * decoded.index + 1], frame_to_rgb(decoded, analysis.info)
            return
        for index, (plan, rgb) in enumerate(build_frames(analysis)):
            assert isinstance(rgb, np.ndarray)
            yield _plan_record(index, plan).used_fields(), rgb

    def _timecode(self, analysis: Analysis) -> timecode_mod.TimecodeMap:
        """The conform's timecode mapping of this video (its own timecode, else the stated default)."""
        rate = FPS_FILM if analysis.kind == "progressive24" else FPS_NTSC
        first_field = analysis.plans[0].fields[0] if analysis.plans else 0
        return timecode_mod.timecode_map(self.path, rate, first_field)

    def read(self, frames: Sequence[int]) -> Iterator[SourceFrame]:
        wanted = sorted(set(frames))
        if not wanted:
            return
        analysis = _analysis(self.path)
        meta = ImageMeta(pixel_aspect=self.pixel_aspect, frame_rate=FPS_FILM)
        tc = self._timecode(analysis)
        pending = iter(wanted)
        target = next(pending, None)
        error: str | None = None
        try:
            for index, (fields, rgb) in enumerate(self._frames(analysis)):
                if target is None:
                    break
                if index == target:
                    yield SourceFrame(index, rgb, timecode_mod.stamp(replace(meta, extra={}), tc, index, fields))
                    target = next(pending, None)
        except MediaError as exc:
            error = str(exc)
        while target is not None:
            reason = error or (
                f"{self.path} conforms to {len(self.available())} frames (0..{len(self.available()) - 1})"
            )
            yield SourceFrame(target, None, None, f"frame {target} of {self.path}: not available ({reason})")
            target = next(pending, None)


def open_source(arg: str | os.PathLike[str], *, pixel_aspect: float | None = None) -> FrameSource:
    """Open the input of a render (see the module docstring for how ``arg`` is read).

    Args:
        arg: a conform folder, a sequence folder or frame pattern, or a video file.
        pixel_aspect: override the input's pixel aspect (width / height of a pixel).

    Raises:
        InputError / MediaError: nothing there, no frames, an unreadable first frame or video, a single
            image file instead of a sequence.
    """
    text = os.fspath(arg)
    path = Path(text)
    if path.is_dir() and (path / "conform.json").is_file():
        conform = read_conform(path)
        return SequenceSource(
            parse_pattern(conform.frames_path),
            kind="conform",
            pixel_aspect=pixel_aspect,
            fps=conform.frame_rate,
            limit=conform.frame_count,
        )
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            raise InputError(
                f"{path} is a single image; give the sequence as a folder or a frame pattern "
                f"(e.g. {path.parent / 'plate.####'}{path.suffix})"
            )
        return VideoSource(path, pixel_aspect=pixel_aspect)
    if not path.exists() and not any(tok in path.name for tok in ("#", "%")):
        raise InputError(
            f"{text}: no such file or folder; give a video, a conform folder or an image sequence"
        )
    return SequenceSource(resolve_sequence(text), pixel_aspect=pixel_aspect)
