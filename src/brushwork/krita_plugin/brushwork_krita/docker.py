"""The brushwork docker: paintings (files or open layers), the preset as the starting point and
what the painter moved after it, Paint (queued while a job runs) and Cancel, progress with the
time left and the preview, a history of the results, a live mode, and the server (its address,
token, and a `brushwork serve` it can start).

Krita's main thread never waits: every request runs in a worker thread (`background.call`, or a
job's `JobWorker`) and answers by a signal; starting a server polls its health in the
background and can be stopped; masks are made by Qt's image operations (`paint`)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from krita import DockWidget, Krita
from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtGui import QIcon, QImage, QPixmap
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                             QInputDialog, QLabel, QLineEdit, QListView, QListWidget,
                             QListWidgetItem, QProgressBar, QPushButton, QSlider, QSpinBox,
                             QVBoxLayout, QWidget)

from . import background, paint
from .client import DEFAULT_URL, Client, ServerError, exit_reason, launch, server_command
from .live import LiveMode
from .worker import JobWorker, Result

SETTINGS_GROUP = "brushwork"
PREVIEW_PX, THUMB_PX = 240, 72
START_WAIT = 120.0  # seconds a started server may take to answer
# Used when no server answers yet: brushwork's presets and defaults.
FALLBACK = {"max_size": 1024, "presets": {"default": {"sets": {}}, "instant": {"sets": {
    "init": "fast", "steps": 0}}, "subtle": {"sets": {"strength": 0.3}}, "bold": {"sets": {
        "strength": 0.8, "style_scale": 1.5}}}, "steps": 118}


class BrushworkDocker(DockWidget):
    """The docker. Its buttons' slots (`paint_now`, `cancel`, `start_server`, ...) are public
    for scripts and tests; `document` may be set to paint a document that is not the active
    one."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("brushwork")
        self.paintings: list[paint.Painting] = []
        self.worker: JobWorker | None = None
        self.waiting: list[paint.Job] = []  # painted after the running one
        self.history: list[Result] = []
        self.server: subprocess.Popen | None = None  # a `brushwork serve` this docker started
        self.starting_server = False
        self.info: dict = {}
        self.document = None
        self.shown: dict[str, Any] = {}  # what the preset showed in the widgets
        self.started = 0.0
        self._build()
        self._restore()
        self.show_preset()
        Krita.instance().notifier().applicationClosing.connect(self.shutdown)

    @property
    def live_layer(self):
        """The live mode's layer, or None."""
        return self.live_mode.layer

    # ---- the panel -------------------------------------------------------------------------
    def _build(self) -> None:
        root = QWidget()
        col = QVBoxLayout(root)
        col.addLayout(self._paintings_box())
        col.addLayout(self._settings_box())
        col.addLayout(self._run_box())
        col.addLayout(self._history_box())
        col.addLayout(self._server_box())
        col.addStretch(1)
        self.setWidget(root)

    def _buttons(self, *specs) -> QHBoxLayout:
        row = QHBoxLayout()
        for text, slot, name in specs:
            b = QPushButton(text)
            b.clicked.connect(lambda _checked=False, f=slot: f())
            setattr(self, name, b)
            row.addWidget(b)
        return row

    def _paintings_box(self) -> QVBoxLayout:
        box = QVBoxLayout()
        box.addWidget(QLabel("Paintings"))
        self.list = QListWidget()
        self.list.setMaximumHeight(80)
        box.addWidget(self.list)
        box.addLayout(self._buttons(("Add file…", self.add_file, "add_file_button"),
                                    ("Add open layer…", self.add_layer, "add_layer_button"),
                                    ("Region from layer…", self.set_region, "region_button"),
                                    ("Remove", self.remove, "remove_button")))
        return box

    def _settings_box(self) -> QFormLayout:
        form = QFormLayout()
        self.what = QComboBox()
        self.what.addItems(["the active layer", "the whole image"])
        form.addRow("Paint", self.what)
        self.region = QCheckBox("the selection only, at its own pixels (the rest untouched)")
        self.region.setChecked(True)
        form.addRow("Where", self.region)
        self.preset = QComboBox()
        self.preset.addItems(list(FALLBACK["presets"]))
        self.preset.currentTextChanged.connect(lambda _: self.show_preset())
        form.addRow("Preset", self.preset)
        self.strength = QSlider(Qt.Horizontal)
        self.strength.setRange(0, 100)
        form.addRow("Strength", self.strength)
        self.size = QSpinBox()
        self.size.setRange(0, 8192)
        self.size.setSpecialValueText("its own pixels (up to the server's limit)")
        form.addRow("Size (px)", self.size)
        self.steps = QSpinBox()
        self.steps.setRange(0, 100000)
        form.addRow("Steps", self.steps)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        form.addRow("Seed", self.seed)
        self.live_mode = LiveMode(self)
        self.live = QCheckBox("Live: repaint the instant picture a second after each stroke")
        self.live.toggled.connect(self.live_mode.set)
        form.addRow("", self.live)
        return form

    def _run_box(self) -> QVBoxLayout:
        box = QVBoxLayout()
        box.addLayout(self._buttons(("Paint", self.paint_now, "paint_button"),
                                    ("Cancel", self.cancel, "cancel_button")))
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        box.addWidget(self.bar)
        self.status = QLabel("Choose a painting, then Paint.")
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        self.preview = QLabel()
        self.preview.setMinimumHeight(PREVIEW_PX // 2)
        box.addWidget(self.preview)
        return box

    def _history_box(self) -> QVBoxLayout:
        box = QVBoxLayout()
        box.addWidget(QLabel("History (since Krita started)"))
        self.history_list = QListWidget()
        self.history_list.setViewMode(QListView.IconMode)
        self.history_list.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.history_list.setMaximumHeight(THUMB_PX + 40)
        box.addWidget(self.history_list)
        box.addLayout(self._buttons(("Apply as layer", self.apply_result, "apply_button"),
                                    ("Variation", self.variation, "variation_button"),
                                    ("Discard", self.discard, "discard_button")))
        return box

    def _server_box(self) -> QFormLayout:
        form = QFormLayout()
        self.url = QLineEdit(self._read("url", DEFAULT_URL))
        self.token = QLineEdit(self._read("token", ""))
        self.token.setEchoMode(QLineEdit.Password)
        self.executable = QLineEdit(self._read("executable", ""))
        self.executable.setPlaceholderText("the brushwork that installed this plug-in")
        for name, edit in (("url", self.url), ("token", self.token),
                           ("executable", self.executable)):
            edit.editingFinished.connect(lambda n=name, e=edit: self._write(n, e.text()))
        form.addRow("Server", self.url)
        form.addRow("Token", self.token)
        form.addRow("brushwork", self.executable)
        row = self._buttons(("Connect", self.connect_server, "connect_button"),
                            ("Start brushwork serve", self.start_server, "start_button"))
        form.addRow("", row)
        return form

    # ---- what survives a restart -------------------------------------------------------------
    def _read(self, key: str, default: str) -> str:
        return Krita.instance().readSetting(SETTINGS_GROUP, key, default)

    def _write(self, key: str, value: str) -> None:
        Krita.instance().writeSetting(SETTINGS_GROUP, key, value)

    def save_state(self) -> None:
        """The paintings (files) and the settings, for the next start of Krita."""
        state = {"paintings": [p.path for p in self.paintings if p.path],
                 "preset": self.preset.currentText(), "what": self.what.currentIndex(),
                 "region": self.region.isChecked(), "moved": self.moved()}
        self._write("state", json.dumps(state))

    def _restore(self) -> None:
        try:
            state = json.loads(self._read("state", "{}") or "{}")
        except ValueError:
            return
        for path in state.get("paintings", []):
            self.add_painting(paint.Painting(path.rsplit("/", 1)[-1], path=path), save=False)
        if state.get("preset"):
            self.preset.setCurrentText(state["preset"])
        self.what.setCurrentIndex(int(state.get("what", 0)))
        self.region.setChecked(bool(state.get("region", True)))
        self._restored_moves = state.get("moved", {})

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
        row, doc = self.list.currentRow(), self.target()
        if row < 0 or doc is None:
            self.say("Choose a painting in the list first, then its region's layer.")
            return
        layers = {n.name(): n for n in doc.topLevelNodes()}
        name, ok = QInputDialog.getItem(self, "Where this painting applies",
                                        "Layer (white: here)", list(layers), 0, False)
        if ok:
            self.set_region_layer(row, layers[name])

    def set_region_layer(self, row: int, node) -> None:
        self.paintings[row].region = node
        self.list.item(row).setText(f"{self.paintings[row].label}  (region: {node.name()})")

    def add_painting(self, painting: paint.Painting, save: bool = True) -> None:
        self.paintings.append(painting)
        self.list.addItem(painting.label)
        if save:
            self.save_state()

    def remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.paintings.pop(row)
            self.save_state()

    # ---- the preset and what was moved after it ---------------------------------------------
    def preset_values(self, name: str) -> dict[str, Any]:
        """What the widgets show for a preset: brushwork's defaults, then the preset's values."""
        presets = self.info.get("presets") or FALLBACK["presets"]
        fields = self.info.get("settings", {})
        defaults = {k: fields[k]["default"] for k in ("strength", "steps", "seed")
                    if k in fields} or {"steps": FALLBACK["steps"], "seed": 0}
        values = {**defaults, **presets.get(name, {}).get("sets", {})}
        return {"strength": 0.5 if values.get("strength") is None else values["strength"],
                "size": values.get("size", 0), "steps": values.get("steps", FALLBACK["steps"]),
                "seed": values.get("seed", 0)}

    def _widget_values(self) -> dict[str, Any]:
        return {"strength": self.strength.value() / 100, "size": self.size.value(),
                "steps": self.steps.value(), "seed": self.seed.value()}

    def _set_widgets(self, values: dict[str, Any], quiet: bool = False) -> None:
        widgets = {"strength": (self.strength, lambda v: round(v * 100)),
                   "size": (self.size, int), "steps": (self.steps, int), "seed": (self.seed, int)}
        for name, v in values.items():
            if name in widgets:
                widget, convert = widgets[name]
                widget.blockSignals(quiet)
                widget.setValue(convert(v))
                widget.blockSignals(False)

    def show_preset(self) -> None:
        """The preset is the starting point: the sliders show its values, and only what the
        painter moves afterwards is sent over it."""
        self._set_widgets(self.preset_values(self.preset.currentText()), quiet=True)
        self.shown = self._widget_values()
        moves, self._restored_moves = getattr(self, "_restored_moves", {}), {}
        self._set_widgets(moves)  # a restart: what was moved before it

    def moved(self) -> dict[str, Any]:
        return {k: v for k, v in self._widget_values().items() if v != self.shown.get(k)}

    def settings(self) -> dict[str, Any]:
        """The job's settings: the preset, what was moved after it, and the preset's own size
        (a print preset's 2048 px); the size otherwise is the part painted's own pixels."""
        out = {"preset": self.preset.currentText(), **self.moved()}
        if not out.get("size"):
            out.pop("size", None)
            preset_size = self.preset_values(self.preset.currentText())["size"]
            if preset_size:
                out["size"] = preset_size
        return out

    # ---- the server ----------------------------------------------------------------------
    def client(self) -> Client:
        return Client(self.url.text().strip() or DEFAULT_URL, self.token.text())

    def connect_server(self, then=None) -> None:
        """Ask the server for its limits and presets, in the background; `then()` once it
        answers."""
        self.say(f"Connecting to {self.client().url} …")
        client = self.client()

        def connected(info: dict) -> None:
            self.info = info
            self._offer_presets()
            self.say(f"Connected to brushwork {info.get('version', '')} at {client.url}.")
            if then is not None:
                then()

        def refused(message: str) -> None:
            self.say(message + (" Press Start brushwork serve to start one here."
                                if client.url.startswith("http://127.0.0.1") else ""))
            self._idle()

        background.call(client.info, connected, refused)

    def _offer_presets(self) -> None:
        presets = list(self.info.get("presets", {})) or list(FALLBACK["presets"])
        if [self.preset.itemText(i) for i in range(self.preset.count())] != presets:
            current = self.preset.currentText()
            self.preset.blockSignals(True)
            self.preset.clear()
            self.preset.addItems(presets)
            self.preset.setCurrentText(current if current in presets else "default")
            self.preset.blockSignals(False)
        moved = self.moved()
        self.show_preset()  # the server's own values for the preset
        self._set_widgets(moved)  # what the painter had moved stays moved

    def start_server(self) -> None:
        """`brushwork serve` on the loopback at the set port, started and polled in the
        background (the status counts the seconds; Cancel stops it)."""
        if self.server is not None and self.server.poll() is None:
            self.say("brushwork serve is already running (started here).")
            return
        url = self.client().url
        port = int(url.rsplit(":", 1)[-1]) if url.count(":") == 2 else 8000
        try:
            self.server = launch(server_command(self.executable.text()), port)
        except (ServerError, OSError) as e:
            self.say(str(e))
            return
        self.starting = time.monotonic()
        self.starting_server = True
        self.cancel_button.setEnabled(True)
        self.start_button.setEnabled(False)
        self._poll_server()

    def _poll_server(self) -> None:
        proc, client = self.server, Client(self.client().url)
        if proc is None:
            return
        waited = time.monotonic() - self.starting
        if proc.poll() is not None:
            self.server, self.starting_server = None, False
            self._idle()
            background.call(lambda: exit_reason(proc), self.say)
            return
        if waited > START_WAIT:
            self.stop_server()
            self.say(f"brushwork serve did not answer within {START_WAIT:.0f} s; stopped it.")
            return
        self.say(f"Starting brushwork serve … {waited:.0f} s (Cancel stops it)")

        def up(_):
            self.starting_server = False
            self._idle()
            self.connect_server()

        def not_yet(_):
            if self.server is proc:
                QTimer.singleShot(500, self._poll_server)

        background.call(client.health, up, not_yet)

    def stop_server(self) -> None:
        proc, self.server, self.starting_server = self.server, None, False
        if proc is not None and proc.poll() is None:
            proc.terminate()
            background.call(lambda: proc.wait(30), lambda _: None, lambda _: proc.kill())
        self._idle()

    def shutdown(self) -> None:
        self.save_state()
        self.stop_server()

    # ---- painting ------------------------------------------------------------------------
    def target(self):
        return self.document or Krita.instance().activeDocument()

    def paint_now(self, settings: dict | None = None) -> None:
        """Paint: connect if need be, gather the canvas (quick, here), then send it in the
        background; while a job runs, the new one waits its turn."""
        if not self.info:
            self.connect_server(then=lambda: self.paint_now(settings))
            return
        try:
            job = self.gather(settings or self.settings())
        except ServerError as e:
            self.say(str(e))
            return
        self.save_state()
        if self.worker is not None:
            self.waiting.append(job)
            self.say(f"Queued here: {len(self.waiting)} after the one painting now.")
            return
        self._send(job)

    def gather(self, settings: dict, use_selection: bool | None = None,
               source=False) -> paint.Job:
        """A job of the target document (quick, on the main thread): the active layer or the
        whole image as the Paint box says, or `source` (a node) when given."""
        doc = self.target()
        if doc is None:
            raise ServerError("open an image first")
        if source is False:
            source = doc.activeNode() if self.what.currentIndex() == 0 else None
        if source is not None and source == self.live_mode.layer:
            raise ServerError("the active layer is brushwork's live layer; choose the layer "
                              "to paint")
        selection = self.region.isChecked() if use_selection is None else use_selection
        return paint.gather(doc, source, self.paintings, settings, selection,
                            self.info.get("limits", {}))

    def _send(self, job: paint.Job) -> None:
        self.worker = worker = JobWorker(self.client(), job)
        worker.progress.connect(self.on_progress)
        worker.preview.connect(self.show_preview)
        worker.finished_job.connect(self.on_done)
        worker.failed.connect(self.on_failed)
        self.started = time.monotonic()
        self.cancel_button.setEnabled(True)
        self.say((job.note + ". " if job.note else "") + "Sent: waiting for the server …")
        worker.start()

    def cancel(self) -> None:
        if self.starting_server:
            self.stop_server()
            self.say("Stopped starting brushwork serve.")
            return
        self.waiting.clear()
        if self.worker is not None:
            self.worker.cancel()
            self.say("Cancelling: the best picture so far comes back as the layer …")

    def on_progress(self, event: dict) -> None:
        if event["state"] == "queued":
            self.say(f"In line on the server: number {event.get('position', 1)}")
        elif event["state"] == "running" and event.get("total"):
            step, total = event["step"], event["total"]
            self.bar.setRange(0, total)
            self.bar.setValue(step)
            spent = time.monotonic() - self.started
            left = f", about {spent / step * (total - step):.0f} s left" if step else ""
            self.say(f"Step {step} of {total}{left}")

    def show_preview(self, png: bytes) -> None:
        image = QImage.fromData(png)
        if not image.isNull():
            self.preview.setPixmap(QPixmap.fromImage(image).scaledToWidth(
                min(PREVIEW_PX, image.width()), Qt.SmoothTransformation))

    def on_done(self, job: paint.Job) -> None:
        seconds = time.monotonic() - self.started
        self.worker = None
        try:
            layer = paint.place(job)
        except ServerError as e:
            self.say(str(e))
            self._next()
            return
        self.show_preview(job.result)
        self._remember(job, layer, seconds)
        self.say(f"Done in {seconds:.0f} s: layer '{job.name}'.")
        self._next()

    def on_failed(self, message: str) -> None:
        self.worker = None
        self.say(message)
        self._next()

    def _next(self) -> None:
        if self.waiting:
            self._send(self.waiting.pop(0))
        else:
            self._idle()

    def _idle(self) -> None:
        self.cancel_button.setEnabled(self.worker is not None or self.starting_server)
        self.start_button.setEnabled(True)

    def say(self, text: str) -> None:
        self.status.setText(" ".join(str(text).split()))

    # ---- the history -----------------------------------------------------------------------
    def _remember(self, job: paint.Job, layer, seconds: float) -> None:
        thumb = QImage.fromData(job.result).scaled(THUMB_PX, THUMB_PX, Qt.KeepAspectRatio,
                                                   Qt.SmoothTransformation)
        result = Result(job, thumb, layer, seconds, dict(job.settings))
        self.history.append(result)
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumb)), f"#{len(self.history)}")
        item.setToolTip(json.dumps(result.settings))
        self.history_list.addItem(item)
        self.history_list.setCurrentRow(self.history_list.count() - 1)

    def _chosen(self) -> Result | None:
        row = self.history_list.currentRow()
        if row < 0:
            self.say("Choose a picture in the history first.")
            return None
        return self.history[row]

    def apply_result(self) -> None:
        """The chosen picture as a new layer again (the painter may have deleted its first)."""
        result = self._chosen()
        if result is not None:
            result.layer = paint.place(result.job)
            self.say(f"Applied: layer '{result.job.name}'.")

    def discard(self) -> None:
        """The chosen picture out of the history, and its layer out of the image."""
        row = self.history_list.currentRow()
        if row < 0:
            return
        result = self.history.pop(row)
        self.history_list.takeItem(row)
        if result.layer is not None:
            try:
                result.layer.remove()
                result.job.document.refreshProjection()
            except Exception:  # noqa: BLE001  the painter removed it already
                pass

    def variation(self) -> None:
        """The chosen picture's settings again, with another seed."""
        result = self._chosen()
        if result is not None:
            settings = dict(result.settings)
            settings["seed"] = int(settings.get("seed", 0)) + 1 + len(self.history)
            self.paint_now(settings)
