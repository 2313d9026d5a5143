"""The torch side of ``remaster train``: flags -> config -> ``trainer.train`` (or a torchrun launch).

``remaster_core.cli.train`` declares the arguments and imports this module only when the verb runs.
``python -m training.cli ARGS`` (ARGS as after ``remaster train``) is the same command; it is what
``--nproc N`` hands to torchrun for each process.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from remaster_core.errors import InputError
from remaster_core.io.outdir import check_overlap, ensure_folder
from training import distributed
from training.config import ConfigError, TrainConfig, check_runnable, resolve_config
from training.run_dir import CONFIG_FILE, check_run_dir
from training.trainer import train

log = logging.getLogger("remaster.train")

# flag dest -> config key
_FLAG_KEYS = {
    "preset": "model.preset",
    "steps": "steps",
    "vgg_weights": "stages.vgg_weights",
    "batch_size": "data.batch_size",
    "crop_size": "data.crop_size",
    "lr": "optim.lr",
    "loss": "stages.loss",
    "gan_start_step": "stages.gan_start_step",
    "device": "runtime.device",
    "threads": "runtime.threads",
    "workers": "data.workers",
    "seed": "seed",
}


def _parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE in TOML syntax (a bare word is taken as a string)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: write KEY=VALUE, e.g. --set optim.lr=1e-3")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the flags set (``--set`` first, then the dedicated flags, which win)."""
    overrides: dict[str, Any] = dict(_parse_setting(s) for s in args.settings)
    for dest, key in _FLAG_KEYS.items():
        value = getattr(args, dest)
        if value is not None:
            overrides[key] = str(value) if isinstance(value, Path) else value
    if args.val_shots is not None:
        try:
            overrides["data.val_shots"] = [int(v) for v in args.val_shots.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"--val-shots {args.val_shots!r}: write shot indices like 3,4") from None
    return overrides


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run's config: with ``--resume`` the run's own RUN/config.toml, else the preset recipe and
    ``--config``; the flags on top. Checked for runnability (stage 2's needs)."""
    file = args.config
    if args.resume:
        if args.config is not None:
            raise ConfigError(
                "--config cannot be combined with --resume: a resumed run keeps its own RUN/config.toml; change "
                "single settings with flags (e.g. --steps)"
            )
        file = args.out / CONFIG_FILE
        if not file.is_file():
            raise InputError(f"{args.out} holds no {CONFIG_FILE}: there is no run to resume there")
    cfg = resolve_config(file, overrides_from_args(args))
    check_runnable(cfg)
    return cfg


def _argv(args: argparse.Namespace) -> list[str]:
    """``args`` back to the command line (without --nproc), for the processes torchrun starts."""
    argv = ["--pairs", str(args.pairs), "--out", str(args.out)]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.resume:
        argv.append("--resume")
    for dest in _FLAG_KEYS:
        value = getattr(args, dest)
        if value is not None:
            argv += [f"--{dest.replace('_', '-')}", str(value)]
    if args.val_shots is not None:
        argv += ["--val-shots", args.val_shots]
    for setting in args.settings:
        argv += ["--set", setting]
    return argv


def run_train(args: argparse.Namespace) -> int:
    """Run ``remaster train`` for parsed ``args``; returns the exit code."""
    cfg = config_from_args(args)  # before any launch: bad settings fail once, clearly
    check_run_dir(args.out, args.resume)
    check_overlap(args.out, [("the pairs folder", args.pairs), ("the config file", args.config)])
    ensure_folder(args.out)
    if args.nproc is not None and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        if cfg.data.batch_size % args.nproc:
            raise ConfigError(
                f"--batch-size {cfg.data.batch_size} does not split evenly over --nproc {args.nproc}; pick a "
                f"multiple of {args.nproc}"
            )
        code = distributed.launch(args.nproc, _argv(args))
        if code != 0:
            log.error("the training processes failed (exit code %d); their messages are above", code)
        return code
    result = train(cfg, args.pairs, args.out, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        best = (
            "no validation score"
            if result.best_psnr is None
            else f"best {result.best_psnr:.2f} dB at step {result.best_step}"
        )
        log.info(
            "trained to step %d (%d skipped); %s; last checkpoint %s; export %s",
            result.step, result.skipped_steps, best, result.last_checkpoint, result.best_checkpoint,
        )  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.cli ARGS``: the ``train`` verb on its own (exit code returned)."""
    from remaster_core.cli import run_verb, setup_logging
    from remaster_core.cli.train import add_parser

    parser = argparse.ArgumentParser(prog="remaster train")
    sub = parser.add_subparsers(dest="verb", required=True)
    add_parser(sub)
    words = list(sys.argv[1:] if argv is None else argv)
    verbose, quiet = "-v" in words, "-q" in words  # as `remaster -v/-q train` would take them
    args = parser.parse_args(["train", *(w for w in words if w not in ("-v", "-q"))])
    setup_logging(verbose, quiet or int(os.environ.get("RANK", "0")) != 0)
    return run_verb(args)


if __name__ == "__main__":
    sys.exit(main())
