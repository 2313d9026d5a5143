"""Convert an ONNX graph between float32 and float16, in memory.

The engine's fp16 mechanism (see ``engine.py``):

- fp32 model file, fp16 asked: on TensorRT the fp32 graph is given to TensorRT with
  ``trt_fp16_enable`` (TensorRT picks fp16 kernels itself); on CUDA and CPU the graph is converted with
  ``to_float16`` (weights, activations, input and output become float16; onnxruntime's own converter,
  which keeps the ops that have no float16 form in float32).
- fp16 model file: run as is; its fp32 twin (for the NaN fallback, or when fp32 is asked) comes from
  ``to_float32``, which is exact: every float16 value is a float32 value. The weights keep their fp16
  rounding, so "fp32" there means fp32 arithmetic, not the original fp32 weights.

On the CPU provider onnxruntime has float16 kernels for data movement (Reshape, Transpose, Concat,
Pad, ...) but computes most arithmetic in float32 behind inserted casts: activations are still stored
in float16 between those ops, so overflow past 65504 shows up there as it would on a GPU.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

from remaster_core.optional import import_onnxruntime
from remaster_core.runtime.model import Precision

log = logging.getLogger("remaster.runtime")

_FLOAT = onnx.TensorProto.FLOAT
_FLOAT16 = onnx.TensorProto.FLOAT16


def graph_precision(model: onnx.ModelProto) -> Precision:
    """ "fp16" if the graph's first input is float16, else "fp32"."""
    elem = model.graph.input[0].type.tensor_type.elem_type
    return "fp16" if elem == _FLOAT16 else "fp32"


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of a float32 graph: weights, activations, input and output in float16.

    Weights beyond the float16 range are clipped to +-65504 (and tiny ones to the smallest normal) by
    onnxruntime's converter; ops without a float16 form stay float32 behind casts. Metadata is kept.
    """
    import_onnxruntime()  # its converter: one line saying what to install when it is missing
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converter_log = logging.getLogger("onnxruntime.transformers.float16")
    level = converter_log.level
    converter_log.setLevel(logging.ERROR)  # it warns per clipped weight; we say it once below
    try:
        converted = convert_float_to_float16(model, keep_io_types=False, disable_shape_infer=False)
    finally:
        converter_log.setLevel(level)
    clipped = _count_outside_fp16(model)
    if clipped:
        log.warning("converting to fp16 clipped %d weights outside the float16 range (|w| > 65504)", clipped)
    return converted


def _count_outside_fp16(model: onnx.ModelProto) -> int:
    count = 0
    for tensor in model.graph.initializer:
        if tensor.data_type == _FLOAT:
            count += int(np.count_nonzero(np.abs(numpy_helper.to_array(tensor)) > 65504.0))
    return count


def _tensor_to_float32(tensor: onnx.TensorProto) -> None:
    if tensor.data_type != _FLOAT16:
        return
    array = numpy_helper.to_array(tensor).astype(np.float32)
    tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))


def _graph_to_float32(graph: onnx.GraphProto) -> None:
    for tensor in graph.initializer:
        _tensor_to_float32(tensor)
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        if value.type.tensor_type.elem_type == _FLOAT16:
            value.type.tensor_type.elem_type = _FLOAT
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _tensor_to_float32(attr.t)
            elif attr.type == onnx.AttributeProto.TENSORS:
                for t in attr.tensors:
                    _tensor_to_float32(t)
            elif attr.type == onnx.AttributeProto.GRAPH:
                _graph_to_float32(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    _graph_to_float32(g)
            elif attr.name in ("to", "dtype") and attr.type == onnx.AttributeProto.INT and attr.i == _FLOAT16:
                attr.i = _FLOAT


def to_float32(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 copy of a float16 graph (exact: every float16 value is a float32 value).

    Changes float16 initializers and constant attributes, ``Cast(to=FLOAT16)`` and
    ``dtype=FLOAT16`` attributes, and every float16 input/output/value_info, in the main graph and
    its subgraphs. Metadata is kept as is (including ``remaster.precision``, which describes the file).
    """
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    _graph_to_float32(converted.graph)
    onnx.checker.check_model(converted)
    return converted
