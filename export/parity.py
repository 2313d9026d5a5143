"""Parity of an exported model with the PyTorch generator it came from: frames, comparison, report.

The reference is always the eager PyTorch G in float32 on the CPU. An exported model is run on the
same frames and compared by the max (and mean) absolute difference of the outputs, in the model's code
values (0..1 in, unclamped out). The bars:

- fp32 (ONNX through onnxruntime, or TorchScript): max abs <= ``FP32_TOLERANCE`` = 1e-4. Measured
  with torch 2.13 / onnxruntime 1.32 on the CPU: ~3e-7 (ONNX) and 0 (TorchScript) on ``lite``.
- fp16 (an fp16 ONNX file, or the TorchScript module run with ``.half()``): max abs <=
  ``FP16_TOLERANCE`` = 4e-3, and never NaN/Inf. Measured on ``lite`` and small configs with random
  weights (outputs spanning -1..1.9, wider than a trained G's): ONNX fp16 on onnxruntime's CPU
  provider 1.3e-3 max (mean 1.6e-4), TorchScript ``.half()`` on the CPU 1.8e-3. Half of the float16
  step at 1..2 is already 4.9e-4, so the bound leaves about 2x headroom over what was seen; a deep
  trained model (``paper``) accumulates more rounding and may need the fp32 file (the engine then runs
  fp16 itself, with its fp32 redo of any frame that overflows).

Frames (``parity_frames``): random frames of several sizes (the smallest G accepts, odd sizes that are
not multiples of ``s``, a batch of 2, a multiple of ``s``), and real images: files the caller names
(e.g. a frame of the show or of a ``remaster synth`` reel) or, by default, two photographs shipped
with scikit-image. Real frames are centre-cropped to at most ``REAL_CROP`` (odd sizes, so the
padding path is exercised, and so that the check stays short: the ``paper`` preset takes ~15 s per
real frame and target on 2 CPU cores).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from remaster_core.io.atomic import write_json_atomic
from remaster_core.io.images import read_image
from remaster_core.progress import progress
from remaster_core.runtime.model import Precision
from training.model import Generator

FP32_TOLERANCE = 1e-4
FP16_TOLERANCE = 4e-3
REAL_CROP = (181, 243)
"""Largest (H, W) of a real parity frame: odd, so never a multiple of ``s``."""

FrameKind = Literal["random", "real"]


@dataclass(frozen=True)
class ParityFrame:
    """One model input for the parity check.

    Attributes:
        name: for the report (``random-odd``, ``astronaut``, a file name).
        kind: ``random`` (uniform 0..1 noise) or ``real`` (an image).
        pixels: float32 (N, 3, H, W), RGB code values 0..1.
    """

    name: str
    kind: FrameKind
    pixels: np.ndarray


@dataclass(frozen=True)
class ParityCase:
    """The comparison on one frame: ``shape`` (N, 3, H, W), max and mean absolute error, all finite."""

    name: str
    kind: FrameKind
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    finite: bool


@dataclass(frozen=True)
class ParityReport:
    """Parity of one exported artefact with the PyTorch G.

    Attributes:
        target: what was checked (``"onnx"``, ``"torchscript"``, ``"torchscript-fp16"``).
        precision: the arithmetic of the target (``"fp32"`` or ``"fp16"``).
        tolerance: the bar on every case's max abs error.
        runtime: what ran the target (library versions, provider).
        cases: one per frame.
    """

    target: str
    precision: Precision
    tolerance: float
    runtime: str
    cases: tuple[ParityCase, ...] = field(default_factory=tuple)

    @property
    def max_abs(self) -> float:
        """The largest max abs error over the cases (inf when a case had NaN/Inf)."""
        return max((c.max_abs if c.finite else float("inf") for c in self.cases), default=0.0)

    @property
    def passed(self) -> bool:
        """Every case finite and within ``tolerance`` (and at least one case)."""
        return bool(self.cases) and all(c.finite and c.max_abs <= self.tolerance for c in self.cases)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (a case with NaN/Inf reports ``max_abs``/``mean_abs`` as null)."""
        return {
            "target": self.target,
            "precision": self.precision,
            "tolerance": self.tolerance,
            "runtime": self.runtime,
            "passed": self.passed,
            "max_abs": self.max_abs if np.isfinite(self.max_abs) else None,
            "cases": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "shape": list(c.shape),
                    "max_abs": c.max_abs if c.finite else None,
                    "mean_abs": c.mean_abs if c.finite else None,
                    "finite": c.finite,
                }
                for c in self.cases
            ],
        }

    def lines(self) -> list[str]:
        """A human-readable report: a header, then one line per frame."""
        verdict = "PASS" if self.passed else "FAIL"
        head = (
            f"parity {self.target} ({self.precision}, {self.runtime}): max abs {self.max_abs:.3g} "
            f"<= {self.tolerance:g}? {verdict}"
        )
        body = [
            f"  {c.kind:6s} {c.name:24s} {'x'.join(str(d) for d in c.shape):>16s}  "
            + (f"max abs {c.max_abs:.3g}  mean abs {c.mean_abs:.3g}" if c.finite else "NaN/Inf in output")
            for c in self.cases
        ]
        return [head, *body]


