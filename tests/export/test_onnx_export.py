"""G -> ONNX: a clean opset-17 graph with dynamic N/H/W, parity with PyTorch through plain onnxruntime and
through the remaster engine (odd sizes, batches, tiles), fp16, and the runtime refusing a tampered,
truncated or unlabelled file. Nothing is published when the check fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from export.metadata import identify, model_metadata, resolve_checkpoint, stamp
from export.onnx_export import export_onnx, exported_with, to_fp16, write_onnx
from export.parity import FP16_TOLERANCE, FP32_TOLERANCE, random_frames, reference_outputs
from remaster_core.errors import InputError, ModelError
from remaster_core.runtime import model as contract
from remaster_core.runtime.engine import EngineOptions, clear_engine_cache, load_engine
from remaster_core.runtime.model import ModelConvention, open_model
from tests.export import SMALL, make_run, one_thread, trained_like  # noqa: F401 (one_thread: a fixture)
from training.checkpoint import load_checkpoint
from training.model import Generator, receptive_field

pytestmark = pytest.mark.usefixtures("one_thread")


def _stamped(generator: Generator, folder: Path, *, fp16: bool = False) -> onnx.ModelProto:
    """G's graph with the metadata ``export_model`` writes (identity from a run folder made here)."""
    run = make_run(folder / "run", generator, steps=(7,))
    chosen = resolve_checkpoint(run)
    identity = identify(load_checkpoint(chosen.path), chosen)
    graph = export_onnx(generator)
    if fp16:
        graph = to_fp16(graph)
    props = model_metadata(
        identity,
        generator.cfg,
        precision="fp16" if fp16 else "fp32",
        pads_internally=True,
        exported_with=exported_with(),
    )
    return stamp(graph, props)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Generator, Path, Path]]:
    """(G, fp32 file, fp16 file), written by ``write_onnx`` with the parity check."""
    folder = tmp_path_factory.mktemp("onnx")
    g = trained_like(SMALL, seed=3)
    frames = random_frames(SMALL.space_to_depth)
    refs = reference_outputs(g, frames)
    paths = []
    for fp16 in (False, True):
        path = folder / ("g16.onnx" if fp16 else "g.onnx")
        write_onnx(_stamped(g, folder / str(fp16), fp16=fp16), path, frames, refs)
        paths.append(path)
    yield g, paths[0], paths[1]
    clear_engine_cache()


