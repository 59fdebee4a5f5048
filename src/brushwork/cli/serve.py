"""`brushwork serve`: the HTTP API, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import optional
from ..serve.config import ServeConfig
from .common import add_backend_options

_FIELDS = {f.name: f.default for f in dataclasses.fields(ServeConfig)}


def add_parsers(sub) -> None:
    sv = sub.add_parser("serve", help="an HTTP API for other programs (needs: pip install "
                        "'brushwork[serve]')")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: %(default)s, this machine only; "
                         "0.0.0.0 serves the network: use --token-file and TLS, see "
                         "docs/serving.md)")
    sv.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    sv.add_argument("--data", default=str(_FIELDS["data"]), metavar="DIR",
                    help="folder for the job store and its files (default: %(default)s)")
    sv.add_argument("--token-file", metavar="FILE",
                    help="accept only requests with 'Authorization: Bearer TOKEN', one TOKEN "
                         "a line in FILE (default: no tokens)")
    limits = sv.add_argument_group("limits")
    for name, kind, help_ in (
            ("max_upload_mb", float, "each uploaded file, in MB"),
            ("max_megapixels", float, "each uploaded picture, read from its header"),
            ("max_size", int, "largest size a job may ask for"),
            ("max_steps", int, "most steps a job may ask for"),
            ("max_queue", int, "jobs waiting or running, all clients"),
            ("max_per_client", int, "jobs waiting or running for one client"),
            ("expire_hours", float, "ended jobs and their results are removed after this")):
        limits.add_argument("--" + name.replace("_", "-"), type=kind, default=_FIELDS[name],
                            help=f"{help_} (default: %(default)s)")
    add_backend_options(sv)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from .common import check_workers

    for module in ("fastapi", "uvicorn", "fastapi_offline", "sse_starlette"):
        optional.require(module, "brushwork serve", "serve")
    from ..serve import read_tokens, run as serve

    check_workers(args)
    if not 0 < args.port < 65536:
        raise InputError("--port", f"must be from 1 to 65535, got {args.port}", "give e.g. 8000")
    limits = {k: getattr(args, k) for k in ("max_upload_mb", "max_megapixels", "max_size",
                                            "max_steps", "max_queue", "max_per_client",
                                            "expire_hours")}
    for name, value in limits.items():
        if value <= 0:
            raise InputError("--" + name.replace("_", "-"), f"must be above 0, got {value}",
                             "give a positive number")
    config = ServeConfig(data=Path(args.data), tokens=read_tokens(args.token_file)
                         if args.token_file else frozenset(), backend=args.backend,
                         workers=args.workers, threads=args.threads,
                         gpus_per_worker=args.gpus_per_worker, address=args.address, **limits)
    print(f"brushwork: serving http://{args.host}:{args.port} (docs at /docs; Ctrl-C stops)"
          + ("" if config.tokens else "; no tokens: anyone who reaches the port may paint"),
          flush=True)
    serve(config, args.host, args.port)
    return 0
