"""The Krita plug-in in real Krita (Debian's krita and python3-pyqt5, under xvfb-run): installed
into a temporary profile from the zip `brushwork krita-plugin` writes, it paints a layer and a
selection through a real `brushwork serve` on the loopback. Its HTTP client is tested outside
Krita against a real server too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")

from brushwork import examples  # noqa: E402

from conftest import PAINTED, moved_from_photo  # noqa: E402
from test_serve import SMALL, server  # noqa: E402

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent / "src" / "brushwork" / "krita_plugin"
KRITA = shutil.which("kritarunner") and shutil.which("xvfb-run")
if not KRITA and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's krita, python3-pyqt5 and xvfb (see .ci/run)")


def client_module():
    """The plug-in's HTTP client, imported as Krita would, without Krita (stdlib only)."""
    sys.path.insert(0, str(PLUGIN))
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location("bk_client", PLUGIN / "brushwork_krita" /
                                                      "client.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(PLUGIN))


def test_the_plugins_client_paints_through_a_real_server_and_says_errors_in_one_line(tmp_path):
    bk = client_module()
    photo, painting = Path(examples.CONTENT).read_bytes(), Path(examples.STARRY_NIGHT).read_bytes()
    with server(tmp_path / "data") as url:
        c = bk.Client(url)
        info = c.info()
        assert info["limits"]["max_size"] == 1024 and "instant" in info["presets"]
        assert info["settings"]["strength"]["label"] == "Strength"
        job = c.submit(photo, [painting], SMALL)["id"]
        states = [e["state"] for e in c.events(job)]
        assert states[-1] == "done"
        result = c.image(job)
        assert result[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(bk.ServerError) as e:
            c.submit(photo, [painting], {"style_weight": -1})
        assert e.value.status == 422 and "--style-weight: must be from 0" in str(e.value)
        assert "\n" not in str(e.value)
    with pytest.raises(bk.ServerError) as e:
        bk.Client(url).health()  # the server has stopped
    assert "no brushwork server answers at" in str(e.value) and "\n" not in str(e.value)


def test_the_zip_holds_what_krita_imports(tmp_path):
    from brushwork.cli import main

    out = tmp_path / "brushwork-krita.zip"
    assert main(["krita-plugin", "-o", str(out)]) == 0
    names = zipfile.ZipFile(out).namelist()
    assert {"brushwork_krita.desktop", "brushwork_krita.action", "brushwork_krita/__init__.py",
            "brushwork_krita/docker.py", "brushwork_krita/Manual.html"} <= set(names)
    desktop = zipfile.ZipFile(out).read("brushwork_krita.desktop").decode()
    for line in ("Type=Service", "ServiceTypes=Krita/PythonPlugin", "X-KDE-Library=brushwork_krita",
                 "X-Python-2-Compatible=false"):
        assert line in desktop
    for name in names:  # Krita's Python has PyQt5 and the standard library, nothing of ours
        if name.endswith(".py"):
            text = zipfile.ZipFile(out).read(name).decode()
            assert "import torch" not in text and "import brushwork\n" not in text
            assert "from brushwork " not in text and "from brushwork." not in text


KEPT = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TMPDIR")


def krita_env(home: Path) -> dict:
    """An environment that points Krita (and `brushwork krita-plugin --install`) at a
    temporary profile. Krita embeds the system's Python: nothing of this test's virtualenv may
    leak into it."""
    venv = os.environ.get("VIRTUAL_ENV")
    # Only what a desktop session gives Krita: by now this test process has imported Ray,
    # OpenCV and torch, which set PYTHONBREAKPOINT, LD_LIBRARY_PATH and more in its environment.
    env = {k: v for k, v in os.environ.items()
           if k in KEPT or k.startswith(("LC_", "XDG_RUNTIME"))}
    if venv:
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if not p.startswith(venv))
    # Debian's python3 first: an embedded Python that is given no program name looks for its
    # home from the first python3 on PATH, and this machine's first is pyenv's shim (a suspect
    # for the runs whose Krita could not import PyQt5, not a proven cause).
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin", env.get("PATH", "")])
    share, config = home / "share", home / "config"
    return {**env, "XDG_DATA_HOME": str(share), "XDG_CONFIG_HOME": str(config),
            "PYTHONPATH": os.pathsep.join([str(share / "krita" / "pykrita"), str(HERE / "krita")]),
            "QT_QPA_PLATFORM": "xcb"}


def in_krita(script: str, args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """`kritarunner -s SCRIPT -f main ARGS` in real Krita under Xvfb. A virtual screen that
    failed to start (xvfb-run found a display number free that was not) is tried once more."""
    command = ["xvfb-run", "-a", "kritarunner", "-s", script, "-f", "main", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    # Krita that could not start its own Python (two whole CI runs in five on one day saw
    # "No module named 'PyQt5'" from Debian's PyKrita, never a run of these tests alone) is a
    # host that failed to start, as is a display that failed: each is tried once more.
    if any(words in done.stdout + done.stderr for words in (
            "could not connect to display", "Cannot load the PyKrita module")):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    return done


def installed(tmp_path: Path) -> tuple[dict, Path]:
    """The plug-in installed into a temporary Krita profile as a painter installs it, and a
    small photo: (Krita's environment, the photo)."""
    env = krita_env(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "brushwork", "krita-plugin", "-o",
                           str(tmp_path / "p.zip"), "--install"], env={**env, "PATH": os.environ[
                               "PATH"]}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    photo = tmp_path / "photo.png"
    Image.open(examples.CONTENT).convert("RGB").resize((96, 72), Image.LANCZOS).save(photo)
    return env, photo


def test_install_lays_the_plugin_out_as_krita_does_and_enables_it(tmp_path, monkeypatch):
    from brushwork.cli import main

    env = krita_env(tmp_path / "home")
    monkeypatch.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    (tmp_path / "home" / "config").mkdir(parents=True)
    (tmp_path / "home" / "config" / "kritarc").write_text("[General]\nWindowState=AAA=\n")
    assert main(["krita-plugin", "-o", str(tmp_path / "p.zip"), "--install"]) == 0
    share = tmp_path / "home" / "share" / "krita"
    assert (share / "pykrita" / "brushwork_krita.desktop").is_file()
    assert (share / "pykrita" / "brushwork_krita" / "docker.py").is_file()
    assert (share / "actions" / "brushwork_krita.action").is_file()
    rc = (tmp_path / "home" / "config" / "kritarc").read_text()
    assert "enable_brushwork_krita=true" in rc and "WindowState=AAA=" in rc  # the rest kept


@pytest.mark.skipif(not KRITA, reason="needs Debian's krita and xvfb (apt-get install krita "
                    "python3-pyqt5 xvfb)")
def test_the_docker_paints_a_layer_and_a_selection_in_real_krita(tmp_path):
    env, photo = installed(tmp_path)
    report = tmp_path / "report.json"
    with server(tmp_path / "data") as url:
        done = in_krita("krita_drive", [str(report), str(photo), str(examples.STARRY_NIGHT),
                                        url], env, 600)
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads(report.read_text())
    assert got.get("ok"), got.get("error")
    w, h = got["size"]
    assert (w, h) == (96, 72)
    assert got["layer"]["name"] == "brushwork: starry_night.jpg (default)"
    assert got["layer"]["index"][-1] == got["layer"]["name"]  # above the source
    layer = bgra(tmp_path / "report.json.layer.raw", w, h)
    photo_im = Image.open(photo).convert("RGB")
    assert moved_from_photo(layer, photo_im) > PAINTED  # painted by a margin
    result = Image.open(tmp_path / "report.json.result.png").convert("RGB")
    assert result.size == (w, h) and layer.tobytes() == result.tobytes()
    assert got["source_unchanged"]
    selected = Image.frombytes("RGBA", (w, h), (tmp_path / "report.json.selected.raw")
                               .read_bytes(), "raw", "BGRA")
    right = (w // 2, 0, w, h)  # outside the selection: nothing, so the source shows as it was
    assert selected.getchannel("A").crop(right).getextrema() == (0, 0)
    left = (0, 0, w // 2 - 2, h)
    assert selected.getchannel("A").crop(left).getextrema() == (255, 255)
    assert moved_from_photo(selected.convert("RGB").crop(left), photo_im.crop(left)) > PAINTED
    assert "over this server's 1024" in got["refused"]
    # layers as regions, one per painting: the left half's layer, the right half's
    left, right = (Image.open(tmp_path / f"report.json.mask{i}.png").convert("L") for i in (0, 1))
    assert left.size == right.size == (w, h)
    assert left.getpixel((5, 5)) == 255 and left.getpixel((w - 5, 5)) == 0
    assert right.getpixel((5, 5)) == 0 and right.getpixel((w - 5, 5)) == 255


def bgra(path: Path, w: int, h: int) -> Image.Image:
    return Image.frombytes("RGBA", (w, h), path.read_bytes(), "raw", "BGRA").convert("RGB")


class SlowServer:
    """A stand-in server on the loopback that answers /settings only after `delay` seconds and
    records every request (a 16-bit document must send none)."""

    def __init__(self, delay: float) -> None:
        import http.server
        import threading

        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                if self.path == "/settings":
                    threading.Event().wait(delay)  # the slowness this stand-in is for
                self._answer({"version": "slow", "limits": {"max_size": 1024},
                              "presets": {"default": {"sets": {}}}, "settings": {}})

            def do_POST(self):
                outer.requests.append(("POST", self.path))
                self._answer({"id": "never"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not KRITA, reason="needs Debian's krita and xvfb (apt-get install krita "
                    "python3-pyqt5 xvfb)")
def test_the_docker_driven_by_its_buttons_never_pauses_krita_and_paints_at_the_selections_pixels(
        tmp_path):
    """The docker itself in real Krita: its buttons against a slow server, a server it starts,
    a small selection of a large canvas, a region from a large layer, the history, Cancel on a
    queued job and live mode, with a 10 ms timer on Krita's main thread."""
    env, photo = installed(tmp_path)
    slow = SlowServer(4.0)
    big, selection = (2400, 1600), (900, 700, 300, 200)
    out = tmp_path / "report.json"
    spec = {"slow_url": slow.url, "start_url": f"http://127.0.0.1:{_free_port()}",
            "executable": shutil.which("brushwork"), "painting": str(examples.STARRY_NIGHT),
            "photo": str(photo), "big": big, "selection": selection, "out": str(out)}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    run_env = {**env, "XDG_DATA_HOME": str(tmp_path / "home" / "share"),
               "HOME": str(tmp_path / "home")}
    try:
        done = in_krita("docker_drive", [str(out), str(tmp_path / "spec.json")], run_env, 900)
    finally:
        slow.close()
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got.get("ok"), got.get("error")
    # Krita never paused: connecting to a server that answers after 4 s, starting a server,
    # painting with previews, building a region from a 2400x1600 layer
    for phase in ("slow_connect", "start", "selection", "region"):
        assert got[phase]["gap_ms"] < 250, (phase, got[phase])
    assert "Connected to brushwork slow" in got["slow_connect"]["status"]
    assert got["start"]["started"] and "Connected" in got["start"]["status"]
    # a 16-bit document: one line naming the menu, and nothing sent
    assert "RGBA U16" in got["deep"] and "Convert Image Color Space" in got["deep"]
    assert not [r for r in slow.requests if r[0] == "POST"]
    # the preset is the starting point; only what was moved is sent over it
    assert got["subtle"] == {"strength": 30, "settings": {"preset": "subtle"}}
    assert got["bold"]["strength"] == 80 and got["bold"]["settings"] == {"preset": "bold"}
    assert got["print"] == {"preset": "print", "size": 2048}
    assert got["default_moved"] == {"preset": "default", "steps": 30}
    # the selection painted at its own pixels, in a layer transparent outside it
    sel = got["selection"]
    x, y, w, h = sel["rect"]
    assert sel["size"] == max(w, h) and w < 450 and h < 350, sel
    assert "running" in sel["events"] and sel["previews"]
    W, H = big
    layer = Image.frombytes("RGBA", big, (tmp_path / "report.json.big_layer.raw").read_bytes(),
                            "raw", "BGRA")
    source = Image.frombytes("RGBA", big, (tmp_path / "report.json.big_source.raw").read_bytes(),
                             "raw", "BGRA")
    sx, sy, sw, sh = selection
    alpha = layer.getchannel("A")
    outside = alpha.copy()
    outside.paste(0, (sx, sy, sx + sw, sy + sh))
    assert outside.getextrema() == (0, 0)  # nothing outside the selection: it composites exactly
    inside = (sx + 4, sy + 4, sx + sw - 4, sy + sh - 4)
    assert alpha.crop(inside).getextrema() == (255, 255)
    assert moved_from_photo(layer.crop(inside).convert("RGB"),
                            source.crop(inside).convert("RGB")) > PAINTED
    # the region from a large layer, made without a per-pixel loop
    assert got["region"]["left"] == 255 and got["region"]["right"] == 0
    assert got["region"]["seconds"] < 0.25
    # the history: a variation with another seed, a discard that takes its layer away
    hist = got["history"]
    assert hist["count"] == hist["expected"] and hist["seeds"][0] != hist["seeds"][1], hist
    assert hist["layers_after"] == hist["layers_before_discard"] - 1
    assert hist["left"] == hist["thumbs"] == hist["count"] - 1
    # Cancel on a queued job reaches the server within a second
    assert got["cancel_queued"]["before"] == "queued" and got["cancel_queued"]["after"] == \
        "cancelled" and got["cancel_queued"]["seconds"] < 1.0, got["cancel_queued"]
    # live mode: one live layer, repainted after the stroke
    assert got["live"]["one_layer"] and got["live"]["changed"], got["live"]
    w, h = got["small_size"]
    live = Image.frombytes("RGBA", (w, h), (tmp_path / "report.json.live.raw").read_bytes(),
                           "raw", "BGRA").convert("RGB")
    assert moved_from_photo(live, Image.open(photo).convert("RGB")) > PAINTED
    # what survives a restart: the paintings and the settings
    assert got["saved_state"]["paintings"] == [str(examples.STARRY_NIGHT)]
