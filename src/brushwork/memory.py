"""How much memory a run needs, how much the device has, and the largest size that fits.

The estimate is a fixed part (PyTorch, weights, buffers) plus a part per pixel of the largest
scale: the activations VGG-19 keeps for the backward pass (about 290 floats per input pixel up
to relu5_1) and the transients of the backward pass itself. The constants were measured on this
project's CPU and GPU runs (benchmarks/memory.py) and are rounded up.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from .images import MIN_SIDE, fit_size

BYTES_PER_PIXEL = {"cpu": 3600, "cuda": 2600, "mps": 3600}  # fp32; bf16 about halves cuda's
FIXED_BYTES = {"cpu": 700 * 2**20, "cuda": 400 * 2**20, "mps": 700 * 2**20}
MAX_AUTO_SIZE = 2048  # --size auto never goes beyond this: past it, runs take hours
SMALLEST_SIZE = MIN_SIDE  # the --size minimum: never suggest less


def estimate_bytes(width: int, height: int, device: torch.device, bf16: bool = False) -> int:
    per_px = BYTES_PER_PIXEL.get(device.type, 3600) * (0.55 if bf16 else 1.0)
    return int(FIXED_BYTES.get(device.type, 700 * 2**20) + per_px * width * height)


def available_bytes(device: torch.device) -> int | None:
    """Free memory the run may use on `device`, or None when it cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        return _cpu_available()
    return None


def _cpu_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """What the kernel can hand out now. Linux: MemAvailable, which counts the page cache it
    would drop (free pages alone, MemFree, are often a few hundred MB on a desktop that has read
    some large files, and would refuse a run that fits easily). macOS: free, inactive,
    speculative and purgeable pages (what Activity Monitor calls available). Elsewhere: free
    pages, or None."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["vm_stat"], capture_output=True, text=True, timeout=5).stdout
            page = int(re.search(r"page size of (\d+) bytes", out).group(1))
            pages = {k.strip(): int(v.strip(" .")) for k, v in
                     (line.split(":", 1) for line in out.splitlines()[1:] if ":" in line)}
            return page * sum(pages.get(f"Pages {k}", 0) for k in
                              ("free", "inactive", "speculative", "purgeable"))
        except (OSError, ValueError, AttributeError, subprocess.SubprocessError):
            return None
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def largest_size(width: int, height: int, device: torch.device, bf16: bool = False) -> int | None:
    """The largest longer side (a multiple of 16, at least the smallest size a run takes) whose
    run fits in what `device` has free; None when not even that fits."""
    free = available_bytes(device)
    if free is None:
        return None
    lo, hi = 0, MAX_AUTO_SIZE
    while lo < hi:
        mid = (lo + hi + 16) // 32 * 16
        if mid <= lo:
            break
        if estimate_bytes(*fit_size(width, height, mid), device, bf16) <= free * 0.9:
            lo = mid
        else:
            hi = mid - 16
    return lo if lo >= SMALLEST_SIZE else None
