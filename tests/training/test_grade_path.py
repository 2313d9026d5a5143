"""G's fixed grade path and mean lock (issue 17): the path computes ``GradeCurves.apply`` exactly, is
never trained, the trunk cannot move the local mean away from it, a run starts at the training shots'
grade and its best checkpoint records the all-shots grade, the coverage and the held-out margins."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from remaster_core.grade import Grade, PixelSample, fit_grade
from tests.training.conftest import make_pairs
from training.checkpoint import load_checkpoint
from training.colour_init import GUARD_KEY, deployable_generator
from training.config import TrainConfig
from training.model import (
    PRESETS,
    GeneratorConfig,
    bound_mean,
    box_lowpass,
    build_generator,
    count_parameters,
)
from training.trainer import train

SMALL = GeneratorConfig(width=8, growth=4, dense_layers=2, num_dcus=1, space_to_depth=2, colour_path=False,
                        grade_path=True, mean_lock=9)  # fmt: skip


def _grade() -> Grade:
    rng = np.random.default_rng(0)
    x = (0.1 + 0.8 * rng.random((20_000, 3))).astype(np.float32)
    return fit_grade(PixelSample(x, (0.05 + 0.9 * x**1.2).astype(np.float32), 1))


def test_the_grade_path_is_the_closed_form_grade_and_has_no_parameters() -> None:
    g = build_generator(SMALL).eval()
    grade = _grade()
    assert g.grade is not None
    g.grade.set_grade(grade)
    assert count_parameters(g) == count_parameters(
        build_generator(dataclasses.replace(SMALL, grade_path=False))
    )
    x = torch.rand(2, 3, 21, 30) * 1.6 - 0.3  # inside and far outside the training range
    with torch.no_grad():
        out = g(x)  # the trunk's tail is zero: G is its grade
    expected = grade.apply(x.numpy().transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_the_mean_lock_keeps_the_trunk_off_the_local_mean() -> None:
    torch.manual_seed(0)
    g = build_generator(SMALL).eval()
    with torch.no_grad():
        for p in g.tail.parameters():
            p.copy_(torch.randn(p.shape) * 0.5)
        x = torch.rand(1, 3, 64, 64)
        residual = g(x) - g.grade(x)  # type: ignore[misc]
    assert float(residual.abs().mean()) > 1e-3
    # the residual's local mean is a small fraction of the residual itself
    assert float(box_lowpass(residual, 9, 3).abs().mean()) < 0.25 * float(residual.abs().mean())
    # with a bound, a trunk whose own output moves the local mean by ~1 moves G's by about the bound
    bounded = build_generator(dataclasses.replace(SMALL, mean_bound=0.02)).eval()
    free = build_generator(dataclasses.replace(SMALL, mean_lock=0)).eval()
    with torch.no_grad():
        for model in (bounded, free):
            model.tail.bias.add_(1.0)  # a large shift of the local mean
        moved = bounded(x) - bounded.grade(x)  # type: ignore[misc]
        raw = free(x) - free.grade(x)  # type: ignore[misc]
    assert float(box_lowpass(raw, 9, 3).abs().min()) > 0.9
    assert float(moved.abs().max()) <= 0.02 + 1e-6


def test_the_wide_lock_keeps_a_broad_cast_within_its_bound_and_passes_low_frequency_noise() -> None:
    """A trunk whose output shifts the whole picture (a cast) moves G by at most the wide bound; a
    mottle on the scale of the broadcast's low-frequency noise (cells of 8 px, mean 0 over the wide box)
    passes the wide lock nearly whole."""
    cfg = dataclasses.replace(SMALL, mean_bound=0.04, wide_lock=33, wide_bound=0.01)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 96)
    cast = build_generator(cfg).eval()
    with torch.no_grad():
        cast.tail.bias.add_(1.0)
        moved = cast(x) - cast.grade(x)  # type: ignore[misc]
    assert float(moved.abs().max()) <= 0.01 + 1e-6
    narrow, wide = build_generator(dataclasses.replace(cfg, wide_lock=0)).eval(), build_generator(cfg).eval()
    mottle = torch.from_numpy(np.kron(np.random.default_rng(1).choice([-0.02, 0.02], (1, 3, 12, 12)),
                                      np.ones((8, 8)))).float()  # fmt: skip
    mottle -= mottle.mean(dim=(2, 3), keepdim=True)
    with torch.no_grad():
        for model in (narrow, wide):
            model.tail.weight.zero_()
            model.tail.bias.zero_()
        through_narrow = bound_mean(mottle, 9, 0.04, 3)
        through_both = bound_mean(through_narrow, 33, 0.01, 3)
    inner = (slice(None), slice(None), slice(24, 72), slice(24, 72))
    kept = float((through_both[inner] * mottle[inner]).sum() / (mottle[inner] ** 2).sum())
    assert kept > 0.8, kept


def test_presets_carry_the_grade_path_not_the_quadratic_one() -> None:
    for cfg in PRESETS.values():
        assert cfg.grade_path and cfg.mean_lock > 1 and 0 < cfg.mean_bound <= 0.05 and not cfg.colour_path
        assert cfg.wide_lock > cfg.mean_lock and 0 < cfg.wide_bound < cfg.mean_bound


def test_a_run_starts_at_the_training_grade_and_records_the_guard_and_margins(
    tmp_path: Path, tiny_config: Callable[..., TrainConfig], caplog: pytest.LogCaptureFixture
) -> None:
    pairs = make_pairs(tmp_path / "PAIRS", shots=3, frames=2)
    with caplog.at_level(logging.INFO, logger="remaster.train"):
        train(tiny_config(steps=3), pairs, tmp_path / "RUN")
    assert "grade path: closed-form fit of the training shots" in caplog.text
    best = load_checkpoint(tmp_path / "RUN/checkpoints/best.safetensors")
    held = best.extra["held_out"]
    assert held["whole_shots"] is True and [r["shot"] for r in held["shots"]] == [3]
    row = held["shots"][0]
    assert row["ours"] is not None and row["colour_fit"] is not None and row["bilinear"] is not None
    assert held["margin_colour_fit"] == pytest.approx(row["ours"] - row["colour_fit"], abs=1e-3)
    assert "margin over the colour fit" in caplog.text
    guard = best.extra[GUARD_KEY]
    assert guard["grade_fallback"] is True
    assert guard["coverage"]["pixels"] > 0 and 0 < guard["coverage"]["occupancy"] < 1
    g, parsed = deployable_generator(tmp_path / "RUN/checkpoints/best.safetensors")
    assert parsed is not None and g.grade is not None
    np.testing.assert_allclose(g.grade.bias.numpy(), parsed.grade.bias, atol=1e-6)


def test_a_single_shot_says_loudly_that_generalisation_is_unmeasured(
    tmp_path: Path, tiny_config: Callable[..., TrainConfig], caplog: pytest.LogCaptureFixture
) -> None:
    pairs = make_pairs(tmp_path / "PAIRS", shots=1, frames=4)
    with caplog.at_level(logging.INFO, logger="remaster.train"):
        train(tiny_config(steps=3), pairs, tmp_path / "RUN")
    assert caplog.text.count("GENERALISATION IS UNMEASURED") >= 2  # at the split and at the end
    extra = load_checkpoint(tmp_path / "RUN/checkpoints/best.safetensors").extra
    assert extra["held_out"]["whole_shots"] is False
    # its grade was never scored on another shot: the render's guard falls back to the plain input
    assert extra[GUARD_KEY]["grade_fallback"] is False
    assert "falls back to the plain input" in caplog.text


def test_the_box_lowpass_is_the_edge_replicated_box_mean() -> None:
    """The two depthwise convolutions give the plain box mean: a direct average over the edge-replicated
    window (one output pixel computed by hand), and the average-pooling formulation, within float
    rounding."""
    torch.manual_seed(0)
    r = torch.rand(2, 3, 20, 23)
    low = box_lowpass(r, 5, 3)
    padded = torch.nn.functional.pad(r, (2, 2, 2, 2), mode="replicate")
    pooled = torch.nn.functional.avg_pool2d(padded, 5, stride=1)
    assert low.shape == r.shape
    assert float((low - pooled).abs().max()) < 1e-6
    # the corner pixel: its window is the corner value 9 times, the top row's next 2 values 3 times each...
    assert abs(float(low[1, 2, 0, 0]) - float(padded[1, 2, 0:5, 0:5].mean())) < 1e-6


def test_an_exported_mean_lock_is_a_pair_of_average_pools(tmp_path: Path) -> None:
    """Exported, each box mean is two ``AveragePool`` nodes, 1 x k and k x 1 (OpenVINO's CPU plugin does
    not finish compiling the two long depthwise convolutions in bf16), and the exported graph gives what
    the module gives; with the wide lock too."""
    import onnx
    import onnxruntime as ort

    net = build_generator(dataclasses.replace(SMALL, mean_bound=0.04, wide_lock=21, wide_bound=0.01)).eval()
    with torch.no_grad():
        for p in net.parameters():
            if not p.abs().sum():
                p.normal_(0.0, 0.01)
    path = tmp_path / "g.onnx"
    x = torch.rand(1, 3, 40, 44)
    torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["output"], opset_version=17,
                      dynamo=False)  # fmt: skip
    nodes = onnx.load(str(path)).graph.node
    pools = [n for n in nodes if n.op_type == "AveragePool"]
    kernels = [
        list(a.ints) for n in nodes if n.op_type == "Conv" for a in n.attribute if a.name == "kernel_shape"
    ]
    pooled = sorted(tuple(a.ints) for n in pools for a in n.attribute if a.name == "kernel_shape")
    assert pooled == [(1, 9), (1, 21), (9, 1), (21, 1)]
    assert not any(k in kernels for k in ([1, 9], [9, 1], [1, 21], [21, 1]))
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[
        0
    ]
    with torch.no_grad():
        assert float(np.abs(out - net(x).numpy()).max()) < 1e-5


def test_a_scripted_mean_lock_is_pooled_too_and_runs_in_half_precision() -> None:
    """The TorchScript graph for Nuke states each box mean as two average pools as well, and gives what
    the module gives, in float32 and (as Nuke's "Optimize for Speed and Memory" runs it) float16 on the
    CPU: PyTorch's oneDNN did not finish generating its kernel for the long depthwise convolutions in
    float16 on an AVX512-FP16 Xeon (the export's fp16 parity check hung there)."""
    net = build_generator(dataclasses.replace(SMALL, mean_bound=0.04, wide_lock=21, wide_bound=0.01)).eval()
    with torch.no_grad():
        for p in net.parameters():
            if not p.abs().sum():
                p.normal_(0.0, 0.01)
    scripted = torch.jit.script(net)
    graph = str(scripted.inlined_graph)
    assert graph.count("aten::avg_pool2d") == 4  # two locks, two pools each
    x = torch.rand(1, 3, 40, 44)
    with torch.inference_mode():
        want = net(x)
        assert float((scripted(x) - want).abs().max()) < 1e-5
        half = scripted.half()(x.half()).float()
    assert float((half - want).abs().max()) < 0.02
