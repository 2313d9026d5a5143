"""Training config: presets' recipes, TOML files validated into typed objects (unknown keys and wrong
types named with their file), flags over the file, the saved TOML reading back equal, the config hash."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from remaster_core.cli.train import add_parser
from training.cli import config_from_args, overrides_from_args
from training.config import (
    ConfigError,
    apply_overrides,
    check_runnable,
    config_from_dict,
    config_hash,
    config_to_dict,
    config_to_toml,
    default_config,
    load_config,
    resolve_config,
    resume_differences,
)
from training.model import PRESETS


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.toml"
    path.write_text(text)
    return path


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(["train", "--pairs", "P", "--out", "R", *argv])


def test_presets_carry_their_recipe() -> None:
    lite, paper = default_config("lite"), default_config("paper")
    assert lite.model.generator_config() == PRESETS["lite"]
    assert paper.model.generator_config() == PRESETS["paper"]
    assert (lite.data.crop_size, lite.data.batch_size, lite.optim.lr) == (128, 8, 2e-3)
    assert (paper.data.crop_size, paper.data.batch_size, paper.optim.lr) == (256, 16, 1e-4)
    assert lite.stages.gan_start_step == paper.stages.gan_start_step == 500_000  # the paper's switch
    assert (lite.stages.adversarial_weight, lite.stages.perceptual_weight) == (3.0, 0.5)
    assert paper.gan_reached and not lite.gan_reached


def test_file_values_are_typed_and_flags_win(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "steps = 300\n[data]\ncrop_size = 64\nval_shots = [3, 4]\n[optim]\nlr = 1\nbetas = [0.5, 0.9]\n"
        'schedule = "step"\n[model]\nwidth = 16\n',
    )
    cfg = load_config(path)
    assert cfg.steps == 300 and cfg.data.crop_size == 64 and cfg.data.val_shots == (3, 4)
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float) and cfg.optim.betas == (0.5, 0.9)
    assert cfg.model.generator_config().width == 16 and cfg.data.batch_size == 8  # lite's default kept
    cfg = resolve_config(path, {"data.crop_size": 96, "model.preset": "paper"})
    assert cfg.data.crop_size == 96  # flag > file
    assert cfg.steps == 300  # file > preset recipe
    assert cfg.data.batch_size == 16  # the flag's preset recipe under the file
    assert cfg.model.generator_config().width == 16 and cfg.model.generator_config().num_dcus == 13


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\ncrop = 3\n", r"unknown key 'data.crop'; \[data\] takes: crop_size"),
        ("[dataset]\ncrop_size = 3\n", r"unknown key 'dataset'"),
        ("[data]\nbatch_size = 2.5\n", r"data.batch_size must be an integer, got 2.5"),
        ("[data]\nhflip = 1\n", r"data.hflip must be true or false"),
        ("[optim]\nbetas = [0.9]\n", r"optim.betas must be a list of 2 numbers"),
        ("[optim]\nlr = -1e-3\n", r"optim.lr: must be > 0"),
        ('[optim]\nschedule = "linear"\n', r"optim.schedule: must be one of"),
        ("[model]\nwidth = 0\n", r"model: GeneratorConfig.width must be a positive int"),
        ("[data]\ncrop_size = 4\n", r"data.crop_size: must be >= 8"),
        ("steps = [1\n", r"is not valid TOML"),
    ],
)
def test_bad_files_name_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_bad_flags_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"the command line: unknown key 'data.batch'; did you mean 'data.batch_size'"
    ):
        resolve_config(None, {"data.batch": 4})
    with pytest.raises(ConfigError, match="the command line: data.batch_size: must be >= 1"):
        resolve_config(None, {"data.batch_size": 0})
    with pytest.raises(ConfigError, match="config file .* does not exist"):
        load_config(tmp_path / "missing.toml")


def test_saved_toml_reads_back_equal(tmp_path: Path) -> None:
    cfg = resolve_config(
        None,
        {"model.preset": "paper", "model.num_dcus": 2, "data.val_shots": [1], "stages.vgg_weights": "v.pth"},
    )
    path = _write(tmp_path, config_to_toml(cfg))
    assert load_config(path) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_config_hash_follows_what_changes_the_weights() -> None:
    cfg = default_config("lite")
    same = apply_overrides(
        cfg, {"data.workers": 0, "runtime.threads": 3, "checkpoint.every": 7, "validation.every": 9}
    )
    assert config_hash(same) == config_hash(cfg)
    assert config_hash(apply_overrides(cfg, {"optim.lr": 1e-3})) != config_hash(cfg)
    assert config_hash(apply_overrides(cfg, {"seed": 1})) != config_hash(cfg)
    assert resume_differences(cfg, apply_overrides(cfg, {"steps": 5000, "data.workers": 0})) == []
    assert resume_differences(cfg, apply_overrides(cfg, {"optim.lr": 1e-3})) == ["optim.lr: 0.002 -> 0.001"]


def test_gan_stage_needs_crops_of_16_and_existing_vgg_weights_if_named(tmp_path: Path) -> None:
    check_runnable(default_config("lite"))  # never reaches stage 2
    check_runnable(default_config("paper"))  # stage 2 without VGG19 weights: D's feature matching
    with pytest.raises(ConfigError, match="multiple of 16"):
        check_runnable(resolve_config(None, {"steps": 10, "stages.gan_start_step": 5, "data.crop_size": 40}))
    with pytest.raises(ConfigError, match="does not exist"):
        check_runnable(
            resolve_config(
                None, {"steps": 10, "stages.gan_start_step": 5, "stages.vgg_weights": str(tmp_path / "v")}
            )
        )


def test_command_line_flags_map_to_keys(tmp_path: Path) -> None:
    args = _args(
        "--preset", "paper", "--steps", "9", "--batch-size", "4", "--lr", "0.01", "--loss", "l1",
        "--val-shots", "2,5", "--set", "optim.betas=[0.8, 0.9]", "--set", "optim.schedule=step",
        "--set", "data.batch_size=2", "--vgg-weights", str(tmp_path / "vgg.pth"),
    )  # fmt: skip
    overrides = overrides_from_args(args)
    assert overrides["data.batch_size"] == 4  # the dedicated flag beats --set
    assert overrides["optim.schedule"] == "step" and overrides["optim.betas"] == [0.8, 0.9]
    cfg = resolve_config(None, overrides)
    assert (cfg.model.preset, cfg.steps, cfg.optim.lr, cfg.stages.loss, cfg.data.val_shots) == (
        "paper",
        9,
        0.01,
        "l1",
        (2, 5),
    )
    with pytest.raises(ConfigError, match="--val-shots 'a,b'"):
        overrides_from_args(_args("--val-shots", "a,b"))
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        overrides_from_args(_args("--set", "optim.lr"))


def test_resume_reads_the_runs_own_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config cannot be combined with --resume"):
        config_from_args(_args("--resume", "--config", "x.toml"))
    run = tmp_path / "RUN"
    run.mkdir()
    args = _args("--resume", "--steps", "50")
    args.out = run
    with pytest.raises(Exception, match="holds no config.toml: there is no run to resume"):
        config_from_args(args)
    (run / "config.toml").write_text(config_to_toml(resolve_config(None, {"optim.lr": 5e-4, "steps": 20})))
    cfg = config_from_args(args)
    assert cfg.optim.lr == 5e-4 and cfg.steps == 50


def test_each_layer_is_checked_on_its_own_and_errors_name_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "[data]\nbatch_size = 0\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(path, {"data.batch_size": 4})  # the file is wrong even where a flag overrides it
    assert (info.value.layer, info.value.keys) == (f"config file {path}", ("data.batch_size",))
    assert info.value.problem == "data.batch_size: must be >= 1, got 0"
    with pytest.raises(ConfigError) as info:
        resolve_config(None, {"optim.schedule": "linear"}, overrides_source="--set")
    assert (info.value.layer, info.value.keys) == ("--set", ("optim.schedule",))
    with pytest.raises(
        ConfigError, match=r"^the command line: model.preset: must be one of \['lite', 'paper'\]"
    ):
        resolve_config(None, {"model.preset": "big"})
    with pytest.raises(ConfigError, match=r"^the command line: model.preset must be a string"):
        resolve_config(None, {"model.preset": 3})


def test_a_check_across_keys_names_the_last_layer_that_set_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "[model]\nspace_to_depth = 16\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(path, {"data.crop_size": 16})
    assert info.value.layer == "the command line" and "data.crop_size" in info.value.keys
    assert str(info.value).startswith("the command line: data.crop_size: must be larger than")
    path = _write(tmp_path, "[model]\nspace_to_depth = 16\n[data]\ncrop_size = 16\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(path, {"steps": 5})
    assert info.value.layer == f"config file {path}"
    assert resolve_config(path, {"data.crop_size": 32}).data.crop_size == 32  # fixed by a later layer


def test_the_config_and_the_train_parser_need_no_torch() -> None:
    code = (
        "import sys, argparse; sys.modules['torch'] = None\n"
        "from training.config import PRESET_NAMES, resolve_config\n"
        "from remaster_core.cli.train import add_parser\n"
        "p = argparse.ArgumentParser(); add_parser(p.add_subparsers(dest='verb'))\n"
        "a = p.parse_args(['train', '--pairs', 'P', '--out', 'R', '--preset', 'paper'])\n"
        "print(PRESET_NAMES, resolve_config(None, {'model.preset': a.preset}).data.crop_size)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "('lite', 'paper') 256"
