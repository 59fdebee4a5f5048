"""The losses as small pure functions: the paper's, and two later style losses beside them.

Both are normalised so that their size does not depend on the image size: the same weights then
give the same balance at 128 px and at 1024 px, which is what makes coarse-to-fine work.

* Style: the paper's E_l = 1/(4 N^2 M^2) sum (G - A)^2 with G = F F^T (N channels, M positions)
  equals 1/4 mean((F F^T / M - A)^2), i.e. the paper's layer loss is already size-free once the
  Gram matrix is divided by M. `gram` does that division and `style_loss` is exactly the paper's E_l.
* Content: the paper's 1/2 sum (F - P)^2 grows with N*M; we take 1/2 mean (F - P)^2 instead, i.e.
  the paper's loss divided by N*M. See docs/weights.md for how this maps alpha/beta.
* Style, by distribution (brushwork.statistics wires them in): `w2_loss`, the squared
  Wasserstein-2 distance between Gaussian fits of the features (mean and covariance), as in
  crowsonkb/style-transfer-pytorch; `sliced_loss`, the sliced Wasserstein distance of Heitz et al.
  (CVPR 2021), matching the sorted projections of the features on many directions. Both are
  relative to the painting's own energy, like `relative_gram_loss`, so one weight holds across
  paintings and layers.
"""

from __future__ import annotations

import torch

# Eigenvalues below this fraction of the mean one count as this much in `w2_loss`: a picture's
# covariance at a deep layer of a small picture has fewer positions than channels (rank below
# full), and tr sqrt(.)'s gradient grows like 1/sqrt(eigenvalue) near zero.
W2_EPS = 1e-4


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


def w2_loss(moments: torch.Tensor, target: "Gaussian") -> torch.Tensor:
    """Squared Wasserstein-2 distance between Gaussian fits, relative to the target's energy:

        (|mu - mu_t|^2 + tr S + tr S_t - 2 tr sqrt(S_t^1/2 S S_t^1/2)) / (|mu_t|^2 + tr S_t)

    `moments` is the (N+1) x (N+1) second-moment matrix of the features with a constant 1 channel
    appended (brushwork.statistics.gaussian_share): its last column is the mean, the rest the
    second moments, and both are sums over positions, so tiles and masks give them exactly.
    Zero exactly when the picture's mean and covariance are the painting's."""
    mean, cov = split_moments(moments)
    cross = target.root @ cov @ target.root
    distance = ((mean - target.mean).square().sum() + torch.trace(cov) + torch.trace(target.cov)
                - 2 * trace_sqrtm(cross, target.floor))
    return distance / target.energy


def split_moments(moments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance from second moments with a constant channel appended last."""
    n = moments.shape[0] - 1
    total = moments[n, n].clamp_min(1e-12)  # the weights' sum: 1, or a blend's total
    mean = moments[:n, n] / total
    return mean, moments[:n, :n] / total - torch.outer(mean, mean)


class Gaussian:
    """A painting's Gaussian fit at one layer, with what w2_loss needs of it computed once."""

    def __init__(self, moments: torch.Tensor) -> None:
        self.mean, self.cov = split_moments(moments.double())
        vals, vecs = torch.linalg.eigh(self.cov)
        self.root = ((vecs * vals.clamp_min(0).sqrt()) @ vecs.T).float()
        self.mean, self.cov = self.mean.float(), self.cov.float()
        self.energy = float(self.mean.square().sum() + torch.trace(self.cov)) or 1.0
        self.floor = W2_EPS * max(float(vals.clamp_min(0).mean()), 1e-12) ** 2


class _TraceSqrtm(torch.autograd.Function):
    """tr sqrt(A) of a symmetric positive semi-definite A, with the closed-form gradient
    1/2 A^-1/2 (eigenvalues floored): stable where autograd through eigh is not (its gradient
    divides by differences of eigenvalues, which covariances repeat)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, floor: float) -> torch.Tensor:
        vals, vecs = torch.linalg.eigh(a.double())
        vals = vals.clamp_min(floor)
        ctx.save_for_backward(vals, vecs)
        ctx.dtype = a.dtype
        return vals.sqrt().sum().to(a.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        vals, vecs = ctx.saved_tensors
        return (grad.double() * (vecs * (0.5 / vals.sqrt())) @ vecs.T).to(ctx.dtype), None


def trace_sqrtm(a: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """tr sqrt(a) for a symmetric PSD matrix, differentiable."""
    return _TraceSqrtm.apply(a, max(floor, 1e-30))


def sliced_loss(share: torch.Tensor, target: "Quantiles") -> torch.Tensor:
    """Sliced Wasserstein-2 distance (Heitz et al., CVPR 2021) between the picture's features
    and the painting's, projected on K fixed directions, relative to the painting's energy.

    `share` is (K + 1, M): the projections of the picture's M positions on the K directions, and
    a last row of weights (1/M, or a region's mask^2 / sum mask^2). Along each direction the
    picture's values are sorted and each is compared with the painting's value at the same
    quantile (the middle of its weight's step of the cumulative weight), so a picture and a
    painting of different sizes, and a masked region, compare as distributions. Heitz et al.
    draw new directions at every step; with L-BFGS the loss must stay one function within a
    scale, so ours draws them once per scale (brushwork.statistics)."""
    proj, weights = share[:-1], share[-1]
    weights = weights / weights.sum().clamp_min(1e-12)
    values, order = proj.sort(dim=1)
    w = weights[order]
    at = w.cumsum(dim=1) - w / 2
    q = target.at(at.detach())
    return (w * (values - q).square()).sum() / (proj.shape[0] * target.energy)


class Quantiles:
    """A painting's projections on K directions, sorted, with their cumulative weights: its
    quantile function along each direction."""

    def __init__(self, share: torch.Tensor) -> None:
        proj, weights = share[:-1], share[-1]
        weights = weights / weights.sum().clamp_min(1e-12)
        self.values, order = proj.sort(dim=1)
        w = weights[order]
        self.cumulative = (w.cumsum(dim=1) - w / 2).contiguous()
        self.energy = float((proj.square() * weights).sum() / proj.shape[0]) or 1.0

    def at(self, q: torch.Tensor) -> torch.Tensor:
        """The values at quantiles `q` (K, M), linearly interpolated, one row per direction."""
        n = self.values.shape[1]
        if n == 1:
            return self.values.expand_as(q)
        hi = torch.searchsorted(self.cumulative, q.contiguous()).clamp(1, n - 1)
        lo = hi - 1
        c0, c1 = self.cumulative.gather(1, lo), self.cumulative.gather(1, hi)
        v0, v1 = self.values.gather(1, lo), self.values.gather(1, hi)
        t = ((q - c0) / (c1 - c0).clamp_min(1e-12)).clamp(0, 1)
        return v0 + t * (v1 - v0)
