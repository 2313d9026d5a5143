"""Provider choice and the one warning when onnxruntime does not run what was asked.

This machine has the CPU-only onnxruntime, so asking for ``cuda``, ``tensorrt`` or ``auto`` really
exercises the silent-fallback path end to end. The "onnxruntime-gpu without its libraries" path cannot
happen here; its message is built by a pure function, tested with the loader text onnxruntime prints.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from remaster_core.runtime import EngineOptions, clear_engine_cache, load_engine
from remaster_core.runtime import engine as engine_module
from remaster_core.runtime import providers as pv

from . import make_model

# What onnxruntime-gpu prints when CUDA's libraries are missing (onnxruntime 1.2x, Linux).
ORT_CUDA_LOAD_FAILURE = (
    "2026-01-01 10:00:00.0 [E:onnxruntime:Default, provider_bridge_ort.cc:2195 TryGetProviderInfo_CUDA] "
    "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1778 onnxruntime::Provider& "
    "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library "
    "libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: "
    "No such file or directory\n"
    "2026-01-01 10:00:00.1 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:1013 CreateExecutionProviderInstance] "
    "Failed to create CUDAExecutionProvider. Require cuDNN 9.* and CUDA 12.*."
)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = make_model(tmp_path_factory.mktemp("providers"))
    return path


def _gpu_build() -> bool:
    return pv.CUDA in ort.get_available_providers()


@pytest.mark.skipif(_gpu_build(), reason="needs the CPU-only onnxruntime to see the fallback")
@pytest.mark.parametrize(
    "choice,missing", [("cuda", "CUDA"), ("auto", "TensorRT and CUDA"), ("tensorrt", "TensorRT and CUDA")]
)
def test_gpu_choice_on_cpu_build_warns_once_and_reports_cpu(
    model: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, choice: str, missing: str
) -> None:
    # without OpenVINO: with it, auto runs there on a machine without a GPU provider (test_openvino.py)
    monkeypatch.setattr(engine_module, "openvino_installed", lambda: False)
    clear_engine_cache()
    with caplog.at_level(logging.INFO, logger="remaster.runtime"):
        engine = load_engine(model, EngineOptions(provider=choice))
        for _ in range(3):  # a host calling per frame: the cached engine, no new warning
            engine = load_engine(model, EngineOptions(provider=choice))
            engine.run(np.full((16, 16, 3), 0.5, np.float32))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    message = warnings[0]
    assert f"provider={choice!r}: running on CPU" in message
    assert f"no {missing} provider" in message and "install onnxruntime-gpu" in message
    assert engine.providers == ["CPUExecutionProvider"]
    assert engine.describe()["providers"]["requested"] == choice


def test_cpu_choice_does_not_warn(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    clear_engine_cache()
    with caplog.at_level(logging.WARNING, logger="remaster.runtime"):
        engine = load_engine(model, EngineOptions(provider="cpu"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert engine.providers == ["CPUExecutionProvider"]


def test_wanted_and_usable_providers() -> None:
    assert pv.wanted_providers("auto") == (pv.TENSORRT, pv.CUDA, pv.CPU)
    assert pv.wanted_providers("cuda") == (pv.CUDA, pv.CPU)
    assert pv.usable_providers("tensorrt", [pv.CPU]) == [pv.CPU]
    assert pv.usable_providers("auto", [pv.TENSORRT, pv.CUDA, pv.CPU]) == [pv.TENSORRT, pv.CUDA, pv.CPU]
    assert pv.usable_providers("cuda", [pv.TENSORRT, pv.CUDA, pv.CPU]) == [pv.CUDA, pv.CPU]
    assert pv.wanted_providers("openvino") == (pv.OPENVINO,)
    assert pv.usable_providers("auto", [pv.CPU]) == [pv.CPU]  # OpenVINO is never asked of onnxruntime
    with pytest.raises(ValueError, match="one of auto, tensorrt, cuda, openvino, cpu"):
        pv.wanted_providers("gpu")


def test_missing_library_is_read_from_loader_text() -> None:
    assert pv.missing_library(ORT_CUDA_LOAD_FAILURE) == "libcublasLt.so.12"
    assert (
        pv.missing_library("libnvinfer.so.10: cannot open shared object file: No such file")
        == "libnvinfer.so.10"
    )
    assert pv.missing_library("all good") is None


def test_gpu_build_without_libraries_names_the_missing_library() -> None:
    available = [pv.TENSORRT, pv.CUDA, pv.CPU]
    message = pv.fallback_message(
        "cuda", available, [pv.CPU], "onnxruntime-gpu 1.31.0", ORT_CUDA_LOAD_FAILURE
    )
    assert message is not None
    assert "running on CPU, not CUDA" in message and "libcublasLt.so.12 is missing" in message
    assert "LD_LIBRARY_PATH" in message
    # auto with TensorRT's libraries missing but CUDA fine: warns that TensorRT is not used
    trt_text = (
        "Failed to load library libonnxruntime_providers_tensorrt.so with error: libnvinfer.so.10: "
        "cannot open shared object file: No such file or directory"
    )
    message = pv.fallback_message("auto", available, [pv.CUDA, pv.CPU], "onnxruntime-gpu 1.31.0", trt_text)
    assert (
        message is not None and "running on CUDA, not TensorRT" in message and "libnvinfer.so.10" in message
    )
    # what was asked is what runs: no warning
    assert (
        pv.fallback_message("auto", available, [pv.TENSORRT, pv.CUDA, pv.CPU], "onnxruntime-gpu 1.31.0")
        is None
    )
    assert pv.fallback_message("cpu", available, [pv.CPU], "onnxruntime-gpu 1.31.0") is None


def test_failure_without_a_missing_library_quotes_the_telling_line() -> None:
    text = (
        "[W:onnxruntime:Default] some unrelated note\n"
        "[E:onnxruntime:Default, cuda_call.cc:123 CudaCall] CUDA failure 100: no CUDA-capable device is detected\n"
        "[W:onnxruntime:Default] session created\n"
    )
    message = pv.fallback_message("cuda", [pv.CUDA, pv.CPU], [pv.CPU], "onnxruntime-gpu 1.31.0", text)
    assert message is not None and "no CUDA-capable device is detected" in message


def test_diagnose_provider_load_on_this_install() -> None:
    text = pv.diagnose_provider_load(pv.CUDA)
    if not _gpu_build():
        assert "is not part of this onnxruntime install" in text
    assert pv.diagnose_provider_load(pv.CPU) == ""


def test_capture_native_stderr_gets_what_native_code_writes() -> None:
    with pv.capture_native_stderr() as captured:
        os.write(2, b"[E:onnxruntime] Failed to load library libfoo.so.1: cannot open shared object file\n")
    assert pv.missing_library(captured[0]) == "libfoo.so.1"
    os.write(2, b"")  # fd 2 is usable again


def test_tensorrt_options_with_profile_and_caches(tmp_path: Path) -> None:
    options = pv.tensorrt_options(
        device_id=1,
        fp16=True,
        engine_cache_path=tmp_path / "e",
        timing_cache_path=tmp_path / "t",
        profile=((1, 3, 3, 3), (4, 3, 512, 512), (4, 3, 512, 512)),
        input_name="input",
    )
    assert options["device_id"] == "1"
    assert options["trt_fp16_enable"] == "True"
    assert options["trt_engine_cache_enable"] == "True" and options["trt_timing_cache_enable"] == "True"
    assert options["trt_engine_cache_path"] == str(tmp_path / "e")
    assert options["trt_timing_cache_path"] == str(tmp_path / "t")
    assert options["trt_profile_min_shapes"] == "input:1x3x3x3"
    assert options["trt_profile_opt_shapes"] == "input:4x3x512x512"
    assert options["trt_profile_max_shapes"] == "input:4x3x512x512"
    implicit = pv.tensorrt_options(
        device_id=0,
        fp16=False,
        engine_cache_path=tmp_path,
        timing_cache_path=tmp_path,
        profile=None,
        input_name="input",
    )
    assert "trt_profile_min_shapes" not in implicit and implicit["trt_fp16_enable"] == "False"
    assert pv.cuda_options(2)["device_id"] == "2"


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pv.default_cache_dir() == tmp_path / "remaster" / "trt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert pv.default_cache_dir() == Path("~/.cache/remaster/trt").expanduser()
