"""What a submission must pass before it is queued, each check before anything costlier: its
place in line (reserved at once, so parallel requests cannot overrun the limits), the settings,
each part's first bytes (a picture of an accepted kind, and the size its header declares), the
request's pixels in all, the paintings' processed sizes, and only then the pictures decoded,
a bounded number of requests at a time.

Memory is bounded by the caps, whatever the bytes: the form parser keeps each part past 1 MB in
a temporary file, a part is opened from that file (its header alone is read to size it), and the
full decode of a request's pictures runs for at most `DECODE_SLOTS` requests at once.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from dataclasses import dataclass, field
from typing import IO, Any

from fastapi import UploadFile

from .. import images
from ..errors import InputError
from ..settings import Settings
from .config import ServeConfig
from .errors import HTTPProblem
from .runner import Runner
from .store import Store

# Requests whose pictures are decoded at once: each holds at most `max_request_megapixels`
# decoded (and one file's bytes), so this bounds what submissions can make the server hold.
DECODE_SLOTS = 2
# A picture file may hold at most this much per pixel (uncompressed 32-bit float RGBA) and this
# much besides (colour profiles, EXIF, thumbnails): beyond is data no pixel needs.
BYTES_PER_PIXEL, SLACK_BYTES = 16, 4 * 2**20


@dataclass
class Places:
    """Places in line held by submissions still being checked, by client. A request reserves
    its place before any slow check, in the same event-loop turn as the count it is checked
    against (no await between), and gives it back when it is queued or refused: twelve parallel
    submissions under --max-per-client 2 get two places, not ten."""

    pending: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.pending.values())

    def reserve(self, store: Store, runner: Runner, config: ServeConfig, client: str) -> None:
        """Hold a place for `client`, or HTTPProblem (429, 507) when there is none."""
        if runner.count(("queued", "running")) + self.total() >= config.max_queue:
            raise HTTPProblem(429, "queue", f"is full ({config.max_queue} jobs)",
                              "try again later")
        mine = runner.count(("queued", "running"), client) + self.pending.get(client, 0)
        if mine >= config.max_per_client:
            raise HTTPProblem(429, "client", f"has {config.max_per_client} jobs waiting or "
                              "running", "wait for one to end")
        check_disk(store, config)
        self.pending[client] = self.pending.get(client, 0) + 1

    def release(self, client: str) -> None:
        left = self.pending.get(client, 0) - 1
        if left > 0:
            self.pending[client] = left
        else:
            self.pending.pop(client, None)


def check_disk(store: Store, config: ServeConfig) -> None:
    try:
        free = shutil.disk_usage(store.folder).free
    except OSError:
        free = 0
    if free < config.min_free_mb * 2**20:
        raise HTTPProblem(507, "server", f"has {free >> 20} MB free for jobs, under its "
                          f"{config.min_free_mb:g} MB", "try again later; the operator should "
                          "free space under --data")


def check_counts(paintings: list, masks: list | None, config: ServeConfig) -> None:
    if len(paintings) > config.max_paintings:
        raise HTTPProblem(413, "paintings", f"{len(paintings)} is over this server's "
                          f"{config.max_paintings}", f"send {config.max_paintings} or fewer")
    if masks and len(masks) != len(paintings):
        raise HTTPProblem(422, "masks", f"{len(masks)} masks for {len(paintings)} paintings",
                          "send one mask per painting, or none")


def settings(text: str, config: ServeConfig) -> Settings:
    """The job's settings from its JSON, within this server's limits."""
    from ..records import parse

    try:  # the bounded parser of records: no depth, length or number bomb
        options = parse(text or "{}", "settings")
    except InputError:
        raise HTTPProblem(422, "settings", "is not a JSON object of settings (malformed, "
                          "nested too deep or too long)", 'send e.g. {"size": 512}') from None
    try:
        s = Settings().with_options(options)
    except InputError as e:
        raise HTTPProblem(422, e.what, e.problem, e.fix) from None
    except Exception:  # noqa: BLE001  a value of a type no field takes
        raise HTTPProblem(422, "settings", "has a value of the wrong type",
                          "see Settings' fields in docs/serving.md") from None
    if s.size > config.max_size:
        raise HTTPProblem(413, "--size", f"{s.size} is over this server's {config.max_size}",
                          f"ask for {config.max_size} or less")
    if s.steps > config.max_steps:
        raise HTTPProblem(413, "--steps", f"{s.steps} is over this server's {config.max_steps}",
                          f"ask for {config.max_steps} or fewer")
    if s.init not in ("content", "noise", "fast") or s.weights != "caffe" or (
            s.max_memory is not None):
        # Each names a file or a resource on the server: not for a client to choose.
        raise HTTPProblem(422, "settings", "init, weights and max_memory are the server's",
                          "leave them out (init may be content, noise or fast)")
    return s


def part_size(up: UploadFile, what: str, config: ServeConfig) -> tuple[int, int]:
    """The size a part's header declares, read from its first bytes (the part stays where the
    form parser spooled it, on disk past 1 MB); HTTPProblem for a part over the byte cap, one
    that is not a picture of an accepted kind, or one that declares too many pixels."""
    from PIL import Image

    f = up.file
    f.seek(0, 2)
    n = f.tell()
    f.seek(0)
    if n > config.max_upload_bytes:
        raise HTTPProblem(413, what, f"is over {config.max_upload_mb:g} MB", "upload a smaller file")
    over = HTTPProblem(413, what, "declares more than this server's "
                       f"{config.max_megapixels:g} megapixels", "downscale it first")
    try:
        with Image.open(f, formats=images.ALLOWED_FORMATS) as im:  # the header alone
            w, h = im.size
    except Image.DecompressionBombError:  # PIL's own alarm: far over any sane limit
        raise over from None
    except Exception:  # noqa: BLE001  not a picture, or a broken header: refused now, unread
        raise HTTPProblem(422, what, f"is not an image brushwork can read (judged from the "
                          f"first bytes of its {n / 2**20:.1f} MB)",
                          f"send a {images.FORMAT_NAMES} file") from None
    finally:
        f.seek(0)
    if w < 1 or h < 1:
        raise HTTPProblem(422, what, f"has no pixels ({w}x{h})",
                          f"send a {images.FORMAT_NAMES} file")
    if w * h > config.max_megapixels * 1e6:
        raise HTTPProblem(413, what, f"{w}x{h} is over this server's {config.max_megapixels:g} "
                          "megapixels", "downscale it first")
    if n > BYTES_PER_PIXEL * w * h + SLACK_BYTES:
        # A valid header followed by megabytes that no pixel needs (trailing bytes, huge
        # metadata): stored and read for nothing.
        raise HTTPProblem(422, what, f"holds {n / 2**20:.1f} MB for {w}x{h} pixels (bytes no "
                          "pixel needs)", "re-export it without extra data")
    return w, h


def check_pixels(sizes: dict[str, tuple[int, int]], s: Settings, config: ServeConfig) -> None:
    """The request's pictures in all, and each painting as the run will process it (after
    style_scale), within this server's limits, from the declared sizes alone."""
    from ..prepare import checked_style_size

    total = sum(w * h for w, h in sizes.values())
    if total > config.max_request_megapixels * 1e6:
        raise HTTPProblem(413, "request", f"its pictures hold {total / 1e6:.0f} megapixels in "
                          f"all, over this server's {config.max_request_megapixels:g}",
                          "send smaller or fewer pictures")
    w, h = sizes["content"]
    out = images.fit_size(w, h, s.size)
    for key, (pw, ph) in sizes.items():
        if not key.startswith("style-"):
            continue
        what = f"painting {int(key[6:]) + 1}"
        try:  # a shape the loop cannot use, like a photo's: 422
            sw, sh = checked_style_size((pw, ph), out, s.style_scale, what)
        except InputError as e:
            raise HTTPProblem(422, e.what, e.problem, e.fix) from None
        if max(sw, sh) > config.max_size or sw * sh > config.max_megapixels * 1e6:
            raise HTTPProblem(413, what, f"would be processed at {sw}x{sh} (style_scale "
                              f"{s.style_scale:g}), over this server's --max-size "
                              f"{config.max_size}", "ask for a smaller style_scale or size")


