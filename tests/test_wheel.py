"""brushwork as a user installs it: the wheel and sdist built as PyPI would get them, the wheel
installed into a fresh virtualenv in a folder outside the checkout, and the README's user
commands run from there (no checkout on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import PAINTED, moved_from_photo

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "brushwork"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The wheel and sdist, built with `python -m build` (an isolated build, as a release)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                            *map(str, out.iterdir())], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return out


def read_at_run_time() -> set[Path]:
    """Every file under the package that the code opens at run time."""
    from brushwork import app, examples, vgg
    from brushwork.cli import krita

    opened = {*examples.all_paths(), examples.EXAMPLE_RESULT, vgg.FILTER_MEANS_FILE, app.SCRIPT}
    opened |= {path for _, path in krita.files()}
    return opened


def test_the_wheel_and_sdist_hold_every_file_the_package_reads(dist):
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "src/brushwork"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    wanted = {p.relative_to(PACKAGE.parent).as_posix() for p in read_at_run_time()}
    wanted |= {Path(t).relative_to("src").as_posix() for t in tracked}  # and all we ship
    assert wanted and not wanted - in_wheel, sorted(wanted - in_wheel)
    with tarfile.open(sdist) as t:
        in_sdist = {"/".join(n.split("/")[1:]) for n in t.getnames()}
    assert not {f"src/{w}" for w in wanted} - in_sdist
    from brushwork.version import __version__

    assert wheel.name.startswith(f"brushwork-{__version__}-")  # the version from one place


@pytest.fixture(scope="module")
def user_env(dist, tmp_path_factory) -> dict:
    """A fresh virtualenv, outside the checkout, with the wheel and its app and serve extras
    installed as the README's user line says; the environment to run its commands in."""
    home = tmp_path_factory.mktemp("user")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "torch==2.13.0",
                          f"brushwork[app,serve] @ {wheel.as_uri()}"],
                         capture_output=True, text=True, timeout=1500)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", HOME=str(home),
               XDG_DATA_HOME=str(home / "share"), XDG_CONFIG_HOME=str(home / "config"))
    return {"env": env, "cwd": home, "venv": venv}


def run(user: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=user["cwd"], env=user["env"], capture_output=True,
                          text=True, timeout=timeout)


def test_the_installed_brushwork_is_the_wheels_not_the_checkout(user_env):
    where = run(user_env, "python", "-c", "import brushwork; print(brushwork.__file__)")
    assert where.returncode == 0, where.stderr
    assert str(user_env["venv"]) in where.stdout and str(ROOT) not in where.stdout


def test_a_user_paints_the_demo_and_writes_the_krita_plugin_from_any_folder(user_env):
    demo = run(user_env, "brushwork", "demo", "--size", "64", "--steps", "12")
    assert demo.returncode == 0, demo.stderr[-2000:]
    out = user_env["cwd"] / "brushwork-demo.png"
    assert moved_from_photo(out) > PAINTED  # painted, not the photo written back
    made = run(user_env, "brushwork", "krita-plugin", "-o", "x.zip")
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(user_env["cwd"] / "x.zip") as z:
        names = set(z.namelist())
        said = json.loads(z.read("brushwork_krita/installed_with.json"))
    assert {"brushwork_krita.desktop", "brushwork_krita.action", "brushwork_krita/docker.py",
            "brushwork_krita/client.py", "brushwork_krita/Manual.html"} <= names
    # The docker's "Start brushwork serve" starts the brushwork that wrote the zip.
    assert said["command"][0].startswith(str(user_env["venv"])) and said["command"][1:] == [
        "-m", "brushwork"]


def test_the_installed_server_and_app_answer(user_env):
    import socket
    import time

    import httpx

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    for args, path, words in ((["serve", "--data", "jobs", "--port"], "/health", '"ok":true'),
                              (["app", "--server.port"], "/", "<title>")):
        p = port()
        proc = subprocess.Popen(["brushwork", *args, str(p)], cwd=user_env["cwd"],
                                env=user_env["env"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{p}{path}", timeout=5)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.3)  # a port that is not open yet: nothing to wait on
            assert words in r.text.replace(" ", ""), r.text[:300]
        finally:
            proc.terminate()
            proc.wait(60)
