"""The temporal deflicker: slow low-frequency noise averaged away along the motion, detail and cuts kept,
and through ``remaster render --deflicker``: the same frames whatever the chunking."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.render.deflicker import DeflickerParams, deflicker_frame
from tests.render import pixels, run_cli, write_sequence
from tests.runtime import StandIn, make_model, metadata

H, W = 120, 160


def _picture(seed: int, width: int = W + 40) -> np.ndarray:
    """float32 (H, width, 3): a textured picture, detail at every scale, 0.2..0.8."""
    rng = np.random.default_rng(seed)
    base = np.zeros((H, width, 3), np.float32)
    for sigma, amp in ((8.0, 0.15), (3.0, 0.06), (1.0, 0.03)):
        base += (
            cv2.GaussianBlur(rng.normal(0, 1, (H, width, 3)).astype(np.float32), (0, 0), sigma) * amp * sigma
        )
    return np.clip(0.5 + base, 0.2, 0.8)


def _lf_noise(n: int, seed: int, amplitude: float = 0.012, rho: float = 0.9) -> list[np.ndarray]:
    """``n`` (H, W, 3) fields of AR(1) noise on a 16 px grid, upsampled: the tape noise the synth models."""
    rng = np.random.default_rng(seed)
    grid = (H // 16 + 2, W // 16 + 2, 3)
    state = rng.standard_normal(grid).astype(np.float32)
    out = []
    for _ in range(n):
        state = rho * state + np.sqrt(1 - rho**2) * rng.standard_normal(grid).astype(np.float32)
        out.append(
            (cv2.resize(state, (W + 32, H + 32), interpolation=cv2.INTER_CUBIC)[:H, :W] * amplitude).astype(
                np.float32
            )
        )
    return out


def _pan(picture: np.ndarray, n: int, speed: float) -> list[np.ndarray]:
    """``n`` (H, W, 3) frames of ``picture`` panning ``speed`` px a frame."""
    frames = []
    for k in range(n):
        m = np.float32([[1, 0, speed * k], [0, 1, 0]])
        frames.append(
            cv2.warpAffine(picture, m, (picture.shape[1], H), flags=cv2.INTER_CUBIC)[:, 20 : 20 + W]
        )
    return frames


def _low(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), 4.0)


def _run(frames: list[np.ndarray], params: DeflickerParams) -> list[np.ndarray]:
    r = params.radius
    return [
        deflicker_frame(frames[max(0, k - r) : k + r + 1], k - max(0, k - r), params)
        for k in range(len(frames))
    ]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a[8:-8, 8:-8] - b[8:-8, 8:-8]) ** 2)))


@pytest.mark.parametrize("speed", [0.0, 2.5])
def test_slow_low_frequency_noise_is_averaged_away_along_the_motion(speed: float) -> None:
    """A still and a panning picture under AR(1) tape noise: the noise's frame-to-frame change falls
    by 40 % or more (measured: 52 % still, 48 % panning), the picture gets no further from the clean
    one (the noise is slow: five frames share most of it), its detail is the frame's own."""
    clean = _pan(_picture(1), 9, speed)
    noisy = [c + n for c, n in zip(clean, _lf_noise(9, 2), strict=True)]
    out = _run(noisy, DeflickerParams(radius=2))
    inner = range(2, 7)

    def change(seq: list[np.ndarray]) -> float:
        steps = [(_low(seq[k + 1] - clean[k + 1]) - _low(seq[k] - clean[k]))[8:-8, 12:-12] for k in inner]
        return float(np.mean([np.sqrt(np.mean(d**2)) for d in steps]))

    assert change(out) < 0.6 * change(noisy)
    for k in inner:
        assert _psnr(out[k], clean[k]) > _psnr(noisy[k], clean[k])
        detail = out[k] - cv2.GaussianBlur(out[k], (0, 0), 1.0)
        truth = clean[k] - cv2.GaussianBlur(clean[k], (0, 0), 1.0)
        assert np.sqrt(np.mean((detail - truth)[8:-8, 8:-8] ** 2)) < 0.1 * np.sqrt(np.mean(truth**2))


def test_a_cut_is_not_averaged_across() -> None:
    """Frames 0-2 of one picture and 3-4 of another: the last frame before the cut comes out as it does
    from its own shot's frames alone, and a one-frame window gives the frame back."""
    noise = _lf_noise(5, 3)
    a, b = _pan(_picture(4), 3, 1.0), _pan(_picture(5), 2, 1.0)
    frames = [f + n for f, n in zip(a + b, noise, strict=True)]
    params = DeflickerParams(radius=2)
    across = deflicker_frame(frames, 2, params)
    alone = deflicker_frame(frames[:3], 2, params)
    assert np.abs(across - alone).max() < 1e-6
    assert np.array_equal(deflicker_frame([frames[2]], 0, params), frames[2])
    unread = deflicker_frame([None, frames[1], frames[2]], 1, params)  # a neighbour that could not be read
    assert np.array_equal(unread, deflicker_frame(frames[1:3], 0, params))
    with pytest.raises(ValueError):
        deflicker_frame([frames[1], None, frames[2]], 1, params)


