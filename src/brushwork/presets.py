"""Named starting points and the one strength knob.

A preset is a documented set of `Settings` values; options typed after it override it
(`Settings.with_options`). The strength knob is one number from 0 (the photo) to 1 (fully
painted) that scales the style and smoothing weights along the curve measured in
docs/quality.md.
"""

from __future__ import annotations

import math
from typing import Any

# Each preset: (what it is for, the fields it sets). "default" sets nothing: today's defaults.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("brushwork's defaults, chosen on the pair set of docs/quality.md", {}),
    "paper": ("the paper's objective as printed: Gram matrices at its five layers, its E_l with "
              "equal layer weights, no smoothing, one scale from white noise, average pooling", {
                  "style_loss": "gram", "style_norm": "paper", "style_weight": 25.0,
                  "content_weight": 1.0, "content_layers": ("relu4_2",),
                  "style_layers": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                  "style_layer_weights": (1.0, 1.0, 1.0, 1.0, 1.0), "tv_weight": 0.0,
                  "init": "noise", "scales": 1, "steps": 500, "pooling": "avg"}),
    "instant": ("a picture at once: Ghiasi et al.'s feed-forward network alone, no optimisation "
                "(about a second; softer and less like the painting than the default)",
                {"init": "fast", "steps": 0}),
    "quick": ("a picture in about a quarter of the default's time: the feed-forward start, 16 "
              "steps at half size through the cheap eye and 5 at full size (softer strokes than "
              "the default)", {"init": "fast", "scales": 2, "steps": 21, "fine_steps": 5}),
    "subtle": ("the photo stays in front: a light coat of the painting's colours and strokes",
               {"strength": 0.3}),
    "bold": ("the painting takes over: its strokes large and strong, the photo's shapes kept",
             {"strength": 0.8, "style_scale": 1.5}),
    "print": ("a large print: 2048 px in exact tiles, more steps, strokes scaled with the size",
              {"size": 2048, "steps": 200, "style_scale": 1.5}),
}

# The strength curve: at 1 the style and smoothing weights are SPAN times the given ones, at 0.5
# as given, towards 0 SPAN times smaller, and at 0 nothing (the photo).
SPAN = 30.0


def factor(strength: float) -> float:
    """What `strength` in [0, 1] multiplies the style and smoothing weights by: SPAN ** (2 s - 1),
    and 0 at 0. Geometric, because the picture's look follows the ratio of the weights, not
    their difference (docs/quality.md measures the curve)."""
    if strength <= 0:
        return 0.0
    return math.pow(SPAN, 2 * strength - 1)
