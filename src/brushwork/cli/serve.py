"""`brushwork serve`: the HTTP API, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .. import optional
from ..serve.config import LOOPBACK_HOSTS, ServeConfig, default_data
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
    sv.add_argument("--data", default=None, metavar="DIR",
                    help=f"folder for the job store and its files (default: {default_data()}, "
                         "the per-user data folder)")
    sv.add_argument("--token-file", metavar="FILE",
                    help="accept only requests with 'Authorization: Bearer TOKEN', one TOKEN "
                         "a line in FILE (default: no tokens)")
    sv.add_argument("--no-auth", action="store_true",
                    help="serve beyond this machine (--host other than loopback) without "
                         "tokens: anyone who reaches the port may paint")
    sv.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="a Host name clients may use besides 127.0.0.1, localhost and the "
                         "--host address (repeatable): other names are refused (403), which "
                         "stops DNS rebinding")
    sv.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                    help="a web page origin (e.g. https://example.org) allowed to send "
                         "requests (repeatable); other pages' requests are refused (403)")
    limits = sv.add_argument_group("limits")
    for name, kind, help_ in (
            ("max_upload_mb", float, "each uploaded file, in MB"),
            ("max_megapixels", float, "each uploaded picture, read from its header"),
            ("max_request_megapixels", float, "all the pictures of one request together"),
            ("max_paintings", int, "paintings in one job (and masks, one per painting)"),
            ("max_size", int, "largest size a job may ask for, the paintings' processed size "
                              "included"),
            ("max_steps", int, "most steps a job may ask for"),
            ("max_queue", int, "jobs waiting or running, all clients"),
            ("max_per_client", int, "jobs waiting or running for one client"),
            ("expire_hours", float, "ended jobs and their results are removed after this"),
            ("min_free_mb", float, "new jobs are refused (507) below this free space under "
                                   "--data"),
            ("max_streams_per_client", int, "open /events streams for one client")):
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
    limits = {k: getattr(args, k) for k in LIMITS}
    for name, value in limits.items():
        if value <= 0 and name != "min_free_mb":
            raise InputError("--" + name.replace("_", "-"), f"must be above 0, got {value}",
                             "give a positive number")
    data = _data_folder(Path(args.data) if args.data else default_data())
    tokens = read_tokens(args.token_file) if args.token_file else frozenset()
    loopback = args.host in LOOPBACK_HOSTS
    if not loopback and not tokens and not args.no_auth:
        raise InputError(f"--host {args.host}", "serves beyond this machine without tokens",
                         "add --token-file FILE, or --no-auth to let anyone who reaches the "
                         "port paint")
    config = ServeConfig(data=data, tokens=tokens, backend=args.backend,
                         workers=args.workers, threads=args.threads,
                         gpus_per_worker=args.gpus_per_worker, address=args.address,
                         allow_hosts=frozenset(args.allow_host),
                         allow_origins=frozenset(args.allow_origin), **limits)
    print(f"brushwork: serving http://{args.host}:{args.port} (docs at /docs; Ctrl-C stops); "
          f"jobs in {data}", flush=True)
    if not tokens:
        print("brushwork: WARNING: no tokens, and serving " + (
            "this machine only: any program on it may paint" if loopback else
            f"{args.host}: ANYONE WHO REACHES PORT {args.port} MAY PAINT (--no-auth)"),
            file=sys.stderr, flush=True)
    serve(config, args.host, args.port)
    return 0


LIMITS = ("max_upload_mb", "max_megapixels", "max_request_megapixels", "max_paintings",
          "max_size", "max_steps", "max_queue", "max_per_client", "expire_hours", "min_free_mb",
          "max_streams_per_client")


def _data_folder(path: Path) -> Path:
    """--data made (with its parents) and checked writable, or one line naming the fix."""
    from ..errors import InputError

    if path.exists() and not path.is_dir():
        raise InputError(f"--data {path}", "is a file", "give a folder (it is made if missing)")
    try:
        (path / "jobs").mkdir(parents=True, exist_ok=True)
        probe = path / ".brushwork-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"--data {path}", f"cannot be written ({e.strerror or e})",
                         "give a folder you may write to") from None
    return path
