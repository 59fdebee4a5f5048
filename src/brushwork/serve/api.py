"""The HTTP API (FastAPI): submit a job, follow it (JSON and server-sent events), fetch its
preview and result, cancel it. Settings are validated by `Settings` itself, so a bad value gets
the CLI's words, as HTTP 422 with a JSON body naming the field and the fix. The OpenAPI document
is at /openapi.json and the interactive docs at /docs, served from this machine (no CDN).
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import images
from ..errors import InputError
from ..settings import Settings
from ..version import __version__
from .config import LOOPBACK_HOSTS, ServeConfig, token_hash
from .runner import Runner
from .store import ENDED, JobRow, Store


class HTTPProblem(Exception):
    """An error answered as JSON: {"error": {"input", "problem", "fix"}, "message"}."""

    def __init__(self, status: int, what: str, problem: str, fix: str) -> None:
        self.status, self.what, self.problem, self.fix = status, what, problem, fix
        super().__init__(f"{what}: {problem}; {fix}")


def create_app(config: ServeConfig, backend=None, served_on: str | None = None) -> FastAPI:
    """The API for `config`; `backend` (default: this process) paints the jobs; `served_on`
    is the address it listens on (accepted as a Host name besides the loopback ones)."""
    from .runner import LocalBackend

    store = Store(config.data)
    runner = Runner(store, backend or LocalBackend(config.threads),
                    expire_seconds=config.expire_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.start()
        try:
            yield
        finally:
            await asyncio.to_thread(runner.stop)
            store.close()

    app = FastAPIOffline(title="brushwork", version=__version__, lifespan=lifespan,
                         description="Neural style transfer (Gatys et al.) over HTTP: submit a "
                                     "photo and paintings, follow the job, fetch the picture.")
    app.state.runner, app.state.store, app.state.config = runner, store, config
    app.state.streams = {}  # open event streams per client

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, e: HTTPProblem) -> JSONResponse:
        return await problem_json(request, e)

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        """FastAPI's and Starlette's own answers (an unknown route, a method not allowed, a
        malformed multipart body, too many files or a field over 1 MB) in the same shape."""
        words = {404: ("route", "no such route", "see /docs for the routes"),
                 405: ("method", f"{request.method} is not allowed here", "see /docs"),
                 400: ("request", str(e.detail).lower(), "send a multipart form: photo, "
                       "paintings (and masks) as files and settings as JSON")}
        what, problem, fix = words.get(e.status_code, ("request", str(e.detail).lower(),
                                                       "see /docs"))
        return await problem_json(request, HTTPProblem(e.status_code, what, problem, fix))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        """A bug or a broken disk: still the one shape, never a traceback to the client."""
        return await problem_json(request, HTTPProblem(
            500, "server", f"failed ({type(e).__name__})", "try again; if it persists, tell "
            "the operator (the server's log has the details)"))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, e: RequestValidationError) -> JSONResponse:
        """FastAPI's own checks (a missing form field, say), in the same one-line form."""
        first = e.errors()[0] if e.errors() else {}
        field = str((first.get("loc") or ["request"])[-1])
        return await problem_json(request, HTTPProblem(
            422, field, str(first.get("msg", "is malformed")).lower(),
            "send photo, paintings (and masks) as files and settings as JSON in a multipart form"))

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """Who may ask (Host, Origin, tokens) and the request's declared size, before anything
        of its body is read."""
        try:
            _check_host_and_origin(request, config, served_on)
            client = _client(request, config)
            request.state.client = client
            try:
                declared = int(request.headers.get("content-length") or 0)
            except ValueError:
                raise HTTPProblem(400, "Content-Length", "is not a number",
                                  "send a valid request") from None
            if declared > config.max_request_bytes:
                raise HTTPProblem(413, "request", _over(declared, config), "send smaller files")
        except HTTPProblem as e:
            return await problem_json(request, e)
        return await call_next(request)

    app.include_router(router)
    # Outermost: the body's bytes are counted as they arrive, whatever the transfer encoding
    # (a chunked upload declares no length), and the request is answered 413 at the cap.
    app.add_middleware(BodyLimit, config=config)
    return app


