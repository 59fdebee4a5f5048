"""The painter's words for every setting: a label and a help that say what the setting does to
the picture and its time, and how each choice reads. The web app's widgets, the HTTP API's
/settings route and the editor plug-ins that read it use these, so a painter meets the same words
everywhere. The dataclass (brushwork.settings) holds the defaults, ranges and choices, and the
command line's own help."""

from __future__ import annotations

# Each setting's label and help, saying what it does to the picture and its time. The dataclass holds the defaults, ranges and choices (and the command line's help).
WORDS: dict[str, tuple[str, str]] = {
    "preset": ("Preset", "A named starting point: it sets the settings it names (shown in each "
               "one's description); anything you change afterwards wins."),
    "strength": ("Strength", "How painted the picture is: 0 keeps the photo, 0.5 is the usual "
                 "balance, 1 lets the painting take over. If a face or a small building is lost, "
                 "lower it; if the painting hardly shows, raise it."),
    "size": ("Size (px)", "The picture's longer side in pixels. Twice the size takes about four "
             "times as long; a size too large for memory is painted in tiles (the same picture)."),
    "steps": ("Steps", "How long the picture is refined: more steps give finer detail and a "
              "longer wait (the time under Start follows). 100 to 200 is usual."),
    "content_weight": ("Keep the photo's shapes", "Raise it if a face or small buildings get "
                       "lost; lower it to let the painting reshape the photo more."),
    "scales": ("Coarse-to-fine passes", "Paints small first, then larger: bigger strokes and a "
               "faster start. Empty: chosen from the size."),
    "style_norm": ("Layer balance", "relative: one Strength suits every painting. paper: Gatys "
                   "et al.'s formula as printed, which needs far larger weights."),
    "style_loss": ("What is copied", "What of the painting the picture takes on: its textures "
                   "(the paper's Gram matrices), textures and palette (W2, the default), or the "
                   "full texture distribution (sliced: about 2.5 times slower)."),
    "tv_weight": ("Smoothing", "Removes fine coloured speckle in flat areas such as sky: 0 turns "
                  "it off, high values soften detail."),
    "style_blend": ("Blend", "How much of each painting, when there are several."),
    "style_scale": ("Stroke size", "The painting's strokes relative to the picture: above 1 "
                    "bigger, below 1 smaller."),
    "preserve_color": ("Keep the photo's colours", "Paint with the painting's strokes but keep "
                       "the photo's colours."),
    "optimizer": ("Optimiser", "L-BFGS (the paper's) is fast; Adam is steadier on odd pairs "
                  "but needs more steps."),
    "lr": ("Optimiser step", "Empty: 1 for L-BFGS, 0.02 for Adam. Change it only if a run "
           "blows up or stalls."),
    "init": ("Start from", "The photo (keeps shapes), noise (the paper's: looser, slower) or "
             "the instant picture of a feed-forward network (the painting's colours at once)."),
    "fine_steps": ("Steps at full size", "At most this many of the steps are spent at the "
                   "full size, where they sharpen detail and hold the photo's shapes; the rest "
                   "paint the strokes at smaller sizes, far more cheaply. Empty: a fixed share."),
    "step_decay": ("Time at full size", "Each finer pass gets this share of the coarser one's "
                   "steps: lower spends less time at the full size (faster, softer detail)."),
    "parameterization": ("What is moved", "The pixels (the paper's), a pyramid of them, or "
                         "decorrelated colours: ways to spread a step over the picture."),
    "average": ("Averaging (Adam)", "Adam only: write the average of its recent pictures, "
                "which is less noisy; 0 turns it off."),
    "eye": ("Network of the coarse passes", "The smaller passes look through a compressed "
            "VGG-19 at about half the cost; the full size always looks through VGG-19 itself. "
            "vgg19: every pass through VGG-19, as before 0.8 (slower, the same look)."),
    "judge_steps": ("Full-size steps through VGG-19", "Of the steps at full size, this many "
                    "(the last) look through VGG-19 itself; the default is all of them."),
    "seed": ("Seed", "The same seed gives the same picture; change it for a variation."),
    "pooling": ("Pooling", "How the network shrinks its view: average (the paper's choice, "
                "smoother strokes) or max."),
    "weights": ("Network", "The VGG-19 the pictures are seen through: caffe is the paper's, "
                "bundled with brushwork."),
    "precision": ("Precision", "bf16 halves memory and speeds up recent NVIDIA GPUs."),
    "device": ("Processor", "auto uses this server's GPU when it has one."),
    "tile": ("Tile size (px)", "Large pictures are computed in square tiles of this side: the "
             "same picture in less memory. Empty: only when needed; 0: never."),
    "max_memory": ("Memory limit (GB)", "How much memory a run may use, in GB; larger pictures "
                   "are then computed in tiles. Empty: 90% of what is free."),
    "temporal_weight": ("Flicker reduction", "Holds each frame to the one before: higher "
                        "flickers less but smears fast motion; 0 paints each frame alone."),
    "frame_steps": ("Steps per later frame", "Frames after the first start from the one before, "
                    "so they need fewer steps than the first."),
    "frame_tolerance": ("Frame done below", "A frame stops early once a step improves it by "
                        "less than this fraction; 0: always the full steps per frame."),
}
# How a choice reads.
CHOICE_WORDS: dict[str, dict[str, str]] = {
    "style_loss": {"gram": "textures (the paper's Gram)", "w2": "textures and palette (W2)",
                   "sliced": "full distribution (sliced, slow)"},
    "preserve_color": {"none": "no: the painting's colours", "luminance": "yes: light and dark "
                       "only", "histogram": "yes: recolour the painting first"},
    "init": {"content": "the photo", "noise": "noise (the paper's)",
             "fast": "the instant picture (feed-forward)"},
    "optimizer": {"lbfgs": "L-BFGS (the paper's)", "adam": "Adam"},
    "pooling": {"avg": "average (the paper's)", "max": "max"},
    "weights": {"caffe": "caffe (the paper's, bundled)", "torchvision": "torchvision"},
    "style_norm": {"relative": "relative", "paper": "the paper's"},
    "parameterization": {"pixels": "the pixels (the paper's)", "pyramid": "a Laplacian pyramid",
                         "decorrelated": "decorrelated colours"},
    "eye": {"lowrank": "the compressed VGG-19 (faster)", "vgg19": "VGG-19 throughout"},
}
