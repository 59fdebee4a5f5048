"""What a worker does: one job in, an encoded picture (or a one-line reason) out. The local
backend, every Ray worker and the web app's cluster backend each hold one `Painter`, which loads
each network once and paints job after job with it.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

from . import images
from .errors import BrushworkError, InputError
from .jobs import FrameRun, Job
from .settings import Settings

# A served job shows its best picture at most this often (encoding a PNG costs time too).
PREVIEW_SECONDS = 1.0


class Painter:
    """Paints jobs in one process, loading each model once."""

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._models: dict = {}
        self._cancelled: set[str] = set()
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

    def paint_steps(self, job_id: str, spec: dict, data: dict, *,
                    cancelled: Callable[[], bool] | None = None,
                    preview_seconds: float = PREVIEW_SECONDS) -> Iterator[dict]:
        """A served job, as it goes (brushwork.serve): {"kind": "step", step, total, scale,
        scales, losses} for every step; {"kind": "preview", step, png} of the best picture so
        far at most every `preview_seconds`; last, {"kind": "done" or "cancelled", step, png}
        (the best picture with its record) or {"kind": "failed", error}.

        `spec` is {"settings": Settings' fields, "names": {"content", "styles", "masks"}};
        `data` the inputs' bytes, named alike. The job stops at the next step once `cancelled()`
        is true or `cancel(job_id)` was called (a Ray actor takes that call on a second
        thread), keeping its best picture."""
        from .records import file_record, run_record
        from .transfer import iter_stylize

        cancelled = cancelled or (lambda: job_id in self._cancelled)
        names = spec["names"]
        last = None
        try:
            settings = Settings.from_dict(spec["settings"])
            content = images.load_image(data["content"], name=names["content"])
            styles = [images.load_image(d, name=n) for n, d in zip(names["styles"], data["styles"])]
            masks = (None if data.get("masks") is None else
                     [images.load_mask(d, name=n) for n, d in zip(names["masks"], data["masks"])])
            record = run_record(settings, file_record(names["content"], data["content"]),
                                [file_record(n, d) for n, d in zip(names["styles"], data["styles"])],
                                masks=None if masks is None else [
                                    file_record(n, d) for n, d in zip(names["masks"], data["masks"])])
            shown = 0.0
            for last in iter_stylize(content, styles, settings, model=self._model(settings),
                                     masks=masks):
                yield {"kind": "step", "step": last.step, "total": last.total,
                       "scale": last.scale, "scales": last.scales, "losses": last.losses}
                if cancelled():
                    break
                if time.monotonic() - shown >= preview_seconds and last.step < last.total:
                    shown = time.monotonic()
                    yield {"kind": "preview", "step": last.step,
                           "png": images.encode_image(last.best_image(), "PNG")}
            assert last is not None
            png = images.encode_image(last.best_image(), "PNG", {**record, "steps_done": last.step})
            kind = "cancelled" if last.step < last.total else "done"
            yield {"kind": kind, "step": last.step, "png": png}
        except BrushworkError as e:
            yield {"kind": "failed", "error": str(e)}
        finally:
            self._cancelled.discard(job_id)

    def cancel(self, job_id: str) -> None:
        """Stop `job_id` at its next step (it keeps its best picture)."""
        self._cancelled.add(job_id)

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
