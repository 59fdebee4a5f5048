"""`brushwork serve`: an HTTP API that other programs paint with (`pip install
'brushwork[serve]'`). Jobs live in an embedded SQLite store (`store`), wait in one queue and run
on this process or Ray workers (`runner`); the API (`api`) validates with the same `Settings`
as the CLI and the app. Nothing is imported or started until `create_app` or `run` is called.
"""

from __future__ import annotations

from .config import ServeConfig, read_tokens

__all__ = ["ServeConfig", "read_tokens", "create_app", "run"]


def create_app(config: ServeConfig, backend=None, served_on: str | None = None, store=None):
    from .api import create_app as build

    return build(config, backend, served_on, store)


def run(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C or SIGTERM; running jobs go back in line for the next start."""
    import uvicorn

    backend = None
    if config.backend == "ray":
        from .ray_backend import RayBackend

        backend = RayBackend(config)
    uvicorn.run(create_app(config, backend, served_on=host), host=host, port=port,
                log_level="warning")
