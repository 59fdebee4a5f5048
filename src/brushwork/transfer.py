"""The optimisation loop.

`iter_stylize` checks its inputs, then returns a generator that yields one `Step` per loss-and-
gradient evaluation, over all scales of a coarse-to-fine schedule. The CLI's progress bar, its
intermediate saves and the web app's live preview all consume this one iterator. `stylize` runs it
to the end and returns the picture.
"""

from __future__ import annotations

import hashlib
import math
from functools import partial
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence, Union

import torch
from PIL import Image

from . import color, examples, images, memory, optim, regions, tiles
from .device import resolve_device
from .errors import DeviceError, DivergenceError, InputError
from .losses import gram_loss, relative_gram_loss
from .objective import Objective, Region, Temporal
from .settings import Settings, flag
from .vgg import VGG19Features
from .weights import load_weights

ImageLike = Union[images.ImageSource, Image.Image]

# Coarse-to-fine: each scale doubles the size; the coarsest keeps at least this longer side, where
# VGG-19's deepest style layer (conv5_1, 1/16 of the input) still sees a few positions.
MIN_SCALE_SIDE = 128
# Each finer scale gets this fraction of the previous scale's steps: a full-size step costs four
# times a half-size one, and from an upsampled start the fine scale only has detail left to add.
STEP_DECAY = 0.6
# ... but a coarser scale gets at most this many: by then it has settled the composition (its own
# loss falls by under 1% per step at 128 px), while the full-size loss only falls with full-size
# steps. Without the cap, 480 steps at 512 px gave the full size 88 of them and a worse picture
# than one scale in the same time (docs/performance.md, time to quality).
COARSE_STEPS_MAX = 64
# L-BFGS steps rejected in a row (each ten times shorter than the last) before a run gives up.
MAX_REJECTIONS = 6
# Style layer weights by VGG block when the user gives none. The paper weighs its five layers
# equally; in its network the deep layers' Gram matrices were tiny next to the shallow ones', and
# neural-style's (raw Caffe activations, Gram / C*H*W) gives relu5_1 about 1e-5 of relu2_1's
# share. Our normalised network gives every layer the same footing, and equal weights then let
# relu4_1 and relu5_1, whose features are object parts (eyes, a face, a hat), paste those parts
# into the photo: a portrait's face appeared in Tübingen's river. Damping the deep blocks removed
# it on every pair of docs/quality.md and lowered the yardstick (1.07 -> 0.97 on that pair).
DEPTH_WEIGHTS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 0.5, 5: 0.1}
# Targets need no gradient: one pass without it takes about a quarter of the memory of one with
# it (benchmarks/large.py), so their crops may be this many times larger than the picture's.
TARGET_CROP = 3
# A video frame stops when its best loss fell by less than its tolerance per step, on average
# over this many steps (one L-BFGS step can stall while the next still gains).
STALL_WINDOW = 5
# The network is normalised on the bundled examples at ImageNet's usual size.
REFERENCE_SIZE = 224
FILTER_MEANS_FILE = Path(__file__).resolve().parent / "caffe_filter_means.pt"


@dataclass(frozen=True)
class Step:
    """One evaluation of the loss.

    `losses` and `image()` describe the same picture: the one this step evaluated. `best_image()`
    is the lowest-loss picture of this scale so far, which is what a run hands on to the next
    scale and writes at the end (a step of L-BFGS can go uphill; the best picture is kept).
    """

    step: int  # 1 .. total, over all scales
    total: int
    scale: int  # 1 .. scales
    scales: int
    size: tuple[int, int]  # (width, height) at this scale
    best_step: int  # the step whose picture `best_image()` is
    _terms: Mapping[str, torch.Tensor] = field(repr=False)
    _render: Callable[[], Image.Image] = field(repr=False)
    _render_best: Callable[[], Image.Image] = field(repr=False)
    tiles: int = 1  # how many tiles the picture's loss was computed in (1: whole)

    @property
    def losses(self) -> dict[str, float]:
        """Weighted loss terms (content, style, tv when on, total) as floats."""
        return {k: float(v) for k, v in self._terms.items()}

    def image(self) -> Image.Image:
        """The picture this step evaluated (its `losses` are of this picture)."""
        return self._render()

    def best_image(self) -> Image.Image:
        """The lowest-loss picture of this scale so far: the run's result when it ends here."""
        return self._render_best()


