"""Checkpoints: exact round trip (weights, discriminator, Adam state: resuming gives the same next step),
atomic writes, and every kind of bad file refused with its name."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from remaster_core.errors import ModelError
from training.checkpoint import (
    METADATA_KEY,
    CheckpointError,
    load_checkpoint,
    load_generator,
    save_checkpoint,
)
from training.discriminator import DiscriminatorConfig, build_discriminator
from training.losses import fft_l1_loss, lsgan_discriminator_loss, lsgan_generator_loss
from training.model import PRESETS, build_generator

D_CFG = DiscriminatorConfig(base_channels=8)


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)


def _gan_step(g, d, opt_g, opt_d, seed: int) -> None:  # type: ignore[no-untyped-def]
    x, y = _batch(seed)
    opt_d.zero_grad()
    lsgan_discriminator_loss(d(g(x).detach()), d(y)).backward()
    opt_d.step()
    opt_g.zero_grad()
    out = g(x)
    (fft_l1_loss(out, y) + 3.0 * lsgan_generator_loss(d(out))).backward()
    opt_g.step()


def _trained(seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    g, d = build_generator(PRESETS["lite"]), build_discriminator(D_CFG)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4)
    for step in range(2):
        _gan_step(g, d, opt_g, opt_d, step)
    return g, d, opt_g, opt_d


def _assert_states_equal(a: object, b: object, where: str = "") -> None:
    """Nested state dicts (tensors, dicts, lists, tuples, scalars) equal bit for bit, dtypes included."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_states_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_states_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_round_trip_is_exact_and_resume_continues_identically(tmp_path: pathlib.Path) -> None:
    g, d, opt_g, opt_d = _trained()
    path = tmp_path / "ckpt" / "step-000002.safetensors"
    rng = torch.get_rng_state()
    save_checkpoint(
        path,
        generator=g,
        discriminator=d,
        step=2,
        stage="gan",
        optimizers={"generator": opt_g, "discriminator": opt_d},
        extra={"lr_schedule": [1e-3, 5e-4], "data": "pairs.json"},
        extra_tensors={"torch_rng": rng},
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    ckpt = load_checkpoint(path, expect_config=PRESETS["lite"])
    assert (ckpt.step, ckpt.stage, ckpt.generator_config, ckpt.discriminator_config) == (
        2,
        "gan",
        PRESETS["lite"],
        D_CFG,
    )
    assert ckpt.extra == {"lr_schedule": [1e-3, 5e-4], "data": "pairs.json"}
    assert torch.equal(ckpt.extra_tensors["torch_rng"], rng)

    assert ckpt.discriminator_config is not None and ckpt.discriminator is not None
    g2, d2 = build_generator(ckpt.generator_config), build_discriminator(ckpt.discriminator_config)
    g2.load_state_dict(ckpt.generator)
    d2.load_state_dict(ckpt.discriminator)
    opt_g2 = torch.optim.Adam(g2.parameters(), lr=0.5)  # hyper-parameters come from the checkpoint
    opt_d2 = torch.optim.Adam(d2.parameters(), lr=0.5)
    opt_g2.load_state_dict(ckpt.optimizers["generator"])
    opt_d2.load_state_dict(ckpt.optimizers["discriminator"])
    _assert_states_equal(g.state_dict(), g2.state_dict())
    _assert_states_equal(opt_g.state_dict(), opt_g2.state_dict())
    _assert_states_equal(opt_d.state_dict(), opt_d2.state_dict())
    assert opt_g2.param_groups[0]["betas"] == (0.9, 0.99)

    # The next step from the original and from the restored copy is bit-identical.
    _gan_step(g, d, opt_g, opt_d, 7)
    _gan_step(g2, d2, opt_g2, opt_d2, 7)
    _assert_states_equal(g.state_dict(), g2.state_dict())
    _assert_states_equal(d.state_dict(), d2.state_dict())


def test_stage_one_checkpoint_and_load_generator(tmp_path: pathlib.Path) -> None:
    g, _d, opt_g, _opt_d = _trained(1)
    path = tmp_path / "g.safetensors"
    save_checkpoint(path, generator=g, step=2, stage="fft", optimizers={"generator": opt_g})
    save_checkpoint(path, generator=g, step=3, stage="fft")  # overwriting is fine (atomic replace)
    ckpt = load_checkpoint(path)
    assert ckpt.discriminator is None and ckpt.discriminator_config is None and ckpt.optimizers == {}
    assert ckpt.step == 3
    restored = load_generator(path)
    assert not restored.training
    x = torch.rand(1, 3, 21, 19)
    with torch.no_grad():
        assert torch.equal(restored(x), g(x))


def test_checkpoint_error_is_a_model_error() -> None:
    assert issubclass(CheckpointError, ModelError)


def test_missing_file_is_named(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CheckpointError, match="absent.safetensors"):
        load_checkpoint(tmp_path / "absent.safetensors")


class _Payload:
    """A pickle that would run code when loaded: it creates a marker file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("zip_format", [True, False], ids=["torch.save", "legacy-pickle"])
def test_a_pickle_is_refused_and_never_unpickled(tmp_path: pathlib.Path, zip_format: bool) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "model.pt"
    torch.save({"generator": _Payload(marker)}, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CheckpointError, match="model.pt.*pickle.*never unpickles"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_foreign_safetensors_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "someone-elses.safetensors"
    save_file(build_generator(PRESETS["lite"]).state_dict(), str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="someone-elses.safetensors.*foreign"):
        load_checkpoint(path)


@pytest.fixture()
def saved(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "good.safetensors"
    save_checkpoint(path, generator=build_generator(PRESETS["lite"]), step=0, stage="fft")
    return path


def test_truncated_and_garbage_files_are_refused(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    data = saved.read_bytes()
    for name, content in [
        ("truncated.safetensors", data[: len(data) // 2]),
        ("header-only.safetensors", data[:200]),
        ("tiny.safetensors", b"abc"),
        ("text.safetensors", b"this is not a checkpoint, just text " * 10),
        ("empty.safetensors", b""),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(path)


def test_a_flipped_byte_is_caught(saved: pathlib.Path) -> None:
    data = bytearray(saved.read_bytes())
    data[-5] ^= 0x10  # inside the last tensor's data
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="good.safetensors.*checksum"):
        load_checkpoint(saved)


def _rewrite_metadata(path: pathlib.Path, edit) -> None:  # type: ignore[no-untyped-def]
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()[METADATA_KEY])
        names = handle.keys()
        tensors = {k: handle.get_tensor(k) for k in names}
    edit(meta)
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(meta)})


def test_config_mismatch_is_refused_with_the_fields(saved: pathlib.Path) -> None:
    other = dataclasses.replace(PRESETS["lite"], num_dcus=4)
    with pytest.raises(CheckpointError, match="num_dcus: expected 4, checkpoint has 3"):
        load_checkpoint(saved, expect_config=other)


def test_tensors_that_do_not_fit_the_stored_config_are_refused(saved: pathlib.Path) -> None:
    _rewrite_metadata(saved, lambda meta: meta["generator_config"].update(width=48))
    with pytest.raises(CheckpointError, match="good.safetensors.*do not fit|good.safetensors.*needs"):
        load_checkpoint(saved)


def test_newer_format_and_damaged_metadata_are_refused(saved: pathlib.Path) -> None:
    _rewrite_metadata(saved, lambda meta: meta.update(version=99))
    with pytest.raises(CheckpointError, match="version 99.*update remaster"):
        load_checkpoint(saved)
    _rewrite_metadata(saved, lambda meta: meta.update(version=1, generator_config={"width": 3}))
    with pytest.raises(CheckpointError, match="damaged remaster metadata"):
        load_checkpoint(saved)


def test_unstorable_values_are_refused_before_writing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.safetensors"
    g = build_generator(PRESETS["lite"])
    with pytest.raises(CheckpointError, match="not plain JSON"):
        save_checkpoint(path, generator=g, step=1, stage="fft", extra={"loss": float("nan")})
    with pytest.raises(CheckpointError, match="step"):
        save_checkpoint(path, generator=g, step=-1, stage="fft")
    assert not path.exists() and list(tmp_path.iterdir()) == []
