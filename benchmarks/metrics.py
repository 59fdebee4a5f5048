"""Metrics that are not the loss, and the time-to-quality curve measured with them.

    python benchmarks/metrics.py                  # neural-style's published pictures, scored
    python benchmarks/metrics.py --curve --steps 240 \
        --variant gram style_loss=gram --variant w2 style_loss=w2,content_weight=2 \
        --variant adam style_loss=w2,content_weight=2,optimizer=adam

Scores are brushwork.metrics' (Wang et al. 2021: content fidelity CF, global effects GE, local
patterns LP, higher is better; `brushwork score` is the same on the command line). `--curve` runs
each variant once on Tübingen x a painting (The Starry Night by default) at 512 px, keeps the
picture at a few points of the run with the seconds spent so far (keeping it is not counted),
scores each afterwards, prints a markdown table and draws the curves to
docs/gallery/time-to-quality-metrics.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

import brushwork
from brushwork import examples
from brushwork.metrics import Scorer

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "reference"
PAINTINGS = {"starry": examples.STARRY_NIGHT, "scream": examples.FOLDER / "the_scream.jpg",
             "shipwreck": examples.FOLDER / "shipwreck.jpg"}
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def references(scorer: Scorer) -> None:
    photo = brushwork.load_image(examples.CONTENT)
    print("| neural-style picture | CF | GE | LP | GE colour | GE texture | LP1 | LP2 | s to score |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, path in PAINTINGS.items():
        ref = REFERENCE / f"jns_tubingen_{name}.png"
        if not ref.exists():
            continue
        start = time.perf_counter()
        s = scorer.score(brushwork.load_image(ref), photo, brushwork.load_image(path))
        print(f"| tubingen x {name} | {s.cf:.3f} | {s.ge:.3f} | {s.lp:.3f} | {s.colour:.3f} | "
              f"{s.texture:.3f} | {s.lp1:.3f} | {s.lp2:.3f} | {time.perf_counter() - start:.1f} |")


def curve(settings: brushwork.Settings, painting: Image.Image, marks: set[int],
          model) -> list[tuple[int, float, Image.Image]]:
    """(step, seconds so far, best picture so far) at each step in `marks` and at the end."""
    photo = brushwork.load_image(examples.CONTENT)
    kept, spent, last = [], 0.0, None
    start = time.perf_counter()
    for step in brushwork.iter_stylize(photo, painting, settings, model=model):
        last = step
        if step.step in marks:
            spent += time.perf_counter() - start
            kept.append((step.step, spent, step.best_image()))
            start = time.perf_counter()
    spent += time.perf_counter() - start
    if not kept or kept[-1][0] != last.step:
        kept.append((last.step, spent, last.best_image()))
    return kept


def plot(series: dict[str, list[tuple[float, float]]], ref: float, path: Path) -> None:
    """Mean of CF, GE and LP against seconds, one line per variant, neural-style's as a rule."""
    w, h, pad = 640, 360, 48
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts] + [ref]
    x1, y0, y1 = max(xs) * 1.05, min(ys) - 0.01, max(ys) + 0.01

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + (w - 2 * pad) * x / x1, h - pad - (h - 2 * pad) * (y - y0) / (y1 - y0)

    d.line([at(0, y0), at(x1, y0)], fill="black")
    d.line([at(0, y0), at(0, y1)], fill="black")
    d.line([at(0, ref), at(x1, ref)], fill=(120, 120, 120))
    d.text((at(x1, ref)[0] - 150, at(x1, ref)[1] - 14), "neural-style (1000 steps, GPU)",
           fill=(90, 90, 90))
    for k in range(0, int(x1) + 1, 20):
        d.text((at(k, y0)[0] - 6, h - pad + 4), str(k), fill="black")
    d.text((w / 2 - 40, h - 18), "seconds (2-core CPU)", fill="black")
    d.text((4, 8), "mean of CF, GE, LP (higher is better)", fill="black")
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        d.text((4, at(0, y)[1] - 6), f"{y:.3f}", fill="black")
    for i, (name, pts) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        d.line([at(x, y) for x, y in pts], fill=c, width=2)
        d.text((w - pad - 120, pad + 14 * i), name, fill=c)
    im.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--painting", default="starry", choices=list(PAINTINGS))
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--marks", type=int, nargs="+", default=[20, 40, 60, 90, 120, 160, 200])
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "FIELD=VALUE,..."))
    a = ap.parse_args()
    scorer = Scorer()
    if not a.curve:
        references(scorer)
        return
    painting = brushwork.load_image(PAINTINGS[a.painting])
    photo = brushwork.load_image(examples.CONTENT)
    ref = scorer.score(brushwork.load_image(REFERENCE / f"jns_tubingen_{a.painting}.png"), photo,
                       painting)
    ref_mean = (ref.cf + ref.ge + ref.lp) / 3
    base = brushwork.Settings(size=512, device="cpu", steps=a.steps)
    model = brushwork.load_model(base)
    print(f"Time to quality: tubingen x {a.painting}, 512 px, cpu; neural-style's picture scores "
          f"CF {ref.cf:.3f} GE {ref.ge:.3f} LP {ref.lp:.3f} (mean {ref_mean:.3f})\n")
    print("| variant | step | s | CF | GE | LP | mean |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    series = {}
    for name, changes in a.variant or [("default", "")]:
        options = dict(kv.split("=", 1) for kv in changes.split(",") if kv)
        settings = base.with_options({k: _parse(v) for k, v in options.items()})
        pts = []
        for step, seconds, im in curve(settings, painting, set(a.marks), model):
            s = scorer.score(im, photo, painting)
            mean = (s.cf + s.ge + s.lp) / 3
            pts.append((seconds, mean))
            print(f"| {name} | {step} | {seconds:.0f} | {s.cf:.3f} | {s.ge:.3f} | {s.lp:.3f} | "
                  f"{mean:.3f} |", flush=True)
        series[name] = pts
    plot(series, ref_mean, HERE.parent / "docs" / "gallery" / "time-to-quality-metrics.png")


def _parse(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


if __name__ == "__main__":
    main()
