"""The app's widgets: the sidebar built from `Settings` (every default, range, choice and help
from the dataclass), the inputs (uploads or the bundled examples) and the time estimate."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from PIL import Image

from . import MAX_UPLOAD_MB, MAX_UPLOAD_PIXELS

# On a CPU a first run should take about a minute: a single 256 px scale at ~0.5 s per step.
CPU_OVERRIDES = {"size": 256, "steps": 100}
# A tiled step's cost per pixel over an untiled one's (benchmarks/large.py, docs/performance.md).
TILED_COST = 1.5
UNSET = object()


def image_types() -> list[str]:
    """What the uploaders take: the image types brushwork reads (one list: images.py)."""
    from brushwork.images import IMAGE_SUFFIXES

    return [s[1:] for s in IMAGE_SUFFIXES]


def style_inputs(st, column, locked: bool = False) -> list["Input"]:
    """The paintings: uploads, or the picked examples; shown under the column's heading."""
    from brushwork import examples

    with column:
        st.subheader("Style")
        uploads = st.file_uploader("Upload one or more paintings", accept_multiple_files=True,
                                   type=image_types(), key="style_upload", disabled=locked)
        picked = st.multiselect("or pick examples", list(examples.STYLES),
                                default=[] if uploads else [next(iter(examples.STYLES))],
                                disabled=bool(uploads) or locked)
        styles = load_inputs(st, uploads or [], [(n, examples.STYLES[n]) for n in picked])
    if styles:
        cols = column.columns(min(len(styles), 4))
        for i, s in enumerate(styles):
            cols[i % len(cols)].image(s.im, caption=s.name, width=180)
    return styles


def settings_sidebar(st, device, defaults: dict, n_styles: int, video: bool = False,
                     locked: bool = False):
    """The sidebar's widgets, one per field of Settings (and of VideoSettings for a video),
    and the settings they make: (Settings or None, VideoSettings or None), None with the
    error shown when the values do not go together."""
    import brushwork
    from brushwork.device import describe, resolve_device
    from brushwork.settings import Settings, VideoSettings

    values: dict[str, typing.Any] = {}
    video_values: dict[str, typing.Any] = {}
    with st.sidebar:
        st.header("Settings")
        st.caption(f"Running on **{describe(device)}**.")
        groups = [("basic", None), ("style", "Style"), ("advanced", "Advanced")]
        if video:
            groups.insert(1, ("video", "Video"))
        for group, title in groups:
            box = st.expander(title, expanded=group in ("style", "video")) if title else st.container()
            with box:
                if group == "video":
                    for f in dataclasses.fields(VideoSettings):
                        video_values[f.name] = _widget(st, f, f.default, n_styles, VideoSettings,
                                                       locked)
                    continue
                for f in dataclasses.fields(Settings):
                    if f.metadata["group"] == group:
                        values[f.name] = _widget(st, f, _preset_default(f.name, values, defaults),
                                                 n_styles, locked=locked,
                                                 preset=values.get("preset", "default"))
        if not video:
            est = estimate(values.get("size", 256), values.get("steps", 100), device)
            if est:
                st.caption(est)
    try:
        settings = Settings(**{k: v for k, v in values.items() if v is not UNSET})
        vsettings = VideoSettings(**video_values) if video else None
        resolve_device(settings.device)
    except brushwork.BrushworkError as e:
        st.error(in_words(str(e)))
        return None, None
    return settings, vsettings


def in_words(message: str) -> str:
    """An error in the page's words: each --flag becomes its widget's label (the settings' errors
    are written for the command line)."""
    import re

    labels = {"style-weight": "Strength"}  # the app's knob for the style weight

    def label(m: re.Match) -> str:
        name = m.group(1)
        return f"**{labels.get(name, name.replace('-', ' ').capitalize())}**"

    words = re.sub(r"--([a-z][a-z0-9-]*)", label, message)
    return words.replace("**Strength** (or **Strength**)", "**Strength**")