def problem_response(e: HTTPProblem) -> JSONResponse:
    """The one error shape: {"error": {"input", "problem", "fix"}, "message"}."""
    return JSONResponse({"error": {"input": e.what, "problem": e.problem, "fix": e.fix},
                         "message": str(e)}, status_code=e.status)


async def problem_json(request: Request, e: HTTPProblem) -> JSONResponse:
    return problem_response(e)


def _over(size: int, config: ServeConfig) -> str:
    return (f"is over the {config.max_request_bytes >> 20} MB this server takes"
            + (f" ({size >> 20} MB)" if size else ""))


class BodyLimit:
    """ASGI middleware: a request body past the config's `max_request_bytes` is cut off there
    and answered 413 in the JSON shape. What the app had spooled of it is closed with the
    request (the form parser's temporary files have no name on disk), so nothing is left."""

    def __init__(self, app, config: ServeConfig) -> None:
        self.app, self.config, self.limit = app, config, config.max_request_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen, over, started = 0, False, False

        async def counted():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True  # the app sees the client gone and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            nonlocal started
            if over:
                return  # the app's own answer to a cut-off body: replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:  # noqa: BLE001  the app's complaint about a body cut short
            if not over:
                raise
        if over and not started:
            answer = problem_response(HTTPProblem(413, "request", _over(0, self.config),
                                                  "send smaller files"))
            await answer(scope, receive, send)


router = APIRouter()


def _state(request: Request) -> tuple[Store, Runner, ServeConfig]:
    st = request.app.state
    return st.store, st.runner, st.config


@router.get("/health")
def health() -> dict:
    return {"ok": True, "version": __version__}


