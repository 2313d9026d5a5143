"""float32 <-> float16 graph conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from remaster_core.runtime.precision import graph_precision, to_float16, to_float32

from . import StandIn, export


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _has_float16(model: onnx.ModelProto) -> bool:
    text = str(model.graph)
    return (
        "data_type: 10" in text
        or "elem_type: 10" in text
        or any(a.name == "to" and a.i == TensorProto.FLOAT16 for n in model.graph.node for a in n.attribute)
    )


def test_round_trip_of_a_torch_export(tmp_path: Path) -> None:
    fp32 = onnx.load(str(export(StandIn(), tmp_path / "m.onnx")))
    fp16 = to_float16(fp32)
    assert graph_precision(fp32) == "fp32" and graph_precision(fp16) == "fp16"
    x = np.random.default_rng(0).random((2, 3, 20, 28), dtype=np.float32)
    y32 = _run(fp32, x)
    y16 = _run(fp16, x.astype(np.float16))
    assert y16.dtype == np.float16 and np.abs(y16.astype(np.float32) - y32).max() < 1e-2
    back = to_float32(fp16)
    assert graph_precision(back) == "fp32" and not _has_float16(back)
    yb = _run(back, x)
    assert yb.dtype == np.float32
    # fp32 arithmetic on fp16-rounded weights: closer to fp32 than the fp16 run
    assert np.abs(yb - y32).max() <= np.abs(y16.astype(np.float32) - y32).max()


def test_to_float32_rewrites_casts_constants_and_value_info() -> None:
    """A hand-written fp16 graph with a Cast to float16 and a float16 Constant."""
    const = numpy_helper.from_array(np.array([0.25], dtype=np.float16))
    nodes = [
        helper.make_node("Constant", [], ["k"], value=const),
        helper.make_node("Mul", ["input", "k"], ["m"]),
        helper.make_node("Cast", ["m"], ["c"], to=TensorProto.FLOAT16),
        helper.make_node("Add", ["c", "bias"], ["output"]),
    ]
    bias = numpy_helper.from_array(np.array([1.0], dtype=np.float16), "bias")
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT16, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT16, ["n", 3, "h", "w"])],
        [bias],
        value_info=[helper.make_tensor_value_info("m", TensorProto.FLOAT16, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    back = to_float32(model)
    assert not _has_float16(back)
    x = np.full((1, 3, 2, 2), 2.0, np.float32)
    np.testing.assert_allclose(_run(back, x), 1.5)
    np.testing.assert_allclose(_run(model, x.astype(np.float16)).astype(np.float32), 1.5)