def test_bad_settings_are_named() -> None:
    with pytest.raises(InputError, match="radius"):
        DeflickerParams(radius=-1)
    with pytest.raises(InputError, match="sigma"):
        DeflickerParams(sigma=0.0)
    assert DeflickerParams(radius=0).off


def test_render_deflicker_gives_the_same_frames_whatever_the_chunking(tmp_path: Path) -> None:
    """With grain too: a model that carries the film's and its output's grain profiles, whose render
    synthesises back the grain the deflicker takes (more than the plain deficit)."""
    from remaster_core.grain import estimate_profile
    from remaster_core.grain.profile import grain_deficit, profile_to_json
    from remaster_core.runtime import model as contract
    from tests.grain.test_profile import film

    profile = estimate_profile(film(2))
    output = grain_deficit(profile, profile, np.full(len(profile.spectrum[0]), 0.5))
    grain = {contract.KEY_GRAIN_PROFILE: profile_to_json(grain_deficit(profile, output))}
    both = {
        **grain,
        contract.KEY_FILM_GRAIN: profile_to_json(profile),
        contract.KEY_OUTPUT_GRAIN: profile_to_json(output),
    }
    net = StandIn(s=2, width=8, convs=2, seed=1)
    (tmp_path / "m").mkdir()
    model, _ = make_model(
        tmp_path / "m", "m.onnx", net=net, props=metadata(net.s, net.receptive_field, **both)
    )
    deficit_only, _ = make_model(
        tmp_path / "m", "d.onnx", net=net, props=metadata(net.s, net.receptive_field, **grain)
    )
    frames = list(range(1, 8))
    plates = write_sequence(tmp_path / "in", frames, (80, 60))

    def render(out: str, *args: str) -> dict[int, np.ndarray]:
        proc = run_cli(plates, "--model", str(model), "--out", str(tmp_path / out / "o.####.exr"),
                       "--format", "160x120", "--bit-depth", "float", *args)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return {f: pixels(tmp_path / out / f"o.{f:04d}.exr") for f in frames}

    whole = render("whole", "--deflicker", "2")
    chunks = render("chunks", "--deflicker", "2", "--chunk", "3")
    plain = render("plain")
    for f in frames:
        assert np.array_equal(whole[f], chunks[f]), f
    assert any(not np.array_equal(whole[f], plain[f]) for f in frames)
    both_model, model = model, deficit_only  # the same render with the deficit alone: less grain
    less = render("less", "--deflicker", "2")
    clean = render("clean", "--deflicker", "2", "--grain-amount", "0")
    more_rms = np.sqrt(np.mean([(whole[f] - clean[f]) ** 2 for f in frames]))
    less_rms = np.sqrt(np.mean([(less[f] - clean[f]) ** 2 for f in frames]))
    assert more_rms > 1.01 * less_rms > 0  # the coarse rings (this film grain is mostly fine: 1.4 % more)
    model = both_model
    proc = run_cli(plates, "--model", str(model), "--out", str(tmp_path / "part" / "o.####.exr"), "--format",
                   "160x120", "--bit-depth", "float", "--deflicker", "2", "--frames", "3-5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for f in (3, 4, 5):  # its neighbours outside the frames asked for are read all the same
        assert np.array_equal(pixels(tmp_path / "part" / f"o.{f:04d}.exr"), whole[f]), f


def test_the_share_of_new_grain_it_leaves_is_what_passed_power_says() -> None:
    """Independent white grain on a still picture, deflickered over 2 frames each side: the share of the
    grain's power left per band is ``passed_power``'s where the grain is (from 1/16 cycle/px up: within
    10 %); lower down, where the weights fall below 1, it leaves more, never less."""
    from remaster_core.render.deflicker import passed_power

    pic = _picture(3)[:, :W]
    rng = np.random.default_rng(0)
    params = DeflickerParams(radius=2)
    win = np.outer(np.hanning(H), np.hanning(W))[..., None]
    power_in = power_out = np.zeros((H, W))
    for _ in range(4):
        noise = [rng.normal(0, 0.02, (H, W, 3)).astype(np.float32) for _ in range(5)]
        out = _run([pic + n for n in noise], params)[2] - pic
        power_out = power_out + (np.abs(np.fft.fft2(out * win, axes=(0, 1))) ** 2).mean(-1)
        power_in = power_in + (np.abs(np.fft.fft2(noise[2] * win, axes=(0, 1))) ** 2).mean(-1)
    radius = np.hypot(np.fft.fftfreq(H)[:, None], np.fft.fftfreq(W)[None, :])
    for lo, hi in ((0.01, 0.03), (0.03, 0.06), (0.06, 0.12), (0.12, 0.25), (0.25, 0.5)):
        band = (radius > lo) & (radius <= hi)
        measured = power_out[band].sum() / power_in[band].sum()
        predicted = float(passed_power(radius[band], params, 1.0).mean())
        if lo >= 0.06:
            assert measured == pytest.approx(predicted, rel=0.1), (lo, hi)
        else:
            assert predicted * 0.95 <= measured <= 2.0 * predicted, (lo, hi)
    assert passed_power(np.array([0.0, 0.3]), DeflickerParams(radius=0), 1.0) == pytest.approx([1.0, 1.0])


def test_a_deflickered_render_synthesises_back_the_grain_the_deflicker_takes() -> None:
    """With the model's film and output profiles, the grain of a deflickered frame is the film's less the
    output's share that survives (at the frame's scale); without a deflicker, or without the two
    profiles, the model's own deficit."""
    from types import SimpleNamespace

    from remaster_core.align.transform import Transform4
    from remaster_core.grain import estimate_profile
    from remaster_core.grain.profile import grain_deficit, ring_frequencies
    from remaster_core.render.chunk import frame_grain
    from remaster_core.render.deflicker import passed_power
    from tests.grain.test_profile import film

    profile = estimate_profile(film(2))
    output = grain_deficit(profile, profile, np.full(len(profile.spectrum[0]), 0.5))  # half the film's
    deficit = grain_deficit(profile, output)
    info = SimpleNamespace(grain=deficit, film_grain=profile, output_grain=output)
    half = Transform4(0.0, 0.0, 0.5, 0.5)  # two output px per input px
    params = DeflickerParams(radius=2)
    assert frame_grain(info, None, half).deficit is deficit  # type: ignore[arg-type]
    assert frame_grain(info, DeflickerParams(radius=0), half).deficit is deficit  # type: ignore[arg-type]
    assert (
        frame_grain(SimpleNamespace(grain=deficit, film_grain=None, output_grain=None), params, half).deficit
        is deficit
    )  # type: ignore[arg-type]
    plan = frame_grain(info, params, half)  # type: ignore[arg-type]
    assert plan is not None and not plan.removes
    got = plan.deficit
    passed = passed_power(ring_frequencies(profile), params, 2.0)
    expected = np.maximum(0.0, np.asarray(profile.spectrum) - passed * np.asarray(output.spectrum))
    assert np.allclose(got.spectrum, expected)
    assert all(g > d for g, d in zip(got.rms, deficit.rms, strict=True))  # more than the plain deficit
    assert frame_grain(None, params, half) is None


def test_a_deflicker_reads_no_input_frame_outside_the_input_range(tmp_path: Path) -> None:
    """``input_range`` (what the Nuke node's worker gives: the Source's range) keeps frames left in the
    input folder from an earlier, longer range out of the deflicker: frames 3-4 of a folder holding 1-7,
    rendered with the range 1-4, are the frames a folder holding only 1-4 gives; without the range,
    frame 4 reads 5 and 6."""
    from remaster_core.node import NodeParams
    from remaster_core.render.job import plan_job, run_job
    from remaster_core.render.outputs import output_spec

    net = StandIn(s=2, width=8, convs=2, seed=1)
    (tmp_path / "m").mkdir()
    model, _ = make_model(tmp_path / "m", "m.onnx", net=net, props=metadata(net.s, net.receptive_field))
    longer = write_sequence(tmp_path / "longer", list(range(1, 8)), (80, 60))
    shorter = write_sequence(tmp_path / "shorter", list(range(1, 5)), (80, 60))

    def render(plate: str, out: str, input_range: tuple[int, int] | None) -> dict[int, np.ndarray]:
        spec = output_spec(str(tmp_path / out / "o.####.exr"), bit_depth="float")
        node = NodeParams(model=model, output_size=(160, 120))
        plan = plan_job(plate, spec, node, frames=[3, 4], deflicker=2, input_range=input_range)
        assert run_job(plan, show_progress=False).exit_code == 0
        return {f: pixels(tmp_path / out / f"o.{f:04d}.exr") for f in (3, 4)}

    ranged = render(longer, "ranged", (1, 4))
    alone = render(shorter, "alone", None)
    unranged = render(longer, "unranged", None)
    for f in (3, 4):
        assert np.array_equal(ranged[f], alone[f]), f
    assert not np.array_equal(unranged[4], ranged[4])