@dataclass(frozen=True)
class Continuation:
    """How a video frame after the first is painted (brushwork.video builds it): from the
    previous picture warped to this frame, with Ruder et al.'s temporal term towards it weighted
    by `weights`, in one scale of at most `steps` steps that stops once the loss stops falling
    (`tolerance`).

    Tensors are (1, 3, H, W) RGB in [0, 1] and (1, 1, H, W), at the frame's output size."""

    previous: torch.Tensor  # the previous picture warped to this frame
    weights: torch.Tensor  # Ruder's c: 1 where the flow is trusted, 0 where it is not
    temporal_weight: float
    steps: int
    tolerance: float


@dataclass(frozen=True)
class Scale:
    size: tuple[int, int]  # (width, height)
    steps: int


def plan_scales(width: int, height: int, settings: Settings) -> list[Scale]:
    """The coarse-to-fine schedule: sizes doubling up to the output, the coarsest scale with the
    most steps, each coarser scale with at most COARSE_STEPS_MAX."""
    longer = settings.size
    if settings.scales is None:
        # Automatic: single scale up to 256 px; above, halve until MIN_SCALE_SIDE.
        n = 1
        while longer / 2**n >= MIN_SCALE_SIDE and longer > 256:
            n += 1
    else:
        n = settings.scales
    sizes: list[tuple[int, int]] = []
    for i in range(n - 1, -1, -1):
        w, h = images.fit_size(width, height, round(longer / 2**i))
        if min(w, h) >= images.MIN_SIDE or i == 0:
            sizes.append((w, h))
    n = len(sizes)
    shares = [STEP_DECAY**i for i in range(n)]  # the coarsest scale gets the most
    total = sum(shares)
    steps = [max(1, math.floor(settings.steps * s / total)) for s in shares]
    steps[0] += settings.steps - sum(steps)  # rounding goes to the cheap coarse scale
    if steps[0] < 1:  # fewer steps than scales: drop the coarse ones
        return plan_scales(width, height, settings.replace(scales=settings.steps))
    for i in range(n - 1):  # what the coarse scales cannot use goes to the full size
        surplus = max(0, steps[i] - COARSE_STEPS_MAX)
        steps[i] -= surplus
        steps[-1] += surplus
    return [Scale(size, k) for size, k in zip(sizes, steps)]


def reference_images() -> list[torch.Tensor]:
    """The images the network is normalised on: the bundled examples at ImageNet's size, in
    colour and in grey (ImageNet, the paper's reference set, holds greyscale pictures too; without
    them the filters that answer to grey got gains of hundreds)."""
    out = []
    for im in map(images.load_image, examples.all_paths()):
        im = images.resize(im, images.fit_size(*im.size, REFERENCE_SIZE))
        out += [images.to_tensor(im), images.to_tensor(im.convert("L").convert("RGB"))]
    return out


def load_model(settings: Settings, device: torch.device | str = "cpu") -> VGG19Features:
    """The normalised VGG-19 extractor for the layers, weights and pooling of `settings`."""
    layers = list(settings.content_layers) + list(settings.style_layers)
    weights = load_weights(settings.weights)
    if weights.source == "caffe":  # precomputed: scripts/make_filter_means.py
        table = torch.load(FILTER_MEANS_FILE, map_location="cpu", weights_only=True)
        means = {k.split("/")[1]: v for k, v in table.items()
                 if k.startswith(settings.pooling + "/")}
        return VGG19Features(weights, layers, settings.pooling, filter_means=means).to(device)
    return VGG19Features(weights, layers, settings.pooling, reference=reference_images()).to(device)


