"""The engine on real onnxruntime sessions: shapes, tiling, fp16 fallback, validation, caching."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.errors import InputError, ModelError
from remaster_core.runtime import Engine, EngineOptions, ModelConvention, clear_engine_cache, load_engine

from . import Overflow, StandIn, make_model, torch_reference

CPU = "cpu"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, torch.nn.Module]]:
    folder = tmp_path_factory.mktemp("engine")
    return {
        "s2": make_model(folder, "s2.onnx", net=StandIn(s=2, width=8, convs=2)),
        "s4": make_model(folder, "s4.onnx", net=StandIn(s=4, width=8, convs=1, seed=1)),
        "pads": make_model(
            folder, "pads.onnx", net=StandIn(s=2, width=8, convs=2, seed=2, pads_internally=True)
        ),
        "overflow": make_model(folder, "overflow.onnx", net=Overflow()),
        "overflow16": make_model(folder, "overflow16.onnx", net=Overflow(), fp16=True),
        "s2_16": make_model(folder, "s2_16.onnx", net=StandIn(s=2, width=8, convs=2), fp16=True),
    }


def _frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w, 3), dtype=np.float32)


@pytest.mark.parametrize("name", ["s2", "s4", "pads"])
@pytest.mark.parametrize("n,h,w", [(1, 33, 47), (3, 64, 64), (2, 101, 17)])
def test_dynamic_shapes_match_torch(models: dict, name: str, n: int, h: int, w: int) -> None:
    path, net = models[name]
    engine = Engine(path, EngineOptions(provider=CPU))
    frames = _frames(n, h, w)
    out = engine.run(frames)
    assert out.shape == frames.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, torch_reference(net, frames, net.s), atol=1e-5)
    single = engine.run(frames[0])
    assert single.shape == (h, w, 3)
    np.testing.assert_allclose(single, out[0], atol=1e-6)


@pytest.mark.parametrize(
    "name,h,w,tile,batch",
    [
        ("s2", 97, 131, 48, 3),
        ("s2", 64, 64, 40, 4),
        ("s4", 123, 77, 64, 2),
        ("pads", 75, 101, 44, 5),
        ("s4", 50, 200, 56, 1),
    ],
)
def test_tiled_equals_untiled(models: dict, name: str, h: int, w: int, tile: int, batch: int) -> None:
    path, net = models[name]
    whole = Engine(path, EngineOptions(provider=CPU))
    tiled = Engine(path, EngineOptions(provider=CPU, tile=tile, batch=batch))
    frames = _frames(2, h, w, seed=3)
    expected = whole.run(frames)
    got = tiled.run(frames)
    canvas = (h + (-h) % net.s, w + (-w) % net.s) if name != "pads" else (h, w)
    plan, used_batch = tiled.plan(*canvas)
    assert plan.tiled and plan.exact and used_batch == batch
    assert tiled.stats.tiles == 2 * len(plan.tiles)
    assert tiled.stats.model_runs < tiled.stats.tiles or batch == 1  # tiles really ran in batches
    assert np.abs(got - expected).max() <= 1e-4


def test_smallest_exact_tile(models: dict) -> None:
    path, net = models["s2"]
    tile = 2 * net.receptive_field + 2 * net.s  # leaves one block of core
    tiled = Engine(path, EngineOptions(provider=CPU, tile=tile))
    frames = _frames(1, 45, 39, seed=4)
    assert np.abs(tiled.run(frames) - Engine(path, EngineOptions(provider=CPU)).run(frames)).max() <= 1e-4


def test_thin_overlap_warns_and_differs(models: dict, caplog: pytest.LogCaptureFixture) -> None:
    path, _ = models["s2"]
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        thin = Engine(path, EngineOptions(provider=CPU, tile=32, overlap=4))
    assert any("no longer equal the untiled" in r.getMessage() for r in caplog.records)
    frames = _frames(1, 90, 90, seed=5)
    assert np.abs(thin.run(frames) - Engine(path, EngineOptions(provider=CPU)).run(frames)).max() > 1e-4


def test_tile_not_larger_than_overlap_is_refused(models: dict) -> None:
    path, _ = models["s2"]
    with pytest.raises(InputError, match="must be larger than the overlap"):
        Engine(path, EngineOptions(provider=CPU, tile=16))


def test_auto_tiles_keep_each_run_under_the_memory_bound(models: dict) -> None:
    path, _ = models["s2"]
    bounded = Engine(path, EngineOptions(provider=CPU, memory_mb=16, batch=4))
    plan, batch = bounded.plan(512, 768)
    assert plan.tiled
    per_pixel = bounded.graph.activation_bytes_per_pixel
    biggest = max(h * w for h, w in plan.shapes())
    assert batch * biggest * per_pixel <= 16 * 2**20
    frames = _frames(1, 512, 768, seed=6)
    np.testing.assert_allclose(
        bounded.run(frames), Engine(path, EngineOptions(provider=CPU)).run(frames), atol=1e-4
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc (Linux)")
def test_4k_frame_peak_memory_is_bounded(models: dict, tmp_path: Path) -> None:
    """A 3840x2160 frame with memory_mb=64 stays within the bound engine.py states."""
    path, _ = models["s4"]
    script = textwrap.dedent(
        f"""
        import json, numpy as np
        from remaster_core.runtime import Engine, EngineOptions
        def peak_mb():  # this address space's own peak (ru_maxrss would include the parent's)
            with open("/proc/self/status") as f:
                return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
        engine = Engine({str(path)!r}, EngineOptions(provider="cpu", memory_mb=64))
        engine.run(np.full((200, 200, 3), 0.5, np.float32))
        frame = np.random.default_rng(0).random((2160, 3840, 3), dtype=np.float32)
        before = peak_mb()
        out = engine.run(frame)
        after = peak_mb()
        plan, batch = engine.plan(2160, 3840)
        whole_mb = engine.graph.activation_bytes_per_pixel * 2160 * 3840 / 2**20
        print(json.dumps({{"grew_mb": after - before, "whole_mb": whole_mb, "tiles": len(plan.tiles), "batch": batch,
                           "shape": list(out.shape)}}))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["shape"] == [2160, 3840, 3] and result["tiles"] > 1
    frame_mb = 2160 * 3840 * 3 * 4 / 2**20
    # the bound engine.py states: 4 frames of engine buffers + 1.5 x memory_mb (onnxruntime's arena);
    # an untiled run of this model would need ~1 GB of activations more
    assert result["whole_mb"] > 4 * 64
    assert result["grew_mb"] < 4 * frame_mb + 1.5 * 64, result


