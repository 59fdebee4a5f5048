"""The whole picture's loss and gradient, computed tile by tile: large prints in bounded memory.

The style loss depends on the picture only through each layer's Gram matrix, a sum over
positions, G = (1/M) sum_p f_p f_p^T. So the picture can be cut into tiles and still get the
gradient of the *whole* picture's loss, not of each tile's own (independently stylised tiles are
what gives the usual tiling scripts their seams and a style that drifts from tile to tile):

1. Pass 1, no gradient: each tile (with a halo around it) goes through the network; its
   features, cropped to the tile's own interior, add their share to every layer's Gram matrix.
   Now the whole picture's G, and so the style loss and dE/dG, are known.
2. Pass 2: each tile again, this time backpropagating the surrogate sum_l <dE/dG_l, G_l(tile)>,
   which has the true gradient with respect to the tile's features, plus the tile's share of the
   content and total-variation losses. The gradient of the whole crop (halo included: the
   interior's features depend on the halo's pixels) is added into the picture's gradient.

Interior features equal the untiled ones when the halo covers how far the crop's edge (where the
convolutions pad with zeros instead of seeing the neighbours) reaches into the network, and when
crops start on the pooling grid. `halo` works both out from the layer names, so the tiled gradient
equals the untiled one up to float rounding (tests/test_tiles.py).

An untiled run is the same code with one tile covering the picture: there is one evaluator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Generator, Sequence

import torch

from .losses import gram
from .vgg import LAYER_NAMES, VGG19Features
from .weights import CONVS


@dataclass(frozen=True)
class Tile:
    """A tile's own pixels, [y0, y1) x [x0, x1), and the crop [cy0, cy1) x [cx0, cx1) that goes
    through the network (the tile plus its halo, clipped to the picture)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.cy0, self.cy1), slice(self.cx0, self.cx1)

    @property
    def pixels(self) -> int:
        return (self.cy1 - self.cy0) * (self.cx1 - self.cx0)


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


def plan(width: int, height: int, layers: Sequence[str], *, side: int | None = None,
         crop: int | None = None) -> list[Tile]:
    """Tiles covering a width x height picture: of about `side` pixels a side (split evenly), or
    the cheapest cut whose crops (tile and halo) hold at most `crop` pixels each. Neither, or a
    picture that fits: one tile, the picture whole.

    The cheapest cut is the one whose crops add up to the fewest pixels: every crop pays for its
    halo, so fewer and wider tiles (2 x 2 of 512 x 384 rather than 3 x 2 squares) make a
    cheaper step."""
    margin, grid = halo(layers)

    def cuts(length: int, n: int) -> list[tuple[int, int]]:
        step = math.ceil(length / n / grid) * grid
        return [(a, min(a + step, length)) for a in range(0, length, step)]

    def crops(parts: list[tuple[int, int]], length: int) -> list[int]:
        return [min(length, b + margin) - max(0, a - margin) for a, b in parts]

    ys, xs = [(0, height)], [(0, width)]
    if side is not None and side < max(width, height):
        ys, xs = cuts(height, math.ceil(height / side)), cuts(width, math.ceil(width / side))
    elif crop is not None and crop < width * height:
        best = None
        for nx in range(1, math.ceil(width / grid) + 1):
            cols = cuts(width, nx)
            wide = max(crops(cols, width))
            if wide * min(height, 2 * margin + grid) > crop:
                continue  # too wide even for the thinnest rows
            for ny in range(1, math.ceil(height / grid) + 1):
                rows = cuts(height, ny)
                if wide * max(crops(rows, height)) <= crop:  # more rows would only add halo
                    total = sum(crops(cols, width)) * sum(crops(rows, height))
                    if best is None or total < best[0]:
                        best = (total, rows, cols)
                    break
            if best is not None and wide * height <= crop:
                break  # one row of these columns fits: more columns only add halo
        if best is not None:
            _, ys, xs = best
    return [Tile(y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin),
                 max(0, x0 - margin), min(width, x1 + margin))
            for y0, y1 in ys for x0, x1 in xs]