def _as_image(x: ImageLike, role: str) -> Image.Image:
    if isinstance(x, Image.Image):
        return images.to_rgb(x)
    return images.load_image(x, name=f"{role} {x}" if isinstance(x, (str,)) else role)


def style_images(styles: ImageLike | Sequence[ImageLike]) -> list[Image.Image]:
    """One style image or several, read as RGB; InputError for none or an unusable one."""
    style_list = [styles] if isinstance(styles, (str, bytes, Image.Image)) or hasattr(
        styles, "read") or hasattr(styles, "__fspath__") else list(styles)  # type: ignore[arg-type]
    if not style_list:
        raise InputError("style images", "none given", "give at least one style image")
    return [_as_image(s, f"style image {i + 1}") for i, s in enumerate(style_list)]


def iter_stylize(content: ImageLike, styles: ImageLike | Sequence[ImageLike],
                 settings: Settings | None = None, *, model: VGG19Features | None = None,
                 resume: tuple[int, Image.Image] | None = None,
                 tile_progress: bool = False,
                 masks: Sequence[ImageLike] | None = None,
                 continuation: Continuation | None = None,
                 cache: dict | None = None) -> Iterator[Step]:
    """Check the inputs and return an iterator of `Step`s that paints `content` in `styles`.

    All input checks happen here, before any work; the model loads when iteration starts
    (unless `model` is given). Raises `InputError` for unusable inputs, `DeviceError` for a
    missing device, and, while iterating, `DivergenceError` if the loss stops being finite and
    `DeviceError` if the GPU runs out of memory.

    `resume=(steps_done, image)` continues an interrupted run of the same settings: the steps
    before `steps_done` are skipped and `image` (an intermediate) takes the place of the picture.

    A picture too large for the device's memory (or `settings.max_memory`) has its loss computed
    in tiles (brushwork.tiles): the same picture, more slowly. With `tile_progress=True` the
    iterator also yields a `tiles.Progress` for each tile done within a step, for a progress
    display on steps that take minutes.

    `masks` (one greyscale image per style, any size, white where that style applies) paints
    each style in its own region with guided Gram matrices (brushwork.regions); where no mask
    is white, the photo is kept.

    `continuation` and `cache` are for brushwork.video: a frame painted from the previous one,
    and a dict in which the paintings' Gram matrices are kept from frame to frame.
    """
    settings = settings or Settings()
    content_im = _as_image(content, "content image")
    style_ims = style_images(styles)
    if settings.style_blend and len(settings.style_blend) != len(style_ims):
        raise InputError(flag("style_blend"), f"{len(settings.style_blend)} weights for "
                         f"{len(style_ims)} style images", "give one weight per style image")
    images.check_size(content_im, settings.size, "content image")
    mask_ims = None
    if masks is not None:
        mask_list = list(masks)
        mask_ims = [images.to_mask(m) if isinstance(m, Image.Image) else
                    images.load_mask(m, name=f"style mask {i + 1}" + (f" {m}" if isinstance(m, str) else ""))
                    for i, m in enumerate(mask_list)]
        regions.check_masks(mask_ims, [f"style mask {i + 1}" + (f" {m}" if isinstance(m, str) else "")
                                       for i, m in enumerate(mask_list)], len(style_ims))
    init_im = None
    if settings.init not in ("content", "noise"):
        init_im = images.load_image(settings.init, name=f"{flag('init')} {settings.init}")
    device = resolve_device(settings.device)
    bf16 = settings.precision == "bf16"
    if bf16 and device.type != "cuda":
        # bf16 on a CPU without bf16 units runs about 200 times slower than fp32.
        raise InputError(flag("precision"), f"bf16 runs on CUDA only, not on {device.type}",
                         "use --precision fp32")
    w, h = images.fit_size(*content_im.size, settings.size)
    mem = _memory_plan((w, h), settings, device, memory.budget_bytes(device, settings.max_memory))
    if not mem.fits:
        fits = memory.largest_size(*content_im.size, device, bf16, tile=settings.tile,
                                   max_memory_gb=settings.max_memory, limit=settings.size)
        how = "even in tiles" if mem.tiled else "untiled"
        has = (f"--max-memory allows {settings.max_memory:g} GB" if settings.max_memory else
               f"{device} has {mem.budget / 0.9 / 2**30:.1f} GB free")
        raise InputError(flag("size"), f"{w}x{h} needs about {mem.need / 2**30:.1f} GB {how} "
                         f"but {has}", f"use --size {fits}" if fits else
                         "free some memory, raise --max-memory or use a smaller size")
    if model is not None:
        missing = set(settings.content_layers) | set(settings.style_layers)
        missing -= set(model.layers)
        if missing:
            raise ValueError(f"model lacks layers {sorted(missing)}; build it with load_model")
    if resume is not None and not 0 <= resume[0] < settings.steps:
        raise InputError("--resume", f"the saved run is at step {resume[0]} of {settings.steps}",
                         "there is nothing left to do; start a new run")
    return _run(content_im, style_ims, init_im, settings, device, model, resume, tile_progress,
                mask_ims, continuation, cache)


