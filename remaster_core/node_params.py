"""The node's parameters, declared once: name, Python type, default, range or choices, unit and help.

``FIELDS`` is the table (plain frozen records, in the order hosts show them). What is built from it:

- ``NodeParams`` (``remaster_core.node``): its defaults and its checks (``NodeField.check``);
- ``EngineOptions`` (``remaster_core.runtime.engine``): the defaults and checks of ``ENGINE_FIELDS``;
- ``describe()``'s parameter list (``NodeField.describe``);
- the worker's parsing of a request's ``params`` (``remaster_core.worker.protocol.parse_node_params``);
- the ``remaster render`` options of ``PLAIN_FIELDS`` (``remaster_core.cli.render``).

The Nuke plugin cannot import this module; ``tests/nuke`` checks its knob table against ``describe()``.

``model``, ``output_size`` and ``transform`` are structured (a file, a size, a transform): each entry
point spells them its own way (``--model``/``--format``/``--transform ALIGN_JSON`` on the command line,
a path, ``[W, H]`` and ``{tx, ty, sx, sy}`` in a worker request) and parses them itself; their records
here give hosts the name, default, range and meaning. The other fields are plain values that
``NodeField.check`` validates wherever they come from.

Standard library only: the runtime, the worker and the CLI import it before anything heavy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, cast, get_args

from remaster_spec.manifest_vocab import MAX_SIDE  # the largest raster side, tile or overlap (px)

from remaster_core.errors import InputError

ProviderChoice = Literal["auto", "tensorrt", "cuda", "openvino", "cpu"]
"""What runs the model: onnxruntime execution providers (``remaster_core.runtime.providers`` maps each to a
list), or ``openvino``, the OpenVINO runtime on the CPU (``remaster[openvino]``); ``auto`` takes a GPU
provider where onnxruntime has one, else OpenVINO where it is installed, else onnxruntime's CPU provider
(``providers.choose_backend``)."""
PROVIDER_CHOICES: tuple[str, ...] = get_args(ProviderChoice)
GPU_PROVIDERS: tuple[str, ...] = ("tensorrt", "cuda")
"""The provider choices that need a GPU (a farm chunk asks for one; a CPU fallback is warned about)."""

Precision = Literal["fp32", "fp16", "bf16"]
"""Model arithmetic. ``bf16`` runs on OpenVINO only (CPUs with AVX512_BF16 or AMX compute it natively)."""
PRECISION_CHOICES: tuple[str, ...] = get_args(Precision)

T = TypeVar("T")


def _number_text(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class NodeField(Generic[T]):
    """One parameter of the node.

    Attributes:
        name: the ``NodeParams`` attribute, the worker's ``params`` key and the name ``describe()`` gives;
            the CLI option of a plain field is ``--`` + the name with ``-`` for ``_``.
        type: the Python type of a value: ``int``, ``float`` or ``str`` (a choice) for plain fields;
            ``Path``, ``tuple`` for the structured ones (``transform`` is a ``Transform4`` of 4 numbers).
        default: the value when none is given (None where ``none`` says what None means).
        help: what it is, one line for people.
        describe_type: the ``type`` hosts read in ``describe()`` ("int", "float", "choice", "file"...).
        minimum, maximum: inclusive bounds of a number (of each side for ``output_size``), or None.
        choices: the allowed values of a choice, else ().
        unit: "px", "MiB"... or "" for a plain number.
        none: what None means ("whole frames..."); "" where None is not a value.
    """

    name: str
    type: type
    default: T
    help: str
    describe_type: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    none: str = ""

    @property
    def flag(self) -> str:
        """The ``remaster render`` option: ``--memory-mb`` for ``memory_mb``."""
        return "--" + self.name.replace("_", "-")

    def limits(self) -> str:
        """The range in words: "between 0 and 1", "at least 16 MiB" ("" when unbounded)."""
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None and self.maximum is not None:
            return f"between {_number_text(self.minimum)} and {_number_text(self.maximum)}{unit}"
        if self.minimum is not None:
            return f"at least {_number_text(self.minimum)}{unit}"
        if self.maximum is not None:
            return f"at most {_number_text(self.maximum)}{unit}"
        return ""

    def expected(self) -> str:
        """What a value must be, in words: "a whole number", "'fp32' or 'fp16'"."""
        if self.choices:
            quoted = [repr(c) for c in self.choices]
            return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return {int: "a whole number", float: "a number", str: "a text"}.get(self.type, self.type.__name__)

    def default_text(self) -> str:
        """The default in words: "4", "2048 MiB", "fp32", or what None means."""
        if self.default is None:
            return self.none
        if isinstance(self.default, float):
            return _number_text(self.default)
        return f"{self.default} {self.unit}" if self.unit else str(self.default)

    def check(self, value: Any) -> T:
        """``value`` checked against this field and normalised (an int for a float field becomes a float).

        Raises:
            InputError: wrong type, out of range, not one of the choices, or None where None is not a
                value; the message names the field and says what it takes.
        """
        if value is None and self.none:
            return cast(T, None)
        expected = self.expected() + (f", or none ({self.none})" if self.none else "")
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise InputError(f"{self.name} must be {expected}, got {value!r}")
            return cast(T, value)
        accepted: tuple[type, ...] = (int, float) if self.type is float else (self.type,)
        if self.type not in (int, float) or isinstance(value, bool) or not isinstance(value, accepted):
            raise InputError(f"{self.name} must be {expected}, got {value!r}")
        number: float = self.type(cast(float, value))
        if not math.isfinite(number):
            raise InputError(f"{self.name} must be a finite number, got {value!r}")
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise InputError(f"{self.name} must be {self.limits()}, got {value!r}")
        return cast(T, number)

    def describe(self) -> dict[str, Any]:
        """This field as ``describe()`` lists it: name, type, default, unit, range or choices, description."""
        out: dict[str, Any] = {"name": self.name, "type": self.describe_type, "default": self.default}
        if self.unit:
            out["unit"] = self.unit
        if self.choices:
            out["choices"] = list(self.choices)
        elif self.minimum is not None or self.maximum is not None:
            out["range"] = [self.minimum, self.maximum]
        out["description"] = self.help + (f"; none: {self.none}" if self.none else "")
        return out


MODEL: NodeField[Path | None] = NodeField(
    "model", Path, None, "the ONNX model file (remaster export)", "file"
)
OUTPUT_SIZE: NodeField[tuple[int, int] | None] = NodeField(
    "output_size", tuple, None, "output raster (W, H)", "int2", minimum=1, maximum=MAX_SIDE, unit="px",
    none="the input at its display aspect, or align.json's output format",
)  # fmt: skip
TRANSFORM: NodeField[Any] = NodeField(
    "transform", tuple, None, "output pixel -> broadcast pixel: xb = sx*x + tx, yb = sy*y + ty",
    "float4 (tx, ty, sx, sy)", none="the per-shot transform from align.json, else the nominal fit",
)  # fmt: skip
TILE: NodeField[int | None] = NodeField(
    "tile", int, None, "tile side in pixels, overlap included", "int", minimum=1, maximum=MAX_SIDE,
    unit="px", none="whole frames when they fit the memory bound, else the largest tiles that do",
)  # fmt: skip
OVERLAP: NodeField[int | None] = NodeField(
    "overlap", int, None, "pixels shared by neighbouring tiles", "int", minimum=0, maximum=MAX_SIDE,
    unit="px", none="exact, 2 x receptive field + 16",
)  # fmt: skip
PRECISION: NodeField[Precision] = NodeField(
    "precision", str, "fp32",
    "model arithmetic (bf16: OpenVINO on the CPU); an fp16 or bf16 frame with NaN/Inf is redone in fp32", "choice",
    choices=PRECISION_CHOICES,
)  # fmt: skip
PROVIDER: NodeField[ProviderChoice] = NodeField(
    "provider", str, "auto", "what runs the model: auto tries TensorRT, then CUDA, then OpenVINO, then "
    "onnxruntime's CPU provider", "choice",
    choices=PROVIDER_CHOICES,
)  # fmt: skip
MIX: NodeField[float] = NodeField(
    "mix", float, 1.0, "share of the model output; 0: the resampled input only", "float",
    minimum=0.0, maximum=1.0,
)  # fmt: skip
BATCH: NodeField[int] = NodeField("batch", int, 4, "tiles or whole frames per model run", "int", minimum=1)
THREADS: NodeField[int | None] = NodeField(
    "threads", int, None, "onnxruntime intra-op threads", "int", minimum=1, none="onnxruntime's own"
)
MEMORY_MB: NodeField[int] = NodeField(
    "memory_mb", int, 2048, "bound on the estimated activation memory of one model run", "int",
    minimum=16, unit="MiB",
)  # fmt: skip
GRAIN_AMOUNT: NodeField[float] = NodeField(
    "grain_amount", float, 1.0, "film grain synthesised on the output, times the film's amplitude (the "
    "model's grain profile; where the model records its output's grain, what it carries beyond the film's "
    "is first taken away in flat areas); 0: off, the clean output as the model made it", "float",
    minimum=0.0, maximum=4.0,
)  # fmt: skip
GRAIN_SIZE: NodeField[float] = NodeField(
    "grain_size", float, 1.0, "grain size, times the film's (2: twice as coarse, the same amplitude)", "float",
    minimum=0.25, maximum=4.0,
)  # fmt: skip
GRAIN_SEED: NodeField[int] = NodeField(
    "grain_seed", int, 0, "grain pattern; the grain of a frame depends only on its shot, frame and this seed",
    "int", minimum=0, maximum=2**31 - 1,
)  # fmt: skip
GRAIN_FIELDS: tuple[NodeField[Any], ...] = (GRAIN_AMOUNT, GRAIN_SIZE, GRAIN_SEED)
"""The grain controls (``remaster_core.grain.synthesis.GrainSettings``), applied after the model and mix."""


FIELDS: tuple[NodeField[Any], ...] = (
    MODEL,
    OUTPUT_SIZE,
    TRANSFORM,
    TILE,
    OVERLAP,
    PRECISION,
    PROVIDER,
    MIX,
    BATCH,
    THREADS,
    MEMORY_MB,
    GRAIN_AMOUNT,
    GRAIN_SIZE,
    GRAIN_SEED,
)
"""Every parameter of the node, in the order hosts show them."""

PLAIN_FIELDS: tuple[NodeField[Any], ...] = tuple(spec for spec in FIELDS if spec.type in (int, float, str))
"""The fields ``NodeField.check`` validates as they are (every field but the structured three)."""

ENGINE_FIELDS: tuple[NodeField[Any], ...] = tuple(
    spec for spec in PLAIN_FIELDS if spec is not MIX and spec not in GRAIN_FIELDS
)
"""The fields that are ``EngineOptions`` fields of the same name (all plain ones but the node's mix and
grain controls)."""
