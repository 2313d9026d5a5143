"""Helpers for the runtime tests: small stand-in generators exported to ONNX with the remaster metadata.

The stand-in has the real generator's shape (``training/model.py``): pixel-unshuffle by ``s`` ->
3x3 convs with reflection padding at 1/s resolution -> pixel-shuffle -> residual over the input. It is
small so each test runs in well under a second. Its receptive field is ``s * (n3x3 + 1) - 1`` input
pixels each side, as ``training.model.receptive_field`` counts it (checked by an impulse test).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from remaster_core.runtime import model as contract
from remaster_core.runtime.precision import to_float16


class StandIn(nn.Module):
    """(N, 3, H, W) -> (N, 3, H, W): x + pixel_shuffle(convs(pixel_unshuffle(x))).

    ``pads_internally``: reflect-pad to a multiple of ``s`` inside the graph and crop back (always
    padding, possibly by 0, so the exported graph pads for any size). Otherwise H and W must be
    multiples of ``s`` (the engine pads).
    """

    def __init__(
        self, s: int = 2, width: int = 8, convs: int = 2, seed: int = 0, pads_internally: bool = False
    ):
        super().__init__()
        torch.manual_seed(seed)
        self.s = s
        self.pads_internally = pads_internally
        self.head = nn.Conv2d(3 * s * s, width, 3, padding=1, padding_mode="reflect")
        self.body = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=1, padding_mode="reflect") for _ in range(convs)
        )
        self.tail = nn.Conv2d(width, 3 * s * s, 3, padding=1, padding_mode="reflect")
        self.n3x3 = convs + 2

    @property
    def receptive_field(self) -> int:
        return self.s * (self.n3x3 + 1) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.s
        h, w = x.shape[-2], x.shape[-1]
        y = x
        if self.pads_internally:
            y = F.pad(x, (0, (s - w % s) % s, 0, (s - h % s) % s), mode="reflect")
        f = self.head(F.pixel_unshuffle(y, s))
        for conv in self.body:
            f = F.relu(conv(f))
        r = F.pixel_shuffle(self.tail(f), s)
        if self.pads_internally:
            r = r[:, :, :h, :w]
        return x + 0.5 * r


class Overflow(nn.Module):
    """Identity in exact arithmetic, but its activations reach 90000 x the input: above float16's 65504
    for inputs over ~0.73, so its fp16 run gives Inf/NaN there. Goes through a pixel-(un)shuffle, as G
    does (data movement that onnxruntime's CPU provider runs in float16)."""

    s = 2
    receptive_field = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * 300.0 * 300.0
        y = F.pixel_shuffle(F.pixel_unshuffle(y, 2), 2)
        return y / 300.0 / 300.0


def export(net: nn.Module, path: Path, *, fixed_shape: bool = False, channels: int = 3) -> Path:
    """Export ``net`` to ``path`` as ONNX opset 17 with dynamic N, H, W (no metadata yet)."""
    net.eval()
    s = getattr(net, "s", 2)
    dummy = torch.rand(1, channels, 8 * s, 8 * s)
    axes = None if fixed_shape else {"input": {0: "n", 2: "h", 3: "w"}, "output": {0: "n", 2: "h", 3: "w"}}
    with warnings.catch_warnings():  # the tracer's notes on shape arithmetic: expected here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            dummy,
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return path


def metadata(s: int, rf: int, **overrides: str) -> dict[str, str]:
    """The full remaster metadata for a model with space-to-depth ``s`` and receptive field ``rf``."""
    props = {
        contract.KEY_FORMAT_VERSION: contract.FORMAT_VERSION,
        contract.KEY_MODEL_NAME: "stand-in",
        contract.KEY_MODEL_VERSION: "test-1",
        contract.KEY_PRESET: "test",
        contract.KEY_CONFIG_HASH: "0" * 16,
        contract.KEY_COLOR: contract.COLOR_CONVENTION,
        contract.KEY_VALUE_RANGE: contract.VALUE_RANGE,
        contract.KEY_SPACE_TO_DEPTH: str(s),
        contract.KEY_RECEPTIVE_FIELD: str(rf),
        contract.KEY_PRECISION: "fp32",
    }
    props.update(overrides)
    return props


def stamp(path: Path, props: dict[str, str] | None, *, fp16: bool = False, sign: bool = True) -> Path:
    """Rewrite the ONNX file at ``path`` with ``props`` as metadata (optionally converted to fp16 and
    signed with ``remaster.sha256_weights``), as ``export/`` will."""
    model = onnx.load(str(path))
    if fp16:
        model = to_float16(model)
    del model.metadata_props[:]
    if props is not None:
        props = dict(props)
        if fp16:
            props[contract.KEY_PRECISION] = "fp16"
        if sign:
            props[contract.KEY_SHA256_WEIGHTS] = contract.weights_sha256(model)
        onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def make_model(
    folder: Path,
    name: str = "standin.onnx",
    *,
    net: nn.Module | None = None,
    fp16: bool = False,
    props: dict[str, str] | None = None,
    with_metadata: bool = True,
) -> tuple[Path, nn.Module]:
    """Export a stand-in (default ``StandIn()``) with full metadata into ``folder``; (path, net)."""
    net = net if net is not None else StandIn()
    path = export(net, folder / name)
    if with_metadata:
        extra = {contract.KEY_PADS_INTERNALLY: "1"} if getattr(net, "pads_internally", False) else {}
        meta = props if props is not None else metadata(net.s, net.receptive_field, **extra)
        stamp(path, meta, fp16=fp16)
    return path, net


def torch_reference(net: nn.Module, frames_nhwc, s: int):
    """What the engine must return: ``net`` on the frames reflect-padded to a multiple of ``s``
    (bottom/right), cropped back; float32 (N, H, W, 3) numpy."""
    x = torch.from_numpy(frames_nhwc).permute(0, 3, 1, 2).contiguous()
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % s, (-w) % s
    if (pad_h or pad_w) and not getattr(net, "pads_internally", False):
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    with torch.no_grad():
        y = net(x)[:, :, :h, :w]
    return y.permute(0, 2, 3, 1).numpy()
