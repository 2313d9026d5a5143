"""Training data: the aligned pairs of ``PAIRS/`` (written by ``remaster align``) as random crops.

``scan_pairs(PAIRS)`` reads ``PAIRS/align.json``: only shots with ``status == "aligned"`` are used;
each has printf patterns (relative to PAIRS) for its ``input`` (the broadcast resampled into the film
raster), ``target`` (the film frame) and ``mask`` (1 = valid) frames. A shot's frame numbers come from
its ``frames`` list when align.json has one, else from the input files on disk; frames listed under
``masked_frames`` (align found them unusable, their mask is all zero) are left out. Every file is
checked to exist, and the first frame of each shot is checked for matching sizes; a later frame of
another size is refused (naming its files) when it is first read.

**Held-out validation.** Whole shots: ``data.val_shots`` if given, else the last aligned shot when
there are two or more. Frames of one shot are strongly correlated (same set-up, same grade, neighbouring
frames nearly equal), so frames of a training shot would overstate the score; holding out a shot
measures what the model is for, enhancing shots it has not seen. With a single aligned shot there is no
such choice: its last ``val_fraction`` of frames are held out (a contiguous block, so that at least the
held-out frames are not interleaved with training frames), and a warning says the score is optimistic.

**Sampling, deterministic and resumable.** What a step trains on is a pure function of
``(seed, step)``: global sample ``k = step * batch_size + slot`` takes frame ``perm_e[k mod n]`` with
``e = k div n`` and ``perm_e`` a permutation of the n training frames drawn from ``(seed, e)`` (every
frame once per epoch); its crop position and flip are drawn from ``(seed, step, slot)``. A resumed run
therefore needs only its step to continue with exactly the samples it would have seen, whatever the
number of loader processes, and under DDP rank r of N takes the slots ``[r * B/N, (r + 1) * B/N)`` of
the same global batch: the N processes see exactly the samples one process would.

**Crops.** Uniform positions; a crop whose mask is less than ``min_valid`` valid is redrawn, up to 8
times (then the best one drawn is used: the losses weight by the mask anyway).

**Augmentation: horizontal flips only** (``data.hflip``), applied to input, target and mask alike.
Film grain and the broadcast's noise are statistically left-right symmetric, so a mirrored pair is
another plausible pair with the same grain. Left out on purpose: resizing and rotations (resampling
low-passes the grain and changes its spectrum, which stage 2 is meant to reproduce; a 90 degree turn
makes the broadcast's horizontal line and field structure vertical, which real input never has);
vertical flips (they swap the field order of any interlace residue and put lit-from-above content upside
down); colour jitter, added noise or blur (input and target would have to change together, which
changes the very mapping to learn: the grade and the noise are what G must learn).

**Reading.** Files are read with ``remaster_core.io.images.read_image`` (any format: 16-bit PNG, EXR,
DPX, TIFF; float32 0..1 for integer files, as stored for float ones); the mask's first channel is used.
Decoding is slow next to a training step (a 960x720 16-bit PNG takes ~100 ms, an EXR ~40 ms, a DPX
~18 ms on one core, and a lite step of batch 8 ~150 ms), so each pair is decoded once into a float32
``.npy`` file in the run's decode cache (``FrameStore``, ``RUN/cache`` by default) and crops are then
sliced from memory maps of those files: a crop costs a copy of its own pixels, the page cache keeps
each frame once for all loader processes and DDP ranks, and a resumed run reuses the files. The cache
takes 28 bytes a pixel of disk (2.4 GB for 124 frames of 960x720): delete ``RUN/cache`` when the run is
done, or point ``data.cache_dir`` at a shared folder (entries are keyed by the source files' paths,
sizes and times, so sharing is safe). ``bench/train.py`` measures that the loader never holds the
step up.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from remaster_core.errors import InputError
from remaster_core.io.atomic import atomic_path
from remaster_core.io.images import image_size, read_image
from remaster_core.io.sequence import parse_pattern
from remaster_core.manifests.align import AlignManifest, AlignShot, read_align

log = logging.getLogger("remaster.train.data")

ALIGN_JSON = "align.json"
_CROP_TRIES = 8


@dataclass(frozen=True)
class PairFrame:
    """One aligned pair: the files of frame ``frame`` of shot ``shot`` (align.json's ``index``)."""

    shot: int
    frame: int
    input: Path
    target: Path
    mask: Path

    def describe(self) -> str:
        return f"shot {self.shot} frame {self.frame} ({self.input}, {self.target}, {self.mask})"


@dataclass(frozen=True)
class PairsIndex:
    """What ``scan_pairs`` found.

    Attributes:
        root: the PAIRS folder.
        train, val: the training and held-out frames, in shot then frame order.
        train_shots, val_shots: their shot indices.
        size: (W, H) of the first training frame.
        whole_shots_held_out: False when one shot was split (the validation score is optimistic).
    """

    root: Path
    train: tuple[PairFrame, ...]
    val: tuple[PairFrame, ...]
    train_shots: tuple[int, ...]
    val_shots: tuple[int, ...]
    size: tuple[int, int]
    whole_shots_held_out: bool


def _load_align(root: Path) -> AlignManifest:
    """PAIRS/align.json through the one validated reader (``remaster_core.manifests``)."""
    if not root.is_dir():
        raise InputError(f"pairs folder {root} does not exist; make it with `remaster align`")
    if not (root / ALIGN_JSON).is_file():
        raise InputError(
            f"{root} holds no {ALIGN_JSON}: it is not a pairs folder (empty, or not written by "
            "`remaster align`); pass the folder `remaster align --out` wrote"
        )
    return read_align(root / ALIGN_JSON)


def _shot_frames(root: Path, entry: AlignShot, where: str) -> list[PairFrame]:
    """The usable frames of one aligned shot entry, every file checked to exist."""
    shot = entry.index
    names = {"input": entry.input, "target": entry.target, "mask": entry.mask}
    if any(name is None for name in names.values()):
        raise InputError(f"{where}: aligned shot {shot} needs 'input', 'target' and 'mask' patterns")
    patterns = {key: parse_pattern(str(root / str(name))) for key, name in names.items()}
    listed = [int(f["frame"]) for f in entry.frames or () if "frame" in f]
    numbers = listed or patterns["input"].frames_on_disk()
    masked = {m.frame for m in entry.masked_frames or ()}
    frames = []
    for number in sorted(set(numbers) - masked):
        paths = {key: pattern.path(number) for key, pattern in patterns.items()}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise InputError(
                f"{where}: shot {shot} frame {number} is incomplete, missing {', '.join(missing)}; the pairs "
                "folder is damaged: run `remaster align` again"
            )
        frames.append(PairFrame(shot, number, paths["input"], paths["target"], paths["mask"]))
    if not frames:
        raise InputError(
            f"{where}: aligned shot {shot} has no usable frames on disk (pattern {patterns['input'].pattern}); "
            "run `remaster align` again"
        )
    return frames


def check_frame_sizes(frame: PairFrame) -> tuple[int, int]:
    """(W, H) shared by a pair's input, target and mask, from the file headers.

    Raises:
        InputError: sizes differ (naming the three files), or the mask is not one-channel-like.
    """
    sizes = {key: image_size(getattr(frame, key)) for key in ("input", "target", "mask")}
    wh = {key: (s[0], s[1]) for key, s in sizes.items()}
    if len(set(wh.values())) != 1:
        detail = ", ".join(f"{key} {w}x{h}" for key, (w, h) in wh.items())
        raise InputError(
            f"inconsistent pair: {frame.describe()} has {detail}; input, target and mask must share the film "
            "raster: run `remaster align` again"
        )
    return wh["input"]


def scan_pairs(
    root: str | Path, *, val_shots: Sequence[int] = (), val_fraction: float = 0.1, min_size: int = 1
) -> PairsIndex:
    """Index the aligned pairs of ``root`` and split off the held-out frames (see the module docstring).

    Args:
        root: the PAIRS folder.
        val_shots: shot indices to hold out; empty for automatic.
        val_fraction: share of frames held out when there is a single aligned shot.
        min_size: frames must be at least this many pixels wide and high (the crop size).
    Raises:
        InputError: no align.json, no aligned shot, a missing file, a shot of mismatched sizes or smaller
            than ``min_size``, an unknown or non-aligned ``val_shots`` entry, or nothing left to train on.
    """
    root = Path(root)
    entries = _load_align(root).shots
    where = str(root / ALIGN_JSON)
    aligned = [e for e in entries if e.status == "aligned"]
    if not aligned:
        statuses = ", ".join(f"shot {e.index}: {e.status} ({e.reason})" for e in entries)
        raise InputError(
            f"{where}: no aligned shot to train on ({len(entries)} shot(s){': ' + statuses if statuses else ''}); "
            "align more film (see the align report) before training"
        )
    by_shot: dict[int, list[PairFrame]] = {}
    for entry in aligned:
        frames = _shot_frames(root, entry, where)
        shot = frames[0].shot
        if shot in by_shot:
            raise InputError(f"{where}: shot index {shot} appears twice; run `remaster align` again")
        w, h = check_frame_sizes(frames[0])
        if w < min_size or h < min_size:
            raise InputError(
                f"{where}: shot {shot}'s frames are {w}x{h}, smaller than the {min_size} px training crop; "
                "lower --crop-size"
            )
        by_shot[shot] = frames
    shots = list(by_shot)
    if val_shots:
        unknown = sorted(set(val_shots) - set(shots))
        if unknown:
            raise InputError(
                f"validation shot(s) {unknown} are not aligned shots of {where}; aligned shots: {shots}"
            )
        held = [s for s in shots if s in set(val_shots)]
        if len(held) == len(shots):
            raise InputError(
                f"every aligned shot ({shots}) is held out for validation: leave some to train on"
            )
    elif len(shots) >= 2:
        held = [shots[-1]]
    else:
        held = []
    if held:
        train = tuple(f for s in shots if s not in held for f in by_shot[s])
        val = tuple(f for s in held for f in by_shot[s])
        whole = True
    else:
        only = by_shot[shots[0]]
        if len(only) < 2:
            raise InputError(
                f"{where}: one aligned shot with one usable frame: nothing to hold out for validation; align "
                "more film"
            )
        n_val = max(1, math.ceil(val_fraction * len(only)))
        train, val, whole = tuple(only[:-n_val]), tuple(only[-n_val:]), False
        log.warning(
            "\n%s\nGENERALISATION IS UNMEASURED: only one aligned shot (%d). Its last %d of %d frames are held "
            "out for validation, but frames of one shot are alike: the validation score is optimistic and says nothing about "
            "shots the model has not seen (the missing reels). Align at least two shots with film (then a "
            "whole shot is held out) before trusting this model on other shots.\n%s",
            "!" * 100, shots[0], n_val, len(only), "!" * 100,
        )  # fmt: skip
    return PairsIndex(
        root=root,
        train=train,
        val=val,
        train_shots=tuple(s for s in shots if s not in held),
        val_shots=tuple(held) if held else (shots[0],),
        size=check_frame_sizes(train[0]),
        whole_shots_held_out=whole,
    )


def read_pair(frame: PairFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one pair: input and target float32 RGB (H, W, 3), mask float32 (H, W) (1 = valid).
    Target pixels holding a NaN or Inf come back zeroed and invalid (mask 0).

    Raises:
        MediaError: an unreadable file (named); InputError: sizes that differ (all three named).
    """
    x, _ = read_image(frame.input)
    y, _ = read_image(frame.target)
    m, _ = read_image(frame.mask, channels=None)
    m = m[..., 0]
    if x.shape[:2] != y.shape[:2] or x.shape[:2] != m.shape:
        raise InputError(
            f"inconsistent pair: {frame.describe()} has sizes input {x.shape[1]}x{x.shape[0]}, target "
            f"{y.shape[1]}x{y.shape[0]}, mask {m.shape[1]}x{m.shape[0]}; run `remaster align` again"
        )
    # a NaN/Inf film pixel (a damaged EXR, a scan with dropouts) is made invalid and zeroed: one such
    # value would otherwise turn every loss, gradient and score it touches into NaN. (A non-finite
    # *input* is left as it is: the step that sees it is skipped and counted, see training.step.)
    bad = ~np.isfinite(y).all(axis=-1)
    if bad.any():
        y = np.where(bad[..., None], np.float32(0.0), y)
        m = np.where(bad, np.float32(0.0), m)
    return (
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(y, dtype=np.float32),
        np.ascontiguousarray(m, dtype=np.float32),
    )


class FrameStore:
    """Decoded pairs, cached on disk as ``.npy`` files read back as memory maps.

    A pair is decoded once (``read_pair``) into one float32 (H, W, 7) array, RGB input, RGB target, mask,
    written atomically to ``cache_dir / <key>.npy``; afterwards crops are sliced from a memory map of
    that file, so a crop costs a copy of its own pixels and the operating system's page cache holds the
    frames once for every loader process and every DDP rank on the machine. The key is a hash of the
    three source files' paths, sizes and modification times: a changed source file is decoded again.
    ``cache_dir=None`` decodes every sample anew (no disk used).
    """

    _OPEN_MAPS = 64

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self.decoded = 0

    @staticmethod
    def key(frame: PairFrame) -> str:
        parts = []
        for path in (frame.input, frame.target, frame.mask):
            stat = path.stat()
            parts.append(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]

    def _decode(self, frame: PairFrame) -> np.ndarray:
        self.decoded += 1
        x, y, m = read_pair(frame)
        return np.concatenate([x, y, m[..., None]], axis=2)

    def get(self, index: int, frame: PairFrame) -> np.ndarray:
        """float32 (H, W, 7): input RGB, target RGB, mask; a read-only memory map when cached."""
        if self.cache_dir is None:
            return self._decode(frame)
        array = self._maps.get(index)
        if array is not None:
            self._maps.move_to_end(index)
            return array
        path = self.cache_dir / f"{self.key(frame)}.npy"
        if not path.is_file():
            with atomic_path(path) as tmp:
                np.save(tmp, self._decode(frame))
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            path.unlink(missing_ok=True)  # a damaged cache file: decode again next time
            raise InputError(
                f"decode cache file {path} is damaged ({exc}); it was removed, run again"
            ) from None
        self._maps[index] = array
        while len(self._maps) > self._OPEN_MAPS:
            self._maps.popitem(last=False)
        return array


def sample_seed(seed: int, step: int, slot: int) -> np.random.Generator:
    """The generator of sample ``slot`` of step ``step``'s global batch (crop position, flip)."""
    return np.random.default_rng([seed, 1, step, slot])


def choose_crop(mask: np.ndarray, crop: int, rng: np.random.Generator, min_valid: float) -> tuple[int, int]:
    """Top-left (y, x) of a ``crop`` x ``crop`` window of ``mask`` (H, W) with at least ``min_valid`` of it
    valid, trying up to 8 uniform positions (the best one when none qualifies)."""
    h, w = mask.shape
    best, best_valid = (0, 0), -1.0
    for _ in range(_CROP_TRIES):
        y = int(rng.integers(0, h - crop + 1))
        x = int(rng.integers(0, w - crop + 1))
        valid = float(mask[y : y + crop, x : x + crop].mean())
        if valid >= min_valid:
            return y, x
        if valid > best_valid:
            best, best_valid = (y, x), valid
    return best


class CropDataset(Dataset[dict[str, torch.Tensor]]):
    """Random crops of the training pairs. Indexed by a sample spec ``(frame, step, slot)`` from
    ``StepSampler``, so each sample is a pure function of the seed, the step and its slot.

    Items: ``input`` and ``target`` float32 (3, crop, crop) RGB, ``mask`` float32 (1, crop, crop) 0..1.
    """

    def __init__(
        self,
        frames: Sequence[PairFrame],
        *,
        crop: int,
        seed: int,
        hflip: bool = True,
        min_valid: float = 0.5,
        cache_dir: Path | None = None,
    ) -> None:
        if not frames:
            raise InputError("no training frames")
        self.frames = tuple(frames)
        self.crop = crop
        self.seed = seed
        self.hflip = hflip
        self.min_valid = min_valid
        self.store = FrameStore(cache_dir)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, spec: tuple[int, int, int]) -> dict[str, torch.Tensor]:  # type: ignore[override]
        index, step, slot = spec
        frame = self.frames[index]
        pixels = self.store.get(index, frame)
        h, w = pixels.shape[:2]
        c = self.crop
        if h < c or w < c:
            raise InputError(
                f"{frame.describe()} is {w}x{h}, smaller than the {c} px crop; lower --crop-size"
            )
        rng = sample_seed(self.seed, step, slot)
        top, left = choose_crop(pixels[..., 6], c, rng, self.min_valid)
        flip = self.hflip and bool(rng.integers(0, 2))
        crop = pixels[top : top + c, left : left + c]
        if flip:
            crop = crop[:, ::-1]
        chw = torch.from_numpy(np.array(crop.transpose(2, 0, 1), dtype=np.float32))  # a copy, (7, c, c)
        return {"input": chw[0:3], "target": chw[3:6], "mask": chw[6:7]}


class StepSampler:
    """Yields, for each step in ``[start, stop)``, this rank's part of the global batch as sample specs
    ``(frame index, step, slot)`` (see the module docstring). A batch sampler for ``DataLoader``."""

    def __init__(
        self,
        n_frames: int,
        *,
        batch_size: int,
        seed: int,
        start: int,
        stop: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if batch_size % world:
            raise InputError(
                f"the global batch size {batch_size} does not split evenly over {world} processes; pick a "
                f"multiple of {world}"
            )
        self.n_frames = n_frames
        self.batch_size = batch_size
        self.seed = seed
        self.start, self.stop = start, stop
        per_rank = batch_size // world
        self.slots = range(rank * per_rank, (rank + 1) * per_rank)
        self._perm_epoch = -1
        self._perm = np.arange(0)

    def frame_of(self, sample: int) -> int:
        """Training-frame index of global sample number ``sample`` (epoch-wise permutations)."""
        epoch, position = divmod(sample, self.n_frames)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, 0, epoch]).permutation(self.n_frames)
            self._perm_epoch = epoch
        return int(self._perm[position])

    def batch(self, step: int) -> list[tuple[int, int, int]]:
        return [(self.frame_of(step * self.batch_size + slot), step, slot) for slot in self.slots]

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        for step in range(self.start, self.stop):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # loader processes crop and copy; their threads would fight the step's