def _torch(g: Generator, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return g(torch.from_numpy(x)).numpy()


def test_graph_is_opset_17_checker_clean_with_dynamic_n_h_w(exported: tuple[Generator, Path, Path]) -> None:
    _, path, path16 = exported
    for file, elem in ((path, onnx.TensorProto.FLOAT), (path16, onnx.TensorProto.FLOAT16)):
        model = onnx.load(str(file))
        onnx.checker.check_model(model, full_check=True)
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        assert opset >= 17
        assert [i.name for i in model.graph.input] == ["input"]
        assert [o.name for o in model.graph.output] == ["output"]
        for value in (model.graph.input[0], model.graph.output[0]):
            ttype = value.type.tensor_type
            assert ttype.elem_type == elem
            dims = ttype.shape.dim
            assert [d.dim_param for d in dims] == ["N", "", "H", "W"]
            assert dims[1].dim_value == 3


def test_plain_onnxruntime_matches_pytorch_at_odd_sizes_and_batches(
    exported: tuple[Generator, Path, Path],
) -> None:
    g, path, _ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(11)
    # Smallest accepted (s + 1), odd x odd, batch 3 with one odd side, and a size the fixture's parity
    # frames did not use.
    for shape in [(1, 3, 3, 3), (1, 3, 37, 53), (3, 3, 20, 31), (2, 3, 64, 48)]:
        x = rng.random(shape, dtype=np.float32)
        y = session.run(["output"], {"input": x})[0]
        assert y.shape == shape
        assert np.abs(y - _torch(g, x)).max() <= FP32_TOLERANCE
        assert np.abs(y - x).max() > 0.05  # G is far from the identity: the parity is not trivial


def test_engine_runs_the_exported_model_whole_and_tiled(exported: tuple[Generator, Path, Path]) -> None:
    """The honest end-to-end check: the runtime reads the metadata and runs the file as a renderer would."""
    g, path, _ = exported
    rng = np.random.default_rng(5)
    frames = rng.random((2, 45, 67, 3), dtype=np.float32)  # (N, H, W, 3), odd sizes
    expected = _torch(g, np.ascontiguousarray(frames.transpose(0, 3, 1, 2))).transpose(0, 2, 3, 1)
    engine = load_engine(path, EngineOptions(provider="cpu"))
    assert engine.info.convention.pads_internally
    assert engine.info.convention.receptive_field == receptive_field(SMALL)
    assert np.abs(engine.run(frames) - expected).max() <= FP32_TOLERANCE
    single = engine.run(frames[0])
    assert single.shape == (45, 67, 3) and np.abs(single - expected[0]).max() <= FP32_TOLERANCE
    # Tiles with the default overlap (2 x the receptive field written in the metadata) give the
    # untiled result: the metadata's receptive field and s are right for this graph.
    tiled = load_engine(path, EngineOptions(provider="cpu", tile=40, batch=3))
    out = tiled.run(frames)
    assert tiled.stats.tiles > 2 * frames.shape[0]
    assert np.abs(out - expected).max() <= FP32_TOLERANCE


def test_fp16_file_within_the_stated_bound_in_onnxruntime_and_the_engine(
    exported: tuple[Generator, Path, Path],
) -> None:
    g, _, path16 = exported
    info, _ = open_model(path16)
    assert info.precision == "fp16" and info.metadata[contract.KEY_PRECISION] == "fp16"
    session = ort.InferenceSession(str(path16), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).random((2, 3, 29, 43), dtype=np.float32)
    y = session.run(["output"], {"input": x.astype(np.float16)})[0]
    assert y.dtype == np.float16 and np.isfinite(y).all()
    assert np.abs(y.astype(np.float32) - _torch(g, x)).max() <= FP16_TOLERANCE
    engine = load_engine(path16, EngineOptions(provider="cpu", precision="fp16"))
    frame = np.ascontiguousarray(x[0].transpose(1, 2, 0))
    assert np.abs(engine.run(frame) - _torch(g, x[:1])[0].transpose(1, 2, 0)).max() <= FP16_TOLERANCE


def _first_float_initializer(model: onnx.ModelProto) -> int:
    return next(i for i, t in enumerate(model.graph.initializer) if t.data_type == onnx.TensorProto.FLOAT)


def test_tampered_weight_is_refused_with_the_checksum(
    exported: tuple[Generator, Path, Path], tmp_path: Path
) -> None:
    _, path, _ = exported
    model = onnx.load(str(path))
    index = _first_float_initializer(model)
    array = numpy_helper.to_array(model.graph.initializer[index]).copy()
    array.flat[0] += 0.01
    model.graph.initializer[index].CopyFrom(
        numpy_helper.from_array(array, model.graph.initializer[index].name)
    )
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    with pytest.raises(ModelError, match="weights do not match") as exc:
        open_model(tampered)
    assert contract.file_sha256(tampered) in str(exc.value)
    with pytest.raises(ModelError, match="tampered"):
        load_engine(tampered, EngineOptions(provider="cpu"))


def test_truncated_file_is_refused_with_the_checksum(
    exported: tuple[Generator, Path, Path], tmp_path: Path
) -> None:
    _, path, _ = exported
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelError, match="truncated or corrupt") as exc:
        load_engine(truncated, EngineOptions(provider="cpu"))
    assert contract.file_sha256(truncated) in str(exc.value)
    assert str(truncated) in str(exc.value)


def test_model_without_metadata_needs_the_user_to_state_the_convention(
    exported: tuple[Generator, Path, Path], tmp_path: Path
) -> None:
    g, path, _ = exported
    model = onnx.load(str(path))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ModelError, match="no remaster metadata"):
        load_engine(bare, EngineOptions(provider="cpu"))
    stated = ModelConvention(space_to_depth=2, receptive_field=receptive_field(SMALL), pads_internally=True)
    engine = load_engine(bare, EngineOptions(provider="cpu"), convention=stated)
    frame = np.random.default_rng(1).random((21, 34, 3), dtype=np.float32)
    expected = _torch(g, np.ascontiguousarray(frame.transpose(2, 0, 1))[None])[0].transpose(1, 2, 0)
    assert np.abs(engine.run(frame) - expected).max() <= FP32_TOLERANCE


def test_failed_parity_publishes_nothing(tmp_path: Path) -> None:
    g, other = trained_like(SMALL, seed=1), trained_like(SMALL, seed=2)
    frames = random_frames(2)
    target = tmp_path / "out" / "g.onnx"
    target.parent.mkdir()
    target.write_bytes(b"the previous model")
    with pytest.raises(ModelError, match="does not match PyTorch") as exc:
        write_onnx(_stamped(g, tmp_path), target, frames, reference_outputs(other, frames))
    assert "random-odd" in str(exc.value) and "FAIL" in str(exc.value)
    assert target.read_bytes() == b"the previous model"
    assert sorted(p.name for p in target.parent.iterdir()) == ["g.onnx"]  # no temporary file left


def test_unexportable_requests_are_refused() -> None:
    with pytest.raises(InputError, match="opset"):
        export_onnx(trained_like(SMALL), opset=16)
    with pytest.raises(
        InputError, match=r"--opset 1000000: the installed torch exporter writes at most opset"
    ):
        export_onnx(trained_like(SMALL), opset=1_000_000)
    rgba = trained_like(
        type(SMALL)(width=8, growth=4, dense_layers=1, num_dcus=1, space_to_depth=2, in_channels=4)
    )
    with pytest.raises(InputError, match="RGB"):
        export_onnx(rgba)
