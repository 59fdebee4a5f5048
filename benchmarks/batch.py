"""Batch throughput: the local backend against Ray workers on the same jobs (docs/scaling.md).

    python benchmarks/batch.py                  # 8 jobs at 192 px, 40 steps, on this machine
    python benchmarks/batch.py --gpu            # on a CUDA machine: 1 and 2 workers per GPU

Prints jobs per minute of `--backend local` (one process, all the CPU's threads) and of
`--backend ray --workers 2` (one thread each), Ray's start-up time (ray.init, then the first
worker with its model loaded) and each worker's peak memory. On one machine Ray can only add
overhead; the aim is to stay within 10% of local.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

import brushwork
from brushwork import batch, examples


def jobs(folder: Path, n: int) -> list[batch.Job]:
    """n jobs: crops of the bundled photo, each with one of two paintings."""
    photo = Image.open(examples.CONTENT)
    photos = []
    for i in range(n // 2):
        p = folder / f"photo{i}.png"
        photo.crop((i * 30, i * 10, i * 30 + 380, i * 10 + 285)).save(p)
        photos.append(str(p))
    return batch.pairs(photos, [str(examples.STARRY_NIGHT),
                                str(examples.STYLES["The Scream (Munch)"])])


def peak_rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return int(next(line.split()[1] for line in text.splitlines()
                    if line.startswith("VmHWM"))) / 1024


def timed(todo, settings, out, **kw):
    began = time.perf_counter()
    peaks: dict[int, float] = {}
    first = None
    for r in batch.run(todo, settings, out, **kw):
        assert r.status == "done", r.error
        first = first or time.perf_counter() - began
        pid = int(r.worker.rsplit(":", 1)[1])
        if pid != os.getpid():
            peaks[pid] = peak_rss_mb(pid)
    return time.perf_counter() - began, first, peaks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--gpu", action="store_true", help="CUDA: 1 and 2 workers sharing one GPU")
    args = p.parse_args()
    import ray

    device = "cuda" if args.gpu else "cpu"
    settings = brushwork.Settings(size=args.size, steps=args.steps, device=device)
    cpus = os.cpu_count() or 1
    print(f"{args.jobs} jobs ({args.size} px, {args.steps} steps, 2 paintings), {device}, "
          f"{cpus} CPUs\n")
    print("| backend | workers x threads | wall s | jobs/min | vs local | first result s "
          "| peak RSS per worker |")
    print("|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        todo = jobs(Path(tmp), args.jobs)
        torch.set_num_threads(cpus)
        wall, first, _ = timed(todo, settings, Path(tmp) / "local", backend="local", threads=cpus)
        local = args.jobs / wall * 60
        print(f"| local | 1 x {cpus} | {wall:.1f} | {local:.2f} | 1 | {first:.1f} | (this "
              f"process) {peak_rss_mb(os.getpid()):.0f} MB |", flush=True)
        began = time.perf_counter()
        ray_session = batch.local_ray(num_cpus=cpus, num_gpus=1 if args.gpu else 0)
        ray_session.__enter__()
        init = time.perf_counter() - began
        runs = [(2, 0.0, 1)] if not args.gpu else [(1, 1.0, 1), (2, 0.5, 1)]
        for workers, gpus, threads in runs:
            out = Path(tmp) / f"ray{workers}"
            wall, first, peaks = timed(todo, settings, out, backend="ray", workers=workers,
                                       gpus_per_worker=gpus, threads=threads)
            rate = args.jobs / wall * 60
            mem = ", ".join(f"{m:.0f}" for m in peaks.values())
            print(f"| ray{' (%g GPU each)' % gpus if gpus else ''} | {workers} x {threads} | "
                  f"{wall:.1f} | {rate:.2f} | {rate / local:.2f} | {first:.1f} | {mem} MB |",
                  flush=True)
        ray_session.__exit__(None, None, None)
        print(f"\nray.init: {init:.1f} s (a local Ray, no dashboard); the first result's time "
              "includes starting the workers and loading the model in each.")


if __name__ == "__main__":
    main()
