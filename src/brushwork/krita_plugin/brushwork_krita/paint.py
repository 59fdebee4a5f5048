"""What the docker does to a document, without its widgets: the inputs read off the canvas (the
photo, the paintings, the selection as the region), the job on the server, and the result as a
new paint layer above the source. The docker drives these; so does the test in real Krita.

Krita's objects are touched only in `gather` and `place` (Krita's main thread); `run` talks to
the server and may run in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PyQt5.QtGui import QImage

from .client import Client, ServerError


@dataclass
class Painting:
    """A painting to paint with: a file, or a layer of an open document ("use this layer as
    the painting": painters keep their references open)."""

    label: str
    path: str | None = None
    document: Any = None  # krita.Document
    node: Any = None  # krita.Node (None: the document's whole image)
    weight: float = 1.0
    region: Any = None  # a krita.Node of the canvas: where this painting applies (its opaque,
    # light pixels), or None: the selection, else everywhere

    def png(self) -> bytes:
        if self.path is not None:
            image = QImage(self.path)
            if image.isNull():
                raise ServerError(f"{self.label}: not a picture Krita can read; choose a PNG, "
                                  "JPEG or another image file")
            return to_png(image)
        w, h = self.document.width(), self.document.height()
        image = (self.document.projection(0, 0, w, h) if self.node is None
                 else node_image(self.node, 0, 0, w, h))
        return to_png(image)


@dataclass
class Job:
    """One painting of a canvas: everything gathered from Krita, ready to send."""

    document: Any
    source: Any  # the node painted (None: the whole image)
    photo: bytes
    paintings: list[bytes]
    masks: list[bytes] | None
    settings: dict[str, Any]
    name: str  # the new layer's
    size: tuple[int, int] = (0, 0)  # the canvas's width and height
    id: str | None = None
    result: bytes | None = None
    events: list[dict] = field(default_factory=list)


def to_png(image: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def node_image(node, x: int, y: int, w: int, h: int) -> QImage:
    """A node's pixels as an sRGB QImage: its own bytes for RGBA 8-bit, else Krita's render."""
    if node.colorModel() == "RGBA" and node.colorDepth() == "U8":
        data = bytes(node.pixelData(x, y, w, h))  # BGRA, as QImage's ARGB32 on little-endian
        return QImage(data, w, h, w * 4, QImage.Format_ARGB32).copy()
    return node.thumbnail(w, h)


def region_png(node, w: int, h: int) -> bytes:
    """A layer used as a region: white where it is opaque and light (its luminance times its
    alpha), as a greyscale mask of the canvas."""
    image = node_image(node, 0, 0, w, h).convertToFormat(QImage.Format_ARGB32)
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    bgra = bytes(ptr)
    grey = bytes((bgra[i + 2] * 299 + bgra[i + 1] * 587 + bgra[i] * 114) * bgra[i + 3] // 255000
                 for i in range(0, len(bgra), 4))
    return to_png(QImage(grey, w, h, w, QImage.Format_Grayscale8).copy())


def selection_png(selection, w: int, h: int) -> bytes:
    """The selection as a greyscale mask of the canvas: white where it selects (feathering and
    soft edges included)."""
    data = bytes(selection.pixelData(0, 0, w, h))
    return to_png(QImage(data, w, h, w, QImage.Format_Grayscale8).copy())


def limits_check(w: int, h: int, settings: dict, limits: dict) -> None:
    """A canvas or size the server would refuse, refused here before anything is sent."""
    mp = w * h / 1e6
    if limits.get("max_megapixels") and mp > limits["max_megapixels"]:
        raise ServerError(f"the canvas is {w}x{h} ({mp:.0f} MP), over this server's "
                          f"{limits['max_megapixels']:g} MP; scale or crop it first")
    if limits.get("max_size") and settings.get("size", 0) > limits["max_size"]:
        raise ServerError(f"Size {settings['size']} is over this server's {limits['max_size']}; "
                          f"choose {limits['max_size']} or less")


def gather(document, source, paintings: list[Painting], settings: dict[str, Any],
           use_selection: bool, limits: dict) -> Job:
    """Read a job off the canvas (Krita's main thread): the source layer (or the whole image)
    as the photo, each painting, and the selection as the region of the first painting (where
    it is empty, the photo is kept). Refuses in one line what the server would refuse."""
    if not paintings:
        raise ServerError("no painting chosen; add a painting file or an open layer")
    w, h = document.width(), document.height()
    settings = dict(settings)
    if len(paintings) > 1 and "style_blend" not in settings:
        settings["style_blend"] = [p.weight for p in paintings]
    limits_check(w, h, settings, limits)
    image = document.projection(0, 0, w, h) if source is None else node_image(source, 0, 0, w, h)
    masks = None
    selection = document.selection() if use_selection else None
    if any(p.region is not None for p in paintings):
        # Layers as regions, one per painting; a painting without one takes the selection
        # (or, without a selection, everywhere).
        rest = selection_png(selection, w, h) if selection is not None else to_png(
            _white(w, h))
        masks = [region_png(p.region, w, h) if p.region is not None else rest
                 for p in paintings]
    elif selection is not None:
        region = selection_png(selection, w, h)
        # One painting: the selection is its region. Several: the first takes the selection,
        # the others the rest.
        masks = [region] + [inverted(region)] * (len(paintings) - 1)
    preset = settings.get("preset", "default")
    names = ", ".join(p.label for p in paintings)
    return Job(document, source, to_png(image), [p.png() for p in paintings], masks, settings,
               f"brushwork: {names} ({preset})", (w, h))


def _white(w: int, h: int) -> QImage:
    image = QImage(w, h, QImage.Format_Grayscale8)
    image.fill(255)
    return image


def inverted(png: bytes) -> bytes:
    image = QImage.fromData(png).convertToFormat(QImage.Format_Grayscale8)
    image.invertPixels()
    return to_png(image)


def run(client: Client, job: Job, progress: Callable[[dict], None] = lambda e: None,
        cancelled: Callable[[], bool] = lambda: False) -> Job:
    """Send the job and follow it to its end (any thread); its result's PNG, or ServerError
    in the server's words."""
    job.id = client.submit(job.photo, job.paintings, job.settings, job.masks)["id"]
    last = None
    for event in client.events(job.id):
        last = event
        job.events.append(event)
        progress(event)
        if cancelled() and event["state"] in ("queued", "running"):
            client.cancel(job.id)
    if last is None or last["state"] not in ("done", "cancelled"):
        raise ServerError((last or {}).get("error") or "the job ended without a picture")
    job.result = client.image(job.id)
    return job


def place(job: Job):
    """The result as a new paint layer above the source, at the canvas's size and position,
    named after the paintings and the preset; the source untouched (Krita's main thread)."""
    doc = job.document
    w, h = job.size
    image = QImage.fromData(job.result)
    if (image.width(), image.height()) != (w, h):
        image = image.scaled(w, h, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
    image = image.convertToFormat(QImage.Format_ARGB32)
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    layer = doc.createNode(job.name, "paintlayer")
    if layer.colorModel() == "RGBA" and layer.colorDepth() == "U8":
        layer.setPixelData(bytes(ptr), 0, 0, w, h)
    else:
        raise ServerError("brushwork places its result in RGBA 8-bit documents; convert the "
                          "image (Image > Convert Image Color Space) and paint again")
    above = job.source or doc.topLevelNodes()[-1]
    parent = above.parentNode() or doc.rootNode()
    parent.addChildNode(layer, above)
    doc.refreshProjection()
    return layer
