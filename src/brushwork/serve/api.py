"""The HTTP API (FastAPI): submit a job, follow it (JSON and server-sent events), fetch its
preview and result, cancel it. Settings are validated by `Settings` itself, so a bad value gets
the CLI's words, as HTTP 422 with a JSON body naming the field and the fix. The OpenAPI document
is at /openapi.json and the interactive docs at /docs, served from this machine (no CDN).
"""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from .. import images
from ..errors import InputError
from ..settings import Settings
from ..version import __version__
from .config import ServeConfig, token_hash
from .runner import Runner
from .store import ENDED, JobRow, Store


class HTTPProblem(Exception):
    """An error answered as JSON: {"error": {"input", "problem", "fix"}, "message"}."""

    def __init__(self, status: int, what: str, problem: str, fix: str) -> None:
        self.status, self.what, self.problem, self.fix = status, what, problem, fix
        super().__init__(f"{what}: {problem}; {fix}")


def create_app(config: ServeConfig, backend=None) -> FastAPI:
    """The API for `config`; `backend` (default: this process) paints the jobs."""
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

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, e: HTTPProblem) -> JSONResponse:
        return JSONResponse({"error": {"input": e.what, "problem": e.problem, "fix": e.fix},
                             "message": str(e)}, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, e: RequestValidationError) -> JSONResponse:
        """FastAPI's own checks (a missing form field, say), in the same one-line form."""
        first = e.errors()[0] if e.errors() else {}
        field = str((first.get("loc") or ["request"])[-1])
        return await problem(request, HTTPProblem(
            422, field, str(first.get("msg", "is malformed")).lower(),
            "send photo, paintings (and masks) as files and settings as JSON in a multipart form"))

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """Tokens (when on) and the request's declared size, before anything is read."""
        try:
            client = _client(request, config)
            request.state.client = client
            declared = int(request.headers.get("content-length") or 0)
            limit = config.max_upload_bytes * 12  # a photo, paintings and masks
            if declared > limit:
                raise HTTPProblem(413, "request", f"is {declared >> 20} MB, over the "
                                  f"{limit >> 20} MB this server takes", "send smaller files")
        except HTTPProblem as e:
            return await problem(request, e)
        return await call_next(request)

    app.include_router(router)
    return app


router = APIRouter()


def _state(request: Request) -> tuple[Store, Runner, ServeConfig]:
    st = request.app.state
    return st.store, st.runner, st.config


@router.get("/health")
def health() -> dict:
    return {"ok": True, "version": __version__}

@router.post("/jobs", status_code=201)
async def submit(request: Request, photo: UploadFile = File(...),
                 paintings: list[UploadFile] = File(...),
                 masks: list[UploadFile] | None = File(None),
                 settings: str = Form("{}")) -> dict:
    """Queue a job: a photo, one or more paintings (and one mask per painting, optional),
    and settings as a JSON object of `Settings` fields (unset ones keep their defaults)."""
    store, runner, config = _state(request)
    client = request.state.client
    s = _settings(settings, config)
    files = {"content": await _upload(photo, "photo", config)}
    names: dict[str, Any] = {"content": _name(photo, "photo"), "styles": [], "masks": None}
    for i, up in enumerate(paintings):
        files[f"style-{i}"] = await _upload(up, f"painting {i + 1}", config)
        names["styles"].append(_name(up, f"painting {i + 1}"))
    if masks:
        names["masks"] = []
        for i, up in enumerate(masks):
            files[f"mask-{i}"] = await _upload(up, f"mask {i + 1}", config, mask=True)
            names["masks"].append(_name(up, f"mask {i + 1}"))
    pixels = await asyncio.to_thread(_check_job, files, names, s)
    _check_room(store, config, client)
    job_id = runner.submit(client, s, names, files, pixels)
    return {"id": job_id, **_urls(job_id)}

@router.get("/jobs/{job_id}")
def status(job_id: str, request: Request) -> dict:
    """The job: queued (place in line, estimated start), running (step, losses, estimated
    end), done, failed (with its reason) or cancelled."""
    store, runner, _ = _state(request)
    return {**runner.status(_own(store, job_id, request)), **_urls(job_id)}

