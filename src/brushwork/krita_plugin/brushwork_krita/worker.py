"""A job's server side in its own thread, and a picture of the history."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PyQt5.QtCore import QThread, pyqtSignal
from PyQt5.QtGui import QImage

from . import background, paint
from .client import Client, ServerError

_alive: set = set()  # workers whose thread has not ended yet


class JobWorker(QThread):
    """A job's server side (encode, submit, follow, fetch, and the previews) off Krita's main
    thread. `cancel()` reaches the server at once, queued or running, from its own thread."""

    progress = pyqtSignal(dict)
    preview = pyqtSignal(bytes)
    finished_job = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, client: Client, job: paint.Job) -> None:
        super().__init__()
        self.client, self.job, self.cancel_asked = client, job, False

    def start(self) -> None:
        """Start, and stay referenced until the thread has ended: the docker lets go of a
        worker in the slot its last signal reaches, which can run before the thread returns,
        and Qt aborts the process when a running QThread is destroyed."""
        _alive.add(self)
        self.finished.connect(lambda: _alive.discard(self))
        super().start()

    def run(self) -> None:
        try:
            paint.run(self.client, self.job, self.progress.emit, lambda: self.cancel_asked,
                      self.preview.emit)
            self.finished_job.emit(self.job)
        except ServerError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001  one line in the docker, never a traceback
            self.failed.emit(f"brushwork: {type(e).__name__}: {e}"[:300])

    def cancel(self) -> None:
        self.cancel_asked = True
        job = self.job
        if job.id is not None and job.cancel_sent is None:
            job.cancel_sent = time.monotonic()
            background.call(lambda: self.client.cancel(job.id), lambda _: None, lambda _: None)


@dataclass
class Result:
    """One picture of the history: its job (the canvas part, its settings) and its layer."""

    job: paint.Job
    thumb: QImage
    layer: Any = None
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)