def name(up: UploadFile, fallback: str) -> str:
    from pathlib import PurePath

    return PurePath(up.filename or fallback).name[:200] or fallback


def check_job(files: dict[str, IO[bytes]], names: dict[str, Any], s: Settings) -> int:
    """Everything the loop would check, before the job is queued; the output's pixels."""
    from ..transfer import check_inputs

    try:
        content = images.load_image(files["content"], name=names["content"])
        styles = [images.load_image(files[f"style-{i}"], name=n)
                  for i, n in enumerate(names["styles"])]
        masks = None if names["masks"] is None else [
            images.load_mask(files[f"mask-{i}"], name=n) for i, n in enumerate(names["masks"])]
        checked = check_inputs(content, styles, s, masks=masks)
    except InputError as e:
        raise HTTPProblem(422, e.what, e.problem, e.fix) from None
    except Exception as e:  # noqa: BLE001  a DeviceError on this server, say
        raise HTTPProblem(422, "job", str(e)[:300], "change the settings") from None
    finally:
        for f in files.values():
            f.seek(0)
    w, h = images.fit_size(*checked.content.size, s.size)
    return w * h


class Submissions:
    """Submissions from their form to the queue: places reserved at once, pictures decoded at
    most `DECODE_SLOTS` requests at a time."""

    def __init__(self, store: Store, runner: Runner, config: ServeConfig) -> None:
        self.store, self.runner, self.config = store, runner, config
        self.places = Places()
        self._decode = asyncio.Semaphore(DECODE_SLOTS)

    async def submit(self, client: str, photo: UploadFile, paintings: list[UploadFile],
                     masks: list[UploadFile] | None, settings_text: str) -> str:
        """Check and queue a job; its id, or HTTPProblem."""
        config = self.config
        check_counts(paintings, masks, config)
        s = settings(settings_text, config)
        self.places.reserve(self.store, self.runner, config, client)  # before any await
        try:
            parts = [(photo, "photo", "content")]
            parts += [(up, f"painting {i + 1}", f"style-{i}") for i, up in enumerate(paintings)]
            parts += [(up, f"mask {i + 1}", f"mask-{i}") for i, up in enumerate(masks or ())]
            sizes = {key: part_size(up, what, config) for up, what, key in parts}
            check_pixels(sizes, s, config)
            files = {key: up.file for up, _, key in parts}
            names: dict[str, Any] = {
                "content": name(photo, "photo"),
                "styles": [name(up, f"painting {i + 1}") for i, up in enumerate(paintings)],
                "masks": None if not masks else [name(up, f"mask {i + 1}")
                                                 for i, up in enumerate(masks)]}
            async with self._decode:
                pixels = await asyncio.to_thread(check_job, files, names, s)
            try:
                return await asyncio.to_thread(self.runner.submit, client, s, names, files, pixels)
            except (OSError, sqlite3.Error) as e:  # the disk filled as the job was written
                raise HTTPProblem(507, "server", "could not store the job (" + (
                    getattr(e, "strerror", None) or str(e))[:100] + ")", "try again later; the "
                    "operator should free space under --data") from None
        finally:
            self.places.release(client)
