"""The networks the optimiser looks through ("eyes"): VGG-19 itself, and a compressed VGG-19
that costs about half as much per step, for all but the last few full-size steps.

The compressed one ("lowrank") is VGG-19 with each 3x3 convolution from conv1_2 to conv4_2
replaced by a 3x3 convolution to fewer channels and a 1x1 back (Zhang et al., "Accelerating Very
Deep Convolutional Networks for Classification and Detection", TPAMI 2016). It is made from the
bundled Caffe weights by `scripts/make_lowrank_eye.py` (no training loop: least squares on the
bundled pictures' activations) and shipped as `vgg19_lowrank.pt`. It reproduces the normalised
network's features (cosine 0.97-0.99 at relu2_1 ... relu4_2 on the bundled pictures), so the loss
weights, the targets and every term of the objective are the same; its targets are computed
through it, so a scale seen through it is a whole objective of its own. The last full-size steps
(`Settings.judge_steps`) look through VGG-19 itself: the picture ends in VGG-19's objective.

It covers the default layers (up to relu4_2) of the Caffe weights with average pooling; other
settings (relu5_1, max pooling, the torchvision weights) look through VGG-19 at every step.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from .errors import WeightsError
from .layers import LAYER_NAMES

EYES = ("lowrank", "vgg19")
LOWRANK_FILE = Path(__file__).resolve().parent / "vgg19_lowrank.pt"
LOWRANK_SHA256 = "b8953096eb8301f6ad17ae8bc496bfe55f932f62758c25b7e4622047bb79137a"
# The rank each compressed convolution keeps (of 64 ... 512 channels): chosen so that each
# layer's responses keep 97-99.9% of their variance (the script prints the features' cosine).
RANKS = {"conv1_2": 24, "conv2_1": 32, "conv2_2": 40, "conv3_1": 64, "conv3_2": 64,
         "conv3_3": 64, "conv3_4": 64, "conv4_1": 128, "conv4_2": 128}
# A step's cost through each eye, relative to VGG-19's at the same size (forward and backward at
# 512x384 on a 2-core CPU, benchmarks/time_to_quality.py's eye table): for time estimates.
COST = {"vgg19": 1.0, "lowrank": 0.6}
# The deepest layer the compressed network has.
LOWRANK_DEPTH = "relu4_2"


class Factored(nn.Module):
    """A 3x3 convolution as two: to `rank` channels (3x3), then back to `cout` (1x1)."""

    def __init__(self, cin: int, cout: int, rank: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(cin, rank, 3, padding=1)
        self.expand = nn.Conv2d(rank, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.reduce(x))


def covers(weights: str, pooling: str, layers: tuple[str, ...]) -> bool:
    """Whether the compressed network has everything these settings look at."""
    deepest = max(LAYER_NAMES.index(k) for k in layers)
    return (weights == "caffe" and pooling == "avg"
            and deepest <= LAYER_NAMES.index(LOWRANK_DEPTH))


def read_lowrank() -> dict[str, torch.Tensor]:
    """The compressed convolutions' weights, checked."""
    try:
        data = LOWRANK_FILE.read_bytes()
    except OSError as e:
        raise WeightsError(f"the cheap eye's weights are missing ({LOWRANK_FILE}: {e.strerror}); "
                           "reinstall brushwork, or use --eye vgg19") from None
    if LOWRANK_SHA256 and hashlib.sha256(data).hexdigest() != LOWRANK_SHA256:
        raise WeightsError(f"{LOWRANK_FILE} is damaged (SHA-256 mismatch); reinstall brushwork "
                           "(pip install --force-reinstall brushwork), or use --eye vgg19")
    import io

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def compress(vgg: nn.Module) -> nn.Module:
    """`vgg` (a freshly loaded extractor, which is changed) as the compressed network: its
    convolutions from conv1_2 to conv4_2 replaced by the shipped factored ones."""
    state = read_lowrank()
    device = vgg.mean.device
    for i, name in enumerate(vgg.names):
        if name in RANKS:
            conv = vgg.body[i]
            rank = state[f"{name}.reduce.weight"].shape[0]
            factored = Factored(conv.in_channels, conv.out_channels, rank)
            factored.load_state_dict({k[len(name) + 1:]: v.float() for k, v in state.items()
                                      if k.startswith(name + ".")})
            vgg.body[i] = factored
    vgg.requires_grad_(False)
    return vgg.to(device=device, memory_format=torch.channels_last)


class Eyes(Mapping):
    """The networks of one run by name ("vgg19", and "lowrank" when the settings use it): what
    `vgg.load_model` returns and the loop picks from, scale by scale."""

    def __init__(self, networks: dict[str, nn.Module]) -> None:
        self._networks = dict(networks)

    def __getitem__(self, name: str) -> nn.Module:
        return self._networks[name]

    def __iter__(self):
        return iter(self._networks)

    def __len__(self) -> int:
        return len(self._networks)

    @property
    def layers(self) -> tuple[str, ...]:
        return self._networks["vgg19"].layers

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG-19's features (the eye that judges)."""
        return self._networks["vgg19"](image)