@router.get("/jobs/{job_id}/events")
async def events(job_id: str, request: Request):
    """Server-sent events: the job's state each time it changes, the last one ended."""
    from sse_starlette.sse import EventSourceResponse

    store, runner, _ = _state(request)
    _own(store, job_id, request)

    async def stream():
        version, last = -1, None
        while True:
            row = store.get(job_id)
            if row is None:
                return
            state = runner.status(row)
            shown = {k: v for k, v in state.items() if k not in ("estimated_start", "estimated_end")}
            if shown != last:
                last = shown
                yield {"event": state["state"], "data": json.dumps(state)}
            if row.state in ENDED:
                return
            if await request.is_disconnected():
                return
            version = await asyncio.to_thread(runner.wait, version, 1.0)

    return EventSourceResponse(stream(), ping=15)

@router.get("/jobs/{job_id}/preview")
def preview(job_id: str, request: Request) -> Response:
    """The latest preview of a running job (the best picture so far)."""
    store, _, _ = _state(request)
    _own(store, job_id, request)
    data = store.read(job_id, "preview.png") or store.read(job_id, "result.png")
    if data is None:
        raise HTTPProblem(404, f"job {job_id}", "has no preview yet",
                          "ask again once it is running")
    return Response(data, media_type="image/png")

@router.get("/jobs/{job_id}/result")
def result(job_id: str, request: Request) -> Response:
    """The picture, a PNG carrying its settings record like any brushwork output."""
    store, _, _ = _state(request)
    row = _own(store, job_id, request)
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
    _own(store, job_id, request)
    runner.cancel(job_id)
    return {**runner.status(store.get(job_id)), **_urls(job_id)}


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


def _settings(text: str, config: ServeConfig) -> Settings:
    try:
        options = json.loads(text or "{}")
    except ValueError:
        raise HTTPProblem(422, "settings", "is not JSON", 'send e.g. {"size": 512}') from None
    try:
        s = Settings().with_options(options)
    except InputError as e:
        raise HTTPProblem(422, e.what, e.problem, e.fix) from None
    if s.size > config.max_size:
        raise HTTPProblem(413, "--size", f"{s.size} is over this server's {config.max_size}",
                          f"ask for {config.max_size} or less")
    if s.steps > config.max_steps:
        raise HTTPProblem(413, "--steps", f"{s.steps} is over this server's {config.max_steps}",
                          f"ask for {config.max_steps} or fewer")
    if s.init not in ("content", "noise") or s.weights != "caffe" or s.max_memory is not None:
        # Each names a file or a resource on the server: not for a client to choose.
        raise HTTPProblem(422, "settings", "init, weights and max_memory are the server's",
                          "leave them out (init may be content or noise)")
    return s


async def _upload(up: UploadFile, what: str, config: ServeConfig, mask: bool = False) -> bytes:
    """The upload's bytes, refused past the size limit or when its header declares too many
    pixels (both before the picture is decoded)."""
    data = await up.read(config.max_upload_bytes + 1)
    if len(data) > config.max_upload_bytes:
        raise HTTPProblem(413, what, f"is over {config.max_upload_mb:g} MB", "upload a smaller file")
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception:  # noqa: BLE001  not a picture: load_image below says which way
        w = h = 0
    if w * h > config.max_megapixels * 1e6:
        raise HTTPProblem(413, what, f"{w}x{h} is over this server's {config.max_megapixels:g} "
                          "megapixels", "downscale it first")
    return data


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
        raise HTTPProblem(422, "job", str(e), "change the settings") from None
    w, h = images.fit_size(*checked.content.size, s.size)
    return w * h


def _check_room(store: Store, config: ServeConfig, client: str) -> None:
    if store.count(("queued", "running")) >= config.max_queue:
        raise HTTPProblem(429, "queue", f"is full ({config.max_queue} jobs)", "try again later")
    if store.count(("queued", "running"), client) >= config.max_per_client:
        raise HTTPProblem(429, "client", f"has {config.max_per_client} jobs waiting or running",
                          "wait for one to end")


def _own(store: Store, job_id: str, request: Request) -> JobRow:
    """The job, if this client may see it (with tokens on, only the token that made it)."""
    row = store.get(job_id)
    config: ServeConfig = request.app.state.config
    if row is None or (config.tokens and row.client != request.state.client):
        raise HTTPProblem(404, f"job {job_id}", "no such job", "check the id (jobs expire)")
    return row


def _urls(job_id: str) -> dict[str, str]:
    base = f"/jobs/{job_id}"
    return {"url": base, "events": f"{base}/events", "preview": f"{base}/preview",
            "result": f"{base}/result", "cancel": f"{base}/cancel"}
