"""The grain profile travels from the run folder (grain.json) into the model's metadata and back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from remaster_core.errors import InputError, ModelError
from remaster_core.grain import estimate_profile, write_profile
from remaster_core.grain.profile import GRAIN_FILE, grain_deficit, profile_from_json
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import open_model
from tests.grain.test_profile import film
from tests.runtime import StandIn, make_model, metadata


def test_export_takes_the_run_folders_profile(tmp_path: Path) -> None:
    from export.metadata import CheckpointSource, grain_metadata
    from training.output_grain import OUTPUT_GRAIN_KEY

    ckpt = tmp_path / "run" / "checkpoints" / "best.safetensors"
    ckpt.parent.mkdir(parents=True)
    source = CheckpointSource(ckpt, tmp_path / "run", "best checkpoint")
    assert grain_metadata(source, {}) == {}  # a run trained before grain profiles: no grain
    assert grain_metadata(CheckpointSource(ckpt, None, "loose file"), {}) == {}
    profile = estimate_profile(film(1))
    write_profile(tmp_path / "run" / GRAIN_FILE, profile)
    meta = grain_metadata(source, {})  # a checkpoint that records no output grain: the film's whole grain
    assert profile_from_json(meta[contract.KEY_GRAIN_PROFILE], "m") == profile
    # the checkpoint's output carries some of it: only the rest is embedded
    carried = replace(profile, spectrum=tuple(tuple(0.5 * v for v in ch) for ch in profile.spectrum))
    meta = grain_metadata(source, {OUTPUT_GRAIN_KEY: carried.to_dict()})
    embedded = profile_from_json(meta[contract.KEY_GRAIN_PROFILE], "m")
    assert embedded == grain_deficit(profile, carried)
    # with both profiles beside it, for a render whose deflicker takes some of the output's grain
    assert profile_from_json(meta[contract.KEY_FILM_GRAIN], "m") == profile
    assert profile_from_json(meta[contract.KEY_OUTPUT_GRAIN], "m") == carried
    assert all(abs(e * e - 0.5 * p * p) < 1e-9 for e, p in zip(embedded.rms, profile.rms, strict=True))
    # measured on other tiles: the film's whole grain (and a warning); a broken record: named
    other = replace(carried, tile=32, spectrum=((0.0, 1e-5) * 12,) * 3)
    meta = grain_metadata(source, {OUTPUT_GRAIN_KEY: other.to_dict()})
    assert profile_from_json(meta[contract.KEY_GRAIN_PROFILE], "m") == profile
    with pytest.raises(InputError, match=OUTPUT_GRAIN_KEY):
        grain_metadata(source, {OUTPUT_GRAIN_KEY: {"tile": 3}})
    (tmp_path / "run" / GRAIN_FILE).write_text('{"tile": 3}', encoding="utf-8")
    with pytest.raises(InputError, match=GRAIN_FILE):
        grain_metadata(source, {})


def test_the_runtime_reads_the_profile_and_refuses_a_broken_one(tmp_path: Path) -> None:
    net = StandIn()
    profile = estimate_profile(film(1))
    from remaster_core.grain.profile import profile_to_json

    good = metadata(net.s, net.receptive_field, **{contract.KEY_GRAIN_PROFILE: profile_to_json(profile)})
    path, _ = make_model(tmp_path, "good.onnx", net=net, props=good)
    assert open_model(path)[0].grain == profile
    plain, _ = make_model(tmp_path, "plain.onnx", net=net)
    assert open_model(plain)[0].grain is None
    bad = metadata(net.s, net.receptive_field, **{contract.KEY_GRAIN_PROFILE: '{"spectrum": 1}'})
    broken, _ = make_model(tmp_path, "broken.onnx", net=net, props=bad)
    with pytest.raises(ModelError, match="remaster.grain_profile.*re-export"):
        open_model(broken)


def test_the_film_and_output_profiles_come_both_or_not_at_all(tmp_path: Path) -> None:
    from remaster_core.grain.profile import profile_to_json

    net = StandIn()
    profile = estimate_profile(film(1))
    half = replace(profile, spectrum=tuple(tuple(0.5 * v for v in ch) for ch in profile.spectrum))
    both = {
        contract.KEY_FILM_GRAIN: profile_to_json(profile),
        contract.KEY_OUTPUT_GRAIN: profile_to_json(half),
    }
    path, _ = make_model(tmp_path, "both.onnx", net=net, props=metadata(net.s, net.receptive_field, **both))
    info = open_model(path)[0]
    assert info.film_grain == profile and info.output_grain == half
    one = {contract.KEY_FILM_GRAIN: profile_to_json(profile)}
    lone, _ = make_model(tmp_path, "one.onnx", net=net, props=metadata(net.s, net.receptive_field, **one))
    with pytest.raises(ModelError, match="without the other.*re-export"):
        open_model(lone)
    # an edited pair the render could not compare (every frame's grain step would fail): refused at open
    from remaster_core.grain.profile import zero_profile
    from remaster_core.look.regions import LookParams

    other = zero_profile("other", replace(LookParams(), tile=32))
    other = replace(other, spectrum=((1e-6,) * len(other.spectrum[0]),) * 3, reason=None)
    mixed = {
        contract.KEY_FILM_GRAIN: profile_to_json(profile),
        contract.KEY_OUTPUT_GRAIN: profile_to_json(other),
    }
    edited, _ = make_model(
        tmp_path, "mixed.onnx", net=net, props=metadata(net.s, net.receptive_field, **mixed)
    )
    with pytest.raises(ModelError, match="32 px.*re-export"):
        open_model(edited)
