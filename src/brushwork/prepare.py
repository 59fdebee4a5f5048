"""The prepare phase of each scale: what the loop needs before its first step there. The memory
plan (whole or in tiles), the targets computed once (the photo's content features, each
painting's style statistics), the objective built from them, the start picture and the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from PIL import Image

from . import color, images, memory, optim, regions, schedule, statistics, tiles, tiling
from .errors import InputError
from .layers import MIN_SIDE, block, channels
from .objective import Objective, Region, Temporal
from .parameterize import Parameterization
from .settings import Settings
from .steps import Continuation, Inputs
from .vgg import VGG19Features

# Style layer weights by VGG block when the user gives none. The paper weighs its five layers
# equally; in its network the deep layers' Gram matrices were tiny next to the shallow ones', and
# neural-style's (raw Caffe activations, Gram / C*H*W) gives relu5_1 about 1e-5 of relu2_1's
# share. Our normalised network gives every layer the same footing, and equal weights then let
# relu4_1 and relu5_1, whose features are object parts (eyes, a face, a hat), paste those parts
# into the photo: a portrait's face appeared in Tübingen's river. relu4_1 is damped; relu5_1 is
# left out of the default layers altogether (settings.STYLE_LAYERS: even at 0.1 its statistics
# pasted a face and a moon, docs/quality.md) and weighs 0.1 when asked for.
DEPTH_WEIGHTS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 0.5, 5: 0.1}
# A painting may be processed at most this many times longer than the picture's longer side (an
# elongated one is grown until its short side fits VGG-19); beyond, it is refused before any work.
MAX_STYLE_GROWTH = 4
# Targets need no gradient: one pass without it takes about a quarter of the memory of one with
# it (benchmarks/large.py), so their crops may be this many times larger than the picture's.
TARGET_CROP = 3

def layer_weights(weights: Sequence[float], layers: Sequence[str]) -> list[float]:
    """The style layers' weights w_l, summing to 1: as given, or by depth (DEPTH_WEIGHTS)."""
    weights = list(weights) or [DEPTH_WEIGHTS[block(k)] for k in layers]
    total = sum(weights)
    return [w / total for w in weights]


def identity(t: torch.Tensor) -> torch.Tensor:
    return t


def grey_to_rgb(t: torch.Tensor) -> torch.Tensor:
    return t.expand(-1, 3, -1, -1)


@torch.no_grad()
def targets(model: VGG19Features, s: Settings, content: torch.Tensor, content_in: torch.Tensor,
             style_ims: list[Image.Image], size: tuple[int, int],
             as_rgb: Callable[[torch.Tensor], torch.Tensor], mem: memory.Plan,
             cache: dict | None = None, statistic: statistics.Statistic | None = None,
             ) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """The photo's content features and each painting's style statistics (Gram matrices by
    default) for one scale, computed once (in tiles when the scale is tiled: a large photo or painting goes through the network
    the way the picture does, in crops TARGET_CROP times larger, since no gradient is kept)."""
    layers = s.layers
    crop = TARGET_CROP * (mem.crop or size[0] * size[1])

    def cut(image: torch.Tensor) -> list[tiling.Tile]:
        return tiling.cut(image.shape[-1], image.shape[-2], layers, side=mem.tile, crop=crop)

    _, content_targets = tiles.features(model, content_in, cut(content_in), (),
                                        s.content_layers if s.content_weight > 0 else (), as_rgb)
    # Colour preservation fits the painting to each photo; otherwise the targets are the same
    # for every frame of a video.
    cache = cache if s.preserve_color == "none" else None
    if cache is not None and size in cache:
        return content_targets, cache[size]  # a video's paintings are the same every frame
    style_stats = []
    for style_im in style_ims if s.weights_used[1] > 0 else ():
        style = style_tensor(style_im, size, s.style_scale, content.device)
        if s.preserve_color == "histogram":
            style = color.match_histogram(style, content)
        elif s.preserve_color == "luminance":
            style = color.match_luminance(color.luminance(style), content_in)
        # A painting much larger than the picture (a large --style-scale) is cut too.
        style_stats.append(tiles.features(model, style, cut(style), s.style_layers, (), as_rgb,
                                          statistic)[0])
    if cache is not None:
        cache[size] = style_stats
    return content_targets, style_stats


