"""The whole picture's loss and gradient, computed tile by tile: large prints in bounded memory.

The style loss depends on the picture only through each layer's Gram matrix, a sum over
positions, G = (1/M) sum_p f_p f_p^T (or another statistic built position by position:
brushwork.statistics; the sliced loss's projections are joined rather than summed). So the
picture can be cut into tiles and still get the
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

from dataclasses import dataclass
from typing import Callable, Generator, Sequence

import torch

from .layers import factor
from .tiling import Tile
from .statistics import Statistic, statistic as _statistic
from .vgg import VGG19Features


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
             style_layers: Sequence[str], keep_layers: Sequence[str],
             prepare: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
             statistic: Statistic | None = None,
             ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The style statistic (default: the Gram matrix) of `style_layers` and whole feature maps of
    `keep_layers` of `image`, computed tile by tile (for targets: the photo's content features, a
    painting's statistics)."""
    statistic = statistic or _statistic("gram")
    size = tuple(image.shape[-2:])
    stats: dict[str, torch.Tensor] = {}
    kept = {k: None for k in keep_layers}
    for t in tiles:
        feats = model(prepare(image[(..., *t.crop)]))
        for k in style_layers:
            part = interior(feats[k], t, k, size)
            if part[0, 0].numel():  # a thin last tile can have no positions at a deep layer
                stats[k] = statistic.merge(stats.get(k), statistic.share(part, 1 / positions(k, size)))
        for k in keep_layers:
            part = interior(feats[k], t, k, size)
            if kept[k] is None:
                f = factor(k)
                kept[k] = part.new_empty(*part.shape[:2], size[0] // f, size[1] // f)
            f = factor(k)
            kept[k][..., t.y0 // f: t.y0 // f + part.shape[-2],
                    t.x0 // f: t.x0 // f + part.shape[-1]] = part
        del feats
    return stats, kept


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
    costs one forward pass less than two full passes. (Longer than most functions here: the two
    passes share that graph and the running sums, and read best top to bottom in one place.)"""
    size = tuple(x.shape[-2:])
    n = len(tiles)
    picture = x.detach()
    stats: dict = {}
    spans: dict = {}  # (tile, key) -> a joined statistic's columns from that tile
    kept = None
    merge = objective.statistic.merge
    for i, t in enumerate(tiles, start=1):
        keep = i == n  # the last tile's graph carries over into pass 2
        crop = picture[(..., *t.crop)].clone().requires_grad_(keep)
        with torch.set_grad_enabled(keep):
            feats = objective.features(model, crop)
            inner = {k: interior(v, t, k, size) for k, v in feats.items()}
        with torch.no_grad():
            for key, share in objective.shares(inner, t, size).items():
                before = stats[key].shape[-1] if key in stats else 0
                spans[i, key] = slice(before, before + share.shape[-1])
                stats[key] = merge(stats.get(key), share)
        kept = (crop, inner) if keep else None
        del feats
        if n > 1:
            yield Progress("gram", i, n)

    # The style loss of the whole picture, and its gradient with respect to each statistic.
    whole = {k: g.detach().requires_grad_() for k, g in stats.items()}
    style = d_stat = None
    if whole:
        with torch.enable_grad():
            style = objective.style(whole)
        d_stat = dict(zip(whole, torch.autograd.grad(style, list(whole.values()))))
    joined = objective.statistic.joined

    grad = torch.zeros_like(picture)
    content_sum = tv_sum = temporal_sum = picture.new_zeros(())
    for j, t in enumerate(reversed(tiles), start=1):
        i = n + 1 - j
        if kept is not None:
            (crop, inner), kept = kept, None
        else:
            crop = picture[(..., *t.crop)].clone().requires_grad_(True)
            with torch.enable_grad():
                inner = {k: interior(v, t, k, size)
                         for k, v in objective.features(model, crop).items()}
        with torch.enable_grad():
            part = crop.new_zeros(())
            if d_stat:  # sum <dE/dS, S(tile)>: its gradient is the true one for these features
                for key, share in objective.shares(inner, t, size).items():
                    d = d_stat[key][..., spans[i, key]] if joined else d_stat[key]
                    part = part + (d * share).sum()
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
