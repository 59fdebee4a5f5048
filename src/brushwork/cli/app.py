"""`brushwork app`: the web app, as a Streamlit server in this very process."""

from __future__ import annotations

import argparse
import os
import sys

from .. import optional
from .common import EXIT_INPUT


def add_parsers(sub) -> None:
    app = sub.add_parser("app", help="start the web app (needs: pip install 'brushwork[app]')",
                         add_help=False)
    app.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                     help="passed to streamlit run, e.g. --server.port 8502")


def run(streamlit_args: list[str]) -> int:
    """Become the Streamlit server of the app (this process), on 127.0.0.1 unless told."""
    optional.require("streamlit", "the web app", "app")
    from ..app import MAX_UPLOAD_MB, SCRIPT

    options: dict[str, str] = {}
    rest = list(streamlit_args)
    while rest:  # Streamlit's --server.* options, in either --name=value or --name value form
        arg = rest.pop(0)
        if not arg.startswith("--"):
            continue
        name, eq, value = arg.partition("=")
        if not eq:
            if not rest or rest[0].startswith("--"):
                print(f"brushwork: app: {name} needs a value; e.g. {name}=VALUE",
                      file=sys.stderr)
                return EXIT_INPUT
            value = rest.pop(0)
        options[name] = value
    port = options.get("--server.port", "8501")
    # Only this machine unless asked: the app has no login (README, "Web app").
    address = options.get("--server.address")
    cmd = [sys.executable, "-m", "streamlit", "run", str(SCRIPT),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--client.toolbarMode", "minimal",
           *([] if address else ["--server.address", "127.0.0.1"]), *streamlit_args]
    host = "localhost" if address in (None, "127.0.0.1", "localhost") else address
    print(f"brushwork: web app at http://{host}:{port}  (Ctrl-C stops it)", flush=True)
    # Become the server (same process): Ctrl-C, SIGTERM and a service manager reach it directly,
    # and no orphaned server is left holding the port.
    os.execv(sys.executable, cmd)
