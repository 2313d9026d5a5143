"""Losses: FFT-L1 on signals with known spectra, its normalisation, masks; L1; the paper's LSGAN
formulas; VGG19 weights in torchvision's format (and the files refused); the perceptual loss."""

from __future__ import annotations

import math
import pathlib

import pytest
import torch
from torch import nn

from remaster_core.errors import ModelError
from training.losses import (
    PAPER_WEIGHTS,
    fft_l1_loss,
    l1_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    patch_weights,
    perceptual_loss,
)
from training.vgg import VGG19Features, load_vgg19


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _cosine_image(h: int, w: int, cycles: int, phase: float, amplitude: float = 0.2) -> torch.Tensor:
    """(1, 3, h, w) image 0.5 + amplitude * cos(2 pi cycles x / w + phase), constant along y."""
    x = torch.arange(w, dtype=torch.float64)
    row = 0.5 + amplitude * torch.cos(2 * math.pi * cycles * x / w + phase)
    return row.expand(1, 3, h, w).clone()


# ----------------------------------------------------------------------------------------- FFT-L1


@pytest.mark.parametrize("shape", [(2, 3, 16, 32), (1, 3, 15, 17), (2, 1, 8, 9)])
def test_fft_loss_equals_the_full_spectrum_definition(shape: tuple[int, ...]) -> None:
    """The half-spectrum weighting counts the full spectrum exactly, for odd and even widths."""
    out = torch.rand(shape, dtype=torch.float64, generator=_gen(0))
    target = torch.rand(shape, dtype=torch.float64, generator=_gen(1))
    full = torch.fft.fft2(out - target, norm="ortho")
    expected = (full.real.abs() + full.imag.abs()).mean()
    assert torch.allclose(fft_l1_loss(out, target), expected, rtol=1e-12)


@pytest.mark.parametrize("cycles", [1, 3, 7])
@pytest.mark.parametrize("phases", [(0.0, 0.5), (0.3, 2.0), (1.0, 1.0 + math.pi)])
def test_fft_loss_of_phase_shifted_sinusoids_is_known(cycles: int, phases: tuple[float, float]) -> None:
    """cos(wx + p1) - cos(wx + p2) = A cos(wx + theta), A = 2 sin((p1 - p2) / 2),
    theta = (p1 + p2 + pi) / 2: two conjugate coefficients of modulus A sqrt(HW) / 2, so the loss is
    A (|cos theta| + |sin theta|) / sqrt(HW) whatever the frequency."""
    h, w, amplitude = 16, 32, 0.2
    p1, p2 = phases
    loss = fft_l1_loss(_cosine_image(h, w, cycles, p1, amplitude), _cosine_image(h, w, cycles, p2, amplitude))
    a = 2 * amplitude * math.sin((p1 - p2) / 2)
    theta = (p1 + p2 + math.pi) / 2
    expected = abs(a) * (abs(math.cos(theta)) + abs(math.sin(theta))) / math.sqrt(h * w)
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_fft_loss_nyquist_and_uniform_offset_are_known() -> None:
    h, w, delta = 8, 12, 0.03
    base = torch.rand(1, 3, h, w, dtype=torch.float64, generator=_gen(2))
    # A uniform offset lives in the DC coefficient alone: sqrt(HW) * delta, cost delta / sqrt(HW).
    assert fft_l1_loss(base + delta, base).item() == pytest.approx(delta / math.sqrt(h * w), rel=1e-9)
    # A +-a checkerboard along x is the Nyquist column: one real coefficient a * sqrt(HW).
    sign = (-1.0) ** torch.arange(w, dtype=torch.float64)
    assert fft_l1_loss(base + 0.1 * sign, base).item() == pytest.approx(0.1 / math.sqrt(h * w), rel=1e-9)


def test_fft_loss_of_white_noise_has_l1_scale() -> None:
    """Dense errors cost 2 / sqrt(pi) * sigma (L1: sqrt(2 / pi) * sigma): the stage-2 weights keep
    their meaning for the grain-like errors that remain late in training."""
    sigma = 0.05
    noise = torch.randn(4, 3, 128, 128, dtype=torch.float64, generator=_gen(3)) * sigma
    zero = torch.zeros_like(noise)
    assert fft_l1_loss(noise, zero).item() == pytest.approx(2 / math.sqrt(math.pi) * sigma, rel=0.02)
    assert l1_loss(noise, zero).item() == pytest.approx(math.sqrt(2 / math.pi) * sigma, rel=0.02)


