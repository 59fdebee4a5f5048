"""Time to quality at 512 px on this machine: how long the default settings (coarse-to-fine)
take to reach the full-resolution loss that 500 single-scale L-BFGS steps reach.

    python benchmarks/time_to_quality.py [--steps 500] [--size 512] [--device cpu] [--budgets 1 2 4]

Prints a markdown table and writes the two pictures side by side to docs/gallery/time-to-quality.jpg.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image

import brushwork
from brushwork import examples


def run(settings: brushwork.Settings, model) -> tuple[list[tuple[float, int, float]], Image.Image]:
    """(seconds since start, scale, total loss) per step, and the final picture."""
    trace, start = [], time.perf_counter()
    for step in brushwork.iter_stylize(examples.CONTENT, examples.STARRY_NIGHT, settings, model=model):
        trace.append((time.perf_counter() - start, step.scale == step.scales, step.losses["total"]))
    return trace, step.best_image()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--device", default="cpu")
    p.add_argument("--budgets", type=float, nargs="+", default=[1, 2, 4],
                   help="default runs with these multiples of the default steps, until one "
                        "reaches the single-scale loss")
    a = p.parse_args()
    base = brushwork.Settings(size=a.size, device=a.device)
    model = brushwork.load_model(base, brushwork.device.resolve_device(a.device))

    single, single_im = run(base.replace(steps=a.steps, scales=1), model)
    target = single[-1][2]
    rows = [("single scale", a.steps, single[-1][0], target, single[-1][0], single[-1][0])]
    pictures = [single_im]
    for steps in (round(k * base.steps) for k in a.budgets):
        trace, im = run(base.replace(steps=steps), model)
        reached = next((t for t, final, loss in trace if final and loss <= target), None)
        # The other way round: how long one scale needs to get as low as this run ended.
        single_same = next((t for t, _, loss in single if loss <= trace[-1][2]), None)
        rows.append((f"default, {steps} steps", steps, trace[-1][0], trace[-1][2], reached,
                     single_same))
        pictures.append(im)
        if reached is not None:
            break

    print(f"Time to quality, {a.size} px, {a.device}, Tübingen x Starry Night\n")
    print("| run | steps | wall s | final full-size loss | s to reach the single-scale loss "
          "| s one scale needs for this loss | speed-up at this loss |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, (name, steps, wall, loss, reached, single_same) in enumerate(rows):
        to_target = "not reached" if reached is None else f"{reached:.1f}"
        one_scale = (f"over {single[-1][0]:.0f}" if single_same is None else f"{single_same:.1f}")
        speedup = "" if i == 0 or single_same is None else f"{single_same / wall:.1f}x"
        print(f"| {name} | {steps} | {wall:.1f} | {loss:.3f} | {to_target} | {one_scale} "
              f"| {speedup} |")
    best = min((r[4] for r in rows[1:] if r[4] is not None), default=None)
    if best:
        print(f"\nspeed-up to the same loss: {rows[0][2] / best:.1f}x")
    w = sum(im.width for im in (pictures[0], pictures[-1])) + 10
    side = Image.new("RGB", (w, pictures[0].height), "white")
    side.paste(pictures[0], (0, 0))
    side.paste(pictures[-1], (pictures[0].width + 10, 0))
    out = Path(__file__).resolve().parent.parent / "docs" / "gallery" / "time-to-quality.jpg"
    side.save(out, quality=88)
    print(f"\n(left: {rows[0][0]}, right: {rows[-1][0]}; {out.name})")


if __name__ == "__main__":
    main()
