"""Run inside real Krita by `kritarunner -s docker_drive -f main REPORT ARGS_JSON`: the docker
itself, driven by its own widgets and buttons (preset, selection, Paint, Cancel, Start, live
mode, the history), against a real `brushwork serve` and a slow one, while a timer on Krita's
main thread records the longest pause. What happened goes to REPORT (JSON) for
tests/test_krita.py to check."""

import json
import time
import traceback


def main(args):
    report_path, spec = args[0], json.loads(open(args[1]).read())
    report = {}
    try:
        run(spec, report)
        report["ok"] = True
    except Exception:  # the test reads what went wrong
        report["error"] = traceback.format_exc()
    with open(report_path, "w") as f:
        json.dump(report, f)


class Gaps:
    """The longest time between two ticks of a 10 ms timer on Krita's main thread."""

    def __init__(self):
        from PyQt5.QtCore import QElapsedTimer, QTimer

        self.clock, self.timer, self.worst = QElapsedTimer(), QTimer(), 0
        self.timer.setInterval(10)
        self.timer.timeout.connect(self.tick)

    def tick(self):
        self.worst = max(self.worst, self.clock.restart())

    def __enter__(self):
        self.worst = 0
        self.clock.start()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.tick()
        self.timer.stop()


def wait_until(cond, seconds):
    """Run Krita's event loop until cond() (checked every 20 ms) or `seconds` pass."""
    from PyQt5.QtCore import QEventLoop, QTimer

    loop, check = QEventLoop(), QTimer()
    deadline = time.monotonic() + seconds

    def poll():
        if cond() or time.monotonic() > deadline:
            loop.quit()

    check.timeout.connect(poll)
    check.start(20)
    loop.exec_()
    check.stop()
    return cond()


def layer_bytes(node, x, y, w, h):
    return bytes(node.pixelData(x, y, w, h))


def run(spec, report):
    from krita import Krita

    import brushwork_krita  # noqa: F401  registers the docker, as Krita does at start
    from brushwork_krita.docker import BrushworkDocker

    app = Krita.instance()
    docker = BrushworkDocker()
    try:
        drive(app, docker, spec, report)
    finally:
        docker.stop_server()  # never left running, whatever failed


