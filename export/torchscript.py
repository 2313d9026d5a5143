"""G -> TorchScript for Nuke's Inference node (a ``.cat`` file made with CatFileCreator; docs/architecture.md section 7).

The contract of Nuke's Inference node, as Foundry's ".cat File Creation Reference" states it, and how
``NukeInference`` meets it:

- ``forward`` takes one tensor (1, C, H, W) and returns one tensor: ``forward(input: Tensor) -> Tensor``.
- Normalisation happens inside ``forward``: Nuke hands over its pixel values unchanged. G reads RGB
  code values 0..1 (``remaster.value_range``); the wrapper maps 0..1 onto that range and back (the
  identity today, kept so that a change of range cannot be forgotten here).
- Tensors created in ``forward`` follow the input's dtype and device, so Nuke's "Use GPU if available"
  (``.cuda()``) and "Optimize for Speed and Memory" (``.half()``) work: neither the wrapper nor G
  creates a tensor of a fixed dtype (only Python float scalars, which keep the tensor's dtype).
- Channels: the RGB model runs on the first 3 channels; any further channels (alpha when the
  CatFileCreator's "Channels In" is ``rgba``) are passed through unchanged, so the output has the
  input's channels. Fewer than 3 channels is an error. Recommended: Channels In ``rgb``, Channels Out
  ``rgb``, Output Scale 1 (``docs/export.md``).
- Sizes: any H, W >= ``s + 1`` (G reflect-pads to a multiple of ``s`` internally and crops back);
  ``torch.jit.script`` keeps that shape logic (tracing would freeze it at the traced size).

The file also carries the model's remaster metadata as the extra file ``remaster_metadata.json``
(``torch.jit.load(path, _extra_files={...})`` reads it; Nuke ignores it).

What is checked here (tests and ``save_torchscript``): the saved file loads with ``torch.jit.load``
and matches the eager G in float32, and with ``.half()`` in float16 on the CPU, at several sizes
including odd ones and with an alpha channel. Not checked: Nuke itself (proprietary, not installed),
CUDA, and loading in Nuke's own libtorch, which is older than the torch that writes the file (Foundry's
guide: Nuke 14 runs PyTorch 1.12): a TorchScript file from a newer torch may be refused by an older
one. If CatFileCreator refuses the file, script it again with the torch version of your Nuke.

``torch.jit`` is deprecated upstream (torch 2.13 warns on ``script``/``save``/``load``) but TorchScript
is what Nuke's CatFileCreator reads; ``pyproject.toml`` pins torch < 2.14, where it works. The
warnings are silenced here (``_quiet_jit``) so that the export's output stays readable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.parity import ParityFrame, ParityReport, torchscript_parity
from remaster_core.errors import ModelError
from remaster_core.io.atomic import atomic_path
from training.model import Generator

METADATA_FILE = "remaster_metadata.json"


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """Silence torch.jit's deprecation notices (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit\.")
        yield


class NukeInference(nn.Module):
    """Nuke's Inference-node contract around G: (1, C >= 3, H, W) 0..1 -> (1, C, H, W), RGB enhanced.

    Args:
        generator: G (its weights are shared, not copied).
        value_range: (lo, hi) code values G reads and writes (``remaster.value_range``).
    """

    def __init__(self, generator: Generator, value_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        self.generator = generator
        self.lo = float(value_range[0])
        self.span = float(value_range[1] - value_range[0])
        self.rgb = int(generator.cfg.in_channels)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # "input": the name in Nuke's guide
        if input.dim() != 4 or input.shape[1] < self.rgb:
            raise ValueError(
                f"remaster expects a (1, C, H, W) image with at least {self.rgb} channels (RGB first), "
                f"got shape {list(input.shape)}: set Channels In to rgb or rgba on the CatFileCreator"
            )
        rgb = input[:, : self.rgb]
        out = self.generator(rgb * self.span + self.lo)
        out = (out - self.lo) / self.span
        if input.shape[1] > self.rgb:
            out = torch.cat([out, input[:, self.rgb :]], dim=1)
        return out


def script_for_nuke(
    generator: Generator, value_range: tuple[float, float] = (0.0, 1.0)
) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of ``NukeInference(generator)`` in eval mode (scripted: sizes stay dynamic)."""
    with _quiet_jit():
        return torch.jit.script(NukeInference(generator.eval(), value_range).eval())


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The remaster metadata stored in a TorchScript file written by ``save_torchscript``."""
    extra = {METADATA_FILE: ""}
    with _quiet_jit():
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return dict(json.loads(extra[METADATA_FILE]))


def save_torchscript(
    generator: Generator,
    path: str | os.PathLike[str],
    metadata: Mapping[str, str],
    frames: Sequence[ParityFrame],
    references: Sequence[np.ndarray],
    value_range: tuple[float, float] = (0.0, 1.0),
) -> list[ParityReport]:
    """Script G for Nuke, save it to ``path`` atomically, load it back and check parity.

    The saved file is loaded with ``torch.jit.load`` and compared with ``references`` (the eager G,
    float32) on every frame in float32 (bar ``FP32_TOLERANCE``), and on the random frames in float16
    after ``.half()`` (bar ``FP16_TOLERANCE``; half on the CPU, as far as a CPU can show Nuke's fp16
    path). Only when both pass is the file renamed onto ``path``.

    Args:
        metadata: the model's remaster metadata (stored as ``remaster_metadata.json`` in the file).
        frames, references: as for ``export.parity.run_parity``.

    Returns:
        The two parity reports (``torchscript`` fp32, ``torchscript-fp16``).

    Raises:
        ModelError: parity fails (the message carries the report). MediaError: disk full.
    """
    final = Path(path)
    scripted = script_for_nuke(generator, value_range)
    extra = {METADATA_FILE: json.dumps(dict(metadata), sort_keys=True, indent=1)}
    half_pairs = [(f, r) for f, r in zip(frames, references, strict=True) if f.kind == "random"]
    with atomic_path(final) as tmp, _quiet_jit():
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files=extra)
        tmp.write_bytes(buffer.getvalue())
        reports = [
            torchscript_parity(torch.jit.load(str(tmp), map_location="cpu"), frames, references),
            torchscript_parity(
                torch.jit.load(str(tmp), map_location="cpu"),
                [f for f, _ in half_pairs],
                [r for _, r in half_pairs],
                half=True,
                target="torchscript-fp16",
            ),
        ]
        failed = [r for r in reports if not r.passed]
        if failed:
            raise ModelError(
                f"not writing {final}: the TorchScript model does not match PyTorch within the bar\n"
                + "\n".join(line for r in failed for line in r.lines())
            )
    return reports
