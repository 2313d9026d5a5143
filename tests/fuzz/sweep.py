"""Mutation of real files for every verb, each case a real ``remaster`` subprocess judged on what it did.

``build_inputs(root)`` makes the small real inputs once (a tiny synth reel, its conform, its pairs, a tiny
ONNX model, a training run folder, a 2-frame EXR sequence). Each ``Case`` builds its own folder ``work``
from them (files hard-linked, the mutated one written anew: the shared inputs are never touched), runs
``python -m remaster_core -q VERB ...`` there with a time bound, and ``judge`` gives the verdict:

=================  =================================================================================
``clear error``    exit code 2, 3 or 4 and an ``error:`` line naming the file or field at fault
``accepted``       exit code 0 where the mutation may leave a usable input (a flipped bit in a picture)
``unclear``        an error that names nothing expected, or a bad input accepted as if it were fine
``traceback``      exit code 1 or a Python traceback on stderr
``hang``           still running at the time bound
``wrote outside``  a file created, changed or removed outside the output folder (inputs aside)
``data loss``      an input file changed or removed
``partial file``   a temporary file (``.tmp-``) left anywhere
=================  =================================================================================

The worker is fed request lines on its stdin (``Case.stdin``); its verdict reads its responses: every one
an error of kind input/model/protocol naming the file or field, and exit code 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

VERDICTS = (
    "clear error",
    "accepted",
    "unclear",
    "traceback",
    "hang",
    "wrote outside",
    "data loss",
    "partial file",
)
GOOD = ("clear error", "accepted")


@dataclass(frozen=True)
class Inputs:
    """The real inputs every case starts from (read only).

    Attributes:
        root: the folder holding them all.
        reel: a tiny synth reel (broadcast.mpg, film/, truth/, truth.json).
        conform: its conform folder (frames/, conform.json).
        pairs: its pairs folder (align.json, shot*/input|target|mask).
        model: a tiny ONNX model with the remaster metadata (s=2).
        run: a training run folder with checkpoints (what ``remaster export`` reads).
        seq: the pattern of a 2-frame 64x48 half EXR sequence (frames 1, 2).
    """

    root: Path
    reel: Path
    conform: Path
    pairs: Path
    model: Path
    run: Path
    seq: str


def link_tree(src: Path, dst: Path) -> Path:
    """``dst`` as a copy of ``src`` whose files are hard links (a mutation replaces a file, never edits it)."""
    for folder, _dirs, files in os.walk(src):
        target = dst / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(folder) / name, target / name)
    return dst


def build_inputs(root: Path, reel: Path | None = None) -> Inputs:
    """Make the inputs under ``root`` (``reel``: an existing tiny reel to link instead of a new one).
    Needs ffmpeg and the train extra (torch: the model and the run folder)."""
    from remaster_core.cli import main
    from tests.export import SMALL, make_run, trained_like
    from tests.render import model, write_sequence

    root.mkdir(parents=True, exist_ok=True)
    quiet = ["-q"]
    if reel is None:
        reel = root / "reel"
        if not (reel / "truth.json").is_file():
            assert main([*quiet, "synth", "--preset", "tiny", "--seed", "1", "--out", str(reel)]) == 0
    elif not (root / "reel").exists():
        reel = link_tree(reel, root / "reel")
    else:
        reel = root / "reel"
    conform = root / "conform"
    if not (conform / "conform.json").is_file():
        argv = ["conform", str(reel / "broadcast.mpg"), "--film", str(reel / "film"), "--out", str(conform)]
        assert main([*quiet, *argv]) == 0
    pairs = root / "pairs"
    if not (pairs / "align.json").is_file():
        argv = ["align", "--conform", str(conform), "--film", str(reel / "film"), "--out", str(pairs)]
        assert main([*quiet, *argv]) == 0
    onnx_model = root / "model" / "model.onnx"
    if not onnx_model.is_file():
        onnx_model.parent.mkdir(parents=True, exist_ok=True)
        model(onnx_model.parent)
    run = root / "run"
    if not (run / "checkpoints" / "best.safetensors").is_file():
        make_run(run, trained_like(SMALL, seed=3), steps=(10,))
    seq_folder = root / "seq"
    seq = str(seq_folder / "plate.####.exr")
    if not (seq_folder / "plate.0002.exr").is_file():
        seq = write_sequence(seq_folder, [1, 2])
    if not (root / "look" / "plate.0002.exr").is_file():
        write_sequence(root / "look", [1, 2], size=(160, 128))
    return Inputs(root, reel, conform, pairs, onnx_model, run, seq)


# ------------------------------------------------------------------------------------------ mutations


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` as a new file at ``path`` (a hard link to a shared input is broken first)."""
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_bytes(data)


def truncate(path: Path, keep: float = 0.5) -> None:
    """Keep the first ``keep`` of the file (0: empty)."""
    data = path.read_bytes()
    _replace(path, data[: int(len(data) * keep)])


def flip(path: Path, count: int = 8, seed: int = 0, skip: int = 0) -> None:
    """Flip one bit in each of ``count`` bytes at seeded positions (past the first ``skip`` bytes)."""
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(count):
        pos = rng.randrange(min(skip, len(data) - 1), len(data))
        data[pos] ^= 1 << rng.randrange(8)
    _replace(path, bytes(data))


def grow(path: Path, extra: int = 1 << 16) -> None:
    """Append ``extra`` bytes of noise (a file resized by a bad copy)."""
    _replace(path, path.read_bytes() + random.Random(extra).randbytes(extra))


def swap(path: Path, other: Path) -> None:
    """Give ``path`` the bytes of ``other`` (a file of another kind or size under the expected name)."""
    _replace(path, other.read_bytes())


