"""The brushwork docker: paintings (files or open layers), preset and strength, size and steps in
the web app's words (read from the server), Paint and Cancel, progress with the time left and
the preview, and the server's address, token and `brushwork` executable as settings."""

from __future__ import annotations

import time

from krita import DockWidget, Krita
from PyQt5.QtCore import QThread, Qt, pyqtSignal
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                             QInputDialog, QLabel, QLineEdit, QListWidget, QMessageBox,
                             QProgressBar, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from . import paint
from .client import DEFAULT_URL, Client, ServerError, start_server, stop_server

SETTINGS_GROUP = "brushwork"
PREVIEW_PX = 240
# Used when no server answers yet: the web app's labels, and brushwork's defaults.
FALLBACK = {"max_size": 1024, "max_steps": 500, "presets": ["default", "instant", "subtle",
                                                            "bold"]}


class Worker(QThread):
    """A job's server side (submit, follow, fetch) off Krita's main thread."""

    progress = pyqtSignal(dict)
    finished_job = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, client: Client, job: paint.Job) -> None:
        super().__init__()
        self.client, self.job, self.cancel_asked = client, job, False

    def run(self) -> None:
        try:
            paint.run(self.client, self.job, self.progress.emit, lambda: self.cancel_asked)
            self.finished_job.emit(self.job)
        except ServerError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001  one line in the docker, never a traceback
            self.failed.emit(f"brushwork: {type(e).__name__}: {e}"[:300])


