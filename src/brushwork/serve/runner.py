"""The service's queue: jobs wait in the store, first come first served, and run one per worker
slot (this process, or a Ray worker each). Every change bumps a version under one condition, so
the API's JSON resource and its server-sent events read one state.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
import uuid
from typing import IO, Any, Callable, Iterator

from .. import images
from .store import ENDED, JobRow, Store

# Seconds per output pixel per step before any job has been timed here: 2.6 s per step at
# 512x384 on a 2-core laptop CPU (docs/performance.md); replaced by what this server measures.
DEFAULT_SECONDS_PER_PIXEL_STEP = 2.6 / (512 * 384)
# A running job's step is written to the store, and told to listeners, at most this often
# (it is in memory meanwhile).
STORE_EVERY = 0.5
# A job whose worker died this many times fails, with the reason (it may be what kills it).
ATTEMPTS = 2


class LocalBackend:
    """Jobs painted in this process, one at a time, with the model loaded once."""

    slots = 1

    def __init__(self, threads: int | None = None) -> None:
        from ..painter import Painter

        self.painter = Painter(threads)

    def run(self, slot: int, job_id: str, spec: dict, data: dict,
            cancelled: Callable[[], bool]) -> Iterator[dict]:
        return self.painter.paint_steps(job_id, spec, data, cancelled=cancelled)

    def cancel(self, slot: int, job_id: str) -> None:
        pass  # `cancelled` is read at every step

    def close(self) -> None:
        pass


class Runner:
    """Takes queued jobs from `store` to `backend`'s slots, and tells who asks how they go."""

    def __init__(self, store: Store, backend, *, expire_seconds: float) -> None:
        self.store, self.backend, self.expire_seconds = store, backend, expire_seconds
        self._cond = threading.Condition()
        self.version = 0
        self._live: dict[str, dict[str, Any]] = {}  # running jobs: step, losses, slot
        self._cancel: set[str] = set()
        self._free = list(range(backend.slots))
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._rate = DEFAULT_SECONDS_PER_PIXEL_STEP
        self._attempts: dict[str, int] = {}
        self._waiters: set = set()  # (event loop, asyncio.Event) of each waiting stream
        # Jobs that ended while the store could not record it (a full disk, a broken
        # database): their ending, shown as if stored and written when the store takes it.
        self._unrecorded: dict[str, dict[str, Any]] = {}

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.store.requeue_running()  # a restart: what was running runs again
        t = threading.Thread(target=self._dispatch, name="brushwork-dispatch", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        """Stop taking jobs; running ones stop at their next step and go back in line."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for job_id, live in list(self._live.items()):
            self.backend.cancel(live["slot"], job_id)
        for t in self._threads:
            t.join(timeout=60)
        self.backend.close()

    # ---- what the API calls --------------------------------------------------------------
    def changed(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()
            for loop, event in list(self._waiters):
                loop.call_soon_threadsafe(event.set)

    def wait(self, version: int, timeout: float) -> int:
        """Block until the state changes after `version` (or `timeout` passes)."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version or self._stopping, timeout)
            return self.version

    async def changes(self, version: int, timeout: float) -> int:
        """`wait` for the event loop: parks no thread (a thread per open stream starved the
        server's other requests), woken by `changed` from the job threads."""
        import asyncio

        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._cond:
            if self.version != version or self._stopping:
                return self.version
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._cond:
                self._waiters.discard(waiter)
        return self.version

    def get(self, job_id: str) -> JobRow | None:
        """The job as stored, with an ending the store could not record yet shown."""
        row = self.store.get(job_id)
        ending = self._unrecorded.get(job_id)
        return row if row is None or ending is None else dataclasses.replace(row, **ending)

    def count(self, states: tuple[str, ...], client: str | None = None) -> int:
        """Jobs in `states` (of `client`), counting an unrecorded ending as the job's state."""
        stuck = sum(1 for row in map(self.store.get, list(self._unrecorded))
                    if row is not None and row.state in states
                    and (client is None or row.client == client))
        return self.store.count(states, client) - stuck

    def submit(self, client: str, settings, names: dict[str, Any],
               files: dict[str, bytes | IO[bytes]], pixels: int) -> str:
        """Queue a checked job (its inputs' names and bytes or files, its output's pixels);
        its id."""
        job_id = uuid.uuid4().hex
        self.store.add(JobRow(job_id, client, "queued", time.time(), None, None,
                              settings.to_dict(), names, 0, settings.steps, None, pixels), files)
        self.changed()
        return job_id

    def cancel(self, job_id: str) -> None:
        row = self.store.get(job_id)
        if row is None or row.state in ENDED:
            return
        if row.state != "queued" or not self.store.cancel_queued(job_id):
            # Running, or taken by the dispatcher since it was read: it stops at its next
            # step and keeps its best picture (`_paint` reads `_cancel` from its first step).
            self._cancel.add(job_id)
            live = self._live.get(job_id)
            if live is not None:
                self.backend.cancel(live["slot"], job_id)
        self.changed()

    def status(self, row: JobRow) -> dict[str, Any]:
        """The job's state as the API shows it."""
        out: dict[str, Any] = {"id": row.id, "state": row.state, "step": row.step,
                               "total": row.total, "created": row.created}
        now = time.time()
        if row.state == "queued":
            queued = self.store.queued()
            ahead = [q for q in queued if (q.created, q.id) < (row.created, row.id)]
            wait = (sum(self._left(r) for r in self.store.running())
                    + sum(self._cost(q) for q in ahead)) / self.backend.slots
            out.update(position=len(ahead) + 1, estimated_start=now + wait,
                       estimated_end=now + wait + self._cost(row))
        elif row.state == "running":
            live = self._live.get(row.id, {})
            out.update(step=live.get("step", row.step), losses=live.get("losses", {}),
                       started=row.started, estimated_end=now + self._left(row))
        else:
            out.update(started=row.started, finished=row.finished)
            if row.error:
                out["error"] = row.error
        out["preview"] = self.store.path(row.id, "preview.png").exists()
        out["result"] = self.store.path(row.id, "result.png").exists()
        return out

    # ---- estimates -------------------------------------------------------------------------
    def _cost(self, row: JobRow) -> float:
        return self._rate * row.pixels * row.total

    def _left(self, row: JobRow) -> float:
        live = self._live.get(row.id)
        if not live or not live.get("step"):
            return self._cost(row)
        spent = time.time() - (row.started or time.time())
        return spent / live["step"] * max(0, row.total - live["step"])

    # ---- the work ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        expired_at = 0.0
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                self._record_unrecorded()
                if time.monotonic() - expired_at > 60:
                    expired_at = time.monotonic()
                    if self.store.expire(time.time() - self.expire_seconds):
                        self.changed()
            except Exception:  # noqa: BLE001  a full disk: the dispatcher goes on regardless
                pass
            started = False
            while self._free:
                try:
                    nxt = next((r for r in self.store.queued() if self.store.take(r.id)), None)
                except Exception:  # noqa: BLE001  the store cannot be written: next round
                    nxt = None
                if nxt is None:
                    break
                slot = self._free.pop(0)
                self._live[nxt.id] = {"slot": slot, "step": 0, "losses": {},
                                      "started": time.time()}
                t = threading.Thread(target=self._paint, args=(slot, nxt), daemon=True,
                                     name=f"brushwork-job-{nxt.id[:8]}")
                t.start()
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
                started = True
            if started:
                self.changed()
            with self._cond:
                self._cond.wait(timeout=0.5)

    def _paint(self, slot: int, row: JobRow) -> None:
        job_id = row.id
        spec = {"settings": row.settings, "names": row.names}
        data = {"content": self.store.read(job_id, "content"),
                "styles": [self.store.read(job_id, f"style-{i}") for i in range(len(row.names["styles"]))],
                "masks": None if row.names.get("masks") is None else [
                    self.store.read(job_id, f"mask-{i}") for i in range(len(row.names["masks"]))]}
        stored = 0.0
        try:
            events = self.backend.run(slot, job_id, spec, data,
                                      lambda: job_id in self._cancel or self._stopping)
            for ev in events:
                kind = ev["kind"]
                if kind == "step":
                    self._live[job_id].update(step=ev["step"], losses=ev["losses"])
                    if time.monotonic() - stored < STORE_EVERY:
                        # Told (and stored) at most every STORE_EVERY: every listener wakes
                        # on a change, and small steps come dozens a second.
                        continue
                    stored = time.monotonic()
                    self.store.update(job_id, step=ev["step"])
                elif kind == "preview":
                    images.write_atomic(self.store.path(job_id, "preview.png"), ev["png"])
                else:
                    self._end(row, ev)
                    return
                self.changed()
            raise RuntimeError("the worker ended without a result")
        except Exception as e:  # noqa: BLE001  a worker lost mid-job (Ray), or a bug: said
            self._failed(job_id, e)
        finally:
            self._live.pop(job_id, None)
            self._cancel.discard(job_id)
            with self._cond:
                self._free.append(slot)
            self.changed()

    def _failed(self, job_id: str, e: Exception) -> None:
        """A job whose worker raised: in line once more, then failed with the reason. This
        handler cannot raise: if the store cannot take the change (the disk is full), the job
        is shown failed from memory, with "disk full" in its error, and recorded when the
        store takes it again (`_record_unrecorded`)."""
        attempts = self._attempts[job_id] = self._attempts.get(job_id, 0) + 1
        full = _disk_full(e)
        try:
            if attempts < ATTEMPTS and not self._stopping and not full:
                self.store.update(job_id, state="queued", step=0, started=None)
                return
            self._attempts.pop(job_id, None)
            self._fail(job_id, _reason(e))
        except Exception as again:  # noqa: BLE001  the store itself failed
            self._attempts.pop(job_id, None)
            self._unrecorded[job_id] = {"state": "failed", "finished": time.time(),
                                        "error": _reason(again if _disk_full(again) else e)}

    def _fail(self, job_id: str, error: str) -> None:
        self.store.update(job_id, state="failed", finished=time.time(), error=error)

    def _record_unrecorded(self) -> None:
        """Write the endings the store could not take, now that it may."""
        for job_id, ending in list(self._unrecorded.items()):
            try:
                self.store.update(job_id, **ending)
            except Exception:  # noqa: BLE001  still full: try again at the next round
                return
            self._unrecorded.pop(job_id, None)

    def _end(self, row: JobRow, ev: dict) -> None:
        job_id, kind = row.id, ev["kind"]
        if self._stopping and job_id not in self._cancel:
            # Stopped by the server, not by its owner: in line again for the next start.
            self.store.update(job_id, state="queued", step=0, started=None)
            return
        self._attempts.pop(job_id, None)  # ended: its count of lost workers is done with
        if kind == "failed":
            self.store.update(job_id, state="failed", finished=time.time(), error=ev["error"])
            return
        images.write_atomic(self.store.path(job_id, "result.png"), ev["png"])
        now = time.time()
        began = self._live.get(job_id, {}).get("started")
        if kind == "done" and began:  # what this server paints per pixel and step
            spent = now - began
            self._rate = 0.5 * self._rate + 0.5 * spent / max(1, row.pixels * row.total)
        self.store.update(job_id, state=kind, step=ev["step"], finished=now)


def _disk_full(e: BaseException) -> bool:
    import errno

    return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or (
        isinstance(e, sqlite3.OperationalError) and "full" in str(e))


def _reason(e: BaseException) -> str:
    if _disk_full(e):
        return "the server's disk is full (it could not write the job's pictures or state)"
    return f"its worker failed ({type(e).__name__}: {e}"[:300] + ")"
