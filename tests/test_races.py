"""`brushwork serve` under parallel use: limits that hold when a client sends many submissions at
once, a cancel that cannot race the dispatcher, stream counts that cannot leak, a full disk made
on demand. Over real HTTP; each test failed before its fix (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx  # noqa: E402

from brushwork import examples  # noqa: E402
from brushwork.client import Client, ServerError  # noqa: E402

from test_serve import LONG, SMALL, _free_port, serving  # noqa: E402

PHOTO, STARRY = examples.CONTENT, examples.STARRY_NIGHT


def files() -> list:
    return [("photo", ("p.jpg", Path(PHOTO).read_bytes())),
            ("paintings", ("s.jpg", Path(STARRY).read_bytes()))]


def test_parallel_submissions_cannot_overrun_the_per_client_limit(tmp_path):
    """Before the fix, 6 to 10 of these twelve were accepted: the room was checked before the
    slow checks of the pictures, and the job counted only once queued after them."""
    import json

    with serving(tmp_path / "d", "--max-per-client", "2") as (url, _):
        barrier = threading.Barrier(12)

        def submit(_):
            body = files()
            barrier.wait()  # all twelve at once
            return httpx.post(url + "/jobs", files=body, data={"settings": json.dumps(LONG)},
                              timeout=120).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = sorted(pool.map(submit, range(12)))
        assert codes == [201] * 2 + [429] * 10, codes


@contextlib.contextmanager
def in_process(app):
    """A uvicorn server for `app` in a thread of this process, on a free port: real HTTP, with
    the app's objects (its store, its stream counts) in reach of the test."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    started = threading.Event()

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main():
            task = asyncio.ensure_future(server.serve())
            while not server.started and not task.done():
                await asyncio.sleep(0.01)  # uvicorn says "started" only by this flag
            started.set()
            await task

        loop.run_until_complete(main())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert started.wait(120) and server.started, "the in-process server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(60)


def test_a_cancel_as_the_dispatcher_takes_the_job_cannot_both_win(tmp_path):
    """The cancel reads the job while it is queued; the dispatcher takes it before the cancel
    writes. Before the fix the cancel wrote 'cancelled' over 'running' and the job painted on to
    'done'; now the job is cancelled as a running job, with its best picture."""
    from brushwork.serve import ServeConfig, create_app
    from brushwork.serve.store import Store

    store = Store(tmp_path / "d")
    app = create_app(ServeConfig(data=tmp_path / "d", max_steps=100000), store=store)
    runner = app.state.runner
    taken = threading.Event()
    real_take, real_get = store.take, store.get

    def take(job_id):
        ok = real_take(job_id)
        taken.set()
        return ok

    store.take = take
    with in_process(app) as url, Client(url) as c:
        job = c.submit(PHOTO, STARRY, {**SMALL, "steps": 60})
        assert taken.wait(60)
        # What the cancel read a moment before the take: the job still queued.
        stale = dataclasses.replace(real_get(job), state="queued", started=None)
        store.get = lambda job_id: stale if job_id == job else real_get(job_id)  # the stale read
        try:
            runner.cancel(job)
        finally:
            store.get = real_get
        states = [e["state"] for e in c.events(job)]
        # One slot, first come first served: the next job paints only once this one's worker
        # has let go, so its end is this one's too.
        after = c.submit(PHOTO, STARRY, {**SMALL, "steps": 2})
        assert [e["state"] for e in c.events(after)][-1] == "done"
        got = c.status(job)
        assert states[-1] == "cancelled" and got["state"] == "cancelled", (states, got)
        assert got["step"] < 60 and got["result"]  # stopped early, its best picture kept


def test_a_stream_whose_client_left_before_its_first_byte_gives_its_place_back(tmp_path):
    """The stream's place is taken in the handler; a client gone before the response starts
    never runs the stream's generator, whose `finally` was the only place it was given back."""
    from brushwork.serve import ServeConfig, create_app

    app = create_app(ServeConfig(data=tmp_path / "d", max_streams_per_client=1))
    with in_process(app) as url, Client(url) as c:
        job = c.submit(PHOTO, STARRY, SMALL)
        from brushwork.serve.api import events

        class Gone:  # the request as the handler sees it: a client that has already left
            state = type("S", (), {"client": "127.0.0.1"})()

            def __init__(self):
                self.app = app

            async def is_disconnected(self):
                return True

        async def leave_at_once():
            response = await events(job, Gone())
            assert app.state.streams == {"127.0.0.1": 1}

            async def receive():
                return {"type": "http.disconnect"}

            async def send(message):
                raise OSError(errno.EPIPE, "the client left")

            with contextlib.suppress(BaseException):
                await response({"type": "http", "method": "GET", "headers": []}, receive, send)

        asyncio.run(leave_at_once())
        assert app.state.streams == {}
        assert [e["state"] for e in c.events(job)][-1] == "done"  # one stream: its place is free


def test_streams_dropped_mid_request_leave_no_count(tmp_path):
    from brushwork.serve import ServeConfig, create_app

    app = create_app(ServeConfig(data=tmp_path / "d", max_streams_per_client=3))
    with in_process(app) as url, Client(url) as c:
        job = c.submit(PHOTO, STARRY, {**SMALL, "steps": 40})
        for _ in range(3):
            with httpx.Client(base_url=url, timeout=60) as h, \
                    h.stream("GET", f"/jobs/{job}/events") as r:
                next(r.iter_lines())  # one line, then the client drops the stream
        states = [e["state"] for e in c.events(job)]  # read to the job's end
        assert states[-1] == "done"
        assert app.state.streams == {}


class FillingStore:
    """A store whose disk fills on demand: every write fails with ENOSPC while `full` is set,
    as on a real full disk (tests/test_hostile.py keeps the tmpfs version where it may mount)."""

    def __init__(self, folder: Path) -> None:
        from brushwork.serve.store import Store

        self.inner, self.full = Store(folder), False
        self.folder = self.inner.folder

    def _write(self, name):
        method = getattr(self.inner, name)

        def guarded(*a, **kw):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return method(*a, **kw)
        return guarded

    def __getattr__(self, name):
        if name in ("add", "update", "take", "cancel_queued", "expire", "requeue_running"):
            return self._write(name)
        return getattr(self.inner, name)


def test_a_job_whose_disk_fills_mid_run_fails_and_frees_its_place_everywhere(tmp_path, monkeypatch):
    from brushwork import images
    from brushwork.serve import ServeConfig, create_app

    store = FillingStore(tmp_path / "d")
    real_write = images.write_atomic

    def write_atomic(path, data):  # the preview's and result's files, on the same disk
        if store.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(images, "write_atomic", write_atomic)
    app = create_app(ServeConfig(data=tmp_path / "d", max_steps=100000, max_per_client=1,
                                 min_free_mb=0), store=store)
    with in_process(app) as url, Client(url) as c:
        job = c.submit(PHOTO, STARRY, LONG)
        for event in c.events(job):
            if event["state"] == "running" and event["step"] >= 2:
                break
        store.full = True
        states = [e["state"] for e in c.events(job)]
        got = c.status(job)
        assert states[-1] == "failed" and "disk is full" in got["error"], (states, got)
        with pytest.raises(ServerError) as e:  # the job could not be written: 507, no folder
            c.submit(PHOTO, STARRY, SMALL)
        assert e.value.status == 507
        store.full = False
        again = c.submit(PHOTO, STARRY, SMALL)  # its place is free (max 1 per client)
        assert [e["state"] for e in c.events(again)][-1] == "done"
        assert c.status(job)["state"] == "failed"  # recorded, as it was shown
