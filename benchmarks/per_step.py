"""What one full-size step costs, engineered four ways: VGG-19 forward and backward to the input
at 512x384 (the default layers), as the loop runs it, with channels_last or not, oneDNN (mkldnn)
on or off, and torch.compile's CPU backend (inductor), whose compile time is counted and whose
cache between processes is tried in a second, fresh process.

    python benchmarks/per_step.py              # eager variants, then torch.compile
    python benchmarks/per_step.py --no-compile # the eager variants only (a minute)

Prints a markdown table: seconds per step (median of --repeat after one warm-up) and, for
torch.compile, the first call (compile included) and how many full-size steps it must save to
pay for itself. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

import brushwork
from brushwork.vgg import load_model


def step_seconds(model, x: torch.Tensor, repeat: int, channels_last: bool = True) -> list[float]:
    def once() -> float:
        start = time.perf_counter()
        y = x.detach().clone().requires_grad_(True)
        inp = y.contiguous(memory_format=torch.channels_last) if channels_last else y
        feats = model(inp)
        sum(f.square().mean() for f in feats.values()).backward()
        return time.perf_counter() - start

    once()  # warm-up (and, compiled, the compile)
    return [once() for _ in range(repeat)]


def compiled(repeat: int, size: tuple[int, int]) -> tuple[float, float]:
    """(first call with its compile, median step) of torch.compile'd VGG-19 in this process."""
    model = load_model(brushwork.Settings(), "cpu")
    fn = torch.compile(model)
    x = torch.rand(1, 3, size[1], size[0])
    start = time.perf_counter()
    y = x.clone().requires_grad_(True)
    sum(f.square().mean() for f in fn(y).values()).backward()
    first = time.perf_counter() - start
    return first, statistics.median(step_seconds(fn, x, repeat))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    size = (512, 384)
    if a.child:  # a fresh process, the inductor cache of the first one
        first, med = compiled(a.repeat, size)
        print(f"{first:.2f} {med:.3f}")
        return
    model = load_model(brushwork.Settings(), "cpu")
    x = torch.rand(1, 3, size[1], size[0])
    rows = []
    eager = statistics.median(step_seconds(model, x, a.repeat))
    rows.append(("eager, channels_last (the default)", f"{eager:.2f}", ""))
    model_nchw = load_model(brushwork.Settings(), "cpu").to(memory_format=torch.contiguous_format)
    rows.append(("eager, NCHW", f"{statistics.median(step_seconds(model_nchw, x, a.repeat, False)):.2f}", ""))
    with torch.backends.mkldnn.flags(enabled=False):
        rows.append(("eager, oneDNN off", f"{statistics.median(step_seconds(model, x, a.repeat)):.2f}", ""))
    if not a.no_compile:
        cache = tempfile.mkdtemp(prefix="inductor-")
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        for label in ("torch.compile, cold cache", "torch.compile, warm cache (a new process)"):
            out = subprocess.run([sys.executable, __file__, "--child", "--repeat", str(a.repeat)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            first, med = map(float, out.split())
            saved = eager - med
            pays = f"{(first - med) / saved:.0f} steps" if saved > 0 else "never"
            rows.append((label, f"{med:.2f}", f"first call {first:.1f} s; pays after {pays}"))
    print(f"VGG-19 forward and backward at {size[0]}x{size[1]}, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}\n")
    print("| variant | s per step | note |\n|---|---:|---|")
    for r in rows:
        print(f"| {' | '.join(r)} |")


if __name__ == "__main__":
    main()
