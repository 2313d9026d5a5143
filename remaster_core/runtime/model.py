"""Open an ONNX model file, check that it is intact, and read the contract it was exported with.

The contract between ``export/`` (which writes models) and this runtime (which runs them)
========================================================================================

Graph: one input named ``input`` and one output named ``output``, both (N, 3, H, W), float32 or
float16 (the same dtype for both), with N, H and W dynamic (symbolic): the engine feeds batches of
tiles of any size. Values are RGB code values in 0..1, display-referred: the model does not change the
transfer function. The output has the input's size (the frame is already resampled to the output
raster before the model sees it). Opset 17 or later is what export writes; the runtime reads any opset
onnxruntime accepts.

``metadata_props`` (all values are strings):

=============================  ==================================================================
``remaster.format_version``    ``"1"`` (``FORMAT_VERSION``): the version of this contract.
``remaster.model_name``        a name for people and logs, e.g. ``"remaster-G"``.
``remaster.model_version``     the model's own version or training run id.
``remaster.preset``            the generator preset, e.g. ``"lite"`` or ``"paper"``.
``remaster.config_hash``       a hash of the generator config (changes with the architecture).
``remaster.color``             ``COLOR_CONVENTION`` exactly.
``remaster.value_range``       ``"0,1"``: the code-value range of input and output ("lo,hi").
``remaster.space_to_depth``    ``s`` (int >= 1): the pixel-unshuffle factor. Tile origins are kept
                               on multiples of ``s``. The block size of every DepthToSpace /
                               SpaceToDepth node of the graph must divide it (checked at open).
``remaster.receptive_field``   int >= 0, input pixels **on one side**: an output pixel depends only on
                               inputs at most this far away (L-inf), for tile origins on multiples
                               of ``s`` (``training.model.receptive_field`` computes it).
``remaster.precision``         ``"fp32"`` or ``"fp16"``: the dtype of the graph's input and output.
``remaster.pads_internally``   optional, ``"1"`` when the graph itself reflect-pads H and W to a
                               multiple of ``s`` (bottom/right) and crops back; otherwise (absent or
                               ``"0"``) the engine does exactly that before and after the model.
``remaster.sha256_weights``    optional, ``weights_sha256(model)`` of the exported graph: when present
                               the runtime recomputes it and refuses a model whose weights changed.
``remaster.grain_profile``     optional, the film's grain (``remaster_core.grain.profile``, JSON) the
                               render synthesises on the output; absent: no grain is added.
``remaster.film_grain``,       optional, both or neither, on one tile size: the training film's whole
``remaster.output_grain``      grain and what the model's own output carries of it (profiles, JSON);
                               the render takes away what the output carries beyond the film's
                               (``grain.excess``) and synthesises from them when a deflicker changes
                               what the output carries (``grain_profile`` is the film's less the
                               output's).
``remaster.guard``             optional, JSON ``{"grade": ..., "coverage": ..., "grade_fallback":
                               ...}``: the model's own
                               closed-form grade and what it was trained on
                               (``remaster_core.guard.Guard``); when present the node guards every
                               output with it (``remaster_core.guard.guard_frame``).
``remaster.held_out``          optional, JSON: the model's PSNR, the colour fit's and bilinear's on
                               the held-out shots of its training run, and the margins
                               (``training.validation.held_out_record``); for people and export.
``remaster.colorspace``        optional, the OpenColorIO colour space the model was trained in (its
                               input and output code values, ``remaster align --working-colorspace``);
                               absent: the broadcast's code values as decoded. The render converts
                               into it before the model and out of it after.
``remaster.ocio_config``       optional, the OCIO config that names it (a path or ``ocio://`` URI).
=============================  ==================================================================

A model without these keys (a third-party model, or one exported by hand) is refused unless the caller
states its convention with ``ModelConvention(...)``. A file that cannot be parsed, fails
``onnx.checker``, or whose weights do not match ``remaster.sha256_weights`` (or an ``expected_sha256``
the caller gives) raises ``ModelError`` naming the file and its sha256. Models with external data
(over 2 GB) are not supported: export writes one self-contained file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from remaster_core.errors import InputError, ModelError
from remaster_core.grain.profile import GrainProfile, profile_from_json
from remaster_core.guard import Guard
from remaster_core.node_params import MAX_SIDE, Precision

FORMAT_VERSION = "1"
KEY_FORMAT_VERSION = "remaster.format_version"
KEY_MODEL_NAME = "remaster.model_name"
KEY_MODEL_VERSION = "remaster.model_version"
KEY_PRESET = "remaster.preset"
KEY_CONFIG_HASH = "remaster.config_hash"
KEY_COLOR = "remaster.color"
KEY_VALUE_RANGE = "remaster.value_range"
KEY_SPACE_TO_DEPTH = "remaster.space_to_depth"
KEY_RECEPTIVE_FIELD = "remaster.receptive_field"
KEY_PRECISION = "remaster.precision"
KEY_PADS_INTERNALLY = "remaster.pads_internally"
KEY_SHA256_WEIGHTS = "remaster.sha256_weights"
KEY_GRAIN_PROFILE = "remaster.grain_profile"
KEY_FILM_GRAIN = "remaster.film_grain"
KEY_OUTPUT_GRAIN = "remaster.output_grain"
KEY_GUARD = "remaster.guard"
KEY_HELD_OUT = "remaster.held_out"
KEY_WORKING_COLORSPACE = "remaster.colorspace"
KEY_OCIO_CONFIG = "remaster.ocio_config"

REQUIRED_KEYS: tuple[str, ...] = (
    KEY_FORMAT_VERSION,
    KEY_MODEL_NAME,
    KEY_MODEL_VERSION,
    KEY_PRESET,
    KEY_CONFIG_HASH,
    KEY_COLOR,
    KEY_VALUE_RANGE,
    KEY_SPACE_TO_DEPTH,
    KEY_RECEPTIVE_FIELD,
    KEY_PRECISION,
)
OPTIONAL_KEYS: tuple[str, ...] = (
    KEY_PADS_INTERNALLY, KEY_SHA256_WEIGHTS, KEY_GRAIN_PROFILE, KEY_GUARD, KEY_HELD_OUT,
    KEY_WORKING_COLORSPACE, KEY_OCIO_CONFIG,
)  # fmt: skip

COLOR_CONVENTION = "RGB code values 0..1, display-referred, no transfer change"
VALUE_RANGE = "0,1"
INPUT_NAME = "input"
OUTPUT_NAME = "output"

_ELEM_PRECISION: dict[int, Precision] = {onnx.TensorProto.FLOAT: "fp32", onnx.TensorProto.FLOAT16: "fp16"}


@dataclass(frozen=True)
class ModelConvention:
    """How a model expects to be fed: what the engine needs to tile and pad it correctly.

    Attributes:
        space_to_depth: ``s``; tile origins stay on multiples of it, frames are padded to it.
        receptive_field: input pixels on one side that can influence an output pixel.
        value_range: (lo, hi) code values the model reads and writes; the engine maps 0..1 onto it.
        pads_internally: the graph pads to a multiple of ``s`` itself; else the engine does.
    """

    space_to_depth: int
    receptive_field: int
    value_range: tuple[float, float] = (0.0, 1.0)
    pads_internally: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.space_to_depth, bool) or not isinstance(self.space_to_depth, int):
            raise ModelError(f"space_to_depth must be an int >= 1, got {self.space_to_depth!r}")
        if self.space_to_depth < 1:
            raise ModelError(f"space_to_depth must be an int >= 1, got {self.space_to_depth!r}")
        if isinstance(self.receptive_field, bool) or not isinstance(self.receptive_field, int):
            raise ModelError(f"receptive_field must be an int >= 0, got {self.receptive_field!r}")
        if self.receptive_field < 0:
            raise ModelError(f"receptive_field must be an int >= 0, got {self.receptive_field!r}")
        lo, hi = (float(v) for v in self.value_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ModelError(f"value_range must be two finite numbers lo < hi, got {self.value_range!r}")
        object.__setattr__(self, "value_range", (lo, hi))


@dataclass(frozen=True)
class ModelInfo:
    """A model file that passed every check, and what the engine needs to know about it.

    Attributes:
        path: the file.
        sha256: hex sha256 of the file's bytes.
        size_bytes: the file's size.
        convention: from the metadata, or the caller's override for a model without metadata.
        precision: dtype of the graph's input and output ("fp32" float32, "fp16" float16).
        metadata: every ``metadata_props`` entry of the file (ours and others').
        has_metadata: False when the convention came from the caller (model without our keys).
        opset: the default-domain opset the graph was exported with.
        input_name, output_name: the graph's input and output names.
        grain: the film's grain profile (``remaster.grain_profile``), or None when the model has none.
        film_grain, output_grain: the film's whole grain and its output's own (``remaster.film_grain``,
            ``remaster.output_grain``), both or neither (None).
        guard: the model's grade and training coverage (``remaster.guard``), or None (an older model:
            its output is not guarded).
        held_out: its training run's held-out figures (``remaster.held_out``), or None.
        working_colorspace: the OCIO colour space it was trained in (``remaster.colorspace``),
            or None: the broadcast's code values. ocio_config: the config naming it, or None.
    """

    path: Path
    sha256: str
    size_bytes: int
    convention: ModelConvention
    precision: Precision
    metadata: Mapping[str, str] = field(default_factory=dict)
    has_metadata: bool = True
    opset: int = 0
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    grain: GrainProfile | None = None
    film_grain: GrainProfile | None = None
    output_grain: GrainProfile | None = None
    guard: Guard | None = None
    held_out: Mapping[str, Any] | None = None
    working_colorspace: str | None = None
    ocio_config: str | None = None

    def label(self) -> str:
        """``path (sha256 1234abcd...)`` for messages."""
        return f"{self.path} (sha256 {self.sha256})"


def weights_sha256(model: onnx.ModelProto) -> str:
    """Hex sha256 over every constant tensor of the main graph: initializers and ``Constant`` nodes.

    Each tensor contributes its name, dtype, shape and little-endian C-order bytes, in name order, so
    the digest does not depend on how the file was serialised. Export writes it as
    ``remaster.sha256_weights``; ``open_model`` recomputes it and refuses a mismatch (a weight edited
    after export).
    """
    tensors: dict[str, onnx.TensorProto] = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    tensors["constant:" + node.output[0]] = attr.t
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = numpy_helper.to_array(tensors[name])
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        head = f"{name}\0{tensors[name].data_type}\0{','.join(str(d) for d in array.shape)}\0"
        digest.update(head.encode("utf-8"))
        digest.update(array.tobytes())
    return digest.hexdigest()


_SHA_MEMO: dict[tuple[str, int, int, int], str] = {}
_SHA_LOCK = threading.Lock()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, remembered per (path, inode, size, mtime) so per-frame callers pay once."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_ino, st.st_size, st.st_mtime_ns)
    with _SHA_LOCK:
        if key in _SHA_MEMO:
            return _SHA_MEMO[key]
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _SHA_LOCK:
        _SHA_MEMO[key] = value
    return value


def _parse_int(path: Path, sha: str, key: str, value: str, minimum: int, maximum: int) -> int:
    try:
        number = int(value) if len(value) <= 12 else maximum + 1
    except ValueError:
        number = minimum - 1
    if not minimum <= number <= maximum:
        raise ModelError(
            f"{path} (sha256 {sha}): metadata {key}={value[:40]!r} is not an int >= {minimum} (and <= {maximum}): "
            "the metadata was edited or the export is broken; re-export"
        )
    return number


def convention_from_metadata(
    path: Path, sha: str, props: Mapping[str, str]
) -> tuple[ModelConvention, Precision]:
    """Validate our ``metadata_props`` and return the convention and the declared precision.

    Raises ModelError naming the file, its sha256 and each key that is missing or wrong.
    """
    label = f"{path} (sha256 {sha})"
    missing = [k for k in REQUIRED_KEYS if k not in props]
    if missing:
        raise ModelError(
            f"{label}: incomplete remaster metadata, missing {', '.join(missing)}; the file was edited, "
            "truncated, or written by an older exporter: re-export it with `remaster export`"
        )
    version = props[KEY_FORMAT_VERSION]
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{label}: metadata format version {version!r}, this runtime reads version {FORMAT_VERSION!r}: "
            "use the remaster version that exported the model, or re-export it"
        )
    if props[KEY_COLOR] != COLOR_CONVENTION:
        raise ModelError(
            f"{label}: metadata {KEY_COLOR}={props[KEY_COLOR]!r}; this runtime only feeds "
            f"{COLOR_CONVENTION!r}: convert the model or the frames, then re-export"
        )
    try:
        lo_text, hi_text = props[KEY_VALUE_RANGE].split(",")
        value_range = (float(lo_text), float(hi_text))
    except ValueError:
        raise ModelError(
            f"{label}: metadata {KEY_VALUE_RANGE}={props[KEY_VALUE_RANGE]!r} is not 'lo,hi' (e.g. {VALUE_RANGE!r})"
        ) from None
    precision = props[KEY_PRECISION]
    if precision not in ("fp32", "fp16"):  # a file's dtype; bf16 is an arithmetic choice, never a file
        raise ModelError(f"{label}: metadata {KEY_PRECISION}={precision!r}, expected 'fp32' or 'fp16'")
    pads = props.get(KEY_PADS_INTERNALLY, "0")
    if pads not in ("0", "1"):
        raise ModelError(f"{label}: metadata {KEY_PADS_INTERNALLY}={pads!r}, expected '0' or '1'")
    try:
        convention = ModelConvention(
            space_to_depth=_parse_int(path, sha, KEY_SPACE_TO_DEPTH, props[KEY_SPACE_TO_DEPTH], 1, 64),
            receptive_field=_parse_int(
                path, sha, KEY_RECEPTIVE_FIELD, props[KEY_RECEPTIVE_FIELD], 0, MAX_SIDE
            ),
            value_range=value_range,
            pads_internally=pads == "1",
        )
    except ModelError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ModelError(f"{label}: metadata {exc}; re-export the model") from None
    return convention, precision  # type: ignore[return-value]


def _check_io(path: Path, sha: str, model: onnx.ModelProto, strict_names: bool) -> tuple[str, str, Precision]:
    """Check the graph's input/output: names, rank 4, 3 channels, dynamic N/H/W, float32/float16."""
    label = f"{path} (sha256 {sha})"
    init_names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{label}: the graph has {len(inputs)} inputs and {len(outputs)} outputs; the engine runs "
            "models with exactly one image input and one image output"
        )
    if strict_names and (inputs[0].name != INPUT_NAME or outputs[0].name != OUTPUT_NAME):
        raise ModelError(
            f"{label}: graph input/output are named {inputs[0].name!r}/{outputs[0].name!r}; the contract "
            f"says {INPUT_NAME!r}/{OUTPUT_NAME!r}: re-export the model"
        )
    precisions = []
    for value, role in ((inputs[0], "input"), (outputs[0], "output")):
        ttype = value.type.tensor_type
        if ttype.elem_type not in _ELEM_PRECISION:
            name = onnx.TensorProto.DataType.Name(ttype.elem_type)
            raise ModelError(f"{label}: graph {role} {value.name!r} is {name}; expected FLOAT or FLOAT16")
        precisions.append(_ELEM_PRECISION[ttype.elem_type])
        dims = list(ttype.shape.dim)
        if len(dims) != 4:
            raise ModelError(
                f"{label}: graph {role} {value.name!r} has rank {len(dims)}; expected (N, 3, H, W)"
            )
        if dims[1].HasField("dim_value") and dims[1].dim_value != 3:
            raise ModelError(
                f"{label}: graph {role} {value.name!r} has {dims[1].dim_value} channels; expected 3 (RGB)"
            )
        fixed = [axis for axis, d in zip("NHW", (dims[0], dims[2], dims[3])) if d.HasField("dim_value")]
        if fixed:
            raise ModelError(
                f"{label}: graph {role} {value.name!r} has a fixed size on axis {', '.join(fixed)}; the "
                "engine needs dynamic N, H and W: re-export with dynamic axes"
            )
    if precisions[0] != precisions[1]:
        raise ModelError(
            f"{label}: graph input is {precisions[0]} but output is {precisions[1]}; expected one dtype"
        )
    return inputs[0].name, outputs[0].name, precisions[0]