def test_fft_loss_pulls_a_small_offset_through_grain_where_l1_hardly_does() -> None:
    """The low-frequency robustness the loss is chosen for. Film grain (sigma 0.05) on the target and a
    global offset of only sigma / 10 on the output: the FFT loss's gradient on the offset is already at
    its full value 1 / sqrt(HW) (the DC coefficient stands out of the grain), L1's is a small fraction
    of its full value 1, because its per-pixel signs are decided by the grain. Adam divides out the
    constant 1 / sqrt(HW); what stays is that the FFT loss's pull does not fade in the grain."""
    h = w = 128
    sigma = 0.05
    grain = torch.randn(2, 3, h, w, dtype=torch.float64, generator=_gen(4)) * sigma
    target = 0.5 + grain - grain.mean(dim=(2, 3), keepdim=True)  # zero-mean grain per image
    offset = torch.tensor(sigma / 10, dtype=torch.float64, requires_grad=True)
    output = torch.full_like(target, 0.5) + offset
    (fft_grad,) = torch.autograd.grad(fft_l1_loss(output, target), offset)
    (l1_grad,) = torch.autograd.grad(l1_loss(output, target), offset)
    assert fft_grad.item() == pytest.approx(1 / math.sqrt(h * w), rel=1e-9)
    assert 0 < l1_grad.item() < 0.15
    # ... and against an offset alone (no grain) both are at their full values.
    clean = torch.full_like(target, 0.5)
    (l1_clean,) = torch.autograd.grad(l1_loss(output, clean), offset)
    assert l1_clean.item() == pytest.approx(1.0)


def test_fft_loss_is_zero_only_for_equal_images() -> None:
    a = torch.rand(3, 3, 24, 20, generator=_gen(5))
    assert fft_l1_loss(a, a.clone()).item() == 0.0
    for seed in range(20):  # random pairs with tiny differences anywhere
        b = a.clone()
        g = _gen(100 + seed)
        n, c, y, x = (int(torch.randint(0, s, (1,), generator=g)) for s in b.shape)
        b[n, c, y, x] += 1e-4
        assert fft_l1_loss(b, a).item() > 0
    b = a + 1e-5 * torch.randn(a.shape, generator=_gen(6))
    assert fft_l1_loss(b, a).item() > 0


def test_fft_loss_ignores_masked_pixels_and_their_gradient() -> None:
    target = torch.rand(2, 3, 16, 16, generator=_gen(7))
    mask = torch.ones(2, 1, 16, 16)
    mask[:, :, :, 10:] = 0  # invalid right part (e.g. outside the warped broadcast)
    out = target.clone()
    out[:, :, :, 10:] = torch.rand(2, 3, 16, 6, generator=_gen(8))  # garbage where invalid
    out.requires_grad_(True)
    loss = fft_l1_loss(out, target, mask)
    assert loss.item() == 0.0
    with torch.no_grad():
        out[0, 1, 3, 4] += 0.01  # a difference where valid counts
    loss = fft_l1_loss(out, target, mask)
    assert loss.item() > 0
    (grad,) = torch.autograd.grad(loss, out)
    assert torch.all(grad[..., 10:] == 0)
    assert torch.any(grad[..., :10] != 0)


def test_fft_loss_mask_normalises_by_the_valid_fraction() -> None:
    """A fully invalid sample adds nothing, not even to the denominator; bool and (N, H, W) masks work."""
    a, b = torch.rand(2, 3, 16, 16, generator=_gen(9)), torch.rand(2, 3, 16, 16, generator=_gen(10))
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[0] = True
    expected = fft_l1_loss(a[:1], b[:1])
    assert torch.allclose(fft_l1_loss(a, b, mask), expected, rtol=1e-6)
    assert torch.allclose(l1_loss(a, b, mask), l1_loss(a[:1], b[:1]), rtol=1e-6)
    assert fft_l1_loss(a, b, torch.zeros(2, 1, 16, 16)).item() == 0.0
    with pytest.raises(ValueError, match="mask"):
        fft_l1_loss(a, b, torch.ones(2, 1, 8, 8))


