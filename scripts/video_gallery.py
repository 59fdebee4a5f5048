"""The video gallery (docs/gallery/video-*.{jpg,mp4}) from frames benchmarks/video.py saved.

    python benchmarks/video.py --sizes 256 --frames 24 --save docs/gallery/video-frames
    python scripts/video_gallery.py docs/gallery/video-frames --size 256 --weight 300

Writes a strip of consecutive frames (the input clip, per-frame stylisation, ours) and a
side-by-side MP4 (per-frame on the left, ours on the right) to watch the flicker.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw

from brushwork import videoio

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery"


def frames(folder: Path) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in sorted(folder.glob("frame_*.png"))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("saved", type=Path)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--weight", default="300")
    p.add_argument("--first", type=int, default=8, help="first frame of the strip")
    p.add_argument("--count", type=int, default=5, help="frames in the strip")
    args = p.parse_args()
    rows = [("input", frames(args.saved / f"input-{args.size}")),
            ("per-frame (--temporal-weight 0)", frames(args.saved / f"per-frame-{args.size}")),
            (f"brushwork video (--temporal-weight {args.weight})",
             frames(args.saved / f"temporal{args.weight}-{args.size}"))]
    w, h = rows[0][1][0].size
    label = 18
    strip = Image.new("RGB", (w * args.count, (h + label) * len(rows)), "white")
    draw = ImageDraw.Draw(strip)
    for r, (name, pics) in enumerate(rows):
        y = r * (h + label)
        draw.text((4, y + 3), f"{name}: frames {args.first}-{args.first + args.count - 1}",
                  fill="black")
        for c in range(args.count):
            strip.paste(pics[args.first + c].resize((w, h)), (c * w, y + label))
    strip.save(GALLERY / "video-strip.jpg", quality=90)
    both = [Image.new("RGB", (2 * w, h)) for _ in rows[1][1]]
    for im, a, b in zip(both, rows[1][1], rows[2][1]):
        im.paste(a, (0, 0))
        im.paste(b, (w, 0))
    videoio.write_mp4(both, GALLERY / "video-compare.mp4", Fraction(12))
    videoio.write_mp4(rows[2][1], GALLERY / "video.mp4", Fraction(24))
    print(f"wrote {GALLERY / 'video-strip.jpg'}, video-compare.mp4 and video.mp4")


if __name__ == "__main__":
    main()