def stylize(content: ImageLike, styles: ImageLike | Sequence[ImageLike],
            settings: Settings | None = None, **kwargs) -> Image.Image:
    """Run the whole optimisation and return the final picture."""
    last = None
    for last in iter_stylize(content, styles, settings, **kwargs):
        pass
    assert isinstance(last, Step)
    assert last is not None  # steps >= 1 is validated
    return last.best_image()


def _run(content_im: Image.Image, style_ims: list[Image.Image], init_im: Image.Image | None,
         s: Settings, device: torch.device, model: VGG19Features | None,
         resume: tuple[int, Image.Image] | None, tile_progress: bool,
         mask_ims: list[Image.Image] | None, continuation: Continuation | None,
         cache: dict | None) -> Iterator[Step]:
    try:
        yield from _steps(content_im, style_ims, init_im, s, device, model, resume, tile_progress,
                          mask_ims, continuation, cache)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        fits = memory.largest_size(*content_im.size, device, s.precision == "bf16", tile=s.tile,
                                   max_memory_gb=s.max_memory, limit=s.size - 16)
        raise DeviceError(f"--size {s.size}: {device} ran out of memory; "
                          + (f"use --size {fits}" if fits else "close other GPU programs or "
                             "use a smaller --size")) from None


def _steps(content_im: Image.Image, style_ims: list[Image.Image], init_im: Image.Image | None,
           s: Settings, device: torch.device, model: VGG19Features | None,
           resume: tuple[int, Image.Image] | None, tile_progress: bool = False,
           mask_ims: list[Image.Image] | None = None, cont: Continuation | None = None,
           cache: dict | None = None) -> Iterator[Step | tiles.Progress]:
    if model is None:
        model = load_model(s, device)
    blend = torch.tensor(s.style_blend or [1.0] * len(style_ims), dtype=torch.float64)
    blend = (blend / blend.sum()).tolist()
    layer_w = dict(zip(s.style_layers, _layer_weights(s.style_layer_weights, s.style_layers)))
    luminance_only = s.preserve_color == "luminance"
    bf16 = s.precision == "bf16"
    plan = plan_scales(*content_im.size, s)
    if cont is not None:  # a video frame from the previous one: only the full size is left to do
        plan = [Scale(tuple(cont.previous.shape[-1:-3:-1]), cont.steps)]
    total = sum(sc.steps for sc in plan)
    gen = torch.Generator().manual_seed(s.seed)
    step_no = 0
    x: torch.Tensor | None = None
    budget = memory.budget_bytes(device, s.max_memory)

    # What VGG sees: the RGB picture, or the luminance repeated to three channels.
    as_rgb = _grey_to_rgb if luminance_only else _identity

    for scale_no, sc in enumerate(plan, start=1):
        steps_here = sc.steps
        if resume is not None:
            done = resume[0]
            if step_no + sc.steps <= done:  # this whole scale was done before the interruption
                step_no += sc.steps
                continue
            steps_here = step_no + sc.steps - done
            step_no = done
        # Each scale is planned on its own: the coarse ones that fit run whole, and only those
        # that do not are cut into tiles (the same loss and gradient, in less memory).
        mem = _memory_plan(sc.size, s, device, budget)
        content = images.to_tensor(images.resize(content_im, sc.size), device)
        content_in = color.luminance(content) if luminance_only else content
        content_targets, style_grams = _targets(model, s, content, content_in, style_ims,
                                                sc.size, as_rgb, mem, cache)
        temporal = None
        if cont is not None:
            temporal = Temporal(_as_picture(cont.previous, luminance_only, device),
                                cont.weights.to(device), cont.temporal_weight)
        masks = None if mask_ims is None else [
            regions.mask_tensor(m, sc.size, device) for m in mask_ims]
        keep = None if masks is None else regions.keep_mask(masks)
        objective = Objective(
            content_targets, _regions(style_grams, blend, masks, s.style_layers, s.pooling),
            content_weight=s.content_weight, style_weight=s.style_weight, layer_weights=layer_w,
            tv_weight=s.tv_weight, as_rgb=as_rgb, bf16=bf16,
            gram_loss=relative_gram_loss if s.style_norm == "relative" else gram_loss,
            temporal=temporal)
        if temporal is not None:
            # Where the flow is not trusted (newly seen, or off the frame's edge), the start is
            # the photo: the warped picture there is a smear of whatever lay nearby.
            c = temporal.weights
            x = (c * temporal.target + (1 - c) * content_in).contiguous()
        elif resume is not None:  # the saved picture, at this scale's size
            x = _start_from(resume[1], sc.size, luminance_only, device)
            resume = None
        else:
            x = _initial(x, sc.size, content_in, init_im, luminance_only, gen, device, s.init)
        x.requires_grad_(True)
        # One loss evaluation per step for both optimisers; L-BFGS's history starts afresh at
        # each scale (the old pairs describe another image size).
        opt = (optim.LBFGS(x, s.learning_rate, mem.history) if s.optimizer == "lbfgs"
               else optim.Adam(x, s.learning_rate))

        def render(picture: torch.Tensor, content=content, keep=keep) -> Image.Image:
            with torch.no_grad():
                out = color.with_chroma(picture.clamp(0, 1), content) if luminance_only else picture
                if keep is not None and float(keep.max()) > 0:  # the kept region is the photo
                    out = regions.composite(out.clamp(0, 1), content, keep)
                return images.to_pil(out)

        best_x, best_loss, best_step = x.detach().clone(), math.inf, step_no
        bests: list[float] = []  # the best loss after each step, for a frame's stopping test
        for _ in range(steps_here):
            evaluated = x.detach().clone()  # the picture this step's loss is measured on
            # cuDNN picks the fastest convolution for the fixed size of this scale; scoped to
            # the step so the caller's process settings are left as they were.
            with torch.backends.cudnn.flags(enabled=True, benchmark=device.type == "cuda"):
                evaluation = tiles.evaluate(model, objective, x, mem.cut)
                while True:  # the tiles' progress, then the terms
                    try:
                        progress = next(evaluation)
                    except StopIteration as done:
                        terms = done.value
                        break
                    if tile_progress:
                        yield progress
                # Both optimisers evaluate once, first: the gradient is already in x.grad.
                opt.step(lambda: terms["total"])
            step_no += 1
            loss = float(terms["total"])
            if loss < best_loss:  # False for NaN
                best_x, best_loss, best_step = evaluated, loss, step_no
            # L-BFGS rejects and retries a step that explodes (optim.LBFGS); give up only when
            # even a step a million times shorter does not help. Adam cannot retry: a NaN
            # gradient would poison its moments.
            if (opt.rejections >= MAX_REJECTIONS if isinstance(opt, optim.LBFGS)
                    else not math.isfinite(loss)):
                raise DivergenceError(best_step, render(best_x), step_no,
                                      "try a smaller --lr, --style-weight or --content-weight")
            if s.optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0, 1)
            yield Step(step_no, total, scale_no, len(plan), sc.size, best_step, dict(terms),
                       partial(render, evaluated), partial(render, best_x), mem.tiles)
            bests.append(best_loss)
            if cont is not None and len(bests) > STALL_WINDOW and (
                    bests[-1 - STALL_WINDOW] - bests[-1]) < (
                    cont.tolerance * STALL_WINDOW * abs(bests[-1])):
                break  # the frame has settled: more steps would change it by too little to see
        x = best_x  # the next scale starts from this scale's best picture
        del opt, objective