def _preset_default(name: str, values: dict, defaults: dict):
    """A widget's starting value: the chosen preset's (drawn first), else the page's default."""
    from brushwork.presets import PRESETS

    chosen = PRESETS.get(values.get("preset", "default"), ("", {}))[1]
    return chosen.get(name, defaults[name])


def _widget(st, f: dataclasses.Field, default, n_styles: int, cls: type | None = None,
            locked: bool = False, preset: str = "default"):
    """One Streamlit widget for one field of Settings (or `cls`); returns its value (or
    UNSET). `locked` while a picture paints: a change would end the run."""
    from brushwork.presets import PRESETS

    meta, name = f.metadata, f.name
    label = name.replace("_", " ").capitalize()
    # A field the preset sets gets a new widget when the preset changes, so it shows the
    # preset's value (a widget keeps its own state otherwise).
    touched = name in PRESETS.get(preset, ("", {}))[1]
    key = f"setting_{name}" + (f"_{preset}" if touched else "")
    if name == "preset":
        return st.selectbox("Preset", list(PRESETS), index=list(PRESETS).index(default),
                            format_func=lambda p: f"{p}: {PRESETS[p][0]}", key=key,
                            help=meta["help"], disabled=locked)
    if name == "strength":
        # The one knob for how painted the picture is; the raw style weight stays a CLI option.
        return st.slider("Strength", 0.0, 1.0, 0.5 if default is None else float(default), 0.05,
                         help="How painted the picture is: 0 keeps the photo, 0.5 is the usual "
                         "balance, 1 lets the painting take over. If a face or a small building "
                         "is lost, lower it; if the painting hardly shows, raise it.",
                         key=key, disabled=locked)
    if name == "style_weight":
        return UNSET
    if name == "style_blend":
        if n_styles < 2:
            return ()
        st.caption("Style blend (normalised)")
        return tuple(st.slider(f"Style {i + 1}", 0.0, 1.0, 1.0 / n_styles, 0.05, key=f"{key}_{i}",
                               disabled=locked)
                     for i in range(n_styles))
    if name == "style_layer_weights":
        return UNSET
    if name in ("content_layers", "style_layers"):
        text = st.text_input(label, " ".join(default), help=meta["help"], key=key,
                             disabled=locked)
        return tuple(text.split())
    if "choices" in meta:
        choices, missing = runnable(name, list(meta["choices"]))
        help_ = meta["help"] + (f" (not on this server: {', '.join(missing)})" if missing else "")
        index = choices.index(default) if default in choices else 0
        return st.selectbox(label, choices, index=index, help=help_, key=key, disabled=locked)
    from brushwork.settings import field_type

    base, _ = field_type(name, cls) if cls else field_type(name)
    lo, hi = meta.get("min"), meta.get("max")
    if base is int:
        return st.number_input(label, min_value=lo, max_value=hi, value=default, step=1,
                               help=meta["help"], key=key, placeholder="auto", disabled=locked)
    return st.number_input(label, min_value=float(lo), max_value=float(hi),
                           value=None if default is None else float(default), format="%g",
                           step=meta.get("step"), help=meta["help"], key=key, placeholder="auto",
                           disabled=locked)


def runnable(name: str, choices: list[str]) -> tuple[list[str], list[str]]:
    """(the choices this server can run, those it cannot): a GPU that is not here, bf16 off
    CUDA, weights that would need a download. The app offers only the first."""
    import torch

    cuda = torch.cuda.is_available()
    gone = {"device": {"cuda": not cuda, "mps": not torch.backends.mps.is_available()},
            "precision": {"bf16": not cuda},
            "weights": {"torchvision": not _torchvision_cached()}}.get(name, {})
    return [c for c in choices if not gone.get(c)], [c for c in choices if gone.get(c)]


def _torchvision_cached() -> bool:
    from pathlib import Path

    import torch

    from brushwork.weights import TORCHVISION_FILE

    return (Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE).is_file()


