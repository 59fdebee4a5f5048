"""Image input and output: one loader for the CLI, the API and the web app, and atomic saving.

`load_image` accepts only real raster formats, refuses decompression bombs, decodes the whole file
while validating (so a truncated file fails here, not an hour into a run), applies EXIF orientation
and turns every mode into 8-bit RGB. Everything else in brushwork works on RGB tensors in [0, 1].
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, Union

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from . import records
from .layers import MIN_SIDE
from .errors import InputError, short

if TYPE_CHECKING:  # torch is imported where a tensor is made: the instant path never needs it
    import torch

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")  # JPEG covers camera MPO files
FORMAT_NAMES = "PNG, JPEG, WebP, BMP, TIFF or GIF"
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
MAX_PIXELS = 64_000_000  # about 8000 x 8000: far beyond any useful input, far below a bomb
MAX_FILE_BYTES = 200 * 2**20
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
# The file names of images brushwork reads, one list for folders, globs and the app's uploads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
METADATA_KEY = "brushwork"

ImageSource = Union[str, os.PathLike, bytes, BinaryIO]


def load_image(source: ImageSource, name: str | None = None,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Read an image file (path, bytes or binary file object) and return it as RGB.

    Raises `InputError` naming `name` (default: the path) for anything that is not a usable image.
    """
    return to_rgb(_open(source, name, max_pixels))


def load_mask(source: ImageSource, name: str | None = None,
              max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A region mask as an 8-bit greyscale image: white where a style applies.

    Transparency means "no style" (alpha multiplies the grey), and 16-bit masks are scaled from
    their full range, so a 0.3% grey stays 0.3% whatever its values' magnitude.
    """
    return to_mask(_open(source, name, max_pixels))


def to_mask(im: Image.Image) -> Image.Image:
    """Any Pillow mode as an 8-bit greyscale mask, transparent pixels black (no style)."""
    alpha = None
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        im = rgba.convert("RGB")
    grey = np.asarray(to_rgb(im).convert("L"), dtype=np.float64)
    if alpha is not None:
        grey = grey * alpha
    return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")


def _open(source: ImageSource, name: str | None, max_pixels: int) -> Image.Image:
    """The file's first frame, fully decoded and upright; InputError for anything else."""
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else "image")
    data = _read_bytes(source, name)
    if not data:
        raise InputError(name, "the file is empty", f"give a {FORMAT_NAMES} image")
    with warnings.catch_warnings():
        # Pillow warns (not fails) between its own cap and twice that: make both our error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(name, f"{w}x{h} is {w * h / 1e6:.0f} megapixels, over the "
                                 f"{max_pixels / 1e6:.0f} MP limit", "downscale it first")
            if w < 1 or h < 1:
                raise InputError(name, f"has no pixels ({w}x{h})", f"give a {FORMAT_NAMES} image")
            im.seek(0)  # animations and multi-page files: the first frame
            im.load()  # decode everything now: truncated and corrupt files fail here
        except InputError:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise InputError(name, "claims too many pixels (a decompression bomb?)",
                             "give an image under 64 megapixels") from None
        except UnidentifiedImageError:
            if data.startswith(_SIGNATURES):  # it says it is one of ours: its header is broken
                raise InputError(name, "is damaged or truncated (broken header)",
                                 "re-export or re-download the image") from None
            raise InputError(name, "is not an image brushwork can read",
                             f"give a {FORMAT_NAMES} file") from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError,
                IndexError, TypeError, ZeroDivisionError) as e:
            raise InputError(name, f"is damaged or truncated ({short(e)})",
                             "re-export or re-download the image") from None
    return _apply_exif_orientation(im, name)


def read_file(path: str | os.PathLike, name: str) -> bytes:
    """A file's bytes, or InputError naming `name` (missing, a folder, too big, unreadable)."""
    return _read_bytes(Path(path), name)


