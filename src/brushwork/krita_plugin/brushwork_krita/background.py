"""Work off Krita's main thread, answered on it: a function run in Qt's thread pool whose result
(or one-line error) comes back by a signal, so the docker's slots run on the main thread and
Krita never waits on the network."""

from __future__ import annotations

from typing import Any, Callable

from PyQt5.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from .client import ServerError

_running: set = set()  # the calls in flight (Qt would drop their signals' owner otherwise)


class _Answer(QObject):
    done = pyqtSignal(object)
    failed = pyqtSignal(str)


class _Call(QRunnable):
    def __init__(self, fn: Callable[[], Any], answer: _Answer) -> None:
        super().__init__()
        self.fn, self.answer = fn, answer
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except ServerError as e:
            self.answer.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001  one line in the docker, never a traceback
            self.answer.failed.emit(f"brushwork: {type(e).__name__}: {e}"[:300])
        else:
            self.answer.done.emit(result)


def call(fn: Callable[[], Any], done: Callable[[Any], None],
         failed: Callable[[str], None] | None = None) -> None:
    """Run `fn()` in a worker thread; `done(result)` or `failed(message)` on the main thread."""
    answer = _Answer()  # made here, on the main thread: its signals are delivered here
    _running.add(answer)

    def finish(slot, value) -> None:
        _running.discard(answer)
        if slot is not None:
            slot(value)

    answer.done.connect(lambda value: finish(done, value))
    answer.failed.connect(lambda message: finish(failed, message))
    QThreadPool.globalInstance().start(_Call(fn, answer))
