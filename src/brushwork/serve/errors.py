"""The API's one error shape, {"error": {"input", "problem", "fix"}, "message"}, and the handlers
that give FastAPI's and Starlette's own answers the same shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class HTTPProblem(Exception):
    """An error answered as JSON: {"error": {"input", "problem", "fix"}, "message"}."""

    def __init__(self, status: int, what: str, problem: str, fix: str) -> None:
        self.status, self.what, self.problem, self.fix = status, what, problem, fix
        super().__init__(f"{what}: {problem}; {fix}")


def problem_response(e: HTTPProblem) -> JSONResponse:
    """The one error shape: {"error": {"input", "problem", "fix"}, "message"}."""
    return JSONResponse({"error": {"input": e.what, "problem": e.problem, "fix": e.fix},
                         "message": str(e)}, status_code=e.status)


def install_handlers(app: FastAPI) -> None:
    """Every error the app can answer, in the one shape, never a traceback."""

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, e: HTTPProblem) -> JSONResponse:
        return problem_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        """FastAPI's and Starlette's own answers (an unknown route, a method not allowed, a
        malformed multipart body, too many files or a field over 1 MB) in the same shape."""
        words = {404: ("route", "no such route", "see /docs for the routes"),
                 405: ("method", f"{request.method} is not allowed here", "see /docs"),
                 400: ("request", str(e.detail).lower(), "send a multipart form: photo, "
                       "paintings (and masks) as files and settings as JSON")}
        what, text, fix = words.get(e.status_code, ("request", str(e.detail).lower(), "see /docs"))
        return problem_response(HTTPProblem(e.status_code, what, text, fix))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        """A bug or a broken disk: still the one shape, never a traceback to the client."""
        return problem_response(HTTPProblem(
            500, "server", f"failed ({type(e).__name__})", "try again; if it persists, tell "
            "the operator (the server's log has the details)"))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, e: RequestValidationError) -> JSONResponse:
        """FastAPI's own checks (a missing form field, say), in the same one-line form."""
        first = e.errors()[0] if e.errors() else {}
        field = str((first.get("loc") or ["request"])[-1])
        return problem_response(HTTPProblem(
            422, field, str(first.get("msg", "is malformed")).lower(),
            "send photo, paintings (and masks) as files and settings as JSON in a multipart form"))
