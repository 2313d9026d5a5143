"""VGG19 features for the perceptual loss, with weights read from a local file (never downloaded).

The layers mirror torchvision's ``vgg19().features`` module for module (conv 3x3 + ReLU, max pools at
indices 4, 9, 18, 27, 36), so the state-dict keys are torchvision's: ``features.0.weight``,
``features.0.bias``, ..., ``features.34.bias``. The file to pass with ``--vgg-weights`` is torchvision's
``vgg19-dcbb9e9d.pth`` (ImageNet weights; its ``classifier.*`` entries are ignored). It is read with
``torch.load(weights_only=True)``: a file whose unpickling would need code is refused, not run.

Input: (N, 3, H, W) float RGB 0..1 (sRGB-ish display code values, as the ImageNet training images);
the ImageNet mean/std normalisation happens inside. Output: the feature maps after the requested pooling
layers, shallowest first: pool k is (N, C_k, floor(H / 2**k), floor(W / 2**k)), C = 64, 128, 256, 512,
512 for k = 1..5.

Default layers: pools 2 and 4, as ProSR's GAN options (``vgg: [2, 4]``) — a texture-scale and an
object-part-scale comparison; the paper's formula sums over "pooling layers" without naming them.
ProSR also replaced max pooling by average pooling (``average_pool=True`` here); we keep max pooling by
default because that is what the ImageNet weights were trained with.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from remaster_core.errors import ModelError

# torchvision's configuration "E" (VGG19): channels of each 3x3 conv, "M" a 2x2 max pool.
_VGG19_LAYOUT: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_POOLS: tuple[int, ...] = (2, 4)


def _pool_indices() -> list[int]:
    """Indices in ``features`` of pool1..pool5 (4, 9, 18, 27, 36)."""
    indices, index = [], 0
    for item in _VGG19_LAYOUT:
        if item == "M":
            indices.append(index)
            index += 1
        else:
            index += 2  # conv, relu
    return indices


POOL_INDICES: tuple[int, ...] = tuple(_pool_indices())


def _layers(average_pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.AvgPool2d(2, 2) if average_pool else nn.MaxPool2d(2, 2))
        else:
            assert isinstance(item, int)
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return layers


class VGG19Features(nn.Module):
    """Frozen VGG19 trunk returning the outputs of the chosen pooling layers (see module docstring).

    Build with ``load_vgg19(path)``; ``VGG19Features.random(seed)`` exists for tests only. Only the
    layers up to the deepest requested pool are built. Parameters never require gradient; the module
    stays in eval mode, but gradients flow to the *input* (that is how the perceptual loss trains G).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, pools: tuple[int, ...] = DEFAULT_POOLS, average_pool: bool = False) -> None:
        super().__init__()
        if not pools or any(p not in (1, 2, 3, 4, 5) for p in pools) or list(pools) != sorted(set(pools)):
            raise ValueError(f"pools must be increasing pool numbers in 1..5, got {pools!r}")
        self.pools = tuple(pools)
        self._taps = {POOL_INDICES[p - 1] for p in self.pools}
        self.features = nn.Sequential(*_layers(average_pool)[: POOL_INDICES[self.pools[-1] - 1] + 1])
        # Explicitly on the CPU: ``load_vgg19`` builds the module on the meta device, then assigns weights.
        self.register_buffer(
            "mean", torch.tensor(IMAGENET_MEAN, device="cpu").view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(IMAGENET_STD, device="cpu").view(1, 3, 1, 1), persistent=False
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Always eval mode (no dropout or batch statistics to change, but keep it explicit)."""
        return super().train(False)

    @classmethod
    def random(cls, seed: int, pools: tuple[int, ...] = DEFAULT_POOLS) -> VGG19Features:
        """FOR TESTS ONLY: randomly initialised weights (deterministic from ``seed``). Its features mean
        nothing perceptually; training must use ``load_vgg19``."""
        generator = torch.Generator().manual_seed(seed)
        vgg = cls(pools)
        for module in vgg.features:
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                with torch.no_grad():
                    module.weight.normal_(0.0, (2.0 / (module.in_channels * 9)) ** 0.5, generator=generator)
                    module.bias.zero_()
        return vgg

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) RGB 0..1 -> [pool_k features for k in ``pools``], shallowest first."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG19 features need (N, 3, H, W) RGB, got {tuple(x.shape)}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        outputs = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self._taps:
                outputs.append(h)
        return outputs


def _expected_keys(vgg: VGG19Features) -> set[str]:
    return {f"features.{name}" for name in vgg.features.state_dict()}


def _torchvision_keys() -> set[str]:
    """Every ``features.*`` key of a full torchvision VGG19 state dict (convs at 0, 2, 5, 7, 10, ...)."""
    keys: set[str] = set()
    index = 0
    for item in _VGG19_LAYOUT:
        if item == "M":
            index += 1
        else:
            keys |= {f"features.{index}.weight", f"features.{index}.bias"}
            index += 2
    return keys


def load_vgg19(
    path: str | Path | None, pools: tuple[int, ...] = DEFAULT_POOLS, average_pool: bool = False
) -> VGG19Features:
    """Read torchvision-format VGG19 weights from ``path`` into a frozen ``VGG19Features``.

    Raises:
        ModelError: no path given (the GAN stage needs the weights: nothing is downloaded), a missing or
            unreadable file, a pickle that needs code to load (refused, never executed), or a state dict
            that is not VGG19's (missing keys, foreign keys, wrong shapes), each naming the file.
    """
    if path is None:
        raise ModelError(
            "the GAN stage needs ImageNet VGG19 weights for its perceptual loss and remaster downloads "
            "nothing: pass --vgg-weights PATH to torchvision's vgg19-dcbb9e9d.pth (a state dict saved with "
            "torch.save)"
        )
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"VGG19 weights {path} do not exist; pass --vgg-weights PATH to vgg19-dcbb9e9d.pth")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"refusing VGG19 weights {path}: loading them would run code from the file (weights_only "
            f"load failed: {str(exc).splitlines()[0]}); use a plain state dict of tensors, as torchvision's "
            "vgg19-dcbb9e9d.pth"
        ) from exc
    except Exception as exc:  # torch.load raises many kinds (zip, safetensors, EOF...) on garbage
        raise ModelError(f"cannot read VGG19 weights {path}: not a readable torch file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelError(f"VGG19 weights {path} hold a {type(state).__name__}, not a state dict")
    known = _torchvision_keys()
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    foreign = sorted(k for k in state if not k.startswith("classifier.") and k not in known)
    missing_all = sorted(known - set(features))
    with torch.device("meta"):  # shapes only: the weights come from the file
        vgg = VGG19Features(pools, average_pool)
    needed = _expected_keys(vgg)
    missing = sorted(needed - set(features))
    if foreign or missing:
        problem = f"foreign keys {foreign[:4]}" if foreign else f"missing keys {missing[:4]}"
        raise ModelError(
            f"{path} is not a torchvision VGG19 state dict ({problem}; "
            f"{len(missing_all)} of {len(known)} VGG19 feature tensors absent); use "
            "torchvision's vgg19-dcbb9e9d.pth"
        )
    own = vgg.features.state_dict()
    for key in sorted(needed):
        tensor = features[key]
        if not isinstance(tensor, torch.Tensor) or tensor.shape != own[key.removeprefix("features.")].shape:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ModelError(
                f"{path}: {key} has shape {shape}, VGG19 needs {tuple(own[key.removeprefix('features.')].shape)}"
                "; is this VGG19 (not VGG16 or a modified net)?"
            )
    vgg.features.load_state_dict(
        {k.removeprefix("features."): features[k].float() for k in needed}, assign=True
    )
    return vgg.requires_grad_(False)
