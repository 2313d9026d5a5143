"""Image sequences on disk: frame patterns, finding the sequence in a folder, and missing frames.

Frame patterns (one frame token, in the file name):
    ``plate.####.exr``   ``#`` run: zero-padded to as many digits as there are ``#``
    ``plate.%06d.exr``   printf style, zero-padded to 6 digits
    ``plate.%d.exr``     no padding (same as a single ``#``)
Padding is a minimum width, as in Nuke and printf: frame 12345 of ``plate.####.exr`` is
``plate.12345.exr``. Negative frames are formatted as printf does (the sign counts in the width):
frame -1 of ``####`` is ``-001``. ``@`` is not a frame token; ``%%``, ``%s``, ``%4d`` are refused.

Frame ranges (``1001-1100x2``, ``1-10 20``) are read and written by ``remaster_core/io/frame_range.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from remaster_core.errors import InputError
from remaster_core.io.frame_range import format_frame_range

IMAGE_EXTENSIONS = (".exr", ".dpx", ".tif", ".tiff", ".png")
_TOKEN = re.compile(r"#+|%(0[1-9]\d*)?d")


@dataclass(frozen=True)
class SequencePattern:
    """A frame-numbered image sequence: ``directory / (head + frame digits + tail)``.

    Build one with ``parse_pattern`` (or ``resolve_sequence``); ``pattern`` is the text as given.
    """

    pattern: str
    directory: Path
    head: str
    tail: str
    padding: int

    def __str__(self) -> str:
        return self.pattern

    def name(self, frame: int) -> str:
        """The file name (no folder) of ``frame``."""
        return f"{self.head}{frame:0{self.padding}d}{self.tail}"

    def path(self, frame: int) -> Path:
        """The path of ``frame``: ``path(1001)`` of ``shot/plate.####.exr`` is ``shot/plate.1001.exr``."""
        return self.directory / self.name(frame)

    @property
    def printf(self) -> str:
        """The pattern in printf form (``shot/plate.%04d.exr``), as ffmpeg's image2 muxer wants it."""
        token = "%d" if self.padding == 1 else f"%0{self.padding}d"
        return str(self.directory / f"{self.head}{token}{self.tail}")

    def frames_on_disk(self) -> list[int]:
        """Sorted frame numbers whose files exist and are named with exactly this padding.

        ``plate.0001.exr`` matches ``plate.####.exr``; ``plate.001.exr`` and ``plate.00001.exr`` do not
        (``path()`` would never produce them). A missing folder gives ``[]``.
        """
        regex = re.compile(re.escape(self.head) + r"(-?\d+)" + re.escape(self.tail))
        try:
            names = os.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        frames = []
        for name in names:
            m = regex.fullmatch(name)
            if m and self.name(int(m.group(1))) == name:
                frames.append(int(m.group(1)))
        return sorted(frames)

    def glob(self) -> list[Path]:
        """Paths of ``frames_on_disk()``, in frame order."""
        return [self.path(f) for f in self.frames_on_disk()]


def parse_pattern(text: str) -> SequencePattern:
    """Parse a frame pattern (``plate.####.exr``, ``plate.%04d.exr``, ``plate.%d.exr``).

    Raises:
        InputError: no frame token, more than one, a token in a folder name, or another ``%`` code.
    """
    path = Path(text)
    name = path.name
    hint = "write one frame token in the file name, e.g. plate.####.exr or plate.%04d.exr"
    if _TOKEN.search(str(path.parent)):
        raise InputError(f"frame pattern {text!r}: the frame token must be in the file name, not a folder")
    tokens = list(_TOKEN.finditer(name))
    leftover = _TOKEN.sub("", name)
    if "%" in leftover:
        raise InputError(
            f"frame pattern {text!r}: only %d and %0Nd are frame tokens (no %s, %%, %4d); {hint}"
        )
    if not tokens:
        raise InputError(f"frame pattern {text!r} has no frame token; {hint}")
    if len(tokens) > 1:
        raise InputError(f"frame pattern {text!r} has {len(tokens)} frame tokens; {hint}")
    tok = tokens[0]
    if tok.group(0).startswith("#"):
        padding = len(tok.group(0))
    else:
        padding = int(tok.group(1)) if tok.group(1) else 1
    return SequencePattern(
        pattern=text, directory=path.parent, head=name[: tok.start()], tail=name[tok.end() :], padding=padding
    )


# a frame file in a folder: head, digits, image extension ("plate.0001.exr", "plate_000123.dpx").
# Negative frames are not detected here ("plate-0001.exr" is frame 1 with head "plate-").
_FRAME_FILE = re.compile(r"(.*?)(\d+)(\.(?:exr|dpx|tiff?|png))", re.IGNORECASE)


def _describe(head: str, tail: str, digits: list[str]) -> tuple[str, list[int]]:
    padding = min(len(d) for d in digits)
    return f"{head}{'#' * padding}{tail}", sorted(int(d) for d in digits)