class BrushworkDocker(DockWidget):
    """The docker itself. `paint_now()` and `last_layer` are public for scripts and tests."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("brushwork")
        self.paintings: list[paint.Painting] = []
        self.worker: Worker | None = None
        self.server = None  # a `brushwork serve` this docker started
        self.last_layer = None
        self.info: dict = {}
        self.started = 0.0
        self._build()
        Krita.instance().notifier().applicationClosing.connect(self.shutdown)

    # ---- the panel -------------------------------------------------------------------------
    def _build(self) -> None:
        root = QWidget()
        col = QVBoxLayout(root)
        col.addWidget(QLabel("Paintings"))
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        col.addWidget(self.list)
        row = QHBoxLayout()
        for text, slot in (("Add file…", self.add_file), ("Add open layer…", self.add_layer),
                           ("Region from layer…", self.set_region), ("Remove", self.remove)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        col.addLayout(row)
        form = QFormLayout()
        self.what = QComboBox()
        self.what.addItems(["the active layer", "the whole image"])
        form.addRow("Paint", self.what)
        self.region = QCheckBox("the selection only (the photo kept outside)")
        self.region.setChecked(True)
        form.addRow("Where", self.region)
        self.preset = QComboBox()
        self.preset.addItems(FALLBACK["presets"])
        form.addRow("Preset", self.preset)
        self.strength = QSlider(Qt.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(50)
        form.addRow("Strength", self.strength)
        self.size = QSpinBox()
        self.size.setRange(0, 8192)
        self.size.setSpecialValueText("the canvas (capped by the server)")
        form.addRow("Size (px)", self.size)
        self.steps = QSpinBox()
        self.steps.setRange(0, 100000)
        self.steps.setSpecialValueText("the preset's")
        form.addRow("Steps", self.steps)
        col.addLayout(form)
        row = QHBoxLayout()
        self.paint_button = QPushButton("Paint")
        self.paint_button.clicked.connect(self.paint_now)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.paint_button)
        row.addWidget(self.cancel_button)
        col.addLayout(row)
        self.bar = QProgressBar()
        col.addWidget(self.bar)
        self.status = QLabel("Choose a painting, then Paint.")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        self.preview = QLabel()
        self.preview.setMinimumHeight(PREVIEW_PX // 2)
        col.addWidget(self.preview)
        server = QFormLayout()
        self.url = QLineEdit(self._read("url", DEFAULT_URL))
        self.token = QLineEdit(self._read("token", ""))
        self.token.setEchoMode(QLineEdit.Password)
        self.executable = QLineEdit(self._read("executable", "brushwork"))
        for name, edit in (("url", self.url), ("token", self.token),
                           ("executable", self.executable)):
            edit.editingFinished.connect(lambda n=name, e=edit: self._write(n, e.text()))
        server.addRow("Server", self.url)
        server.addRow("Token", self.token)
        server.addRow("brushwork", self.executable)
        col.addLayout(server)
        col.addStretch(1)
        self.setWidget(root)

    def _read(self, key: str, default: str) -> str:
        return Krita.instance().readSetting(SETTINGS_GROUP, key, default)

    def _write(self, key: str, value: str) -> None:
        Krita.instance().writeSetting(SETTINGS_GROUP, key, value)

    def canvasChanged(self, canvas) -> None:
        pass

    # ---- paintings -----------------------------------------------------------------------
    def add_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A painting", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.tif *.bmp)")
        if path:
            self.add_painting(paint.Painting(path.rsplit("/", 1)[-1], path=path))

    def add_layer(self) -> None:
        choices = [(f"{d.name() or 'untitled'} › {n.name()}", d, n)
                   for d in Krita.instance().documents() for n in d.topLevelNodes()]
        if not choices:
            return
        label, ok = QInputDialog.getItem(self, "A layer as the painting", "Layer",
                                         [c[0] for c in choices], 0, False)
        if ok:
            _, doc, node = next(c for c in choices if c[0] == label)
            self.add_painting(paint.Painting(node.name(), document=doc, node=node))

    def set_region(self) -> None:
        """The chosen painting applies where a layer of this canvas is opaque and light."""
        row, doc = self.list.currentRow(), Krita.instance().activeDocument()
        if row < 0 or doc is None:
            self.say("Choose a painting in the list first, then its region's layer.")
            return
        layers = {n.name(): n for n in doc.topLevelNodes()}
        name, ok = QInputDialog.getItem(self, "Where this painting applies",
                                        "Layer (white: here)", list(layers), 0, False)
        if ok:
            self.paintings[row].region = layers[name]
            self.list.item(row).setText(f"{self.paintings[row].label}  (region: {name})")

    def add_painting(self, painting: paint.Painting) -> None:
        self.paintings.append(painting)
        self.list.addItem(painting.label)

    def remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.paintings.pop(row)

    # ---- the server ----------------------------------------------------------------------
    def client(self) -> Client:
        return Client(self.url.text().strip() or DEFAULT_URL, self.token.text())

    def _connect(self) -> Client:
        """A server that answers: the one set, or (asked) one started on the loopback."""
        client = self.client()
        try:
            self.info = client.info()
        except ServerError as e:
            if e.status or not client.url.startswith("http://127.0.0.1"):
                raise
            ask = QMessageBox.question(self, "brushwork", f"{e}\n\nStart brushwork serve on "
                                       "this machine now?")
            if ask != QMessageBox.Yes:
                raise
            port = int(client.url.rsplit(":", 1)[-1]) if client.url.count(":") == 2 else 8000
            self.server = start_server(self.executable.text().strip() or "brushwork", port)
            self.info = client.info()
        presets = list(self.info.get("presets", {})) or FALLBACK["presets"]
        if [self.preset.itemText(i) for i in range(self.preset.count())] != presets:
            current = self.preset.currentText()
            self.preset.clear()
            self.preset.addItems(presets)
            self.preset.setCurrentText(current)
        return client

    def shutdown(self) -> None:
        stop_server(self.server)
        self.server = None

    # ---- painting ------------------------------------------------------------------------
    def settings(self, limits: dict) -> dict:
        doc = Krita.instance().activeDocument()
        longer = max(doc.width(), doc.height())
        size = self.size.value() or min(longer, limits.get("max_size", FALLBACK["max_size"]))
        out = {"preset": self.preset.currentText(), "size": size,
               "strength": self.strength.value() / 100}
        if self.steps.value():
            out["steps"] = self.steps.value()
        return out

    def paint_now(self) -> None:
        """Paint: gather the canvas, send it, follow it, place the result (errors in one
        line in the docker)."""
        try:
            doc = Krita.instance().activeDocument()
            if doc is None:
                raise ServerError("open an image first")
            client = self._connect()
            limits = self.info.get("limits", {})
            source = doc.activeNode() if self.what.currentIndex() == 0 else None
            job = paint.gather(doc, source, self.paintings, self.settings(limits),
                               self.region.isChecked(), limits)
        except ServerError as e:
            self.say(str(e))
            return
        self.worker = Worker(client, job)
        self.worker.progress.connect(self.on_progress)
        self.worker.finished_job.connect(self.on_done)
        self.worker.failed.connect(self.on_failed)
        self.started = time.monotonic()
        self.paint_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.say("Sent: waiting for the server …")
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel_asked = True
            self.say("Cancelling: the best picture so far comes back as the layer …")

    def on_progress(self, event: dict) -> None:
        if event["state"] == "queued":
            self.say(f"In line: number {event.get('position', 1)}")
        elif event["state"] == "running" and event.get("total"):
            step, total = event["step"], event["total"]
            self.bar.setRange(0, total)
            self.bar.setValue(step)
            spent = time.monotonic() - self.started
            left = f", about {spent / step * (total - step):.0f} s left" if step else ""
            self.say(f"Step {step} of {total}{left}")
            if event.get("preview"):
                try:
                    self.show_preview(self.client().image(self.worker.job.id, "preview"))
                except ServerError:
                    pass

    def show_preview(self, png: bytes) -> None:
        image = QImage.fromData(png)
        self.preview.setPixmap(QPixmap.fromImage(image).scaledToWidth(
            min(PREVIEW_PX, image.width()), Qt.SmoothTransformation))

    def on_done(self, job: paint.Job) -> None:
        self._idle()
        try:
            self.last_layer = paint.place(job)
        except ServerError as e:
            self.say(str(e))
            return
        self.show_preview(job.result)
        self.say(f"Done in {time.monotonic() - self.started:.0f} s: layer '{job.name}'.")

    def on_failed(self, message: str) -> None:
        self._idle()
        self.say(message)

    def _idle(self) -> None:
        self.paint_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def say(self, text: str) -> None:
        self.status.setText(" ".join(text.split()))
