"""G -> ONNX: dynamic N, H, W; opset 17; ``onnx.checker`` (full check) clean; fp16 through the runtime.

Exporter: the legacy TorchScript-based ``torch.onnx.export(..., dynamo=False)``. Both exporters were
tried on ``lite`` with torch 2.13 and give the same parity (max abs ~3.6e-7 at 37x53, 5x5 and a batch
of 2). The legacy one is chosen because

- it exports any-size inputs as they are: G always reflect-pads by the computed amount (possibly 0,
  ``training/model.py``), which the tracer records as shape arithmetic, so the graph pads H and W to
  a multiple of ``s`` itself (``remaster.pads_internally = "1"``) and needs no bound on H, W;
- it takes ~0.6 s for ``lite`` where the dynamo exporter takes ~6 s (``torch.export`` plus
  onnxscript's translation and optimisation), which matters for the test suite and the farm;
- its graph is plain ONNX ops (Conv, Pad, DepthToSpace, Reshape/Transpose for the unshuffle, Slice,
  Relu, Mul, Concat), which TensorRT and older onnxruntime builds take.

It is deprecated upstream; ``pyproject.toml`` pins torch < 2.14, where it still exists. When torch is
raised past its removal, switch to ``dynamo=True`` with ``dynamic_shapes={"x": {0: Dim("N"), 2:
Dim("H", min=s + 1), 3: Dim("W", min=s + 1)}}`` (checked to export and match on 2.13) and keep the
parity tests: they are what says the switch is safe.

Opset 17 is the lowest the contract allows and the widest-supported (TensorRT 8.6+, onnxruntime 1.14+).
fp16: ``remaster_core.runtime.precision.to_float16`` (onnxruntime's converter, weights and I/O in
float16, ops without a float16 kernel kept in float32 behind casts) so that the file and the engine's
in-memory conversion are the same graph.

``write_onnx`` writes atomically and refuses to publish a file that fails the runtime's own checks
(``open_model``: metadata contract, I/O names/dtypes, dynamic axes, weights hash) or the parity bar.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch

from export.parity import ParityFrame, ParityReport, onnx_parity
from remaster_core.errors import InputError, ModelError
from remaster_core.io.atomic import atomic_path
from remaster_core.runtime.model import INPUT_NAME, OUTPUT_NAME, ModelInfo, open_model
from remaster_core.runtime.precision import to_float16
from training.model import Generator, min_input_size

log = logging.getLogger("remaster.export")

OPSET = 17
EXPORTER = "legacy torch.onnx exporter (dynamo=False)"
DYNAMIC_AXES = {0: "N", 2: "H", 3: "W"}


def max_opset() -> int:
    """The highest opset both the legacy exporter of the installed torch and the installed onnx write."""
    from torch.onnx import _constants  # private, but the only statement of the legacy exporter's range

    exporter = int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", OPSET))
    return min(exporter, int(onnx.defs.onnx_opset_version()))


def check_opset(opset: int) -> None:
    """Raise ``InputError`` (naming ``--opset``) unless ``17 <= opset <= max_opset()``."""
    if opset < 17:
        raise InputError(f"--opset must be 17 or later (the runtime contract), got {opset}")
    if opset > max_opset():
        raise InputError(
            f"--opset {opset}: the installed torch exporter writes at most opset {max_opset()}; pass 17 (the "
            f"default) to {max_opset()}"
        )


def exported_with(opset: int = OPSET) -> str:
    """``"torch X, onnx Y, <exporter>, opset N"`` for the ``remaster.exported_with`` metadata."""
    return f"torch {torch.__version__}, onnx {onnx.__version__}, {EXPORTER}, opset {opset}"


def export_onnx(generator: Generator, *, opset: int = OPSET) -> onnx.ModelProto:
    """Export G to an in-memory float32 ONNX graph, without metadata.

    Input ``input`` and output ``output``, both float32 (N, 3, H, W) with symbolic N, H, W; any
    H, W >= ``min_input_size(cfg)`` works (the graph pads to a multiple of ``s`` and crops back).

    Raises:
        InputError: an opset below 17 or above ``max_opset()``, or a G whose images are not 3-channel RGB.
        ModelError: the exported graph fails ``onnx.checker.check_model(full_check=True)``.
    """
    check_opset(opset)
    cfg = generator.cfg
    if cfg.in_channels != 3:
        raise InputError(
            f"this generator has {cfg.in_channels} image channels; the runtime contract is RGB (3): "
            "only RGB generators can be exported"
        )
    s = cfg.space_to_depth
    # Odd sizes that are not multiples of s: the padding is traced as real shape arithmetic.
    sample = torch.rand(1, 3, max(8 * s + 1, min_input_size(cfg)), max(8 * s + 3, min_input_size(cfg)))
    buffer = io.BytesIO()
    generator = generator.eval()
    with warnings.catch_warnings(record=True) as caught:
        # The legacy exporter's deprecation notice and its constant-folding notes about the reflect
        # padding's strided slices: expected, and checked by parity rather than by eye.
        warnings.simplefilter("always")
        torch.onnx.export(
            generator,
            (sample,),
            buffer,  # type: ignore[arg-type]  # the legacy exporter writes to file objects too
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: DYNAMIC_AXES, OUTPUT_NAME: DYNAMIC_AXES},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    log.debug("torch.onnx.export: %d warnings (deprecation, constant folding notes)", len(caught))
    model = onnx.load_from_string(buffer.getvalue())
    model.producer_name = "remaster export"
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the exported graph fails onnx.checker ({exc}); this is an export bug") from exc
    return model


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of a float32 graph (weights, activations, input and output), checked.

    Uses the runtime's converter (``remaster_core.runtime.precision.to_float16``) so that an fp16 file
    and the engine's in-memory fp16 conversion of an fp32 file are the same graph.
    """
    converted = to_float16(model)
    try:
        onnx.checker.check_model(converted, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the float16 graph fails onnx.checker ({exc}); this is an export bug") from exc
    return converted


def write_onnx(
    model: onnx.ModelProto,
    path: str | os.PathLike[str],
    frames: Sequence[ParityFrame],
    references: Sequence[np.ndarray],
    *,
    tolerance: float | None = None,
) -> tuple[ModelInfo, ParityReport]:
    """Write a stamped model to ``path`` atomically, after checking it as the runtime will read it.

    The bytes go to a temporary file beside ``path``; that file is opened with the runtime's
    ``open_model`` and run by plain onnxruntime on ``frames``; only when both pass is it renamed onto
    ``path``. On failure nothing is written (an older file at ``path`` stays as it was).

    Args:
        model: the graph with its metadata (``metadata.stamp``).
        frames, references: parity inputs and the PyTorch G's outputs on them (``export.parity``).
        tolerance: the parity bar; default by the graph's precision (``FP32_TOLERANCE``/``FP16_TOLERANCE``).

    Returns:
        (info, report): ``open_model``'s description of the written file, and the parity report.

    Raises:
        ModelError: the runtime refuses the file, or parity fails (the message carries the report).
        MediaError: the disk is full.
    """
    final = Path(path)
    data = model.SerializeToString()
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
        info, _ = open_model(tmp)
        report = onnx_parity(tmp, frames, references, tolerance)
        if not report.passed:
            raise ModelError(
                f"not writing {final}: the exported model does not match PyTorch within the bar\n"
                + "\n".join(report.lines())
            )
    return dataclasses.replace(info, path=final), report
