"""FLOPs and activation memory measured from the ONNX graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from remaster_core.runtime.graphstats import analyse_graph
from remaster_core.runtime.model import open_model

from . import StandIn, make_model


@pytest.mark.parametrize("s,width,convs", [(2, 8, 2), (4, 16, 1)])
def test_flops_match_the_conv_shapes(tmp_path: Path, s: int, width: int, convs: int) -> None:
    net = StandIn(s=s, width=width, convs=convs)
    path, _ = make_model(tmp_path, net=net)
    info, model = open_model(path)
    stats = analyse_graph(model, info)
    # every conv runs at 1/s resolution: 2 * C_out * C_in * k * k MACs per trunk pixel = / s^2 per input pixel
    convs_ = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    expected = (
        sum(2 * c.out_channels * c.in_channels * c.kernel_size[0] * c.kernel_size[1] for c in convs_) / s**2
    )
    assert stats.flops_per_pixel == pytest.approx(expected, rel=1e-9)
    assert stats.conv_nodes == len(convs_)
    assert stats.parameters == sum(p.numel() for p in net.parameters())
    assert stats.weight_bytes == 4 * stats.parameters


def test_activation_estimate_is_per_pixel_and_plausible(tmp_path: Path) -> None:
    net = StandIn(s=2, width=8, convs=2)
    path, _ = make_model(tmp_path, net=net)
    info, model = open_model(path)
    small = analyse_graph(model, info, probe_size=64)
    large = analyse_graph(model, info, probe_size=128)
    assert small.activation_bytes_per_pixel == pytest.approx(large.activation_bytes_per_pixel, rel=0.05)
    # at least the input and the output (3 float32 each), at most every tensor of the graph at once
    assert 24 <= small.activation_bytes_per_pixel < 4 * (3 + 3 + 12 * 2 + 8 * 8)
    half_info, half_model = open_model(make_model(tmp_path, "h.onnx", net=net, fp16=True)[0])
    half = analyse_graph(half_model, half_info)
    assert half.activation_bytes_per_pixel == pytest.approx(small.activation_bytes_per_pixel / 2, rel=0.2)
