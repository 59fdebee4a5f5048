"""Regions: different paintings in different parts of the picture, parts kept as the photo.

After Gatys, Ecker, Bethge, Hertzmann and Shechtman, "Controlling Perceptual Factors in Neural
Style Transfer" (CVPR 2017), spatial control by guided Gram matrices: one greyscale mask per
style (white where it applies), carried to each layer through the network's own pooling, and

    G_r = sum_p m_p^2 f_p f_p^T / sum_p m_p^2

for region r, whose style loss is weighted by its share of the picture, mean(m^2). An all-white
mask gives back the ordinary Gram matrix and loss exactly. Where no mask is white only the
content loss acts; style gradients still leak a little across a region's border through the
network's receptive fields, so after the run the photo is composited back there over a
feathered edge (`composite`).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from . import images
from .errors import InputError
from .tiles import factor

# The photo comes back over the kept region through an edge this fraction of the picture's
# longer side wide: wide enough to hide the seam where style leaked, narrow enough to keep
# what the user painted.
FEATHER = 0.015
EMPTY = 1 / 255  # a mask whose brightest pixel is below this has nothing in it


def check_masks(masks: Sequence[Image.Image], names: Sequence[str], n_styles: int) -> None:
    """One mask per style, each with something in it; refuse anything else in one line."""
    if len(masks) != n_styles:
        raise InputError("--style-masks", f"{len(masks)} masks for {n_styles} style images",
                         "give one mask per style image, in the same order")
    for im, name in zip(masks, names):
        if max(im.convert("L").getextrema()) < EMPTY * 255:
            raise InputError(name, "is black everywhere: its style would paint nowhere",
                             "paint white where that style applies")


def mask_tensor(mask: Image.Image, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """A mask as a (1, 1, H, W) tensor in [0, 1] at `size` (width, height), whatever its own size."""
    return images.to_tensor(images.resize(mask.convert("L").convert("RGB"), size), device)[:, :1]


def layer_masks(mask: torch.Tensor, layers: Sequence[str], pooling: str) -> dict[str, torch.Tensor]:
    """The mask at each layer's resolution, through the same 2x2 poolings as the features (the
    paper's code does the same; its optional erosion is left out: the feathered composite
    covers the border instead)."""
    pool = F.avg_pool2d if pooling == "avg" else F.max_pool2d
    out, at, m = {}, 1, mask
    for k in sorted(layers, key=factor):
        while at < factor(k):
            m, at = pool(m, 2), at * 2
        out[k] = m
    return out


def keep_mask(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Where no style applies: 1 - the brightest mask, (1, 1, H, W)."""
    return (1 - torch.stack(list(masks)).amax(dim=0)).clamp(0, 1)


def composite(picture: torch.Tensor, photo: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The photo over the kept region, through an edge feathered into the painted side (so that
    away from the edge the kept region is the photo itself)."""
    radius = max(1, round(FEATHER * max(keep.shape[-2:])))
    # Grow the kept region by the radius, then soften: the soft edge lies in the painted side.
    grown = F.max_pool2d(keep, 2 * radius + 1, stride=1, padding=radius)
    soft = F.avg_pool2d(grown, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    soft = torch.maximum(soft, keep)
    return picture * (1 - soft) + photo * soft
