"""The HTTP API's routes (FastAPI): submit a job, follow it (JSON and server-sent events), fetch
its preview and result, cancel it; and `create_app`, which puts them behind the guards (who may
ask, how much they may send). Settings are validated by `Settings` itself, so a bad value gets
the CLI's words, as HTTP 422 with a JSON body naming the field and the fix (`errors`); what a
submission must pass before it is queued is `uploads`. The OpenAPI document is at /openapi.json
and the interactive docs at /docs, served from this machine (no CDN).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline

from ..settings import Settings
from ..version import __version__
from .config import LOOPBACK_HOSTS, ServeConfig, token_hash
from .errors import HTTPProblem, install_handlers, problem_response
from .runner import Runner
from .store import ENDED, JobRow, Store
from .uploads import Submissions


def create_app(config: ServeConfig, backend=None, served_on: str | None = None,
               store: Store | None = None) -> FastAPI:
    """The API for `config`; `backend` (default: this process) paints the jobs; `served_on`
    is the address it listens on (accepted as a Host name besides the loopback ones); `store`
    (default: one under `config.data`) keeps the jobs."""
    from .runner import LocalBackend

    store = store or Store(config.data)
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
    app.state.submissions = Submissions(store, runner, config)
    app.state.streams = {}  # open event streams per client
    install_handlers(app)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """Who may ask (Host, Origin, tokens) and the request's declared size, before anything
        of its body is read."""
        try:
            _check_host_and_origin(request, config, served_on)
            request.state.client = _client(request, config)
            try:
                declared = int(request.headers.get("content-length") or 0)
            except ValueError:
                raise HTTPProblem(400, "Content-Length", "is not a number",
                                  "send a valid request") from None
            if declared > config.max_request_bytes:
                raise HTTPProblem(413, "request", _over(declared, config), "send smaller files")
        except HTTPProblem as e:
            return problem_response(e)
        return await call_next(request)

    app.include_router(router)
    # Outermost: the body's bytes are counted as they arrive, whatever the transfer encoding
    # (a chunked upload declares no length), and the request is answered 413 at the cap.
    app.add_middleware(BodyLimit, config=config)
    return app


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

    Checked in order, each before anything costlier (brushwork.serve.uploads): the counts, the
    settings, a place in line, every part's first bytes and declared size, the request's pixels
    in all, the paintings' processed sizes, and only then the pictures themselves."""
    store, runner, _ = _state(request)
    job_id = await request.app.state.submissions.submit(request.state.client, photo, paintings,
                                                        masks, settings)
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
    store, runner, config = _state(request)
    _own(runner, job_id, request)
    slot = StreamSlot(request.app.state.streams, request.state.client,
                      config.max_streams_per_client)

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
            slot.release()

    return _SlotResponse(slot, stream(), ping=15)


class StreamSlot:
    """One open event stream of a client, counted from the handler (429 past the cap) and
    given back exactly once: by the stream's end, or by the response however it ends, even
    when the client left before the stream's first byte (the generator then never runs)."""

    def __init__(self, streams: dict[str, int], client: str, cap: int) -> None:
        if streams.get(client, 0) >= cap:
            raise HTTPProblem(429, "events", f"this client has {cap} streams open",
                              "close one, or poll GET /jobs/ID")
        streams[client] = streams.get(client, 0) + 1
        self.streams, self.client, self.held = streams, client, True

    def release(self) -> None:
        if self.held:
            self.held = False
            left = self.streams.get(self.client, 1) - 1
            if left > 0:
                self.streams[self.client] = left
            else:
                self.streams.pop(self.client, None)


def _SlotResponse(slot: StreamSlot, content, **kw):
    """An EventSourceResponse that gives `slot` back whenever it ends."""
    from sse_starlette.sse import EventSourceResponse

    class Response(EventSourceResponse):
        async def __call__(self, scope, receive, send) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                slot.release()

    try:
        return Response(content, **kw)
    except BaseException:
        slot.release()
        raise

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
    and a browser's Origin, when sent, must be this server's own (scheme, name and port) or
    --allow-origin, so that no other page, not even one on another local port, can make a
    visitor's browser paint here (a form POST needs no preflight)."""
    from urllib.parse import urlsplit

    allowed = LOOPBACK_HOSTS | config.allow_hosts | ({served_on} if served_on else set())
    host = request.headers.get("host", "")
    name = urlsplit(f"//{host}").hostname or ""
    if name not in allowed and f"[{name}]" not in allowed:
        raise HTTPProblem(403, "Host", f"{host[:100]!r} is not a name of this server",
                          "use http://127.0.0.1:PORT, or start the server with --allow-host NAME")
    origin = request.headers.get("origin")
    if origin is not None and origin not in config.allow_origins and not _own_origin(
            origin, request, allowed):
        raise HTTPProblem(403, "Origin", f"{origin[:100]!r} may not use this server",
                          "open the page this server serves, or start the server with "
                          "--allow-origin ORIGIN to let that page use it")


def _own_origin(origin: str, request: Request, names: frozenset[str] | set[str]) -> bool:
    """Whether a page's `origin` is this server's own: its scheme, one of its host `names`, and
    the port it listens on. A name alone is not enough: a dev server or another tool's web UI on
    another local port is another origin, and must not spend this machine."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return False
    server = request.scope.get("server") or (None, None)
    own_port = server[1] or request.url.port or {"http": 80, "https": 443}[request.url.scheme]
    host = parts.hostname or ""
    return (parts.scheme == request.url.scheme and port == own_port
            and (host in names or f"[{host}]" in names))


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