def _layers(s: Settings) -> list[str]:
    return list(dict.fromkeys([*s.content_layers, *s.style_layers]))


def _memory_plan(size: tuple[int, int], s: Settings, device: torch.device,
                 budget: int | None) -> memory.Plan:
    return memory.plan(*size, device, bf16=s.precision == "bf16",
                       channels_in=1 if s.preserve_color == "luminance" else 3,
                       layers=_layers(s), content_layers=s.content_layers, tile=s.tile,
                       budget=budget)


def _layer_weights(weights: Sequence[float], layers: Sequence[str]) -> list[float]:
    """The style layers' weights w_l, summing to 1: as given, or by depth (DEPTH_WEIGHTS)."""
    # The block is the first digit of every layer name: conv4_2, relu4_2, pool4.
    weights = list(weights) or [DEPTH_WEIGHTS[int(next(c for c in k if c.isdigit()))]
                                for k in layers]
    total = sum(weights)
    return [w / total for w in weights]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _grey_to_rgb(t: torch.Tensor) -> torch.Tensor:
    return t.expand(-1, 3, -1, -1)


@torch.no_grad()
def _targets(model: VGG19Features, s: Settings, content: torch.Tensor, content_in: torch.Tensor,
             style_ims: list[Image.Image], size: tuple[int, int],
             as_rgb: Callable[[torch.Tensor], torch.Tensor], mem: memory.Plan,
             cache: dict | None = None,
             ) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """The photo's content features and each painting's Gram matrices for one scale, computed
    once (in tiles when the scale is tiled: a large photo or painting goes through the network
    the way the picture does, in crops TARGET_CROP times larger, since no gradient is kept)."""
    layers = _layers(s)
    crop = TARGET_CROP * (mem.crop or size[0] * size[1])

    def cut(image: torch.Tensor) -> list[tiles.Tile]:
        return tiles.plan(image.shape[-1], image.shape[-2], layers, side=mem.tile, crop=crop)

    _, content_targets = tiles.features(model, content_in, cut(content_in), (),
                                        s.content_layers if s.content_weight > 0 else (), as_rgb)
    # Colour preservation fits the painting to each photo; otherwise the targets are the same
    # for every frame of a video.
    cache = cache if s.preserve_color == "none" else None
    if cache is not None and size in cache:
        return content_targets, cache[size]  # a video's paintings are the same every frame
    style_grams = []
    for style_im in style_ims if s.style_weight > 0 else ():
        style = _style_tensor(style_im, size, s.style_scale, content.device)
        if s.preserve_color == "histogram":
            style = color.match_histogram(style, content)
        elif s.preserve_color == "luminance":
            style = color.match_luminance(color.luminance(style), content_in)
        # A painting much larger than the picture (a large --style-scale) is cut too.
        style_grams.append(tiles.features(model, style, cut(style), s.style_layers, (), as_rgb)[0])
    if cache is not None:
        cache[size] = style_grams
    return content_targets, style_grams


