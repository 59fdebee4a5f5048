"""The optimisation loop, in named phases: `check_inputs` (before any work), then per scale of
the coarse-to-fine schedule `prepare` (brushwork.prepare) and the loop itself.

`iter_stylize` yields one `Step` per loss-and-gradient evaluation, over all scales. The CLI's
progress bar, its intermediate saves, the web app's live preview and the video and batch drivers
all consume this one iterator. `stylize` runs it to the end and returns the picture. New
capabilities (tiles, regions, a video frame's temporal term) enter as terms or targets of the
objective, or as the evaluator: there is one loop.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Iterator, Sequence, Union

import torch
from PIL import Image

from . import images, memory, optim, regions, tiles
from .device import resolve_device
from .errors import DeviceError, DivergenceError, InputError
from .prepare import checked_style_size, memory_plan, prepare
from .schedule import Scale, plan_scales
from .settings import Settings, flag
from .steps import Continuation, Inputs, Step
from .eyes import Eyes
from .schedule import with_eyes
from .vgg import VGG19Features, as_eyes, load_model

ImageLike = Union[images.ImageSource, Image.Image]

# L-BFGS steps rejected in a row (each ten times shorter than the last) before a run gives up.
MAX_REJECTIONS = 6
# A video frame stops when its best loss fell by less than its tolerance per step, on average
# over this many steps (one L-BFGS step can stall while the next still gains).
STALL_WINDOW = 5


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


def check_inputs(content: ImageLike, styles: ImageLike | Sequence[ImageLike],
                 settings: Settings | None = None, *,
                 masks: Sequence[ImageLike] | None = None) -> Inputs:
    """Read and check everything a run needs, before any work: the pictures, the masks, the
    --init file, the device, and that the picture fits the device's memory. Raises `InputError`
    (or `DeviceError`) naming the first input that cannot be used."""
    settings = settings or Settings()
    content_im = _as_image(content, "content image")
    style_ims = style_images(styles)
    if settings.style_blend and len(settings.style_blend) != len(style_ims):
        raise InputError(flag("style_blend"), f"{len(settings.style_blend)} weights for "
                         f"{len(style_ims)} style images", "give one weight per style image")
    images.check_size(content_im, settings.size, "content image")
    w, h = images.fit_size(*content_im.size, settings.size)
    for i, style_im in enumerate(style_ims, start=1):
        checked_style_size(style_im.size, (w, h), settings.style_scale, f"style image {i}")
    mask_ims = None
    if masks is not None:
        names = [f"style mask {i + 1}" + (f" {m}" if isinstance(m, str) else "")
                 for i, m in enumerate(masks)]
        mask_ims = tuple(images.to_mask(m) if isinstance(m, Image.Image) else
                         images.load_mask(m, name=name) for m, name in zip(masks, names))
        regions.check_masks(mask_ims, names, len(style_ims))
    init_im = None
    if settings.init == "fast":
        from . import feedforward  # the network's files, checked before any work

        feedforward.check(content_im, style_ims, settings, masks)
    elif settings.init not in ("content", "noise"):
        init_im = images.load_image(settings.init, name=f"{flag('init')} {settings.init}")
    device = resolve_device(settings.device)
    if settings.bf16 and device.type != "cuda":
        # bf16 on a CPU without bf16 units runs about 200 times slower than fp32.
        raise InputError(flag("precision"), f"bf16 runs on CUDA only, not on {device.type}",
                         "use --precision fp32")
    mem = memory_plan((w, h), settings, device, memory.budget_bytes(device, settings.max_memory))
    if not mem.fits:
        fits = memory.largest_size(*content_im.size, device, settings.bf16, tile=settings.tile,
                                   max_memory_gb=settings.max_memory, limit=settings.size)
        how = "even in tiles" if mem.tiled else "untiled"
        has = (f"--max-memory allows {settings.max_memory:g} GB" if settings.max_memory else
               f"{device} has {mem.budget / 0.9 / 2**30:.1f} GB free")
        raise InputError(flag("size"), f"{w}x{h} needs about {mem.need / 2**30:.1f} GB {how} "
                         f"but {has}", f"use --size {fits}" if fits else
                         "free some memory, raise --max-memory or use a smaller size")
    return Inputs(content_im, tuple(style_ims), settings, device, init_im, mask_ims)


def iter_stylize(content: ImageLike, styles: ImageLike | Sequence[ImageLike],
                 settings: Settings | None = None, *, model: Eyes | VGG19Features | None = None,
                 resume: tuple[int, Image.Image] | None = None,
                 tile_progress: bool = False,
                 masks: Sequence[ImageLike] | None = None,
                 continuation: Continuation | None = None,
                 cache: dict | None = None,
                 fast=None) -> Iterator[Step | tiles.Progress]:
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

    With `settings.init == "fast"` the run starts from the feed-forward picture
    (brushwork.feedforward); with `steps == 0` as well (`--preset instant`) it yields one Step,
    step 0 of 0, whose picture is that one. `fast` is that network, loaded once by a caller
    that paints often (`feedforward.load_network()`; else it is loaded for this run).

    `continuation` and `cache` are for brushwork.video: a frame painted from the previous one,
    and a dict in which the paintings' Gram matrices are kept from frame to frame.
    """
    inputs = check_inputs(content, styles, settings, masks=masks)
    settings = inputs.settings
    if model is not None:
        missing = set(settings.layers) - set(model.layers)
        if missing:
            raise ValueError(f"model lacks layers {sorted(missing)}; build it with load_model")
        model = as_eyes(model, settings)
    if resume is not None and not 0 <= resume[0] < settings.steps:
        raise InputError("--resume", f"the saved run is at step {resume[0]} of {settings.steps}",
                         "there is nothing left to do; start a new run")
    return _run(inputs, model, resume, tile_progress, continuation, cache, fast)


