"""The node's parameter table drives every entry point: ``NodeParams``, ``EngineOptions``, ``describe()``,
the worker's ``params`` and the ``remaster render`` options; a bad value is refused by each of them
with a message that names the field."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from remaster_core.cli import render as render_cli
from remaster_core.errors import EXIT_BAD_INPUT, InputError
from remaster_core.node import NodeParams, describe
from remaster_core.node_params import (
    ENGINE_FIELDS,
    FIELDS,
    GPU_PROVIDERS,
    PLAIN_FIELDS,
    PRECISION_CHOICES,
    PROVIDER_CHOICES,
    NodeField,
)
from remaster_core.runtime import EngineOptions, providers
from remaster_core.worker.protocol import JOB_KEYS, parse_node_params

BAD = [  # (field, value as Python / JSON gives it, the same as a command-line text, the message)
    ("provider", "cuda2", "cuda2",
     "provider must be 'auto', 'tensorrt', 'cuda', 'openvino' or 'cpu', got 'cuda2'"),
    ("precision", "fp8", "fp8", "precision must be 'fp32', 'fp16' or 'bf16', got 'fp8'"),
    ("tile", -1, "-1", "tile must be between 1 and 16384 px, got -1"),
    ("tile", 2.5, "2.5", "tile must be a whole number"),
    ("overlap", -3, "-3", "overlap must be between 0 and 16384 px, got -3"),
    ("mix", 2, "2", "mix must be between 0 and 1, got 2"),
    ("mix", float("nan"), "nan", "mix must be a finite number, got nan"),
    ("batch", "four", "four", "batch must be a whole number, got 'four'"),
    ("batch", 0, "0", "batch must be at least 1, got 0"),
    ("threads", 0, "0", "threads must be at least 1, got 0"),
    ("memory_mb", 8, "8", "memory_mb must be at least 16 MiB, got 8"),
]
BY_NAME = {spec.name: spec for spec in FIELDS}


def _render_parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="remaster")
    return render_cli.add_parser(top.add_subparsers(dest="verb"))


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not opened by these tests")
    return path


def test_node_params_has_the_table_fields_in_order_with_its_defaults() -> None:
    fields = dataclasses.fields(NodeParams)
    assert [f.name for f in fields] == [spec.name for spec in FIELDS]
    defaults = NodeParams(model=Path("m.onnx"))
    for spec in FIELDS[1:]:
        assert getattr(defaults, spec.name) == spec.default, spec.name
    plain = ["tile", "overlap", "precision", "provider", "mix", "batch", "threads", "memory_mb"]
    plain += ["grain_amount", "grain_size", "grain_seed"]
    assert [spec.name for spec in PLAIN_FIELDS] == plain


def test_engine_options_take_the_engine_fields_from_the_table() -> None:
    options = EngineOptions()
    names = {f.name for f in dataclasses.fields(EngineOptions)}
    for spec in ENGINE_FIELDS:
        assert spec.name in names and getattr(options, spec.name) == spec.default, spec.name
    assert set(ENGINE_FIELDS) <= set(PLAIN_FIELDS)


def test_choices_are_declared_once() -> None:
    assert BY_NAME["provider"].choices is PROVIDER_CHOICES
    assert BY_NAME["precision"].choices is PRECISION_CHOICES
    assert providers.PROVIDER_CHOICES is PROVIDER_CHOICES
    for choice in PROVIDER_CHOICES:  # the runtime knows what to ask onnxruntime for each choice
        assert providers.wanted_providers(choice)
    assert set(GPU_PROVIDERS) < set(PROVIDER_CHOICES)


def test_describe_lists_the_table() -> None:
    params = describe()["parameters"]
    assert [p["name"] for p in params] == [spec.name for spec in FIELDS]
    for p, spec in zip(params, FIELDS, strict=True):
        assert p["default"] == spec.default and p["description"].startswith(spec.help)
        assert p.get("choices", []) == list(spec.choices)
        if spec.minimum is not None and not spec.choices:
            assert p["range"] == [spec.minimum, spec.maximum]
    assert BY_NAME["tile"].describe()["description"].endswith("; none: " + BY_NAME["tile"].none)


def test_render_options_are_built_from_the_table() -> None:
    parser = _render_parser()
    actions = {a.dest: a for a in parser._actions}
    for spec in PLAIN_FIELDS:
        action = actions[spec.name]
        assert action.option_strings == [spec.flag]
        assert action.default == spec.default and action.help is not None
        assert action.help.startswith(spec.help) and spec.default_text() in action.help
        assert list(action.choices or ()) == list(spec.choices)
    args = parser.parse_args(
        ["in", "--model", "m.onnx", "--out", "o.####.exr", "--tile", "512", "--mix", "0.5"]
    )
    assert (args.tile, args.mix, args.memory_mb, args.provider) == (512, 0.5, 2048, "auto")


def test_the_worker_takes_the_table_fields_with_its_defaults(model: Path) -> None:
    node = parse_node_params({"model": str(model), "batch": 2, "memory_mb": 64, "mix": 1, "tile": None})
    assert (node.batch, node.memory_mb, node.mix, node.tile, node.precision) == (2, 64, 1.0, None, "fp32")
    assert isinstance(node.mix, float)
    defaults = parse_node_params({"model": str(model), "precision": None})  # null: the default
    assert all(getattr(defaults, spec.name) == spec.default for spec in PLAIN_FIELDS)


def test_the_worker_refuses_unknown_parameters(model: Path) -> None:
    with pytest.raises(InputError, match=r"unknown parameter 'tiles': the node's parameters are model, "):
        parse_node_params({"model": str(model), "tiles": 4})
    assert not set(JOB_KEYS) & set(BY_NAME)


@pytest.mark.parametrize(("name", "value", "text", "message"), BAD, ids=[f"{b[0]}={b[2]}" for b in BAD])
def test_a_bad_value_names_the_field_at_every_entry_point(
    name: str, value: Any, text: str, message: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError) as info:
        NodeParams(model=model, **{name: value})
    assert str(info.value).startswith(message)
    with pytest.raises(InputError) as info:
        parse_node_params({"model": str(model), name: value})
    assert str(info.value).startswith(message)
    if BY_NAME[name] in ENGINE_FIELDS:
        with pytest.raises(InputError) as info:
            EngineOptions(**{name: value})
        assert str(info.value).startswith(message)
    with pytest.raises(SystemExit) as exit_info:
        _render_parser().parse_args(
            ["in", "--model", str(model), "--out", "o.####.exr", f"{BY_NAME[name].flag}={text}"]
        )
    assert exit_info.value.code == EXIT_BAD_INPUT
    stderr = capsys.readouterr().err
    assert f"argument {BY_NAME[name].flag}: {name} must be" in stderr, stderr


def test_none_only_where_the_table_says_what_it_means() -> None:
    for spec in PLAIN_FIELDS:
        if spec.none:
            assert spec.check(None) is None
        else:
            with pytest.raises(InputError, match=f"^{spec.name} must be .*, got None$"):
                spec.check(None)


def test_check_normalises_and_refuses_booleans() -> None:
    mix: NodeField[float] = BY_NAME["mix"]
    assert mix.check(1) == 1.0 and isinstance(mix.check(1), float)
    with pytest.raises(InputError, match="batch must be a whole number, got True"):
        BY_NAME["batch"].check(True)