def test_fp16_overflow_frame_is_redone_in_fp32(models: dict, caplog: pytest.LogCaptureFixture) -> None:
    path, _ = models["overflow"]
    engine = Engine(path, EngineOptions(provider=CPU, precision="fp16"))
    safe = np.full((1, 16, 16, 3), 0.5, np.float32)
    hot = np.linspace(0.0, 1.0, 16 * 16 * 3, dtype=np.float32).reshape(1, 16, 16, 3)
    frames = np.concatenate([safe, hot, safe])
    # the fp16 path really overflows (the check below is not vacuous)
    raw = engine._run_canvas(frames, "fp16")
    assert not np.isfinite(raw[1]).all() and np.isfinite(raw[0]).all()
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        out = engine.run(frames, where="reel1.1001-1003")
    warnings = [r.getMessage() for r in caplog.records if "redoing this frame in fp32" in r.getMessage()]
    assert len(warnings) == 1 and "reel1.1001-1003[1]" in warnings[0]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1], hot[0], atol=1e-5)  # the fp32 result: the identity
    np.testing.assert_allclose(out[0], safe[0], atol=1e-3)  # the fp16 result, kept
    assert engine.stats.fp32_redone == 1
    assert engine.describe()["precision"]["fp32_fallback_built"] is True


def test_fp16_file_overflow_falls_back_to_its_fp32_twin(
    models: dict, caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = models["overflow16"]
    engine = Engine(path, EngineOptions(provider=CPU, precision="fp16"))
    assert engine.info.precision == "fp16"
    hot = np.linspace(0.0, 1.0, 16 * 16 * 3, dtype=np.float32).reshape(16, 16, 3)
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        out = engine.run(hot)
    assert sum("redoing this frame in fp32" in r.getMessage() for r in caplog.records) == 1
    np.testing.assert_allclose(out, hot, atol=1e-5)


def test_fp16_close_to_fp32(models: dict) -> None:
    for name in ("s2", "s2_16"):
        path, net = models[name]
        fp16 = Engine(path, EngineOptions(provider=CPU, precision="fp16"))
        assert fp16.describe()["precision"]["session_input"] == "float16"
        frames = _frames(2, 40, 52, seed=7)
        ref = torch_reference(net, frames, net.s)
        assert np.abs(fp16.run(frames) - ref).max() < 2e-2
        assert fp16.stats.fp32_redone == 0
    fp32_of_fp16_file = Engine(models["s2_16"][0], EngineOptions(provider=CPU, precision="fp32"))
    assert fp32_of_fp16_file.describe()["precision"]["session_input"] == "float32"
    assert np.abs(fp32_of_fp16_file.run(frames) - ref).max() < 2e-2


def test_nan_in_fp32_output_is_a_model_error(tmp_path: Path) -> None:
    class Broken(StandIn):
        def forward(self, x):  # type: ignore[no-untyped-def]
            return torch.sqrt(x - 2.0)

    path, _ = make_model(tmp_path, net=Broken())
    engine = Engine(path, EngineOptions(provider=CPU))
    with pytest.raises(ModelError, match="NaN/Inf"):
        engine.run(np.full((8, 8, 3), 0.5, np.float32), where="shot3.0042")


@pytest.mark.parametrize(
    "frame,message",
    [
        (np.zeros((16, 16, 3), np.uint8), r"uint8.*normalise it first.*/ 255"),
        (np.zeros((16, 16, 3), np.uint16), r"/ 65535"),
        (np.zeros((16, 16, 3), np.float64), r"float64.*astype\(np.float32\)"),
        (np.zeros((16, 16, 4), np.float32), r"4 channels \(RGBA\?\): split the alpha"),
        (np.zeros((16, 16, 1), np.float32), r"1 channel"),
        (np.zeros((3, 16, 16), np.float32), r"channels look first"),
        (np.zeros((16, 16), np.float32), r"expected \(H, W, 3\)"),
        (np.zeros((2, 2, 3), np.float32), r"at least 3x3"),
        (np.full((16, 16, 3), 200.0, np.float32), r"outside -0.5..4.*max 200.*normalised"),
        (np.full((16, 16, 3), -1.0, np.float32), r"outside -0.5..4"),
    ],
)
def test_bad_frames_are_refused(models: dict, frame: np.ndarray, message: str) -> None:
    engine = load_engine(models["s2"][0], EngineOptions(provider=CPU))
    with pytest.raises(InputError, match=message) as exc:
        engine.run(frame, where="plate.1001.exr")
    assert "plate.1001.exr" in str(exc.value)


def test_nan_and_inf_in_input_are_counted_and_located(models: dict) -> None:
    engine = load_engine(models["s2"][0], EngineOptions(provider=CPU))
    frames = np.full((2, 16, 16, 3), 0.5, np.float32)
    frames[1, 5, 7, 2] = np.nan
    frames[1, 9, 9, 0] = np.nan
    frames[0, 3, 3, 1] = np.inf
    frames[0, 4, 4, 0] = -np.inf
    with pytest.raises(
        InputError, match=r"2 NaN, 1 \+Inf and 1 -Inf values \(first at frame 0, y=3, x=3, channel G\)"
    ):
        engine.run(frames)


def test_superwhites_and_float16_frames_are_accepted(models: dict) -> None:
    engine = load_engine(models["s2"][0], EngineOptions(provider=CPU))
    frame = np.full((16, 16, 3), 1.2, np.float16)
    out = engine.run(frame)
    assert out.dtype == np.float32 and out.shape == (16, 16, 3)


def test_load_engine_reuses_the_session(models: dict, tmp_path: Path) -> None:
    clear_engine_cache()
    path, _ = models["s2"]
    a = load_engine(path, EngineOptions(provider=CPU))
    assert load_engine(path, EngineOptions(provider=CPU)) is a
    assert load_engine(path, EngineOptions(provider=CPU, tile=64)) is not a
    copy = tmp_path / "other.onnx"
    copy.write_bytes(path.read_bytes())
    assert load_engine(copy, EngineOptions(provider=CPU)) is a  # same bytes, same options: same session
    other, _ = make_model(tmp_path, "changed.onnx", net=StandIn(seed=9))
    copy.write_bytes(other.read_bytes())  # the file changes under the same path
    assert load_engine(copy, EngineOptions(provider=CPU)) is not a
    with pytest.raises(ModelError, match="expected sha256"):
        load_engine(path, EngineOptions(provider=CPU), expected_sha256="ab" * 32)


def test_convention_override_with_another_value_range(tmp_path: Path) -> None:
    """A foreign model without metadata that works in -1..1: the engine maps 0..1 onto it and back."""
    path, net = make_model(tmp_path, net=StandIn(seed=4), with_metadata=False)
    with pytest.raises(ModelError, match="no remaster metadata"):
        Engine(path, EngineOptions(provider=CPU))
    convention = ModelConvention(
        space_to_depth=2, receptive_field=net.receptive_field, value_range=(-1.0, 1.0)
    )
    engine = Engine(path, EngineOptions(provider=CPU), convention=convention)
    frames = _frames(1, 24, 30, seed=8)
    expected = (torch_reference(net, frames * 2 - 1, 2) + 1) / 2
    np.testing.assert_allclose(engine.run(frames), expected, atol=1e-5)


def test_describe_is_json_and_complete(models: dict) -> None:
    engine = Engine(models["s4"][0], EngineOptions(provider=CPU, tile=96, batch=2))
    engine.run(_frames(1, 40, 40))
    report = engine.describe()
    json.dumps(report)
    assert report["model"]["sha256"] == engine.info.sha256
    assert report["convention"] == {
        "space_to_depth": 4,
        "receptive_field": 15,
        "value_range": [0.0, 1.0],
        "pads_internally": False,
    }
    assert report["providers"]["active"] == ["CPUExecutionProvider"]
    assert report["tiling"] == {
        "tile": 96,
        "overlap": engine.overlap,
        "batch": 2,
        "memory_mb": 2048,
        "exact": True,
    }
    assert report["graph"]["flops_per_pixel"] > 0 and report["stats"]["frames"] == 1


def test_onnxruntime_worker_threads_do_not_spin(models: dict) -> None:
    """Idle onnxruntime workers sleep instead of busy-waiting on the cores a render's reader and writer
    threads use (docs/runtime.md, end to end)."""
    from remaster_core.runtime.engine import SPINNING_KEY

    path, _ = models["s2"]
    engine = Engine(path, EngineOptions(provider=CPU, threads=2))
    options = engine._primary.session.get_session_options()
    assert options.get_session_config_entry(SPINNING_KEY) == "0"
    assert engine.run(_frames(1, 32, 32)[0]).shape == (32, 32, 3)