@router.get("/settings")
def settings_info(request: Request) -> dict:
    """What a host application needs to build its panel, in one answer: this server's limits,
    the presets, and every setting a job may send with its default, range, choices and the
    painter's label and help (the web app's words)."""
    import dataclasses

    from .. import presets
    from ..words import CHOICE_WORDS, WORDS

    config: ServeConfig = request.app.state.config
    fields = {}
    for f in dataclasses.fields(Settings):
        if f.name in ("weights", "max_memory", "device", "tile", "precision"):
            continue  # the server's to choose, not a job's
        meta = f.metadata
        label, help_ = WORDS.get(f.name, (f.name.replace("_", " ").capitalize(), meta["help"]))
        default = f.default
        fields[f.name] = {"default": list(default) if isinstance(default, tuple) else default,
                          "label": label, "help": help_, "group": meta.get("group"),
                          **{k: meta[k] for k in ("min", "max", "step") if k in meta}}
        if "choices" in meta:
            fields[f.name]["choices"] = [{"value": c, "label": CHOICE_WORDS.get(f.name, {}).get(
                c, c)} for c in meta["choices"]]
    limits = {k: getattr(config, k) for k in (
        "max_size", "max_steps", "max_upload_mb", "max_megapixels", "max_request_megapixels",
        "max_paintings", "max_per_client", "max_streams_per_client")}
    return {"version": __version__, "limits": limits, "settings": fields,
            "presets": {name: {"description": text, "sets": {
                k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}
                for name, (text, values) in presets.PRESETS.items()}}

@router.post("/jobs", status_code=201)
async def submit(request: Request, photo: UploadFile = File(...),
                 paintings: list[UploadFile] = File(...),
                 masks: list[UploadFile] | None = File(None),
                 settings: str = Form("{}")) -> dict:
    """Queue a job: a photo, one or more paintings (and one mask per painting, optional),
    and settings as a JSON object of `Settings` fields (unset ones keep their defaults).

    Checked in order, each before anything costlier: the counts, the settings, every file's
    bytes and declared size (from its header), the request's decoded pixels in all, the
    paintings' processed sizes, and only then the pictures themselves."""
    store, runner, config = _state(request)
    client = request.state.client
    if len(paintings) > config.max_paintings:
        raise HTTPProblem(413, "paintings", f"{len(paintings)} is over this server's "
                          f"{config.max_paintings}", f"send {config.max_paintings} or fewer")
    if masks and len(masks) != len(paintings):
        raise HTTPProblem(422, "masks", f"{len(masks)} masks for {len(paintings)} paintings",
                          "send one mask per painting, or none")
    s = _settings(settings, config)
    uploads = [(photo, "photo", "content", False)]
    uploads += [(up, f"painting {i + 1}", f"style-{i}", False) for i, up in enumerate(paintings)]
    uploads += [(up, f"mask {i + 1}", f"mask-{i}", True) for i, up in enumerate(masks or ())]
    files, sizes = {}, {}
    for up, what, key, _ in uploads:
        files[key], sizes[key] = await _upload(up, what, config)
    _check_pixels(sizes, s, config)
    names: dict[str, Any] = {"content": _name(photo, "photo"),
                             "styles": [_name(up, f"painting {i + 1}")
                                        for i, up in enumerate(paintings)],
                             "masks": None if not masks else [
                                 _name(up, f"mask {i + 1}") for i, up in enumerate(masks)]}
    _check_room(store, runner, config, client)
    pixels = await asyncio.to_thread(_check_job, files, names, s)
    try:
        job_id = runner.submit(client, s, names, files, pixels)
    except (OSError, sqlite3.Error) as e:  # the disk filled as the job was written (no trace)
        raise HTTPProblem(507, "server", "could not store the job (" + (
            getattr(e, "strerror", None) or str(e))[:100] + ")", "try again later; the "
            "operator should free space under --data") from None
    return {"id": job_id, **runner.status(store.get(job_id)), "links": _urls(job_id)}

@router.get("/jobs/{job_id}")
def status(job_id: str, request: Request) -> dict:
    """The job: queued (place in line, estimated start), running (step, losses, estimated
    end), done, failed (with its reason) or cancelled; `preview` and `result` say whether each
    exists yet, `links` where to fetch them."""
    store, runner, _ = _state(request)
    return {**runner.status(_own(runner, job_id, request)), "links": _urls(job_id)}

@router.get("/jobs/{job_id}/events")
async def events(job_id: str, request: Request):
    """Server-sent events: the job's state each time it changes, the last one ended. Waiting
    for a change parks no thread (Runner.changes), and each client may hold
    --max-streams-per-client streams open at once (429 past that)."""
    from sse_starlette.sse import EventSourceResponse

    store, runner, config = _state(request)
    _own(runner, job_id, request)
    client = request.state.client
    streams = request.app.state.streams
    if streams.get(client, 0) >= config.max_streams_per_client:
        raise HTTPProblem(429, "events", f"this client has {config.max_streams_per_client} "
                          "streams open", "close one, or poll GET /jobs/ID")
    streams[client] = streams.get(client, 0) + 1

    async def stream():
        version, last = -1, None
        try:
            while True:
                row = runner.get(job_id)
                if row is None:
                    return
                state = runner.status(row)
                shown = {k: v for k, v in state.items()
                         if k not in ("estimated_start", "estimated_end")}
                if shown != last:
                    last = shown
                    yield {"event": state["state"], "data": json.dumps(state)}
                if row.state in ENDED or await request.is_disconnected():
                    return
                version = await runner.changes(version, 1.0)
        finally:
            streams[client] -= 1
            if not streams[client]:
                del streams[client]

    return EventSourceResponse(stream(), ping=15)

@router.get("/jobs/{job_id}/preview")
def preview(job_id: str, request: Request) -> Response:
    """The latest preview of a running job (the best picture so far)."""
    store, runner, _ = _state(request)
    _own(runner, job_id, request)
    data = store.read(job_id, "preview.png") or store.read(job_id, "result.png")
    if data is None:
        raise HTTPProblem(404, f"job {job_id}", "has no preview yet",
                          "ask again once it is running")
    return Response(data, media_type="image/png")

@router.get("/jobs/{job_id}/result")
def result(job_id: str, request: Request) -> Response:
    """The picture, a PNG carrying its settings record like any brushwork output."""
    store, runner, _ = _state(request)
    row = _own(runner, job_id, request)
    data = store.read(job_id, "result.png")
    if data is None:
        raise HTTPProblem(409, f"job {job_id}", f"has no result ({row.state})",
                          "wait for it to end (GET /jobs/ID/events)")
    return Response(data, media_type="image/png", headers={
        "Content-Disposition": f'attachment; filename="brushwork-{job_id[:8]}.png"'})

@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, request: Request) -> dict:
    """Stop the job at its next step; a running one keeps its best picture as its result."""
    store, runner, _ = _state(request)
    _own(runner, job_id, request)
    runner.cancel(job_id)
    return {**runner.status(runner.get(job_id)), "links": _urls(job_id)}


