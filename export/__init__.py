"""Export: a trained generator checkpoint -> an ONNX model for the runtime (+ TorchScript for Nuke).

    result = export_model("runs/show-a", "show-a.onnx", torchscript="show-a.pt")

One job per module:

- ``metadata``: which checkpoint (run folder -> best, else newest step), the model's name, version,
  preset and config hash, the ``metadata_props`` of the runtime contract, ``stamp``;
- ``onnx_export``: G -> ONNX (legacy exporter, dynamic N/H/W, opset 17, full checker), fp16, and the
  checked atomic write;
- ``torchscript``: the Nuke Inference-node wrapper, scripted, saved, reloaded and checked;
- ``parity``: frames (random sizes, real images), comparison with the PyTorch G, the report.

``export_model`` chains them. The parity report is written beside the model as
``<model>.onnx.parity.json`` (not into the model's metadata: it names the file's sha256, which the file
cannot hold, and the contract's weights hash would have to be recomputed after it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch

from export.metadata import (
    CheckpointSource,
    ModelIdentity,
    colour_metadata,
    generalisation_warnings,
    grain_metadata,
    guard_metadata,
    identify,
    model_metadata,
    resolve_checkpoint,
    stamp,
)
from export.metadata import value_range as metadata_value_range
from export.onnx_export import OPSET, check_opset, export_onnx, exported_with, to_fp16, write_onnx
from export.parity import ParityReport, parity_frames, reference_outputs, write_report
from export.torchscript import save_torchscript
from remaster_core.errors import InputError, ModelError
from remaster_core.io.outdir import ensure_folder, refuse_overwrite
from remaster_core.runtime import model as contract
from remaster_core.runtime.model import Precision
from training.checkpoint import load_checkpoint
from training.colour_init import checkpoint_guard, set_grade
from training.model import build_generator

log = logging.getLogger("remaster.export")

REPORT_SUFFIX = ".parity.json"


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote.

    Attributes:
        onnx: the model file; sha256: its bytes' hex sha256; precision: its I/O dtype.
        metadata: its ``metadata_props`` (including ``remaster.sha256_weights``).
        source: the checkpoint taken and how; identity: name, version, preset, hashes.
        torchscript: the TorchScript file for Nuke, or None.
        reports: the parity reports (onnx, then torchscript fp32 and fp16 when written).
        report_path: the JSON report beside the model.
    """

    onnx: Path
    sha256: str
    precision: Precision
    metadata: dict[str, str]
    source: CheckpointSource
    identity: ModelIdentity
    torchscript: Path | None
    reports: list[ParityReport]
    report_path: Path


