"""The gallery's large print, and its tile boundaries at 100% beside an untiled run.

1. A 3072 px print of the bundled Tübingen as The Starry Night under an 8 GB cap: its full-size
   scale does not fit whole and is computed in tiles.
2. The same pair at 1024 px twice, whole and in forced 512 px tiles (both fit at this size):
   100% crops across a tile corner side by side, with their difference amplified.

    python scripts/large_print.py [--out docs/gallery] [--size 3072] [--compare 1024]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

EX = "src/brushwork/examples/"
PAIR = [EX + "tubingen.jpg", EX + "starry_night.jpg"]
CROP = 256


def stylize(out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "brushwork", "stylize", *PAIR, "-o", str(out),
                    "--save-every", "0", "-q", *extra], check=True)
    return time.perf_counter() - start


def corner(size: tuple[int, int], side: int | None = None, crop: int | None = None,
           ) -> tuple[int, int]:
    """A point where four tiles meet, near the middle (tiling.cut)."""
    from brushwork import tiling

    cut = tiling.cut(*size, ["relu4_2", "relu5_1"], side=side, crop=crop)
    inner = [t for t in cut if t.x0 > 0 and t.y0 > 0]
    t = min(inner, key=lambda t: abs(t.x0 - size[0] / 2) + abs(t.y0 - size[1] / 2))
    return t.x0, t.y0


def main() -> None:
    """The whole measurement, top to bottom: a script reads best as one function."""
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/gallery")
    p.add_argument("--size", type=int, default=3072)
    p.add_argument("--compare", type=int, default=1024)
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--max-memory", default="8")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "large"
    work.mkdir(exist_ok=True)

    notes = []
    print_path = work / f"print-{a.size}.png"
    secs = stylize(print_path, "--size", str(a.size), "--max-memory", a.max_memory)
    big = Image.open(print_path).convert("RGB")
    big.save(out / "large-print.jpg", quality=90)
    notes.append(f"{big.size[0]}x{big.size[1]} print under {a.max_memory} GB: {secs / 60:.1f} min")
    print(notes[-1], flush=True)

    whole, tiled = work / f"whole-{a.compare}.png", work / f"tiled-{a.compare}.png"
    t_whole = stylize(whole, "--size", str(a.compare), "--tile", "0")
    t_tiled = stylize(tiled, "--size", str(a.compare), "--tile", str(a.tile))
    ims = [Image.open(f).convert("RGB") for f in (whole, tiled)]
    x, y = corner(ims[0].size, a.tile)
    box = (x - CROP // 2, y - CROP // 2, x + CROP // 2, y + CROP // 2)
    crops = [im.crop(box) for im in ims]
    diff = ImageChops.difference(*crops)
    mean = float(np.asarray(diff, dtype=np.float64).mean())
    full_mean = float(np.asarray(ImageChops.difference(*ims), dtype=np.float64).mean())
    amplified = diff.point(lambda v: min(255, v * 10))
    sheet = Image.new("RGB", (3 * CROP + 40, CROP + 50), "white")
    draw = ImageDraw.Draw(sheet)
    captions = ["untiled", f"tiles of {a.tile} px (corner at the ticks)", "difference x10"]
    for i, (im, caption) in enumerate(zip([*crops, amplified], captions)):
        sheet.paste(im, (10 + i * (CROP + 10), 10))
        draw.text((10 + i * (CROP + 10), CROP + 16), caption, fill="black")
    for i in range(2):  # ticks outside the crop where the tile edges cross it
        cx = 10 + i * (CROP + 10) + CROP // 2
        draw.line([(cx, 2), (cx, 8)], fill="red", width=2)
        draw.line([(cx, CROP + 12), (cx, CROP + 14)], fill="red", width=2)
        draw.line([(2 + i * (CROP + 10), 10 + CROP // 2), (8 + i * (CROP + 10), 10 + CROP // 2)],
                  fill="red", width=2)
    sheet.save(out / "large-print-boundary.png")
    notes.append(f"{ims[0].size[0]}x{ims[0].size[1]}: whole {t_whole / 60:.1f} min, tiled "
                 f"{t_tiled / 60:.1f} min; mean |difference| {mean:.2f}/255 in the crop at "
                 f"({x}, {y}), {full_mean:.2f}/255 over the picture; largest in the crop "
                 f"{max(hi for _, hi in diff.getextrema())}/255")
    print(notes[-1], flush=True)

    # A 100% crop of the print itself across one of its tile corners.
    from brushwork import memory, prepare
    from brushwork.settings import Settings
    import torch

    s = Settings(size=a.size, max_memory=float(a.max_memory))
    cpu = torch.device("cpu")
    plan = prepare.memory_plan(big.size, s, cpu, memory.budget_bytes(cpu, s.max_memory))
    if plan.tiled:
        x, y = corner(big.size, crop=plan.crop)
        big.crop((x - 384, y - 256, x + 384, y + 256)).save(out / "large-print-crop.png")
        notes.append(f"print: {plan.tiles} tiles at full size, L-BFGS history {plan.history}; "
                     f"the 100% crop is centred where four tiles meet, at ({x}, {y})")
        print(notes[-1], flush=True)
    (out / "large-print.md").write_text(
        "# A large print\n\n"
        f"Made by `python scripts/large_print.py --size {a.size} --compare {a.compare} --tile "
        f"{a.tile} --max-memory {a.max_memory}`: the bundled Tübingen as The Starry Night at "
        f"{big.size[0]}x{big.size[1]}, default settings, under a {a.max_memory} GB cap, so its "
        "full-size scale is computed in tiles (exactly: one Gram matrix for the whole picture).\n\n"
        "![the print](large-print.jpg)\n\n"
        "## At 100%, where four tiles meet\n\n![crop of the print](large-print-crop.png)\n\n"
        f"## Beside an untiled run\n\nAt {a.compare} px, where both fit: the same run whole and "
        f"in forced {a.tile} px tiles, 100% crops across a tile corner (the ticks), and their "
        "difference x10.\n\n![tiled beside untiled](large-print-boundary.png)\n\n"
        + "\n".join(f"- {n}" for n in notes) + "\n")


if __name__ == "__main__":
    main()
