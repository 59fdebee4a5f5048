"""Live mode: the instant picture of the watched layer (or the selection) repainted about a
second after the painter stops a stroke, into one layer, "brushwork live", until it is turned
off. The layer is watched by a tiny thumbnail every LIVE_POLL_MS on Krita's main thread (a
copy of 48x48 pixels); the job runs in a worker thread like any other."""

from __future__ import annotations

from PyQt5.QtCore import QObject, QTimer

from . import paint
from .client import ServerError
from .worker import JobWorker

LIVE_QUIET_MS, LIVE_POLL_MS = 1000, 300  # repaint this long after the last change seen
LIVE_NAME = "brushwork live"


class LiveMode(QObject):
    """Live mode for `docker` (its target document, its client, its gather and its words)."""

    def __init__(self, docker) -> None:
        super().__init__(docker)
        self.docker = docker
        self.layer = None
        self.worker: JobWorker | None = None
        self._seen = b""
        self._dirty = False
        self.poll = QTimer(self)
        self.poll.setInterval(LIVE_POLL_MS)
        self.poll.timeout.connect(self._check)
        self.quiet = QTimer(self)
        self.quiet.setSingleShot(True)
        self.quiet.setInterval(LIVE_QUIET_MS)
        self.quiet.timeout.connect(self._paint)

    def set(self, on: bool) -> None:
        if on:
            self._seen = b""
            self.poll.start()
            self.docker.say("Live: paint on the active layer; the live layer follows a second "
                            "later.")
            self._check()
        else:
            self.poll.stop()
            self.quiet.stop()

    def source(self):
        """The layer live mode watches: the active one, or with none active (a script's
        document), the bottom layer that is not the live layer."""
        doc = self.docker.target()
        if doc is None:
            return None, None
        node = doc.activeNode()
        if node is None or node == self.layer:
            node = next((n for n in doc.topLevelNodes() if n != self.layer), None)
        return doc, node

    def _check(self) -> None:
        _, node = self.source()
        if node is None:
            return
        thumb = node.thumbnail(48, 48)
        stamp = bytes(thumb.constBits().asstring(thumb.byteCount()))
        if stamp != self._seen:
            self._seen = stamp
            self.quiet.start()  # restarted by every change: fires once the strokes stop

    def _paint(self) -> None:
        if self.worker is not None:
            self._dirty = True
            return
        _, node = self.source()
        try:
            if node is None:
                raise ServerError("no layer to watch; open an image")
            job = self.docker.gather({"preset": "instant", "seed": self.docker.seed.value()},
                                     source=node)
        except ServerError as e:
            self.docker.say("Live: " + str(e))
            return
        self.worker = worker = JobWorker(self.docker.client(), job)
        worker.finished_job.connect(self._done)
        worker.failed.connect(self._failed)
        worker.start()

    def _done(self, job: paint.Job) -> None:
        self.worker = None
        if self.poll.isActive():
            if self.layer is not None and self.layer.parentNode() is None:
                self.layer = None  # the painter deleted it: a new one
            if self.layer is None:
                job.name = LIVE_NAME
            self.layer = paint.place(job, self.layer)
            self.docker.say("Live: updated.")
        if self._dirty:
            self._dirty = False
            self.quiet.start()

    def _failed(self, message: str) -> None:
        self.worker = None
        self.docker.say("Live: " + message)
