"""What the docker does to a document, without its widgets: the inputs read off the canvas (the
photo, the paintings, the selection as the region), the job on the server, and the result as a
layer above the source. The docker drives these; so does the test in real Krita.

Krita's objects are touched only in `gather` and `place`, on Krita's main thread, and both do
only what is quick there: raw pixels copied in and out, masks made by Qt's own image operations
(never a loop over pixels in Python). `run` encodes, sends, follows and fetches, in a worker
thread.

A selection is painted at its own pixels: the job is the selection's bounds with a margin of
context, at the canvas's resolution (up to the server's --max-size, said before sending), and
the result comes back into a layer that holds only the selected pixels: everything else is
transparent, so the layer composites exactly over the source, whose transparency it keeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QRect, Qt
from PyQt5.QtGui import QColor, QImage, QPainter

from .client import Client, ServerError

# Context around a selection, as a fraction of its longer side (at least MARGIN_MIN pixels): the
# painting's strokes at the edge follow what lies just outside.
MARGIN, MARGIN_MIN = 0.15, 16
# The one colour model brushwork's server reads and writes.
RGBA8 = ("RGBA", "U8")
CONVERT = ("Image > Convert Image Color Space…, RGB/Alpha, 8-bit integer/channel, sRGB, then "
           "paint again")


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

    def image(self) -> QImage:
        """Its pixels (Krita's main thread for a layer; a file is read later, in the worker)."""
        if self.path is not None:
            return QImage()  # read by `png` in the worker thread
        w, h = self.document.width(), self.document.height()
        node = self.node or self.document.rootNode()
        check_model(node, self.label)
        return pixels(self.document if self.node is None else self.node, QRect(0, 0, w, h))

    def png(self, image: QImage) -> bytes:
        if self.path is not None:
            image = QImage(self.path)
            if image.isNull():
                raise ServerError(f"{self.label}: not a picture Krita can read; choose a PNG, "
                                  "JPEG or another image file")
        return to_png(image)


@dataclass
class Job:
    """One painting of a canvas: everything gathered from Krita, ready to send, and what came
    back."""

    document: Any
    source: Any  # the node painted (None: the whole image)
    rect: QRect  # the part of the canvas sent, in canvas pixels
    photo: QImage  # its pixels, ARGB32 (their alpha is given back to the result)
    paintings: list[Painting]
    painting_images: list[QImage]
    masks: list[QImage] | None  # one per painting, the rect's size
    keep: QImage | None  # where the result is placed (the selection), Grayscale8, or None
    settings: dict[str, Any]
    name: str  # the new layer's
    note: str = ""  # said before sending (a canvas painted below its own pixels)
    id: str | None = None
    result: bytes | None = None
    events: list[dict] = field(default_factory=list)
    cancel_sent: float | None = None


def check_model(node, what: str) -> None:
    """A node in another colour model or depth than 8-bit RGBA is refused before anything is
    sent (its raw bytes are not sRGB bytes), in one line that names the menu that converts."""
    if (node.colorModel(), node.colorDepth()) != RGBA8:
        raise ServerError(f"{what} is {node.colorModel()} {node.colorDepth()}; brushwork paints "
                          f"8-bit RGBA: {CONVERT}")


def pixels(node, rect: QRect) -> QImage:
    """A node's (or a document's) 8-bit RGBA pixels in `rect`, as an ARGB32 QImage (Krita's
    BGRA bytes are QImage's ARGB32 on little-endian machines): a copy, no per-pixel work."""
    data = bytes(node.pixelData(rect.x(), rect.y(), rect.width(), rect.height()))
    return QImage(data, rect.width(), rect.height(), rect.width() * 4,
                  QImage.Format_ARGB32).copy()


def to_png(image: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def grey(image: QImage) -> QImage:
    """`image` as a Grayscale8 mask: its luminance times its alpha, by Qt's own compositing
    (over black, then to grey): white where it is opaque and light."""
    out = QImage(image.size(), QImage.Format_RGB32)
    out.fill(QColor(0, 0, 0))
    p = QPainter(out)
    p.drawImage(0, 0, image)
    p.end()
    return out.convertToFormat(QImage.Format_Grayscale8)


def selection_mask(selection, rect: QRect) -> QImage:
    """The selection in `rect` as a Grayscale8 mask: white where it selects (feathering and soft
    edges included)."""
    data = bytes(selection.pixelData(rect.x(), rect.y(), rect.width(), rect.height()))
    return QImage(data, rect.width(), rect.height(), rect.width(),
                  QImage.Format_Grayscale8).copy()


def job_rect(w: int, h: int, selection) -> QRect:
    """What is sent: the selection's bounds with a margin of context, or the whole canvas."""
    canvas = QRect(0, 0, w, h)
    if selection is None or selection.width() <= 0 or selection.height() <= 0:
        return canvas
    bounds = QRect(selection.x(), selection.y(), selection.width(), selection.height())
    m = max(MARGIN_MIN, round(MARGIN * max(bounds.width(), bounds.height())))
    return bounds.adjusted(-m, -m, m, m).intersected(canvas)


def size_for(rect: QRect, settings: dict, limits: dict) -> tuple[int, str]:
    """The size the job asks for: the painter's, else the rect's own longer side up to the
    server's limit, with a line that says so when the limit makes it smaller."""
    longer = max(rect.width(), rect.height())
    cap = int(limits.get("max_size") or longer)
    if settings.get("size"):
        return int(settings["size"]), ""
    if longer <= cap:
        return longer, ""
    return cap, (f"{rect.width()}x{rect.height()} px is over this server's {cap} px: painted "
                 f"at {cap} px and enlarged to fit")


def limits_check(w: int, h: int, settings: dict, limits: dict) -> None:
    """A canvas or size the server would refuse, refused here before anything is sent."""
    mp = w * h / 1e6
    if limits.get("max_megapixels") and mp > limits["max_megapixels"]:
        raise ServerError(f"the part painted is {w}x{h} ({mp:.0f} MP), over this server's "
                          f"{limits['max_megapixels']:g} MP; select a smaller part, or scale "
                          "the image")
    if limits.get("max_size") and settings.get("size", 0) > limits["max_size"]:
        raise ServerError(f"Size {settings['size']} is over this server's {limits['max_size']}; "
                          f"choose {limits['max_size']} or less")


def gather(document, source, paintings: list[Painting], settings: dict[str, Any],
           use_selection: bool, limits: dict) -> Job:
    """Read a job off the canvas (Krita's main thread, quick): the source layer (or the whole
    image) as the photo, the selection's bounds with a margin when there is one, each painting,
    and the regions. Refuses in one line what the server would refuse, before anything is
    sent."""
    if not paintings:
        raise ServerError("no painting chosen; add a painting file or an open layer")
    check_model(source or document.rootNode(), "the layer" if source is not None else
                "the image")
    selection = document.selection() if use_selection else None
    rect = job_rect(document.width(), document.height(), selection)
    settings = dict(settings)
    settings["size"], note = size_for(rect, settings, limits)
    if len(paintings) > 1 and "style_blend" not in settings:
        settings["style_blend"] = [p.weight for p in paintings]
    limits_check(rect.width(), rect.height(), settings, limits)
    photo = pixels(source if source is not None else document, rect)
    keep = selection_mask(selection, rect) if selection is not None else None
    masks = None
    if any(p.region is not None for p in paintings):
        # Layers as regions, one per painting; a painting without one takes the selection
        # (or, without a selection, everywhere).
        rest = keep if keep is not None else _white(rect)
        masks = [grey(pixels(p.region, rect)) if p.region is not None else rest
                 for p in paintings]
    elif keep is not None and len(paintings) == 1:
        masks = [keep]  # the selection is the painting's region; the photo is kept outside
    images_ = [p.image() for p in paintings]
    preset = settings.get("preset", "default")
    names = ", ".join(p.label for p in paintings)
    return Job(document, source, rect, photo, list(paintings), images_, masks, keep, settings,
               f"brushwork: {names} ({preset})", note)


def _white(rect: QRect) -> QImage:
    image = QImage(rect.width(), rect.height(), QImage.Format_Grayscale8)
    image.fill(255)
    return image


def run(client: Client, job: Job, progress: Callable[[dict], None] = lambda e: None,
        cancelled: Callable[[], bool] = lambda: False,
        preview: Callable[[bytes], None] | None = None) -> Job:
    """Encode, send the job and follow it to its end (a worker thread); its result's PNG, or
    ServerError in the server's words. With `preview`, the latest preview's PNG is fetched
    (here, not on Krita's main thread) at most once a second and handed to it."""
    photo = to_png(job.photo)
    paintings = [p.png(im) for p, im in zip(job.paintings, job.painting_images)]
    masks = None if job.masks is None else [to_png(m) for m in job.masks]
    if cancelled():
        raise ServerError("cancelled before it was sent")
    job.id = client.submit(photo, paintings, job.settings, masks)["id"]
    last, shown = None, 0.0
    for event in client.events(job.id):
        last = event
        job.events.append(event)
        progress(event)
        if cancelled() and job.cancel_sent is None and event["state"] in ("queued", "running"):
            job.cancel_sent = time.monotonic()
            client.cancel(job.id)
        if (preview is not None and event.get("preview") and event["state"] == "running"
                and time.monotonic() - shown > 1.0):
            shown = time.monotonic()
            try:
                preview(client.image(job.id, "preview"))
            except ServerError:
                pass  # a preview is a courtesy: the next one may come
    if last is None or last["state"] not in ("done", "cancelled"):
        raise ServerError((last or {}).get("error") or "the job ended without a picture")
    if last["state"] == "cancelled" and not last.get("result"):
        raise ServerError("cancelled before it started: nothing was painted")
    job.result = client.image(job.id)
    return job


def composed(job: Job, result: bytes | None = None) -> QImage:
    """The result as the layer's pixels in the job's rect (ARGB32, not premultiplied): scaled
    to the rect's own pixels when the server painted it smaller, transparent outside the
    selection, and as transparent as the source where the source is."""
    rect = job.rect
    image = QImage.fromData(result or job.result)
    if image.isNull():
        raise ServerError("the server's result is not a picture")
    if (image.width(), image.height()) != (rect.width(), rect.height()):
        image = image.scaled(rect.width(), rect.height(), Qt.IgnoreAspectRatio,
                             Qt.SmoothTransformation)
    image = image.convertToFormat(QImage.Format_ARGB32_Premultiplied)
    p = QPainter(image)
    p.setCompositionMode(QPainter.CompositionMode_DestinationIn)
    p.drawImage(0, 0, job.photo)  # the source's alpha
    if job.keep is not None:
        alpha = QImage(job.keep.constBits().asstring(job.keep.byteCount()), job.keep.width(),
                       job.keep.height(), job.keep.bytesPerLine(), QImage.Format_Alpha8)
        p.drawImage(0, 0, alpha)  # the selection's
    p.end()
    return image.convertToFormat(QImage.Format_ARGB32)


def place(job: Job, layer=None, result: bytes | None = None):
    """The result as a paint layer above the source (Krita's main thread): a new one named
    after the paintings and the preset, or `layer` (the live layer) with its pixels replaced.
    Only the job's rect holds pixels; the source is untouched."""
    doc = job.document
    image = composed(job, result)
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    rect = job.rect
    fresh = layer is None
    if fresh:
        layer = doc.createNode(job.name, "paintlayer")
    else:  # the live layer: cleared, then this result
        clear = QImage(doc.width(), doc.height(), QImage.Format_ARGB32)
        clear.fill(0)
        c = clear.constBits()
        c.setsize(clear.byteCount())
        layer.setPixelData(bytes(c), 0, 0, doc.width(), doc.height())
    layer.setPixelData(bytes(ptr), rect.x(), rect.y(), rect.width(), rect.height())
    if fresh:
        above = job.source or doc.topLevelNodes()[-1]
        parent = above.parentNode() or doc.rootNode()
        parent.addChildNode(layer, above)
    doc.refreshProjection()
    return layer
