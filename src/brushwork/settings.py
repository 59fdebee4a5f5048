"""Every knob of a style-transfer run, its default, its allowed values and its help text, written once.

The CLI's argparse options and the web app's widgets are both built from `Settings`' fields, and
`Settings` validates itself on construction, so the CLI, the app and the Python API refuse the
same things with the same words.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import presets
from .errors import InputError
from .layers import LAYER_NAMES

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("avg", "max")
COLOR_MODES = ("none", "luminance", "histogram")
PRECISIONS = ("fp32", "bf16")
STYLE_NORMS = ("relative", "paper")
STYLE_LOSSES = ("gram", "w2", "sliced")
INIT_CHOICES = ("content", "noise", "fast")  # or a path to an image file
WEIGHT_SOURCES = ("caffe", "torchvision")  # or a path to a state dict
MAX_SCALES = 6

# The paper's layers. Caffe, where the paper was computed, runs ReLU in place, so the blob the paper
# calls "conv4_2" holds the *rectified* output: relu4_2 in our names. Our conv4_2 is the output
# before the ReLU, a different loss (negative responses count too); both can be asked for.
PAPER_CONTENT_LAYERS = ("relu4_2",)
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Ours leave out relu5_1: its units see over 200 px of the painting, whole objects, and matching
# their statistics pasted a portrait's face and the Starry Night's moon into photos (docs/quality.md).
STYLE_LAYERS = PAPER_STYLE_LAYERS[:4]
# What a record written before brushwork 0.6 meant where it is silent (the defaults of then).
BEFORE_0_6 = {"style_loss": "gram", "style_layers": PAPER_STYLE_LAYERS, "content_weight": 1.0,
              "steps": 120}

# What a record written before brushwork 0.7 meant where it is silent: the schedule of then.
BEFORE_0_7 = {"step_decay": 0.6, "fine_steps": None, "parameterization": "pixels",
              "average": 0.0}

# What a record written before brushwork 0.8 meant where it is silent: every step through VGG-19.
BEFORE_0_8 = {"eye": "vgg19", "judge_steps": 20}

# What a record written before brushwork 0.9 meant where it is silent: L-BFGS started afresh at
# every scale.
BEFORE_0_9 = {"curvature": "fresh"}

# Default learning rates when `lr` is left unset: L-BFGS takes unit steps (its own curvature
# estimate scales them); Adam moves pixels in [0, 1] by about this much per step.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


def _opt(help: str, **extra: Any) -> dict[str, Any]:
    return {"help": help, **extra}


@dataclass(frozen=True)
class Settings:
    """Settings of one run. Construct with keyword arguments; invalid values raise `InputError`."""

    preset: str = field(default="default", metadata=_opt(
        "a named starting point (default, paper, subtle, bold, print: docs/quality.md); options "
        "typed with it override its values", choices=tuple(presets.PRESETS), group="basic"))
    strength: float | None = field(default=None, metadata=_opt(
        "how painted, from 0 (the photo) to 1 (fully painted): scales the style and "
        "smoothing weights together along a measured curve (0.5: as given)", min=0.0, max=1.0,
        step=0.05, group="basic"))
    size: int = field(default=512, metadata=_opt(
        "longer side of the output in pixels", min=32, max=8192, group="basic"))
    steps: int = field(default=136, metadata=_opt(
        "loss-and-gradient evaluations in all, over all scales (0 with --init fast: the "
        "feed-forward picture as it is)", min=0, max=100_000, group="basic"))
    scales: int | None = field(default=None, metadata=_opt(
        "coarse-to-fine sizes (1 = single scale); unset: automatic, more for bigger outputs",
        min=1, max=MAX_SCALES, group="advanced"))
    fine_steps: int | None = field(default=31, metadata=_opt(
        "most steps at the full size before the coarser scales are full (64 each): its detail "
        "and the photo's fidelity; the rest of --steps go to the cheaper coarse scales; unset: "
        "the full size's share by --step-decay", min=1, max=100_000, group="advanced"))
    step_decay: float = field(default=0.6, metadata=_opt(
        "each finer scale gets this fraction of the coarser scale's steps: lower spends less "
        "time at the full size", min=0.05, max=2.0, step=0.05, group="advanced"))
    eye: str = field(default="lowrank", metadata=_opt(
        "the network the coarse scales look through (all but the last --judge-steps "
        "full-size steps): lowrank (a compressed VGG-19, about half the cost of a step, made "
        "from the bundled weights) or vgg19 (every step, as before 0.8)",
        choices=("lowrank", "vgg19"),
        group="advanced"))
    judge_steps: int = field(default=31, metadata=_opt(
        "the last full-size steps, through VGG-19 itself, when --eye is not vgg19 (the "
        "default 31 is every full-size step: the content's fidelity is made there)",
        min=0, max=100_000, group="advanced"))
    content_weight: float = field(default=1.5, metadata=_opt(
        "weight of the content loss (the paper's alpha): higher keeps more of the photo",
        min=0.0, max=1e12, group="basic"))
    style_weight: float = field(default=100.0, metadata=_opt(
        "weight of the style loss (the paper's beta); higher paints more", min=0.0, max=1e12,
        group="basic"))
    style_norm: str = field(default="relative", metadata=_opt(
        "each style layer's loss: relative to the painting's own Gram matrix (one weight holds "
        "across paintings) or the paper's E_l as printed", choices=STYLE_NORMS, group="advanced"))
    style_loss: str = field(default="w2", metadata=_opt(
        "what of the painting is matched: gram (the paper's Gram matrices), w2 (each layer's "
        "mean and covariance: also pins the painting's palette) or sliced (each layer's whole "
        "feature distribution, Heitz et al. 2021)", choices=STYLE_LOSSES, group="advanced"))
    tv_weight: float = field(default=300.0, metadata=_opt(
        "total-variation weight: removes the rainbow speckle L-BFGS leaves in flat areas (not in "
        "the paper: 0 turns it off)", min=0.0,
        max=1e12, group="advanced"))
    style_blend: tuple[float, ...] = field(default=(), metadata=_opt(
        "one weight per style image, normalised to sum to 1; unset: equal", min=0.0, max=1e6,
        group="style"))
    style_scale: float = field(default=1.0, metadata=_opt(
        "style image size relative to the output: above 1 paints the painting's strokes bigger, "
        "below 1 smaller (a small painting is not enlarged unless this asks for it)",
        min=0.05, max=8.0, group="style"))
    preserve_color: str = field(default="none", metadata=_opt(
        "keep the photo's colours: luminance-only transfer, or match the style's colours first "
        "(Gatys et al. 2016)", choices=COLOR_MODES, group="style"))
    optimizer: str = field(default="lbfgs", metadata=_opt(
        "lbfgs (the paper's) or adam", choices=OPTIMIZERS, group="advanced"))
    parameterization: str = field(default="pixels", metadata=_opt(
        "what the optimiser moves: the pixels (the paper's), a Laplacian pyramid of them "
        "(STROTSS, NNST) or decorrelated colours (Mordvintsev et al. 2018)",
        choices=("pixels", "pyramid", "decorrelated"), group="advanced"))
    curvature: str = field(default="carried", metadata=_opt(
        "lbfgs only, at each new scale: carried (its first step goes as far as the curvature "
        "learnt at the scale before says, a step more of progress at each scale) or fresh "
        "(torch's cautious first step, which barely moves: before 0.9)",
        choices=("carried", "fresh"), group="advanced"))
    average: float = field(default=0.0, metadata=_opt(
        "adam only: write an exponential average of its pictures with this decay (0.99 in "
        "crowsonkb/style-transfer-pytorch): less noise; 0: off", min=0.0, max=0.9999,
        step=0.01, group="advanced"))
    lr: float | None = field(default=None, metadata=_opt(
        "learning rate; unset: 1.0 for lbfgs, 0.02 for adam", min=1e-8, max=1e3, group="advanced"))
    init: str = field(default="content", metadata=_opt(
        "start from the content photo, white noise (the paper's), the feed-forward picture "
        "(fast: Ghiasi et al.'s network, needs brushwork[instant]) or an image file",
        choices=INIT_CHOICES, path_ok=True, group="advanced"))
    seed: int = field(default=0, metadata=_opt(
        "random seed: the same seed gives the same image on the same device", min=0,
        max=2**32 - 1, group="advanced"))
    pooling: str = field(default="avg", metadata=_opt(
        "pooling in VGG-19; the paper found average pooling gives more appealing results",
        choices=POOLINGS, group="advanced"))
    weights: str = field(default="caffe", metadata=_opt(
        "VGG-19 weights: caffe (the paper's, bundled), torchvision, or a state-dict file",
        choices=WEIGHT_SOURCES, path_ok=True, group="advanced"))
    precision: str = field(default="fp32", metadata=_opt(
        "bf16 autocast halves memory and speeds up recent NVIDIA GPUs; CUDA only",
        choices=PRECISIONS, group="advanced"))
    device: str = field(default="auto", metadata=_opt(
        "auto picks cuda, then mps, then cpu", choices=("auto", "cpu", "cuda", "mps"),
        pattern="cuda:N", group="advanced"))
    tile: int | None = field(default=None, metadata=_opt(
        "side in pixels of the tiles a large picture's loss is computed in, exactly (the same "
        "picture as untiled, in less memory); unset: tiles only when the picture would not fit; "
        "0: never tile", min=0, max=8192, group="advanced"))
    max_memory: float | None = field(default=None, metadata=_opt(
        "memory the run may use in GB, e.g. 4 or 4GB (RAM on a CPU, GPU memory on CUDA): larger "
        "pictures are computed in tiles to stay within it; unset: 90% of what the device has free",
        min=0.25, max=1e6, group="advanced"))
    content_layers: tuple[str, ...] = field(default=PAPER_CONTENT_LAYERS, metadata=_opt(
        "VGG-19 layers of the content loss: reluB_I after the ReLU (the paper's 'conv4_2' is "
        "relu4_2, Caffe's in-place ReLU), convB_I before it", group="layers"))
    style_layers: tuple[str, ...] = field(default=STYLE_LAYERS, metadata=_opt(
        "VGG-19 layers of the style loss: reluB_I after the ReLU (the paper's 'conv1_1' .. "
        "'conv5_1'; ours stop at relu4_1: relu5_1 pastes objects), convB_I before it",
        group="layers"))
    style_layer_weights: tuple[float, ...] = field(default=(), metadata=_opt(
        "one weight per style layer; unset: 1 for blocks 1-3, 0.5 for block 4, 0.1 for block 5 "
        "(deep layers see object parts; the paper's equal weights: 1 1 1 1 1)", min=0.0, max=1e12,
        group="layers"))

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # accept lists from JSON and argparse, store tuples
                object.__setattr__(self, f.name, tuple(value))
        _validate(self)

    # -- derived values, computed from the fields (one place for each) --------------------
    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def bf16(self) -> bool:
        """bf16 autocast (CUDA only; refused elsewhere before any work)."""
        return self.precision == "bf16"

    @property
    def luminance_only(self) -> bool:
        """The picture optimised is the luminance alone (colour preservation by luminance)."""
        return self.preserve_color == "luminance"

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the network must give: content layers, then style layers, each once."""
        return tuple(dict.fromkeys([*self.content_layers, *self.style_layers]))

    @property
    def eye_used(self) -> str:
        """The eye of the run's cheap steps: `eye`, unless the compressed network lacks what
        these settings look at (relu5_1, max pooling, other weights): then VGG-19 throughout."""
        from .eyes import covers

        if self.eye == "vgg19" or not covers(self.weights, self.pooling, self.layers):
            return "vgg19"
        return self.eye

    @property
    def model_key(self) -> tuple:
        """What the loaded networks depend on: one cache key for the app, batch and video. The
        device is the caller's (resolved from `device`), so it is not part of the key."""
        return (self.weights, self.pooling, self.layers, self.eye_used)

    @property
    def strength_factor(self) -> float:
        """What `strength` multiplies the style and smoothing weights by (1 when unset)."""
        return 1.0 if self.strength is None else presets.factor(self.strength)

    @property
    def weights_used(self) -> tuple[float, float, float]:
        """(content, style, tv) weights as the loss applies them: strength scales the last two
        together, since smoothing is there to counter what the style brings (speckle), and with
        no style the picture is the photo."""
        f = self.strength_factor
        return self.content_weight, self.style_weight * f, self.tv_weight * f

    def blend_weights(self, n_styles: int) -> list[float]:
        """The paintings' blend weights, summing to 1 (equal when unset)."""
        weights = self.style_blend or (1.0,) * n_styles
        total = sum(weights)
        return [w / total for w in weights]

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def with_preset(self, name: str) -> "Settings":
        """These settings with preset `name`'s values (brushwork.presets) and its name."""
        if not isinstance(name, str) or name not in presets.PRESETS:
            raise InputError("--preset", f"unknown preset {name!r}",
                             f"choose one of {', '.join(presets.PRESETS)}")
        return dataclasses.replace(self, preset=name, **presets.PRESETS[name][1])

    @classmethod
    def from_preset(cls, name: str, **changes: Any) -> "Settings":
        """Preset `name`, with `changes` typed over it: `Settings.from_preset("bold", size=768)`.
        (`Settings(preset="bold")` only records the name: a record holds the values too.)"""
        return cls().with_options({"preset": name, **changes})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        """Today's defaults with the fields `data` names (typed options, a job's overrides).
        Unknown keys are ignored; `check_keys` refuses them where a user typed them."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_options(self, options: Mapping[str, Any]) -> "Settings":
        """These settings with only the fields in `options` changed: what a user typed over a
        base (the defaults, a stored record, a batch's settings). Every other field keeps the
        base's value."""
        check_keys(options, "settings")
        options = dict(options)
        base = self.with_preset(options.pop("preset")) if "preset" in options else self
        return dataclasses.replace(base, **options) if options else base

    @classmethod
    def from_record(cls, data: Any, name: str = "record") -> "Settings":
        """The settings a stored run record holds, with the meaning they had when written.

        A record is untrusted input: anything that is not a valid settings mapping raises
        `InputError` ("has damaged brushwork settings"). Keys a later version added are ignored.
        """
        if not isinstance(data, Mapping):
            raise InputError(name, "has damaged brushwork settings (not a mapping)",
                             "give an output that brushwork wrote")
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in names}
        if data and "style_norm" not in data:
            # Written before style_norm existed (brushwork 0.1): it meant the paper's E_l, and an
            # empty style_layer_weights meant equal weights, not today's weights by depth. Only a
            # stored record means this: options typed today always mean today's defaults.
            data["style_norm"] = "paper"
            if not data.get("style_layer_weights"):
                layers = data.get("style_layers")
                n = len(layers) if isinstance(layers, (list, tuple)) else len(PAPER_STYLE_LAYERS)
                data["style_layer_weights"] = [1.0] * n
        if data and "style_loss" not in data:  # written before 0.6: its defaults where silent
            data = {**BEFORE_0_6, **data}
        if data and "step_decay" not in data:  # written before 0.7: its schedule
            data = {**BEFORE_0_7, **data}
        if data and "eye" not in data:  # written before 0.8: VGG-19 at every step
            data = {**BEFORE_0_8, **data}
        if data and "curvature" not in data:  # written before 0.9: L-BFGS afresh at each scale
            data = {**BEFORE_0_9, **data}
        try:
            return cls(**data)
        except InputError as e:
            raise InputError(name, f"has damaged brushwork settings ({e.what}: {e.problem})",
                             "give an output that brushwork wrote") from None
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise InputError(name, "has damaged brushwork settings",
                             "give an output that brushwork wrote") from None


