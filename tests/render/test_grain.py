"""Film grain through ``remaster render``: a model carrying a grain profile, rendered with different
chunks and tiles, grain on and off, and the render key following the grain controls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remaster_core.grain import estimate_profile
from remaster_core.grain.profile import profile_to_json
from remaster_core.node import NodeParams, engine_for, mix_frames, render_frame, resample_to_output
from remaster_core.runtime import model as contract
from tests.grain.test_profile import film
from tests.render import frame_events, pixels, read_log, run_cli, write_sequence
from tests.runtime import StandIn, make_model, metadata

FRAMES = list(range(1, 7))
SIZE = "160x120"


def test_a_deflicker_warns_where_the_model_holds_no_film_grain_to_give_back_what_it_takes() -> None:
    """``deflicker_grain_warnings``: a deflicker (input or output) with grain on and a model whose film
    showed no measurable grain (no profile, or a zero one) gets one line naming the deflickers; none
    where the model holds film grain (the grain step gives the coarse grain back), with grain off,
    without a deflicker or without a model."""
    from dataclasses import replace
    from types import SimpleNamespace

    from remaster_core.grain.profile import zero_profile
    from remaster_core.render.job import deflicker_grain_warnings

    zero = zero_profile("test")
    grainy = replace(zero, spectrum=((1e-6,) * len(zero.spectrum[0]),) * 3)
    node = NodeParams(model=Path("show.onnx"))
    bare = SimpleNamespace(film_grain=None, output_grain=None, grain=zero)
    (line,) = deflicker_grain_warnings(bare, node, deflicker=2, output=4)  # type: ignore[arg-type]
    assert line.startswith("show.onnx: with --deflicker and --deflicker-output the picture's low band")
    assert "holds no film grain" in line
    nothing = SimpleNamespace(film_grain=None, output_grain=None, grain=None)
    (line,) = deflicker_grain_warnings(nothing, node, deflicker=0, output=4)  # type: ignore[arg-type]
    assert line.startswith("show.onnx: with --deflicker-output the picture's")
    for info in (
        SimpleNamespace(film_grain=None, output_grain=None, grain=grainy),
        SimpleNamespace(film_grain=grainy, output_grain=grainy, grain=zero),  # the deficit is zero
    ):
        assert deflicker_grain_warnings(info, node, deflicker=2, output=4) == []  # type: ignore[arg-type]
    off = replace(node, grain_amount=0.0)
    assert deflicker_grain_warnings(bare, off, deflicker=2, output=4) == []  # type: ignore[arg-type]
    assert deflicker_grain_warnings(bare, node, deflicker=0, output=0) == []  # type: ignore[arg-type]
    assert deflicker_grain_warnings(None, node, deflicker=2, output=4) == []


@pytest.fixture(scope="module")
def grain_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = StandIn(s=2, width=8, convs=2, seed=1)
    props = metadata(
        net.s, net.receptive_field, **{contract.KEY_GRAIN_PROFILE: profile_to_json(estimate_profile(film(2)))}
    )
    path, _ = make_model(tmp_path_factory.mktemp("grain-model"), "grain.onnx", net=net, props=props)
    return path


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_sequence(tmp_path_factory.mktemp("grain-in"), FRAMES, (80, 60))


def _render(plates: str, model: Path, out: Path, *args: str) -> dict[int, np.ndarray]:
    proc = run_cli(plates, "--model", str(model), "--out", str(out / "out.####.exr"), "--format", SIZE,
                   "--bit-depth", "float", *args)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {f: pixels(out / f"out.{f:04d}.exr") for f in FRAMES if (out / f"out.{f:04d}.exr").is_file()}


def test_grain_frames_are_bit_identical_for_any_chunking(
    grain_model: Path, plates: str, tmp_path: Path
) -> None:
    one = _render(plates, grain_model, tmp_path / "c1", "--chunk", "1", "--grain-seed", "3")
    three = _render(plates, grain_model, tmp_path / "c4", "--chunk", "4", "--grain-seed", "3")
    some = _render(plates, grain_model, tmp_path / "part", "--frames", "4-6", "--grain-seed", "3")
    for f in FRAMES:
        assert np.array_equal(one[f], three[f]), f
    for f in (4, 5, 6):
        assert np.array_equal(one[f], some[f]), f


def test_grain_does_not_depend_on_the_tiling(grain_model: Path, plates: str, tmp_path: Path) -> None:
    """The grain is drawn for the whole frame: what it adds is the same with any tile size. (The model's
    own output differs between tilings by float rounding, 1e-7: onnxruntime sums in another order.)"""
    layers = []
    for tile in ("0", "64", "96"):
        extra = ("--tile", tile) if tile != "0" else ()
        grainy = _render(plates, grain_model, tmp_path / f"g{tile}", *extra)
        clean = _render(plates, grain_model, tmp_path / f"c{tile}", *extra, "--grain-amount", "0")
        layers.append({f: grainy[f] - clean[f] for f in FRAMES})
        assert all(float(np.std(layers[-1][f])) > 0.005 for f in FRAMES)  # there is grain
    for other in layers[1:]:
        for f in FRAMES:
            assert np.abs(other[f] - layers[0][f]).max() < 1e-5, f


def test_amount_zero_is_the_clean_output_bit_for_bit(grain_model: Path, plates: str) -> None:
    from remaster_core.io.images import read_image

    source, _ = read_image(Path(plates.replace("####", "0002")))
    off = NodeParams(model=grain_model, output_size=(160, 120), grain_amount=0.0)
    out = render_frame(source, off, frame=2)
    resampled = resample_to_output(source, _nominal(off, source), (160, 120))
    assert np.array_equal(out, mix_frames(resampled, engine_for(off).run(resampled), 1.0))
    on = render_frame(source, NodeParams(model=grain_model, output_size=(160, 120)), frame=2)
    assert 0.005 < float(np.std(on - out)) < 0.03


def _nominal(params: NodeParams, source: np.ndarray):  # type: ignore[no-untyped-def]
    from remaster_core.node import frame_transform

    return frame_transform(params, (source.shape[1], source.shape[0]))


def test_changing_a_grain_control_re_renders(grain_model: Path, plates: str, tmp_path: Path) -> None:
    out = tmp_path / "key"
    _render(plates, grain_model, out, "--frames", "1-2")
    _render(plates, grain_model, out, "--frames", "1-2")
    _render(plates, grain_model, out, "--frames", "1-2", "--grain-seed", "9")
    log = read_log(out / ".remaster" / "logs" / "chunk-1-2.jsonl")
    statuses = [e["status"] for e in frame_events(log)]
    assert statuses == ["rendered"] * 2 + ["skipped"] * 2 + ["rendered"] * 2


def test_a_render_without_grain_warns_of_a_band_the_models_output_alone_carries_too_much_of() -> None:
    """``grain_excess_warnings``: a model whose recorded output grain holds twice the film's power at
    1/4-1/2 cycles/px gets one line naming that band where grain is off (nothing takes it away); none
    with grain on (the grain step takes it away), without a model, or without the output's profile."""
    from dataclasses import replace
    from types import SimpleNamespace

    from remaster_core.grain.profile import ring_frequencies, zero_profile
    from remaster_core.render.job import grain_excess_warnings

    base = zero_profile("test")
    flat = replace(base, spectrum=((1e-6,) * len(base.spectrum[0]),) * 3)
    gain = np.where(ring_frequencies(flat) > 0.25, 2.0, 1.0)
    output = replace(flat, spectrum=tuple(tuple(float(v) for v in 1e-6 * gain) for _ in range(3)))
    info = SimpleNamespace(film_grain=flat, output_grain=output)
    node = NodeParams(model=Path("show.onnx"))
    off = replace(node, grain_amount=0.0)
    (line,) = grain_excess_warnings(info, off)  # type: ignore[arg-type]
    assert line.startswith("show.onnx: its output alone carries 2.00 of the film's grain power at 0.25-0.5")
    assert "with grain off (--grain-amount 0) the output keeps it" in line
    assert grain_excess_warnings(info, node) == []  # type: ignore[arg-type]
    assert grain_excess_warnings(None, off) == []
    assert grain_excess_warnings(SimpleNamespace(film_grain=flat, output_grain=None), off) == []  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def excess_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a model recording an output grain of twice the film's power in the finest octave, the same net
    carrying only its deficit): the first's render takes the excess away, the second's cannot."""
    from dataclasses import replace

    from remaster_core.grain.profile import grain_deficit, ring_frequencies

    film_profile = estimate_profile(film(2))
    gain = np.where(ring_frequencies(film_profile) > 0.25, 2.0, 0.5)
    output = replace(
        film_profile,
        spectrum=tuple(tuple(float(v) for v in np.asarray(ch) * gain) for ch in film_profile.spectrum),
    )
    deficit = {contract.KEY_GRAIN_PROFILE: profile_to_json(grain_deficit(film_profile, output))}
    both = {
        **deficit,
        contract.KEY_FILM_GRAIN: profile_to_json(film_profile),
        contract.KEY_OUTPUT_GRAIN: profile_to_json(output),
    }
    net = StandIn(s=2, width=8, convs=2, seed=1)
    folder = tmp_path_factory.mktemp("excess-model")
    with_excess, _ = make_model(
        folder, "excess.onnx", net=net, props=metadata(net.s, net.receptive_field, **both)
    )
    plain, _ = make_model(
        folder, "plain.onnx", net=net, props=metadata(net.s, net.receptive_field, **deficit)
    )
    return with_excess, plain


def test_taking_the_excess_away_is_bit_identical_for_any_chunking(
    excess_models: tuple[Path, Path], plates: str, tmp_path: Path
) -> None:
    """The excess is taken from the whole frame (``grain.excess``): chunks of 1 and 4 frames give the
    same bits, and the frames differ from those of the model that cannot take it away (same net, same
    grain seed) by less than the grain itself."""
    with_excess, plain = excess_models
    one = _render(plates, with_excess, tmp_path / "c1", "--chunk", "1")
    four = _render(plates, with_excess, tmp_path / "c4", "--chunk", "4")
    untouched = _render(plates, plain, tmp_path / "plain", "--chunk", "4")
    clean = _render(plates, plain, tmp_path / "clean", "--grain-amount", "0")
    for f in FRAMES:
        assert np.array_equal(one[f], four[f]), f
        assert 0 < float(np.abs(one[f] - untouched[f]).max())
        assert float(np.std(one[f] - untouched[f])) < float(np.std(untouched[f] - clean[f]))


def test_with_an_output_deflicker_the_excess_reads_a_neighbour_and_stays_bit_identical_for_any_chunking(
    excess_models: tuple[Path, Path], plates: str, tmp_path: Path
) -> None:
    """With ``--deflicker-output`` the grain step reads each frame's grain on its difference with the
    model's output of the frame before (``render.chunk.excess_pair``; the first frame: after), which the
    chunk makes past its ends as the deflicker does: chunks of 1 and 4 frames give the same bits."""
    with_excess, _ = excess_models
    one = _render(plates, with_excess, tmp_path / "c1", "--chunk", "1", "--deflicker-output", "1")
    four = _render(plates, with_excess, tmp_path / "c4", "--chunk", "4", "--deflicker-output", "1")
    assert sorted(one) == FRAMES
    for f in FRAMES:
        assert np.array_equal(one[f], four[f]), f


def test_the_grain_steps_neighbour_is_the_frame_before_else_after_and_after_first_at_a_shots_start() -> None:
    """``excess_pair``: (the frame's output, the one before's) where there is one; the one after's at a
    reel's start or a missing frame before, and first at a shot's start (the frame before is another
    shot's); None with the frame alone."""
    from remaster_core.render.chunk import excess_pair

    a, b, c = (np.full((2, 2, 3), v, np.float32) for v in (0.1, 0.2, 0.3))
    pair = excess_pair([a, b, c], 1)
    assert pair is not None and pair[0] is b and pair[1] is a
    pair = excess_pair([a, b, c], 1, starts_shot=True)
    assert pair is not None and pair[1] is c
    pair = excess_pair([None, b, c], 1)
    assert pair is not None and pair[1] is c
    pair = excess_pair([a, b, None], 1, starts_shot=True)
    assert pair is not None and pair[1] is a
    assert excess_pair([b], 0) is None
    assert excess_pair([None, b, None], 1) is None
