"""Rebuild the paper's Figure 2 (and colour-preserved and blended variants) from the bundled
images. Every picture is made with the command printed beside it.

    python scripts/gallery.py [--out docs/gallery] [--device auto] [--size 512]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

EX = "src/brushwork/examples/"
JOBS = [  # (file, caption, arguments after `brushwork stylize`)
    ("shipwreck.jpg", "The Shipwreck of the Minotaur", [EX + "tubingen.jpg", EX + "shipwreck.jpg"]),
    ("starry_night.jpg", "The Starry Night", [EX + "tubingen.jpg", EX + "starry_night.jpg"]),
    ("the_scream.jpg", "The Scream", [EX + "tubingen.jpg", EX + "the_scream.jpg"]),
    ("starry_luminance.jpg", "Starry Night, luminance only",
     [EX + "tubingen.jpg", EX + "starry_night.jpg", "--preserve-color", "luminance"]),
    ("starry_histogram.jpg", "Starry Night, histogram matched",
     [EX + "tubingen.jpg", EX + "starry_night.jpg", "--preserve-color", "histogram"]),
    ("blend_starry_scream.jpg", "Starry Night 0.5 + The Scream 0.5",
     [EX + "tubingen.jpg", EX + "starry_night.jpg", EX + "the_scream.jpg", "--style-blend", "0.5", "0.5"]),
]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/gallery")
    p.add_argument("--device", default="auto")
    p.add_argument("--size", default="512")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| picture | command | seconds |", "|---|---|---:|"]
    tiles = []
    for name, caption, args in JOBS:
        cmd = ["brushwork", "stylize", *args, "-o", str(out / name), "--size", a.size,
               "--device", a.device, "--save-every", "0", "-q"]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "brushwork", *cmd[1:]], check=True)
        secs = time.perf_counter() - start
        shown = " ".join(shlex.quote(c) for c in cmd if c not in ("--device", a.device))
        lines.append(f"| ![{caption}]({name}) | `{shown}` | {secs:.0f} |")
        tiles.append((caption, Image.open(out / name).convert("RGB")))
        print(lines[-1], flush=True)
    # One contact sheet with the photo first, as in the paper's figure.
    photo = Image.open(EX + "tubingen.jpg").convert("RGB")
    tiles.insert(0, ("Photo: Neckarfront, Tübingen", photo.resize(tiles[0][1].size)))
    w, h = tiles[0][1].size
    sheet = Image.new("RGB", (3 * w + 40, 3 * (h + 24) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (caption, im) in enumerate(tiles[:9]):
        x, y = 10 + (i % 3) * (w + 10), 5 + (i // 3) * (h + 24)
        sheet.paste(im.resize((w, h)), (x, y))
        draw.text((x, y + h + 4), caption, fill="black")
    sheet.save(out / "figure2.jpg", quality=88)
    beside = _beside_neural_style(out, {n: im for n, (_, im) in zip(
        [j[0] for j in JOBS], tiles[1:])})
    (out / "README.md").write_text("# Gallery: the paper's Figure 2, rebuilt\n\n"
                                   "Made by `python scripts/gallery.py` "
                                   f"(size {a.size}, default settings otherwise).\n\n"
                                   "![contact sheet](figure2.jpg)\n\n" + "\n".join(lines) + "\n"
                                   + beside + MORE)


MORE = ("\n## More\n\n- [A large print](large-print.md), computed in tiles, with its tile "
        "corners at 100% (scripts/large_print.py)\n- [Regions](regions.md): a painting per "
        "part of the picture, parts kept as the photo (scripts/regions_gallery.py)\n")
REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"
REF_FILES = {"starry_night.jpg": "jns_tubingen_starry.png", "the_scream.jpg": "jns_tubingen_scream.png",
             "shipwreck.jpg": "jns_tubingen_shipwreck.png"}


def _beside_neural_style(out: Path, ours: dict[str, Image.Image]) -> str:
    """neural-style's published pictures (left) beside ours (right), when ../shared has them."""
    if not REFERENCE.is_dir():
        return ""
    rows = [(Image.open(REFERENCE / ref).convert("RGB"), ours[name]) for name, ref in REF_FILES.items()]
    w, h = rows[0][1].size
    sheet = Image.new("RGB", (2 * w + 30, len(rows) * (h + 24) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (theirs, mine) in enumerate(rows):
        y = 5 + r * (h + 24)
        for c, (im, caption) in enumerate(((theirs, "neural-style (1000 steps, GPU)"),
                                           (mine, "brushwork, default settings"))):
            sheet.paste(im.resize((w, h)), (10 + c * (w + 10), y))
            draw.text((10 + c * (w + 10), y + h + 4), caption, fill="black")
    sheet.save(out / "vs-neural-style.jpg", quality=88)
    return ("\n## Beside neural-style\n\njcjohnson/neural-style's published pictures of the same "
            "three pairs (left; MIT licence, Copyright (c) 2015 Justin Johnson; made with its "
            "defaults: max pooling, 1000 L-BFGS steps from noise on a GPU) and ours with the "
            "default settings (right). Photo: Neckarfront in Tübingen by Andreas Praefcke, "
            "CC BY 3.0. Measured against each other in [docs/quality.md](../quality.md).\n\n"
            "![beside neural-style](vs-neural-style.jpg)\n")


if __name__ == "__main__":
    main()