def compare(frame: ParityFrame, reference: np.ndarray, output: np.ndarray) -> ParityCase:
    """Compare a target's output with the reference on ``frame`` (both (N, 3, H, W), any float dtype)."""
    if output.shape != reference.shape:
        raise ValueError(
            f"{frame.name}: output shape {output.shape} differs from the reference {reference.shape}"
        )
    out = output.astype(np.float32)
    finite = bool(np.isfinite(out).all())
    diff = np.abs(out - reference.astype(np.float32))
    return ParityCase(
        name=frame.name,
        kind=frame.kind,
        shape=tuple(int(d) for d in frame.pixels.shape),
        max_abs=float(diff.max()) if finite else float("inf"),
        mean_abs=float(diff.mean()) if finite else float("inf"),
        finite=finite,
    )


def random_frames(space_to_depth: int, seed: int = 0) -> list[ParityFrame]:
    """Uniform 0..1 frames of sizes that test the dynamic axes for a G with factor ``s``.

    The smallest input G accepts (``s + 1`` square), odd sizes (not multiples of ``s``), a batch of 2
    with one odd side, and a multiple of ``s`` (no padding). float32 (N, 3, H, W).
    """
    s = space_to_depth
    shapes = {
        "random-smallest": (1, s + 1, s + 1),
        "random-odd": (1, 8 * s + 1, 12 * s + 3),
        "random-batch2": (2, 6 * s + 2, 5 * s + 1),
        "random-multiple": (1, 16 * s, 8 * s),
    }
    rng = np.random.default_rng(seed)
    return [
        ParityFrame(name, "random", rng.random((n, 3, h, w), dtype=np.float32))
        for name, (n, h, w) in shapes.items()
    ]


def centre_crop(image: np.ndarray, size: tuple[int, int] = REAL_CROP) -> np.ndarray:
    """The centre ``min(H, size[0]) x min(W, size[1])`` of an (H, W, C) image."""
    h, w = image.shape[:2]
    ch, cw = min(h, size[0]), min(w, size[1])
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def _nchw(image_hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_hwc.transpose(2, 0, 1)[None], dtype=np.float32)


def image_frames(
    paths: Sequence[str | os.PathLike[str]], crop: tuple[int, int] = REAL_CROP
) -> list[ParityFrame]:
    """Real frames from image files (read with OpenImageIO as RGB, values as stored), centre-cropped.

    Values outside 0..1 (float EXR) are kept: G must match on them too. Raises MediaError for an
    unreadable file (from ``read_image``).
    """
    frames = []
    for path in paths:
        image, _meta = read_image(path, channels=3)
        frames.append(ParityFrame(Path(path).name, "real", _nchw(centre_crop(image, crop))))
    return frames


def photo_frames(crop: tuple[int, int] = REAL_CROP) -> list[ParityFrame]:
    """Two photographs shipped with scikit-image (astronaut, coffee), sRGB code values 0..1, cropped."""
    import skimage.data

    photos: dict[str, Callable[[], np.ndarray]] = {
        "astronaut": skimage.data.astronaut,
        "coffee": skimage.data.coffee,
    }
    return [
        ParityFrame(name, "real", _nchw(centre_crop(load().astype(np.float32) / 255.0, crop)))
        for name, load in photos.items()
    ]


