"""A small client for `brushwork serve`, so a plugin or a script needs no HTTP code of its own
(`pip install httpx`, part of `brushwork[serve]`):

    from brushwork.client import Client

    picture = Client("http://127.0.0.1:8000").stylize("photo.jpg", "painting.jpg", {"size": 512})
    picture.save("out.png")

or, step by step: `job = client.submit(...)`, `for event in client.events(job)`, then
`client.result(job)`. Errors the server answers become `ServerError` with its one-line message.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Iterator, Mapping, Sequence, Union

from PIL import Image

from . import optional
from .errors import BrushworkError

Picture = Union[str, os.PathLike, bytes, Image.Image]


class ServerError(BrushworkError):
    """What the server said was wrong (its HTTP status and one-line message)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class Client:
    """A brushwork server at `url`; `token` when the server asks for one."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        httpx = optional.require("httpx", "brushwork.client", "serve")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, photo: Picture, paintings: Picture | Sequence[Picture],
               settings: Mapping[str, Any] | Any = None,
               masks: Sequence[Picture] | None = None) -> str:
        """Queue a job; returns its id. `settings` is a mapping of `Settings` fields or a
        `brushwork.Settings` (its fields that differ from the defaults are sent)."""
        settings = _options(settings)
        if isinstance(paintings, (str, bytes, os.PathLike, Image.Image)):
            paintings = [paintings]
        files = [("photo", _file(photo, "photo.png"))]
        files += [("paintings", _file(p, f"painting-{i + 1}.png")) for i, p in enumerate(paintings)]
        files += [("masks", _file(m, f"mask-{i + 1}.png")) for i, m in enumerate(masks or ())]
        r = self._http.post("/jobs", files=files, data={"settings": json.dumps(settings)})
        return _json(r)["id"]

    def info(self) -> dict[str, Any]:
        """The server's limits, presets and settings with the painter's words (GET /settings):
        what a host application builds its panel from."""
        return _json(self._http.get("/settings"))

    def status(self, job: str) -> dict[str, Any]:
        return _json(self._http.get(f"/jobs/{job}"))

    def events(self, job: str) -> Iterator[dict[str, Any]]:
        """The job's states as the server sends them, the last one ended (done, failed or
        cancelled)."""
        with self._http.stream("GET", f"/jobs/{job}/events", timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                _json(r)
            data: list[str] = []
            for line in r.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []

    def preview(self, job: str) -> Image.Image:
        return _image(self._http.get(f"/jobs/{job}/preview"))

    def result(self, job: str) -> Image.Image:
        """The picture (its record is in `.info`/`.text`, as in any brushwork PNG)."""
        return _image(self._http.get(f"/jobs/{job}/result"))

    def result_bytes(self, job: str) -> bytes:
        r = self._http.get(f"/jobs/{job}/result")
        if r.status_code >= 400:
            _json(r)
        return r.content

    def cancel(self, job: str) -> dict[str, Any]:
        return _json(self._http.post(f"/jobs/{job}/cancel"))

    def stylize(self, photo: Picture, paintings: Picture | Sequence[Picture],
                settings: Mapping[str, Any] | None = None,
                masks: Sequence[Picture] | None = None) -> Image.Image:
        """Submit, follow, and return the picture; ServerError if the job fails."""
        job = self.submit(photo, paintings, settings, masks)
        last = None
        for last in self.events(job):
            pass
        if last is None or last["state"] != "done":
            raise ServerError(500, (last or {}).get("error") or f"job {job} ended "
                              f"{(last or {}).get('state', 'without a word')}")
        return self.result(job)


def _options(settings: Any) -> dict[str, Any]:
    """A settings mapping as JSON-ready options; a `Settings` gives the fields it changed."""
    from .settings import Settings

    if settings is None:
        return {}
    if isinstance(settings, Settings):
        default = Settings().to_dict()
        return {k: v for k, v in settings.to_dict().items() if default[k] != v}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping or a brushwork.Settings, not "
                        f"{type(settings).__name__}")
    return dict(settings)


def _file(p: Picture, name: str) -> tuple[str, bytes, str]:
    if isinstance(p, Image.Image):
        buf = io.BytesIO()
        p.save(buf, "PNG")
        return name, buf.getvalue(), "image/png"
    if isinstance(p, bytes):
        return name, p, "application/octet-stream"
    with open(p, "rb") as f:
        return os.path.basename(os.fspath(p)), f.read(), "application/octet-stream"


def _json(r) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        body = {"message": r.text[:200]}
    if r.status_code >= 400:
        raise ServerError(r.status_code, body.get("message") or str(body))
    return body


def _image(r) -> Image.Image:
    if r.status_code >= 400:
        _json(r)
    im = Image.open(io.BytesIO(r.content))
    im.load()
    return im
