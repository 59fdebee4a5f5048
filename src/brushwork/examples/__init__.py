"""The bundled example images (see README.md here for their credits)."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
CONTENT = FOLDER / "tubingen.jpg"
STYLES = {
    "The Starry Night (van Gogh)": FOLDER / "starry_night.jpg",
    "The Scream (Munch)": FOLDER / "the_scream.jpg",
    "The Shipwreck of the Minotaur (Turner)": FOLDER / "shipwreck.jpg",
    "Woman with a Hat (Matisse)": FOLDER / "woman_with_hat_matisse.jpg",
}
STARRY_NIGHT = STYLES["The Starry Night (van Gogh)"]
# What the defaults make of the first two (the app's first screen shows it): not an input.
EXAMPLE_RESULT = FOLDER / "example_result.jpg"
EXAMPLE_CAPTION = ("What the defaults make of these two: Tübingen as The Starry Night, 512 px, "
                   "130 steps, about a minute on a 2-core laptop CPU")


# The demo clip (`brushwork video demo`, the app's video page): a pan across the photo.
DEMO_FRAMES, DEMO_FPS = 24, Fraction(24)
DEMO_NAME = "demo: pan across tubingen.jpg"


def all_paths() -> list[Path]:
    return [CONTENT, *STYLES.values()]


def demo_record() -> dict[str, str]:
    """The demo clip's input record: its name, and the SHA-256 of the photo it pans across."""
    return {"name": DEMO_NAME, "sha256": hashlib.sha256(CONTENT.read_bytes()).hexdigest()}


def _window(i: int, size: tuple[int, int], pan: float, zoom: float,
            photo: tuple[int, int]) -> tuple[float, float, float]:
    """Frame i of a pan: output pixel (u, v) shows photo point (x0 + s u, y0 + s v)."""
    w, h = size
    # The first window covers 70% of the photo's height (or width, for a photo narrower than
    # the frame's aspect) and starts near its left edge, so a pan of 48 frames at the default
    # speed stays inside a landscape photo.
    scale = 0.7 * min(photo[1] / h, photo[0] / w)
    s = scale * (1 - zoom) ** i
    x0 = 0.05 * photo[0] + i * pan * 0.7 * photo[1] / 240  # the same motion at any size
    y0 = 0.15 * photo[1] + (scale - s) * h / 2  # zoom about the vertical centre
    return s, x0, y0


def pan_clip(frames: int = 24, size: tuple[int, int] = (320, 240), pan: float = 2.0,
             zoom: float = 0.004, source: Path = CONTENT):
    """A clip whose true motion is known, made from a bundled photo: a window that slides right
    by `pan` pixels per frame (of a 320x240 frame: the same motion at any size) and zooms in by
    `zoom` each frame, with sub-pixel steps.
    For tests, benchmarks and the demo; returns a list of RGB PIL images of `size`."""
    from PIL import Image

    photo = Image.open(source).convert("RGB")
    w, h = size
    out = []
    for i in range(frames):
        s, x0, y0 = _window(i, size, pan, zoom, photo.size)
        # resize's box takes sub-pixel corners and filters as it shrinks, as a camera's sensor
        # would (a plain affine transform would alias the fine detail and make it shimmer).
        out.append(photo.resize(size, Image.Resampling.LANCZOS,
                                box=(x0, y0, x0 + s * w, y0 + s * h)))
    return out


def pan_flow(i: int, j: int, size: tuple[int, int] = (320, 240), pan: float = 2.0,
             zoom: float = 0.004, source: Path = CONTENT):
    """The true flow from frame i to frame j of `pan_clip` with the same arguments, as an
    (H, W, 2) float32 array of (dx, dy): frame_i(p) shows what frame_j shows at p + flow(p)."""
    import numpy as np
    from PIL import Image

    with Image.open(source) as photo:
        shape = photo.size
    w, h = size
    si, xi, yi = _window(i, size, pan, zoom, shape)
    sj, xj, yj = _window(j, size, pan, zoom, shape)
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)  # pixel centres
    du = (xi + si * u - xj) / sj - u
    dv = (yi + si * v - yj) / sj - v
    return np.stack([du, dv], axis=-1).astype(np.float32)
