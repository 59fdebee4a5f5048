"""Hostile images, bad arguments, crashes and interruptions: brushwork refuses clearly or copes,
and never loses or damages a picture the user had."""

import dataclasses
import io
import math
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st
from PIL import Image

import brushwork
from brushwork import InputError, Settings, examples, images
from brushwork.cli import main
from conftest import Upload, png_bytes, tiny

SRC = Path(brushwork.__file__).resolve().parent


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) +
            _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _gradient(w=96, h=64, mode="RGB"):
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 255 // w, y * 255 // h, 90) for y in range(h) for x in range(w)])
    return im.convert(mode)


def _corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, "ok" or a piece of the expected error)."""
    jpeg = png_bytes(_gradient(), "JPEG")
    good_png = png_bytes(_gradient())
    bad_crc = bytearray(good_png)
    bad_crc[29] ^= 0xFF  # inside IHDR's checksum
    sixteen = Image.new("I;16", (96, 64))
    sixteen.putdata([x * 600 for y in range(64) for x in range(96)])
    pal = _gradient(mode="P")
    pal.info["transparency"] = 0
    frames = [_gradient(), _gradient().rotate(180)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 8
    return {
        "empty.png": (b"", "empty"),
        "text.png": (b"just some words, no pixels\n", "not an image"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "damaged or truncated"),
        "bad-crc.png": (bytes(bad_crc), "damaged or truncated"),
        "bomb-40000.png": (_png_claiming(40000, 40000), "megapixels"),
        "tiny-8x8.png": (png_bytes(_gradient(8, 8)), "ok"),
        "thin-10000x10.png": (png_bytes(_gradient(10000, 10)), "under 32 px"),
        "drawing.eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n", "not an image"),
        "doc.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n", "not an image"),
        "vector.svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>', "not an image"),
        "cmyk.jpg": (png_bytes(_gradient(mode="CMYK"), "JPEG"), "ok"),
        "sixteen-bit.png": (png_bytes(sixteen), "ok"),
        "palette-transparent.png": (png_bytes(pal), "ok"),
        "grey-alpha.png": (png_bytes(_gradient(mode="LA")), "ok"),
        "one-bit.png": (png_bytes(_gradient(mode="1")), "ok"),
        "animated.gif": (gif.getvalue(), "ok"),
        "exif-rotated.jpg": (png_bytes(_gradient(), "JPEG", exif=exif.tobytes()), "ok"),
    }


CORPUS = _corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_through_the_api(name):
    data, expected = CORPUS[name]
    if expected == "ok":
        im = images.load_image(data, name)
        assert im.mode == "RGB"
        if name == "exif-rotated.jpg":
            assert im.size == (64, 96)  # turned upright
        images.check_size(im, 64, name)
        return
    with pytest.raises(InputError) as err:
        im = images.load_image(data, name)
        images.check_size(im, 512, name)
    assert expected in str(err.value) and str(err.value).startswith(name)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_through_the_cli(name, tmp_path, capsys):
    data, expected = CORPUS[name]
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out.png"
    code = main(["stylize", str(path), str(examples.STARRY_NIGHT), "-o", str(out), "--size", "56",
                 "--steps", "1", "--device", "cpu", "-q"])
    err = capsys.readouterr().err
    if expected == "ok":
        assert code == 0 and Image.open(out).mode == "RGB", err
    else:
        assert code == 2 and err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_broken_exif_block_is_ignored():
    good = png_bytes(_gradient(), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\xff")
    im = images.load_image(good, "broken-exif.jpg")
    assert im.mode == "RGB" and im.size == (96, 64)


def test_corpus_through_the_app_loader():
    from brushwork.app import widgets

    class Page:
        def __init__(self):
            self.errors = []

        def error(self, text):
            self.errors.append(text)

    page = Page()
    uploads = [Upload(n, d) for n, (d, _) in sorted(CORPUS.items())]
    # one upload at a time: a refused one makes the whole input None (nothing else is painted)
    loaded = [widgets.load_inputs(page, [up], fallback=[]) for up in uploads]
    assert widgets.load_inputs(Page(), uploads, fallback=[]) is None  # any refused: none
    expected_ok = sorted(n for n, (_, e) in CORPUS.items() if e == "ok" or "under 32" in e)
    # (a size that cannot be painted is checked against the settings, before Start)
    assert sorted(i[0].name for i in loaded if i is not None) == expected_ok
    assert len(page.errors) == len(CORPUS) - len(expected_ok)
    assert all(": " in e and "Traceback" not in e for e in page.errors)


_SEEDS = [png_bytes(_gradient(24, 16)), png_bytes(_gradient(24, 16), "JPEG"),
          png_bytes(_gradient(24, 16), "GIF"), png_bytes(_gradient(24, 16), "WEBP"),
          png_bytes(_gradient(24, 16), "BMP"), png_bytes(_gradient(24, 16), "TIFF")]


@hyp_settings(max_examples=int(os.environ.get("BRUSHWORK_FUZZ_EXAMPLES", "150")), deadline=2000,
              suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_SEEDS), cut=st.integers(0, 400),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=6))
def test_fuzzed_files_only_raise_our_error(seed, cut, flips):
    data = bytearray(seed[: len(seed) - cut] if cut < len(seed) else seed)
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    try:
        im = images.load_image(bytes(data), "fuzz")
    except InputError:
        return
    assert im.mode == "RGB" and im.width * im.height <= images.MAX_PIXELS


NUMERIC = [f.name for f in dataclasses.fields(Settings)
           if f.metadata.get("min") is not None and f.name != "style_layer_weights"]


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 1e30])
def test_every_numeric_option_refuses_nonsense(name, value):
    f = next(f for f in dataclasses.fields(Settings) if f.name == name)
    is_tuple = "tuple" in str(f.type)
    with pytest.raises(InputError) as err:
        Settings(**{name: (value, value) if is_tuple else value})
    assert err.value.what == "--" + name.replace("_", "-")


def _calls(text: str, name: str) -> list[str]:
    """The argument text of every call `name(...)` in `text`, parentheses balanced."""
    calls, start = [], text.find(name + "(")
    while start != -1:
        i, depth = start + len(name) + 1, 1
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        calls.append(text[start + len(name) + 1: i - 1])
        start = text.find(name + "(", i)
    return calls


def test_weights_are_only_ever_loaded_with_weights_only():
    found = 0
    for path in [*SRC.rglob("*.py"), *(SRC.parent.parent / "scripts").rglob("*.py")]:
        for call in _calls(path.read_text(), "torch.load"):
            found += 1
            assert "weights_only=True" in call, f"{path.name}: torch.load({call})"
    assert found >= 3  # weights.py (two) and transfer.py


def test_cuda_out_of_memory_becomes_a_clear_error(monkeypatch, photo, painting, model):
    import brushwork.objective as objective

    def oom(*a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(objective, "content_loss", oom)
    with pytest.raises(brushwork.DeviceError, match="ran out of memory"):
        list(brushwork.iter_stylize(photo, painting, tiny(), model=model))


# ---- whole-process faults ------------------------------------------------------------------

def _start(tmp_path, *extra):
    cmd = [sys.executable, "-m", "brushwork", "stylize", str(examples.CONTENT),
           str(examples.STARRY_NIGHT), "-o", str(tmp_path / "out.png"), "--size", "48",
           "--device", "cpu", "--save-every", "1", "--save-dir", str(tmp_path / "steps"), *extra]
    # SIGINT back to its default in the child: a shell's background job ignores it, and Python
    # then never turns it into KeyboardInterrupt, so the run would not stop.
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Every read of the child's output is bounded: past this the child is killed, its output
    # ends, and the test fails instead of hanging the suite.
    watchdog = threading.Timer(CHILD_SECONDS, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    return proc


CHILD_SECONDS = 300


def _wait_for_intermediates(proc, n: int) -> list[str]:
    lines = []
    for line in proc.stderr:  # blocks until the CLI reports progress: no sleeping
        lines.append(line)
        if len([x for x in lines if "wrote" in x]) >= n:
            return lines
    raise AssertionError("the run ended early: " + "".join(lines))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_writes_the_latest_image_and_exits_130(tmp_path, sig):
    # A run far too long to finish by itself: however slow the test process is to read the
    # progress and send the signal, the run is still going when it arrives.
    proc = _start(tmp_path, "--steps", "100000")
    _wait_for_intermediates(proc, 3)
    proc.send_signal(sig)
    rest = proc.stderr.read()  # ends when the child exits (or the watchdog kills it)
    assert proc.wait(timeout=120) == 130, rest
    record = images.read_metadata(tmp_path / "out.png")
    assert 3 <= record["steps_done"] < 100000
    assert f"interrupted at step {record['steps_done']}/100000" in rest


# Loaded into the child through PYTHONPATH: the first picture file it writes is written half,
# then the child says so on stderr and blocks (on a pipe nobody writes to), waiting to be killed.
# A save that wrote into the user's file directly would leave it damaged.
_HALF_WRITE = """
import builtins, os, sys

