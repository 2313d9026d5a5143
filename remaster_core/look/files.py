"""A render and its reference as two image sequences on disk, paired frame by frame.

Each is a folder holding one sequence or a frame pattern (``io.sequence.resolve_sequence``). They pair
by position: the k-th frame of the render on disk with the k-th frame of the reference on disk (a
render keeps its input's numbers, a film scan has its own), so both must hold as many frames, of one
size. ``frames`` (a range such as ``1001-1100`` in the render's own numbers) picks some of the render's
frames, each with the reference frame at the same position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from remaster_core.errors import InputError
from remaster_core.io.frame_range import format_frame_range, parse_frame_range
from remaster_core.io.images import image_size, read_frame
from remaster_core.io.sequence import SequencePattern, resolve_sequence
from remaster_core.look.report import MISMATCH


@dataclass(frozen=True)
class SequencePair:
    """Which frames of a render and its reference are scored against each other.

    Attributes:
        render, reference: the two sequences.
        render_frames, reference_frames: their frame numbers, paired by position (same length).
        width, height: the frames' size (px), from the first frame of each.
    """

    render: SequencePattern
    reference: SequencePattern
    render_frames: tuple[int, ...]
    reference_frames: tuple[int, ...]
    width: int
    height: int

    def _read(self, pattern: SequencePattern, frames: tuple[int, ...]) -> Iterator[np.ndarray]:
        for frame in frames:
            rgb, _ = read_frame(pattern, frame, channels=3)
            if rgb.shape[:2] != (self.height, self.width):
                raise InputError(
                    f"frame {frame} of {pattern} is {rgb.shape[1]}x{rgb.shape[0]}, the sequence's first "
                    f"{self.width}x{self.height}: every frame must have one size"
                )
            bad = int(np.count_nonzero(~np.isfinite(rgb)))
            if bad:
                raise InputError(
                    f"{pattern.path(frame)}: frame {frame} holds NaN or infinity in {bad} samples; fix the file "
                    "(or the step that wrote it) before scoring it"
                )
            yield rgb

    def renders(self) -> Iterator[np.ndarray]:
        """The render's frames in order: float32 (H, W, 3) as stored."""
        return self._read(self.render, self.render_frames)

    def references(self) -> Iterator[np.ndarray]:
        """The reference's frames in order: float32 (H, W, 3) as stored."""
        return self._read(self.reference, self.reference_frames)


def _describe(pattern: SequencePattern, frames: list[int]) -> str:
    return f"{pattern} ({len(frames)} frames: {format_frame_range(frames) or 'none'})"


def open_pair(render: str, reference: str, frames: str | None = None) -> SequencePair:
    """Find both sequences and pair their frames (see the module docstring).

    Args:
        render, reference: a folder holding one image sequence, or a frame pattern, each.
        frames: a frame range in the render's numbers, or None for every frame on disk.

    Raises:
        InputError: a sequence not found or empty, frames of the range missing from the render, or a
            reference of another size or length than the render (the message names both).
    """
    render_seq = resolve_sequence(render)
    reference_seq = resolve_sequence(reference)
    render_all = render_seq.frames_on_disk()
    reference_all = reference_seq.frames_on_disk()
    for seq, found in ((render_seq, render_all), (reference_seq, reference_all)):
        if not found:
            raise InputError(
                f"{seq}: no frames found on disk (looked for files like {seq.path(1001).name}); "
                "check the path and the frame pattern"
            )
    if len(render_all) != len(reference_all):
        raise InputError(
            f"render {_describe(render_seq, render_all)}, reference {_describe(reference_seq, reference_all)}: "
            f"{MISMATCH}; frames pair by position, so give two sequences of one length"
        )
    rw, rh, _ = image_size(render_seq.path(render_all[0]))
    fw, fh, _ = image_size(reference_seq.path(reference_all[0]))
    if (rw, rh) != (fw, fh):
        raise InputError(
            f"render {render_seq} is {rw}x{rh}, reference {reference_seq} is {fw}x{fh}: {MISMATCH}; "
            "resample one to the other's raster first"
        )
    if frames is None:
        chosen = render_all
    else:
        chosen = parse_frame_range(frames)
        missing = sorted(set(chosen) - set(render_all))
        if missing:
            raise InputError(
                f"--frames {frames}: frames {format_frame_range(missing)} are not in the render "
                f"{_describe(render_seq, render_all)}"
            )
    position = {f: i for i, f in enumerate(render_all)}
    return SequencePair(
        render=render_seq,
        reference=reference_seq,
        render_frames=tuple(chosen),
        reference_frames=tuple(reference_all[position[f]] for f in chosen),
        width=rw,
        height=rh,
    )
