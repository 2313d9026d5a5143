"""The OpenVINO provider: parity with onnxruntime's CPU provider, exact tiling, the compiled-model
cache, bf16 within its bound and its fp32 redo, and the ``auto`` rule."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.errors import ExtraMissing, InputError
from remaster_core.optional import import_openvino
from remaster_core.runtime import Engine, EngineOptions, cache
from remaster_core.runtime import providers as pv
from remaster_core.runtime.engine import BF16_MAX_ABS
from remaster_core.runtime.openvino_session import BLOB_NAME, OpenVinoSession

from . import StandIn, make_model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, torch.nn.Module]]:
    folder = tmp_path_factory.mktemp("openvino")
    return {
        "s2": make_model(folder, "s2.onnx", net=StandIn(s=2, width=8, convs=2)),
        "s4": make_model(folder, "s4.onnx", net=StandIn(s=4, width=8, convs=1, seed=1)),
        "pads": make_model(
            folder, "pads.onnx", net=StandIn(s=2, width=8, convs=2, seed=2, pads_internally=True)
        ),
        "s2_16": make_model(folder, "s2_16.onnx", net=StandIn(s=2, width=8, convs=2), fp16=True),
    }


def _frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w, 3), dtype=np.float32)


def _ov(path: Path, tmp_path: Path, **options: object) -> Engine:
    return Engine(path, EngineOptions(provider="openvino", cache_dir=tmp_path, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["s2", "s4", "pads", "s2_16"])
@pytest.mark.parametrize("n,h,w", [(1, 33, 47), (3, 64, 64)])
def test_f32_matches_onnxruntime_cpu(models: dict, tmp_path: Path, name: str, n: int, h: int, w: int) -> None:
    path, _ = models[name]
    frames = _frames(n, h, w)
    expected = Engine(path, EngineOptions(provider="cpu", precision="fp32")).run(frames)
    engine = _ov(path, tmp_path)
    got = engine.run(frames)
    assert engine.backend == "openvino" and engine.providers == [pv.OPENVINO]
    assert engine.describe()["precision"]["arithmetic"] == "fp32"  # the f32 hint, not the CPU's bf16 default
    assert got.shape == frames.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize(
    "name,h,w,tile,batch", [("s2", 97, 131, 48, 3), ("s4", 123, 77, 64, 2), ("pads", 75, 101, 44, 5)]
)
def test_tiled_equals_untiled(
    models: dict, tmp_path: Path, name: str, h: int, w: int, tile: int, batch: int
) -> None:
    path, _ = models[name]
    frames = _frames(2, h, w, seed=3)
    whole = _ov(path, tmp_path).run(frames)
    tiled_engine = _ov(path, tmp_path, tile=tile, batch=batch)
    tiled = tiled_engine.run(frames)
    assert tiled_engine.stats.tiles > 2  # really tiled
    assert np.abs(tiled - whole).max() <= 1e-5


def test_compiled_models_are_cached_and_reused(models: dict, tmp_path: Path) -> None:
    path, _ = models["s2"]
    frame = _frames(1, 40, 56)[0]
    first = _ov(path, tmp_path)
    out = first.run(frame)
    session = first._primary.session
    assert isinstance(session, OpenVinoSession)
    shape = (1, 3, 40, 56)
    assert session.compiled_fresh == [shape] and session.compiled_from_cache == []
    blob = session.cache_dir(shape) / BLOB_NAME  # type: ignore[operator]
    assert blob.is_file() and blob.parent.parent == tmp_path / "openvino"
    compile_seconds = session.compile_seconds

    second = _ov(path, tmp_path)  # a new engine, as in the next render: the compile is skipped
    again = second.run(frame)
    reused = second._primary.session
    assert isinstance(reused, OpenVinoSession)
    assert reused.compiled_from_cache == [shape] and reused.compiled_fresh == []
    assert reused.compile_seconds < compile_seconds
    np.testing.assert_array_equal(again, out)
    assert second.describe()["providers"]["engine_cache"] == str(tmp_path / "openvino")

    bf16 = _ov(path, tmp_path, precision="bf16")  # another precision: another key, compiled afresh
    bf16.run(frame)
    assert bf16._primary.session.compiled_fresh == [shape]  # type: ignore[union-attr]


def test_a_damaged_cache_blob_is_compiled_again(
    models: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = models["s2"]
    frame = _frames(1, 24, 24)[0]
    expected = _ov(path, tmp_path).run(frame)
    (blob,) = (tmp_path / "openvino").glob(f"*/{BLOB_NAME}")
    blob.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        engine = _ov(path, tmp_path)
        got = engine.run(frame)
    assert any("does not load" in r.getMessage() for r in caplog.records)
    assert engine._primary.session.compiled_fresh == [(1, 3, 24, 24)]  # type: ignore[union-attr]
    np.testing.assert_array_equal(got, expected)
    assert blob.stat().st_size > 100  # rewritten


def test_cache_key_is_a_pure_function_of_its_inputs() -> None:
    base = {
        "model_sha256": "ab" * 32,
        "precision": "bf16",
        "input_shape": (1, 3, 480, 720),
        "openvino_version": "2026.4.1",
        "device": "AMD EPYC [BF16, FP32]",
        "compile_options": {"INFERENCE_PRECISION_HINT": "bf16"},
    }
    key = cache.openvino_cache_key(**base)  # type: ignore[arg-type]
    assert key == cache.openvino_cache_key(**base)  # type: ignore[arg-type]
    for name, other in [
        ("model_sha256", "cd" * 32),
        ("precision", "fp32"),
        ("input_shape", (1, 3, 480, 722)),
        ("openvino_version", "2026.5.0"),
        ("device", "Intel Xeon [FP32]"),
        ("compile_options", {"INFERENCE_PRECISION_HINT": "f32"}),
    ]:
        assert cache.openvino_cache_key(**{**base, name: other}) != key, name  # type: ignore[arg-type]


def test_bf16_within_its_bound(models: dict, tmp_path: Path) -> None:
    path, _ = models["s2"]
    frames = _frames(2, 64, 96, seed=5)
    fp32 = _ov(path, tmp_path).run(frames)
    engine = _ov(path, tmp_path, precision="bf16")
    bf16 = engine.run(frames)
    diff = np.abs(bf16 - fp32)
    assert diff.max() <= BF16_MAX_ABS
    capabilities = import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" in capabilities:  # the arithmetic really is bf16 here (the check above is not vacuous)
        assert engine.describe()["precision"]["arithmetic"] == "bf16" and diff.max() > 1e-5
    assert engine.stats.fp32_redone == 0


class _LongDepthwise(StandIn):
    """A stand-in with a 17-tap depthwise box after its body, as models exported before the mean lock's
    box became an average pool held."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        row = torch.full((3, 1, 1, 17), 1.0 / 17)
        box = torch.nn.functional.conv2d(
            torch.nn.functional.pad(y, (8, 8, 0, 0), mode="replicate"), row, groups=3
        )
        return y - 0.1 * box


