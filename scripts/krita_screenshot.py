"""A screenshot of the brushwork docker in real Krita (under Xvfb) beside a canvas it painted:
docs/gallery/krita.jpg. Starts `brushwork serve` on the loopback, installs the plug-in into a
temporary Krita profile (`brushwork krita-plugin --install`), opens the bundled photo, and lets
a small helper plug-in press Paint, then Variation, wait for both layers, grab the window and
quit Krita.

    python scripts/krita_screenshot.py [--size 512] [--steps 0]

Needs Debian's krita, python3-pyqt5 and xvfb. Takes a minute or two on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from brushwork import examples

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "gallery" / "krita.jpg"

HELPER = '''
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer

SHOT, PAINTING, SIZE, STEPS = {shot!r}, {painting!r}, {size}, {steps}


class Shot(Extension):
    def setup(self):
        pass

    def createActions(self, window):
        self.log("createActions")
        QTimer.singleShot(4000, self.begin)

    def log(self, text):
        with open(SHOT + ".log", "a") as f:
            f.write(text + "\\n")

    def begin(self):
        try:
            self._begin()
        except Exception:
            self.log(traceback.format_exc())

    def _begin(self):
        window = Krita.instance().activeWindow()
        self.log("window " + str(window) + " doc " + str(Krita.instance().activeDocument()))
        if window is None or Krita.instance().activeDocument() is None:
            QTimer.singleShot(1000, self.begin)
            return
        window.qwindow().resize(1500, 900)
        self.log(str([d.objectName() for d in Krita.instance().dockers()]))
        self.docker = next(d for d in Krita.instance().dockers()
                           if d.objectName() == "brushwork_docker")
        self.docker.show()
        from brushwork_krita.paint import Painting
        self.docker.add_painting(Painting("starry_night.jpg", path=PAINTING))
        self.docker.size.setValue(SIZE)
        if STEPS:
            self.docker.steps.setValue(STEPS)
        self.docker.paint_button.click()
        QTimer.singleShot(1000, self.wait)

    def wait(self):
        """The first picture, then a variation of it (another seed): two in the history."""
        if self.docker.worker is not None or not self.docker.history:
            QTimer.singleShot(1000, self.wait)
            return
        if len(self.docker.history) == 1:
            self.docker.history_list.setCurrentRow(0)
            self.docker.variation_button.click()
            QTimer.singleShot(1000, self.wait)
            return
        QTimer.singleShot(1500, self.grab)

    def grab(self):
        with open(SHOT + ".txt", "w") as f:
            f.write(self.docker.status.text())
        Krita.instance().activeWindow().qwindow().grab().save(SHOT)
        for doc in Krita.instance().documents():
            doc.setModified(False)  # no "save changes?" at the quit
        Krita.instance().action("file_quit").trigger()


Krita.instance().addExtension(Shot(Krita.instance()))
'''


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--steps", type=int, default=0, help="0: the preset's (the default's 122)")
    a = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="krita-shot-"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env.update(XDG_DATA_HOME=str(home / "share"), XDG_CONFIG_HOME=str(home / "config"))
    subprocess.run([sys.executable, "-m", "brushwork", "krita-plugin", "-o",
                    str(home / "p.zip"), "--install"], env=env, check=True)
    pykrita = home / "share" / "krita" / "pykrita"
    shot = home / "shot.png"
    (pykrita / "bw_shot").mkdir()
    (pykrita / "bw_shot" / "__init__.py").write_text(HELPER.format(
        shot=str(shot), painting=str(examples.STARRY_NIGHT), size=a.size, steps=a.steps))
    (pykrita / "bw_shot.desktop").write_text(
        "[Desktop Entry]\nType=Service\nServiceTypes=Krita/PythonPlugin\nX-KDE-Library=bw_shot\n"
        "X-Python-2-Compatible=false\nName=bw_shot\n")
    rc = home / "config" / "kritarc"
    rc.write_text(rc.read_text().replace("[python]\n", "[python]\nenable_bw_shot=true\n"))
    photo = home / "tubingen.png"
    Image.open(examples.CONTENT).convert("RGB").save(photo)
    server = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--data",
                               str(home / "data")], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get("http://127.0.0.1:8000/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)  # the server is loading
        krita_env = {**env, "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb"}
        subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "krita", "--nosplash",
                        str(photo)], env=krita_env, timeout=900, capture_output=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    Image.open(shot).convert("RGB").save(OUT, quality=88)
    print(f"wrote {OUT}; the docker said: {Path(str(shot) + '.txt').read_text()}")


if __name__ == "__main__":
    main()
