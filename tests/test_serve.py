"""`brushwork serve` as other programs meet it: a real server on 127.0.0.1 (a child process),
a real HTTP client (httpx, through brushwork.client). Every wait is bounded."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx  # noqa: E402

from brushwork import Settings, examples, images  # noqa: E402
from brushwork.client import Client, ServerError  # noqa: E402

from conftest import PAINTED, moved_from_photo  # noqa: E402

PHOTO, STARRY = examples.CONTENT, examples.STARRY_NIGHT
SMALL = {"size": 64, "steps": 10, "device": "cpu"}
LONG = {"size": 64, "steps": 100000, "device": "cpu"}  # never ends by itself
UP_SECONDS = 120  # a server must answer /health within this


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(data: Path, *extra: str):
    """`brushwork serve` in a child process; yields its URL once /health answers."""
    with serving(data, *extra) as (url, _):
        yield url


@contextlib.contextmanager
def serving(data: Path, *extra: str, env: dict | None = None):
    """`brushwork serve` in a child process (with `env` added to the environment); yields (URL,
    process) once /health answers; SIGTERM and a bounded wait afterwards (the child is killed
    if it does not stop)."""
    port = _free_port()
    # LONG's steps are allowed: its jobs end only by a cancel or a stop.
    proc = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--data", str(data),
                             "--port", str(port), "--max-steps", "100000", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + UP_SECONDS
    try:
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("server did not come up: " + proc.stdout.read()[-2000:])
            time.sleep(0.2)  # polling a port that is not open yet: nothing to wait on
        yield url, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    return proc.returncode


def _until(client: Client, job: str, predicate, what: str) -> dict:
    """Follow the job's events until `predicate(event)`; fails if the stream ends first."""
    for event in client.events(job):
        if predicate(event):
            return event
    raise AssertionError(f"job {job} ended before {what}: {client.status(job)}")


def test_a_job_end_to_end_with_events_in_order_and_its_record(tmp_path):
    with server(tmp_path / "data") as url, Client(url) as c:
        sent = {**SMALL, "seed": 3, "preset": "subtle", "strength": 0.7}
        job = c.submit(PHOTO, STARRY, sent)
        events = list(c.events(job))
        states = [e["state"] for e in events]
        assert states[-1] == "done" and "running" in states
        assert states.index("running") < len(states) - 1  # running before done, none after
        steps = [e["step"] for e in events]
        assert steps == sorted(steps) and steps[-1] == 10  # in order, ending at the last step
        assert all(e["total"] == 10 for e in events)
        data = c.result_bytes(job)
        record = images.read_metadata(data)
        # what was sent: the preset's values with the typed ones over them, strength included
        assert record["settings"] == Settings().with_options(sent).to_dict()
        assert record["settings"]["preset"] == "subtle" and record["settings"]["strength"] == 0.7
        assert record["steps_done"] == 10
        assert moved_from_photo(Image.open(io.BytesIO(data)).convert("RGB")) > PAINTED
        doc = httpx.get(url + "/openapi.json").json()
        assert "/jobs" in doc["paths"] and "/jobs/{job_id}/events" in doc["paths"]
        docs = httpx.get(url + "/docs").text
        assert "swagger-ui" in docs and "cdn" not in docs  # served from this machine


def test_a_restart_keeps_finished_and_queued_jobs_and_requeues_the_running_one(tmp_path):
    data = tmp_path / "data"
    with server(data) as url, Client(url) as c:
        done = c.submit(PHOTO, STARRY, SMALL)
        _until(c, done, lambda e: e["state"] == "done", "done")
        result = c.result_bytes(done)
        running = c.submit(PHOTO, STARRY, LONG)
        _until(c, running, lambda e: e["state"] == "running" and e["step"] >= 1, "running")
        queued = c.submit(PHOTO, STARRY, {**SMALL, "seed": 9})
        assert c.status(queued)["state"] == "queued" and c.status(queued)["position"] == 1
    with server(data) as url, Client(url) as c:  # the same store, a new process
        assert c.status(done)["state"] == "done" and c.result_bytes(done) == result
        again = c.status(running)
        assert again["state"] in ("queued", "running")  # in line again, not lost
        assert c.status(queued)["state"] in ("queued", "running")
        c.cancel(running)
        _until(c, queued, lambda e: e["state"] == "done", "done")
        record = images.read_metadata(c.result_bytes(queued))
        assert record["settings"]["seed"] == 9