def _read_bytes(source: ImageSource, name: str) -> bytes:
    if isinstance(source, bytes):
        return source
    if hasattr(source, "read"):
        return source.read(MAX_FILE_BYTES + 1)  # type: ignore[union-attr]
    path = Path(source)
    if not path.exists():
        raise InputError(name, "no such file", "check the path")
    if not path.is_file():
        raise InputError(name, "is not a file", "give the path of an image file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(name, f"file is over {MAX_FILE_BYTES >> 20} MB", "give a smaller image")
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(name, f"cannot be read ({e.strerror})", "check its permissions") from None


def _apply_exif_orientation(im: Image.Image, name: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception as e:  # a broken EXIF block must not cost the user the image
        warnings.warn(f"{name}: ignoring a broken EXIF block ({short(e)})", stacklevel=3)
        return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: alpha composited on white, 16-bit and float scaled."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            top = 1.0 if a.max(initial=0) <= 1.0 else 255.0
        elif im.mode.startswith("I;16"):  # 16-bit data: its full range, whatever its values
            top = 65535.0
        else:  # 32-bit integers: 16-bit data in older Pillows, or values beyond that
            top = max(65535.0, float(a.max(initial=0)))
        a = np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(a).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def fit_size(width: int, height: int, longer: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `longer`, keeping the aspect ratio."""
    scale = longer / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_size(im: Image.Image, longer: int, name: str) -> None:
    """Refuse an image whose shorter side would fall under MIN_SIDE at the given longer side."""
    w, h = fit_size(*im.size, longer)
    if min(w, h) < MIN_SIDE:
        raise InputError(name, f"at a longer side of {longer} px this {im.width}x{im.height} "
                         f"image is {w}x{h}, under {MIN_SIDE} px on a side",
                         "use a larger --size or a less elongated image")


def resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == size:
        return im
    return im.resize(size, Image.Resampling.LANCZOS)


def to_tensor(im: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB PIL image -> (1, 3, H, W) float tensor in [0, 1]."""
    import torch

    a = np.asarray(to_rgb(im), dtype=np.uint8)
    t = torch.from_numpy(a.copy()).permute(2, 0, 1).unsqueeze(0)
    return (t.to(device=device, dtype=torch.float32) / 255.0).contiguous()


def to_pil(t: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB PIL image (values clamped)."""
    import torch

    t = t.detach()
    if t.dim() == 4:
        t = t[0]
    a = (t.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a, "RGB")


def check_output_path(path: str | os.PathLike, what: str = "-o") -> Path:
    """Refuse an output path we could not write, before any work is done."""
    p = Path(path)
    if p.suffix.lower() not in OUTPUT_FORMATS:
        raise InputError(f"{what} {p}", f"unknown image extension {p.suffix or '(none)'!r}",
                         "end the name with .png, .jpg or .webp")
    check_writable(p, what)
    if p.is_dir():
        raise InputError(f"{what} {p}", "is a folder", "give a file name ending in .png")
    return p


def check_writable(p: Path, what: str = "-o") -> None:
    """Refuse an output whose folder is missing, or that we may not write."""
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what} {p}", f"folder {parent} does not exist", "create it first")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"{what} {p}", "is not writable", "choose a folder you can write to")


def check_not_input(out: str | os.PathLike, inputs: list[str | os.PathLike],
                    what: str = "-o") -> None:
    """Refuse an output that is one of the command's inputs (compared as real paths, so
    `./photo.jpg`, a link to it or `dir/../photo.jpg` are caught too): writing it would destroy
    what the user gave."""
    target = os.path.realpath(out)
    for given in inputs:
        if os.path.realpath(given) == target:
            raise InputError(f"{what} {out}", f"is the input {given}; writing it would replace "
                             "that file", "choose another output name")


def encode_image(im: Image.Image, fmt: str, metadata: dict[str, Any] | None = None) -> bytes:
    """The bytes of `im` in `fmt` (PNG, JPEG, WEBP), with `metadata` embedded as JSON."""
    buf = io.BytesIO()
    text = json.dumps(metadata, sort_keys=True) if metadata is not None else None
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if text:
            info.add_itxt(METADATA_KEY, text)
        im.save(buf, "PNG", pnginfo=info)
    elif fmt == "JPEG":
        im.save(buf, "JPEG", quality=95, comment=text.encode() if text else b"")
    else:  # WebP: no text chunks, but an XMP packet
        im.save(buf, fmt, quality=95, **({"xmp": _xmp(text)} if text else {}))
    return buf.getvalue()


_XMP_NS = "urn:brushwork:record:1"


def _xmp(text: str) -> bytes:
    """A minimal XMP packet holding the record as one escaped element."""
    from xml.sax.saxutils import escape

    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:brushwork="{_XMP_NS}">'
            f"<brushwork:{METADATA_KEY}>{escape(text)}</brushwork:{METADATA_KEY}>"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def _from_xmp(xmp: bytes | str | None) -> str | None:
    import xml.etree.ElementTree as ET

    if not xmp:
        return None
    try:
        root = ET.fromstring(xmp.encode("utf-8") if isinstance(xmp, str) else xmp)
    except ET.ParseError:
        return None
    found = root.find(f".//{{{_XMP_NS}}}{METADATA_KEY}")
    return found.text if found is not None else None


def save_image(im: Image.Image, path: str | os.PathLike,
               metadata: dict[str, Any] | None = None) -> Path:
    """Write `im` atomically: a temporary file in the same folder, then a rename over `path`.

    A crash or kill at any moment leaves either the old file or the new one, never half of one.
    """
    p = Path(path)
    fmt = OUTPUT_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(str(p), f"unknown image extension {p.suffix!r}", "use .png, .jpg or .webp")
    return write_atomic(p, encode_image(im, fmt, metadata))


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file in the same folder, then rename it over `path`."""
    with atomic(path) as tmp:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


@contextlib.contextmanager
def atomic(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in `path`'s folder to write the whole file to; on success it is renamed
    over `path` (with the mode `output_mode` gives), on any failure removed. A crash or kill at
    any moment leaves either the old file or the new one, never half of one."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.",
                               suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, output_mode(p))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_mode(path: Path) -> int:
    """The permissions an output gets: an overwritten file keeps its own (a private 0600 picture
    stays private); a new one follows the umask, as any program's new file does. mkstemp's
    temporaries are 0600 whatever the umask, so the mode is set before the rename."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def read_metadata(source: ImageSource, name: str | None = None) -> dict[str, Any]:
    """The settings brushwork embedded in an output image."""
    name = name or str(source)
    data = _read_bytes(source, name) if not isinstance(source, bytes) else source
    try:
        im = Image.open(io.BytesIO(data))
        text = (getattr(im, "text", {}).get(METADATA_KEY) or im.info.get("comment")
                or _from_xmp(im.info.get("xmp")))
    except Exception:
        text = None
    if not text:
        raise InputError(name, "carries no brushwork settings",
                         "give a PNG, JPEG or WebP that brushwork wrote")
    return records.parse(text, name)
