"""`brushwork app`: the web app, as a Streamlit server in this very process."""

from __future__ import annotations

import argparse
import os
import sys

from .. import optional
from .common import EXIT_INPUT


def add_parsers(sub) -> None:
    app = sub.add_parser("app", help="start the web app (needs: pip install 'brushwork[app]'); "
                         "--backend ray [--workers N --address ADDR] paints each visitor's run "
                         "on a Ray cluster", add_help=False)
    app.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                     help="passed to streamlit run, e.g. --server.port 8502")


def run(streamlit_args: list[str]) -> int:
    """Become the Streamlit server of the app (this process), on 127.0.0.1 unless told."""
    optional.require("streamlit", "the web app", "app")
    from ..app import SCRIPT, UPLOAD_CAP_MB

    options: dict[str, str] = {}
    ours: dict[str, str] = {}  # brushwork's own options (--backend ...), not Streamlit's
    passed: list[str] = []
    rest = list(streamlit_args)
    while rest:  # options in either --name=value or --name value form
        arg = rest.pop(0)
        if not arg.startswith("--"):
            passed.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if not eq:
            if not rest or rest[0].startswith("--"):
                print(f"brushwork: app: {name} needs a value; e.g. {name}=VALUE",
                      file=sys.stderr)
                return EXIT_INPUT
            value = rest.pop(0)
        if name in BACKEND_OPTIONS:
            ours[name] = value
        else:
            options[name] = value
            passed += [name, value]
    env = _backend_env(ours)  # checked here: a bad value is one line before the server starts
    port = options.get("--server.port", "8501")
    # Only this machine unless asked: the app has no login (README, "Web app").
    address = options.get("--server.address")
    cmd = [sys.executable, "-m", "streamlit", "run", str(SCRIPT),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.maxUploadSize", str(UPLOAD_CAP_MB), "--client.toolbarMode", "minimal",
           *([] if address else ["--server.address", "127.0.0.1"]), *passed]
    host = "localhost" if address in (None, "127.0.0.1", "localhost") else address
    print(f"brushwork: web app at http://{host}:{port}  (Ctrl-C stops it)", flush=True)
    # Become the server (same process): Ctrl-C, SIGTERM and a service manager reach it directly,
    # and no orphaned server is left holding the port.
    os.environ.update(env)
    os.execv(sys.executable, cmd)


# brushwork's options of `brushwork app`; they reach the Streamlit script through the
# environment (Streamlit owns the script's command line).
BACKEND_OPTIONS = {"--backend": "BRUSHWORK_APP_BACKEND", "--workers": "BRUSHWORK_APP_WORKERS",
                   "--threads": "BRUSHWORK_APP_THREADS", "--address": "BRUSHWORK_APP_ADDRESS",
                   "--gpus-per-worker": "BRUSHWORK_APP_GPUS_PER_WORKER"}


def _backend_env(ours: dict[str, str]) -> dict[str, str]:
    from ..errors import InputError

    backend = ours.get("--backend", "local")
    if backend not in ("local", "ray"):
        raise InputError("--backend", f"unknown backend {backend!r}", "choose local or ray")
    if backend == "ray":
        optional.require("ray", "--backend ray", "ray")
    for name in ("--workers", "--threads"):
        if name in ours and not (ours[name].isdigit() and int(ours[name]) >= 1):
            raise InputError(name, f"must be 1 or more, got {ours[name]}", "give e.g. 2")
    if "--gpus-per-worker" in ours:
        try:
            float(ours["--gpus-per-worker"])
        except ValueError:
            raise InputError("--gpus-per-worker", f"must be a number, got "
                             f"{ours['--gpus-per-worker']}", "give e.g. 0.5") from None
    return {BACKEND_OPTIONS[k]: v for k, v in ours.items()}
