"""Picture quality on pairs we did not tune on: Wang et al.'s CF, GE and LP and neural-style's yardstick.

    python benchmarks/quality.py                       # every pair, default settings, 512 px
    python benchmarks/quality.py --pairs ref           # the three reference pairs only
    python benchmarks/quality.py --variant tv0 tv_weight=0 --variant paper style_norm=paper

For each pair and variant: content fidelity, global effects and local patterns (brushwork.metrics,
higher is better), the yardstick's style and content distances (../shared/reference/
README.md: Caffe VGG-19 with max pooling and no normalisation, everything at 512 px), the one
number `sqrt(style/ref_style * content/ref_content)`, a speckle measure, the wall time and whether
the run had to give up. Pairs with a neural-style picture are measured against it; the others
against the mean of the three reference pictures (neural-style's typical distances), so "below 1"
reads the same everywhere. Pictures and a contact sheet go to --out (look at them: a metric does
not see a face pasted into a corner). Prints a markdown table (docs/quality.md keeps one).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFilter, ImageOps

import brushwork
from brushwork import color, examples, images
from brushwork.metrics import Scorer

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "reference"
# neural-style's published pictures, measured with this yardstick (reference README).
REF_SCORES = {"starry": (0.0995, 1.00), "scream": (0.065, 0.66), "shipwreck": (0.0706, 0.53)}
TYPICAL = (sum(s for s, _ in REF_SCORES.values()) / 3, sum(c for _, c in REF_SCORES.values()) / 3)


# -- the pair set: photos and paintings, some made here from the bundled ones -----------------
def _ex(name: str) -> Image.Image:
    return brushwork.load_image(examples.FOLDER / name)


def _photo(name: str) -> Image.Image:
    return brushwork.load_image(HERE / "pairs" / name)


def _engraving() -> Image.Image:
    """A greyscale engraving-like picture: Matisse's portrait as hatched lines, in grey."""
    grey = ImageOps.autocontrast(_ex("woman_with_hat_matisse.jpg").convert("L"))
    w, h = grey.size
    lines = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(lines)
    for k in range(-h, w, 4):  # diagonal hatching, denser where the picture is darker
        draw.line([(k, 0), (k + h, h)], fill=0, width=1)
    for k in range(0, w + h, 6):
        draw.line([(k, 0), (k - h, h)], fill=0, width=1)
    dark = grey.point(lambda v: 255 - v)
    return Image.composite(lines, Image.new("L", (w, h), 255), dark.point(
        lambda v: 255 if v > 90 else 0)).filter(ImageFilter.SMOOTH).convert("L")


def _flat() -> Image.Image:
    """A near-flat painting: one ochre with a faint canvas texture."""
    g = torch.Generator().manual_seed(0)
    t = torch.tensor([0.78, 0.62, 0.35]).view(3, 1, 1) + 0.03 * torch.randn(3, 300, 400, generator=g)
    return images.to_pil(t.clamp(0, 1))


