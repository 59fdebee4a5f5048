"""Ablation of the coarse-to-fine schedule at 512 px: the full-size loss after k full-size steps,
for one scale and for coarse-to-fine variants. Losses per step do not depend on the machine's
speed, so this table is the same on any CPU (the seconds column is this machine's).

    python benchmarks/schedule.py [--fine 10 30 60 100] [--variants one-scale plain ...]

Variants (each changes one thing against "default"):
  one-scale    no coarse scales: full-size steps from the photo
  plain        coarse-to-fine, the finer scale starts from the coarse result upsampled, nothing more
  default      coarse-to-fine as shipped: upsampled coarse result plus the photo's lost detail
  history100   default with an L-BFGS history of 100 pairs instead of 20
  coarse2x     default with twice the coarse steps (122 at 128 px, 74 at 256 px)
"""

from __future__ import annotations

import argparse
import time

import torch

import brushwork
from brushwork import examples, memory, schedule, transfer

COARSE = (61, 37)  # the default 120-step schedule's coarse steps before the cap


def plain_initial(prev, size, content, init_im, luminance_only, gen, device, init):
    """The finer scale's start without the photo's detail (the schedule before this change)."""
    if prev is None:
        return content.clone()
    w, h = size
    return torch.nn.functional.interpolate(prev, size=(h, w), mode="bicubic",
                                           align_corners=False).clamp(0, 1).contiguous()


def run(variant: str, fine: int, model) -> list[tuple[float, float]]:
    """(seconds, full-size loss) per full-size step."""
    coarse = tuple(2 * c for c in COARSE) if variant == "coarse2x" else COARSE
    saved = schedule.initial, memory.HISTORIES, transfer.plan_scales
    if variant == "plain":
        schedule.initial = plain_initial
    if variant == "history100":
        memory.HISTORIES = (100, *memory.HISTORIES)  # the first that fits is taken
    if variant != "one-scale":
        def plan(w, h, s, _plan=saved[2]):
            sizes = [sc.size for sc in _plan(w, h, s.replace(scales=3, steps=120))]
            return [schedule.Scale(size, k) for size, k in zip(sizes, (*coarse, fine))]
        transfer.plan_scales = plan
    settings = brushwork.Settings(device="cpu", scales=1 if variant == "one-scale" else 3,
                                  steps=fine if variant == "one-scale" else sum(coarse) + fine)
    try:
        start, out = time.perf_counter(), []
        for st in brushwork.iter_stylize(examples.CONTENT, examples.STARRY_NIGHT, settings,
                                         model=model):
            if st.scale == st.scales:
                out.append((time.perf_counter() - start, st.losses["total"]))
        return out
    finally:
        schedule.initial, memory.HISTORIES, transfer.plan_scales = saved


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fine", type=int, nargs="+", default=[10, 30, 60, 100])
    p.add_argument("--variants", nargs="+",
                   default=["one-scale", "plain", "default", "history100", "coarse2x"])
    a = p.parse_args()
    model = brushwork.load_model(brushwork.Settings(), "cpu")
    rows = {v: run(v, max(a.fine), model) for v in a.variants}
    print("Full-size loss after k full-size steps, 512x384, Tübingen x The Starry Night\n")
    print("| variant | " + " | ".join(f"k={k}" for k in a.fine) + f" | s for k={max(a.fine)} |")
    print("|---|" + "---:|" * (len(a.fine) + 1))
    for v, trace in rows.items():
        print(f"| {v} | " + " | ".join(f"{trace[k - 1][1]:.3f}" for k in a.fine)
              + f" | {trace[-1][0]:.0f} |")


if __name__ == "__main__":
    main()