def _regions(style_grams: list[dict[str, torch.Tensor]], blend: list[float],
             masks: list[torch.Tensor] | None, layers: Sequence[str],
             pooling: str) -> tuple[Region, ...]:
    """Where each style applies. Without masks, everywhere, the styles blended into one target
    Gram per layer: sum_i b_i |G - A_i|^2 has the gradient of |G - sum_i b_i A_i|^2 when the b_i
    sum to 1, so blending costs nothing per step. With masks, each style in its own region,
    weighted by its blend weight (1 each when unset)."""
    if not style_grams:
        return ()
    if masks is None:
        return (Region({k: sum(b * g[k] for b, g in zip(blend, style_grams)) for k in layers}),)
    return tuple(Region(g, regions.layer_masks(m, layers, pooling), b * len(blend))
                 for g, m, b in zip(style_grams, masks, blend, strict=True))


def _style_tensor(style_im: Image.Image, size: tuple[int, int], style_scale: float,
                  device: torch.device) -> torch.Tensor:
    longer = max(images.MIN_SIDE, round(max(size) * style_scale))
    # Not enlarged beyond its own pixels unless --style-scale asks for it: enlarging invents no
    # brushwork, only blur, and a 64 px painting shown at 512 px taught the picture nothing but
    # blur (docs/quality.md, tiny-starry).
    longer = min(longer, round(max(*style_im.size, images.MIN_SIDE) * max(1.0, style_scale)))
    w, h = images.fit_size(*style_im.size, longer)
    if min(w, h) < images.MIN_SIDE:  # a very elongated painting: grow until it fits VGG
        w, h = images.fit_size(*style_im.size, round(longer * images.MIN_SIDE / min(w, h)))
    return images.to_tensor(images.resize(style_im, (w, h)), device)