def test_a_model_with_long_depthwise_convolutions_runs_bf16_in_fp32(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """bf16 asked of a graph whose compile would not finish in bf16: a warning, and fp32 arithmetic."""
    path, _ = make_model(tmp_path, "box.onnx", net=_LongDepthwise(s=2, width=8, convs=1))
    with caplog.at_level(logging.WARNING, logger="remaster"):
        engine = _ov(path, tmp_path, precision="bf16")
        out = engine.run(_frames(1, 32, 48))
    assert out.shape == (1, 32, 48, 3) and np.isfinite(out).all()
    assert engine.describe()["precision"]["arithmetic"] == "fp32"
    assert "long depthwise convolutions" in caplog.text


def test_bf16_frame_with_nan_is_redone_in_fp32(
    models: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """bf16 has fp32's exponent range, so no small model overflows it; the guard is shared with fp16
    (tests/runtime/test_engine.py overflows fp16 for real): here the bf16 output of frame 1 is poisoned."""
    path, _ = models["s2"]
    frames = _frames(3, 32, 32, seed=9)
    fp32 = _ov(path, tmp_path).run(frames)
    engine = _ov(path, tmp_path, precision="bf16")
    real_run = OpenVinoSession.run

    def poisoned(self: OpenVinoSession, names: object, feed: dict) -> list[np.ndarray]:
        out = real_run(self, names, feed)  # type: ignore[arg-type]
        if self.precision == "bf16" and out[0].shape[0] == 3:
            out[0][1, 0, 5, 5] = np.nan
        return out

    monkeypatch.setattr(OpenVinoSession, "run", poisoned)
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        out = engine.run(frames, where="reel1.1001-1003")
    warnings = [r.getMessage() for r in caplog.records if "redoing this frame in fp32" in r.getMessage()]
    assert len(warnings) == 1 and "reel1.1001-1003[1]" in warnings[0] and "bf16 output" in warnings[0]
    assert engine.stats.fp32_redone == 1 and np.isfinite(out).all()
    np.testing.assert_array_equal(out[1], fp32[1])  # redone in fp32
    assert np.abs(out[0] - fp32[0]).max() <= BF16_MAX_ABS
    assert engine.describe()["precision"]["fp32_fallback_built"] is True


@pytest.mark.parametrize(
    "choice,precision,available,installed,backend",
    [
        ("auto", "fp32", [pv.CPU], True, "openvino"),  # CPU only: OpenVINO, measured faster
        ("auto", "fp16", [pv.CPU], True, "openvino"),
        ("auto", "fp32", [pv.CPU], False, "onnxruntime"),
        ("auto", "fp32", [pv.TENSORRT, pv.CUDA, pv.CPU], True, "onnxruntime"),  # a GPU provider first
        ("auto", "fp16", [pv.CUDA, pv.CPU], True, "onnxruntime"),
        ("auto", "bf16", [pv.CUDA, pv.CPU], True, "openvino"),  # bf16 runs on OpenVINO only
        ("auto", "fp32", [], True, "openvino"),  # no onnxruntime at all
        ("openvino", "fp32", [pv.CUDA, pv.CPU], True, "openvino"),
        ("openvino", "bf16", [], True, "openvino"),
        ("cpu", "fp32", [pv.CPU], True, "onnxruntime"),
        ("cuda", "fp16", [pv.CUDA, pv.CPU], True, "onnxruntime"),
    ],
)
def test_auto_rule(choice: str, precision: str, available: list, installed: bool, backend: str) -> None:
    assert pv.choose_backend(choice, precision, available, installed) == backend


def test_bf16_refused_where_it_cannot_run() -> None:
    for choice in ("cpu", "cuda", "tensorrt"):
        with pytest.raises(InputError, match="bf16 runs on OpenVINO only") as info:
            pv.choose_backend(choice, "bf16", [pv.CUDA, pv.CPU], True)
        assert not isinstance(info.value, ExtraMissing)
    with pytest.raises(ExtraMissing, match=r"install remaster\[openvino\]"):
        pv.choose_backend("auto", "bf16", [pv.CPU], False)


def test_auto_runs_on_openvino_on_this_machine(models: dict, tmp_path: Path) -> None:
    path, _ = models["s2"]
    engine = Engine(path, EngineOptions(cache_dir=tmp_path))
    assert engine.backend == ("onnxruntime" if pv.CUDA in engine._available else "openvino")
    info = engine.describe()["providers"]
    assert info["requested"] == "auto" and info["backend"] == engine.backend
    if engine.backend == "openvino":
        assert info["active"] == [pv.OPENVINO] and info["openvino"]


def test_missing_openvino_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ModuleNotFoundError
    with pytest.raises(ExtraMissing) as info:
        import_openvino()
    assert (
        str(info.value)
        == "openvino is not installed; install remaster[openvino] (pip install 'remaster[openvino]')"
    )


def test_deterministic_option_sets_onnxruntime_and_cudnn(models: dict) -> None:
    assert pv.cuda_options(0)["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert pv.cuda_options(0, deterministic=True)["cudnn_conv_algo_search"] == "DEFAULT"
    path, _ = models["s2"]
    engine = Engine(path, EngineOptions(provider="cpu", deterministic=True))
    assert engine._primary.session.get_session_options().use_deterministic_compute  # type: ignore[union-attr]
    with pytest.raises(InputError, match="deterministic must be true or false"):
        EngineOptions(deterministic="yes")  # type: ignore[arg-type]