def resolve_sequence(arg: str) -> SequencePattern:
    """Turn a command-line argument into a sequence: a frame pattern, or a folder holding one sequence.

    For a folder, the files named ``<head><frame digits>.<ext>`` (ext one of exr, dpx, tif, tiff, png;
    hidden files ignored) are grouped by head and extension; exactly one group must exist. Its padding
    is the shortest digit count seen (``plate.0998.exr`` .. ``plate.1002.exr`` -> ``plate.####.exr``).
    A pattern is parsed only; whether its frames exist is checked by the reader (or ``check_contiguous``).

    Raises:
        InputError: a folder with no image sequence or several (the message lists what was found), or a
            bad pattern.
    """
    folder = Path(arg)
    if not folder.is_dir():
        if not _TOKEN.search(folder.name):
            raise InputError(
                f"{arg}: neither a folder nor a frame pattern; give the folder of the sequence or a pattern "
                "such as plate.####.exr"
            )
        return parse_pattern(arg)
    groups: dict[tuple[str, str], list[str]] = {}
    others: list[str] = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        if not (folder / name).is_file():
            if (folder / name).is_symlink() and _FRAME_FILE.fullmatch(name):  # a link to nothing
                raise InputError(
                    f"{folder / name}: a frame of the sequence is a symlink to nothing ({os.readlink(folder / name)}); "
                    "restore the frame it points to, or replace the link, and run again"
                )
            continue
        m = _FRAME_FILE.fullmatch(name)
        if m is None:
            others.append(name)
            continue
        groups.setdefault((m.group(1), m.group(3)), []).append(m.group(2))
    if len(groups) == 1:
        (head, tail), digits = next(iter(groups.items()))
        text, frames = _describe(head, tail, digits)
        seq = parse_pattern(str(folder / text))
        if len(seq.frames_on_disk()) != len(frames):
            raise InputError(
                f"{folder}: the frames of {text} are not padded consistently "
                f"(digit counts {sorted({len(d) for d in digits})}); rename them to one padding"
            )
        return seq
    if not groups:
        shown = ", ".join(others[:10]) + (" ..." if len(others) > 10 else "")
        raise InputError(
            f"{folder}: no image sequence found (looked for name.0001.exr style files with extension "
            f"{', '.join(e[1:] for e in IMAGE_EXTENSIONS)}); the folder holds {len(others)} other file(s)"
            + (f": {shown}" if others else "")
        )
    found = []
    for (head, tail), digits in sorted(groups.items()):
        text, frames = _describe(head, tail, digits)
        found.append(f"{text} ({len(frames)} frames, {format_frame_range(frames)})")
    raise InputError(
        f"{folder}: holds {len(groups)} image sequences, expected one: {'; '.join(found)}; "
        "pass the pattern of the one you mean, e.g. " + str(folder / found[0].split(" ")[0])
    )


def check_contiguous(pattern: SequencePattern, frames: Sequence[int] | None = None) -> None:
    """Check that every frame of ``frames`` exists on disk (default: every frame from the first to the
    last frame found on disk).

    Raises:
        InputError: frames are missing; the message names the first missing files and the count. Also
            when there are no frames of ``pattern`` on disk at all.
    """
    on_disk = set(pattern.frames_on_disk())
    if frames is None:
        if not on_disk:
            raise InputError(f"{pattern}: no frames found on disk (looked for {pattern.path(1001)} etc.)")
        frames = range(min(on_disk), max(on_disk) + 1)
    missing = [f for f in frames if f not in on_disk]
    if not missing:
        return
    shown = ", ".join(f"frame {f} ({pattern.path(f)})" for f in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    raise InputError(
        f"{pattern}: {len(missing)} of {len(frames)} frames missing: {shown}{more} "
        f"[missing: {format_frame_range(missing)}]; restore them or narrow the frame range"
    )


def film_sequence(arg: str) -> tuple[SequencePattern, list[int]]:
    """The film scan named by ``arg`` (a folder or a frame pattern) and its frame numbers, in order.

    Film frames are matched to the broadcast by their order in the scan (``film_first`` indexes them), so
    a frame missing inside the scan would shift every later frame by one: it is refused here, named,
    rather than found later as a wrong temporal offset.

    Raises:
        InputError: no frames, or frames missing between the first and the last (each named, with the
            pattern and the range of missing numbers); or a bad folder/pattern (``resolve_sequence``).
    """
    pattern = resolve_sequence(arg)
    frames = pattern.frames_on_disk()
    if not frames:
        raise InputError(
            f"{arg}: no film frames found; give a folder of frames or a pattern like film.%06d.dpx"
        )
    wanted = range(frames[0], frames[-1] + 1)
    if len(frames) != len(wanted):
        missing = sorted(set(wanted) - set(frames))
        shown = ", ".join(f"frame {f} ({pattern.path(f).name})" for f in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{pattern}: {len(missing)} of {len(wanted)} film frames missing inside the scan: {shown}{more} "
            f"[missing: {format_frame_range(missing)}]; film frames are paired with the broadcast by their "
            "order, so a gap would shift every later frame: restore the missing files (or put a copy of a "
            "neighbour in their place) and run again"
        )
    return pattern, frames