def test_two_clients_at_once_get_their_own_results(tmp_path):
    with server(tmp_path / "data") as url:
        got: dict[int, dict] = {}

        def paint(seed: int) -> None:
            with Client(url) as c:
                job = c.submit(PHOTO, STARRY, {**SMALL, "seed": seed})
                _until(c, job, lambda e: e["state"] == "done", "done")
                got[seed] = images.read_metadata(c.result_bytes(job))

        threads = [threading.Thread(target=paint, args=(s,)) for s in (21, 22)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert sorted(got) == [21, 22]
        assert all(got[s]["settings"]["seed"] == s for s in got)


def test_cancel_stops_at_the_next_step_and_keeps_the_best_picture(tmp_path):
    with server(tmp_path / "data") as url, Client(url) as c:
        job = c.submit(PHOTO, STARRY, LONG)
        _until(c, job, lambda e: e["state"] == "running" and e["step"] >= 12, "step 12")
        c.cancel(job)
        last = _until(c, job, lambda e: e["state"] not in ("queued", "running"), "its end")
        assert last["state"] == "cancelled"
        data = c.result_bytes(job)
        record = images.read_metadata(data)
        assert 12 <= record["steps_done"] < 100000
        assert moved_from_photo(Image.open(io.BytesIO(data)).convert("RGB")) > PAINTED
        preview = c.preview(job)
        assert preview.size == (64, 48)


def test_every_bad_request_gets_its_status_and_one_line_and_the_server_goes_on(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# who may paint\nsecret-1\nsecret-2\n")
    with server(tmp_path / "data", "--token-file", str(tokens), "--max-upload-mb", "0.5",
                "--max-queue", "1", "--max-size", "256") as url:
        good = Client(url, token="secret-1")
        cases = []
        with pytest.raises(ServerError) as e:
            Client(url, token="wrong").submit(PHOTO, STARRY, SMALL)
        cases.append((e.value, 401, "no valid bearer token"))
        with pytest.raises(ServerError) as e:
            Client(url).status("x")
        cases.append((e.value, 401, "Authorization"))
        with pytest.raises(ServerError) as e:
            good.submit(b"not a picture", STARRY, SMALL)
        cases.append((e.value, 422, "not an image"))
        big = Image.new("RGB", (900, 900))
        big.putdata([(i % 251, i % 241, i % 239) for i in range(900 * 900)])
        buf = io.BytesIO()
        big.save(buf, "BMP")
        with pytest.raises(ServerError) as e:
            good.submit(buf.getvalue(), STARRY, SMALL)
        cases.append((e.value, 413, "is over 0.5 MB"))
        with pytest.raises(ServerError) as e:
            good.submit(PHOTO, STARRY, {"size": 512})
        cases.append((e.value, 413, "over this server's 256"))
        with pytest.raises(ServerError) as e:
            good.submit(PHOTO, STARRY, {"style_weight": -1})
        cases.append((e.value, 422, "--style-weight: must be from 0"))
        with pytest.raises(ServerError) as e:
            good.status("no-such-job")
        cases.append((e.value, 404, "no such job"))
        job = good.submit(PHOTO, STARRY, LONG)
        with pytest.raises(ServerError) as e:
            Client(url, token="secret-2").submit(PHOTO, STARRY, SMALL)
        cases.append((e.value, 429, "queue: is full"))
        with pytest.raises(ServerError) as e:  # another token's job is not yours to see
            Client(url, token="secret-2").status(job)
        cases.append((e.value, 404, "no such job"))
        for err, status, words in cases:
            assert err.status == status and words in str(err), (status, str(err))
            assert "\n" not in str(err) and "Traceback" not in str(err)
        assert httpx.get(url + "/health").json()["ok"]  # still serving
        good.cancel(job)
        raw = httpx.post(url + "/jobs", headers={"Authorization": "Bearer secret-1"},
                         files={"photo": ("p.png", b"x")}, data={"settings": "{"})
        assert raw.status_code == 422 and raw.json()["error"]["fix"]


def test_serve_refuses_bad_options_in_one_line(tmp_path, capsys):
    from brushwork.cli import main

    assert main(["serve", "--data", str(tmp_path), "--token-file", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token-file" in err and "cannot be read" in err
    assert main(["serve", "--data", str(tmp_path), "--max-queue", "0"]) == 2
    assert "--max-queue: must be above 0" in capsys.readouterr().err


def test_a_ray_worker_killed_mid_job_ends_with_the_job_done_once(tmp_path):
    pytest.importorskip("ray")
    with server(tmp_path / "data", "--backend", "ray", "--workers", "1", "--threads", "1") as url, \
            Client(url) as c:
        job = c.submit(PHOTO, STARRY, {**SMALL, "steps": 40})
        _until(c, job, lambda e: e["state"] == "running" and e["step"] >= 2, "step 2")
        # The worker is the only process painting a brushwork job: a Ray actor (not this one).
        victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_painter(int(p))]
        assert victims, "no Ray worker found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        last = _until(c, job, lambda e: e["state"] not in ("queued", "running"), "its end")
        assert last["state"] == "done", last
        record = images.read_metadata(c.result_bytes(job))
        assert record["steps_done"] == 40


def _is_painter(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ray::Painter" in cmd
