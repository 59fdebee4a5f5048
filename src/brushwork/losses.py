"""The paper's losses as small pure functions.

Both are normalised so that their size does not depend on the image size: the same weights then
give the same balance at 128 px and at 1024 px, which is what makes coarse-to-fine work.

* Style: the paper's E_l = 1/(4 N^2 M^2) sum (G - A)^2 with G = F F^T (N channels, M positions)
  equals 1/4 mean((F F^T / M - A)^2), i.e. the paper's layer loss is already size-free once the
  Gram matrix is divided by M. `gram` does that division and `style_loss` is exactly the paper's E_l.
* Content: the paper's 1/2 sum (F - P)^2 grows with N*M; we take 1/2 mean (F - P)^2 instead, i.e.
  the paper's loss divided by N*M. See docs/weights.md for how this maps alpha/beta.
"""

from __future__ import annotations

import torch


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (1, N, H, W) features divided by the number of positions M = H*W."""
    _, n, h, w = features.shape
    f = features.reshape(n, h * w)
    return (f @ f.T) / (h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 mean squared difference of feature maps (the paper's, per element)."""
    return 0.5 * torch.mean((features - target) ** 2)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """The paper's E_l for one layer: 1/4 mean squared difference of Gram matrices."""
    return gram_loss(gram(features), target_gram)


def relative_style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """`relative_gram_loss` of the features' Gram matrix."""
    return relative_gram_loss(gram(features), target_gram)


# The style losses as functions of the Gram matrix itself: a picture processed in tiles has its
# Gram matrix summed over the tiles first (brushwork.tiles).
def gram_loss(g: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """The paper's E_l from the Gram matrix G: 1/4 mean (G - A)^2."""
    return 0.25 * torch.mean((g - target_gram) ** 2)


def relative_gram_loss(g: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """|G - A|^2 / |A|^2: the layer's Gram distance relative to the painting's own Gram energy.

    The paper's E_l grows with the square of the painting's activations, so one style weight
    paints a quiet painting (a greyscale one, a pale one) faintly and a loud one heavily, and
    lets whichever layer the painting happens to excite most rule the sum. Relative to the target,
    every layer and every painting starts on the same footing; it is also the form in which the
    yardstick of docs/quality.md measures closeness to a painting.
    """
    return torch.mean((g - target_gram) ** 2) / torch.mean(target_gram**2).clamp_min(1e-12)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels."""
    c, h, w = image.shape[-3:]
    across, down = tv_sums(image)
    return across / (c * h * (w - 1)) + down / (c * (h - 1) * w)


def tv_sums(image: torch.Tensor, right: int = 0, below: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of squared differences across and down, the pairs starting inside `image`.

    `right` and `below` (0 or 1) say that `image` carries one more column or row beyond the part
    whose pairs count, so a picture cut into tiles counts every pair exactly once."""
    h, w = image.shape[-2:]
    dx = image[..., : h - below, 1:] - image[..., : h - below, :-1]
    dy = image[..., 1:, : w - right] - image[..., :-1, : w - right]
    return (dx**2).sum(), (dy**2).sum()
