"""``remaster export``: a trained generator -> an ONNX model for the runtime (+ TorchScript for Nuke).

Example::

    remaster export runs/show-a --out models/show-a.onnx
    remaster export runs/show-a/checkpoints/step_000500.safetensors --out g16.onnx --fp16 \\
        --torchscript g.pt --name show-a --version v3 --parity-frames plate.1001.exr plate.1040.exr

This module imports no torch: the ``export`` package (which needs the ``train`` extra) is imported
inside ``run``, so ``remaster --help`` works on a render node that has only the runtime.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from remaster_core.cli.argtypes import output_path
from remaster_core.optional import import_onnxruntime, import_torch

log = logging.getLogger("remaster.export")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``export`` verb to the top-level subparsers."""
    p = subparsers.add_parser(
        "export",
        help="export a trained generator to ONNX (and TorchScript for Nuke), with a parity check",
        description=(
            "Export the generator of a training run folder (its best checkpoint; the newest step checkpoint "
            "if there is no best) or of a checkpoint file to ONNX: dynamic batch/height/width, opset 17+, "
            "the remaster metadata the runtime reads. The exported model is checked against PyTorch on "
            "random and real frames (max abs error: fp32 <= 1e-4, fp16 <= 4e-3) before it is written; the "
            "report is printed and saved as MODEL.onnx.parity.json. Needs the train extra (torch)."
        ),
    )
    p.add_argument(
        "source", type=Path, metavar="RUN_OR_CKPT", help="training run folder or .safetensors checkpoint"
    )
    p.add_argument("--out", required=True, type=output_path, help="the ONNX model file to write (.onnx)")
    p.add_argument("--fp16", action="store_true", help="write a float16 model (weights and input/output)")
    p.add_argument(
        "--torchscript", nargs="?", type=Path, const=True, default=None, metavar="PATH",
        help="also write a TorchScript model for Nuke's CatFileCreator/Inference (default path: OUT with .pt)",
    )  # fmt: skip
    p.add_argument("--name", default=None, help="model name (default: the run folder's name)")
    p.add_argument(
        "--version", default=None, help="model version (default: <stage>-step<N> of the checkpoint)"
    )
    p.add_argument(
        "--parity-frames", nargs="+", type=Path, default=(), metavar="IMAGE",
        help="real frames (EXR/DPX/TIFF/PNG) for the parity check (default: two scikit-image photographs)",
    )  # fmt: skip
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or later (default 17)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Export as ``args`` say, print the parity report; returns the exit code.

    Needs torch (the train extra) and onnxruntime (the parity check); says which is missing first.
    """
    import_torch()
    import_onnxruntime()
    from export import export_model

    torchscript = args.out.with_suffix(".pt") if args.torchscript is True else args.torchscript
    result = export_model(
        args.source,
        args.out,
        fp16=args.fp16,
        torchscript=torchscript,
        name=args.name,
        version=args.version,
        parity_images=list(args.parity_frames),
        opset=args.opset,
    )
    identity = result.identity
    print(f"source:  {result.source.path} ({result.source.how})")
    print(f"model:   {result.onnx} ({result.precision}, sha256 {result.sha256})")
    print(
        f"         {identity.name} {identity.version}, preset {identity.preset}, config {identity.config_hash[:16]}"
    )
    for report in result.reports:
        for line in report.lines():
            print(line)
    print(f"report:  {result.report_path}")
    if result.torchscript is not None:
        print(
            f"torchscript: {result.torchscript}: make the .cat file in Nuke with CatFileCreator (docs/export.md):"
        )
        print(f"  Torchscript File {result.torchscript}, Channels In rgb, Channels Out rgb, Output Scale 1,")
        print(f"  Model Id {identity.name}-{identity.version}")
    return 0