def report_path_for(model_path: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.onnx.parity.json``."""
    path = Path(model_path)
    return path.with_name(path.name + REPORT_SUFFIX)


def _check_outputs(
    out: Path, torchscript: Path | None, inputs: Sequence[str | os.PathLike[str]] = ()
) -> None:
    if out.suffix.lower() != ".onnx":
        raise InputError(
            f"--out {out}: the model file name must end in .onnx (e.g. {out.with_suffix('.onnx')})"
        )
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give the model file's path, e.g. {out / 'model.onnx'}")
    if torchscript is not None:
        if torchscript.is_dir():
            raise InputError(f"--torchscript {torchscript} is a folder; give a file path, e.g. model.pt")
        if torchscript.resolve() == out.resolve():
            raise InputError(
                f"--torchscript {torchscript} is the ONNX path: give the TorchScript file its own name"
            )
    written = [out, report_path_for(out), *([torchscript] if torchscript is not None else [])]
    refuse_overwrite(written, inputs, what="an input of the export")
    ensure_folder(out.parent, flag=f"--out {out}")
    if torchscript is not None:
        ensure_folder(torchscript.parent, flag=f"--torchscript {torchscript}")


def _header(
    result_onnx: Path, source: CheckpointSource, identity: ModelIdentity, props: dict[str, str]
) -> dict[str, Any]:
    return {
        "model": str(result_onnx),
        "sha256": contract.file_sha256(result_onnx),
        "source": {
            "checkpoint": str(source.path),
            "how": source.how,
            "fallback_to_step_checkpoint": source.fallback,
            "sha256": identity.checkpoint_sha256,
            "step": identity.step,
            "stage": identity.stage,
        },
        "metadata": props,
    }


def export_model(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fp16: bool = False,
    torchscript: str | os.PathLike[str] | None = None,
    name: str | None = None,
    version: str | None = None,
    parity_images: Sequence[str | os.PathLike[str]] = (),
    opset: int = OPSET,
) -> ExportResult:
    """Export the generator of a training run folder or checkpoint file to ONNX (and TorchScript).

    Args:
        source: a run folder (its best checkpoint, else its newest step checkpoint) or a checkpoint file.
        out: the ``.onnx`` file to write (replaced atomically if it exists).
        fp16: write a float16 model (weights and I/O) instead of float32.
        torchscript: also write the Nuke Inference-node TorchScript file there (always float32 weights:
            Nuke's "Optimize for Speed and Memory" makes it half itself).
        name, version: override the model name (default: the run folder's name) and version
            (default ``<stage>-step<N>``).
        parity_images: real frames for the parity check (default: two scikit-image photographs).
        opset: ONNX opset (>= 17).

    The graph is stamped ``remaster.pads_internally = "1"``: G always reflect-pads to a multiple of ``s``
    (``training/model.py``), and the parity frames whose sides are not multiples of ``s``, run by plain
    onnxruntime with no padding around the graph, show that the exported graph does it too.

    Raises:
        InputError: bad paths or options, no checkpoint in a run folder, unreadable parity images.
        ModelError: a refused checkpoint (``CheckpointError``), a graph the runtime refuses, a failed
            parity check; nothing is written for the artefact that failed.
    """
    out_path = Path(out)
    ts_path = Path(torchscript) if torchscript is not None else None
    _check_outputs(out_path, ts_path, inputs=[source, *parity_images])
    check_opset(opset)  # before the checkpoint is read
    chosen = resolve_checkpoint(source)
    checkpoint = load_checkpoint(chosen.path)
    generator = build_generator(checkpoint.generator_config)
    generator.load_state_dict(checkpoint.generator)
    guard = checkpoint_guard(checkpoint.extra, str(chosen.path))
    if guard is not None and generator.grade is not None:
        set_grade([generator], guard.grade)  # the grade of every film shot (training.colour_init)
    generator.eval()
    for note in generalisation_warnings(checkpoint):
        log.warning("%s: %s", chosen.path, note)
    cfg = checkpoint.generator_config
    identity = identify(checkpoint, chosen, name=name, version=version)
    log.info(
        "exporting %s (%s): %s %s, preset %s, s=%d",
        chosen.path, chosen.how, identity.name, identity.version, identity.preset, cfg.space_to_depth,
    )  # fmt: skip

    frames = parity_frames(cfg.space_to_depth, parity_images)
    references = reference_outputs(generator, frames)

    precision: Precision = "fp16" if fp16 else "fp32"
    graph: onnx.ModelProto = export_onnx(generator, opset=opset)
    if fp16:
        graph = to_fp16(graph)
    provenance = exported_with(opset)
    props = model_metadata(identity, cfg, precision=precision, pads_internally=True, exported_with=provenance)
    props.update(grain_metadata(chosen, checkpoint.extra))
    props.update(guard_metadata(checkpoint))
    props.update(colour_metadata(checkpoint, chosen))
    info, onnx_report = write_onnx(stamp(graph, props), out_path, frames, references)
    reports = [onnx_report]
    metadata = dict(info.metadata)
    report_file = report_path_for(out_path)
    header = _header(out_path, chosen, identity, metadata)
    write_report(report_file, header, reports)

    if ts_path is not None:
        ts_props = model_metadata(
            identity,
            cfg,
            precision="fp32",
            pads_internally=True,
            exported_with=f"torch {torch.__version__}, torch.jit.script",
        )
        try:
            reports += save_torchscript(
                generator, ts_path, ts_props, frames, references, metadata_value_range(ts_props)
            )
        except ModelError as exc:
            raise ModelError(
                f"{exc}\n(the ONNX model {out_path} was written and passed its own check)"
            ) from exc
        header["torchscript"] = {"path": str(ts_path), "sha256": contract.file_sha256(ts_path)}
        write_report(report_file, header, reports)

    return ExportResult(
        onnx=out_path,
        sha256=info.sha256,
        precision=precision,
        metadata=metadata,
        source=chosen,
        identity=identity,
        torchscript=ts_path,
        reports=reports,
        report_path=report_file,
    )


__all__ = ["ExportResult", "export_model", "report_path_for"]
