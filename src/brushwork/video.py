"""Style transfer for video without flicker: Ruder, Dosovitskiy and Brox, "Artistic style transfer
for videos" (GCPR 2016).

Painted frame by frame, each frame lands in its own local optimum and the video flickers. So:
the first frame is a still run; every later frame starts from the previous picture warped by the
optical flow of the input frames (brushwork.flow) and adds a temporal term to the still's
objective, weight * mean(c * (x - warped previous)^2), with Ruder's consistency weights c (0
where the flow cannot be trusted). It is the same loop (brushwork.transfer), one scale at the
full size, stopped once the loss stops falling. A scene cut (most of c is 0) starts afresh.

`iter_stylize_video` yields one `Frame` record per finished frame; the CLI writes them as they
come, the web app shows them, the batch driver farms runs of them out.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator, Sequence, Union

import numpy as np
import torch
from PIL import Image

from . import flow, images, videoio
from .errors import InputError
from .settings import Settings, VideoSettings
from .steps import Continuation, Step
from .transfer import ImageLike, check_inputs, iter_stylize, style_images
from .vgg import load_model
from .vgg import VGG19Features

VideoSource = Union[str, os.PathLike, videoio.VideoInfo, Iterable[Image.Image]]

# Fewer consistent pixels than this (a share of the frame) is a scene cut, not motion: the new
# shot is painted as a first frame instead of from a warped picture of another place.
SCENE_CUT = 0.4


@dataclass(frozen=True)
class Frame:
    """One finished frame of a video run."""

    index: int  # the input frame's index (0 = the video's first frame)
    number: int  # 1 .. frames painted in this run
    total: int | None  # frames this run paints, when known
    step: Step  # the frame's last step: its losses, its step count
    fresh: bool  # painted as a first frame: the run's first, or after a scene cut
    consistent: float  # mean of the consistency weights c (1 for a fresh frame)
    seconds: float  # wall time of the frame, flow included
    flow_seconds: float  # of which the optical flow
    _picture: Image.Image

    def image(self) -> Image.Image:
        """The painted frame."""
        return self._picture


def frame_size(size: tuple[int, int], settings: Settings) -> tuple[int, int]:
    """The painted frames' size: the input's aspect at `settings.size`, each side even."""
    return videoio.even_size(*size, settings.size)


def iter_stylize_video(video: VideoSource, styles: ImageLike | Sequence[ImageLike],
                       settings: Settings | None = None,
                       video_settings: VideoSettings | None = None, *,
                       start: int = 0, end: int | None = None,
                       previous: Image.Image | None = None,
                       model: VGG19Features | None = None) -> Iterator[Frame]:
    """Paint frames `start` <= index < `end` of `video` and yield a `Frame` as each finishes.

    `video` is a path (a video file or a folder of numbered images), a `videoio.VideoInfo`, or
    any iterable of PIL images. `previous`, the painted frame
    `start - 1` of an earlier run, continues that run: frame `start` is painted from it rather
    than afresh (resuming, or a run of frames farmed out after warm-up frames).
    Inputs are checked before the first frame; InputError names the one that is unusable."""
    settings = settings or Settings()
    video_settings = video_settings or VideoSettings()
    if settings.steps == 0:  # a frame is painted from the previous one's optimised picture
        raise InputError("--preset instant", "paints stills only; a video's frames need the "
                         "optimisation", "drop --preset instant, or give --steps 1 or more")
    if start < 0 or (end is not None and end <= start):
        raise InputError("--frames", f"{start}:{'' if end is None else end} selects no frames",
                         "give START:END with 0 <= START < END")
    total = None
    first = max(0, start - 1) if previous is not None else start
    if isinstance(video, (str, os.PathLike, videoio.VideoInfo)):
        info = video if isinstance(video, videoio.VideoInfo) else videoio.probe(video)
        if info.frames is not None and start >= info.frames:
            raise InputError("--frames", f"starts at frame {start} but {info.name} has "
                             f"{info.frames} frames", f"start below {info.frames}")
        frames: Iterable[tuple[int, Image.Image]] = videoio.read_frames(info, first, end)
        if info.frames is not None:
            total = min(info.frames, end or info.frames) - start
        size = frame_size(info.size, settings)
    else:
        if isinstance(video, Sequence):
            total = len(video[start:end])
        frames = ((i, images.to_rgb(im)) for i, im in
                  itertools.islice(enumerate(video), first, end))
        size = None
    # The paintings are read once; they and the settings are checked up front, on a stand-in
    # frame of the painted size (the frames themselves are read as the run goes).
    style_ims = style_images(styles)
    stand_in = Image.new("RGB", size or (settings.size, settings.size))
    check_inputs(stand_in, style_ims, settings.replace(size=max(stand_in.size)))
    return _frames(frames, style_ims, settings, video_settings, start, total, previous, model)


def _frames(frames: Iterable[tuple[int, Image.Image]], styles, s: Settings, v: VideoSettings,
            start: int, total: int | None, previous: Image.Image | None,
            model: VGG19Features | None) -> Iterator[Frame]:
    from .device import resolve_device

    device = resolve_device(s.device)
    if model is None:
        model = load_model(s, device)
    cache: dict = {}  # the paintings' Gram matrices, the same for every frame
    before: np.ndarray | None = None  # the previous input frame, grey, at the painted size
    painted: torch.Tensor | None = None  # the previous painted frame
    number = 0
    for index, im in frames:
        began = time.perf_counter()
        size = frame_size(im.size, s)
        im = images.resize(im, size)
        now = flow.grey(np.asarray(im))
        frame_settings = s.replace(size=max(size))
        if index < start:  # the frame before a continued run: only its flow is needed
            before = now
            painted = images.to_tensor(images.resize(previous, size), device)
            continue
        cont, consistent, flow_time = None, 1.0, 0.0
        if before is not None and painted is not None and v.temporal_weight > 0 and (
                painted.shape[-2:] == (size[1], size[0])):
            t0 = time.perf_counter()
            back = flow.dis_flow(now, before)  # this frame -> the previous one
            ahead = flow.dis_flow(before, now)
            c = flow.consistency(back, ahead)
            flow_time = time.perf_counter() - t0
            consistent = float(c.mean())
            if consistent >= SCENE_CUT:
                c_t = torch.from_numpy(c)[None, None].to(device)
                warped = flow.warp(painted, back).clamp(0, 1)
                cont = Continuation(warped, c_t, v.temporal_weight, v.frame_steps,
                                    v.frame_tolerance)
            else:
                consistent = 0.0
        last = None
        for last in iter_stylize(im, styles, frame_settings, model=model, continuation=cont,
                                 cache=cache):
            pass
        assert isinstance(last, Step)
        picture = last.best_image()
        painted = images.to_tensor(picture, device)
        before = now
        number += 1
        yield Frame(index, number, total, last, cont is None, consistent,
                    time.perf_counter() - began, flow_time, picture)


def frame_rate(text: str) -> Fraction:
    """A frame rate from the command line: 25, 29.97 or 30000/1001."""
    try:
        rate = Fraction(text).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise InputError("--fps", f"invalid frame rate {text!r}", "give e.g. 25, 29.97 or 30000/1001")
    if not 0 < rate <= 1000:
        raise InputError("--fps", f"must be above 0 and at most 1000, got {text}",
                         "give e.g. 25, 29.97 or 30000/1001")
    return rate
