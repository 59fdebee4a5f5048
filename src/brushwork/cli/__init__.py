"""The `brushwork` command line: one module per command (stylize and demo, video, batch, info,
score, serve, app), sharing `common` (exit codes, options built from `Settings`, interruption,
the progress driver). Every problem with the input ends as one line on stderr and exit status 2;
Ctrl-C and SIGTERM keep what was painted and exit 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import BrushworkError
from ..version import __version__
from . import app, batch, info, krita, score, serve, stylize, video
from .common import EXIT_INPUT, Parser

COMMANDS = {"stylize": stylize, "demo": stylize, "video": video, "batch": batch, "info": info,
            "score": score, "serve": serve, "krita-plugin": krita}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="brushwork", description="Neural style transfer (Gatys et al.).")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (stylize, video, batch, info, score, serve, krita, app):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["app"]:  # everything after `app` belongs to streamlit
            return app.run(argv[1:])
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help, --version and usage errors: argparse has printed them
            return int(e.code or 0)
        return COMMANDS[args.command].run(args)
    except BrushworkError as e:
        print(f"brushwork: {e}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `brushwork info out.png | head`: the reader left, no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
