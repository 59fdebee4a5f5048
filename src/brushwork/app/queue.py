"""One run at a time per server, first come, first served, and the skeleton every run of the
app shares (ticket, wait, model, give the server back)."""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator


class RunQueue:
    """One optimisation at a time per server, first come, first served.

    Each run takes a ticket and waits until its ticket is first in line and nobody is painting.
    `leave` is safe to call at any point (in line, painting, or already gone), so a `finally`
    around the whole wait-and-run releases the server whatever a Stop or rerun interrupts.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[object] = []
        self._painting: object | None = None
        # Called (once each) the next time nobody paints or waits: the previews that wait.
        self._when_free: dict[object, Callable[[], None]] = {}
        self._owners: dict[object, object] = {}  # the page of each ticket that has one

    def join(self, owner: object | None = None) -> object:
        """A ticket at the end of the line, for `owner` (the page asking, see this_page)."""
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            if owner is not None:
                self._owners[ticket] = owner
        return ticket

    def take(self, ticket: object, timeout: float = 0.0) -> bool:
        """Start painting if it is `ticket`'s turn, waiting up to `timeout` seconds for it."""
        with self._cond:
            turn = lambda: self._painting is None and self._line[:1] == [ticket]  # noqa: E731
            if self._cond.wait_for(turn, timeout):
                self._line.pop(0)
                self._painting = ticket
                return True
            return False

    def try_take(self, when_free: tuple[object, Callable[[], None]] | None = None,
                 own_wait: float = 5.0) -> object | None:
        """A ticket that is painting now if nobody paints or waits, else None at once: for work
        that must never delay a picture (the preview), so it yields to anyone in line. When
        it gives None, `when_free` (its owner, a page, and a callback; a later one of the same
        owner replaces it) is called once the next time nobody paints or waits, in the thread
        that left. The owner's own earlier preview (a page rerun while its preview painted:
        Streamlit starts the new run beside the old one) or its own stopped picture is waited
        for, up to `own_wait` seconds, rather than counted as another's picture."""
        owner = when_free[0] if when_free is not None else None
        with self._cond:
            def own() -> bool:  # the queue is held only by this page's earlier runs
                held = [t for t in (self._painting, *self._line) if t is not None]
                return owner is not None and bool(held) and all(
                    self._owners.get(t) == owner for t in held)

            if own():
                self._cond.wait_for(lambda: not own(), own_wait)
            if self._painting is not None or self._line:
                if when_free is not None:
                    self._when_free[owner] = when_free[1]
                return None
            self._painting = ticket = object()
            if owner is not None:
                self._owners[ticket] = owner
            return ticket

    def position(self, ticket: object) -> int:
        """1 when next in line, 2 behind one other, ...; 0 once painting or gone."""
        with self._cond:
            return self._line.index(ticket) + 1 if ticket in self._line else 0

    def leave(self, ticket: object) -> None:
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
            if self._painting is ticket:
                self._painting = None
            self._owners.pop(ticket, None)
            self._cond.notify_all()
            waiting: dict[object, Callable[[], None]] = {}
            if self._painting is None and not self._line:  # free: each waiting page, once
                waiting, self._when_free = self._when_free, {}
        for callback in waiting.values():  # outside the lock: a callback may take a turn
            callback()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._painting is not None or bool(self._line)


def wait_turn(st, queue: RunQueue, ticket: object) -> None:
    """Wait for `ticket`'s turn, telling the user their place in line meanwhile."""
    status = st.empty()
    while not queue.take(ticket, timeout=0.5):
        n = queue.position(ticket)
        status.warning("Busy: another picture is being painted. " + (
            "You are next in line" if n == 1 else f"You are number {n} in line") +
            "; your run starts by itself.")
    status.empty()


@contextlib.contextmanager
def turn(st, queue: RunQueue, model_for, settings, device) -> Iterator:
    """The skeleton of every run of the app: a ticket, the wait in line (told to the user),
    the model, then the run inside; the server is given back whatever interrupts it (a Stop
    or a rerun lands at any Streamlit call). Yields the loaded network."""
    ticket = queue.join(owner=this_page())
    try:
        wait_turn(st, queue, ticket)
        yield model_for(settings.model_key, str(device))
    finally:
        queue.leave(ticket)


def this_page() -> object | None:
    """The browser session this script run draws (its Streamlit session id), or None outside
    a Streamlit server."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None