def _as_picture(t: torch.Tensor, luminance_only: bool, device: torch.device) -> torch.Tensor:
    """An RGB tensor as the optimised picture's channels (the luminance in luminance mode)."""
    t = t.to(device)
    return (color.luminance(t) if luminance_only else t).contiguous()


def _start_from(im: Image.Image, size: tuple[int, int], luminance_only: bool,
                device: torch.device) -> torch.Tensor:
    """A picture to optimise from (an --init file or a resumed intermediate) at `size`."""
    return _as_picture(images.to_tensor(images.resize(im, size), device), luminance_only, device)


def _initial(prev: torch.Tensor | None, size: tuple[int, int], content: torch.Tensor,
             init_im: Image.Image | None, luminance_only: bool, gen: torch.Generator,
             device: torch.device, init: str) -> torch.Tensor:
    w, h = size
    if init == "noise":  # the paper's white noise; drawn on the CPU so a seed means one image
        start = None if prev is not None else torch.rand(content.shape, generator=gen).to(device)
    elif init_im is not None:
        start = _start_from(init_im, size, luminance_only, device)
    else:
        start = content.clone()
    if prev is None:
        return start
    # A finer scale starts from the coarser result, upsampled, which has only the coarse scale's
    # frequencies. The starting picture gives back the detail that the coarser scale could not
    # hold (what it loses on the way down to that size and back up), so the fine scale does not
    # have to grow it again from a blur: at 512 px this lowers the full-size loss after 100
    # fine steps from 2.80 to 2.59 (benchmarks/schedule.py).
    up = torch.nn.functional.interpolate(prev, size=(h, w), mode="bicubic", align_corners=False)
    if start is not None:
        low = torch.nn.functional.interpolate(start, size=prev.shape[-2:], mode="area")
        up += start - torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic",
                                                      align_corners=False)
    return up.clamp(0, 1).contiguous()


def file_record(name: str, data: bytes) -> dict[str, str]:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest()}


def run_record(settings: Settings, content: dict[str, str], styles: list[dict[str, str]],
               steps_done: int | None = None, masks: list[dict[str, str]] | None = None) -> dict:
    """What brushwork embeds in an output: version, settings and the inputs' names and hashes
    (the style masks' too, when the run had them)."""
    from . import __version__

    record = {"version": __version__, "settings": settings.to_dict(), "content": content,
              "styles": styles}
    if masks is not None:
        record["masks"] = masks
    if steps_done is not None:
        record["steps_done"] = steps_done
    return record
