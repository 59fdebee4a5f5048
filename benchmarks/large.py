"""Large prints: peak memory and seconds per step, tiled and (where it fits) untiled.

Each run is a fresh process under GNU time (its peak RSS is the process's own), painting the
bundled Tübingen as The Starry Night at one scale for a few steps. Prints a markdown table
(docs/performance.md holds one run); on a GPU it measures the device's peak memory instead.

    python benchmarks/large.py                       # 1024, 2048, 4096 on the CPU, ~25 min
    python benchmarks/large.py --sizes 1024 --steps 2
    python benchmarks/large.py --device cuda --sizes 1024 2048 4096 8192
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (size, --tile, --max-memory GB): untiled where it fits, and tiled under a cap that forces tiles.
CPU_RUNS = {1024: [(0, None), (None, 2.0)], 2048: [(0, None), (None, 4.0)],
            4096: [(None, 8.0)]}


def worker(size: int, tile: int | None, cap: float | None, steps: int, device: str) -> dict:
    """Runs in the measured process: one scale, `steps` timed steps after a first one."""
    import torch

    import brushwork
    from brushwork import examples, memory, prepare
    from brushwork.device import resolve_device
    from brushwork.images import fit_size

    s = brushwork.Settings(size=size, steps=steps + 1, scales=1, tile=tile, max_memory=cap,
                           device=device)
    dev = resolve_device(device)
    w, h = fit_size(512, 384, size)
    plan = prepare.memory_plan((w, h), s, dev, memory.budget_bytes(dev, cap))
    times, tiles, last = [], 1, time.perf_counter()
    for st in brushwork.iter_stylize(examples.CONTENT, examples.STARRY_NIGHT, s):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(now - last)
        last, tiles = now, st.tiles
    crop = max(plan.cut, key=lambda t: t.pixels)
    out = {"w": w, "h": h, "tiles": tiles, "crop": f"{crop.cx1 - crop.cx0}x{crop.cy1 - crop.cy0}",
           "history": plan.history,
           "need": plan.need, "first": times[0], "per_step": sum(times[1:]) / max(1, steps)}
    if dev.type == "cuda":
        out["cuda_peak"] = torch.cuda.max_memory_allocated(dev)
    return out


def measure(size: int, tile: int | None, cap: float | None, steps: int, device: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".txt") as rss:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss.name, sys.executable, __file__, "--worker",
               json.dumps([size, tile, cap, steps, device])]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1:]}
        out = json.loads(done.stdout.strip().splitlines()[-1])
        out["rss"] = int(Path(rss.name).read_text().split()[-1]) * 1024  # kB
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=sorted(CPU_RUNS))
    p.add_argument("--steps", type=int, default=2, help="timed steps per run (default 2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(*json.loads(a.worker))))
        return
    gpu = a.device.startswith("cuda")
    print(f"| size | mode | history | cap | estimate | peak {'GPU' if gpu else 'RSS'} | "
          "first step s | s/step | µs/px/step | vs untiled |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    whole: dict[int, float] = {}
    for size in a.sizes:
        runs = CPU_RUNS.get(size, [(None, None)]) if not gpu else [(0, None), (None, None)]
        for tile, cap in runs:
            r = measure(size, tile, cap, a.steps, a.device)
            if "error" in r:
                print(f"| {size} | tile {tile} cap {cap} | | | | | | | | {r['error']} |")
                continue
            peak = r.get("cuda_peak", r["rss"])
            us = r["per_step"] / (r["w"] * r["h"]) * 1e6
            mode = "whole" if r["tiles"] == 1 else f"{r['tiles']} tiles, crops up to {r['crop']}"
            if r["tiles"] == 1:
                whole[size] = us
            ratio = f"{us / whole[size]:.2f}x" if size in whole and r["tiles"] > 1 else ""
            cap_s = f"{cap:g} GB" if cap else "free"
            over = " **over**" if cap and peak > 1.1 * cap * 2**30 else ""
            print(f"| {r['w']}x{r['h']} | {mode} | {r['history']} | {cap_s} | "
                  f"{r['need'] / 2**30:.1f} GB | {peak / 2**30:.2f} GB{over} | {r['first']:.0f} | "
                  f"{r['per_step']:.1f} | {us:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
