"""`brushwork info`: the record an output carries (a picture or an MP4), checked, as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import images
from ..errors import InputError


def add_parsers(sub) -> None:
    info = sub.add_parser("info", help="print the settings embedded in a brushwork output")
    info.add_argument("image")


def run(args: argparse.Namespace) -> int:
    print(json.dumps(read(args.image), indent=2, ensure_ascii=False))
    return 0


def read(path: str) -> dict:
    """The record of an output: from a picture's text chunk, or an MP4's comment tag."""
    if Path(path).suffix.lower() in (".mp4", ".mov"):
        from ..videoio import read_record

        record = read_record(path, path)
        if record is None:
            raise InputError(path, "carries no brushwork settings", "give a brushwork output")
        return record
    return images.read_metadata(path)
