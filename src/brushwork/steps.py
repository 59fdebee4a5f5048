"""The records the loop takes and yields: its checked `Inputs`, a `Step` per loss evaluation, and
a `Continuation` for a video frame painted from the previous one: small and frozen, read by every consumer
(progress bars, intermediate saves, the app's preview, the video and batch drivers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from PIL import Image

if TYPE_CHECKING:  # annotations only: the instant path's Step needs no torch
    import torch

    from .settings import Settings


@dataclass(frozen=True)
class Step:
    """One evaluation of the loss.

    `losses` and `image()` describe the same picture: the one this step evaluated. `best_image()`
    is the lowest-loss picture of this scale so far, which is what a run hands on to the next
    scale and writes at the end (a step of L-BFGS can go uphill; the best picture is kept).
    """

    step: int  # 1 .. total, over all scales (0 of 0: the instant picture, no optimisation)
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
class Inputs:
    """What `transfer.check_inputs` hands the loop: every input read and checked, and the
    device resolved. Pictures are RGB PIL images; masks greyscale."""

    content: Image.Image
    styles: tuple[Image.Image, ...]
    settings: "Settings"
    device: torch.device
    init: Image.Image | None = None  # the --init picture, when it is a file
    masks: tuple[Image.Image, ...] | None = None
