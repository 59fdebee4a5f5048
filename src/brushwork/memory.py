"""How much memory a run needs, how much the device has, how to fit a run in it.

A run needs a fixed part (PyTorch, the weights), the picture-sized buffers (the picture, its
gradient, the best picture so far, L-BFGS's history of 2 x `history` vectors, the photo's content
features) and what one pass of VGG-19 forward and backward needs per pixel it sees (about 290
floats of activations per input pixel up to relu5_1, plus the backward pass's transients). The
constants were measured with benchmarks/large.py and are rounded up.

When the whole picture does not fit, `plan` cuts the loss evaluation into tiles (brushwork.tiles)
whose crops fit in what the picture-sized buffers leave, shrinking L-BFGS's history first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .images import fit_size
from .layers import MIN_SIDE, channels, factor, halo
from . import tiling
from .tiling import Tile

# One forward and backward pass of VGG-19 to relu5_1, per pixel it sees (fp32; bf16 about halves
# cuda's). Measured on this project's CPU with benchmarks/large.py; CUDA's from earlier runs.
NET_BYTES_PER_PIXEL = {"cpu": 2300, "cuda": 2200, "mps": 2300}
FIXED_BYTES = {"cpu": 700 * 2**20, "cuda": 400 * 2**20, "mps": 700 * 2**20}
# Picture-sized buffers besides L-BFGS's history: the picture, its gradient, the evaluated and the
# best picture, the photo, the optimiser's last gradient and direction, transients.
PICTURE_BUFFERS = 10
# L-BFGS pairs kept: 20 when they fit, fewer for a picture too large for them. Fewer pairs cost
# a little convergence per step; tiles that are too small cost far more (each crop's halo).
HISTORIES = (20, 10, 5, 3)
HISTORY_SHARE = 0.4  # a tiled run gives L-BFGS's history at most this share of its memory
FORWARD_SHARE = 0.31  # a forward pass's share of a forward-and-backward (1.0 s of 3.3 at 512 px)
MIN_TILE = 128  # below this the halo (80 px a side) would cost more than the tile itself
MAX_AUTO_SIZE = 2048  # --size auto never goes beyond this: past it, runs take hours
DEFAULT_LAYERS = ("relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Plan:
    """How a run of one size uses memory."""

    tile: int | None  # a tile side the user asked for (--tile)
    crop: int | None  # else the most pixels a tile with its halo may have; both None: whole
    cut: tuple[Tile, ...]  # the tiles the loss is evaluated in (one: the picture whole)
    history: int  # L-BFGS pairs kept
    need: int  # estimated peak bytes
    budget: int | None  # what it may use (free memory or --max-memory); None: unknown

    @property
    def tiles(self) -> int:
        return len(self.cut)

    @property
    def tiled(self) -> bool:
        return self.tiles > 1

    @property
    def fits(self) -> bool:
        return self.budget is None or self.need <= self.budget


def budget_bytes(device: torch.device, max_memory_gb: float | None = None) -> int | None:
    """What a run may use: 90% of the device's free memory, capped at --max-memory."""
    free = available_bytes(device)
    budget = None if free is None else int(free * 0.9)
    if max_memory_gb is not None:
        cap = int(max_memory_gb * 2**30)
        budget = cap if budget is None else min(budget, cap)
    return budget


def plan(width: int, height: int, device: torch.device, *, bf16: bool = False,
         channels_in: int = 3, layers: Sequence[str] = DEFAULT_LAYERS,
         content_layers: Sequence[str] = ("relu4_2",), tile: int | None = None,
         budget: int | None = None) -> Plan:
    """The memory plan of a width x height scale: untiled when it fits in `budget`, else tiles as
    large as fit. `tile` forces a tile side (0: never tile). The plan may not fit (`fits`)."""
    net = NET_BYTES_PER_PIXEL.get(device.type, 2500) * (0.55 if bf16 else 1.0)
    fixed = FIXED_BYTES.get(device.type, 700 * 2**20)
    pixels = width * height
    targets = sum(4 * channels(k) * (height // factor(k)) * (width // factor(k))
                  for k in content_layers)

    def buffers(history: int) -> int:
        return 4 * channels_in * (PICTURE_BUFFERS + 2 * history) * pixels

    def untiled(history: int) -> int:
        return int(fixed + net * pixels + buffers(history) + targets)

    whole = tile == 0 or (tile is not None and tile >= max(width, height)) or (
        tile is None and (budget is None or untiled(HISTORIES[1]) <= budget))
    if whole:  # the longest history that fits (a 10-pair history beats cutting into tiles)
        history = next((m for m in HISTORIES if budget is None or untiled(m) <= budget),
                       HISTORIES[-1])
        return Plan(None, None, tuple(tiling.cut(width, height, layers)), history,
                    untiled(history), budget)
    margin, _ = halo(layers)
    room = math.inf if budget is None else budget - fixed - targets
    allowed = [m for m in HISTORIES if buffers(m) <= HISTORY_SHARE * room] or [HISTORIES[-1]]
    if tile is not None or budget is None:
        history, crop = allowed[0], None
        cut = tiling.cut(width, height, layers, side=tile)
    else:
        # Each history leaves its own room for crops; a shorter one can turn three tiles into
        # two (1024x768 under 2 GB: 1.51x the untiled cost per pixel with 20 pairs, 1.34x with
        # 10). Keep the longest history whose step costs within 5% of the cheapest.
        options = []
        for m in allowed:
            crop = max((MIN_TILE + 2 * margin) ** 2, int((room - buffers(m)) / net))
            cut = tiling.cut(width, height, layers, crop=crop)
            options.append((step_cost(cut, width * height), m, crop, cut))
        cheapest = min(cost for cost, *_ in options)
        _, history, crop, cut = next(o for o in options if o[0] <= 1.05 * cheapest)
    need = fixed + net * max(t.pixels for t in cut) + buffers(history) + targets
    return Plan(tile, crop, tuple(cut), history, int(need), budget)


def step_cost(cut: Sequence[Tile], pixels: int) -> float:
    """A step's cost in tiles over the untiled step's: every crop pays for its halo, and all
    but the last tile go forward once more (without a gradient) to sum the Gram matrices."""
    seen = sum(t.pixels for t in cut) / pixels
    return seen * (1 + FORWARD_SHARE * (len(cut) - 1) / len(cut))


def estimate_bytes(width: int, height: int, device: torch.device, bf16: bool = False) -> int:
    """The memory a default run of width x height needs untiled."""
    return plan(width, height, device, bf16=bf16, tile=0).need


def available_bytes(device: torch.device) -> int | None:
    """Free memory the run may use on `device`, or None when it cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        return cpu_available()
    return None


def cpu_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
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


def largest_size(width: int, height: int, device: torch.device, bf16: bool = False, *,
                 tile: int | None = 0, max_memory_gb: float | None = None,
                 limit: int = MAX_AUTO_SIZE) -> int | None:
    """The largest longer side (a multiple of 16, at least the smallest size a run takes, at
    most `limit`) whose run fits in what `device` has free; None when not even that fits.
    `tile=None` lets the run tile, 0 counts untiled runs only."""
    budget = budget_bytes(device, max_memory_gb)
    if budget is None:
        return None
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 16) // 32 * 16
        if mid <= lo:
            break
        if plan(*fit_size(width, height, mid), device, bf16=bf16, tile=tile, budget=budget).fits:
            lo = mid
        else:
            hi = mid - 16
    return lo if lo >= MIN_SIDE else None  # never suggest a size under the minimum