def make_loader(
    dataset: CropDataset, sampler: StepSampler, *, workers: int, pin_memory: bool = False
) -> DataLoader[dict[str, torch.Tensor]]:
    """A ``DataLoader`` over ``sampler``'s batches, in order, ``workers`` processes prefetching."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=False,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if workers else None,
        # not fork: a process that has loaded a runtime with its own thread pools (OpenVINO's TBB,
        # onnxruntime) crashes when forked; a forkserver starts clean workers
        multiprocessing_context=multiprocessing.get_context("forkserver") if workers else None,
        prefetch_factor=4 if workers else None,
        # its own generator: iterating the loader then draws nothing from torch's global RNG, whose
        # state a checkpoint restores exactly
        generator=torch.Generator().manual_seed(dataset.seed),
    )


@dataclass(frozen=True)
class ValidationSample:
    """One held-out crop: ``input``/``target`` float32 (1, 3, h, w), ``mask`` (1, 1, h, w); ``name``
    says which shot and frame, ``shot`` is the shot's index."""

    name: str
    input: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    shot: int = -1


def load_validation(frames: Sequence[PairFrame], *, count: int, crop: int) -> list[ValidationSample]:
    """Up to ``count`` held-out frames spread evenly over ``frames``, each centre-cropped to
    ``crop`` x ``crop`` pixels (0, or more than the frame: the whole frame). Always the same crops, so
    scores are comparable across steps and runs."""
    if not frames:
        return []
    picks = sorted({int(np.rint(i)) for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))})
    samples = []
    for i in picks:
        frame = frames[i]
        x, y, m = read_pair(frame)
        h, w = m.shape
        ch, cw = (h, w) if crop <= 0 else (min(crop, h), min(crop, w))
        top, left = (h - ch) // 2, (w - cw) // 2
        window = (slice(top, top + ch), slice(left, left + cw))

        def nchw(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]

        samples.append(
            ValidationSample(
                name=f"shot{frame.shot:03d}_frame{frame.frame:06d}",
                input=nchw(x[window]),
                target=nchw(y[window]),
                mask=torch.from_numpy(np.ascontiguousarray(m[window]))[None, None],
                shot=frame.shot,
            )
        )
    return samples
