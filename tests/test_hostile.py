"""`brushwork serve` against hostile and careless clients, on a real server over real HTTP: bounded
work per request, no job stuck forever, no foreign page painting, one error shape everywhere.
Each test failed before its fix (docs/reliability.md has the table of requests and answers)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx  # noqa: E402

from brushwork import Settings, examples  # noqa: E402
from brushwork.client import Client, ServerError  # noqa: E402

from test_serve import LONG, SMALL, serving  # noqa: E402

PHOTO, STARRY = examples.CONTENT, examples.STARRY_NIGHT


def png(w: int, h: int, colour=(200, 120, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def photo_bytes() -> bytes:
    return Path(PHOTO).read_bytes()


def post(url: str, files, settings: dict | str | None = None, **kw) -> httpx.Response:
    text = settings if isinstance(settings, str) else json.dumps(settings or SMALL)
    return httpx.post(url + "/jobs", files=files, data={"settings": text}, timeout=60, **kw)


def shape(r: httpx.Response, status: int, words: str) -> None:
    """The documented error shape, with its status and words."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error", "message"} and set(body["error"]) == {"input", "problem", "fix"}
    assert words in body["message"], body["message"]
    assert "\n" not in body["message"] and "Traceback" not in r.text


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def open_files_under(pid: int, folder: Path) -> list[str]:
    """The files process `pid` holds open under `folder`, deleted ones included."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(folder)):
                out.append(target)
    return out


def test_bytes_that_are_not_pictures_are_refused_from_their_first_bytes_in_bounded_memory(
        tmp_path):
    """What an attacker sends: a photo and 16 parts of 24.9 MB random bytes, under every cap.
    Before the fix each part was read whole into memory and sized 0x0: +806 MB for 32 of them."""
    with serving(tmp_path / "d") as (url, proc):
        idle = rss_kb(proc.pid)
        noise = os.urandom(int(24.9 * 2**20))
        junk = [("photo", ("p.jpg", photo_bytes()))] + [
            ("paintings", (f"s{i}.png", noise)) for i in range(16)]
        shape(post(url, junk), 422, "painting 1: is not an image brushwork can read")
        # A PNG signature on the same bytes is judged by its header too (a broken one).
        fake = [("photo", ("p.jpg", photo_bytes())),
                ("paintings", ("s.png", b"\x89PNG\r\n\x1a\n" + noise[:2**20]))]
        shape(post(url, fake), 422, "painting 1: is not an image")
        # A real 1x1 PNG followed by megabytes of bytes no pixel needs: refused from its header.
        padded = [("photo", ("p.jpg", photo_bytes())),
                  ("paintings", ("s.png", png(1, 1) + noise))]
        shape(post(url, padded), 422, "painting 1: holds 24.9 MB for 1x1 pixels")
        grown = rss_kb(proc.pid) - idle
        assert grown < 120_000, f"+{grown // 1024} MB for one request"
        assert not list((tmp_path / "d" / "jobs").iterdir())


def test_counts_and_pixels_are_refused_before_any_picture_is_decoded(tmp_path):
    with serving(tmp_path / "d", "--max-megapixels", "1.1",
                 "--max-request-megapixels", "3") as (url, proc):
        before = rss_kb(proc.pid)
        many = [("photo", ("p.png", photo_bytes()))] + [
            ("paintings", (f"s{i}.png", png(1000, 1000))) for i in range(80)] + [
            ("masks", ("m.png", png(1000, 1000)))]
        shape(post(url, many), 413, "paintings: 80 is over this server's 16")
        # 80 paintings used to be decoded whole before the mask count was checked: +311 MB
        assert rss_kb(proc.pid) - before < 100_000
        two_masks = [("photo", ("p.png", photo_bytes())), ("paintings", ("s.png", png(64, 64))),
                     ("masks", ("a.png", png(64, 64))), ("masks", ("b.png", png(64, 64)))]
        shape(post(url, two_masks), 422, "masks: 2 masks for 1 paintings")
        heavy = [("photo", ("p.png", png(1000, 1000)))] + [
            ("paintings", (f"s{i}.png", png(1000, 1000))) for i in range(3)]
        shape(post(url, heavy), 413, "megapixels in all, over this server's 3")


def test_a_chunked_upload_past_the_cap_is_413_and_leaves_nothing_on_disk(tmp_path):
    spool = tmp_path / "tmp"
    spool.mkdir()
    with serving(tmp_path / "d", "--max-upload-mb", "0.05", env={"TMPDIR": str(spool)}) as (url,
                                                                                     proc):
        def body():  # no Content-Length: the server must count what arrives
            yield (b"--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\n"
                   b"Content-Type: image/png\r\n\r\n")
            for _ in range(40):
                yield b"x" * 2**20
            yield b"\r\n--b--\r\n"

        r = httpx.post(url + "/jobs", content=body(), timeout=60,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})
        shape(r, 413, "request: is over the")
        # Spooled files have no name once created (POSIX), so the folder alone proves nothing:
        # the server must hold no file open under it, named or not.
        assert not open_files_under(proc.pid, spool)
        assert not list(spool.iterdir())
        assert not list((tmp_path / "d" / "jobs").iterdir())
        assert httpx.get(url + "/health").json()["ok"]


def test_no_foreign_page_or_host_may_paint(tmp_path):
    with serving(tmp_path / "d", "--allow-origin", "https://friend.example") as (url, _):
        files = [("photo", ("p.png", photo_bytes())), ("paintings", ("s.png", png(64, 64)))]
        shape(post(url, files, headers={"Origin": "http://evil.example"}), 403,
              "Origin: 'http://evil.example' may not use this server")
        # DNS rebinding: the page's own name, pointing at 127.0.0.1
        shape(httpx.get(url + "/health", headers={"Host": "evil.example"}), 403,
              "Host: 'evil.example' is not a name of this server")
        port = url.rsplit(":", 1)[1]
        # A page on another local port (a dev server, another tool's web UI), or this host by
        # another scheme, is another origin: before the fix these three got 201.
        for origin in ("http://localhost:3000", "http://127.0.0.1:9999", "https://localhost",
                       f"https://127.0.0.1:{port}", "null"):
            shape(post(url, files, headers={"Origin": origin}), 403,
                  f"Origin: {origin!r} may not use this server")
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                       "https://friend.example"):
            assert post(url, files, headers={"Origin": origin}).status_code == 201, origin
        assert httpx.get(url + "/health", headers={"Host": f"localhost:{port}"}).status_code == 200


def test_serving_beyond_loopback_needs_tokens_or_no_auth_said_loudly(tmp_path, capsys,
                                                                      monkeypatch):
    from brushwork import serve
    from brushwork.cli import main

    assert main(["serve", "--data", str(tmp_path), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--host 0.0.0.0" in err and "--no-auth" in err
    seen = {}
    monkeypatch.setattr(serve, "run", lambda config, host, port: seen.update(host=host))
    assert main(["serve", "--data", str(tmp_path), "--host", "0.0.0.0", "--no-auth"]) == 0
    out = capsys.readouterr()
    assert seen == {"host": "0.0.0.0"} and "ANYONE WHO REACHES PORT 8000 MAY PAINT" in out.err


@pytest.mark.parametrize("settings, words", [
    ('{"preset": []}', "--preset: unknown preset []"),
    ('{"style_blend": 5}', "--style-blend: must be a list, got 5"),
    ('{"style_layer_weights": null}', "--style-layer-weights: must be a list, got None"),
    ("[" * 100_000 + "]" * 100_000, "settings: is not a JSON object of settings"),
])
def test_malformed_settings_are_422_not_a_traceback(tmp_path, settings, words):
    from brushwork.serve import create_app
    from brushwork.serve.config import ServeConfig
    from fastapi.testclient import TestClient

    with TestClient(create_app(ServeConfig(data=tmp_path)), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as c:
        r = c.post("/jobs", files=[("photo", ("p.png", photo_bytes())),
                                   ("paintings", ("s.png", png(64, 64)))],
                   data={"settings": settings})
    shape(r, 422, words)


def test_the_paintings_processed_size_obeys_the_limits_and_its_shape_is_checked(tmp_path):
    with serving(tmp_path / "d", "--max-size", "64") as (url, _):
        files = [("photo", ("p.png", photo_bytes())), ("paintings", ("s.png", png(1000, 800)))]
        shape(post(url, files, {"size": 64, "style_scale": 8}), 413,
              "painting 1: would be processed at 512x410")
        strip = [("photo", ("p.png", photo_bytes())), ("paintings", ("s.png", png(20000, 1)))]
        shape(post(url, strip, {"size": 64}), 422, "20000x1 is too elongated")
        huge = Image.new("RGB", (1, 1))
        buf = io.BytesIO()
        huge.save(buf, "PNG")
        header = bytearray(buf.getvalue())
        header[16:24] = (30000).to_bytes(4, "big") * 2  # the IHDR's width and height
        header[29:33] = zlib.crc32(bytes(header[12:29])).to_bytes(4, "big")
        declared = [("photo", ("p.png", bytes(header))), ("paintings", ("s.png", png(64, 64)))]
        shape(post(url, declared, {"size": 64}), 413, "photo: declares more than")


def test_every_error_is_the_one_shape_fastapis_own_included(tmp_path):
    with serving(tmp_path / "d") as (url, _):
        shape(httpx.get(url + "/no/such/route"), 404, "route: no such route")
        shape(httpx.get(url + "/jobs/%2e%2e/%2e%2e/etc"), 404, "no such")
        shape(httpx.delete(url + "/jobs/abc"), 405, "DELETE is not allowed")
        shape(httpx.post(url + "/jobs", content=b"--x\r\nbroken",  # no boundary given
                         headers={"Content-Type": "multipart/form-data"}), 400, "request:")
        big = [("photo", ("p.png", photo_bytes())), ("paintings", ("s.png", png(64, 64)))]
        shape(post(url, big, "{" + " " * (2 * 2**20) + "}"), 400, "request:")
        job = post(url, big).json()
        got = httpx.get(url + f"/jobs/{job['id']}").json()
        assert isinstance(got["preview"], bool) and isinstance(got["result"], bool)
        assert got["links"]["result"] == f"/jobs/{job['id']}/result"


def test_streams_are_capped_per_client_and_end_with_their_job(tmp_path):
    with serving(tmp_path / "d", "--max-streams-per-client", "2") as (url, _), Client(url) as c:
        job = c.submit(PHOTO, STARRY, SMALL)
        with httpx.Client(base_url=url, timeout=60) as h:
            with h.stream("GET", f"/jobs/{job}/events") as a, \
                    h.stream("GET", f"/jobs/{job}/events") as b:
                with h.stream("GET", f"/jobs/{job}/events") as third:
                    third.read()
                    shape(third, 429, "events: this client has 2 streams open")
                # Both read to the job's end: each gives its place back as the server ends it.
                ended = [[ln for ln in r.iter_lines() if ln.startswith("event:")][-1]
                         for r in (a, b)]
        assert ended == ["event: done"] * 2
        assert [e["state"] for e in c.events(job)] == ["done"]  # one more, now the two are gone


def test_a_python_user_may_hand_the_client_the_librarys_settings(tmp_path):
    with serving(tmp_path / "d") as (url, _), Client(url) as c:
        picture = c.stylize(PHOTO, STARRY, Settings(size=64, steps=4, device="cpu", seed=2))
        assert picture.size == (64, 48)
        assert json.loads(picture.text["brushwork"])["settings"]["seed"] == 2
        info = c.info()  # what a host application builds its panel from
        assert info["limits"]["max_paintings"] == 16 and "instant" in info["presets"]
        assert info["settings"]["init"]["choices"][-1] == {
            "value": "fast", "label": "the instant picture (feed-forward)"}


def test_a_bad_data_folder_is_one_line_and_exit_2(tmp_path, capsys):
    from brushwork.cli import main

    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["serve", "--data", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
    if os.geteuid() != 0:  # root writes anywhere: the read-only case needs a user
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert main(["serve", "--data", str(ro)]) == 2
        assert "cannot be written" in capsys.readouterr().err


def test_the_default_data_folder_is_the_users_not_the_current_one(monkeypatch, tmp_path):
    from brushwork.serve.config import ServeConfig, default_data

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    if sys.platform.startswith("linux"):
        assert default_data() == tmp_path / "share" / "brushwork" / "serve"
    assert ServeConfig().data == default_data() and not ServeConfig().data.is_relative_to(
        Path.cwd())


@contextlib.contextmanager
def tmpfs(size: str):
    """A small tmpfs (root only); skips with the reason where mounting is refused."""
    folder = Path(tempfile.mkdtemp())
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()[:80]})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def fill(folder: Path) -> Path:
    """Fill the disk under `folder`; returns the filler (remove it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    return filler


def test_a_job_whose_disk_fills_mid_run_fails_and_frees_its_place(tmp_path):
    with tmpfs("6m") as data:
        with serving(data, "--min-free-mb", "1", "--max-per-client", "1") as (url, _), \
                Client(url) as c:
            job = c.submit(PHOTO, STARRY, LONG)
            for event in c.events(job):
                if event["state"] == "running" and event["step"] >= 2:
                    break
            filler = fill(data)
            states = [e["state"] for e in c.events(job)]  # the stream ends with the job
            got = c.status(job)
            assert states[-1] == "failed" and got["state"] == "failed"
            assert "disk is full" in got["error"]
            with pytest.raises(ServerError) as e:  # a full disk is refused at submit
                c.submit(PHOTO, STARRY, SMALL)
            assert e.value.status == 507
            assert len(list((data / "jobs").iterdir())) == 1  # no folder left by the refusal
            filler.unlink()
            again = c.submit(PHOTO, STARRY, SMALL)  # its place is free (max 1 per client)
            assert [e["state"] for e in c.events(again)][-1] == "done"
            assert c.status(job)["state"] == "failed"  # now recorded, as it was shown
