"""Run inside real Krita by `kritarunner -s krita_drive -f main REPORT PHOTO PAINTING URL`: the
plug-in's public objects paint a document through a real `brushwork serve`, and what happened is
written to REPORT (JSON) for tests/test_krita.py to check."""

import json
import sys
import traceback


def pixels(node, w, h):
    return bytes(node.pixelData(0, 0, w, h))


def main(args):
    report_path, photo, painting, url = args[:4]
    report = {}
    try:
        from krita import Krita, Selection

        import brushwork_krita  # noqa: F401  registers the docker and the menu entry, as Krita does
        from brushwork_krita import paint
        from brushwork_krita.client import Client

        app = Krita.instance()
        report["plugin_registered"] = "brushwork_krita" in sys.modules
        doc = app.openDocument(photo)
        w, h = doc.width(), doc.height()
        source = doc.topLevelNodes()[0]
        before = pixels(source, w, h)
        client = Client(url)
        limits = client.info()["limits"]
        painting_ = paint.Painting("starry_night.jpg", path=painting)
        settings = {"size": max(w, h), "steps": 12, "seed": 1}
        # the whole layer
        job = paint.gather(doc, source, [painting_], settings, False, limits)
        paint.run(client, job)
        layer = paint.place(job)
        doc.waitForDone()
        report["layer"] = {"name": layer.name(), "index": [n.name() for n in doc.topLevelNodes()]}
        with open(report_path + ".layer.raw", "wb") as f:
            f.write(pixels(layer, w, h))
        with open(report_path + ".result.png", "wb") as f:
            f.write(job.result)
        # a selection: the left half
        sel = Selection()
        sel.select(0, 0, w // 2, h, 255)
        doc.setSelection(sel)
        job2 = paint.gather(doc, source, [painting_], settings, True, limits)
        paint.run(client, job2)
        layer2 = paint.place(job2)
        doc.waitForDone()
        with open(report_path + ".selected.raw", "wb") as f:
            f.write(pixels(layer2, w, h))
        with open(report_path + ".source.raw", "wb") as f:
            f.write(before)
        report["source_unchanged"] = pixels(source, w, h) == before
        # two paintings, each with a layer as its region: the left half and the right half
        doc.setSelection(Selection())  # nothing selected
        halves = []
        for name, x0 in (("left", 0), ("right", w // 2)):
            node = doc.createNode(name, "paintlayer")
            data = bytearray(w * h * 4)
            for y in range(h):
                for x in range(x0, x0 + w // 2):
                    data[(y * w + x) * 4:(y * w + x) * 4 + 4] = b"\xff\xff\xff\xff"
            node.setPixelData(bytes(data), 0, 0, w, h)
            doc.rootNode().addChildNode(node, None)
            halves.append(node)
        two = [paint.Painting("starry", path=painting, region=halves[0]),
               paint.Painting("starry again", path=painting, region=halves[1])]
        job3 = paint.gather(doc, source, two, settings, False, limits)
        for i, mask in enumerate(job3.masks):
            mask.save(report_path + f".mask{i}.png")
        report["size"] = [w, h]
        report["events"] = [e["state"] for e in job.events]
        # a canvas the server would refuse is refused before anything is sent
        try:
            paint.limits_check(w, h, {"size": limits["max_size"] + 1}, limits)
        except paint.ServerError as e:
            report["refused"] = str(e)
        doc.setBatchmode(True)
        doc.exportImage(report_path + ".export.png", __import__("krita").InfoObject())
        doc.close()
        report["ok"] = True
    except Exception:  # the test reads what went wrong
        report["error"] = traceback.format_exc()
    with open(report_path, "w") as f:
        json.dump(report, f)
