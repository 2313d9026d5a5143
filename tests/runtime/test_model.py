"""The export <-> runtime contract: metadata, checksums, tampered, truncated and foreign models."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from remaster_core.errors import ModelError
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import ModelConvention, open_model, weights_sha256

from . import StandIn, export, make_model, metadata, stamp


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = make_model(tmp_path_factory.mktemp("model"))
    return path


@pytest.fixture()
def copy(good: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.onnx"
    shutil.copyfile(good, target)
    return target


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_good_model_opens_with_its_convention(good: Path) -> None:
    info, model = open_model(good)
    net = StandIn()
    assert info.convention == ModelConvention(space_to_depth=2, receptive_field=net.receptive_field)
    assert info.precision == "fp32" and info.has_metadata
    assert info.sha256 == _sha(good) and info.size_bytes == good.stat().st_size
    assert info.metadata[contract.KEY_MODEL_NAME] == "stand-in"
    assert info.opset >= 17
    assert info.input_name == "input" and info.output_name == "output"
    assert isinstance(model, onnx.ModelProto)


def test_truncated_file_is_refused_with_name_and_checksum(copy: Path) -> None:
    data = copy.read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as exc:
        open_model(copy)
    message = str(exc.value)
    assert str(copy) in message and _sha(copy) in message
    assert "truncated or corrupt" in message


def test_empty_file_is_refused(copy: Path) -> None:
    copy.write_bytes(b"")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        open_model(copy)


def test_tampered_weight_is_refused(copy: Path) -> None:
    """A weight changed after export (metadata intact) fails the ``remaster.sha256_weights`` check."""
    model = onnx.load(str(copy))
    weight = model.graph.initializer[0]
    array = numpy_helper.to_array(weight).copy()
    array.flat[0] += 0.5
    weight.CopyFrom(numpy_helper.from_array(array, weight.name))
    onnx.save(model, str(copy))
    with pytest.raises(ModelError) as exc:
        open_model(copy)
    assert "modified after export" in str(exc.value) and _sha(copy) in str(exc.value)


def test_flipped_bytes_are_refused(copy: Path) -> None:
    """Corruption in the middle of the file: refused whichever check catches it first."""
    data = bytearray(copy.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError) as exc:
        open_model(copy)
    assert _sha(copy) in str(exc.value)


def test_expected_sha256_mismatch_is_refused(good: Path) -> None:
    open_model(good, expected_sha256=_sha(good).upper())  # case-insensitive match is fine
    with pytest.raises(ModelError, match="expected sha256 0+"):
        open_model(good, expected_sha256="0" * 64)


def test_missing_file() -> None:
    with pytest.raises(ModelError, match="model file not found"):
        open_model(Path("/nonexistent/G.onnx"))


def test_model_without_metadata_needs_a_convention(tmp_path: Path) -> None:
    path, net = make_model(tmp_path, with_metadata=False)
    with pytest.raises(ModelError) as exc:
        open_model(path)
    assert "no remaster metadata" in str(exc.value) and "convention=ModelConvention" in str(exc.value)
    convention = ModelConvention(space_to_depth=2, receptive_field=net.receptive_field, value_range=(0, 1))
    info, _ = open_model(path, convention=convention)
    assert not info.has_metadata and info.convention == convention


def test_convention_contradicting_metadata_is_refused(good: Path) -> None:
    with pytest.raises(ModelError, match="contradicts"):
        open_model(good, convention=ModelConvention(space_to_depth=4, receptive_field=3))


@pytest.mark.parametrize(
    "key,value,message",
    [
        (contract.KEY_FORMAT_VERSION, "2", "format version"),
        (contract.KEY_COLOR, "scene-linear ACEScg", "only feeds"),
        (contract.KEY_VALUE_RANGE, "0-1", "is not 'lo,hi'"),
        (contract.KEY_SPACE_TO_DEPTH, "0", "not an int >= 1"),
        (contract.KEY_RECEPTIVE_FIELD, "wide", "not an int >= 0"),
        (contract.KEY_PRECISION, "fp16", "the graph's input is fp32"),
        (contract.KEY_PADS_INTERNALLY, "yes", "expected '0' or '1'"),
    ],
)
def test_bad_metadata_values_are_refused(copy: Path, key: str, value: str, message: str) -> None:
    stamp(copy, metadata(2, 9, **{key: value}))
    with pytest.raises(ModelError, match=message):
        open_model(copy)


def test_incomplete_metadata_is_refused(copy: Path) -> None:
    props = metadata(2, 9)
    del props[contract.KEY_RECEPTIVE_FIELD]
    stamp(copy, props)
    with pytest.raises(ModelError, match="missing remaster.receptive_field"):
        open_model(copy)


def test_fixed_shape_model_is_refused(tmp_path: Path) -> None:
    path = export(StandIn(), tmp_path / "fixed.onnx", fixed_shape=True)
    stamp(path, metadata(2, 9))
    with pytest.raises(ModelError, match="fixed size on axis N, H, W"):
        open_model(path)


def test_model_with_four_channels_is_refused(tmp_path: Path) -> None:
    class Rgba(StandIn):
        def forward(self, x):  # type: ignore[no-untyped-def]
            return x * 2.0

    path = export(Rgba(), tmp_path / "rgba.onnx", channels=4)
    stamp(path, metadata(2, 9))
    with pytest.raises(ModelError, match="4 channels; expected 3"):
        open_model(path)


def test_weights_sha256_covers_initializers_and_constants(good: Path) -> None:
    model = onnx.load(str(good))
    before = weights_sha256(model)
    assert before == {p.key: p.value for p in model.metadata_props}[contract.KEY_SHA256_WEIGHTS]
    constant = next(
        n
        for n in model.graph.node
        if n.op_type == "Constant" and numpy_helper.to_array(n.attribute[0].t).dtype == np.float32
    )
    value = numpy_helper.to_array(constant.attribute[0].t) + 1
    constant.attribute[0].t.CopyFrom(numpy_helper.from_array(value.astype(np.float32)))
    assert weights_sha256(model) != before


def test_fp16_file_declares_fp16(tmp_path: Path) -> None:
    path, _ = make_model(tmp_path, fp16=True)
    info, _ = open_model(path)
    assert info.precision == "fp16"
