"""Which checkpoint is exported, the model's name/version/preset/config hash, and the contract metadata."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from export.metadata import (
    KEY_CHECKPOINT_SHA256,
    KEY_GENERATOR_CONFIG,
    config_hash,
    identify,
    model_metadata,
    preset_name,
    resolve_checkpoint,
)
from remaster_core.errors import InputError
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import file_sha256
from tests.export import SMALL, make_run, one_thread, trained_like  # noqa: F401 (one_thread: a fixture)
from training.checkpoint import load_checkpoint
from training.model import PRESETS, receptive_field

pytestmark = pytest.mark.usefixtures("one_thread")


def test_run_folder_gives_its_best_checkpoint(tmp_path: Path) -> None:
    run = make_run(tmp_path / "show-a", trained_like())
    for given in (run, run / "checkpoints"):
        chosen = resolve_checkpoint(given)
        assert chosen.path == run / "checkpoints" / "best.safetensors"
        assert chosen.run_dir == run and not chosen.fallback


def test_run_without_best_falls_back_to_the_highest_step_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = make_run(tmp_path / "run", trained_like(), best=False, steps=(900, 10000, 2000))
    with caplog.at_level(logging.WARNING, logger="remaster.export"):
        chosen = resolve_checkpoint(run)
    assert chosen.path.name == "step_010000.safetensors"  # by step number, not by name order
    assert chosen.fallback and "no best" in chosen.how
    assert "step_010000.safetensors" in caplog.text and "best.safetensors" in caplog.text


def test_checkpoint_file_inside_and_outside_a_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", trained_like())
    inside = resolve_checkpoint(run / "checkpoints" / "step_000100.safetensors")
    assert inside.run_dir == run and inside.path.name == "step_000100.safetensors"
    loose = tmp_path / "g.safetensors"
    loose.write_bytes((run / "checkpoints" / "best.safetensors").read_bytes())
    assert resolve_checkpoint(loose).run_dir is None


def test_missing_source_and_empty_run_are_refused_with_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(InputError, match="best.safetensors") as exc:
        resolve_checkpoint(tmp_path / "empty")
    assert "step_<N>.safetensors" in str(exc.value)


def test_preset_name() -> None:
    assert preset_name(PRESETS["lite"]) == "lite"
    assert preset_name(PRESETS["paper"]) == "paper"
    assert preset_name(SMALL) == "custom"
    lite = PRESETS["lite"]
    assert preset_name(dataclasses.replace(lite, colour_path=not lite.colour_path)) == "custom"


def test_config_hash_follows_the_configs_and_nothing_else() -> None:
    base = config_hash(SMALL, {"lr": 1e-3, "batch": 8})
    assert base == config_hash(SMALL, {"batch": 8, "lr": 1e-3})  # key order does not matter
    assert len(base) == 64 and int(base, 16) >= 0
    assert base != config_hash(dataclasses.replace(SMALL, width=16), {"lr": 1e-3, "batch": 8})
    assert base != config_hash(SMALL, {"lr": 2e-3, "batch": 8})
    assert base != config_hash(SMALL, None)


def test_identity_defaults_come_from_run_and_checkpoint(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "show-a_run3", trained_like(), steps=(40,), stage="gan", extra={"train_config": {"lr": 1}}
    )
    chosen = resolve_checkpoint(run)
    checkpoint = load_checkpoint(chosen.path)
    identity = identify(checkpoint, chosen)
    assert (identity.name, identity.version, identity.preset) == ("show-a_run3", "gan-step40", "custom")
    assert identity.config_hash == config_hash(SMALL, {"lr": 1})
    assert identity.checkpoint_sha256 == file_sha256(chosen.path)
    named = identify(checkpoint, chosen, name="Show A", version="v3")
    assert (named.name, named.version) == ("Show A", "v3")
    with pytest.raises(InputError, match="--name"):
        identify(checkpoint, chosen, name="two\nlines")


def test_metadata_is_the_runtime_contract(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", trained_like())
    chosen = resolve_checkpoint(run)
    identity = identify(load_checkpoint(chosen.path), chosen)
    props = model_metadata(identity, SMALL, precision="fp16", pads_internally=True, exported_with="test")
    assert all(isinstance(v, str) for v in props.values())
    assert set(contract.REQUIRED_KEYS) <= set(props)
    # The runtime's own validator reads it back as exported.
    convention, precision = contract.convention_from_metadata(chosen.path, "0" * 64, props)
    assert precision == "fp16"
    assert convention.space_to_depth == SMALL.space_to_depth
    assert convention.receptive_field == receptive_field(SMALL)
    assert convention.pads_internally and convention.value_range == (0.0, 1.0)
    assert props[contract.KEY_COLOR] == contract.COLOR_CONVENTION
    assert props[KEY_CHECKPOINT_SHA256] == identity.checkpoint_sha256
    assert '"space_to_depth":2' in props[KEY_GENERATOR_CONFIG]
