"""brushwork serve, as the plug-in talks to it: the standard library only (Krita's Python has no
httpx or requests), so this module runs, and is tested, outside Krita too.

Every failure is a `ServerError` whose text is one line in the server's words (its JSON error's
problem and fix), or, when no server answers, one line that says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterator, Sequence

DEFAULT_URL = "http://127.0.0.1:8000"


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
            raise ServerError(f"no brushwork server answers at {self.url} ({reason}); start one "
                              "with 'brushwork serve', or set the server in the docker") from None

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
        """The job's states as the server sends them (server-sent events), the last ended."""
        with self._request("GET", f"/jobs/{job}/events", timeout=3600) as r:
            data: list[str] = []
            for raw in r:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []

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


def start_server(executable: str, port: int = 8000, wait: float = 120.0) -> subprocess.Popen:
    """`brushwork serve` on the loopback, from the `brushwork` executable the user set; returns
    the process once /health answers (ServerError in one line otherwise)."""
    path = shutil.which(executable) or executable
    if not path or not os.path.isfile(path):
        raise ServerError(f"no brushwork executable at {executable!r}; set its path in the "
                          "docker (e.g. ~/.venv/bin/brushwork)")
    proc = subprocess.Popen([path, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read() or b"").decode("utf-8", "replace").strip().splitlines()
            raise ServerError("brushwork serve stopped: " + (err[-1] if err else
                              f"exit status {proc.returncode}"))
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