def stylize(content: ImageLike, styles: ImageLike | Sequence[ImageLike],
            settings: Settings | None = None, **kwargs) -> Image.Image:
    """Run the whole optimisation and return the final picture."""
    last = None
    for last in iter_stylize(content, styles, settings, **kwargs):
        pass
    assert isinstance(last, Step)  # steps >= 1 is validated
    return last.best_image()


def _run(inputs: Inputs, model: Eyes | None, resume: tuple[int, Image.Image] | None,
         tile_progress: bool, cont: Continuation | None, cache: dict | None,
         fast=None) -> Iterator[Step | tiles.Progress]:
    """The loop, with running out of GPU memory turned into a clear error."""
    s, device = inputs.settings, inputs.device
    if s.init == "fast":
        # The feed-forward picture (brushwork.feedforward) takes the place of an --init file; with
        # 0 steps (--preset instant) it is the result, and VGG-19 is never loaded.
        from . import feedforward

        if s.steps == 0:
            yield from feedforward.steps(inputs.content, inputs.styles, s, inputs.masks, fast)
            return
        start = feedforward.instant(inputs.content, inputs.styles, s, fast)
        inputs = dataclasses.replace(inputs, init=start)
    try:
        yield from _loop(inputs, model or load_model(s, device), resume, tile_progress, cont,
                         cache)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        fits = memory.largest_size(*inputs.content.size, device, s.bf16, tile=s.tile,
                                   max_memory_gb=s.max_memory, limit=s.size - 16)
        raise DeviceError(f"--size {s.size}: {device} ran out of memory; "
                          + (f"use --size {fits}" if fits else "close other GPU programs or "
                             "use a smaller --size")) from None


