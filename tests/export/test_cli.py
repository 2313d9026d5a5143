"""``remaster export``: run folder or checkpoint -> checked ONNX (+ TorchScript), the printed and saved
parity report, and the errors a user meets (no torch, bad paths, a tampered checkpoint)."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from export.parity import FP16_TOLERANCE, FP32_TOLERANCE, REAL_CROP
from export.torchscript import load_metadata
from remaster_core.cli import export as cli_export
from remaster_core.errors import EXIT_BAD_INPUT, InputError, ModelError
from remaster_core.io.images import read_image
from remaster_core.runtime import model as contract
from remaster_core.runtime.engine import EngineOptions, clear_engine_cache, load_engine
from tests.export import SMALL, make_run, one_thread, trained_like  # noqa: F401 (one_thread: a fixture)
from training.model import PRESETS

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning"),
]


def _export(*argv: str) -> int:
    """Parse ``remaster export ARGV`` with the verb's own parser and run it (as ``remaster`` will)."""
    parser = argparse.ArgumentParser(prog="remaster")
    cli_export.add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["export", *argv])
    return int(args.run(args))


def _enhance(g: torch.nn.Module, frame_hwc: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(frame_hwc.transpose(2, 0, 1)))[None]
        return g(x)[0].numpy().transpose(1, 2, 0)


def test_run_folder_to_checked_onnx_and_torchscript_on_a_real_reel_frame(
    tmp_path: Path, tiny_reel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    g = trained_like(PRESETS["lite"], seed=8, scale=0.02)
    run = make_run(tmp_path / "show-a", g, steps=(50, 120), extra={"train_config": {"stage1_steps": 120}})
    frame_file = tiny_reel / "truth" / "broadcast24p" / "frame.000003.png"
    out = tmp_path / "models" / "show-a.onnx"
    assert _export(str(run), "--out", str(out), "--torchscript", "--parity-frames", str(frame_file)) == 0

    printed = capsys.readouterr().out
    assert "best checkpoint of run" in printed
    assert "parity onnx (fp32" in printed and "parity torchscript (fp32" in printed and "FAIL" not in printed
    assert "Channels In rgb" in printed and "Model Id show-a-fft-step120" in printed

    model = onnx.load(str(out))
    props = {p.key: p.value for p in model.metadata_props}
    assert props[contract.KEY_MODEL_NAME] == "show-a" and props[contract.KEY_MODEL_VERSION] == "fft-step120"
    assert props[contract.KEY_PRESET] == "lite" and props[contract.KEY_SPACE_TO_DEPTH] == "4"
    assert props[contract.KEY_PRECISION] == "fp32" and props[contract.KEY_PADS_INTERNALLY] == "1"

    report = json.loads((tmp_path / "models" / "show-a.onnx.parity.json").read_text())
    assert report["sha256"] == contract.file_sha256(out)
    assert report["metadata"] == props
    targets = {r["target"]: r for r in report["reports"]}
    assert set(targets) == {"onnx", "torchscript", "torchscript-fp16"}
    onnx_cases = {c["name"]: c for c in targets["onnx"]["cases"]}
    assert onnx_cases["frame.000003.png"]["kind"] == "real"
    assert onnx_cases["frame.000003.png"]["shape"] == [1, 3, *REAL_CROP]
    assert any(c["shape"][0] == 2 for c in onnx_cases.values())
    assert all(c["max_abs"] <= FP32_TOLERANCE for c in onnx_cases.values())
    assert targets["torchscript-fp16"]["max_abs"] <= FP16_TOLERANCE
    assert report["torchscript"]["sha256"] == contract.file_sha256(tmp_path / "models" / "show-a.pt")
    assert load_metadata(tmp_path / "models" / "show-a.pt")[contract.KEY_MODEL_NAME] == "show-a"

    # End to end on the whole reel frame (720x480), as a render would run it.
    frame, _ = read_image(frame_file)
    engine = load_engine(out, EngineOptions(provider="cpu"))
    assert np.abs(engine.run(frame) - _enhance(g, frame)).max() <= FP32_TOLERANCE
    clear_engine_cache()


def test_fp16_export_and_fallback_to_the_newest_step_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path / "run", trained_like(SMALL), best=False, steps=(30, 200))
    out = tmp_path / "g16.onnx"
    with caplog.at_level(logging.WARNING, logger="remaster.export"):
        assert _export(str(run), "--out", str(out), "--fp16", "--name", "G", "--version", "v2") == 0
    assert "no best.safetensors" in caplog.text and "step_000200.safetensors" in caplog.text
    assert "parity onnx (fp16" in capsys.readouterr().out
    info, _ = contract.open_model(out)
    assert info.precision == "fp16"
    assert (info.metadata[contract.KEY_MODEL_NAME], info.metadata[contract.KEY_MODEL_VERSION]) == ("G", "v2")
    assert info.metadata["remaster.checkpoint"] == "step_000200.safetensors"
    report = json.loads((tmp_path / "g16.onnx.parity.json").read_text())
    assert report["source"]["fallback_to_step_checkpoint"] is True
    assert report["reports"][0]["tolerance"] == FP16_TOLERANCE and report["reports"][0]["passed"]
    assert not (tmp_path / "g16.pt").exists()


def test_bad_requests_are_refused_before_any_work(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", trained_like(SMALL), steps=(1,))
    with pytest.raises(InputError, match=r"end in \.onnx"):
        _export(str(run), "--out", str(tmp_path / "model.pt"))
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        _export(str(run), "--out", str(tmp_path / "dir.onnx"))
    with pytest.raises(InputError, match="does not exist"):
        _export(str(tmp_path / "no-run"), "--out", str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_tampered_checkpoint_is_refused_and_nothing_written(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", trained_like(SMALL), steps=(1,))
    best = run / "checkpoints" / "best.safetensors"
    data = bytearray(best.read_bytes())
    data[-5] ^= 0xFF  # a flipped byte in the last tensor
    best.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum") as exc:
        _export(str(run), "--out", str(tmp_path / "m.onnx"))
    assert str(best) in str(exc.value)
    assert not (tmp_path / "m.onnx").exists()


def test_without_torch_the_error_says_to_install_the_train_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(InputError, match="install the train extra") as exc:
        _export(str(tmp_path), "--out", str(tmp_path / "m.onnx"))
    assert exc.value.exit_code == EXIT_BAD_INPUT


def test_the_verb_module_does_not_import_torch() -> None:
    code = (
        "import sys, argparse; import remaster_core.cli.export as e; "
        "p = argparse.ArgumentParser(); e.add_parser(p.add_subparsers()); "
        "assert 'torch' not in sys.modules and 'export' not in sys.modules, sorted(sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
