"""The gallery's region pictures: Tübingen with the sky in The Starry Night and the houses in
The Scream, and with the sky painted and the houses kept as the photo.

The sky mask comes from the photo itself (blue and bright, above the river); the masks are
written beside the pictures, so each picture's command can be run again as printed.

    python scripts/regions_gallery.py [--out docs/gallery] [--size 512]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

EX = "src/brushwork/examples/"


def sky_mask(photo: Image.Image) -> Image.Image:
    """White where the photo is sky: blue over red, bright, and above the river's reflection."""
    rgb = np.asarray(photo.convert("RGB"), dtype=np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    sky = (b > r + 40) & (b > 140)
    sky[round(0.55 * sky.shape[0]):] = False  # the reflection in the river is not sky
    mask = Image.fromarray(sky.astype(np.uint8) * 255, "L")
    # Close the specks between branches and antennas, then soften the edge by a pixel.
    return mask.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.MinFilter(3)).filter(
        ImageFilter.GaussianBlur(1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/gallery")
    p.add_argument("--size", default="512")
    a = p.parse_args()
    out = Path(a.out)
    masks = out / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    photo = Image.open(EX + "tubingen.jpg")
    sky = sky_mask(photo)
    sky.save(masks / "tubingen-sky.png")
    Image.eval(sky, lambda v: 255 - v).save(masks / "tubingen-houses.png")
    jobs = [
        ("regions_sky_starry_houses_scream.jpg", "Sky: The Starry Night; houses: The Scream",
         [EX + "tubingen.jpg", EX + "starry_night.jpg", EX + "the_scream.jpg", "--style-masks",
          str(masks / "tubingen-sky.png"), str(masks / "tubingen-houses.png")]),
        ("regions_sky_starry_houses_kept.jpg", "Sky: The Starry Night; houses kept as the photo",
         [EX + "tubingen.jpg", EX + "starry_night.jpg", "--style-masks",
          str(masks / "tubingen-sky.png")]),
    ]
    lines = ["| picture | command | seconds |", "|---|---|---:|"]
    shown = []
    for name, caption, args in jobs:
        cmd = ["brushwork", "stylize", *args, "-o", str(out / name), "--size", a.size,
               "--save-every", "0", "-q"]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "brushwork", *cmd[1:]], check=True)
        lines.append(f"| ![{caption}]({name}) | `{' '.join(shlex.quote(c) for c in cmd)}` | "
                     f"{time.perf_counter() - start:.0f} |")
        shown.append((caption, Image.open(out / name).convert("RGB")))
        print(lines[-1], flush=True)
    # A sheet: the mask over the photo, then both pictures; and the border at 2x.
    w, h = shown[0][1].size
    overlay = Image.composite(Image.new("RGB", photo.size, "#1e88e5"), photo.convert("RGB"),
                              sky.point(lambda v: v * 55 // 100)).resize((w, h))
    sheet = Image.new("RGB", (3 * w + 40, 2 * (h + 24) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    tiles = [("The sky mask over the photo", overlay), *shown]
    for i, (caption, im) in enumerate(tiles):
        x = 10 + i * (w + 10)
        sheet.paste(im, (x, 5))
        draw.text((x, h + 9), caption, fill="black")
    # The roofline, where the two regions meet, at 2x from each picture.
    box = (round(0.55 * w), round(0.2 * h), round(0.55 * w) + w // 3, round(0.2 * h) + h // 3)
    for i, (caption, im) in enumerate(shown):
        x = 10 + i * (w + 10) + (w + 10)
        crop = im.crop(box).resize(((box[2] - box[0]) * 2, (box[3] - box[1]) * 2),
                                   Image.Resampling.NEAREST)
        sheet.paste(crop, (x, h + 29))
        draw.text((x, 2 * h + 33), "the roofline at 2x", fill="black")
    sheet.save(out / "regions.jpg", quality=90)
    (out / "regions.md").write_text(
        "# Regions\n\nMade by `python scripts/regions_gallery.py`: the sky mask is taken from "
        "the photo (blue and bright, above the river) and written to masks/; each picture's "
        "command is below. Top: the mask over the photo and the two pictures; bottom: the "
        "roofline, where the regions meet, at 2x.\n\n![regions](regions.jpg)\n\n"
        + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