def load_inputs(st, uploads, fallback) -> list["Input"]:
    """(name, RGB image) for each upload, or the examples when nothing was uploaded."""
    import brushwork

    out = []
    for up in uploads:
        try:
            data = up.getvalue()
            if len(data) > MAX_UPLOAD_MB * 2**20:
                raise brushwork.InputError(up.name, f"is over {MAX_UPLOAD_MB} MB", "upload a smaller file")
            im = brushwork.load_image(data, name=up.name, max_pixels=MAX_UPLOAD_PIXELS)
            out.append((up.name, im, data))
        except brushwork.InputError as e:
            st.error(str(e))
    if not uploads:
        for name, path in fallback:
            out.append((name, brushwork.load_image(path), path.read_bytes()))
    return [Input(name, im, data) for name, im, data in out]


@dataclass(frozen=True)
class Input:
    """An uploaded or example image, with the bytes it came from (for the embedded SHA-256)."""

    name: str
    im: Image.Image
    data: bytes


def estimate(size, steps, device) -> str | None:
    """What the sidebar says about a run's time and memory: the expected time on a CPU (a
    GPU's depends on the card), and whether a large picture will be computed in tiles."""
    if not isinstance(size, int) or not isinstance(steps, int):
        return None
    from brushwork import memory
    from brushwork.images import fit_size
    from brushwork.settings import Settings
    from brushwork import plan_scales

    w, h = fit_size(4, 3, size)
    plan = memory.plan(w, h, device, budget=memory.budget_bytes(device))
    notes = []
    if device.type == "cpu":
        # Measured on a 2-core laptop CPU: about 2.6 s per step at 512x384, scaling with the
        # area; a tiled step costs about TILED_COST times as much per pixel (benchmarks/large.py).
        per_px = 2.6 / (512 * 384)
        scales = plan_scales(4, 3, Settings(size=size, steps=steps))
        secs = 3 + sum(sc.steps * max(0.05, sc.size[0] * sc.size[1] * per_px) for sc in scales)
        secs *= TILED_COST if plan.tiled else 1.0
        when = (f"{secs:.0f} s" if secs < 90 else f"{secs / 60:.0f} min" if secs < 5400
                else f"{secs / 3600:.1f} h")
        notes.append(f"Expected time on this CPU: about {when}." + (
            " A GPU paints large pictures in minutes." if secs > 1800 else ""))
    if plan.tiled:
        notes.append(f"{w}x{h} does not fit in memory whole: it is computed in {plan.tiles} "
                     "tiles, the same picture, more slowly.")
    if not plan.fits:
        notes.append(f"{w}x{h} needs more memory than this machine has free; pick a smaller size.")
    return " ".join(notes) or None


def download_name(content: str, styles: list[str], suffix: str = ".png") -> str:
    """A download's file name from its inputs' names: photo__painting.png, in characters
    every file system takes (not brushwork-1.png)."""
    import re
    from pathlib import PurePath

    def stem(name: str) -> str:
        return re.sub(r"[^\w.-]+", "_", PurePath(name).stem).strip("._") or "picture"

    return stem(content) + (f"__{'+'.join(stem(s) for s in styles)}" if styles else "") + suffix


def caption(n: int, content: str, styles: list[str], settings, step: int) -> str:
    """A result's caption: what it is, what differed from the defaults (so two results can be
    told apart), and how far it got (a stopped run says so: step 37 of 120)."""
    from brushwork.settings import Settings

    base = Settings().to_dict()
    changed = [f"{k.replace('_', ' ')} {v if not isinstance(v, list) else ' '.join(map(str, v))}"
               for k, v in settings.to_dict().items()
               if v != base[k] and k not in ("device", "max_memory", "tile")
               and not (k == "strength" and v == 0.5)]  # the app's slider at "as given"
    shown = " · ".join(changed[:4]) + (" …" if len(changed) > 4 else "")
    return (f"#{n}: {content} × {', '.join(styles)}" + (f" · {shown}" if shown else "")
            + f" · step {step} of {settings.steps}"
            + ("" if step >= settings.steps else " (stopped early)"))