def dangling(path: Path) -> None:
    """Replace the file with a symlink to nothing."""
    path.unlink()
    path.symlink_to(path.parent / "nowhere" / path.name)


def loop(path: Path) -> None:
    """Replace the file with a symlink to itself."""
    path.unlink()
    path.symlink_to(path.name)


def folder_instead(path: Path) -> None:
    """Replace the file with a folder of the same name."""
    path.unlink()
    path.mkdir()


def nan_exr(path: Path, value: float = float("nan")) -> None:
    """Rewrite an EXR with ``value`` in a block of its pixels (NaN, +Inf or -Inf)."""
    from remaster_core.io.images import read_image, write_image

    pixels, meta = read_image(path, channels=None)
    pixels = pixels.copy()
    pixels[: max(1, pixels.shape[0] // 4), : max(1, pixels.shape[1] // 4)] = value
    path.unlink()
    write_image(path, pixels, meta=meta)


def edit_json(path: Path, edit: Callable[[Any], Any]) -> None:
    """Rewrite a JSON file with ``edit(doc)`` (NaN written as the bare token a hand edit could leave)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc = edit(doc) or doc
    _replace(path, json.dumps(doc, allow_nan=True).encode())


def edit_onnx_metadata(path: Path, key: str, value: str) -> None:
    """Set one metadata property of an ONNX file (the rest of the file as it was)."""
    import onnx

    model = onnx.load(str(path))
    props = {p.key: p for p in model.metadata_props}
    if key in props:
        props[key].value = value
    else:
        model.metadata_props.add(key=key, value=value)
    _replace(path, model.SerializeToString())


# ------------------------------------------------------------------------------------------ cases

Build = Callable[[Path, Inputs], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input to one verb.

    Attributes:
        verb: the verb run.
        name: what is wrong, in a few words.
        kind: the mutation class (truncate, flip, resize, swap, symlink, nan, bound, manifest, config,
            full disk, overlap, protocol, model).
        build: ``build(work, inputs)`` makes the case's inputs below ``work`` and returns the arguments
            after ``remaster -q`` (the output goes to ``work / "out"``).
        names: the error must contain one of these (the file or field at fault).
        accept: exit code 0 is a fine outcome too (the mutation may leave a usable input).
        ci: part of the CI subset (``tests/fuzz/test_verbs.py``).
        timeout: seconds before the case counts as a hang.
        tmpfs: mount a tmpfs with these options on ``work / "mnt"`` first (root only; else skipped).
        stdin: request lines for the worker (``{work}``, ``{model}``... are filled in by ``build``).
    """

    verb: str
    name: str
    kind: str
    build: Build
    names: tuple[str, ...]
    accept: bool = False
    ci: bool = False
    timeout: float = 180.0
    tmpfs: str | None = None

    @property
    def id(self) -> str:
        return f"{self.verb}: {self.name}"


def _film(work: Path, inputs: Inputs) -> Path:
    return link_tree(inputs.reel / "film", work / "film")


def _conform(work: Path, inputs: Inputs) -> Path:
    return link_tree(inputs.conform, work / "conform")


def _pairs(work: Path, inputs: Inputs) -> Path:
    return link_tree(inputs.pairs, work / "pairs")


def _seq(work: Path, inputs: Inputs) -> str:
    link_tree(Path(inputs.seq).parent, work / "seq")
    return str(work / "seq" / Path(inputs.seq).name)


def _frame(pattern: str, n: int) -> Path:
    return Path(pattern.replace("####", f"{n:04d}"))


def _model(work: Path, inputs: Inputs) -> Path:
    (work / "model").mkdir(exist_ok=True)
    path = work / "model" / "model.onnx"
    os.link(inputs.model, path)
    return path


def _broadcast(work: Path, inputs: Inputs) -> Path:
    (work / "in").mkdir(exist_ok=True)
    path = work / "in" / "broadcast.mpg"
    os.link(inputs.reel / "broadcast.mpg", path)
    return path


def _out(work: Path) -> str:
    return str(work / "out")


# synth -----------------------------------------------------------------------------------------------


def _synth(*extra: str) -> Build:
    return lambda work, inputs: ["synth", "--preset", "tiny", "--out", _out(work), *extra]


def synth_cases() -> list[Case]:
    return [
        Case("synth", "a billion shots", "bound", _synth("--shots", "1000000000"), ("shots",), ci=True),
        Case("synth", "a billion leader frames", "bound", _synth("--leader-frames", "1000000000"), ("leader",), ci=True),
        Case("synth", "a negative leader", "bound", _synth("--leader-frames", "-5"), ("leader",)),
        Case("synth", "missing film of shot 99", "bound", _synth("--missing-film", "99"), ("99", "missing")),
        Case("synth", "a seed of 40 digits", "bound", _synth("--seed", "9" * 40), ("seed",), accept=True),
        Case("synth", "a negative seed", "bound", _synth("--seed", "-1"), ("seed",)),
        Case(
            "synth", "a full disk", "full disk",
            lambda work, inputs: ["synth", "--preset", "tiny", "--out", str(work / "mnt" / "reel")],
            ("disk full", "mnt"), tmpfs="size=256k",
        ),
    ]  # fmt: skip


# conform ---------------------------------------------------------------------------------------------


def _conform_broadcast(mutate: Callable[[Path, Inputs], None], *extra: str, film: bool = False) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        broadcast = _broadcast(work, inputs)
        mutate(broadcast, inputs)
        more = ["--film", str(_film(work, inputs))] if film else []
        return ["conform", str(broadcast), "--out", _out(work), *more, *extra]

    return build


def _conform_film(mutate: Callable[[Path], None]) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        broadcast = _broadcast(work, inputs)
        film = _film(work, inputs)
        mutate(film)
        return ["conform", str(broadcast), "--film", str(film), "--out", _out(work)]

    return build


def _conform_overrides(text: bytes) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        broadcast = _broadcast(work, inputs)
        (work / "fixes.txt").write_bytes(text)
        return ["conform", str(broadcast), "--out", _out(work), "--overrides", str(work / "fixes.txt")]

    return build


def conform_cases() -> list[Case]:
    b = "broadcast.mpg"
    return [
        Case("conform", "broadcast empty", "truncate", _conform_broadcast(lambda p, i: truncate(p, 0)), (b,), ci=True),
        Case("conform", "broadcast cut to 4 KiB", "truncate", _conform_broadcast(lambda p, i: _replace(p, p.read_bytes()[:4096])), (b,)),
        Case("conform", "broadcast cut in half", "truncate", _conform_broadcast(lambda p, i: truncate(p, 0.5)), (b,), accept=True),
        Case("conform", "broadcast with flipped bytes", "flip", _conform_broadcast(lambda p, i: flip(p, 64, skip=4096)), (b,), accept=True),
        Case("conform", "broadcast header flipped", "flip", _conform_broadcast(lambda p, i: flip(p, 16, seed=2)), (b,), accept=True),
        Case("conform", "broadcast with noise appended", "resize", _conform_broadcast(lambda p, i: grow(p)), (b,), accept=True),
        Case("conform", "broadcast is a DPX frame", "swap", _conform_broadcast(lambda p, i: swap(p, i.reel / "film" / "film.000000.dpx")), (b,), ci=True),
        Case("conform", "broadcast is a dangling symlink", "symlink", _conform_broadcast(lambda p, i: dangling(p)), (b,)),
        Case("conform", "broadcast is a symlink loop", "symlink", _conform_broadcast(lambda p, i: loop(p)), (b,)),
        Case("conform", "broadcast is a folder", "swap", _conform_broadcast(lambda p, i: folder_instead(p)), (b,)),
        Case("conform", "a film frame cut in half", "truncate", _conform_film(lambda f: truncate(f / "film.000005.dpx")), ("film.000005.dpx",), ci=True),
        Case("conform", "a film frame missing", "truncate", _conform_film(lambda f: (f / "film.000005.dpx").unlink()), ("film.000005.dpx",), ci=True),
        Case("conform", "a film frame's bytes flipped", "flip", _conform_film(lambda f: flip(f / "film.000003.dpx", 4, skip=2048)), ("film.000003.dpx",), accept=True),
        Case("conform", "a film frame's header flipped", "flip", _conform_film(lambda f: flip(f / "film.000003.dpx", 24, seed=5)), ("film.000003.dpx",), accept=True),
        Case("conform", "a film frame grown", "resize", _conform_film(lambda f: grow(f / "film.000004.dpx")), ("film.000004.dpx",), accept=True),
        Case("conform", "a PNG among the DPX frames", "swap", lambda w, i: _conform_film(lambda f: swap(f / "film.000002.dpx", i.reel / "truth" / "broadcast24p" / "frame.000003.png"))(w, i), ("film.000002.dpx",)),
        Case("conform", "an EXR renamed .dpx among the DPX frames", "swap", lambda w, i: _conform_film(lambda f: swap(f / "film.000004.dpx", i.conform / "frames" / "frame.000004.exr"))(w, i), ("film.000004.dpx",)),
        Case("conform", "a film frame a dangling symlink", "symlink", _conform_film(lambda f: dangling(f / "film.000006.dpx")), ("film.000006.dpx",)),
        Case("conform", "the film folder empty", "truncate", _conform_film(lambda f: [p.unlink() for p in f.iterdir()]), ("film",), ci=True),
        Case("conform", "overrides: binary garbage", "config", _conform_overrides(random.Random(1).randbytes(512)), ("fixes.txt",), ci=True),
        Case("conform", "overrides: a 5000-digit field", "bound", _conform_overrides(b"fields " + b"9" * 5000 + b" film\n"), ("fixes.txt",), ci=True),
        Case("conform", "overrides: past the end", "bound", _conform_overrides(b"fields 99999999-99999999 video\n"), ("fixes.txt", "override")),
        Case("conform", "overrides: a folder", "swap", lambda w, i: (w / "fixes.txt").mkdir() or ["conform", str(_broadcast(w, i)), "--out", _out(w), "--overrides", str(w / "fixes.txt")], ("fixes.txt",)),
        Case(
            "conform", "a full disk", "full disk",
            lambda work, inputs: ["conform", str(_broadcast(work, inputs)), "--out", str(work / "mnt" / "c")],
            ("disk full", "mnt"), tmpfs="size=512k",
        ),
    ]  # fmt: skip


# align -----------------------------------------------------------------------------------------------


def _align(mutate: Callable[[Path, Path], None], *extra: str) -> Build:
    """align on a linked conform folder and film folder, after ``mutate(conform, film)``."""

    def build(work: Path, inputs: Inputs) -> list[str]:
        conform = _conform(work, inputs)
        film = _film(work, inputs)
        mutate(conform, film)
        return ["align", "--conform", str(conform), "--film", str(film), "--out", _out(work), *extra]

    return build


def _cj(edit: Callable[[Any], Any]) -> Callable[[Path, Path], None]:
    return lambda conform, film: edit_json(conform / "conform.json", edit)


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()


def align_cases() -> list[Case]:
    cj = "conform.json"
    return [
        Case("align", "conform.json empty", "truncate", _align(lambda c, f: truncate(c / cj, 0)), (cj,), ci=True),
        Case("align", "conform.json cut in half", "truncate", _align(lambda c, f: truncate(c / cj)), (cj,)),
        Case("align", "conform.json bytes flipped", "flip", _align(lambda c, f: flip(c / cj, 6)), (cj,), accept=True),
        Case("align", "conform.json: frame_count a string", "manifest", _align(_cj(lambda d: _set(d, ("frame_count",), "40"))), ("frame_count",), ci=True),
        Case("align", "conform.json: frame_count 10^12", "manifest", _align(_cj(lambda d: _set(d, ("frame_count",), 10**12))), ("frame_count",)),
        Case("align", "conform.json: shots overlap", "manifest", _align(_cj(lambda d: _set(d, ("shots", 1, "first"), 2))), ("shots",), ci=True),
        Case("align", "conform.json: film_first NaN", "manifest", _align(_cj(lambda d: _set(d, ("shots", 1, "film_first"), float("nan")))), ("film_first",)),
        Case("align", "conform.json: film_first -5", "manifest", _align(_cj(lambda d: _set(d, ("shots", 1, "film_first"), -5))), ("film_first",), accept=True),  # legal: film starting mid-shot
        Case("align", "conform.json: frames_pattern escapes", "manifest", _align(_cj(lambda d: _set(d, ("frames_pattern",), "../../reel/film/film.%06d.dpx"))), ("frames_pattern",), ci=True),
        Case("align", "conform.json: frames_pattern absolute", "manifest", _align(_cj(lambda d: _set(d, ("frames_pattern",), "/etc/frame.%06d.exr"))), ("frames_pattern",)),
        Case("align", "conform.json: shots deleted", "manifest", _align(_cj(lambda d: _set(d, ("shots",), _DELETE))), ("shots",)),
        Case("align", "conform.json: pixel_aspect 0", "manifest", _align(_cj(lambda d: _set(d, ("pixel_aspect",), "0"))), ("pixel_aspect",)),
        Case("align", "conform.json a dangling symlink", "symlink", _align(lambda c, f: dangling(c / cj)), (cj,)),
        Case("align", "a conformed frame cut in half", "truncate", _align(lambda c, f: truncate(c / "frames" / "frame.000006.exr")), ("frame.000006.exr",)),
        Case("align", "a conformed frame missing", "truncate", _align(lambda c, f: (c / "frames" / "frame.000007.exr").unlink()), ("frame.000007.exr",)),
        Case("align", "a conformed frame with NaN", "nan", _align(lambda c, f: nan_exr(c / "frames" / "frame.000008.exr")), ("frame.000008.exr",), accept=True),
        Case("align", "a conformed frame with +Inf", "nan", _align(lambda c, f: nan_exr(c / "frames" / "frame.000009.exr", float("inf"))), ("frame.000009.exr",), accept=True),
        Case("align", "a conformed frame with -Inf", "nan", _align(lambda c, f: nan_exr(c / "frames" / "frame.000036.exr", float("-inf"))), ("frame.000036.exr",), accept=True),
        Case("align", "a conformed frame flipped", "flip", _align(lambda c, f: flip(c / "frames" / "frame.000010.exr", 8, skip=1024)), ("frame.000010.exr",), accept=True),
        Case("align", "a conformed frame a folder", "swap", _align(lambda c, f: folder_instead(c / "frames" / "frame.000011.exr")), ("frame.000011.exr",)),
        Case("align", "a film frame missing", "truncate", _align(lambda c, f: (f / "film.000003.dpx").unlink()), ("film.000003.dpx",), ci=True),
        Case("align", "a film frame cut in half", "truncate", _align(lambda c, f: truncate(f / "film.000004.dpx")), ("film.000004.dpx",), accept=True),
        Case("align", "a film frame swapped for a broadcast frame", "swap", _align(lambda c, f: swap(f / "film.000005.dpx", c / "frames" / "frame.000005.exr")), ("film.000005.dpx",), accept=True),
        Case("align", "--fit-frames a billion", "bound", _align(lambda c, f: None, "--fit-frames", "1000000000"), ("--fit-frames",), ci=True),
        Case("align", "--min-frames a billion", "bound", _align(lambda c, f: None, "--min-frames", "1000000000"), ("--min-frames",)),
        Case("align", "--broadcast-par 1e400", "bound", _align(lambda c, f: None, "--broadcast-par", "1e400"), ("--broadcast-par", "pixel aspect"), ci=True),
        Case("align", "--broadcast-par 1e-300", "bound", _align(lambda c, f: None, "--broadcast-par", "1e-300"), ("--broadcast-par", "pixel aspect")),
    ]  # fmt: skip


# train -----------------------------------------------------------------------------------------------


def _train(mutate: Callable[[Path, Path], None], *extra: str) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        pairs = _pairs(work, inputs)
        mutate(pairs, work)
        argv = ["train", "--pairs", str(pairs), "--out", _out(work), "--steps", "1", "--threads", "1"]
        return [*argv, "--workers", "0", *extra]

    return build


def _pair_file(pairs: Path, kind: str) -> Path:
    """The middle ``kind`` file (input, target or mask) of the first aligned shot of ``pairs``."""
    files = sorted(next(iter(sorted(pairs.glob("shot*/")))).joinpath(kind).iterdir())
    return files[len(files) // 2]


def _toml(text: str) -> Callable[[Path, Path], None]:
    return lambda pairs, work: (work / "c.toml").write_text(text)


def train_cases() -> list[Case]:
    aj = "align.json"
    cfg = ("--config", "{work}/c.toml")
    return [
        Case("train", "align.json empty", "truncate", _train(lambda p, w: truncate(p / aj, 0)), (aj,), ci=True),
        Case("train", "align.json: shots a number", "manifest", _train(lambda p, w: edit_json(p / aj, lambda d: _set(d, ("shots",), 3))), ("shots",)),
        Case("train", "align.json: a pair pattern escapes", "manifest", _train(lambda p, w: edit_json(p / aj, lambda d: _set(d, ("shots", 1, "input"), "../../seq/plate.%04d.exr"))), ("input",)),
        Case("train", "a pair input cut in half", "truncate", _train(lambda p, w: truncate(_pair_file(p, "input"))), ("/input/",), accept=True),
        Case("train", "a pair mask missing", "truncate", _train(lambda p, w: _pair_file(p, "mask").unlink()), ("/mask/",)),
        Case("train", "config: binary", "config", _train(lambda p, w: (w / "c.toml").write_bytes(b"\xff\xfe\x00[[["), *cfg), ("c.toml",), ci=True),
        Case("train", "config: 100000 nested arrays", "config", _train(_toml("a = " + "[" * 100000 + "]" * 100000), *cfg), ("c.toml",), ci=True),
        Case("train", "config: batch_size 2^63-1", "bound", _train(_toml("[data]\nbatch_size = 9223372036854775807\n"), *cfg), ("data.batch_size",), ci=True),
        Case("train", "config: crop_size a billion", "bound", _train(_toml("[data]\ncrop_size = 1000000000\n"), *cfg), ("data.crop_size",)),
        Case("train", "config: weight_decay inf", "bound", _train(_toml("[optim]\nweight_decay = inf\n"), *cfg), ("optim.weight_decay",)),
        Case("train", "config: seed 10^30", "bound", _train(_toml("seed = 1000000000000000000000000000000\n"), *cfg), ("seed",)),
        Case("train", "config: a folder", "swap", _train(lambda p, w: (w / "c.toml").mkdir(), *cfg), ("c.toml",)),
        Case("train", "--nproc a million", "bound", _train(lambda p, w: None, "--nproc", "1000000"), ("--nproc",), ci=True),
        Case("train", "--workers a million", "bound", _train(lambda p, w: None, "--workers", "1000000"), ("workers",)),
        Case("train", "--threads a billion", "bound", _train(lambda p, w: None, "--threads", "1000000000"), ("threads",)),
        Case("train", "--set model.width a billion", "bound", _train(lambda p, w: None, "--set", "model.width=1000000000"), ("model.width", "width")),
    ]  # fmt: skip


# export ----------------------------------------------------------------------------------------------


def _export(mutate: Callable[[Path], None], *extra: str) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        run = link_tree(inputs.run, work / "run")
        mutate(run)
        return ["export", str(run), "--out", str(work / "out" / "m.onnx"), *extra]

    return build


def export_cases() -> list[Case]:
    best = "best.safetensors"
    return [
        Case("export", "checkpoint cut in half", "truncate", _export(lambda r: truncate(r / "checkpoints" / best)), (best,), ci=True),
        Case("export", "checkpoint empty", "truncate", _export(lambda r: truncate(r / "checkpoints" / best, 0)), (best,)),
        Case("export", "checkpoint header flipped", "flip", _export(lambda r: flip(r / "checkpoints" / best, 8)), (best,), ci=True),
        Case("export", "checkpoint weights flipped", "flip", _export(lambda r: flip(r / "checkpoints" / best, 8, skip=8192)), (best,), accept=True),
        Case("export", "checkpoint grown", "resize", _export(lambda r: grow(r / "checkpoints" / best)), (best,), accept=True),
        Case("export", "checkpoint is a folder", "swap", _export(lambda r: folder_instead(r / "checkpoints" / best)), (best,)),
        Case("export", "checkpoint a symlink loop", "symlink", _export(lambda r: loop(r / "checkpoints" / best)), (best,)),
        Case("export", "no checkpoints", "truncate", _export(lambda r: shutil.rmtree(r / "checkpoints")), ("checkpoint",)),
        Case("export", "--opset a million", "bound", _export(lambda r: None, "--opset", "1000000"), ("--opset", "opset"), ci=True),
        Case("export", "--parity-frames a truncated frame", "truncate",
             lambda w, i: _export(lambda r: truncate(r / "f.png") if shutil.copyfile(i.reel / "truth" / "broadcast24p" / "frame.000003.png", r / "f.png") else None,
                                  "--parity-frames", str(w / "run" / "f.png"))(w, i), ("f.png",)),
    ]  # fmt: skip


# render ----------------------------------------------------------------------------------------------


def _render(mutate: Callable[[str, Path], None], *extra: str, out: str | None = None) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        seq = _seq(work, inputs)
        model = _model(work, inputs)
        mutate(seq, model)
        target = out.format(work=work) if out else str(work / "out" / "o.####.exr")
        return ["render", seq, "--model", str(model), "--out", target, *extra]

    return build


def render_cases() -> list[Case]:
    m = "model.onnx"
    return [
        Case("render", "model cut in half", "truncate", _render(lambda s, mo: truncate(mo)), (m,), ci=True),
        Case("render", "model bytes flipped", "flip", _render(lambda s, mo: flip(mo, 6, skip=64)), (m,), accept=True, ci=True),
        Case("render", "model metadata edited (space_to_depth 3)", "model", _render(lambda s, mo: edit_onnx_metadata(mo, "remaster.space_to_depth", "3")), (m,)),
        Case("render", "model metadata edited (receptive_field -1)", "model", _render(lambda s, mo: edit_onnx_metadata(mo, "remaster.receptive_field", "-1")), (m,)),
        Case("render", "model is a folder", "swap", _render(lambda s, mo: folder_instead(mo)), (m,)),
        Case("render", "model is an EXR", "swap", _render(lambda s, mo: swap(mo, _frame(s, 1))), (m,)),
        Case("render", "an input frame cut in half", "truncate", _render(lambda s, mo: truncate(_frame(s, 2))), ("plate.0002.exr", "frame 2 of"), ci=True),
        Case("render", "an input frame with NaN", "nan", _render(lambda s, mo: nan_exr(_frame(s, 1))), ("plate.0001.exr", "frame 1 of"), ci=True),
        Case("render", "an input frame with -Inf", "nan", _render(lambda s, mo: nan_exr(_frame(s, 2), float("-inf"))), ("plate.0002.exr", "frame 2 of")),
        Case("render", "an input frame flipped", "flip", _render(lambda s, mo: flip(_frame(s, 2), 6, skip=400)), ("plate.0002.exr", "frame 2 of"), accept=True),
        Case("render", "an input frame swapped for a DPX", "swap", lambda w, i: _render(lambda s, mo: swap(_frame(s, 1), i.reel / "film" / "film.000000.dpx"))(w, i), ("plate.0001.exr", "frame 1 of"), accept=True),
        Case("render", "an input frame a dangling symlink", "symlink", _render(lambda s, mo: dangling(_frame(s, 2))), ("plate.0002.exr", "frame 2 of")),
        Case("render", "--out through a symlink to the input", "overlap",
             _render(lambda s, mo: Path(s).parent.parent.joinpath("lnk").symlink_to(Path(s).parent), out="{work}/lnk/plate.####.exr"),
             ("is the input file",), ci=True),
        Case("render", "--frames 1-10^9", "bound", _render(lambda s, mo: None, "--frames", "1-999999999"), ("frame", "999999999"), ci=True),
        Case("render", "--format 10^8 wide", "bound", _render(lambda s, mo: None, "--format", "100000000x48"), ("--format", "100000000x48")),
        Case("render", "--pixel-aspect 1e400", "bound", _render(lambda s, mo: None, "--pixel-aspect", "1e400"), ("--pixel-aspect", "pixel aspect"), ci=True),
        Case("render", "--resources GPU=nan", "bound", _render(lambda s, mo: None, "--resources", "GPU=nan"), ("--resources", "GPU=nan")),
        Case("render", "--chunk 0", "bound", _render(lambda s, mo: None, "--chunk", "0"), ("--chunk", "chunk")),
        Case("render", "--retries -1", "bound", _render(lambda s, mo: None, "--retries", "-1"), ("--retries", "retries")),
        Case("render", "--connect-timeout nan", "bound", _render(lambda s, mo: None, "--connect-timeout", "nan"), ("--connect-timeout", "timeout")),
        Case("render", "--tile 10^9", "bound", _render(lambda s, mo: None, "--tile", "1000000000"), ("tile",)),
        Case("render", "--transform: align.json cut in half", "truncate",
             lambda w, i: _render(lambda s, mo: None, "--transform", str(truncate(_pairs(w, i) / "align.json") or w / "pairs" / "align.json"))(w, i), ("align.json",)),
        Case("render", "--transform: align.json sx NaN", "manifest",
             lambda w, i: _render(lambda s, mo: None, "--transform", str(edit_json(_pairs(w, i) / "align.json", lambda d: _set(d, ("shots", 1, "transform", "sx"), float("nan"))) or w / "pairs" / "align.json"))(w, i),
             ("sx",)),
        Case(
            "render", "a full disk", "full disk",
            _render(lambda s, mo: None, out="{work}/mnt/o.####.exr"), ("disk full", "mnt"), tmpfs="size=8k",
        ),
    ]  # fmt: skip


# evaluate --------------------------------------------------------------------------------------------


def _evaluate(mutate: Callable[[str, str], None], *extra: str) -> Build:
    def build(work: Path, inputs: Inputs) -> list[str]:
        look = Path(inputs.root / "look")  # 160x128: larger than one 64 px scoring tile
        render = str(link_tree(look, work / "seq") / "plate.####.exr")
        ref = str(link_tree(look, work / "ref") / "plate.####.exr")
        mutate(render, ref)
        return ["evaluate", render, "--reference", ref, *extra]

    return build


def evaluate_cases() -> list[Case]:
    return [
        Case("evaluate", "a reference frame cut in half", "truncate", _evaluate(lambda r, f: truncate(_frame(f, 2))), ("plate.0002.exr",), ci=True),
        Case("evaluate", "a render frame with NaN", "nan", _evaluate(lambda r, f: nan_exr(_frame(r, 1))), ("plate.0001.exr",), accept=True),
        Case("evaluate", "a render frame a folder", "swap", _evaluate(lambda r, f: folder_instead(_frame(r, 1))), ("plate.0001.exr",)),
        Case("evaluate", "--frames 1-10^9", "bound", _evaluate(lambda r, f: None, "--frames", "1-999999999"), ("frame",)),
        Case("evaluate", "--out is an input frame", "overlap", lambda w, i: [*_evaluate(lambda r, f: None)(w, i), "--out", str(w / "seq" / "plate.0001.exr")], ("plate.0001.exr",), ci=True),
        Case("evaluate", "--out below a file", "overlap", lambda w, i: [*_evaluate(lambda r, f: None)(w, i), "--out", str(w / "seq" / "plate.0001.exr" / "look.json")], ("plate.0001.exr",)),
    ]  # fmt: skip


# demo ------------------------------------------------------------------------------------------------


def demo_cases() -> list[Case]:
    return [
        Case("demo", "--out below a file", "overlap", lambda w, i: [(w / "f").write_text("x"), "demo", "--out", str(w / "f" / "d")][1:], ("f",), ci=True),
        Case("demo", "--seed -1", "bound", lambda w, i: ["demo", "--out", _out(w), "--seed", "-1"], ("seed",)),
        Case("demo", "--steps a billion", "bound", lambda w, i: ["demo", "--out", _out(w), "--steps", "1000000000"], ("steps",)),
    ]  # fmt: skip


# worker ----------------------------------------------------------------------------------------------


def _worker(*requests: Callable[[Path, Inputs], dict[str, Any] | bytes]) -> Build:
    """The worker fed ``requests`` (built per case; bytes are sent as they are), then ``shutdown``."""

    def build(work: Path, inputs: Inputs) -> list[str]:
        lines = []
        for k, make in enumerate(requests):
            request = make(work, inputs)
            lines.append(request if isinstance(request, bytes) else json.dumps({"id": k, **request}).encode())
        lines.append(b'{"id": "end", "op": "shutdown"}')
        (work / "stdin.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        return ["worker"]

    return build


def _render_request(
    mutate: Callable[[str, Path], None], **params: Any
) -> Callable[[Path, Inputs], dict[str, Any]]:
    def make(work: Path, inputs: Inputs) -> dict[str, Any]:
        seq = _seq(work, inputs)
        model = _model(work, inputs)
        mutate(seq, model)
        return {
            "op": "render", "source": seq, "frames": [1, 2], "output": str(work / "out" / "o.####.exr"),
            "params": {"model": str(model), **params},
        }  # fmt: skip

    return make


def worker_cases() -> list[Case]:
    return [
        Case("worker", "a 5000-digit id", "protocol", _worker(lambda w, i: b'{"id": ' + b"9" * 5000 + b', "op": "ping"}'), ("JSON", "id"), ci=True),
        Case("worker", "100000 nested lists", "protocol", _worker(lambda w, i: b"[" * 100000), ("JSON", "nested"), ci=True),
        Case("worker", "a 4 MiB line", "protocol", _worker(lambda w, i: b'{"op": "ping", "pad": "' + b"x" * (4 << 20) + b'"}'), ("bytes", "limit")),
        Case("worker", "not UTF-8", "protocol", _worker(lambda w, i: b"\xff\xfe{}"), ("UTF-8",)),
        Case("worker", "render: a truncated source frame", "truncate", _worker(_render_request(lambda s, m: truncate(_frame(s, 2)))), ("plate.0002.exr",), ci=True),
        Case("worker", "render: a NaN source frame", "nan", _worker(_render_request(lambda s, m: nan_exr(_frame(s, 1)))), ("plate.0001.exr", "frame 1 of")),
        Case("worker", "render: a truncated model", "model", _worker(_render_request(lambda s, m: truncate(m))), ("model.onnx",), ci=True),
        Case("worker", "render: align_offset 10^30", "bound", _worker(_render_request(lambda s, m: None, align_offset=10**30)), ("align_offset",)),
        Case("worker", "render: output_size [1e9, 1]", "bound", _worker(_render_request(lambda s, m: None, output_size=[10**9, 1])), ("output_size",)),
        Case("worker", "render: tile a string", "protocol", _worker(_render_request(lambda s, m: None, tile="big")), ("tile",)),
        Case("worker", "render: output through a symlink to the source", "overlap",
             _worker(lambda w, i: {**_render_request(lambda s, m: (w / "lnk").symlink_to(Path(s).parent))(w, i), "output": str(w / "lnk" / "plate.####.exr")}),
             ("plate.0001.exr", "is the input", "source")),
        Case("worker", "align: film_offset 10^30", "bound", _worker(lambda w, i: {"op": "align", "broadcast": _seq(w, i), "film": str(w / "seq" / "plate.####.exr"), "frames": [1], "film_offset": 10**30}), ("film_offset",)),
        Case("worker", "align: pixel_aspect a string", "protocol", _worker(lambda w, i: {"op": "align", "broadcast": _seq(w, i), "film": str(w / "seq" / "plate.####.exr"), "frames": [1], "pixel_aspect": "wide"}), ("pixel_aspect",)),
    ]  # fmt: skip


def all_cases() -> list[Case]:
    """Every case of the sweep, verb by verb."""
    return [
        *synth_cases(),
        *conform_cases(),
        *align_cases(),
        *train_cases(),
        *export_cases(),
        *render_cases(),
        *evaluate_cases(),
        *demo_cases(),
        *worker_cases(),
    ]


# ------------------------------------------------------------------------------------------ judging


def snapshot(folders: Iterable[Path], skip: Iterable[Path] = ()) -> dict[str, tuple[int, int, int]]:
    """{path: (size, mtime_ns, mode)} of every file, link and folder below ``folders`` (``skip`` left out)."""
    skipped = {os.fspath(p) for p in skip}
    found: dict[str, tuple[int, int, int]] = {}
    for top in folders:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
            for name in [*files, *dirs]:
                path = os.path.join(folder, name)
                if path in skipped:
                    continue
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                size = 0 if os.path.isdir(path) and not os.path.islink(path) else st.st_size
                found[path] = (size, st.st_mtime_ns if not os.path.isdir(path) else 0, st.st_mode)
    return found


def hashes(folders: Iterable[Path]) -> dict[str, str]:
    """{path: sha256} of every regular file below ``folders``."""
    out: dict[str, str] = {}
    for top in folders:
        for folder, _dirs, files in os.walk(top):
            for name in files:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    out[os.fspath(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Outcome:
    """What a case did: its verdict, exit code, the error it printed (first lines) and how long it took."""

    case: str
    verb: str
    kind: str
    verdict: str
    code: int | None
    message: str
    seconds: float
    detail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case, "verb": self.verb, "kind": self.kind, "verdict": self.verdict,
            "code": self.code, "message": self.message, "seconds": round(self.seconds, 2),
            "detail": self.detail,
        }  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["OMP_NUM_THREADS"] = "1"
    env.setdefault("COLUMNS", "100")
    return env


def _mount(folder: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=False, capture_output=True
    )
    return done.returncode == 0


def _error_lines(stderr: str, stdout: str = "") -> list[str]:
    """The error lines of a run (``remaster VERB: error: ...``); else, for a partial result (exit 4),
    its warnings (stderr's log and stdout's ``warning:`` lines)."""
    errors = [line for line in stderr.splitlines() if "error:" in line or "ERROR" in line]
    if errors:
        return errors
    lines = [*stderr.splitlines(), *stdout.splitlines()]
    return [line for line in lines if "WARNING" in line or "warning:" in line]


def _worker_verdict(case: Case, stdout: str, code: int | None, stderr: str) -> tuple[str, str, list[str]]:
    responses = []
    for line in stdout.splitlines():
        try:
            responses.append(json.loads(line))
        except ValueError:
            return "unclear", f"a response line is not JSON: {line[:200]!r}", []
    asked = [r for r in responses if r.get("op") != "shutdown" and r.get("id") != "end"]
    if code != 0 or not responses or responses[-1].get("op") != "shutdown":
        return "traceback", f"the worker stopped (exit {code}) before shutdown: {stderr[-400:]}", []
    kinds = [r.get("kind") for r in asked if not r.get("ok")]
    if "internal" in kinds or "Traceback" in stderr:
        return (
            "traceback",
            next((r["error"] for r in asked if r.get("kind") == "internal"), stderr[-400:]),
            [],
        )
    errors = [str(r.get("error")) for r in asked if not r.get("ok")]
    message = " | ".join(errors)[:600]
    if len(errors) < len(asked):
        return ("accepted" if case.accept else "unclear"), message or "accepted", []
    if all(any(n in e for n in case.names) for e in errors):
        return "clear error", message, []
    return "unclear", message, []


def run_case(case: Case, inputs: Inputs, work: Path, *, python: str = sys.executable) -> Outcome:
    """Build ``case`` in ``work`` (a new folder), run it and judge it (see the module docstring)."""
    work.mkdir(parents=True)
    cwd = work / "cwd"
    cwd.mkdir()
    if case.tmpfs is not None and not _mount(work / "mnt", case.tmpfs):
        return Outcome(case.id, case.verb, case.kind, "skipped", None, "tmpfs needs root and mount", 0.0)
    try:
        argv = [a.replace("{work}", str(work)) for a in case.build(work, inputs)]
        out = work / "out"
        skip = [out]
        shared = [inputs.root]
        before = snapshot([work, *shared], skip=[*skip, work / "mnt"])
        inputs_before = hashes([p for p in work.iterdir() if p not in (out, cwd, work / "mnt")])
        stdin = work / "stdin.jsonl"
        started = time.monotonic()
        command = [python, "-m", "remaster_core", "-q", *argv]
        try:
            with open(stdin if stdin.is_file() else os.devnull, "rb") as feed:
                done = subprocess.run(
                    command,
                    cwd=cwd,
                    env=_env(),
                    stdin=feed,
                    capture_output=True,
                    timeout=case.timeout,
                    check=False,
                )
            code: int | None = done.returncode
            stdout = done.stdout.decode("utf-8", "replace")
            stderr = done.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            code, stdout, stderr = None, "", ""
        seconds = time.monotonic() - started
        after = snapshot([work, *shared], skip=[*skip, work / "mnt"])
        inputs_after = hashes([p for p in work.iterdir() if p not in (out, cwd, work / "mnt")])
        mounted = [work / "mnt"] if case.tmpfs else []
        temporaries = [
            p
            for top in [work, *mounted]
            for p in Path(top).rglob("*")
            if ".tmp-" in p.name or p.name.endswith(".tmp")
        ]
        lost = sorted(p for p, h in inputs_before.items() if inputs_after.get(p) != h)
        changed = sorted(
            p for p in set(before) | set(after) if before.get(p) != after.get(p) and p not in inputs_before
        )
        if stdin.is_file():
            changed = [p for p in changed if p != os.fspath(stdin)]
        errors = _error_lines(stderr, stdout)
        message = " / ".join(errors)[:600] if errors else stderr.strip()[-600:]
        if code is None:
            verdict, detail = "hang", [f"still running after {case.timeout:.0f} s"]
        elif lost:
            verdict, detail = "data loss", lost[:10]
        elif changed:
            verdict, detail = "wrote outside", changed[:10]
        elif temporaries:
            verdict, detail = "partial file", [os.fspath(p) for p in temporaries[:10]]
        elif case.verb == "worker":
            verdict, message, detail = _worker_verdict(case, stdout, code, stderr)
        elif code == 1 or "Traceback" in stderr:
            verdict, detail = "traceback", [stderr[-1500:]]
        elif code == 0:
            verdict, detail = ("accepted" if case.accept else "unclear"), ["exit code 0 for a bad input"]
        elif errors and any(n in message for n in case.names):
            verdict, detail = "clear error", []
        else:
            verdict, detail = "unclear", [f"expected the message to name one of {list(case.names)}"]
        return Outcome(case.id, case.verb, case.kind, verdict, code, message, seconds, detail)
    finally:
        if case.tmpfs is not None:
            subprocess.run(["umount", str(work / "mnt")], check=False, capture_output=True)


def table(outcomes: list[Outcome]) -> str:
    """The verdicts per verb (rows) and verdict (columns), with the mutation classes each verb met."""
    verbs = list(dict.fromkeys(o.verb for o in outcomes))
    shown = [v for v in (*VERDICTS, "skipped") if any(o.verdict == v for o in outcomes) or v in VERDICTS]
    head = f"{'verb':<9} {'cases':>5}  " + "  ".join(f"{v:>13}" for v in shown) + "  classes"
    lines = [head, "-" * len(head)]
    for verb in [*verbs, "all"]:
        mine = [o for o in outcomes if verb in ("all", o.verb)]
        counts = "  ".join(f"{sum(o.verdict == v for o in mine):>13}" for v in shown)
        classes = ", ".join(sorted({o.kind for o in mine})) if verb != "all" else ""
        lines.append(f"{verb:<9} {len(mine):>5}  {counts}  {classes}")
    return "\n".join(lines)