def paintings() -> dict[str, Image.Image]:
    scream, starry = _ex("the_scream.jpg"), _ex("starry_night.jpg")
    w, h = scream.size
    sw, sh = starry.size
    return {
        "starry": starry,
        "scream": scream,
        "shipwreck": _ex("shipwreck.jpg"),
        "matisse-portrait": _ex("woman_with_hat_matisse.jpg"),
        "shipwreck-grey": _ex("shipwreck.jpg").convert("L"),
        "engraving-grey": _engraving(),
        # The Scream's figure: a face with eyes, the thing that must not be pasted into a photo.
        "scream-face": scream.crop((int(w * 0.3), int(h * 0.45), int(w * 0.75), int(h * 0.9))),
        "tiny-starry": _ex("starry_night.jpg").resize((64, 51), Image.Resampling.LANCZOS),
        "huge-scream": scream.resize((w * 6000 // h, 6000), Image.Resampling.BICUBIC),
        "flat-ochre": _flat(),
        "strip-shipwreck": _ex("shipwreck.jpg").crop((0, 300, 1200, 420)),
        # Paintings that invite pasting: a face filling most of the picture (a portrait photo
        # used as the painting), and one strong object (the Starry Night's moon, cropped).
        "astronaut-face": _photo("astronaut.jpg").crop((100, 0, 420, 340)),
        "moon": starry.crop((int(sw * 0.72), 0, sw, int(sh * 0.42))),
    }


def photos() -> dict[str, Image.Image]:
    return {"tubingen": _ex("tubingen.jpg"), "astronaut": _photo("astronaut.jpg"),
            "chelsea": _photo("chelsea.jpg"), "coffee": _photo("coffee.jpg"),
            "rocket-sky": _photo("rocket.jpg"), "hubble-night": _photo("hubble.jpg"),
            "hopper-portrait": _photo("grace_hopper.jpg")}


REF_PAIRS = [("tubingen", "starry"), ("tubingen", "scream"), ("tubingen", "shipwreck")]
# The pairs where a painting's object was painted into the photo: a face, a moon over a tower.
PASTE_PAIRS = [("tubingen", "astronaut-face"), ("tubingen", "moon"), ("hopper-portrait", "moon")]
PAIRS = REF_PAIRS + [
    ("tubingen", "matisse-portrait"), ("tubingen", "shipwreck-grey"),
    ("astronaut", "starry"), ("chelsea", "scream-face"), ("coffee", "engraving-grey"),
    ("rocket-sky", "matisse-portrait"), ("hubble-night", "starry"),
    ("hopper-portrait", "shipwreck"), ("tubingen", "tiny-starry"), ("chelsea", "flat-ochre"),
    ("coffee", "strip-shipwreck"), ("rocket-sky", "huge-scream"), ("astronaut", "shipwreck-grey"),
    *PASTE_PAIRS, ("rocket-sky", "astronaut-face"),
]


def speckle(im: Image.Image) -> float:
    """High-frequency colour noise: mean |Laplacian| of the YIQ chroma channels at 512 px (x100)."""
    t = images.to_tensor(images.resize(im, images.fit_size(*im.size, 512)))
    iq = color.rgb_to_yiq(t)[:, 1:]
    k = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float32).view(1, 1, 3, 3)
    lap = torch.nn.functional.conv2d(iq.reshape(-1, 1, *iq.shape[-2:]), k)
    return 100 * float(lap.abs().mean())


def contact_sheet(rows: list[tuple[str, list[tuple[str, Image.Image]]]], path: Path) -> None:
    cell = 220
    cols = max(len(r[1]) for r in rows)
    sheet = Image.new("RGB", (cols * cell, len(rows) * (cell + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (_, cells) in enumerate(rows):
        for c, (label, im) in enumerate(cells):
            thumb = im.copy().convert("RGB")
            thumb.thumbnail((cell - 4, cell - 4))
            x, y = c * cell, r * (cell + 14)
            sheet.paste(thumb, (x + 2, y + 2))
            draw.text((x + 2, y + cell - 2), label[:34], fill="black")
    sheet.save(path, quality=88)


def main() -> int:
    """The whole measurement, top to bottom: a script reads best as one function."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=None, help="default: the Settings default")
    ap.add_argument("--pairs", default="all",
                    help="all, ref, paste, tune (ref + 2 paste), or comma-separated photo:painting")
    ap.add_argument("--variant", nargs="+", action="append", metavar=("NAME", "FIELD=VALUE"),
                    help="a named variant: Settings overrides (repeatable)")
    ap.add_argument("--no-default", action="store_true", help="run only the named variants")
    ap.add_argument("--out", type=Path, default=Path("quality-out"))
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = {"all": PAIRS, "ref": REF_PAIRS, "paste": PASTE_PAIRS,
             "tune": REF_PAIRS + PASTE_PAIRS[:2]}.get(args.pairs) or [
        tuple(p.split(":")) for p in args.pairs.split(",")]
    variants = [] if args.no_default else [("default", {})]
    for v in args.variant or []:
        changes = {}
        for kv in v[1:]:
            k, val = kv.split("=", 1)
            changes[k] = _parse(val)
            if k.isupper():  # a module constant of brushwork.transfer, for code experiments
                changes[k] = ("constant", changes[k])
        variants.append((v[0], changes))
    base = brushwork.Settings(size=args.size, device="cpu")
    if args.steps:
        base = base.replace(steps=args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    ruler, phs, pts = Scorer(), photos(), paintings()
    refs = {p: brushwork.load_image(REFERENCE / f"jns_tubingen_{p}.png")
            for _, p in REF_PAIRS if (REFERENCE / f"jns_tubingen_{p}.png").exists()}
    print("| pair | variant | CF | GE | LP | style | content | one number | speckle | s | note |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    sheet, summary = [], {name: [] for name, _ in variants}
    for photo_name, painting_name in pairs:
        photo, painting = phs[photo_name], pts[painting_name]
        ref_s, ref_c = REF_SCORES.get(painting_name, TYPICAL) if photo_name == "tubingen" else TYPICAL
        cells = [("photo", photo), (f"painting {painting_name}", painting)]
        if photo_name == "tubingen" and painting_name in refs:
            ref_im = refs[painting_name]
            m = ruler.score(ref_im, photo, painting)
            s, c = m.style_dist, m.content_dist
            print(f"| {photo_name} x {painting_name} | neural-style | {m.cf:.3f} | {m.ge:.3f} | "
                  f"{m.lp:.3f} | {s:.4f} | {c:.3f} | "
                  f"{math.sqrt(s / ref_s * c / ref_c):.2f} | {speckle(ref_im):.2f} | | reference |")
            cells.append(("neural-style", ref_im))
        for name, changes in variants:
            from brushwork import transfer
            consts = {k: v[1] for k, v in changes.items() if k.isupper()}
            saved = {k: getattr(transfer, k) for k in consts}
            for k, v in consts.items():
                setattr(transfer, k, v)
            settings = base.replace(**{k: v for k, v in changes.items() if not k.isupper()})
            note = ""
            start = time.perf_counter()
            try:
                last = None
                for last in brushwork.iter_stylize(photo, painting, settings):
                    pass
                out = last.best_image()
            except brushwork.DivergenceError as e:
                out, note = e.image, f"gave up at step {e.failed_at}"
            seconds = time.perf_counter() - start
            for k, v in saved.items():
                setattr(transfer, k, v)
            m = ruler.score(out, photo, painting)
            s, c = m.style_dist, m.content_dist
            one = math.sqrt(s / ref_s * c / ref_c)
            summary[name].append((one, m))
            out.save(args.out / f"{photo_name}__{painting_name}__{name}.png")
            print(f"| {photo_name} x {painting_name} | {name} | {m.cf:.3f} | {m.ge:.3f} | "
                  f"{m.lp:.3f} | {s:.4f} | {c:.3f} | {one:.2f} | "
                  f"{speckle(out):.2f} | {seconds:.0f} | {note} |", flush=True)
            cells.append((f"{name} {one:.2f}", out))
        sheet.append((f"{photo_name} x {painting_name}", cells))
        contact_sheet(sheet, args.out / "contact-sheet.jpg")
    for name, rows in summary.items():
        ones = [one for one, _ in rows]
        geo = math.exp(sum(map(math.log, ones)) / len(ones))
        means = {k: sum(getattr(m, k) for _, m in rows) / len(rows) for k in ("cf", "ge", "lp")}
        print(f"\n{name}: over {len(ones)} pairs mean CF {means['cf']:.3f} GE {means['ge']:.3f} "
              f"LP {means['lp']:.3f}; one number geometric mean {geo:.2f}, worst {max(ones):.2f}",
              file=sys.stderr)
    return 0


def _parse(value: str):
    if "," in value:
        return tuple(_parse(v) for v in value.split(",") if v)
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return None if value == "none" else value


if __name__ == "__main__":
    sys.exit(main())