def parity_frames(
    space_to_depth: int, images: Sequence[str | os.PathLike[str]] = (), seed: int = 0
) -> list[ParityFrame]:
    """``random_frames`` plus real frames: ``image_frames(images)``, or ``photo_frames()`` when none."""
    real = image_frames(images) if images else photo_frames()
    return random_frames(space_to_depth, seed) + real


def reference_outputs(generator: Generator, frames: Sequence[ParityFrame]) -> list[np.ndarray]:
    """The eager PyTorch G's float32 output on each frame (CPU), (N, 3, H, W) each."""
    generator = generator.eval()
    outputs = []
    with torch.inference_mode():
        for frame in progress(frames, desc="parity: PyTorch reference", unit="frame"):
            outputs.append(generator(torch.from_numpy(frame.pixels)).numpy().astype(np.float32))
    return outputs


def run_parity(
    target: str,
    precision: Precision,
    runtime: str,
    run: Callable[[np.ndarray], np.ndarray],
    frames: Sequence[ParityFrame],
    references: Sequence[np.ndarray],
    tolerance: float | None = None,
) -> ParityReport:
    """Run ``run`` (float32 (N, 3, H, W) -> (N, 3, H, W)) on every frame and compare with ``references``.

    ``tolerance`` defaults to ``FP32_TOLERANCE`` or ``FP16_TOLERANCE`` by ``precision``.
    """
    if tolerance is None:
        tolerance = FP16_TOLERANCE if precision == "fp16" else FP32_TOLERANCE
    cases = tuple(
        compare(frame, reference, run(frame.pixels))
        for frame, reference in progress(
            list(zip(frames, references, strict=True)), desc=f"parity: {target}", unit="frame"
        )
    )
    return ParityReport(target, precision, tolerance, runtime, cases)


def onnx_parity(
    path: str | os.PathLike[str],
    frames: Sequence[ParityFrame],
    references: Sequence[np.ndarray],
    tolerance: float | None = None,
) -> ParityReport:
    """Parity of an ONNX file run by plain onnxruntime (CPU provider) with the reference outputs.

    The frames are fed in the graph's input dtype (float16 for an fp16 file); the precision reported
    is the graph's. Nothing of the remaster engine is involved (no padding, tiling or value mapping):
    this checks the graph itself.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    node = session.get_inputs()[0]
    dtype = np.float16 if node.type == "tensor(float16)" else np.float32
    precision: Precision = "fp16" if dtype == np.float16 else "fp32"

    def run(pixels: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {node.name: pixels.astype(dtype)})[0])

    runtime = f"onnxruntime {ort.__version__} {session.get_providers()[0]}"
    return run_parity("onnx", precision, runtime, run, frames, references, tolerance)


def torchscript_parity(
    module: torch.nn.Module | torch.jit.ScriptModule,
    frames: Sequence[ParityFrame],
    references: Sequence[np.ndarray],
    *,
    half: bool = False,
    target: str = "torchscript",
    tolerance: float | None = None,
) -> ParityReport:
    """Parity of a (loaded) TorchScript module on the CPU, in float32 or, with ``half``, float16.

    With ``half`` the module is converted with ``.half()`` and fed float16, as Nuke's "Optimize for
    Speed and Memory" does; the module object is changed in place, so pass a copy you can lose.
    """
    precision: Precision = "fp16" if half else "fp32"
    dtype = torch.float16 if half else torch.float32
    if half:
        module = module.half()
    module = module.eval()

    def run(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(pixels).to(dtype)).float().numpy()

    return run_parity(target, precision, f"torch {torch.__version__} CPU", run, frames, references, tolerance)


def write_report(
    path: str | os.PathLike[str], header: dict[str, Any], reports: Sequence[ParityReport]
) -> None:
    """Write ``header`` plus ``{"reports": [...]}`` as JSON to ``path`` atomically."""
    body = dict(header)
    body["reports"] = [r.to_dict() for r in reports]
    write_json_atomic(path, body)
