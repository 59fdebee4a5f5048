"""The loss of one scale as data: its terms, their weights and their targets, built once.

The loop hands an `Objective` to the evaluator (brushwork.tiles), which computes the same sum
whether the picture goes through the network whole or in tiles. All weighting happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from .losses import content_loss, tv_sums
from .tiles import Tile, factor
from .vgg import VGG19Features


@dataclass(frozen=True)
class Objective:
    """alpha * content + beta * sum_l w_l * style_l + tv, for one scale."""

    content_targets: Mapping[str, torch.Tensor]  # layer -> the photo's features, whole
    style_targets: Mapping[str, torch.Tensor]  # layer -> the painting's (blended) Gram matrix
    content_weight: float
    style_weight: float
    layer_weights: Mapping[str, float]  # w_l, summing to 1
    tv_weight: float
    gram_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # E_l(G, A)
    as_rgb: Callable[[torch.Tensor], torch.Tensor]  # what VGG sees of the picture
    bf16: bool = False

    @property
    def layers(self) -> list[str]:
        """The layers any term reads."""
        return list(dict.fromkeys([*self.content_targets, *self.style_targets]))

    def features(self, model: VGG19Features, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            feats = model(self.as_rgb(image))
        # Gram matrices and losses in fp32: bf16 sums lose the small differences.
        return {k: feats[k].float() for k in self.layers}

    def style(self, grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """beta * sum_l w_l E_l(G_l, A_l), from the whole picture's Gram matrices."""
        return self.style_weight * sum(self.layer_weights[k] * self.gram_loss(g, self.style_targets[k])
                                       for k, g in grams.items())

    def content_share(self, feats: Mapping[str, torch.Tensor], t: Tile,
                      size: tuple[int, int]) -> torch.Tensor:
        """alpha * the content loss's part from the tile `t` (features cropped to the tile)."""
        total = torch.zeros((), device=next(iter(feats.values())).device)
        if self.content_weight == 0:
            return total
        for k, target in self.content_targets.items():
            part, f = feats[k], factor(k)
            if part.numel():
                mine = target[..., t.y0 // f: t.y0 // f + part.shape[-2],
                              t.x0 // f: t.x0 // f + part.shape[-1]]
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

    def terms(self, content: torch.Tensor, style: torch.Tensor | None,
              tv: torch.Tensor) -> dict[str, torch.Tensor]:
        """The Step record's terms: those that are on, and their total."""
        parts = {}
        if self.content_weight > 0:
            parts["content"] = content
        if style is not None:
            parts["style"] = style
        if self.tv_weight > 0:
            parts["tv"] = tv
        return {**parts, "total": sum(parts.values())}

