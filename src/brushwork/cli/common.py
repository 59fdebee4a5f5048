"""What every command of the CLI shares: exit codes, the parser class, options built from
`Settings`, the settings a command paints with (a stored record, then the typed options), reading
an input with its record, interruption (Ctrl-C and SIGTERM alike) and the one progress driver.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .. import images
from ..errors import InputError
from ..records import file_record
from ..settings import Settings, field_type, flag

if TYPE_CHECKING:
    from PIL import Image

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
DEFAULT_SAVE_EVERY = 200
# Settings that do not change the picture's plan: a resumed run may take them from the command line.
RESUME_MAY_CHANGE = ("device", "tile", "max_memory")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line, not usage + error
        self.exit(EXIT_INPUT, f"brushwork: {message}; see '{self.prog} --help'\n")


def add_settings_options(parser: argparse.ArgumentParser, cls: type = Settings) -> None:
    """One option per field of `cls` (Settings, VideoSettings). Defaults are SUPPRESS so that
    only what the user typed overrides the dataclass (or --settings-from); the help shows the
    dataclass default."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        group = groups.setdefault(meta["group"], parser.add_argument_group(f"{meta['group']} settings"))
        kind, is_tuple = field_type(f.name, cls)
        nargs = "+" if is_tuple else None
        default = f.default if f.default is not None else "auto"
        if isinstance(default, tuple):
            default = " ".join(map(str, default)) or "equal"
        choices = meta.get("choices")
        metavar = None
        if choices and (meta.get("path_ok") or meta.get("pattern")):
            metavar = "{" + ",".join(choices) + ("," + meta["pattern"] if meta.get("pattern") else ",PATH") + "}"
            choices = None
        if f.name == "size":
            kind = parse_size
        elif f.name == "max_memory":
            kind = parse_gigabytes
        elif kind in (int, float) and type(None) in typing.get_args(
                typing.get_type_hints(cls)[f.name]):
            kind = optional(kind)  # `auto`, the help's word for unset, unsets it
        group.add_argument(flag(f.name), dest=f.name, type=kind, nargs=nargs, choices=choices,
                           metavar=metavar, default=argparse.SUPPRESS,
                           help=f"{meta['help']} (default: {default})".replace("%", "%%"))


def add_backend_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray workers, on this machine or a cluster "
                        "(default: local)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="Ray workers (default: one per CPU the cluster has)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="F",
                   help="GPUs each Ray worker holds; 0.5 puts two on a GPU (default: 0)")
    g.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads each worker paints with (default: the CPUs shared out)")
    g.add_argument("--address", metavar="ADDR",
                   help="join a running Ray cluster (default: $RAY_ADDRESS, else start a local "
                        "one for this command)")


def check_workers(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be 1 or more, got {args.workers}", "give e.g. 2")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads", f"must be 1 or more, got {args.threads}", "give e.g. 1")
    if not 0 <= args.gpus_per_worker <= 64:
        raise InputError("--gpus-per-worker", f"must be from 0 to 64, got {args.gpus_per_worker}",
                         "give e.g. 1 or 0.5")


def parse_size(text: str) -> int | str:
    """--size takes a number or `auto` (resolved once the photo and device are known)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: give a number of pixels or auto")


def optional(kind: type):
    """A number, or `auto` for the field's unset (automatic) value."""
    def parse(text: str):
        if text.strip().lower() == "auto":
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: give a number or "
                                             "auto") from None
    parse.__name__ = kind.__name__
    return parse


def parse_gigabytes(text: str) -> float:
    """--max-memory takes GB: 4, 4GB, 4.5G or 512MB."""
    t = text.strip().upper().replace(" ", "").removesuffix("B")
    scale = 1 / 1024 if t.endswith("M") else 1.0
    try:
        return float(t.rstrip("MG")) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid memory size {text!r}: give GB such as 4, 4GB "
                                         "or 512MB")


def typed(args: argparse.Namespace, cls: type = Settings) -> dict[str, Any]:
    """The settings the user typed (options default to SUPPRESS, so only typed ones are set)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names}


def settings_from(args: argparse.Namespace) -> Settings:
    """Two steps: the base (today's defaults, or the record of --settings-from read with the
    meaning it had when written), then the options typed on the command line over it."""
    base = Settings()
    if getattr(args, "settings_from", None):
        name = f"--settings-from {args.settings_from}"
        record = images.read_metadata(args.settings_from, name)
        if "settings" not in record:
            raise InputError(name, "has damaged brushwork settings (no settings)",
                             "give an output that brushwork wrote")
        base = Settings.from_record(record["settings"], name)
    return base.with_options(typed(args))


def read_image(path: str, what: str, mask: bool = False) -> tuple[Image.Image, dict[str, str]]:
    """An input picture (or mask) and its metadata record (name and SHA-256), from one read of
    the file."""
    data = images.read_file(path, f"{what} {path}")
    load = images.load_mask if mask else images.load_image
    return load(data, name=f"{what} {path}"), file_record(Path(path).name, data)


def shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def say(quiet: bool):
    """A one-line message function: to stderr, or nowhere with -q."""
    return (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM (a closed terminal, a job scheduler) is handled like Ctrl-C inside: both raise
    KeyboardInterrupt, so each command keeps what it finished the same way for both."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def progress(total: int | None, quiet: bool, unit: str = "step", initial: int = 0):
    """The one progress bar of every command (steps, frames, jobs): on a terminal only, so a
    log or a pipe gets one line per event from the command instead."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True, file=sys.stderr,
                disable=quiet or not sys.stderr.isatty())