# ---- checks, each an HTTPProblem with its status ----------------------------------------------

def _client(request: Request, config: ServeConfig) -> str:
    """Who is asking: their token's hash when tokens are on (401 without a good one), else
    their address. Health and the docs are open."""
    if not config.tokens or request.url.path in ("/health", "/docs", "/openapi.json",
                                                 "/redoc") or request.url.path.startswith("/static"):
        return request.client.host if request.client else "unknown"
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or token_hash(token.strip()) not in config.tokens:
        raise HTTPProblem(401, "Authorization", "no valid bearer token",
                          "send the header 'Authorization: Bearer TOKEN'")
    return token_hash(token.strip())


def _check_host_and_origin(request: Request, config: ServeConfig, served_on: str | None) -> None:
    """A request must name this server as its Host (the loopback names, the address it serves
    on, and --allow-host), so that a page on another site cannot reach it by DNS rebinding;
    and a browser's Origin, when sent, must be one of those hosts or --allow-origin, so that
    any web page cannot make a visitor's browser paint here (a form POST needs no preflight)."""
    from urllib.parse import urlsplit

    allowed = LOOPBACK_HOSTS | config.allow_hosts | ({served_on} if served_on else set())
    host = request.headers.get("host", "")
    name = urlsplit(f"//{host}").hostname or ""
    if name not in allowed and f"[{name}]" not in allowed:
        raise HTTPProblem(403, "Host", f"{host[:100]!r} is not a name of this server",
                          "use http://127.0.0.1:PORT, or start the server with --allow-host NAME")
    origin = request.headers.get("origin")
    if origin is not None and origin not in config.allow_origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or (parts.hostname or "") not in allowed:
            raise HTTPProblem(403, "Origin", f"{origin[:100]!r} may not use this server",
                              "start the server with --allow-origin ORIGIN to let that page "
                              "use it")


def _settings(text: str, config: ServeConfig) -> Settings:
    from ..records import parse

    try:  # the bounded parser of records: no depth, length or number bomb
        options = parse(text or "{}", "settings")
    except InputError:
        raise HTTPProblem(422, "settings", "is not a JSON object of settings (malformed, "
                          "nested too deep or too long)", 'send e.g. {"size": 512}') from None
    try:
        s = Settings().with_options(options)
    except InputError as e:
        raise HTTPProblem(422, e.what, e.problem, e.fix) from None
    except Exception:  # noqa: BLE001  a value of a type no field takes
        raise HTTPProblem(422, "settings", "has a value of the wrong type",
                          "see Settings' fields in docs/serving.md") from None
    if s.size > config.max_size:
        raise HTTPProblem(413, "--size", f"{s.size} is over this server's {config.max_size}",
                          f"ask for {config.max_size} or less")
    if s.steps > config.max_steps:
        raise HTTPProblem(413, "--steps", f"{s.steps} is over this server's {config.max_steps}",
                          f"ask for {config.max_steps} or fewer")
    if s.init not in ("content", "noise", "fast") or s.weights != "caffe" or (
            s.max_memory is not None):
        # Each names a file or a resource on the server: not for a client to choose.
        raise HTTPProblem(422, "settings", "init, weights and max_memory are the server's",
                          "leave them out (init may be content, noise or fast)")
    return s


async def _upload(up: UploadFile, what: str, config: ServeConfig) -> tuple[bytes, tuple[int, int]]:
    """The upload's bytes and the size its header declares, refused past the size limit or
    when it declares too many pixels (both before the picture is decoded)."""
    from PIL import Image

    data = await up.read(config.max_upload_bytes + 1)
    if len(data) > config.max_upload_bytes:
        raise HTTPProblem(413, what, f"is over {config.max_upload_mb:g} MB", "upload a smaller file")
    over = HTTPProblem(413, what, "declares more than this server's "
                       f"{config.max_megapixels:g} megapixels", "downscale it first")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError:  # PIL's own alarm: far over any sane limit
        raise over from None
    except Exception:  # noqa: BLE001  not a picture: load_image says which way, later
        w = h = 0
    if w * h > config.max_megapixels * 1e6:
        raise HTTPProblem(413, what, f"{w}x{h} is over this server's {config.max_megapixels:g} "
                          "megapixels", "downscale it first")
    return data, (w, h)


