"""The VGG-19 feature extractor, with the paper's layer names and its own preprocessing.

Images come in as RGB in [0, 1]; the extractor turns them into whatever its weights were trained
on (Caffe's BGR 0-255 minus the mean pixel, or ImageNet mean/std), so no other module needs to know.
The network is cut after the deepest layer asked for and frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import torch
from torch import nn

from . import examples, images
from .eyes import Eyes, compress
from .layers import CONVS, LAYER_NAMES
from .weights import VGGWeights, load_weights

if TYPE_CHECKING:
    from .settings import Settings

# The normalisation scales no filter up by more than this times its layer's median filter (see
# `filter_means`).
MAX_GAIN = 10.0
# The network is normalised on the bundled examples at ImageNet's usual size.
REFERENCE_SIZE = 224
# The Caffe network's normalisation, precomputed (scripts/make_filter_means.py).
FILTER_MEANS_FILE = Path(__file__).resolve().parent / "caffe_filter_means.pt"


class VGG19Features(nn.Module):
    """VGG-19 up to the deepest of `layers`; `forward` returns {layer name: activation}."""

    def __init__(self, weights: VGGWeights, layers: Iterable[str], pooling: str = "avg",
                 reference: Sequence[torch.Tensor] = (),
                 filter_means: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG-19 layers: {unknown}")
        depth = max(LAYER_NAMES.index(name) for name in self.layers) + 1
        pp = weights.preprocess
        self.register_buffer("mean", torch.tensor(pp.mean).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1 / torch.tensor(pp.std).view(1, 3, 1, 1))
        self.scale, self.bgr, self.source = pp.scale, pp.bgr, weights.source
        shapes = {name: (cin, cout) for name, cin, cout in CONVS}
        self.names = LAYER_NAMES[:depth]
        modules: list[nn.Module] = []
        for name in self.names:
            if name.startswith("conv"):
                cin, cout = shapes[name]
                # Built on the meta device: a random initialisation we would overwrite costs
                # a quarter of a second of start-up.
                conv = nn.Conv2d(cin, cout, 3, padding=1, device="meta")
                conv.weight = nn.Parameter(weights.state[f"{name}.weight"].clone())
                conv.bias = nn.Parameter(weights.state[f"{name}.bias"].clone())
                modules.append(conv)
            elif name.startswith("relu"):
                # In place saves a full-size activation per layer, unless the conv output
                # before it is itself asked for.
                modules.append(nn.ReLU(inplace="conv" + name[4:] not in self.layers))
            else:
                pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
                modules.append(pool(2, 2))
        self.body = nn.ModuleList(modules)
        self.requires_grad_(False)
        self.eval()
        if filter_means is None and reference:
            filter_means = self.filter_means(reference)
        if filter_means is not None:
            self._normalise(filter_means)
        # NHWC runs the 3x3 convolutions about 20% faster on CPU (oneDNN) and on CUDA (cuDNN);
        # measured in benchmarks/. The image itself stays NCHW-contiguous for the optimisers.
        self.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def filter_means(self, reference: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean activation of each filter (after its ReLU) over the `reference` images and
        positions. Normalising divides each channel by exactly this, so measuring the network as
        it is suffices."""
        means: dict[str, torch.Tensor] = {}
        xs = [self.preprocess(r) for r in reference]
        for name, module in zip(self.names, self.body):
            if isinstance(module, nn.ReLU):
                xs = [torch.relu(x) for x in xs]  # not in place: the references are ours
            else:
                xs = [module(x) for x in xs]
            if name.startswith("relu"):
                mean = sum(x.sum(dim=(0, 2, 3)) for x in xs) / sum(x[0, 0].numel() for x in xs)
                # Departure from the paper, which measured over all of ImageNet: a handful of
                # references leaves some filters nearly silent (at conv5_4 the quietest was 3000x
                # below the median), and dividing by that gives them a gain of thousands. A
                # painting that does fire them (a greyscale one did, at relu5_1) then makes one
                # Gram entry outweigh everything and the run blows up. No filter is scaled up by
                # more than MAX_GAIN times its layer's typical filter.
                means["conv" + name[4:]] = mean.clamp(min=float(mean.median()) / MAX_GAIN)
        return means

    @torch.no_grad()
    def _normalise(self, filter_means: dict[str, torch.Tensor]) -> None:
        """Scale each filter so its mean activation over images and positions is 1.

        This is the paper's own step ("We normalized the network by scaling the weights such that
        the mean activation of each convolutional filter over images and positions is equal to
        one"). The next layer's input weights are scaled back, so the network computes the same
        function, each channel divided by a constant. Without it, raw Caffe activations differ by
        orders of magnitude between layers and "equal layer weights" would mean one layer rules;
        with it, any VGG-19 weights (caffe, torchvision) share one set of default loss weights.
        The paper measured over ImageNet; we use the bundled example images, photos and paintings.
        """
        convs = [(n, m) for n, m in zip(self.names, self.body) if isinstance(m, nn.Conv2d)]
        for i, (name, conv) in enumerate(convs):
            scale = filter_means[name].to(conv.weight)
            conv.weight /= scale.view(-1, 1, 1, 1)
            conv.bias /= scale
            if i + 1 < len(convs):  # undo the scale where the next layer reads it
                convs[i + 1][1].weight *= scale.view(1, -1, 1, 1)

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        x = image * self.scale
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) * self.inv_std

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(image).contiguous(memory_format=torch.channels_last)
        out = {}
        for name, module in zip(self.names, self.body):
            x = module(x)
            if name in self.layers:
                out[name] = x
        return out


