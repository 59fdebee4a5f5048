"""How a picture is cut into tiles for the tiled evaluator (brushwork.tiles), without torch: the
memory planner chooses a cut with it, the evaluator computes in it. Each tile's crop carries the
halo that makes its features exact (layers.halo), and crops start on the pooling grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .layers import halo


@dataclass(frozen=True)
class Tile:
    """A tile's own pixels, [y0, y1) x [x0, x1), and the crop [cy0, cy1) x [cx0, cx1) that goes
    through the network (the tile plus its halo, clipped to the picture)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.cy0, self.cy1), slice(self.cx0, self.cx1)

    @property
    def pixels(self) -> int:
        return (self.cy1 - self.cy0) * (self.cx1 - self.cx0)


def cut(width: int, height: int, layers: Sequence[str], *, side: int | None = None,
        crop: int | None = None) -> list[Tile]:
    """Tiles covering a width x height picture: of about `side` pixels a side (split evenly), or
    the cheapest cut whose crops (tile and halo) hold at most `crop` pixels each. Neither, or a
    picture that fits: one tile, the picture whole.

    The cheapest cut is the one whose crops add up to the fewest pixels: every crop pays for its
    halo, so fewer and wider tiles (2 x 2 of 512 x 384 rather than 3 x 2 squares) make a
    cheaper step."""
    margin, grid = halo(layers)

    def cuts(length: int, n: int) -> list[tuple[int, int]]:
        step = math.ceil(length / n / grid) * grid
        return [(a, min(a + step, length)) for a in range(0, length, step)]

    def crops(parts: list[tuple[int, int]], length: int) -> list[int]:
        return [min(length, b + margin) - max(0, a - margin) for a, b in parts]

    ys, xs = [(0, height)], [(0, width)]
    if side is not None and side < max(width, height):
        ys, xs = cuts(height, math.ceil(height / side)), cuts(width, math.ceil(width / side))
    elif crop is not None and crop < width * height:
        best = None
        for nx in range(1, math.ceil(width / grid) + 1):
            cols = cuts(width, nx)
            wide = max(crops(cols, width))
            if wide * min(height, 2 * margin + grid) > crop:
                continue  # too wide even for the thinnest rows
            for ny in range(1, math.ceil(height / grid) + 1):
                rows = cuts(height, ny)
                if wide * max(crops(rows, height)) <= crop:  # more rows would only add halo
                    total = sum(crops(cols, width)) * sum(crops(rows, height))
                    if best is None or total < best[0]:
                        best = (total, rows, cols)
                    break
            if best is not None and wide * height <= crop:
                break  # one row of these columns fits: more columns only add halo
        if best is not None:
            _, ys, xs = best
    return [Tile(y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin),
                 max(0, x0 - margin), min(width, x1 + margin))
            for y0, y1 in ys for x0, x1 in xs]