def graph_block_sizes(graph: onnx.GraphProto) -> set[int]:
    """The ``blocksize`` of every DepthToSpace and SpaceToDepth node of ``graph`` (and of its subgraphs):
    the pixel (un)shuffle factors the graph itself states."""
    sizes: set[int] = set()
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type in ("DepthToSpace", "SpaceToDepth") and attr.name == "blocksize":
                sizes.add(int(attr.i))
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                sizes |= graph_block_sizes(sub)
    return sizes


def _check_space_to_depth(label: str, model: onnx.ModelProto, convention: ModelConvention) -> None:
    """The convention's ``s`` against the graph's own (un)shuffle factors: tile origins and padding on
    multiples of ``s`` keep the graph's pixel blocks whole only when every factor divides ``s``.

    A graph that states none (an unshuffle written as Reshape/Transpose only) is not checked.
    """
    s = convention.space_to_depth
    wrong = sorted(b for b in graph_block_sizes(model.graph) if b < 1 or s % b)
    if wrong:
        raise ModelError(
            f"{label}: metadata {KEY_SPACE_TO_DEPTH}={s} disagrees with the graph, whose DepthToSpace/"
            f"SpaceToDepth block size is {', '.join(map(str, wrong))} (s must be a multiple of it): the "
            "metadata was edited or the export is broken; re-export the model"
        )


