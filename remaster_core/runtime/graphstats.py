"""Count a model's arithmetic and estimate its activation memory, per input pixel, from the ONNX graph.

The shapes of every intermediate tensor are measured, not inferred: the graph is run once on the CPU
provider at a small probe size with every node output exposed (``onnx.shape_inference`` cannot follow
the shape arithmetic torch emits for reflection padding). Both figures scale with the pixel count, so
a probe of ``P x P`` pixels gives per-pixel numbers valid at any size (up to the padding to ``s``).

- FLOPs: 2 x multiply-adds of every ``Conv``/``ConvTranspose`` (from weight and output shapes) and
  ``MatMul``/``Gemm``; element-wise ops, padding and reshapes are not counted (they are a few percent
  of a conv net's arithmetic and do not run on the matmul units).
- Activation memory: the peak, over the nodes in graph order, of the bytes of all tensors alive at that
  node (produced and not yet consumed for the last time), plus the node's im2col workspace if it is a
  KxK convolution (``C_in/groups * K * K * H_out * W_out`` values). Weights are counted separately.
  This is an estimate of what one model run holds; onnxruntime's arena may round it up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from remaster_core.optional import import_onnxruntime
from remaster_core.runtime.model import ModelInfo

_NP_DTYPE = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16}


@dataclass(frozen=True)
class GraphStats:
    """Per-input-pixel cost of one model run (batch 1).

    Attributes:
        flops_per_pixel: 2 x multiply-adds of convs and matmuls, per input pixel.
        activation_bytes_per_pixel: estimated peak activation bytes per input pixel (see module doc).
        weight_bytes: bytes of all initializers.
        parameters: number of scalars in all initializers.
        conv_nodes: number of Conv/ConvTranspose nodes.
        probe_size: the P of the P x P probe the figures were measured at.
    """

    flops_per_pixel: float
    activation_bytes_per_pixel: float
    weight_bytes: int
    parameters: int
    conv_nodes: int
    probe_size: int

    def flops(self, height: int, width: int, frames: int = 1) -> float:
        """FLOPs of running ``frames`` frames of ``height x width`` (whole, untiled)."""
        return self.flops_per_pixel * height * width * frames


def _probe_outputs(model: onnx.ModelProto, info: ModelInfo, size: int) -> dict[str, np.ndarray]:
    """Run ``model`` on a (1, 3, size, size) probe with every node output exposed; name -> array."""
    ort = import_onnxruntime()

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    typed = onnx.shape_inference.infer_shapes(probe)
    elem_types = {v.name: v.type.tensor_type.elem_type for v in typed.graph.value_info}
    existing = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        if node.op_type == "Constant":
            continue
        for name in node.output:
            if name and name not in existing and elem_types.get(name, 0):
                probe.graph.output.append(onnx.helper.make_tensor_value_info(name, elem_types[name], None))
                existing.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    dtype = np.float16 if info.precision == "fp16" else np.float32
    x = np.full((1, 3, size, size), 0.5, dtype=dtype)
    names = [o.name for o in session.get_outputs()]
    arrays = session.run(names, {info.input_name: x})
    shapes = dict(zip(names, arrays))
    shapes[info.input_name] = x
    return shapes


def analyse_graph(model: onnx.ModelProto, info: ModelInfo, probe_size: int | None = None) -> GraphStats:
    """Measure FLOPs and activation memory per input pixel of ``model`` (see the module docstring).

    Args:
        model: the parsed graph (as ``open_model`` returns it).
        info: its ``ModelInfo`` (input name, precision, space-to-depth).
        probe_size: side of the square probe; default ``32 * s`` (at least 64).
    """
    s = info.convention.space_to_depth
    size = probe_size or max(64, 32 * s)
    size = -(-size // s) * s
    arrays = _probe_outputs(model, info, size)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    weights[node.output[0]] = numpy_helper.to_array(attr.t)

    def shape(name: str) -> tuple[int, ...] | None:
        if name in arrays:
            return tuple(arrays[name].shape)
        if name in weights:
            return tuple(weights[name].shape)
        return None

    macs = 0.0
    conv_nodes = 0
    workspace: dict[int, float] = {}
    for index, node in enumerate(model.graph.node):
        if node.op_type in ("Conv", "ConvTranspose"):
            conv_nodes += 1
            w_shape, out_shape, in_shape = shape(node.input[1]), shape(node.output[0]), shape(node.input[0])
            if w_shape is None or out_shape is None or in_shape is None:
                continue
            kernel = int(np.prod(w_shape[2:]))
            if node.op_type == "Conv":
                # weight (C_out, C_in/groups, kh, kw): each output value is C_in/groups * kh * kw MACs
                macs += float(np.prod(out_shape)) * w_shape[1] * kernel
                if kernel > 1:
                    itemsize = arrays[node.output[0]].itemsize
                    workspace[index] = w_shape[1] * kernel * float(np.prod(out_shape[2:])) * itemsize
            else:
                # ConvTranspose weight (C_in, C_out/groups, kh, kw): each input value scatters to
                # C_out/groups * kh * kw outputs
                macs += float(np.prod(in_shape)) * w_shape[1] * kernel
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = shape(node.input[0]), shape(node.output[0])
            if a is not None and out is not None:
                k = a[-2] if node.op_type == "Gemm" and _attr_int(node, "transA") else a[-1]
                macs += float(np.prod(out)) * k

    # Liveness over graph order: a tensor lives from its producer to its last consumer.
    produced: dict[str, int] = {info.input_name: -1}
    last_use: dict[str, int] = {}
    for index, node in enumerate(model.graph.node):
        for name in node.input:
            if name in arrays:
                last_use[name] = index
        if node.op_type != "Constant":
            for name in node.output:
                if name in arrays:
                    produced[name] = index
    end = len(model.graph.node)
    for out in model.graph.output:
        last_use[out.name] = end
    nbytes = {name: float(arrays[name].nbytes) for name in produced}
    peak = 0.0
    for index in range(len(model.graph.node)):
        live = sum(
            nbytes[name] for name, born in produced.items() if born <= index <= last_use.get(name, born)
        )
        peak = max(peak, live + workspace.get(index, 0.0))
    pixels = float(size * size)
    initializers = [weights[t.name] for t in model.graph.initializer]
    weight_bytes = int(sum(w.nbytes for w in initializers))
    parameters = int(sum(w.size for w in initializers))
    return GraphStats(
        flops_per_pixel=2.0 * macs / pixels,
        activation_bytes_per_pixel=peak / pixels,
        weight_bytes=weight_bytes,
        parameters=parameters,
        conv_nodes=conv_nodes,
        probe_size=size,
    )


def _attr_int(node: onnx.NodeProto, name: str) -> int:
    for attr in node.attribute:
        if attr.name == name:
            return int(attr.i)
    return 0
