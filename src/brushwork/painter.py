"""What a worker does: one job in, an encoded picture (or a one-line reason) out. The local
backend, every Ray worker and the web app's cluster backend each hold one `Painter`, which loads
each network once and paints job after job with it.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from . import images
from .errors import BrushworkError, InputError
from .jobs import FrameRun, Job
from .settings import Settings


class Painter:
    """Paints jobs in one process, loading each model once."""

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._models: dict = {}
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def ready(self) -> str:
        return self.worker

    def paint(self, job: Job, base: Settings, data: tuple[bytes, list[bytes]]) -> dict:
        """One job, from its inputs' bytes (read by the driver: workers on other machines need
        no shared files)."""
        from .transfer import stylize

        began = time.perf_counter()
        try:
            settings = job.settings(base)
            record = job.record(base, data)
            content = images.load_image(data[0], name=f"content image {job.content}")
            styles = [images.load_image(d, name=f"style image {p}")
                      for p, d in zip(job.styles, data[1])]
            picture = stylize(content, styles, settings, model=self._model(settings))
            fmt = images.OUTPUT_FORMATS[Path(job.output).suffix.lower()]
            png = images.encode_image(picture, fmt, {**record, "steps_done": settings.steps})
            return {"png": png, "seconds": time.perf_counter() - began, "worker": self.worker}
        except BrushworkError as e:  # this job's own problem: the next job goes on
            return self._failed(e, began)

    def paint_frames(self, run: FrameRun, styles: list[bytes], base: Settings,
                     video_settings, previous: bytes | None = None) -> dict:
        """Frames run.start .. run.end-1 of a video (warm-up included), as encoded PNGs."""
        from . import video

        began = time.perf_counter()
        try:
            paintings = [images.load_image(d, name=f"style image {i}")
                         for i, d in enumerate(styles, start=1)]
            before = images.load_image(previous) if previous is not None else None
            frames = []
            for f in video.iter_stylize_video(run.video, paintings, base, video_settings,
                                              start=run.start, end=run.end, previous=before,
                                              model=self._model(base)):
                frames.append((f.index, images.encode_image(f.image(), "PNG"), f.fresh,
                               f.step.step, f.seconds))
            return {"frames": frames, "seconds": time.perf_counter() - began,
                    "worker": self.worker}
        except BrushworkError as e:
            return self._failed(e, began)

    def _model(self, settings: Settings):
        """The network for these settings' layers, weights, pooling and device, loaded once."""
        from .device import resolve_device
        from .vgg import load_model

        device = resolve_device(settings.device)
        key = (*settings.model_key, str(device))
        if key not in self._models:
            self._models[key] = load_model(settings, device)
        return self._models[key]

    def _failed(self, e: BrushworkError, began: float) -> dict:
        return {"error": str(e), "seconds": time.perf_counter() - began, "worker": self.worker}


def read_or_failure(job: Job) -> tuple[bytes, list[bytes]] | dict:
    """The job's inputs, or the outcome of a job whose input cannot be read."""
    try:
        return job.read()
    except InputError as e:
        return {"error": str(e), "worker": f"{socket.gethostname()}:{os.getpid()}"}