def check_keys(options: Any, where: str, cls: type | None = None) -> None:
    """Refuse a settings mapping that is not one, or names a field that does not exist, naming
    the nearest valid name (a misspelt key silently ignored would paint with the default)."""
    import difflib

    cls = cls or Settings
    if not isinstance(options, Mapping):
        raise InputError(where, f"must be a JSON object of settings, got {type(options).__name__}",
                         'write e.g. {"size": 768}')
    names = [f.name for f in dataclasses.fields(cls)]
    for key in options:
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1)
            raise InputError(where, f"unknown setting {key!r}",
                             f"did you mean {near[0]!r}?" if near else
                             f"use one of {', '.join(names)}")


@dataclass(frozen=True)
class VideoSettings:
    """What a video adds to a still's `Settings` (Ruder et al.'s temporal consistency)."""

    temporal_weight: float = field(default=300.0, metadata=_opt(
        "weight of the temporal term, mean(c * (x - previous frame warped)^2): higher flickers "
        "less; 0 paints every frame on its own (the flickering baseline)", min=0.0, max=1e12,
        group="video"))
    frame_steps: int = field(default=60, metadata=_opt(
        "most steps for a frame after the first (which is a still run of --steps)", min=1,
        max=100_000, group="video"))
    frame_tolerance: float = field(default=0.005, metadata=_opt(
        "a frame after the first stops when its loss falls by less than this fraction per step "
        "(over 5 steps); 0: always --frame-steps", min=0.0, max=1.0, step=0.001, group="video"))

    def __post_init__(self) -> None:
        meta = {f.name: f.metadata for f in dataclasses.fields(self)}
        for name, integer in (("temporal_weight", False), ("frame_steps", True),
                              ("frame_tolerance", False)):
            value, lo, hi = getattr(self, name), meta[name]["min"], meta[name]["max"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                    value) or (integer and not float(value).is_integer()) or not lo <= value <= hi:
                raise InputError(flag(name), f"must be {'a whole number' if integer else 'a number'}"
                                 f" from {lo:g} to {hi:g}, got {value!r}",
                                 f"pass a value in that range (default {_default(name, VideoSettings)})")
        object.__setattr__(self, "frame_steps", int(self.frame_steps))

    def replace(self, **changes: Any) -> "VideoSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VideoSettings":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def field_type(name: str, cls: type = Settings) -> tuple[type, bool]:
    """(element type, is a tuple) of a settings field, with `| None` unwrapped: what a front end
    needs to build its widget or option."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def flag(name: str) -> str:
    """The command-line spelling of a field: content_weight -> --content-weight."""
    return "--" + name.replace("_", "-")


def _validate(s: Settings) -> None:
    """Every field checked, in one place, so the CLI, the app and the API refuse the same
    things with the same words (longer than most functions: one short check per field)."""
    meta = {f.name: f.metadata for f in dataclasses.fields(s)}

    def bad(name: str, problem: str, fix: str) -> InputError:
        return InputError(flag(name), problem, fix)

    def check_number(name: str, value: Any, integer: bool) -> None:
        lo, hi = meta[name].get("min"), meta[name].get("max")
        kind = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not float(value).is_integer()):
            raise bad(name, f"must be {kind}, got {value!r}", f"pass {kind} from {lo} to {hi}")
        if not math.isfinite(value):
            raise bad(name, f"must be finite, got {value}", f"pass a number from {lo} to {hi}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad(name, f"must be from {lo} to {hi}, got {value:g}",
                      f"pass a value in that range (default {_default(name)})")

    for name in ("content_layers", "style_layers", "style_blend", "style_layer_weights"):
        if not isinstance(getattr(s, name), tuple):  # before anything iterates them
            raise bad(name, f"must be a list, got {getattr(s, name)!r}"[:120], "give a list of values")
    for name in ("size", "steps", "seed"):
        check_number(name, getattr(s, name), integer=True)
    object.__setattr__(s, "size", int(s.size))
    object.__setattr__(s, "steps", int(s.steps))
    object.__setattr__(s, "seed", int(s.seed))
    if s.steps == 0 and s.init != "fast":
        raise bad("steps", "0 steps paint nothing", "give 1 or more, or --preset instant for "
                  "the feed-forward picture alone")
    check_number("judge_steps", s.judge_steps, integer=True)
    object.__setattr__(s, "judge_steps", int(s.judge_steps))
    for name in ("scales", "tile", "fine_steps"):
        if getattr(s, name) is not None:
            check_number(name, getattr(s, name), integer=True)
            object.__setattr__(s, name, int(getattr(s, name)))
    if s.max_memory is not None:
        check_number("max_memory", s.max_memory, integer=False)
    if s.strength is not None:
        check_number("strength", s.strength, integer=False)
    for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "step_decay",
                 "average"):
        check_number(name, getattr(s, name), integer=False)
    if s.lr is not None:
        check_number("lr", s.lr, integer=False)
    for name in ("style_blend", "style_layer_weights"):
        for v in getattr(s, name):
            check_number(name, v, integer=False)
        if getattr(s, name) and sum(getattr(s, name)) <= 0:
            raise bad(name, "the weights sum to 0", "give at least one weight above 0")
    if s.average and s.optimizer != "adam":
        # L-BFGS keeps no iterate average: silently ignoring the option would mislead.
        raise bad("average", f"{s.average:g} is for Adam's pictures, and this run uses "
                  f"{s.optimizer}", "add --optimizer adam, or leave --average out")
    if s.content_weight == 0 and s.style_weight * s.strength_factor == 0:
        raise bad("style_weight", "both content and style weights are 0, nothing to optimise",
                  "set --style-weight (or --strength) above 0")
    for name in ("optimizer", "pooling", "preserve_color", "precision", "style_norm",
                 "style_loss", "preset", "parameterization", "eye", "curvature"):
        choices = meta[name]["choices"]
        if not isinstance(getattr(s, name), str) or getattr(s, name) not in choices:
            raise bad(name, f"unknown value {getattr(s, name)!r}", f"choose one of {', '.join(choices)}")
    for name in ("init", "weights"):
        if not isinstance(getattr(s, name), str) or not getattr(s, name):
            raise bad(name, "is empty", f"choose one of {', '.join(meta[name]['choices'])} or a file path")
    dev = s.device
    if not isinstance(dev, str) or not (dev in meta["device"]["choices"] or (
            dev.startswith("cuda:") and dev[5:].isdigit())):
        raise bad("device", f"unknown device {dev!r}", "choose auto, cpu, cuda, cuda:N or mps")
    for name in ("content_layers", "style_layers"):
        layers = getattr(s, name)
        for layer in layers:
            if not isinstance(layer, str) or layer not in LAYER_NAMES:
                raise bad(name, f"unknown layer {layer!r}",
                          "use VGG-19 names such as conv4_2, relu4_2, relu1_1 or pool1")
    if not s.style_layers and s.style_weight > 0:
        raise bad("style_layers", "no style layers given", "name at least one layer, e.g. relu1_1")
    if not s.content_layers and s.content_weight > 0:
        raise bad("content_layers", "no content layers given", "name one layer, e.g. relu4_2")
    if s.style_layer_weights and len(s.style_layer_weights) != len(s.style_layers):
        raise bad("style_layer_weights",
                  f"{len(s.style_layer_weights)} weights for {len(s.style_layers)} style layers",
                  "give one weight per style layer")


def _default(name: str, cls: type = Settings) -> Any:
    return {f.name: f.default for f in dataclasses.fields(cls)}[name]
