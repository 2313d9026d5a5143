"""Property-based tests of every reader a user (or a host) feeds directly: whatever the input, the reader
returns a value within its bounds or raises the project's error naming the file, line or field; never
another exception, never an unbounded loop or allocation.

Few examples each (``FUZZ``: no deadline, a handful of examples) so CI stays fast; ``bench/fuzz.py`` runs
the long sweep over the verbs. The frame-range grammar has its own Hypothesis tests
(``tests/io/test_frame_range.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remaster_core.cli import argtypes
from remaster_core.conform.overrides import MAX_FIELD, allowed_states, parse_overrides, read_overrides
from remaster_core.errors import InputError, ModelError
from remaster_core.manifests import read_align, read_conform
from remaster_core.manifests.align import PAR_RANGE
from remaster_core.node_params import MAX_SIDE
from remaster_core.worker.protocol import MAX_LINE_BYTES, encode
from remaster_core.worker.server import handle, serve
from tests.manifests import VECTORS
from tests.worker import PLUGIN

if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from remaster_nuke import manifests as plugin_manifests

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values a hand edit or a hostile host puts anywhere.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**63, -1, 0, 10**12, 5000 * 9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "C:\\x", "a" * 200, "", " ", "\u0000", "24000/0"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


# ------------------------------------------------------------------------------------------ overrides

override_lines = st.one_of(
    st.builds(
        "fields {}{} {}".format,
        st.integers(min_value=0, max_value=10**25),
        st.one_of(st.just(""), st.integers(min_value=0, max_value=10**25).map(lambda n: f"-{n}")),
        st.one_of(
            st.sampled_from(["film", "video", "FILM"]), st.integers(0, 10**6).map(lambda p: f"phase {p}")
        ),
    ),
    st.text(max_size=40),
    st.sampled_from(
        ["fields " + "9" * 5000 + " film", "fields 1-" + "9" * 30 + " video", "# only a comment"]
    ),
)


@FUZZ
@given(st.lists(override_lines, max_size=6), st.integers(min_value=1, max_value=5000))
def test_override_files_parse_within_bounds_or_name_the_line(lines: list[str], n_fields: int) -> None:
    text = "\n".join(lines)
    try:
        overrides = parse_overrides(text, "fixes.txt")
    except InputError as exc:
        assert str(exc).startswith("fixes.txt, line "), exc
        assert len(str(exc)) < 400, "the message quotes a bounded piece of the line"
        return
    for o in overrides:
        assert 0 <= o.first <= o.last <= MAX_FIELD
        assert o.phase is None or 0 <= o.phase <= 9
    try:
        mask = allowed_states(overrides, n_fields)
    except InputError as exc:
        assert "override line" in str(exc) and "past the end" in str(exc)
        return
    assert mask is None or mask.shape[0] == n_fields


@FUZZ
@given(st.binary(max_size=300))
def test_an_override_file_of_any_bytes_is_read_or_named(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fixes.txt"
        path.write_bytes(data)
        try:
            read_overrides(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)), exc


# ------------------------------------------------------------------------------------------ configs

CONFIG_KEYS = [
    "steps", "seed", "model.width", "model.space_to_depth", "model.preset", "data.crop_size",
    "data.batch_size", "data.workers", "data.val_shots", "data.val_fraction", "optim.lr", "optim.betas",
    "optim.weight_decay", "optim.schedule", "stages.gan_start_step", "stages.vgg_weights", "ema.decay",
    "checkpoint.keep_last", "validation.frames", "validation.crop", "runtime.threads", "runtime.device",
]  # fmt: skip
TOML_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.sampled_from(["inf", "-inf", "nan", "1e308", "0", "-1", "1.5", "true", '"x"', "[]", "[1, -1]",
                     "[0.9]", "[0.9, 0.99]", '"cuda:99999999999999999999"', '"\\u0000"', "{a = 1}"]),
)  # fmt: skip


def _toml(settings_: dict[str, str]) -> str:
    top = [f"{k} = {v}" for k, v in settings_.items() if "." not in k]
    sections: dict[str, list[str]] = {}
    for key, value in settings_.items():
        if "." in key:
            section, name = key.split(".", 1)
            sections.setdefault(section, []).append(f"{name} = {value}")
    return "\n".join([*top, *(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items())]) + "\n"


@FUZZ
@given(st.dictionaries(st.sampled_from(CONFIG_KEYS), TOML_VALUES, max_size=4))
def test_a_config_file_is_validated_within_bounds_or_names_the_key(values: dict[str, str]) -> None:
    pytest.importorskip("training.config")
    from training.config import LIMITS, ConfigError, config_to_flat, resolve_config

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.toml"
        path.write_text(_toml(values))
        try:
            cfg = resolve_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc) or str(exc).startswith("the "), exc
            assert exc.keys or "TOML" in str(exc) or "read" in str(exc), exc
            return
    for key, value in config_to_flat(cfg).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float):
                assert math.isfinite(item), key
            if key in LIMITS and isinstance(item, int | float) and not isinstance(item, bool):
                assert item <= LIMITS[key], key


@FUZZ
@given(st.binary(max_size=200))
def test_a_config_file_of_any_bytes_is_read_or_named(data: bytes) -> None:
    pytest.importorskip("training.config")
    from training.config import ConfigError, resolve_config

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.toml"
        path.write_bytes(data)
        try:
            resolve_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc), exc


def test_a_deeply_nested_or_huge_config_is_refused_naming_the_file(tmp_path: Path) -> None:
    pytest.importorskip("training.config")
    from training.config import ConfigError, resolve_config

    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="deep.toml nests"):
        resolve_config(deep)
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (2 << 20))
    with pytest.raises(ConfigError, match="huge.toml is larger than"):
        resolve_config(huge)


# ------------------------------------------------------------------------------------------ worker

JSON_VALUES = st.recursive(
    st.one_of(ODD, st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
REQUEST_KEYS = ["id", "op", "params", "source", "staged", "output", "frames", "broadcast", "film", "film_offset",
                "pixel_aspect"]  # fmt: skip
PARAM_KEYS = ["model", "output_size", "transform", "tile", "overlap", "precision", "provider", "mix", "batch",
              "threads", "memory_mb", "align", "align_offset", "pixel_aspect", "bit_depth", "force", "knob"]  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = draw(st.dictionaries(st.sampled_from(REQUEST_KEYS), JSON_VALUES, max_size=6))
    body["op"] = draw(
        st.one_of(st.sampled_from(["ping", "describe", "render", "align", "nope"]), JSON_VALUES)
    )
    if draw(st.booleans()):
        body["params"] = draw(st.dictionaries(st.sampled_from(PARAM_KEYS), JSON_VALUES, max_size=5))
    text = json.dumps(body, allow_nan=True)
    return (
        text.encode()
        if draw(st.booleans())
        else draw(st.sampled_from([text[:-1], text + "}", "[" + text])).encode()
    )


def _check_response(response: dict[str, Any]) -> None:
    assert response.get("kind") != "internal", response
    assert encode(response).endswith(b"\n")  # strict JSON, one line
    if not response["ok"]:
        assert isinstance(response["error"], str) and 0 < len(response["error"]) < 2000, response


@FUZZ
@given(requests())
def test_any_request_line_gets_an_answer_that_is_not_an_internal_error(line: bytes) -> None:
    response, stop = handle(line)
    _check_response(response)
    assert not stop


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": ' + b"9" * 5000 + b', "op": "ping"}',  # an id int() refuses to convert
        b"[" * 100_000,  # nested past the JSON parser's recursion limit
        b'{"op": "render", "frames": [1e400], "source": "s.####.exr", "output": "o.####.exr"}',
        b"\xff\xfe{}",
        b'{"op": "align", "broadcast": "b.####.exr", "film": "f.####.exr", "frames": [1], "film_offset": '
        + str(10**30).encode()
        + b"}",
        b'{"op": "align", "broadcast": "b.####.exr", "film": "f.####.exr", "frames": [1], "pixel_aspect": "x"}',
    ],
    ids=[
        "5000-digit id",
        "deep nesting",
        "1e400 frame",
        "not utf-8",
        "huge film_offset",
        "text pixel_aspect",
    ],
)
def test_hostile_request_lines_are_answered_as_errors(line: bytes) -> None:
    response, _ = handle(line)
    _check_response(response)
    assert not response["ok"]


def test_the_pixel_aspect_and_offset_of_an_align_request_are_checked_before_any_frame_is_read() -> None:
    base = {"op": "align", "broadcast": "/nowhere/b.####.exr", "film": "/nowhere/f.####.exr", "frames": [1]}
    for extra, field in (({"pixel_aspect": "x"}, "pixel_aspect"), ({"film_offset": 10**30}, "film_offset")):
        response, _ = handle(json.dumps({**base, **extra}).encode())
        assert response["kind"] == "input" and response["error"].startswith(field), response


def test_an_over_long_line_is_refused_without_reading_it_whole() -> None:
    import io

    big = b'{"op": "ping", "pad": "' + b"x" * (3 * MAX_LINE_BYTES) + b'"}\n'
    stream = io.BytesIO(big + b'{"id": 2, "op": "ping"}\n')
    out = io.BytesIO()
    assert serve(stream, out) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["kind"] == "protocol" and "the limit is" in first["error"]
    assert second["id"] == 2 and second["ok"]


# ------------------------------------------------------------------------------------------ manifests

BASES = {
    "align_full": "align.json",
    "align_minimal": "align.json",
    "conform_full": "conform.json",
    "conform_no_film": "conform.json",
    "conform_minimal": "conform.json",
}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for k, value in enumerate(doc[:4]):
            out += _paths(value, (*prefix, k))
    return out


MUTATIONS = st.one_of(
    st.just(("delete", None)),
    st.tuples(st.just("set"), ODD),
    st.tuples(st.just("scale"), st.sampled_from([-1, 10**9, -(10**9), 1e300, float("nan")])),
)


@FUZZ
@given(
    st.sampled_from(sorted(BASES)),
    st.lists(st.tuples(st.integers(min_value=0), MUTATIONS), min_size=1, max_size=3),
)
def test_a_mutated_manifest_is_refused_naming_its_field_or_read_within_bounds(
    base: str, mutations: list[tuple[int, tuple[str, Any]]]
) -> None:
    """Random edits of valid vectors (type swaps, deletions, huge/negative/NaN numbers, path escapes):
    remaster_core and the plugin give the same verdict; a refusal names the file (and the same field)."""
    name = BASES[base]
    doc = json.loads((VECTORS / base / name).read_text(encoding="utf-8"))
    for index, (how, value) in mutations:
        paths = _paths(doc)
        if not paths:
            break
        path = paths[index % len(paths)]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if how == "delete" and isinstance(parent, dict):
            del parent[key]
        elif how == "scale" and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * value
        else:
            parent[key] = value
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / name
        file.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
        core_error = plugin_error = None
        try:
            (read_align if name == "align.json" else read_conform)(file)
        except InputError as exc:
            core_error = str(exc)
        try:
            check = plugin_manifests.check_align if name == "align.json" else plugin_manifests.check_conform
            check(json.loads(file.read_text(encoding="utf-8")), str(file))
        except plugin_manifests.GeometryError as exc:
            plugin_error = str(exc)
    assert (core_error is None) == (plugin_error is None), (core_error, plugin_error)
    if core_error is not None:
        assert core_error.startswith(str(file)) and core_error == plugin_error, (core_error, plugin_error)


# ------------------------------------------------------------------------------------------ argument types


@FUZZ
@given(st.one_of(st.text(max_size=30), st.sampled_from(["1e400", "1/1e-400", "9" * 5000, "1e-300", "8/9"])))
def test_a_pixel_aspect_argument_is_within_the_manifests_range_or_refused(text: str) -> None:
    try:
        value = argtypes.pixel_aspect(text)
    except argparse.ArgumentTypeError as exc:
        assert "pixel aspect" in str(exc) and len(str(exc)) < 200
        return
    assert PAR_RANGE[0] <= value <= PAR_RANGE[1]


@FUZZ
@given(st.one_of(st.text(max_size=30), st.from_regex(r"\d{1,30}[xX]\d{1,30}", fullmatch=True)))
def test_a_format_argument_is_a_bounded_raster_or_refused(text: str) -> None:
    try:
        w, h = argtypes.frame_size(text)
    except argparse.ArgumentTypeError as exc:
        assert len(str(exc)) < 200
        return
    assert 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE


@FUZZ
@given(st.one_of(st.text(max_size=30), st.sampled_from(["GPU=nan", "GPU=inf", "GPU=-1", "GPU=1e400", "=1"])))
def test_a_resources_argument_holds_finite_amounts_or_is_refused(text: str) -> None:
    try:
        found = argtypes.resources(text)
    except argparse.ArgumentTypeError as exc:
        assert len(str(exc)) < 200
        return
    assert found and all(name and 0 <= amount <= 1e6 for name, amount in found.items())


@FUZZ
@given(st.one_of(st.text(max_size=25), st.integers(min_value=-(10**25), max_value=10**25).map(str)))
def test_whole_number_arguments_stay_in_their_bounds(text: str) -> None:
    parse = argtypes.whole_number(1, 100)
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as exc:
        assert len(str(exc)) < 200
        return
    assert 1 <= value <= 100


# ------------------------------------------------------------------------------------------ model files


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.render import model

    return model(tmp_path_factory.mktemp("fuzz-model")).read_bytes()


def _load(path: Path) -> None:
    import numpy as np

    from remaster_core.runtime.engine import EngineOptions, clear_engine_cache, load_engine

    clear_engine_cache()
    engine = load_engine(path, EngineOptions(provider="cpu", threads=1))
    engine.run(np.full((48, 64, 3), 0.5, np.float32))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2**32 - 1), st.sampled_from(["flip", "cut", "zero"]))
@example(seed=277529627, how="flip")  # a flipped bit in a tensor's dims: numpy's reshape raised ValueError
def test_a_damaged_model_raises_model_error_or_still_runs(model_bytes: bytes, seed: int, how: str) -> None:
    rng = random.Random(seed)
    data = bytearray(model_bytes)
    if how == "flip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == "cut":
        data = data[: rng.randrange(len(data))]
    else:
        at = rng.randrange(len(data))
        data[at : at + 16] = bytes(16)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(bytes(data))
        try:
            _load(path)
        except ModelError as exc:
            assert str(path) in str(exc), exc


@pytest.mark.parametrize(
    "key, value",
    [
        ("remaster.space_to_depth", "3"),  # consistent in itself, but the graph's DepthToSpace is 2
        ("remaster.space_to_depth", "1"),
        ("remaster.space_to_depth", "99999999999999999999"),
        ("remaster.receptive_field", "-1"),
        ("remaster.value_range", "nan,1"),
        ("remaster.precision", "fp64"),
        ("remaster.sha256_weights", "0" * 64),
    ],
)
def test_edited_model_metadata_is_a_model_error(
    model_bytes: bytes, tmp_path: Path, key: str, value: str
) -> None:
    import onnx

    model = onnx.load_from_string(model_bytes)
    props = {p.key: p for p in model.metadata_props}
    if key not in props:
        pytest.skip(f"the models carry no {key}")
    props[key].value = value
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match=str(path)):
        _load(path)


def test_a_space_to_depth_that_is_a_multiple_of_the_graphs_factor_is_accepted(
    model_bytes: bytes, tmp_path: Path
) -> None:
    """Tiles on multiples of 4 keep the graph's 2x2 pixel blocks whole: a coarser stated factor is safe."""
    import onnx

    from remaster_core.runtime.model import graph_block_sizes

    model = onnx.load_from_string(model_bytes)
    assert graph_block_sizes(model.graph) == {2}
    next(p for p in model.metadata_props if p.key == "remaster.space_to_depth").value = "4"
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    _load(path)