def test_l1_with_mask_is_the_mean_over_valid_pixels() -> None:
    out = torch.zeros(1, 3, 4, 4)
    target = torch.zeros(1, 3, 4, 4)
    out[..., :2, :] = 0.2
    out[..., 2:, :] = 5.0  # invalid rows
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    assert l1_loss(out, target, mask).item() == pytest.approx(0.2)
    assert l1_loss(out, target).item() == pytest.approx((0.2 + 5.0) / 2)
    with pytest.raises(ValueError, match="shape"):
        l1_loss(out, target[..., :3])


# ------------------------------------------------------------------------------------------ LSGAN


def test_lsgan_losses_are_the_papers_formulas() -> None:
    d_fake = torch.tensor([[[[0.3, -0.2], [1.5, 0.0]]]])
    d_real = torch.tensor([[[[0.8, 1.0], [0.1, 2.0]]]])
    fake, real = d_fake.flatten().tolist(), d_real.flatten().tolist()
    g_expected = sum((v - 1) ** 2 for v in fake) / 4
    d_expected = sum(v**2 for v in fake) / 4 + sum((v - 1) ** 2 for v in real) / 4
    assert lsgan_generator_loss(d_fake).item() == pytest.approx(g_expected)
    assert lsgan_discriminator_loss(d_fake, d_real).item() == pytest.approx(d_expected)
    # D's optimum: fakes at 0, reals at 1; G's optimum: fakes at 1.
    assert lsgan_discriminator_loss(torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3)).item() == 0.0
    assert lsgan_generator_loss(torch.ones(2, 1, 3, 3)).item() == 0.0
    assert (PAPER_WEIGHTS.fft, PAPER_WEIGHTS.adversarial, PAPER_WEIGHTS.perceptual) == (1.0, 3.0, 0.5)


def test_lsgan_masks_weight_the_patches() -> None:
    mask = torch.zeros(1, 1, 32, 64)
    mask[..., :32] = 1  # left half valid: patches of 16 px -> scores (1, 1, 2, 4), left two columns
    scores_fake = torch.tensor([[[[0.2, 0.4, 9.0, 9.0], [0.0, 0.6, 9.0, 9.0]]]])
    scores_real = torch.tensor([[[[1.0, 0.5, -9.0, -9.0], [1.0, 1.0, -9.0, -9.0]]]])
    weight = patch_weights(mask, scores_fake)
    assert weight is not None and weight.shape == scores_fake.shape
    assert weight.flatten().tolist() == [1, 1, 0, 0, 1, 1, 0, 0]
    valid_fake = torch.tensor([0.2, 0.4, 0.0, 0.6])
    assert lsgan_generator_loss(scores_fake, weight).item() == pytest.approx(
        ((valid_fake - 1) ** 2).mean().item()
    )
    assert lsgan_discriminator_loss(scores_fake, scores_real, weight).item() == pytest.approx(
        (valid_fake**2).mean().item() + 0.25 / 4
    )
    assert patch_weights(None, scores_fake) is None


# ------------------------------------------------------------------------------------ VGG19 files

