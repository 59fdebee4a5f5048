import io
import os

import pytest
from PIL import Image

from brushwork import InputError, images
from conftest import png_bytes


def _rgb_gradient(w=64, h=48):
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 4 % 256, y * 5 % 256, 128) for y in range(h) for x in range(w)])
    return im


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1", "I", "F"])
def test_every_mode_becomes_rgb(mode):
    src = _rgb_gradient()
    if mode == "I;16":
        im = Image.new("I;16", (64, 48))
        im.putdata([x * 1000 for y in range(48) for x in range(64)])
    else:
        im = src.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    out = images.load_image(png_bytes(im, fmt), "t")
    assert out.mode == "RGB" and out.size == (64, 48)
    if mode == "I;16":  # 16-bit data is scaled into 8 bits, not clipped to white
        px = [out.getpixel((x, 0))[0] for x in (0, 32, 63)]
        assert px[0] < px[1] < px[2] <= 255 and px[1] < 255


def test_transparency_composited_on_white():
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    out = images.load_image(png_bytes(im), "t")
    assert out.getpixel((5, 5)) == (255, 255, 255)


def test_exif_orientation_is_applied():
    im = _rgb_gradient(64, 32)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    data = png_bytes(im, "JPEG", exif=exif.tobytes())
    assert images.load_image(data, "t").size == (32, 64)


def test_first_frame_of_an_animation():
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    r, g, b = images.load_image(buf.getvalue(), "t").getpixel((5, 5))
    assert r > 200 and b < 50


@pytest.mark.parametrize("data,problem", [
    (b"", "empty"),
    (b"hello, I am text", "not an image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
])
def test_unreadable_inputs_raise_input_error(data, problem):
    with pytest.raises(InputError, match=problem):
        images.load_image(data, "upload.png")


def test_truncated_jpeg_is_refused():
    data = png_bytes(_rgb_gradient(256, 256), "JPEG")
    with pytest.raises(InputError, match="damaged or truncated") as err:
        images.load_image(data[: len(data) // 2], "half.jpg")
    assert str(err.value).startswith("half.jpg: ")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        images.load_image(tmp_path / "gone.jpg")
    assert "gone.jpg" in str(err.value)


def test_too_small_after_resizing_is_refused():
    with pytest.raises(InputError, match="under 32 px"):
        images.check_size(Image.new("RGB", (1000, 10)), 512, "content image")
    images.check_size(Image.new("RGB", (100, 50)), 64, "content image")  # 64x32 is fine


def test_atomic_save_round_trips_metadata_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"the user's old picture")
    images.save_image(_rgb_gradient(), path, {"settings": {"size": 64}})
    assert images.read_metadata(path) == {"settings": {"size": 64}}
    assert os.listdir(tmp_path) == ["out.png"]
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others, like any saved file


class _DiskFull(OSError):
    pass


@pytest.mark.parametrize("fails_in", ["write", "fsync", "encode"])
def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, fails_in):
    path = tmp_path / "out.png"
    images.save_image(_rgb_gradient(), path, {"settings": {"size": 64}})
    old = path.read_bytes()
    if fails_in == "encode":  # the encoder gives up half-way
        def broken(self, *a, **k):
            raise OSError("encoder error -2")
        monkeypatch.setattr(Image.Image, "save", broken)
    else:  # the disk fills up after part of the file is on it
        real = {"write": io.BufferedWriter.write, "fsync": os.fsync}

        class Full(io.BufferedWriter):
            def write(self, data):
                real["write"](self, data[: len(data) // 2])
                raise _DiskFull(28, "No space left on device")

        if fails_in == "fsync":
            monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(_DiskFull(28, "full")))
        else:
            real_fdopen = os.fdopen
            monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", **k: Full(
                real_fdopen(fd, mode, buffering=0)))
    with pytest.raises(OSError):
        images.save_image(Image.new("RGB", (64, 48), (200, 10, 10)), path, {"new": True})
    assert path.read_bytes() == old  # the user's picture, byte for byte
    assert os.listdir(tmp_path) == ["out.png"]  # no temporary left behind


def test_jpeg_and_webp_outputs_carry_their_settings(tmp_path):
    for ext in (".jpg", ".webp"):
        p = images.save_image(_rgb_gradient(), tmp_path / f"o{ext}", {"a": 1, "s": "<&>"})
        assert Image.open(p).size == (64, 48)
        assert images.read_metadata(p) == {"a": 1, "s": "<&>"}


def test_output_path_checks(tmp_path):
    with pytest.raises(InputError, match="extension"):
        images.check_output_path(tmp_path / "out.gifx")
    with pytest.raises(InputError, match="does not exist"):
        images.check_output_path(tmp_path / "nope" / "out.png")
