"""GPU benchmark: 512 px / 500 steps (jcjohnson/neural-style reports 22-62 s on a Titan X),
fp32 against bf16 autocast (time and picture), memory per pixel, and the largest size that fits.

    python benchmarks/gpu.py [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import brushwork
from brushwork import examples, memory
from brushwork.images import fit_size


def timed_run(settings, model):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for step in brushwork.iter_stylize(examples.CONTENT, examples.STARRY_NIGHT, settings, model=model):
        pass
    image = step.best_image()
    torch.cuda.synchronize()
    return time.perf_counter() - start, step.losses["total"], torch.cuda.max_memory_allocated(), image


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=".")
    a = p.parse_args()
    out = Path(a.out)
    dev = torch.device("cuda")
    base = brushwork.Settings(device="cuda")
    model = brushwork.load_model(base, dev)
    print(f"device: {torch.cuda.get_device_name(dev)}, torch {torch.__version__}\n")
    timed_run(base.replace(size=256, steps=5, scales=1), model)  # warm-up: cuDNN autotune, kernels

    print("| run | size | steps | precision | wall s | s/step | final loss | peak GPU MiB |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for size, steps, scales in ((512, 500, 1), (512, 120, None), (1024, 500, 1), (2048, 100, 1)):
        for precision in ("fp32", "bf16"):
            s = base.replace(size=size, steps=steps, scales=scales, precision=precision)
            wall, loss, peak, image = timed_run(s, model)
            name = "single scale" if scales == 1 else "default (coarse-to-fine)"
            print(f"| {name} | {size} | {steps} | {precision} | {wall:.1f} | {wall / steps:.3f} | "
                  f"{loss:.3f} | {peak / 2**20:.0f} |", flush=True)
            if size == 512 and scales == 1:
                image.save(out / f"gpu-512-500-{precision}.png")

    print("\nMemory per pixel (peak allocated over 5 single-scale steps):\n")
    print("| size | precision | peak MiB | bytes/pixel | estimate MiB |")
    print("|---:|---|---:|---:|---:|")
    for size in (512, 1024, 2048, 3072):
        for precision in ("fp32", "bf16"):
            s = base.replace(size=size, steps=5, scales=1, precision=precision)
            _, _, peak, _ = timed_run(s, model)
            w, h = fit_size(1024, 768, size)
            est = memory.estimate_bytes(w, h, dev, precision == "bf16")
            print(f"| {size} | {precision} | {peak / 2**20:.0f} | {peak / (w * h):.0f} | "
                  f"{est / 2**20:.0f} |", flush=True)
    fits = memory.largest_size(1024, 768, dev)
    print(f"\nlargest size that fits now (capped at {memory.MAX_AUTO_SIZE}): {fits}")
    free, total = torch.cuda.mem_get_info(dev)
    print(f"free/total GPU memory: {free / 2**30:.1f} / {total / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