def style_regions(style_stats: list[dict[str, torch.Tensor]], blend: list[float],
                  masks: list[torch.Tensor] | None, layers: Sequence[str], pooling: str,
                  statistic: statistics.Statistic) -> tuple[Region, ...]:
    """Where each style applies. Without masks, everywhere, the styles blended into one target
    per layer: the statistic of the paintings' mixture (brushwork.statistics; for Gram matrices
    sum_i b_i A_i), so a blend is one painting's statistics and costs nothing per step. With
    masks, each style in its own region, weighted by its blend weight (1 each when unset)."""
    if not style_stats:
        return ()
    if masks is None:
        return (Region({k: statistic.target(statistic.blend([g[k] for g in style_stats], blend))
                        for k in layers}),)
    return tuple(Region({k: statistic.target(g[k]) for k in layers},
                        regions.layer_masks(m, layers, pooling), b * len(blend))
                 for g, m, b in zip(style_stats, masks, blend, strict=True))


def style_statistic(s: Settings, size: tuple[int, int], device: torch.device) -> statistics.Statistic:
    """The statistic of the run's style loss. The sliced loss's directions are drawn from the run's
    seed and the scale's size: the same at every frame of a video, new at each scale."""
    gen = torch.Generator().manual_seed(s.seed * 1_000_003 + size[0] * 8191 + size[1])
    return statistics.statistic(s.style_loss, s.style_norm, gen,
                                [channels(k) for k in s.style_layers], device)


def style_size(painting: tuple[int, int], size: tuple[int, int],
               style_scale: float) -> tuple[int, int]:
    """The size a painting of `painting` pixels is processed at, for a picture of `size`."""
    longer = max(MIN_SIDE, round(max(size) * style_scale))
    # Not enlarged beyond its own pixels unless --style-scale asks for it: enlarging invents no
    # brushwork, only blur, and a 64 px painting shown at 512 px taught the picture nothing but
    # blur (docs/quality.md, tiny-starry).
    longer = min(longer, round(max(*painting, MIN_SIDE) * max(1.0, style_scale)))
    w, h = images.fit_size(*painting, longer)
    if min(w, h) < MIN_SIDE:  # a very elongated painting: grow until it fits VGG
        w, h = images.fit_size(*painting, round(longer * MIN_SIDE / min(w, h)))
    return w, h


def checked_style_size(painting: tuple[int, int], size: tuple[int, int], style_scale: float,
                       name: str) -> tuple[int, int]:
    """`style_size`, or InputError for a painting too elongated to paint with: one grown until
    its short side fits VGG-19 must stay within MAX_STYLE_GROWTH times the picture's longer
    side (a 20000x1 strip would be millions of pixels long, or still too thin)."""
    sw, sh = style_size(painting, size, style_scale)
    longest = MAX_STYLE_GROWTH * max(*size, round(max(size) * style_scale))
    if min(sw, sh) < MIN_SIDE or max(sw, sh) > longest:
        raise InputError(name, f"{painting[0]}x{painting[1]} is too elongated to paint with",
                         "crop it nearer to a rectangle of at most "
                         f"{MAX_STYLE_GROWTH * max(size) // MIN_SIDE}:1")
    return sw, sh


def style_tensor(style_im: Image.Image, size: tuple[int, int], style_scale: float,
                  device: torch.device) -> torch.Tensor:
    w, h = style_size(style_im.size, size, style_scale)
    return images.to_tensor(images.resize(style_im, (w, h)), device)


def memory_plan(size: tuple[int, int], s: Settings, device: torch.device,
                budget: int | None) -> memory.Plan:
    """Whole or in tiles, and L-BFGS's history, for a picture of `size` under `budget`."""
    return memory.plan(*size, device, bf16=s.bf16, channels_in=1 if s.luminance_only else 3,
                       layers=list(s.layers), content_layers=s.content_layers, tile=s.tile,
                       budget=budget)