def open_model(
    path: str | os.PathLike[str],
    *,
    convention: ModelConvention | None = None,
    expected_sha256: str | None = None,
) -> tuple[ModelInfo, onnx.ModelProto]:
    """Read, verify and describe an ONNX model file.

    Args:
        path: the ``.onnx`` file.
        convention: the caller's statement of how to feed a model that has no remaster metadata. For
            a model that has it, it must agree with the metadata (else ModelError).
        expected_sha256: if given, the file's sha256 must equal it (hex, case-insensitive).

    Returns:
        (info, model): the checked description and the parsed ``onnx.ModelProto``.

    Raises:
        ModelError: missing, truncated, corrupt or tampered file, wrong graph interface, missing or
            invalid metadata; the message names the file and its sha256 and says what to do.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}; check the path (export one with `remaster export`)")
    data = p.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    label = f"{p} (sha256 {sha}, {len(data)} bytes)"
    if expected_sha256 is not None and expected_sha256.strip().lower() != sha:
        raise ModelError(
            f"{label}: expected sha256 {expected_sha256.strip().lower()}; the file was changed or is not the "
            "model you meant: re-copy it from the release"
        )
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf DecodeError, onnx ValidationError and friends
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{label} is not a valid ONNX model ({type(exc).__name__}: {first_line}); the file is truncated "
            "or corrupt: re-copy or re-export it"
        ) from exc
    props = {p_.key: p_.value for p_ in model.metadata_props}
    ours = [k for k in REQUIRED_KEYS if k in props]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if ours:
        input_name, output_name, graph_precision = _check_io(p, sha, model, strict_names=True)
        meta_convention, declared = convention_from_metadata(p, sha, props)
        if declared != graph_precision:
            raise ModelError(
                f"{label}: metadata says {KEY_PRECISION}={declared!r} but the graph's input is "
                f"{graph_precision}: the metadata was edited or the export is broken; re-export"
            )
        expected_weights = props.get(KEY_SHA256_WEIGHTS)
        try:
            actual_weights = weights_sha256(model) if expected_weights is not None else None
        except (ValueError, TypeError) as exc:  # a tensor whose dims do not hold its data (a flipped bit)
            raise ModelError(
                f"{label}: a weight tensor cannot be read ({exc}): the file is damaged; re-copy or re-export it"
            ) from exc
        if expected_weights is not None and actual_weights != expected_weights.strip().lower():
            raise ModelError(
                f"{label}: its weights do not match {KEY_SHA256_WEIGHTS} written at export; the model "
                "was modified after export (tampered or damaged): re-copy or re-export it"
            )
        if convention is not None and convention != meta_convention:
            raise ModelError(
                f"{label}: the convention given ({convention}) contradicts the model's own metadata "
                f"({meta_convention}); drop the override, the metadata is authoritative"
            )
        convention = meta_convention
        _check_space_to_depth(label, model, convention)
        grain = _grain_profile(label, props)
        film_grain = _grain_profile(label, props, KEY_FILM_GRAIN)
        output_grain = _grain_profile(label, props, KEY_OUTPUT_GRAIN)
        if (film_grain is None) != (output_grain is None):
            raise ModelError(
                f"{label}: the metadata holds one of {KEY_FILM_GRAIN} and {KEY_OUTPUT_GRAIN} without the other; "
                "the metadata was edited or the export is broken: re-export"
            )
        if film_grain is not None and output_grain is not None and film_grain.tile != output_grain.tile:
            raise ModelError(
                f"{label}: {KEY_FILM_GRAIN} was measured on {film_grain.tile} px tiles and {KEY_OUTPUT_GRAIN} "
                f"on {output_grain.tile} px (export writes them alike): the metadata was edited or the export "
                "is broken: re-export"
            )
        guard, held_out = _guard(label, props)
    elif convention is None:
        raise ModelError(
            f"{label} has no remaster metadata ({', '.join(REQUIRED_KEYS[:3])}, ...): it was not exported "
            "by `remaster export` (or it lost its metadata). Re-export it, or if you know how it must be "
            "fed, pass convention=ModelConvention(space_to_depth=..., receptive_field=..., "
            "value_range=(0, 1))"
        )
    else:
        input_name, output_name, graph_precision = _check_io(p, sha, model, strict_names=False)
        _check_space_to_depth(label, model, convention)
    if not ours:
        grain = film_grain = output_grain = None
        guard, held_out = None, None
    info = ModelInfo(
        path=p,
        sha256=sha,
        size_bytes=len(data),
        convention=convention,
        precision=graph_precision,
        metadata=props,
        has_metadata=bool(ours),
        opset=opset,
        input_name=input_name,
        output_name=output_name,
        grain=grain,
        film_grain=film_grain,
        output_grain=output_grain,
        guard=guard,
        held_out=held_out,
        working_colorspace=(props.get(KEY_WORKING_COLORSPACE) or None) if ours else None,
        ocio_config=(props.get(KEY_OCIO_CONFIG) or None) if ours else None,
    )
    return info, model


def _grain_profile(label: str, props: Mapping[str, str], key: str = KEY_GRAIN_PROFILE) -> GrainProfile | None:
    """The model's grain profile under ``key`` (``remaster.grain_profile``), None without one; ModelError
    if broken."""
    text = props.get(key)
    if text is None:
        return None
    try:
        return profile_from_json(text, f"metadata {key}")
    except InputError as exc:
        raise ModelError(
            f"{label}: {exc}; the metadata was edited or the export is broken: re-export"
        ) from None


def _guard(label: str, props: Mapping[str, str]) -> tuple[Guard | None, dict[str, Any] | None]:
    """The model's guard (``remaster.guard``) and held-out figures (``remaster.held_out``), None when
    absent; ModelError naming the key when one is present but broken."""
    guard, held_out = None, None
    for key in (KEY_GUARD, KEY_HELD_OUT):
        text = props.get(key)
        if text is None:
            continue
        try:
            value = json.loads(text)
            if key == KEY_GUARD:
                guard = Guard.from_dict(value, f"metadata {key}")
            elif isinstance(value, dict):
                held_out = value
            else:
                raise InputError(f"metadata {key} is not a JSON object")
        except json.JSONDecodeError:
            raise ModelError(
                f"{label}: metadata {key} is not JSON; the metadata was edited or the export is broken: re-export"
            ) from None
        except InputError as exc:
            raise ModelError(
                f"{label}: {exc}; the metadata was edited or the export is broken: re-export"
            ) from None
    return guard, held_out