_open, _fdopen = builtins.open, os.fdopen


class _Half:
    def __init__(self, f, path):
        self._f, self._path = f, path

    def write(self, data):
        if len(data) > 1000 and self._path.endswith((".png", ".tmp")):
            self._f.write(data[: len(data) // 2])
            self._f.flush()
            os.fsync(self._f.fileno())
            sys.stderr.write("HALF-WRITTEN " + self._path + "\\n")
            sys.stderr.flush()
            sys.stdin.read()  # never returns: the test kills us here
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _wrap(f, path):
    return _Half(f, str(path)) if "b" in getattr(f, "mode", "") and "w" in f.mode else f


builtins.open = lambda file, mode="r", *a, **k: _wrap(_open(file, mode, *a, **k), file)
os.fdopen = lambda fd, mode="r", *a, **k: _wrap(_fdopen(fd, mode, *a, **k),
                                                os.readlink(f"/proc/self/fd/{fd}"))
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc (Linux)")
def test_sigkill_during_the_save_leaves_the_users_picture_whole(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_HALF_WRITE)
    out = tmp_path / "out.png"
    images.save_image(_gradient(), out)
    env = {**os.environ, "PYTHONPATH": str(hook), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "brushwork", "stylize", str(examples.CONTENT),
         str(examples.STARRY_NIGHT), "-o", str(out), "--size", "48", "--steps", "2",
         "--device", "cpu", "--save-every", "0", "-q"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(CHILD_SECONDS, proc.kill)  # a bound on the read below
    watchdog.daemon = True
    watchdog.start()
    line = proc.stderr.readline()  # blocks until the child is half-way through a write
    assert line.startswith("HALF-WRITTEN"), line + proc.stderr.read()
    proc.kill()
    proc.wait(timeout=30)
    assert images.load_image(out).size == (96, 64)  # the user's picture, whole and unchanged
    half = Path(line.split(" ", 1)[1].strip())
    assert half != out and half.name.startswith(".")  # the half file was a temporary


def test_resume_continues_from_the_last_intermediate(tmp_path):
    proc = _start(tmp_path, "--steps", "12", "--save-every", "2")
    _wait_for_intermediates(proc, 3)  # steps 2, 4, 6 saved
    proc.kill()
    proc.wait(timeout=30)
    done = max(int(p.stem.split("step")[1]) for p in (tmp_path / "steps").glob("out-step*.png"))
    assert 6 <= done < 12
    run = subprocess.run([sys.executable, "-m", "brushwork", "stylize", str(examples.CONTENT),
                          str(examples.STARRY_NIGHT), "-o", str(tmp_path / "out.png"),
                          "--save-every", "2", "--save-dir", str(tmp_path / "steps"),
                          "--resume", str(tmp_path / "steps")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"resuming at step {done}/12" in run.stderr
    steps_run = [int(m) for m in re.findall(r"step (\d+)/12: wrote", run.stderr)]
    assert steps_run and min(steps_run) > done  # nothing before the interruption was redone
    record = images.read_metadata(tmp_path / "out.png")
    assert record["steps_done"] == 12 and record["settings"]["size"] == 48