@dataclass
class Prepared:
    """One scale, ready for its first step."""

    mem: memory.Plan
    objective: Objective
    x: torch.Tensor  # what the optimiser moves (its gradient on): the picture's pixels, or
    # the parameters `param` turns into the picture
    optimiser: optim.LBFGS | optim.Adam
    content: torch.Tensor  # the photo at this size, RGB
    keep: torch.Tensor | None  # where the photo is kept (regions), or None
    luminance_only: bool
    param: Parameterization

    def picture(self) -> torch.Tensor:
        """The picture the parameters give now, without a gradient (a copy)."""
        return self.param.picture().detach().clone()

    def render(self, picture: torch.Tensor) -> Image.Image:
        """A picture of this scale as the user sees it: the photo's colours back in luminance
        mode, the photo composited where no region applies."""
        with torch.no_grad():
            out = (color.with_chroma(picture.clamp(0, 1), self.content) if self.luminance_only
                   else picture)
            if self.keep is not None and float(self.keep.max()) > 0:
                out = regions.composite(out.clamp(0, 1), self.content, self.keep)
            return images.to_pil(out)


def prepare(model: VGG19Features, inputs: Inputs, size: tuple[int, int], *,
            previous: torch.Tensor | None, resumed: Image.Image | None,
            generator: torch.Generator, cont: Continuation | None, cache: dict | None,
            budget: int | None) -> Prepared:
    """Everything one scale of `size` needs: memory plan, targets (once), objective, start
    picture (the coarser scale's `previous` result or the same size's through another eye, a
    `resumed` picture, a video frame's warped one, or the run's start) and a fresh optimiser."""
    s, device = inputs.settings, inputs.device
    luminance_only = s.luminance_only
    # What VGG sees: the RGB picture, or the luminance repeated to three channels.
    as_rgb = grey_to_rgb if luminance_only else identity
    # Each scale is planned on its own: the coarse ones that fit run whole, and only those that
    # do not are cut into tiles (the same loss and gradient, in less memory).
    mem = memory_plan(size, s, device, budget)
    content = images.to_tensor(images.resize(inputs.content, size), device)
    content_in = color.luminance(content) if luminance_only else content
    alpha, beta, tv = s.weights_used
    statistic = style_statistic(s, size, device)
    content_targets, style_stats = targets(model, s, content, content_in, list(inputs.styles),
                                           size, as_rgb, mem, cache, statistic)
    temporal = None
    if cont is not None:
        temporal = Temporal(schedule.as_picture(cont.previous, luminance_only, device),
                            cont.weights.to(device), cont.temporal_weight)
    masks = None if inputs.masks is None else [
        regions.mask_tensor(m, size, device) for m in inputs.masks]
    keep = None if masks is None else regions.keep_mask(masks)
    objective = Objective(
        content_targets, style_regions(style_stats, s.blend_weights(len(inputs.styles)), masks,
                                       s.style_layers, s.pooling, statistic),
        # --strength scales the style and smoothing weights: Settings.weights_used.
        content_weight=alpha, style_weight=beta,
        layer_weights=dict(zip(s.style_layers, layer_weights(s.style_layer_weights,
                                                             s.style_layers))),
        tv_weight=tv, as_rgb=as_rgb, bf16=s.bf16,
        statistic=statistic,
        temporal=temporal)
    if temporal is not None and previous is None:
        # Where the flow is not trusted (newly seen, or off the frame's edge), the start is the
        # photo: the warped picture there is a smear of whatever lay nearby. Ruder et al. start
        # from the warped frame everywhere; ours departs from the paper here.
        c = temporal.weights
        x = (c * temporal.target + (1 - c) * content_in).contiguous()
    elif resumed is not None:  # the saved picture, at this scale's size
        x = schedule.start_from(resumed, size, luminance_only, device)
    else:
        x = schedule.initial(previous, size, content_in, inputs.init, luminance_only, generator,
                             device, s.init)
    x.requires_grad_(True)
    # What the optimiser moves: the pixels themselves, or a linear re-expression of them.
    param = Parameterization(s.parameterization, x)
    # One loss evaluation per step for both optimisers; L-BFGS's history starts afresh at each
    # scale (the old pairs describe another image size), its curvature's scale need not
    # (Settings.curvature: the loop hands it on).
    optimiser = (optim.LBFGS(param.q, s.learning_rate, mem.history) if s.optimizer == "lbfgs"
                 else optim.Adam(param.q, s.learning_rate, average=s.average or None))
    return Prepared(mem, objective, param.q, optimiser, content, keep, luminance_only, param)
