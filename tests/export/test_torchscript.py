"""TorchScript for Nuke's Inference node: one tensor in, one out, any size, float32 and float16 (on the
CPU; Nuke's GPU path is not available here), alpha passed through, metadata carried in the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from export.parity import FP16_TOLERANCE, FP32_TOLERANCE, random_frames, reference_outputs
from export.torchscript import METADATA_FILE, NukeInference, load_metadata, save_torchscript, script_for_nuke
from remaster_core.errors import ModelError
from tests.export import SMALL, one_thread, trained_like  # noqa: F401 (one_thread: a fixture)
from training.model import GeneratorConfig

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning"),
]

PROPS = {"remaster.model_name": "ts-test", "remaster.space_to_depth": "2"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, list]:
    g = trained_like(SMALL, seed=4)
    frames = random_frames(SMALL.space_to_depth)
    path = tmp_path_factory.mktemp("ts") / "g.pt"
    reports = save_torchscript(g, path, PROPS, frames, reference_outputs(g, frames))
    return g, path, reports


def test_saved_file_loads_and_matches_eager_at_two_sizes(saved: tuple[torch.nn.Module, Path, list]) -> None:
    g, path, reports = saved
    assert [r.target for r in reports] == ["torchscript", "torchscript-fp16"]
    assert all(r.passed for r in reports)
    module = torch.jit.load(str(path), map_location="cpu")
    for h, w in [(37, 53), (24, 40)]:  # odd (not a multiple of s = 2) and even
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h))
        with torch.inference_mode():
            y, expected = module(x), g(x)
        assert y.shape == (1, 3, h, w) and y.dtype == torch.float32
        assert (y - expected).abs().max().item() <= FP32_TOLERANCE
        assert (y - x).abs().max().item() > 0.05  # not the identity


def test_half_precision_follows_the_input_dtype(saved: tuple[torch.nn.Module, Path, list]) -> None:
    """What Nuke's "Optimize for Speed and Memory" does: ``.half()`` on the module, a half input."""
    g, path, _ = saved
    module = torch.jit.load(str(path), map_location="cpu").half()
    x = torch.rand(1, 3, 31, 45, generator=torch.Generator().manual_seed(9))
    with torch.inference_mode():
        y = module(x.half())
        expected = g(x)
    assert y.dtype == torch.float16 and torch.isfinite(y).all()
    assert (y.float() - expected).abs().max().item() <= FP16_TOLERANCE


def test_alpha_is_passed_through_and_rgb_is_unchanged_by_it(
    saved: tuple[torch.nn.Module, Path, list],
) -> None:
    _, path, _ = saved
    module = torch.jit.load(str(path), map_location="cpu")
    rgba = torch.rand(1, 4, 21, 26, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out, rgb_only = module(rgba), module(rgba[:, :3].contiguous())
    assert out.shape == (1, 4, 21, 26)
    assert torch.equal(out[:, 3], rgba[:, 3])
    assert torch.equal(out[:, :3], rgb_only)


def test_too_few_channels_is_an_error_that_says_what_to_set(
    saved: tuple[torch.nn.Module, Path, list],
) -> None:
    _, path, _ = saved
    module = torch.jit.load(str(path), map_location="cpu")
    with pytest.raises(Exception, match="Channels In"):
        module(torch.rand(1, 1, 16, 16))


def test_metadata_travels_in_the_file(saved: tuple[torch.nn.Module, Path, list]) -> None:
    _, path, _ = saved
    assert load_metadata(path) == PROPS
    extra = {METADATA_FILE: ""}
    torch.jit.load(str(path), _extra_files=extra)
    assert b"ts-test" in extra[METADATA_FILE]  # type: ignore[operator]


def test_value_range_mapping_is_inside_forward() -> None:
    """A model on another code-value range gets Nuke's 0..1 mapped onto it and back, in forward."""
    g = trained_like(GeneratorConfig(width=4, growth=2, dense_layers=1, num_dcus=1, space_to_depth=2), seed=6)
    scripted = script_for_nuke(g, value_range=(-1.0, 1.0))
    x = torch.rand(1, 3, 13, 17, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = (g(x * 2.0 - 1.0) + 1.0) / 2.0
        assert (scripted(x) - expected).abs().max().item() <= 1e-6
        assert (scripted(x) - NukeInference(g, (-1.0, 1.0))(x)).abs().max().item() <= 1e-6


def test_failed_parity_publishes_nothing(tmp_path: Path) -> None:
    g, other = trained_like(SMALL, seed=1), trained_like(SMALL, seed=2)
    frames = random_frames(SMALL.space_to_depth)[:2]
    target = tmp_path / "g.pt"
    with pytest.raises(ModelError, match="does not match PyTorch"):
        save_torchscript(g, target, PROPS, frames, reference_outputs(other, frames))
    assert list(tmp_path.iterdir()) == []


def test_script_keeps_sizes_dynamic_in_the_graph() -> None:
    """Scripted, not traced: the padding amount is computed from the input's shape at run time."""
    scripted = script_for_nuke(trained_like(SMALL))
    code = scripted.generator.code
    assert "pad" in code and "pixel_unshuffle" in code
    frames = [torch.rand(1, 3, h, w) for h, w in ((3, 3), (5, 8), (16, 11))]
    with torch.inference_mode():
        assert [tuple(scripted(x).shape) for x in frames] == [tuple(x.shape) for x in frames]
    assert np.isfinite(scripted(frames[0]).detach().numpy()).all()
