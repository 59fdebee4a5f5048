"""What the optimiser moves: the picture's pixels (the paper's, and the default), or a linear
re-expression of them that changes how a gradient step spreads over the picture.

* ``pixels``: the picture itself.
* ``pyramid``: a Laplacian pyramid of the picture (Kolkin et al.'s STROTSS and NNST optimise one):
  a step moves coarse structure as readily as fine detail, where a pixel step moves mostly fine.
* ``decorrelated``: each pixel's colour in decorrelated axes (Mordvintsev et al. 2018,
  "Differentiable Image Parameterizations"): a step moves light and colour independently.

Each maps a flat parameter tensor to the picture linearly, so its gradient is that map's
transpose applied to the picture's gradient (one cheap autograd call, next to VGG-19's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("pixels", "pyramid", "decorrelated")
# Levels below the picture's own: each halves the size, down to about 16 px on the shorter side.
PYRAMID_LEVELS = 4
# Mordvintsev et al.'s colour correlation, the square root of ImageNet's RGB covariance (their
# `color_correlation_svd_sqrt`), scaled so that its largest column norm is 1.
_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
CORRELATION = _CORRELATION / _CORRELATION.norm(dim=0).max()


class Parameterization:
    """The parameters `q` (a leaf tensor the optimiser moves) and the picture they give."""

    def __init__(self, kind: str, start: torch.Tensor) -> None:
        self.kind = kind
        self.shape = start.shape
        if kind == "pixels":
            self.q = start
        else:
            self.q = self._encode(start.detach()).requires_grad_(True)

    def picture(self) -> torch.Tensor:
        """The picture of the current parameters (the leaf itself for pixels)."""
        return self.picture_of(self.q)

    def picture_of(self, q: torch.Tensor) -> torch.Tensor:
        """The picture of parameters `q` (an average of them, say)."""
        return q if self.kind == "pixels" else self._decode(q)

    def pull(self, grad: torch.Tensor) -> None:
        """Set q.grad from the picture's gradient (for pixels, it is already there)."""
        if self.kind != "pixels":
            with torch.enable_grad():
                (g,) = torch.autograd.grad(self._decode(self.q), self.q, grad)
            self.q.grad = g

    # -- the linear maps -------------------------------------------------------------------
    def _sizes(self) -> list[tuple[int, int]]:
        h, w = self.shape[-2:]
        sizes = [(h, w)]
        while len(sizes) <= PYRAMID_LEVELS and min(sizes[-1]) >= 32:
            sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
        return sizes

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "decorrelated":
            inverse = torch.linalg.inv(CORRELATION.to(x))
            return torch.einsum("ij,bjhw->bihw", inverse, x).reshape(-1).clone()
        # Laplacian pyramid: each level is what the next coarser one lacks; the last, the rest.
        levels, current = [], x
        for size in self._sizes()[1:]:
            low = F.interpolate(current, size=size, mode="area")
            levels.append(current - _up(low, current.shape[-2:]))
            current = low
        levels.append(current)
        return torch.cat([t.reshape(-1) for t in levels]).clone()

    def _decode(self, q: torch.Tensor) -> torch.Tensor:
        b, c = self.shape[:2]
        if self.kind == "decorrelated":
            return torch.einsum("ij,bjhw->bihw", CORRELATION.to(q), q.view(self.shape))
        sizes, start, levels = self._sizes(), 0, []
        for h, w in sizes:
            n = b * c * h * w
            levels.append(q[start:start + n].view(b, c, h, w))
            start += n
        x = levels[-1]
        for level in reversed(levels[:-1]):
            x = level + _up(x, level.shape[-2:])
        return x


def _up(t: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)
