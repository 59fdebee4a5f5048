"""What each style loss reads of a layer's features, and how that adds up over the picture.

Every style loss here depends on the picture only through a statistic that is built from each
position's features with a weight (1/M over the whole picture, or a region's m^2 / sum m^2), so
that tiles (brushwork.tiles) and regions (brushwork.regions) work the same way for all of them:

* gram (the paper's): sum_p w_p f_p f_p^T. Tiles' shares add up.
* w2: the same with a constant 1 channel appended, which carries the mean along with the second
  moments. Tiles' shares add up.
* sliced: the projections of every position's features on K directions, with the weights as a
  last row. Tiles' shares are joined side by side (the sort needs all positions at once), which is
  exact: pass 2 of the tiled evaluation hands each tile its own columns of the gradient.

A blend of paintings is one painting's statistic (a mixture of their feature distributions): the
weighted sum of Gram or moment matrices, or all paintings' projections with their weights scaled.
So blending costs nothing per step, and a one-hot blend is exactly that painting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import torch

from . import losses
from .settings import STYLE_LOSSES


def _flat(f: torch.Tensor) -> torch.Tensor:
    return f.reshape(f.shape[1], -1)


@dataclass(frozen=True)
class Statistic:
    """One style loss's statistic: `share` of some positions' (1, N, h, w) features, `merge` of
    two shares, `target` from a painting's whole statistic, and `loss`.

    Each position p weighs `scale * mask_p^2` (`scale` = 1/M over the whole picture; in a region
    1 / sum m^2 with its mask). The features are multiplied by the mask, not by its square, and
    the scale comes last: an all-white mask then gives the unmasked statistic bit for bit."""

    name: str
    joined: bool  # shares are joined along positions rather than summed
    # (N, M) features, the scale and the (M,) mask or None
    share_fn: Callable[[torch.Tensor, float, torch.Tensor | None], torch.Tensor]
    target_fn: Callable[[torch.Tensor], Any]
    loss_fn: Callable[[torch.Tensor, Any], torch.Tensor]

    def share(self, features: torch.Tensor, scale: float,
              mask: torch.Tensor | None = None) -> torch.Tensor:
        f = _flat(features)
        return self.share_fn(f, scale, None if mask is None else mask.reshape(-1).to(f.dtype))

    def merge(self, a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
        if a is None:
            return b
        return torch.cat([a, b], dim=1) if self.joined else a + b

    def blend(self, shares: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """One statistic for a blend of paintings: their mixture's."""
        if self.joined:
            return torch.cat([torch.cat([s[:-1], s[-1:] * b]) for s, b in zip(shares, weights)
                              if b > 0], dim=1)
        return sum(b * s for s, b in zip(shares, weights))

    def target(self, whole: torch.Tensor) -> Any:
        return self.target_fn(whole)

    def loss(self, whole: torch.Tensor, target: Any) -> torch.Tensor:
        return self.loss_fn(whole, target)


def _second_moments(f: torch.Tensor, scale: float, mask: torch.Tensor | None) -> torch.Tensor:
    fm = f if mask is None else f * mask
    return (fm @ fm.T) * scale


def _with_ones(f: torch.Tensor, scale: float, mask: torch.Tensor | None) -> torch.Tensor:
    """The second moments of [f; 1]: built from blocks, not from a copy of the features with a
    row of ones (the copy cost a sixth of a 512 px step)."""
    if mask is None:
        s, m = (f @ f.T) * scale, f.sum(dim=1, keepdim=True) * scale
        total = f.new_full((1, 1), scale * f.shape[1])
    else:
        fm = f * mask
        s, m = (fm @ fm.T) * scale, (fm * mask).sum(dim=1, keepdim=True) * scale
        total = (mask.square().sum() * scale).reshape(1, 1)
    return torch.cat([torch.cat([s, m], dim=1), torch.cat([m.T, total], dim=1)])


def _projections(directions: dict[int, torch.Tensor], f: torch.Tensor, scale: float,
                 mask: torch.Tensor | None) -> torch.Tensor:
    weights = (f.new_full((1,), scale).expand(f.shape[1]) if mask is None
               else mask.square() * scale)
    return torch.cat([directions[f.shape[0]] @ f, weights[None]])


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def directions(channels: Sequence[int], generator: torch.Generator,
               device: torch.device | str = "cpu") -> dict[int, torch.Tensor]:
    """Random orthonormal directions, as many as channels, for each channel count: a random
    rotation, so that the K marginals together see every direction of the space once."""
    out = {}
    for n in sorted(set(channels)):
        q, r = torch.linalg.qr(torch.randn(n, n, generator=generator))
        out[n] = (q * torch.sign(torch.diagonal(r))).T.contiguous().to(device)
    return out


def statistic(style_loss: str, style_norm: str = "relative",
              generator: torch.Generator | None = None, channels: Sequence[int] = (),
              device: torch.device | str = "cpu") -> Statistic:
    """The statistic of `style_loss` (gram, w2 or sliced). `style_norm` picks the Gram loss's
    form; sliced needs `channels` (each style layer's) and a `generator` for its directions."""
    if style_loss == "gram":
        fn = losses.relative_gram_loss if style_norm == "relative" else losses.gram_loss
        return Statistic("gram", False, _second_moments, _identity, fn)
    if style_loss == "w2":
        return Statistic("w2", False, _with_ones, losses.Gaussian, losses.w2_loss)
    if style_loss == "sliced":
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        dirs = directions(channels, gen, device)
        return Statistic("sliced", True, partial(_projections, dirs), losses.Quantiles,
                         losses.sliced_loss)
    raise ValueError(f"unknown style loss {style_loss!r}; choose from {STYLE_LOSSES}")