# torchvision's VGG19 "features" (written here independently of the module): five blocks of
# (channels, convs), each conv followed by a ReLU and each block by a 2x2 max pool.
_TORCHVISION_VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _torchvision_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A state dict laid out as torchvision's ``vgg19().state_dict()`` (random weights, small fake
    classifier: its entries are ignored by the loader)."""
    g = _gen(seed)
    layers: list[nn.Module] = []
    channels = 3
    for width, convs in _TORCHVISION_VGG19_BLOCKS:
        for _ in range(convs):
            conv = nn.Conv2d(channels, width, 3, padding=1)
            with torch.no_grad():
                for p in conv.parameters():  # weight, bias
                    scale = (2 / (channels * 9)) ** 0.5 if p.dim() == 4 else 0.01
                    p.copy_(torch.randn(p.shape, generator=g) * scale)
            layers += [conv, nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2, 2))
    state = {f"features.{k}": v for k, v in nn.Sequential(*layers).state_dict().items()}
    state |= {"classifier.0.weight": torch.zeros(8, 8), "classifier.0.bias": torch.zeros(8)}
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19-test.pth"
    torch.save(_torchvision_state_dict(11), path)
    return path


def test_vgg_loads_a_torchvision_state_dict(vgg_file: pathlib.Path) -> None:
    vgg = load_vgg19(vgg_file)
    state = torch.load(vgg_file, weights_only=True)
    own = vgg.features.state_dict()
    assert torch.equal(own["0.weight"], state["features.0.weight"])
    assert torch.equal(own["25.bias"], state["features.25.bias"])  # last conv before pool4
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(2, 3, 32, 48, generator=_gen(12))
    pool2, pool4 = vgg(x)
    assert pool2.shape == (2, 128, 8, 12) and pool4.shape == (2, 512, 2, 3)
    # pool1 by hand from the file's weights and torchvision's normalisation.
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = (x - mean) / std
    for i in (0, 2):
        h = torch.relu(
            nn.functional.conv2d(h, state[f"features.{i}.weight"], state[f"features.{i}.bias"], padding=1)
        )
    (pool1,) = load_vgg19(vgg_file, pools=(1,))(x)
    assert torch.allclose(pool1, nn.functional.max_pool2d(h, 2), atol=1e-5)


def test_vgg_needs_a_file_and_says_how(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ModelError, match="--vgg-weights"):
        load_vgg19(None)
    missing = tmp_path / "nope.pth"
    with pytest.raises(ModelError, match="nope.pth"):
        load_vgg19(missing)


class _Payload:
    """A pickle that would run code when loaded: it creates a marker file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.touch, (self.marker,))


def test_vgg_refuses_a_pickle_that_needs_code(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Payload(marker)}, path)
    with pytest.raises(ModelError, match="evil.pth.*run code"):
        load_vgg19(path)
    assert not marker.exists()


def test_vgg_refuses_other_state_dicts(tmp_path: pathlib.Path) -> None:
    state = _torchvision_state_dict(13)
    # VGG16 lays its convs out differently: features.17 is a conv there, a ReLU in VGG19.
    vgg16_like = dict(state)
    vgg16_like["features.17.weight"] = vgg16_like.pop("features.16.weight")
    path = tmp_path / "vgg16.pth"
    torch.save(vgg16_like, path)
    with pytest.raises(ModelError, match="vgg16.pth.*not a torchvision VGG19"):
        load_vgg19(path)
    wrong = dict(state)
    wrong["features.5.weight"] = torch.zeros(128, 32, 3, 3)
    path = tmp_path / "wrong.pth"
    torch.save(wrong, path)
    with pytest.raises(ModelError, match="features.5.weight"):
        load_vgg19(path)
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a torch file at all")
    with pytest.raises(ModelError, match="garbage.pth"):
        load_vgg19(path)


# ------------------------------------------------------------------------------- perceptual loss


def _features_mse(vgg: VGG19Features, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum_k mean((Phi_k(a) - Phi_k(b))^2), written out."""
    total = torch.zeros(())
    for phi_a, phi_b in zip(vgg(a), vgg(b), strict=True):
        total = total + ((phi_a - phi_b) ** 2).mean()
    return total


def test_perceptual_loss_values_and_masks() -> None:
    vgg = VGG19Features.random(seed=0)
    target = torch.rand(2, 3, 32, 32, generator=_gen(14))
    out = (target + 0.1 * torch.randn(target.shape, generator=_gen(15))).requires_grad_(True)
    assert perceptual_loss(vgg, target, target.clone()).item() == 0.0
    loss = perceptual_loss(vgg, out, target)
    assert torch.allclose(loss, _features_mse(vgg, out, target))
    (grad,) = torch.autograd.grad(loss, out)
    assert torch.any(grad != 0)
    # Differences only where the mask is 0: no loss and no gradient there.
    mask = torch.ones(2, 1, 32, 32)
    mask[..., 16:] = 0
    garbage = target.clone()
    garbage[..., 16:] = torch.rand(2, 3, 32, 16, generator=_gen(16))
    garbage.requires_grad_(True)
    masked = perceptual_loss(vgg, garbage, target, mask)
    assert masked.item() == 0.0
    (grad,) = torch.autograd.grad(masked, garbage)
    assert torch.all(grad == 0)
    # A valid-region difference, normalised by the valid fraction.
    partial = perceptual_loss(vgg, out, target, mask)
    filled = mask * out + (1 - mask) * target
    assert torch.allclose(partial, _features_mse(vgg, filled, target) / 0.5)
