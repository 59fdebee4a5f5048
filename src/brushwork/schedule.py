"""The coarse-to-fine schedule (the sizes of a run and the steps each gets) and the pictures each
scale starts from. Not in the paper, which optimises at one size: `--scales 1` does that.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from PIL import Image

from . import color, images
from .layers import MIN_SIDE
from .settings import Settings

# Coarse-to-fine: each scale doubles the size; the coarsest keeps at least this longer side, where
# VGG-19's deepest style layer (conv5_1, 1/16 of the input) still sees a few positions.
MIN_SCALE_SIDE = 128
# Each finer scale gets `Settings.step_decay` of the previous scale's steps: a full-size step
# costs four times a half-size one, and from an upsampled start the fine scale only has detail
# left to add.
# ... but a coarser scale gets at most this many: by then it has settled the composition (its own
# loss falls by under 1% per step at 128 px), while the full-size loss only falls with full-size
# steps. Without the cap, 480 steps at 512 px gave the full size 88 of them and a worse picture
# than one scale in the same time (docs/performance.md, time to quality).
COARSE_STEPS_MAX = 64

@dataclass(frozen=True)
class Scale:
    """One size of the coarse-to-fine schedule, the steps it gets and the network it looks
    through (brushwork.eyes). The full size may come twice: its cheap steps, then VGG-19's."""

    size: tuple[int, int]  # (width, height)
    steps: int
    eye: str = "vgg19"


def with_eyes(plan: list[Scale], settings: Settings) -> list[Scale]:
    """`plan` with each scale's eye: the cheap eye everywhere but the last `judge_steps` steps
    at the full size, which look through VGG-19 (the judge's network: the picture ends in its
    objective). With `eye` vgg19, VGG-19 throughout, as before 0.8."""
    eye = settings.eye_used
    if eye == "vgg19":
        return [dataclasses.replace(sc, eye="vgg19") for sc in plan]
    *coarse, last = plan
    out = [dataclasses.replace(sc, eye=eye) for sc in coarse]
    judge = min(settings.judge_steps, last.steps)
    if last.steps - judge < judge:
        # Too few cheap steps to pay for a second start of L-BFGS at the full size (a video's
        # later frame, a short run): the full size looks through VGG-19 throughout.
        judge = last.steps
    if last.steps > judge:
        out.append(dataclasses.replace(last, steps=last.steps - judge, eye=eye))
    if judge:
        out.append(dataclasses.replace(last, steps=judge, eye="vgg19"))
    return out


def plan_scales(width: int, height: int, settings: Settings) -> list[Scale]:
    """The coarse-to-fine schedule: sizes doubling up to the output, the coarsest scale with the
    most steps, the full size with at most `fine_steps` of its share, each coarser scale with at
    most COARSE_STEPS_MAX (the rest goes to the full size)."""
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
        if min(w, h) >= MIN_SIDE or i == 0:
            sizes.append((w, h))
    n = len(sizes)
    steps = _split(settings.steps, n, settings.step_decay)
    if steps[0] < 1:  # fewer steps than scales: drop the coarse ones
        return plan_scales(width, height, settings.replace(scales=settings.steps))
    fine = settings.fine_steps
    if fine is not None and n > 1 and steps[-1] > fine:
        # The full size's steps decide its detail and the content's fidelity, the coarse ones
        # the strokes (Wang et al.'s LP rose with steps at 128 px, not at 512: docs/quality.md);
        # a coarse step costs a sixteenth of a full-size one, so what the full size would have
        # had beyond `fine_steps` goes to the coarser scales.
        steps = _split(settings.steps - fine, n - 1, settings.step_decay) + [fine]
    for i in range(n - 1):  # what the coarse scales cannot use goes to the full size
        surplus = max(0, steps[i] - COARSE_STEPS_MAX)
        steps[i] -= surplus
        steps[-1] += surplus
    return with_eyes([Scale(size, k) for size, k in zip(sizes, steps)], settings)


def _split(total: int, n: int, decay: float) -> list[int]:
    """`total` steps over `n` scales, each finer one `decay` of the one before (the coarsest
    gets the most, and what rounding leaves)."""
    shares = [decay**i for i in range(n)]
    steps = [max(1, math.floor(total * s / sum(shares))) for s in shares]
    steps[0] += total - sum(steps)
    return steps


def as_picture(t: torch.Tensor, luminance_only: bool, device: torch.device) -> torch.Tensor:
    """An RGB tensor as the optimised picture's channels (the luminance in luminance mode)."""
    t = t.to(device)
    return (color.luminance(t) if luminance_only else t).contiguous()


def start_from(im: Image.Image, size: tuple[int, int], luminance_only: bool,
                device: torch.device) -> torch.Tensor:
    """A picture to optimise from (an --init file or a resumed intermediate) at `size`."""
    return as_picture(images.to_tensor(images.resize(im, size), device), luminance_only, device)


def initial(prev: torch.Tensor | None, size: tuple[int, int], content: torch.Tensor,
             init_im: Image.Image | None, luminance_only: bool, gen: torch.Generator,
             device: torch.device, init: str) -> torch.Tensor:
    """A scale's start picture: the photo, white noise or an --init picture at the coarsest
    scale; the coarser scale's result, upsampled with the start's lost detail, at the others.
    The feed-forward start (--init fast) gives the coarsest scale its colours and strokes, and
    the photo gives the detail on the way up: the network's own detail is a 384 px picture
    enlarged, and with it the content fidelity fell by 0.03-0.05 (docs/quality.md)."""
    w, h = size
    if init == "noise":  # the paper's white noise; drawn on the CPU so a seed means one image
        start = None if prev is not None else torch.rand(content.shape, generator=gen).to(device)
    elif init_im is not None and (prev is None or init != "fast"):
        start = start_from(init_im, size, luminance_only, device)
    else:
        start = content.clone()
    if prev is None:
        return start
    if tuple(prev.shape[-2:]) == (h, w):  # the same size through another eye: as it is
        return prev.clone().contiguous()
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
