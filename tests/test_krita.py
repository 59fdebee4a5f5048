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


def krita_env(home: Path) -> dict:
    """An environment that points Krita (and `brushwork krita-plugin --install`) at a
    temporary profile. Krita embeds the system's Python: nothing of this test's virtualenv may
    leak into it."""
    venv = os.environ.get("VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    if venv:
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if not p.startswith(venv))
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/bin"])
    share, config = home / "share", home / "config"
    return {**env, "XDG_DATA_HOME": str(share), "XDG_CONFIG_HOME": str(config),
            "PYTHONPATH": os.pathsep.join([str(share / "krita" / "pykrita"), str(HERE / "krita")]),
            "QT_QPA_PLATFORM": "xcb"}


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
    env = krita_env(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "brushwork", "krita-plugin", "-o",
                           str(tmp_path / "p.zip"), "--install"], env={**env, "PATH": os.environ[
                               "PATH"]}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    photo = tmp_path / "photo.png"
    Image.open(examples.CONTENT).convert("RGB").resize((96, 72), Image.LANCZOS).save(photo)
    report = tmp_path / "report.json"
    with server(tmp_path / "data") as url:
        done = subprocess.run(["xvfb-run", "-a", "kritarunner", "-s", "krita_drive", "-f",
                               "main", str(report), str(photo), str(examples.STARRY_NIGHT), url],
                              env=env, capture_output=True, text=True, timeout=600)
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
    selected = bgra(tmp_path / "report.json.selected.raw", w, h)
    right = (w // 2 + 8, 0, w, h)  # outside the selection, past the feathered edge
    assert moved_from_photo(selected.crop(right), photo_im.crop(right)) < 3
    left = (0, 0, w // 2 - 8, h)
    assert moved_from_photo(selected.crop(left), photo_im.crop(left)) > PAINTED
    assert "over this server's 1024" in got["refused"]
    # layers as regions, one per painting: the left half's layer, the right half's
    left, right = (Image.open(tmp_path / f"report.json.mask{i}.png").convert("L") for i in (0, 1))
    assert left.size == right.size == (w, h)
    assert left.getpixel((5, 5)) == 255 and left.getpixel((w - 5, 5)) == 0
    assert right.getpixel((5, 5)) == 0 and right.getpixel((w - 5, 5)) == 255


def bgra(path: Path, w: int, h: int) -> Image.Image:
    return Image.frombytes("RGBA", (w, h), path.read_bytes(), "raw", "BGRA").convert("RGB")