# ------------------------------------------------------------------------------------------ frames


def test_a_frame_holding_nan_or_inf_rejects_its_shot_naming_the_file(tmp_path: Path) -> None:
    """align's reader: a damaged conformed or film frame is the shot's rejection reason (recorded in
    align.json), never a fit that fails deep inside with a traceback."""
    import numpy as np

    from remaster_core.align.pipeline import ConformInput, _Reader
    from remaster_core.align.shot import AlignmentFailure
    from remaster_core.io.images import write_image
    from remaster_core.io.sequence import parse_pattern

    for k, value in enumerate((0.5, -np.inf, np.nan)):
        frame = np.full((8, 8, 3), 0.5, np.float32)
        frame[2:4, 2:4] = value
        write_image(tmp_path / f"frame.{k:06d}.exr", frame)
        write_image(tmp_path / f"film.{k:06d}.exr", frame)
    conform = ConformInput(tmp_path, parse_pattern(str(tmp_path / "frame.%06d.exr")), 3, None, (), None)
    reader = _Reader(conform, parse_pattern(str(tmp_path / "film.%06d.exr")), [0, 1, 2])
    assert reader.broadcast(0).shape == (8, 8, 3) and reader.film_frame(0).shape == (8, 8, 3)
    with pytest.raises(
        AlignmentFailure, match=r"conformed frame 1 \(.*frame\.000001\.exr\) holds 0 NaN, 0 \+Inf and 12 -Inf"
    ):
        reader.broadcast(1)
    with pytest.raises(
        AlignmentFailure, match=r"film frame 2 \(.*film\.000002\.exr\) holds 12 NaN, 0 \+Inf and 0 -Inf"
    ):
        reader.film_frame(2)
