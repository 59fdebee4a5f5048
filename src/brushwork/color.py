"""Colour preservation, both methods of Gatys et al. 2016, "Preserving Color in Neural Artistic
Style Transfer" (arXiv 1606.05897). Images are (1, 3, H, W) RGB tensors in [0, 1].

* histogram: a linear map makes the style image's colour mean and covariance equal the photo's
  before the transfer (the paper's Eq. 1-3 with the symmetric matrix square root).
* luminance: the transfer runs on the luminance (YIQ's Y) alone; the style's luminance is matched
  to the photo's mean and standard deviation; the photo's I and Q are put back afterwards.
"""

from __future__ import annotations

import torch

# NTSC YIQ, as in the paper.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.595716, -0.274453, -0.321263],
                            [0.211456, -0.522591, 0.311135]])


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    m = _RGB_TO_YIQ.to(image)
    return torch.einsum("ij,bjhw->bihw", m, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    m = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image)
    return torch.einsum("ij,bjhw->bihw", m, image)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)  # a flat-coloured image has a singular covariance
    power = -0.5 if inverse else 0.5
    return vecs @ torch.diag(vals**power) @ vecs.T


def colour_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of the pixels of a (1, 3, H, W) image."""
    px = image[0].reshape(3, -1).double()
    mean = px.mean(1)
    centred = px - mean[:, None]
    return mean, centred @ centred.T / px.shape[1]


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """`style` recoloured so its colour mean and covariance equal `content`'s."""
    mu_s, cov_s = colour_stats(style)
    mu_c, cov_c = colour_stats(content)
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    px = style[0].reshape(3, -1).double()
    out = a @ (px - mu_s[:, None]) + mu_c[:, None]
    return out.reshape(style.shape).to(style.dtype).clamp(0, 1)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel, (1, 1, H, W)."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Style luminance shifted and scaled to the content luminance's mean and std (paper Eq. 4)."""
    s_mean, s_std = style_y.mean(), style_y.std().clamp_min(1e-6)
    return ((style_y - s_mean) * (content_y.std() / s_std) + content_y.mean()).clamp(0, 1)


def with_chroma(y: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image from luminance `y` and the I, Q channels of `content` (same size)."""
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)