def drive(app, docker, spec, report):
    from krita import Krita, Selection
    from PyQt5.QtGui import QImage

    from brushwork_krita import paint
    from brushwork_krita.client import Client

    gaps = Gaps()

    # -- a server that answers only after 4 s: the docker connects, Krita does not pause ---------
    docker.url.setText(spec["slow_url"])
    with gaps:
        docker.connect_button.click()
        wait_until(lambda: "Connected" in docker.status.text(), 15)
    report["slow_connect"] = {"gap_ms": gaps.worst, "status": docker.status.text()}

    # -- a 16-bit document is refused before any request -------------------------------------------
    deep = app.createDocument(64, 48, "deep", "RGBA", "U16", "", 72.0)
    docker.document = deep
    deep.setActiveNode(deep.topLevelNodes()[0])
    docker.add_painting(paint.Painting("starry", path=spec["painting"]))
    docker.paint_button.click()
    wait_until(lambda: "U16" in docker.status.text(), 5)
    report["deep"] = docker.status.text()

    # -- the docker starts a real server itself: progress, no pause ----------------------------
    docker.url.setText(spec["start_url"])
    docker.executable.setText(spec["executable"])
    docker.info = {}
    with gaps:
        docker.start_button.click()
        wait_until(lambda: "Connected" in docker.status.text(), 150)
    report["start"] = {"gap_ms": gaps.worst, "status": docker.status.text(),
                       "started": docker.server is not None}

    # -- the preset is the starting point ------------------------------------------------------
    docker.preset.setCurrentText("subtle")
    report["subtle"] = {"strength": docker.strength.value(), "settings": docker.settings()}
    docker.preset.setCurrentText("print")
    report["print"] = docker.settings()
    docker.preset.setCurrentText("bold")
    report["bold"] = {"strength": docker.strength.value(), "settings": docker.settings()}
    docker.preset.setCurrentText("default")
    docker.steps.setValue(30)  # moved by the painter: sent over the preset
    report["default_moved"] = docker.settings()
    docker.steps.setValue(12)  # enough to paint, and a preview or two

    # -- a small selection of a large canvas, painted at its own pixels, with previews ----------
    big = app.createDocument(spec["big"][0], spec["big"][1], "big", "RGBA", "U8", "", 72.0)
    photo = QImage(spec["photo"]).convertToFormat(QImage.Format_ARGB32).scaled(*spec["big"])
    ptr = photo.constBits()
    ptr.setsize(photo.byteCount())
    base = big.topLevelNodes()[0]
    base.setPixelData(bytes(ptr), 0, 0, *spec["big"])
    big.setActiveNode(base)
    sx, sy, sw, sh = spec["selection"]
    sel = Selection()
    sel.select(sx, sy, sw, sh, 255)
    big.setSelection(sel)
    docker.document = big
    docker.region.setChecked(True)
    with gaps:
        docker.paint_button.click()
        wait_until(lambda: docker.worker is None and docker.history, 300)
    result = docker.history[-1]
    rect = result.job.rect
    report["selection"] = {
        "gap_ms": gaps.worst, "status": docker.status.text(), "size": result.job.settings["size"],
        "rect": [rect.x(), rect.y(), rect.width(), rect.height()],
        "events": [e["state"] for e in result.job.events],
        "previews": docker.preview.pixmap() is not None}
    W, H = spec["big"]
    with open(report_path_of(spec, "big_layer.raw"), "wb") as f:
        f.write(layer_bytes(result.layer, 0, 0, W, H))
    with open(report_path_of(spec, "big_source.raw"), "wb") as f:
        f.write(layer_bytes(base, 0, 0, W, H))

    # -- a region from a large layer: no per-pixel loop on the main thread -----------------------
    region = big.createNode("region", "paintlayer")
    white = QImage(W // 2, H, QImage.Format_ARGB32)
    white.fill(0xFFFFFFFF)
    wp = white.constBits()
    wp.setsize(white.byteCount())
    region.setPixelData(bytes(wp), 0, 0, W // 2, H)
    big.rootNode().addChildNode(region, None)
    docker.set_region_layer(0, region)
    big.setSelection(Selection())
    docker.region.setChecked(False)
    with gaps:
        start = time.monotonic()
        job = docker.gather(docker.settings())
        took = time.monotonic() - start
    mask = job.masks[0]
    report["region"] = {"gap_ms": gaps.worst, "seconds": took,
                        "left": mask.pixelColor(5, 5).red(),
                        "right": mask.pixelColor(W - 5, 5).red()}
    docker.paintings[0].region = None

    # -- the history: a variation (another seed), then discard ----------------------------------
    small = app.openDocument(spec["photo"])
    small.setActiveNode(small.topLevelNodes()[0])
    docker.document = small
    docker.steps.setValue(8)
    docker.history_list.setCurrentRow(len(docker.history) - 1)
    before = len(docker.history)
    docker.paint_button.click()
    wait_until(lambda: len(docker.history) == before + 1 and docker.worker is None, 120)
    first_seed = docker.history[-1].settings.get("seed", 0)
    docker.history_list.setCurrentRow(len(docker.history) - 1)
    docker.variation_button.click()
    wait_until(lambda: len(docker.history) == before + 2 and docker.worker is None, 120)
    names = [n.name() for n in small.topLevelNodes()]
    seeds = [first_seed, docker.history[-1].settings.get("seed", 0)]
    count = len(docker.history)
    docker.history_list.setCurrentRow(len(docker.history) - 1)
    docker.discard_button.click()
    report["history"] = {"count": count, "expected": before + 2, "seeds": seeds,
                         "layers_before_discard": len(names),
                         "layers_after": len(small.topLevelNodes()), "left": len(docker.history),
                         "thumbs": docker.history_list.count()}

    # -- Cancel on a queued job reaches the server within a second -----------------------------
    client = Client(spec["start_url"])
    blocker = client.submit(open(spec["photo"], "rb").read(), [open(spec["painting"], "rb")
                            .read()], {"size": 256, "steps": 500})["id"]
    docker.steps.setValue(8)
    docker.paint_button.click()
    wait_until(lambda: docker.worker is not None and docker.worker.job.id is not None, 60)
    queued = docker.worker.job.id
    state_before = client.status(queued)["state"]
    clicked = time.monotonic()
    docker.cancel_button.click()
    wait_until(lambda: client.status(queued)["state"] == "cancelled", 5)
    report["cancel_queued"] = {"before": state_before, "after": client.status(queued)["state"],
                               "seconds": time.monotonic() - clicked}
    client.cancel(blocker)
    wait_until(lambda: docker.worker is None, 60)

    # -- live mode: a stroke, then the instant picture in one live layer ------------------------
    docker.document = small
    small.setActiveNode(small.topLevelNodes()[0])
    docker.live.setChecked(True)
    wait_until(lambda: docker.live_layer is not None, 30)
    first = docker.live_layer
    node = small.topLevelNodes()[0]
    w, h = small.width(), small.height()
    stroke = QImage(w // 3, h // 3, QImage.Format_ARGB32)
    stroke.fill(0xFFFF0000)
    sp = stroke.constBits()
    sp.setsize(stroke.byteCount())
    before_live = layer_bytes(first, 0, 0, w, h) if first is not None else b""
    node.setPixelData(bytes(sp), 0, 0, w // 3, h // 3)  # a red stroke in the corner
    small.refreshProjection()
    wait_until(lambda: docker.live_layer is not None
               and layer_bytes(docker.live_layer, 0, 0, w, h) != before_live, 30)
    live_names = [n.name() for n in small.topLevelNodes()]
    report["live"] = {"layers": live_names, "changed": docker.live_layer is not None and
                      layer_bytes(docker.live_layer, 0, 0, w, h) != before_live,
                      "one_layer": live_names.count("brushwork live") == 1,
                      "status": docker.status.text()}
    docker.live.setChecked(False)
    if docker.live_layer is not None:
        with open(report_path_of(spec, "live.raw"), "wb") as f:
            f.write(layer_bytes(docker.live_layer, 0, 0, w, h))
    report["small_size"] = [w, h]
    docker.save_state()
    report["saved_state"] = json.loads(Krita.instance().readSetting("brushwork", "state", "{}"))


def report_path_of(spec, name):
    return spec["out"] + "." + name
