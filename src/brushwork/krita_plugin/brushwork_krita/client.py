"""brushwork serve, as the plug-in talks to it: the standard library only (Krita's Python has no
httpx or requests), so this module runs, and is tested, outside Krita too.

Every failure is a `ServerError` whose text is one line in the server's words (its JSON error's
problem and fix), or, when no server answers, one line that says so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterator, Sequence

DEFAULT_URL = "http://127.0.0.1:8000"
STALLED = 60.0  # seconds without a byte from an event stream (the server pings every 15)


class ServerError(Exception):
    """One line for the docker: what went wrong and what to do."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """A brushwork server at `url` (with `token` when it asks for one)."""

    def __init__(self, url: str = DEFAULT_URL, token: str = "", timeout: float = 30.0) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token.strip(), timeout

    # ---- requests ------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float | None = None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as e:
            raise ServerError(_said(e.read(), e.code), e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise ServerError(f"the brushwork server at {self.url} stopped answering "
                                  f"({path.split('?')[0]}); try again, or restart it") from None
            raise ServerError(f"no brushwork server answers at {self.url} ({reason}); start one "
                              "with 'brushwork serve', or press Start in the docker") from None

    def _json(self, method: str, path: str, **kw) -> dict[str, Any]:
        with self._request(method, path, **kw) as r:
            return json.loads(r.read().decode("utf-8"))

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/health", timeout=5)

    def info(self) -> dict[str, Any]:
        """The server's limits, presets and settings with the painter's words (GET /settings)."""
        return self._json("GET", "/settings")

    def submit(self, photo: bytes, paintings: Sequence[bytes], settings: dict[str, Any],
               masks: Sequence[bytes] | None = None) -> dict[str, Any]:
        """Queue a job of PNG bytes; the job as the server shows it (its `id` among them)."""
        parts = [("photo", "photo.png", photo)]
        parts += [("paintings", f"painting-{i + 1}.png", p) for i, p in enumerate(paintings)]
        parts += [("masks", f"mask-{i + 1}.png", m) for i, m in enumerate(masks or ())]
        body, kind = multipart(parts, {"settings": json.dumps(settings)})
        return self._json("POST", "/jobs", body=body, headers={"Content-Type": kind},
                          timeout=120)

    def status(self, job: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job}")

    def events(self, job: str) -> Iterator[dict[str, Any]]:
        """The job's states as the server sends them (server-sent events), the last ended. The
        server pings every 15 s, so a minute of silence is a stalled server: one line."""
        with self._request("GET", f"/jobs/{job}/events", timeout=STALLED) as r:
            data: list[str] = []
            try:
                for raw in r:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        yield json.loads("\n".join(data))
                        data = []
            except (TimeoutError, socket.timeout):
                raise ServerError(f"the brushwork server at {self.url} sent nothing for "
                                  f"{STALLED:.0f} s; it may be stalled: try again, or restart "
                                  "it") from None
            except OSError as e:
                raise ServerError(f"the connection to {self.url} broke ({e})") from None

    def image(self, job: str, which: str = "result") -> bytes:
        """The job's result (or latest preview) as PNG bytes."""
        with self._request("GET", f"/jobs/{job}/{which}", timeout=120) as r:
            return r.read()

    def cancel(self, job: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{job}/cancel")


def multipart(files: Sequence[tuple[str, str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   .encode() + value.encode("utf-8") + b"\r\n")
    for name, filename, data in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
                   + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def _said(body: bytes, status: int) -> str:
    """The server's JSON error as one line: its problem and fix."""
    try:
        error = json.loads(body.decode("utf-8"))
        message = error.get("message") or "{input}: {problem}; {fix}".format(**error["error"])
    except (ValueError, KeyError, TypeError, AttributeError):
        message = f"the server answered {status}"
    return " ".join(str(message).split())[:300]


def server_command(executable: str = "") -> list[str]:
    """How to start `brushwork serve`: the executable the painter set; else the brushwork that
    wrote this plug-in's zip (its Python with -m brushwork, from installed_with.json: a wheel in
    a virtualenv, pipx or a checkout); else `brushwork` on PATH."""
    if executable.strip():
        path = shutil.which(executable.strip()) or executable.strip()
        if not os.path.isfile(path):
            raise ServerError(f"no brushwork executable at {executable!r}; set its path in the "
                              "docker (e.g. ~/.venv/bin/brushwork), or leave it empty")
        return [path]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "installed_with.json")
    try:
        with open(here, encoding="utf-8") as f:
            command = json.load(f)["command"]
        if os.path.isfile(command[0]):
            return [str(c) for c in command]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    path = shutil.which("brushwork")
    if path is None:
        raise ServerError("no brushwork found to start; install it (pip install "
                          "'brushwork[serve]'), then run 'brushwork krita-plugin --install' "
                          "from it, or set its path in the docker")
    return [path]


def launch(command: Sequence[str], port: int = 8000) -> subprocess.Popen:
    """`brushwork serve` on the loopback, started and not waited for (see `wait_up`)."""
    return subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def exit_reason(proc: subprocess.Popen) -> str:
    """One line: why a started server stopped."""
    err = (proc.stderr.read() if proc.stderr else b"") or b""
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return "brushwork serve stopped: " + (lines[-1] if lines else
                                          f"exit status {proc.returncode}")


def start_server(executable: str = "", port: int = 8000, wait: float = 120.0) -> subprocess.Popen:
    """`brushwork serve` on the loopback; returns the process once /health answers (ServerError
    in one line otherwise). Blocks: for scripts and tests; the docker polls instead."""
    proc = launch(server_command(executable), port)
    client = Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(exit_reason(proc))
        try:
            client.health()
            return proc
        except ServerError:
            time.sleep(0.3)  # the server is still loading: nothing to wait on but its port
    proc.kill()
    raise ServerError(f"brushwork serve did not answer within {wait:.0f} s")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
