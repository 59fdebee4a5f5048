"""The loss of one scale as data: its terms, their weights and their targets, built once.

The loop hands an `Objective` to the evaluator (brushwork.tiles), which computes the same sum
whether the picture goes through the network whole or in tiles. All weighting happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Mapping

import torch

from .losses import content_loss, tv_sums
from .layers import factor
from .statistics import Statistic
from .tiles import positions
from .tiling import Tile
from .vgg import VGG19Features


@dataclass(frozen=True)
class Region:
    """Where a style applies: the painting's target at each style layer (its Gram matrix, or what
    the style loss reads: brushwork.statistics), and the region's mask at each layer's resolution
    over the whole picture (None: everywhere)."""

    targets: Mapping[str, Any]
    masks: Mapping[str, torch.Tensor] | None = None
    weight: float = 1.0

    @cached_property
    def energy(self) -> dict[str, float]:
        """sum m^2 over the whole picture at each layer: the guided Gram's denominator."""
        return {k: float(m.square().sum()) for k, m in (self.masks or {}).items()}

    def share(self, layer: str) -> float:
        """The region's share of the picture at `layer`: mean(m^2) (1 without a mask)."""
        return 1.0 if self.masks is None else self.energy[layer] / self.masks[layer].numel()


@dataclass(frozen=True)
class Temporal:
    """Ruder et al.'s short-term temporal term for a video frame: the previous frame's picture
    warped to this frame, and the per-pixel consistency weights c (0 where it cannot be trusted).
    Its loss is weight * mean(c * (x - target)^2)."""

    target: torch.Tensor  # (1, C, H, W), the picture's channels
    weights: torch.Tensor  # (1, 1, H, W) in [0, 1]
    weight: float


@dataclass(frozen=True)
class Objective:
    """alpha * content + beta * sum_r share_r sum_l w_l * style_rl + tv (+ temporal), for one
    scale."""

    content_targets: Mapping[str, torch.Tensor]  # layer -> the photo's features, whole
    regions: tuple[Region, ...]  # one without a mask when the style covers the picture
    content_weight: float
    style_weight: float
    layer_weights: Mapping[str, float]  # w_l, summing to 1
    tv_weight: float
    statistic: Statistic  # what the style loss reads of each layer, and the loss E_l
    as_rgb: Callable[[torch.Tensor], torch.Tensor]  # what VGG sees of the picture
    bf16: bool = False
    temporal: Temporal | None = None  # a video frame after the first

    @property
    def style_layers(self) -> list[str]:
        return [k for k in self.layer_weights] if self.style_weight > 0 and self.regions else []

    @property
    def layers(self) -> list[str]:
        """The layers any term reads."""
        return list(dict.fromkeys([*self.content_targets, *self.style_layers]))

    def features(self, model: VGG19Features, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            feats = model(self.as_rgb(image))
        # Gram matrices and losses in fp32: bf16 sums lose the small differences.
        return {k: feats[k].float() for k in self.layers}

    def shares(self, feats: Mapping[str, torch.Tensor], t: Tile,
               size: tuple[int, int]) -> dict[tuple[int, str], torch.Tensor]:
        """Tile `t`'s share of every statistic the style loss reads, keyed (region, layer):
        merged over the tiles, they are the whole picture's (for the Gram loss, its guided Gram
        matrices). Each position weighs 1/M, or m^2 / sum m^2 over the whole picture in a region
        (Gatys et al. 2017's guided Gram matrix, and the same weights for the other losses)."""
        out = {}
        for r, region in enumerate(self.regions):
            for k in self.style_layers:
                f = feats[k]
                if not f[0, 0].numel():  # a thin last tile can have no positions at a deep layer
                    continue
                if region.masks is None:
                    out[r, k] = self.statistic.share(f, 1 / positions(k, size))
                elif region.energy[k] > 0:
                    mask = _part(region.masks[k], t, k, f)
                    out[r, k] = self.statistic.share(f, 1 / region.energy[k], mask)
        return out

    def style(self, whole: Mapping[tuple[int, str], torch.Tensor]) -> torch.Tensor:
        """beta * sum_r share_r sum_l w_l E_l(S_rl, A_rl), from the whole picture's statistics."""
        return self.style_weight * sum(
            self.regions[r].weight * self.regions[r].share(k) * self.layer_weights[k]
            * self.statistic.loss(g, self.regions[r].targets[k]) for (r, k), g in whole.items())

    def content_share(self, feats: Mapping[str, torch.Tensor], t: Tile,
                      size: tuple[int, int]) -> torch.Tensor:
        """alpha * the content loss's part from the tile `t` (features cropped to the tile)."""
        total = torch.zeros((), device=next(iter(feats.values())).device)
        if self.content_weight == 0:
            return total
        for k, target in self.content_targets.items():
            part = feats[k]
            if part.numel():
                mine = _part(target, t, k, part)
                total = total + content_loss(part, mine) * (part.numel() / target.numel())
        return self.content_weight * total

    def tv_share(self, crop: torch.Tensor, t: Tile, size: tuple[int, int]) -> torch.Tensor:
        """The total-variation loss's part from the pairs of pixels starting in tile `t`."""
        if self.tv_weight == 0:
            return crop.new_zeros(())
        height, width = size
        right, below = int(t.x1 < width), int(t.y1 < height)  # the neighbour pixel is in the halo
        mine = crop[..., t.y0 - t.cy0: t.y1 - t.cy0 + below, t.x0 - t.cx0: t.x1 - t.cx0 + right]
        across, down = tv_sums(mine, right, below)
        c = crop.shape[-3]
        # tv_loss's normalisation: the mean over the whole picture's pairs.
        return self.tv_weight * (across / (c * height * (width - 1)) + down / (c * (height - 1) * width))

    def temporal_share(self, crop: torch.Tensor, t: Tile) -> torch.Tensor:
        """The temporal term's part from tile `t`'s own pixels."""
        if self.temporal is None or self.temporal.weight == 0:
            return crop.new_zeros(())
        target, c = self.temporal.target, self.temporal.weights
        mine = crop[..., t.y0 - t.cy0: t.y1 - t.cy0, t.x0 - t.cx0: t.x1 - t.cx0]
        diff = mine - target[..., t.y0:t.y1, t.x0:t.x1]
        return self.temporal.weight * (c[..., t.y0:t.y1, t.x0:t.x1] * diff.square()).sum() \
            / target.numel()

    def terms(self, content: torch.Tensor, style: torch.Tensor | None,
              tv: torch.Tensor, temporal: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The Step record's terms: those that are on, and their total."""
        parts = {}
        if self.content_weight > 0:
            parts["content"] = content
        if style is not None:
            parts["style"] = style
        if self.tv_weight > 0:
            parts["tv"] = tv
        if self.temporal is not None:
            parts["temporal"] = temporal if temporal is not None else tv.new_zeros(())
        return {**parts, "total": sum(parts.values())}


def _part(whole: torch.Tensor, t: Tile, layer: str, like: torch.Tensor) -> torch.Tensor:
    """The part of a whole-picture map at `layer` (a target, a mask) under tile `t`'s features."""
    f = factor(layer)
    return whole[..., t.y0 // f: t.y0 // f + like.shape[-2], t.x0 // f: t.x0 // f + like.shape[-1]]