def _loop(inputs: Inputs, model: Eyes, resume: tuple[int, Image.Image] | None,
          tile_progress: bool, cont: Continuation | None,
          cache: dict | None) -> Iterator[Step | tiles.Progress]:
    """Every scale in turn: prepare it, then step until its steps are spent (or a video frame
    has settled), yielding a Step per evaluation. The best picture of a scale starts the next."""
    s, device = inputs.settings, inputs.device
    plan = plan_scales(*inputs.content.size, s)
    if cont is not None:  # a video frame from the previous one: only the full size is left to do
        plan = with_eyes([Scale(tuple(cont.previous.shape[-1:-3:-1]), cont.steps)], s)
    total = sum(sc.steps for sc in plan)
    gen = torch.Generator().manual_seed(s.seed)
    step_no = 0
    x: torch.Tensor | None = None
    budget = memory.budget_bytes(device, s.max_memory)
    # L-BFGS's inverse-Hessian scale at the end of the scale before (Settings.curvature).
    learnt: float | None = None
    learnt_at = (0, 0)
    for scale_no, sc in enumerate(plan, start=1):
        steps_here = sc.steps
        resumed = None
        if resume is not None:
            done = resume[0]
            if step_no + sc.steps <= done:  # this whole scale was done before the interruption
                step_no += sc.steps
                continue
            steps_here = step_no + sc.steps - done
            step_no = done
            resumed, resume = resume[1], None
        eye = model[sc.eye]  # this scale's network: its targets, its objective
        p = prepare(eye, inputs, sc.size, previous=x, resumed=resumed, generator=gen,
                    cont=cont, cache=None if cache is None else cache.setdefault(sc.eye, {}),
                    budget=budget)
        x, opt, mem = p.x, p.optimiser, p.mem
        if learnt is not None and isinstance(opt, optim.LBFGS):
            opt.warm_start(carried_curvature(learnt, learnt_at, sc.size))
        best_x, best_loss, best_step = p.picture(), math.inf, step_no
        bests: list[float] = []  # the best loss after each step, for a frame's stopping test
        for _ in range(steps_here):
            evaluated = p.picture()  # the picture this step's loss is measured on
            terms = yield from _evaluate(eye, p, device, tile_progress)
            step_no += 1
            loss = float(terms["total"])
            if loss < best_loss:  # False for NaN
                best_x, best_loss, best_step = evaluated, loss, step_no
            # L-BFGS rejects and retries a step that explodes (optim.LBFGS); give up only when
            # even a step a million times shorter does not help. Adam cannot retry: a NaN
            # gradient would poison its moments.
            if (opt.rejections >= MAX_REJECTIONS if isinstance(opt, optim.LBFGS)
                    else not math.isfinite(loss)):
                raise DivergenceError(best_step, p.render(best_x), step_no,
                                      "try a smaller --lr, --style-weight or --content-weight")
            if s.optimizer == "adam" and s.parameterization == "pixels":
                # Adam's steps may leave [0, 1] and nothing pulls them back; L-BFGS is left
                # unclamped, as in the paper (clamping would break its curvature pairs).
                with torch.no_grad():
                    x.clamp_(0, 1)
            if getattr(opt, "mean", None) is not None:
                # Adam with iterate averaging (crowsonkb/style-transfer-pytorch): the picture
                # handed on and written is the average of the pictures so far, not the lowest
                # loss one (each of Adam's pictures carries its own step's noise).
                best_x, best_step = p.param.picture_of(opt.mean).detach().clone(), step_no
            yield Step(step_no, total, scale_no, len(plan), sc.size, best_step, dict(terms),
                       partial(p.render, evaluated), partial(p.render, best_x), mem.tiles)
            bests.append(best_loss)
            if cont is not None and len(bests) > STALL_WINDOW and (
                    bests[-1 - STALL_WINDOW] - bests[-1]) < (
                    cont.tolerance * STALL_WINDOW * abs(bests[-1])):
                break  # the frame has settled: more steps would change it by too little to see
        x = best_x  # the next scale starts from this scale's best picture
        learnt, learnt_at = None, sc.size
        if (s.curvature == "carried" and isinstance(opt, optim.LBFGS)
                and p.param.kind == "pixels"):
            learnt = opt.curvature
        del opt, p


def carried_curvature(learnt: float, before: tuple[int, int], now: tuple[int, int]) -> float:
    """The inverse-Hessian scale a new scale's L-BFGS starts with: the one learnt at the scale
    `before`, grown with the square root of the pixel count. The loss is a mean over positions,
    so a pixel's gradient shrinks as the picture grows and the scale L-BFGS learns grows with
    it: measured 1.26 / 4.40 / 12.7 at 128 / 256 / 512 px (3.5 and 2.9 times per doubling). The
    first step takes the cautious end of that (2 times); one too long is rejected and shortened
    by the optimiser's safeguard."""
    return learnt * math.sqrt((now[0] * now[1]) / max(1, before[0] * before[1]))


def _evaluate(model: VGG19Features, p, device: torch.device, tile_progress: bool):
    """One step: the loss and gradient (whole or tile by tile, yielding each tile's progress
    when asked), then the optimiser's move. Returns the loss terms."""
    # cuDNN picks the fastest convolution for the fixed size of this scale. The flags are set
    # around the evaluation and restored after it; a tile's progress is yielded while they are
    # set, so a consumer that runs CUDA work between tiles sees them too.
    with torch.backends.cudnn.flags(enabled=True, benchmark=device.type == "cuda"):
        # The evaluator leaves the gradient in the picture's .grad: for the pixels that is the
        # optimiser's tensor, otherwise the parameters' gradient is pulled back from it.
        x = p.x if p.param.kind == "pixels" else p.picture().requires_grad_(True)
        evaluation = tiles.evaluate(model, p.objective, x, p.mem.cut)
        while True:  # the tiles' progress, then the terms
            try:
                progress = next(evaluation)
            except StopIteration as done:
                terms = done.value
                break
            if tile_progress:
                yield progress
        p.param.pull(x.grad)
        # Both optimisers evaluate once, first: the gradient is already in their tensor's .grad.
        p.optimiser.step(lambda: terms["total"])
    return terms