def interior(features: torch.Tensor, t: Tile, layer: str, size: tuple[int, int]) -> torch.Tensor:
    """The part of a crop's `layer` features that belongs to the tile itself (all exact)."""
    f, (height, width) = factor(layer), size

    def span(a: int, b: int, c: int, length: int) -> slice:
        # The picture's far edge: repeated floor-halving drops odd rows exactly as untiled.
        end = length // f if b == length else b // f
        return slice((a - c) // f, (a - c) // f + end - a // f)

    return features[..., span(t.y0, t.y1, t.cy0, height), span(t.x0, t.x1, t.cx0, width)]


@torch.no_grad()
def features(model: VGG19Features, image: torch.Tensor, tiles: Sequence[Tile],
             gram_layers: Sequence[str], keep_layers: Sequence[str],
             prepare: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
             ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Gram matrices of `gram_layers` and whole feature maps of `keep_layers` of `image`, computed
    tile by tile (for targets: the photo's content features, a painting's Grams)."""
    size = tuple(image.shape[-2:])
    grams: dict[str, torch.Tensor] = {}
    kept = {k: None for k in keep_layers}
    for t in tiles:
        feats = model(prepare(image[(..., *t.crop)]))
        for k in gram_layers:
            part = interior(feats[k], t, k, size)
            if part[0, 0].numel():  # a thin last tile can have no positions at a deep layer
                grams[k] = grams.get(k, 0) + gram(part) * (part[0, 0].numel() / positions(k, size))
        for k in keep_layers:
            part = interior(feats[k], t, k, size)
            if kept[k] is None:
                f = factor(k)
                kept[k] = part.new_empty(*part.shape[:2], size[0] // f, size[1] // f)
            f = factor(k)
            kept[k][..., t.y0 // f: t.y0 // f + part.shape[-2],
                    t.x0 // f: t.x0 // f + part.shape[-1]] = part
        del feats
    return grams, kept


def positions(layer: str, size: tuple[int, int]) -> int:
    f = factor(layer)
    return (size[0] // f) * (size[1] // f)


@dataclass(frozen=True)
class Progress:
    """A tile done within one loss evaluation: `phase` is "gram" (pass 1) or "gradient" (pass 2)."""

    phase: str
    tile: int
    tiles: int


def evaluate(model: VGG19Features, objective, x: torch.Tensor, tiles: Sequence[Tile],
             ) -> Generator[Progress, None, dict[str, torch.Tensor]]:
    """Leave the whole picture's loss gradient in `x.grad`; yields a `Progress` per tile and
    returns the weighted loss terms (content, style, tv, temporal, total) as 0-d tensors.

    `objective` (brushwork.objective.Objective) supplies the features, the weights and targets.
    With several tiles, the last tile of pass 1 keeps its graph and opens pass 2, so a step
    costs one forward pass less than two full passes."""
    size = tuple(x.shape[-2:])
    n = len(tiles)
    picture = x.detach()
    grams: dict = {}
    kept = None
    for i, t in enumerate(tiles, start=1):
        keep = i == n  # the last tile's graph carries over into pass 2
        crop = picture[(..., *t.crop)].clone().requires_grad_(keep)
        with torch.set_grad_enabled(keep):
            feats = objective.features(model, crop)
            inner = {k: interior(v, t, k, size) for k, v in feats.items()}
        with torch.no_grad():
            for key, share in objective.gram_shares(inner, t, size).items():
                grams[key] = grams.get(key, 0) + share
        kept = (crop, inner) if keep else None
        del feats
        if n > 1:
            yield Progress("gram", i, n)

    # The style loss of the whole picture, and its gradient with respect to each Gram matrix.
    whole = {k: g.detach().requires_grad_() for k, g in grams.items()}
    style = d_gram = None
    if whole:
        with torch.enable_grad():
            style = objective.style(whole)
        d_gram = dict(zip(whole, torch.autograd.grad(style, list(whole.values()))))

    grad = torch.zeros_like(picture)
    content_sum = tv_sum = temporal_sum = picture.new_zeros(())
    for j, t in enumerate(reversed(tiles), start=1):
        if kept is not None:
            (crop, inner), kept = kept, None
        else:
            crop = picture[(..., *t.crop)].clone().requires_grad_(True)
            with torch.enable_grad():
                inner = {k: interior(v, t, k, size)
                         for k, v in objective.features(model, crop).items()}
        with torch.enable_grad():
            part = crop.new_zeros(())
            if d_gram:  # sum <dE/dG, G(tile)>: its gradient is the true one for these features
                for key, share in objective.gram_shares(inner, t, size).items():
                    part = part + (d_gram[key] * share).sum()
            content = objective.content_share(inner, t, size)
            tv = objective.tv_share(crop, t, size)
            temporal = objective.temporal_share(crop, t)
            (part + content + tv + temporal).backward()
        content_sum = content_sum + content.detach()
        tv_sum = tv_sum + tv.detach()
        temporal_sum = temporal_sum + temporal.detach()
        grad[(..., *t.crop)] += crop.grad
        del crop, inner
        if n > 1:
            yield Progress("gradient", j, n)
    x.grad = grad
    return objective.terms(content_sum, None if style is None else style.detach(), tv_sum,
                           temporal_sum)
