"""The pairs dataset: align.json read as align writes it, held-out shots, deterministic crops and batches,
and every kind of broken pairs folder refused with the file named."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.errors import InputError, MediaError
from remaster_core.io.images import read_image, write_image
from tests.training.conftest import make_pairs
from training.data import (
    CropDataset,
    FrameStore,
    StepSampler,
    choose_crop,
    load_validation,
    make_loader,
    scan_pairs,
)


def _copy(pairs_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pairs_dir, tmp_path / "PAIRS"))


def test_scan_holds_out_the_last_aligned_shot_and_skips_rejected(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir)
    assert index.train_shots == (0,) and index.val_shots == (2,)  # shot 1 is "rejected"
    assert [f.frame for f in index.train] == [10, 11, 12, 13]
    assert all(f.shot == 2 for f in index.val) and len(index.val) == 4
    assert index.size == (96, 72) and index.whole_shots_held_out
    assert index.train[0].input == pairs_dir / "shot000/input/frame.000010.png"


def test_explicit_validation_shots(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir, val_shots=[0])
    assert index.train_shots == (2,) and index.val_shots == (0,)
    with pytest.raises(InputError, match=r"validation shot\(s\) \[1\] are not aligned shots"):
        scan_pairs(pairs_dir, val_shots=[1])
    with pytest.raises(InputError, match="every aligned shot"):
        scan_pairs(pairs_dir, val_shots=[0, 2])


def test_single_shot_holds_out_its_last_frames_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_pairs(tmp_path / "P", shots=1, frames=10, size=(40, 40))
    with caplog.at_level(logging.WARNING):
        index = scan_pairs(root, val_fraction=0.2)
    assert [f.frame for f in index.val] == [18, 19] and len(index.train) == 8
    assert not index.whole_shots_held_out and "optimistic" in caplog.text


def test_frames_found_on_disk_without_a_frames_list_and_masked_frames_left_out(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "P", frames=3, size=(40, 40), list_frames=False)
    doc = json.loads((root / "align.json").read_text())
    doc["shots"][0]["masked_frames"] = [{"frame": 11, "reason": "flash frame"}]
    (root / "align.json").write_text(json.dumps(doc))
    index = scan_pairs(root)
    assert [f.frame for f in index.train] == [10, 12]
    assert [f.frame for f in index.val] == [210, 211, 212]


def test_broken_pairs_folders_are_refused_with_the_file_named(pairs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        scan_pairs(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no align.json"):
        scan_pairs(tmp_path / "empty")
    root = _copy(pairs_dir, tmp_path)
    (root / "align.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read it as JSON"):
        scan_pairs(root)
    doc = {
        "broadcast": {"width": 720, "height": 480},
        "shots": [{"index": 0, "first": 0, "last": 9, "status": "rejected", "reason": "no matches"}],
    }
    (root / "align.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"no aligned shot to train on .*shot 0: rejected \(no matches\)"):
        scan_pairs(root)


def test_missing_and_mismatched_frames_are_named(pairs_dir: Path, tmp_path: Path) -> None:
    root = _copy(pairs_dir, tmp_path)
    missing = root / "shot002/target/frame.000212.png"
    missing.unlink()
    with pytest.raises(
        InputError, match=r"shot 2 frame 212 is incomplete, missing .*shot002/target/frame.000212.png"
    ):
        scan_pairs(root)
    root = _copy(pairs_dir, tmp_path / "c")
    (root / "shot000/mask/frame.000011.png").unlink()  # a missing mask is never skipped silently
    with pytest.raises(
        InputError, match=r"shot 0 frame 11 is incomplete, missing .*shot000/mask/frame.000011.png"
    ):
        scan_pairs(root)
    root = _copy(pairs_dir, tmp_path / "b")
    write_image(root / "shot000/mask/frame.000010.png", np.ones((50, 60), np.uint8) * 255, bit_depth="8")
    with pytest.raises(InputError, match=r"inconsistent pair: shot 0 frame 10 .*mask 60x50"):
        scan_pairs(root)
    with pytest.raises(InputError, match="smaller than the 128 px training crop"):
        scan_pairs(pairs_dir, min_size=128)


def test_a_later_mismatched_or_corrupt_frame_is_named_when_read(pairs_dir: Path, tmp_path: Path) -> None:
    root = _copy(pairs_dir, tmp_path)
    write_image(root / "shot000/target/frame.000012.png", np.zeros((50, 60, 3), np.float32), bit_depth="16")
    (root / "shot000/input/frame.000013.png").write_bytes(b"\x89PNG truncated")
    index = scan_pairs(root)
    data = CropDataset(index.train, crop=32, seed=0)
    with pytest.raises(InputError, match=r"inconsistent pair: shot 0 frame 12 .*target 60x50"):
        data[(2, 0, 0)]
    with pytest.raises(MediaError, match="frame.000013.png"):
        data[(3, 0, 0)]


def test_crops_are_the_files_pixels_and_deterministic(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir)
    data = CropDataset(index.train, crop=32, seed=5, hflip=False, min_valid=0.0)
    item = data[(1, 7, 3)]
    assert {k: tuple(v.shape) for k, v in item.items()} == {
        "input": (3, 32, 32),
        "target": (3, 32, 32),
        "mask": (1, 32, 32),
    }
    assert all(v.dtype == torch.float32 for v in item.values())
    again = CropDataset(index.train, crop=32, seed=5, hflip=False, min_valid=0.0)[(1, 7, 3)]
    assert all(torch.equal(item[k], again[k]) for k in item)
    # the crop is a window of the decoded target file, at some position
    target, _ = read_image(index.train[1].target)
    crop = item["target"].numpy().transpose(1, 2, 0)
    hits = [
        (y, x) for y in range(target.shape[0] - 31) for x in range(target.shape[1] - 31)
        if np.array_equal(target[y : y + 32, x : x + 32], crop)
    ]  # fmt: skip
    assert len(hits) == 1
    other = data[(1, 7, 4)]
    assert not torch.equal(other["target"], item["target"])  # another slot, another crop


def test_flips_apply_to_input_target_and_mask_together(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir)
    plain = CropDataset(index.train, crop=32, seed=0, hflip=False, min_valid=0.0)
    flipped = CropDataset(index.train, crop=32, seed=0, hflip=True, min_valid=0.0)
    seen_flip = False
    for slot in range(12):
        a, b = plain[(0, 0, slot)], flipped[(0, 0, slot)]
        if torch.equal(a["target"], b["target"]):
            assert torch.equal(a["input"], b["input"]) and torch.equal(a["mask"], b["mask"])
        else:
            seen_flip = True
            for key in ("input", "target", "mask"):
                assert torch.equal(a[key].flip(-1), b[key])
    assert seen_flip


def test_crops_prefer_valid_areas() -> None:
    mask = np.zeros((64, 64), np.float32)
    mask[:, 40:] = 1.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, x = choose_crop(mask, 16, rng, min_valid=0.5)
        assert mask[y : y + 16, x : x + 16].mean() >= 0.5


def test_step_sampler_epochs_ranks_and_resume() -> None:
    sampler = StepSampler(5, batch_size=4, seed=3, start=0, stop=5)
    batches = list(sampler)
    frames = [f for batch in batches for f, _, _ in batch]
    for epoch in range(4):  # 20 samples of 5 frames: each epoch sees every frame once
        assert sorted(frames[5 * epoch : 5 * epoch + 5]) == [0, 1, 2, 3, 4]
    assert batches[2] == [(f, 2, slot) for f, slot in zip(frames[8:12], range(4), strict=True)]
    resumed = list(StepSampler(5, batch_size=4, seed=3, start=3, stop=5))
    assert resumed == batches[3:]
    ranks = [list(StepSampler(5, batch_size=4, seed=3, start=0, stop=5, rank=r, world=2)) for r in range(2)]
    assert [a + b for a, b in zip(*ranks, strict=True)] == batches
    assert frames != [f for b in StepSampler(5, batch_size=4, seed=4, start=0, stop=5) for f, _, _ in b]
    with pytest.raises(InputError, match="does not split evenly over 3 processes"):
        StepSampler(5, batch_size=4, seed=3, start=0, stop=5, world=3)


def test_loader_workers_give_the_same_batches(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir)

    def batches(workers: int) -> list[dict[str, torch.Tensor]]:
        data = CropDataset(index.train, crop=32, seed=1)
        return list(
            make_loader(data, StepSampler(len(data), batch_size=4, seed=1, start=0, stop=3), workers=workers)
        )

    alone, pooled = batches(0), batches(1)
    assert len(alone) == 3 and alone[0]["input"].shape == (4, 3, 32, 32)
    for a, b in zip(alone, pooled, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_decode_cache_decodes_once_and_follows_the_sources(pairs_dir: Path, tmp_path: Path) -> None:
    root = _copy(pairs_dir, tmp_path)
    index = scan_pairs(root)
    store = FrameStore(tmp_path / "cache")
    first = store.get(0, index.train[0])
    assert first.shape == (72, 96, 7) and first.dtype == np.float32
    x, _ = read_image(index.train[0].input)
    assert np.array_equal(first[..., :3], x)
    again = FrameStore(tmp_path / "cache")  # another process: reads the file, decodes nothing
    assert np.array_equal(again.get(0, index.train[0]), first) and again.decoded == 0
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    write_image(index.train[0].target, np.zeros((72, 96, 3), np.float32), bit_depth="16")  # source changed
    changed = FrameStore(tmp_path / "cache").get(0, index.train[0])
    assert changed[..., 3:6].max() == 0 and len(list((tmp_path / "cache").glob("*.npy"))) == 2
    cached = CropDataset(index.train, crop=32, seed=2, cache_dir=tmp_path / "c2")
    uncached = CropDataset(index.train, crop=32, seed=2)
    for spec in [(1, 0, 0), (3, 5, 2), (1, 9, 1)]:
        a, b = cached[spec], uncached[spec]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert cached.store.decoded == 2 and uncached.store.decoded == 3


def test_validation_crops_are_centred_and_fixed(pairs_dir: Path) -> None:
    index = scan_pairs(pairs_dir)
    samples = load_validation(index.val, count=2, crop=48)
    assert [s.name for s in samples] == ["shot002_frame000210", "shot002_frame000213"]
    target, _ = read_image(index.val[0].target)
    top, left = (72 - 48) // 2, (96 - 48) // 2
    assert np.array_equal(
        samples[0].target[0].numpy().transpose(1, 2, 0), target[top : top + 48, left : left + 48]
    )
    whole = load_validation(index.val, count=1, crop=0)
    assert whole[0].input.shape == (1, 3, 72, 96) and whole[0].mask.shape == (1, 1, 72, 96)