def _check_pixels(sizes: dict[str, tuple[int, int]], s: Settings, config: ServeConfig) -> None:
    """The request's pictures in all, and each painting as the run will process it (after
    style_scale), within this server's limits, from the declared sizes alone."""
    from ..prepare import checked_style_size

    total = sum(w * h for w, h in sizes.values())
    if total > config.max_request_megapixels * 1e6:
        raise HTTPProblem(413, "request", f"its pictures hold {total / 1e6:.0f} megapixels in "
                          f"all, over this server's {config.max_request_megapixels:g}",
                          "send smaller or fewer pictures")
    w, h = sizes["content"]
    out = images.fit_size(w, h, s.size) if w and h else (s.size, s.size)
    for key, (pw, ph) in sizes.items():
        if not key.startswith("style-") or not pw or not ph:
            continue
        what = f"painting {int(key[6:]) + 1}"
        try:  # a shape the loop cannot use, like a photo's: 422
            sw, sh = checked_style_size((pw, ph), out, s.style_scale, what)
        except InputError as e:
            raise HTTPProblem(422, e.what, e.problem, e.fix) from None
        if max(sw, sh) > config.max_size or sw * sh > config.max_megapixels * 1e6:
            raise HTTPProblem(413, what, f"would be processed at {sw}x{sh} (style_scale "
                              f"{s.style_scale:g}), over this server's --max-size "
                              f"{config.max_size}", "ask for a smaller style_scale or size")


def _name(up: UploadFile, fallback: str) -> str:
    from pathlib import PurePath

    return PurePath(up.filename or fallback).name[:200] or fallback


def _check_job(files: dict[str, bytes], names: dict, s: Settings) -> int:
    """Everything the loop would check, before the job is queued; the output's pixels."""
    from ..transfer import check_inputs

    try:
        content = images.load_image(files["content"], name=names["content"])
        styles = [images.load_image(files[f"style-{i}"], name=n)
                  for i, n in enumerate(names["styles"])]
        masks = None if names["masks"] is None else [
            images.load_mask(files[f"mask-{i}"], name=n) for i, n in enumerate(names["masks"])]
        checked = check_inputs(content, styles, s, masks=masks)
    except InputError as e:
        raise HTTPProblem(422, e.what, e.problem, e.fix) from None
    except Exception as e:  # noqa: BLE001  a DeviceError on this server, say
        raise HTTPProblem(422, "job", str(e)[:300], "change the settings") from None
    w, h = images.fit_size(*checked.content.size, s.size)
    return w * h


def _check_room(store: Store, runner: Runner, config: ServeConfig, client: str) -> None:
    import shutil

    if runner.count(("queued", "running")) >= config.max_queue:
        raise HTTPProblem(429, "queue", f"is full ({config.max_queue} jobs)", "try again later")
    if runner.count(("queued", "running"), client) >= config.max_per_client:
        raise HTTPProblem(429, "client", f"has {config.max_per_client} jobs waiting or running",
                          "wait for one to end")
    try:
        free = shutil.disk_usage(store.folder).free
    except OSError:
        free = 0
    if free < config.min_free_mb * 2**20:
        raise HTTPProblem(507, "server", f"has {free >> 20} MB free for jobs, under its "
                          f"{config.min_free_mb:g} MB", "try again later; the operator should "
                          "free space under --data")


def _own(runner: Runner, job_id: str, request: Request) -> JobRow:
    """The job, if this client may see it (with tokens on, only the token that made it)."""
    row = runner.get(job_id)
    config: ServeConfig = request.app.state.config
    if row is None or (config.tokens and row.client != request.state.client):
        raise HTTPProblem(404, f"job {job_id}", "no such job", "check the id (jobs expire)")
    return row


def _urls(job_id: str) -> dict[str, str]:
    base = f"/jobs/{job_id}"
    return {"url": base, "events": f"{base}/events", "preview": f"{base}/preview",
            "result": f"{base}/result", "cancel": f"{base}/cancel"}
