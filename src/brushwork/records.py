"""The run record that every brushwork output carries: written here (version, settings, the
inputs' names and SHA-256), and read back as the untrusted input it is.

A PNG, JPEG, WebP or MP4 handed to `info`, `--settings-from` or `--resume`, or found in a batch
or resume folder, may hold anything in its record: JSON nested 100,000 deep, a 5,000-digit
number, a list where a mapping belongs. `parse` bounds the text's size and nesting before
decoding it and then checks the record field by field, so every such file ends as one
`InputError` ("has damaged brushwork settings"), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .version import __version__

if TYPE_CHECKING:
    from .settings import Settings

MAX_RECORD_BYTES = 1 << 20  # a real record is a few kB
MAX_DEPTH = 16  # a real record nests 3 deep
MAX_NUMBER_CHARS = 40  # a float's repr is at most 24 characters
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def file_record(name: str, data: bytes) -> dict[str, str]:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest()}


def run_record(settings: Settings, content: dict[str, str], styles: list[dict[str, str]],
               steps_done: int | None = None, masks: list[dict[str, str]] | None = None) -> dict:
    """What brushwork embeds in an output: version, settings and the inputs' names and hashes
    (the style masks' too, when the run had them)."""
    record = {"version": __version__, "settings": settings.to_dict(), "content": content,
              "styles": styles}
    if masks is not None:
        record["masks"] = masks
    if steps_done is not None:
        record["steps_done"] = steps_done
    return record


def damaged(name: str, why: str = "") -> InputError:
    return InputError(name, "has damaged brushwork settings" + (f" ({why})" if why else ""),
                      "give an output that brushwork wrote")


def parse(text: str | bytes, name: str) -> dict[str, Any]:
    """The record in `text`, checked; InputError naming `name` if it is not a sound record."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if len(text) > MAX_RECORD_BYTES:
        raise damaged(name, f"over {MAX_RECORD_BYTES >> 10} kB")
    if _depth(text) > MAX_DEPTH:
        raise damaged(name, f"nested over {MAX_DEPTH} deep")

    def number(kind):
        def parse_number(s: str):
            if len(s) > MAX_NUMBER_CHARS:
                raise ValueError("number too long")
            return kind(s)
        return parse_number

    def constant(s: str):
        raise ValueError(f"{s} is not a number")

    try:
        record = json.loads(text, parse_int=number(int), parse_float=number(float),
                            parse_constant=constant)
    except RecursionError:
        raise damaged(name, "nested too deep") from None
    except ValueError as e:
        why = str(e) if str(e) in ("number too long",) or str(e).endswith("is not a number") else ""
        raise damaged(name, why) from None
    check(record, name)
    return record


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, without recursion."""
    depth = top = 0
    for c in _STRINGS.sub('""', text):
        if c in "[{":
            depth += 1
            top = max(top, depth)
        elif c in "]}":
            depth -= 1
    return top


def check(record: Any, name: str) -> None:
    """Field by field: what the readers of a record (info, --settings-from, --resume, batch
    reruns, video resume) rely on."""
    from .settings import Settings, VideoSettings

    if not isinstance(record, dict):
        raise damaged(name, f"a {type(record).__name__}, not a record")
    if "settings" in record:
        Settings.from_record(record["settings"], name)
    if "video" in record:
        if not isinstance(record["video"], dict):
            raise damaged(name, "video is not a mapping")
        try:
            VideoSettings.from_dict(record["video"])
        except (InputError, TypeError):
            raise damaged(name, "video settings") from None
    for key in ("steps_done", "frame"):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise damaged(name, f"{key} is not a count")
    for key in ("version", "fps"):
        if key in record and not isinstance(record[key], str):
            raise damaged(name, f"{key} is not text")
    files = [record["content"]] if "content" in record else []
    for key in ("styles", "masks"):
        value = record.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise damaged(name, f"{key} is not a list")
            files += value
    for f in files:
        if not (isinstance(f, dict) and all(isinstance(f.get(k), str) for k in ("name", "sha256"))):
            raise damaged(name, "an input's name or SHA-256 is missing")
    frames = record.get("frames")
    if frames is not None and not (
            isinstance(frames, list) and len(frames) == 2
            and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in frames)):
        raise damaged(name, "frames is not a range")
    for key, value in record.items():  # numbers elsewhere: finite (NaN was refused above)
        if isinstance(value, float) and not math.isfinite(value):
            raise damaged(name, f"{key} is not finite")
