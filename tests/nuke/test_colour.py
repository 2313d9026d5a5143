"""The Remaster node in a colour-managed comp, in the ``nuke`` stand-in, against the real worker.

The model's working space comes from its ONNX metadata (``remaster.colorspace``); the node's colour
knobs are the Source's space (default the script's ``scene_linear`` role), the output's (default the
Source's) and the OCIO config. The worker converts with the code ``remaster render`` runs, so the
node's frame is the CLI's for the same spaces: within 1e-5, and in fact bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from remaster_core import colour_management as cm
from remaster_core.cli import build_parser, run_verb
from remaster_core.io.images import read_image
from remaster_core.runtime.model import KEY_OCIO_CONFIG, KEY_WORKING_COLORSPACE
from tests.nuke import fake_nuke
from tests.render import write_sequence
from tests.runtime import StandIn, make_model, metadata

FRAMES = [1001, 1002]
WORKING = "ACEScct"


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_sequence(tmp_path_factory.mktemp("colour-plate"), FRAMES, (48, 32))


@pytest.fixture(scope="module")
def working_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in model trained (as its metadata says) in ACEScct of the built-in studio config."""
    net = StandIn(s=2, width=8, convs=2, seed=0)
    props = metadata(net.s, net.receptive_field, **{
        KEY_WORKING_COLORSPACE: WORKING, KEY_OCIO_CONFIG: cm.DEFAULT_CONFIG,
    })  # fmt: skip
    return make_model(tmp_path_factory.mktemp("colour-model"), "acescct.onnx", net=net, props=props)[0]


@pytest.fixture(autouse=True)
def _no_ocio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)  # the comp's config comes from the knob in these tests


def _node(nuke: ModuleType, plate: str, onnx: Path, worker: str) -> fake_nuke.Node:
    read = fake_nuke.make_read(plate, FRAMES[0], FRAMES[-1])
    node = nuke.createNode("Remaster")
    node.setInput(0, read)
    fake_nuke.change(node, "inputChange")
    fake_nuke.change(node, "worker", worker)
    fake_nuke.change(node, "model", str(onnx))
    return node


def _cli(plate: str, onnx: Path, out: Path, *args: str) -> dict[int, np.ndarray]:
    """``remaster render`` (its parser and ``run_verb``, in this process: the subprocess start is the
    slow part, tests/nuke/test_remaster_node.py runs the CLI as one) of ``FRAMES``."""
    argv = ["render", plate, "--model", str(onnx), "--out", str(out / "f.####.exr"), "--bit-depth", "float"]
    assert run_verb(build_parser(only="render").parse_args([*argv, *args])) == 0
    return {f: read_image(out / f"f.{f}.exr")[0] for f in FRAMES}


@pytest.mark.slow  # a worker start, two processed ranges and three renders: 16 s on a loaded 2-core machine
def test_the_node_converts_into_the_model_s_working_space_and_back_as_remaster_render(
    session: ModuleType, plate: str, working_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    node = _node(session, plate, working_model, worker_knob)
    assert node["broadcast_colorspace"].value() == "scene_linear"  # Nuke's working space role
    assert node["output_colorspace"].value() == "" and node["ocio_config"].value() == ""
    fake_nuke.press(node, "process")
    status = node["status"].value()
    assert status.startswith("2 rendered") and "no working colour space" not in status
    assert f"colour: Source ACEScg -> model in {WORKING} -> output ACEScg (converted" in status
    managed = _cli(plate, working_model, tmp_path / "cli", "--broadcast-colorspace", "scene_linear",
                   "--output-colorspace", "scene_linear")  # fmt: skip
    raw = _cli(plate, working_model, tmp_path / "raw", "--broadcast-colorspace", WORKING)  # no conversion
    for f in FRAMES:
        got = fake_nuke.pull(node, f).pixels
        assert np.abs(got - managed[f]).max() <= 1e-5, f  # the bound asked for; in fact:
        assert np.array_equal(got, managed[f]), f  # the same code and config: the same bits
        assert np.abs(got - raw[f]).max() > 1e-2  # the conversions did happen

    # an output space of its own, the config named on the node
    fake_nuke.change(node, "output_colorspace", "ACEScct")
    fake_nuke.change(node, "ocio_config", cm.DEFAULT_CONFIG)
    assert "0 of 2 frames" in node["status"].value()  # another cache folder
    fake_nuke.press(node, "process")
    expected = _cli(plate, working_model, tmp_path / "cli2", "--broadcast-colorspace", "scene_linear",
                    "--output-colorspace", "ACEScct", "--ocio-config", cm.DEFAULT_CONFIG)  # fmt: skip
    for f in FRAMES:
        assert np.abs(fake_nuke.pull(node, f).pixels - expected[f]).max() <= 1e-5, f

    fake_nuke.press(node, "check_model")
    assert f"colour: Source ACEScg -> model in {WORKING} -> output {WORKING} (converted; OCIO config " \
        f"{cm.DEFAULT_CONFIG})" in node["status"].value()  # fmt: skip


def test_an_unknown_colour_space_fails_the_node_with_the_closest_names(
    session: ModuleType, plate: str, working_model: Path, worker_knob: str
) -> None:
    node = _node(session, plate, working_model, worker_knob)
    fake_nuke.change(node, "broadcast_colorspace", "ACEScgg")
    with pytest.raises(Exception, match="broadcast_colorspace 'ACEScgg' is not in the OCIO config") as info:
        fake_nuke.press(node, "process")
    assert info.value.kind == "input" and "did you mean 'ACEScg'" in str(info.value)
    assert "did you mean 'ACEScg'" in node["status"].value()
    fake_nuke.change(node, "broadcast_colorspace", "scene_linear")
    fake_nuke.change(node, "output_colorspace", "Rec709 linear")
    with pytest.raises(Exception, match="output_colorspace 'Rec709 linear' is not in .*did you mean"):
        fake_nuke.press(node, "process")


def test_a_model_without_a_working_space_is_run_unconverted_with_a_note(
    session: ModuleType, plate: str, onnx_model: Path, worker_knob: str, tmp_path: Path
) -> None:
    node = _node(session, plate, onnx_model, worker_knob)
    node["frames"].setValue("1001")
    fake_nuke.press(node, "process")
    status = node["status"].value()
    assert status.startswith("1 rendered") and "colour: Source ACEScg -> model in ACEScg" in status
    assert f"note: {onnx_model.name} records no working colour space" in status
    expected = _cli(plate, onnx_model, tmp_path / "cli")  # no colour options: no conversion either
    assert np.array_equal(fake_nuke.pull(node, 1001).pixels, expected[1001])