def reference_images() -> list[torch.Tensor]:
    """The images the network is normalised on: the bundled examples at ImageNet's size, in
    colour and in grey (ImageNet, the paper's reference set, holds greyscale pictures too; without
    them the filters that answer to grey got gains of hundreds)."""
    out = []
    for im in map(images.load_image, examples.all_paths()):
        im = images.resize(im, images.fit_size(*im.size, REFERENCE_SIZE))
        out += [images.to_tensor(im), images.to_tensor(im.convert("L").convert("RGB"))]
    return out


def load_model(settings: Settings, device: torch.device | str = "cpu") -> Eyes:
    """The networks a run of `settings` looks through (brushwork.eyes): the normalised VGG-19
    extractor for its layers, weights and pooling, and the compressed one when it is used."""
    return load_network(*settings.model_key, device)


def load_network(weights_source: str, pooling: str, layers: Sequence[str], eye: str = "vgg19",
                 device: torch.device | str = "cpu") -> Eyes:
    """The networks for `Settings.model_key`'s parts: what a model cache keyed by it loads."""
    networks = {"vgg19": vgg_network(weights_source, pooling, layers, device)}
    if eye == "lowrank":
        networks["lowrank"] = compress(vgg_network(weights_source, pooling, layers, device))
    return Eyes(networks)


def as_eyes(model: VGG19Features | Eyes, settings: Settings) -> Eyes:
    """A caller's network as the run's eyes (a bare VGG-19 extractor gets the compressed network
    beside it when the settings use one)."""
    if isinstance(model, Eyes):
        if settings.eye_used not in model:
            raise ValueError(f"the model lacks the {settings.eye_used} eye; load it with "
                             "load_model(settings)")
        return model
    networks = {"vgg19": model}
    if settings.eye_used == "lowrank":
        device = model.mean.device
        networks["lowrank"] = compress(vgg_network(model.source, settings.pooling, model.layers,
                                                   device))
    return Eyes(networks)


def vgg_network(weights_source: str, pooling: str, layers: Sequence[str],
                device: torch.device | str = "cpu") -> VGG19Features:
    """The normalised VGG-19 extractor itself."""
    weights = load_weights(weights_source)
    if weights.source == "caffe":  # precomputed: scripts/make_filter_means.py
        table = torch.load(FILTER_MEANS_FILE, map_location="cpu", weights_only=True)
        means = {k.split("/")[1]: v for k, v in table.items() if k.startswith(pooling + "/")}
        return VGG19Features(weights, list(layers), pooling, filter_means=means).to(device)
    return VGG19Features(weights, list(layers), pooling, reference=reference_images()).to(device)
