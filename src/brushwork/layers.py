"""VGG-19's facts, without torch: its layer names, each layer's channels and stride, the halo a
tile needs, and the smallest picture it can judge. Settings, images, memory, tiles, weights and
the network itself read them here, so none of them needs another's code to learn a fact.
"""

from __future__ import annotations

import math
from typing import Sequence

# Convolutions per block, and each block's channels.
BLOCKS = ((3, 64, 2), (64, 128, 2), (128, 256, 4), (256, 512, 4), (512, 512, 4))

# (name, input channels, output channels) of every convolution, in order.
CONVS = tuple(
    (f"conv{block}_{i}", cin if i == 1 else cout, cout)
    for block, (cin, cout, n) in enumerate(BLOCKS, start=1)
    for i in range(1, n + 1)
)


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, (_, _, n) in enumerate(BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


# convB_I is a convolution's output before its ReLU, reluB_I after it, poolB the block's pooling.
LAYER_NAMES = _layer_names()

# The shortest side a picture may have: after four poolings conv5_1 sees a 2x2 grid, the least
# on which its Gram matrix still means something.
MIN_SIDE = 32


def block(layer: str) -> int:
    """The VGG block a layer belongs to: the first digit of its name (conv4_2, relu4_2, pool4)."""
    return int(next(c for c in layer if c.isdigit()))


def factor(layer: str) -> int:
    """How many input pixels one position of `layer` spans along a side (1, 2, 4, 8, 16, 32)."""
    upto = LAYER_NAMES[: LAYER_NAMES.index(layer) + 1]
    return 2 ** sum(name.startswith("pool") for name in upto)


def channels(layer: str) -> int:
    """The number of feature maps of `layer`."""
    outs = {name[4:]: cout for name, _, cout in CONVS}  # "1_1": 64, ...
    if layer.startswith("pool"):  # the block's last convolution
        return [c for k, c in outs.items() if k.startswith(layer[4:] + "_")][-1]
    return outs[layer[4:]]


def halo(layers: Sequence[str]) -> tuple[int, int]:
    """(halo, grid) for these layers: how many pixels around a tile its crop needs so that the
    tile's features at every layer are exact, and the pooling grid crops must start on.

    Walks the network: each 3x3 convolution (zero padding 1) spoils one more row at the crop's
    edge; a 2x2 pooling halves the spoilt rows (rounding up) and doubles the pixels per row.
    For relu5_1 that is 5 positions of 16 pixels: 80 (and relu4_2 alone needs 40)."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    spoilt, per, need = 0, 1, 0
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            spoilt += 1
        elif name.startswith("pool"):
            spoilt, per = math.ceil(spoilt / 2), per * 2
        if name in layers:
            need = max(need, spoilt * per)
    grid = per  # every crop edge inside the picture sits on the deepest pooling's grid
    return math.ceil(need / grid) * grid, grid
