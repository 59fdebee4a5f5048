"""The app's widgets: the sidebar built from `Settings` (every default, range, choice and help
from the dataclass), the inputs (uploads or the bundled examples) and the time estimate."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from PIL import Image

# The painter's words for each setting and choice live in the library, shared with the HTTP
# API's /settings route and so with editor plug-ins.
from brushwork.words import CHOICE_WORDS, WORDS

from . import MAX_UPLOAD_MB, MAX_UPLOAD_PIXELS

# A tiled step's cost per pixel over an untiled one's (benchmarks/large.py, docs/performance.md).
TILED_COST = 1.5
# A run in the app over the same run from the command line, with the browser on the same 2-core
# laptop: 60 s against 40 s for 256 px and 100 steps (the page's updates, Chromium drawing them
# on the CPU, Streamlit's threads). The time left shown during a run is measured, not this.
APP_COST = 1.5
UNSET = object()


# Quick choices for size and steps beside the exact number.
QUICK = {"size": (128, 256, 512, 1024, 2048), "steps": (50, 100, 200, 400)}
STEP = {"size": 32, "steps": 10, "tile": 64, "frame_steps": 5}  # others: 1


def label_of(name: str) -> str:
    return WORDS.get(name, (name.replace("_", " ").capitalize(), ""))[0]


def upload_caption(kind: str) -> str:
    return f"{kind}: PNG, JPEG, WebP, BMP, TIFF or GIF, up to {MAX_UPLOAD_MB} MB"


def style_inputs(st, column, locked: bool = False) -> list["Input"] | None:
    """The paintings: uploads, or the picked examples; shown under the column's heading. None
    when an upload was refused (its reason shown): a run must not paint something else."""
    from brushwork import examples

    with column:
        st.subheader("Painting")
        # Any file is taken, so that one brushwork cannot read is refused in the page, in
        # words, rather than in the uploader's hover tooltip.
        uploads = st.file_uploader("Upload one or more paintings", accept_multiple_files=True,
                                   key="style_upload", disabled=locked,
                                   help=upload_caption("Paintings"))
        picked = st.multiselect("or pick examples", list(examples.STYLES),
                                default=[] if uploads else [next(iter(examples.STYLES))],
                                disabled=bool(uploads) or locked)
        styles = load_inputs(st, uploads or [], [(n, examples.STYLES[n]) for n in picked])
    if styles is None:
        return None
    if styles:
        cols = column.columns(min(len(styles), 3))
        for i, s in enumerate(styles):
            cols[i % len(cols)].image(s.im, caption=s.name, width=150, alt=f"painting: {s.name}")
    return styles


@dataclass(frozen=True)
class Panel:
    """What the settings widgets make: the settings (None when they do not go together), the
    video's, and the reasons Start must wait, in the widgets' words."""

    settings: typing.Any
    video: typing.Any
    problems: tuple[str, ...]


def settings_sidebar(st, device, defaults: dict, style_names: list[str], video: bool = False,
                     locked: bool = False) -> Panel:
    """The sidebar's widgets, one per field of Settings (and of VideoSettings for a video),
    each with its problem (an out-of-range number) shown right under it."""
    import brushwork
    from brushwork.device import describe, resolve_device
    from brushwork.settings import Settings, VideoSettings

    values: dict[str, typing.Any] = {}
    video_values: dict[str, typing.Any] = {}
    problems: list[str] = []
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
                        video_values[f.name] = _checked(st, f, f.default, style_names, problems,
                                                        VideoSettings, locked)
                    continue
                for f in dataclasses.fields(Settings):
                    if f.metadata["group"] == group:
                        values[f.name] = _checked(
                            st, f, _preset_default(f.name, values, defaults), style_names,
                            problems, Settings, locked, preset=values.get("preset", "default"))
    if problems:
        return Panel(None, None, tuple(problems))
    try:
        settings = Settings(**{k: v for k, v in values.items() if v is not UNSET})
        vsettings = VideoSettings(**video_values) if video else None
        resolve_device(settings.device)
    except brushwork.BrushworkError as e:
        return Panel(None, None, (in_words(str(e)),))
    return Panel(settings, vsettings, ())


def _checked(st, f, default, style_names, problems: list[str], cls, locked, preset="default"):
    """A field's widget, then its value checked alone: a problem shows under the widget (in its
    words) and keeps Start disabled; the number stays as typed, never silently replaced."""
    import brushwork

    from brushwork.presets import PRESETS
    from brushwork.settings import Settings

    value = _widget(st, f, default, style_names, cls, locked, preset)
    if value is UNSET:
        return value
    # Checked beside the preset's other values: some hold only together (the instant preset's
    # 0 steps need its feed-forward start).
    context = PRESETS.get(preset, ("", {}))[1] if cls is Settings else {}
    try:
        cls(**{**context, f.name: value})
    except brushwork.BrushworkError as e:
        problems.append(in_words(str(e)))
        st.error(problems[-1])
    return value


# Nouns of the library's errors, as the page calls them.
_NOUNS = (("content image", "the photo"), ("style images", "paintings"),
          ("style image", "painting"), ("style mask", "region mask"))


def in_words(message: str) -> str:
    """An error in the page's words: each --flag becomes its widget's label (the settings' errors
    are written for the command line), the inputs are the photo and the paintings."""
    import re

    labels = {"style-weight": "Strength", "style-masks": "Regions"}

    def label(m: re.Match) -> str:
        name = m.group(1)
        return f"**{labels.get(name) or label_of(name.replace('-', '_'))}**"

    words = re.sub(r"--([a-z][a-z0-9-]*)", label, message)
    for noun, said in _NOUNS:
        words = words.replace(noun, said)
    # The command line's default is not the page's (a CPU starts smaller).
    words = re.sub(r" \(default [^)]*\)", "", words)
    if words.startswith(tuple(said for _, said in _NOUNS)):  # (a file's name keeps its case)
        words = words[:1].upper() + words[1:]
    return words.replace("**Strength** (or **Strength**)", "**Strength**")


def _preset_default(name: str, values: dict, defaults: dict):
    """A widget's starting value: the chosen preset's (drawn first), else the page's default."""
    from brushwork.presets import PRESETS

    chosen = PRESETS.get(values.get("preset", "default"), ("", {}))[1]
    return chosen.get(name, defaults[name])


def _widget(st, f: dataclasses.Field, default, style_names: list[str], cls: type | None = None,
            locked: bool = False, preset: str = "default"):
    """One Streamlit widget for one field of Settings (or `cls`); returns its value (or
    UNSET). `locked` while a picture paints: a change would end the run."""
    from brushwork.presets import PRESETS

    meta, name = f.metadata, f.name
    label, help_ = WORDS.get(name, (label_of(name), meta["help"]))
    # A field the preset sets gets a new widget when the preset changes, so it shows the
    # preset's value (a widget keeps its own state otherwise).
    touched = name in PRESETS.get(preset, ("", {}))[1]
    key = f"setting_{name}" + (f"_{preset}" if touched else "")
    if name == "preset":
        return st.selectbox(label, list(PRESETS), index=list(PRESETS).index(default),
                            format_func=lambda p: f"{p}: {PRESETS[p][0]}", key=key,
                            help=help_, disabled=locked)
    if name == "strength":
        # The one knob for how painted the picture is; the raw style weight stays a CLI option.
        return st.slider(label, 0.0, 1.0, 0.5 if default is None else float(default), 0.05,
                         help=help_, key=key, disabled=locked)
    if name in ("style_weight", "style_layer_weights", "content_layers", "style_layers"):
        return UNSET  # the command line's: the app has Strength, and the layers of the preset
    if name == "style_blend":
        if len(style_names) < 2:
            return ()
        st.caption("How much of each painting (normalised)")
        return tuple(st.slider(n, 0.0, 1.0, 1.0 / len(style_names), 0.05, key=f"{key}_{i}",
                               disabled=locked) for i, n in enumerate(style_names))
    if "choices" in meta:
        choices, missing = runnable(name, list(meta["choices"]))
        words = CHOICE_WORDS.get(name, {})
        help_ += f" Not on this server: {', '.join(missing)}." if missing else ""
        index = choices.index(default) if default in choices else 0
        return st.selectbox(label, choices, index=index, help=help_, key=key, disabled=locked,
                            format_func=lambda c: words.get(c, c))
    from brushwork.settings import field_type

    base, _ = field_type(name, cls) if cls else field_type(name)
    if name in QUICK:
        return _quick_number(st, name, label, help_, default, key, locked)
    # No min or max on the widget: a number out of range stays as typed and is refused, with
    # the reason under it (Streamlit would show it and run another).
    _number_box(st.session_state, key,
                default if default is None or base is int else float(default))
    if base is int:
        return st.number_input(label, step=STEP.get(name, 1), help=help_, key=key,
                               placeholder="auto", disabled=locked)
    return st.number_input(label, format="%g", step=meta.get("step"), help=help_, key=key,
                           placeholder="auto", disabled=locked)


def _quick_number(st, name: str, label: str, help_: str, default: int, key: str, locked: bool):
    """Size and steps: the exact number (any value), and a row of the usual values under it,
    the current one marked. Buttons, not a second stateful widget: two widgets holding one
    value race when the page reruns under a second change."""
    state = st.session_state
    _number_box(state, key, default)

    def choose(value: int) -> None:
        state[key] = value

    number = st.number_input(label, step=STEP[name], key=key, help=help_, disabled=locked)
    with st.container(horizontal=True, gap="small"):
        for value in QUICK[name]:
            st.button(str(value), key=f"{key}_quick_{value}", on_click=choose, args=(value,),
                      type="primary" if value == number else "secondary", disabled=locked)
    return number


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


def load_inputs(st, uploads, fallback) -> list["Input"] | None:
    """(name, RGB image) for each upload, or the examples when nothing was uploaded; None when
    an upload was refused (its reason shown in the page, in words), so that nothing else is
    painted in its place."""
    import brushwork

    out, refused = [], False
    for up in uploads:
        try:
            data = up.getvalue()
            if len(data) > MAX_UPLOAD_MB * 2**20:
                raise brushwork.InputError(up.name, f"is over {MAX_UPLOAD_MB} MB",
                                           "upload a smaller file")
            im = brushwork.load_image(data, name=up.name, max_pixels=MAX_UPLOAD_PIXELS)
            out.append((up.name, im, data))
        except brushwork.InputError as e:
            st.error(in_words(str(e)))
            refused = True
    if refused:
        return None
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


def estimate(size, steps, device, shape: tuple[int, int] = (4, 3)) -> str | None:
    """What the page says about a run's time and memory: the expected time on a CPU (a GPU's
    depends on the card), and whether a large picture will be computed in tiles. `shape` is
    the photo's (its aspect ratio sets the pixels)."""
    if not isinstance(size, int) or not isinstance(steps, int):
        return None
    if steps == 0:  # the instant preset: the feed-forward network alone
        return "The instant picture, no optimisation: about a second."
    from brushwork import memory
    from brushwork.images import fit_size

    w, h = fit_size(*shape, size)
    plan = memory.plan(w, h, device, budget=memory.budget_bytes(device))
    notes = []
    if device.type == "cpu":
        secs = cpu_seconds(shape, size, steps) * (TILED_COST if plan.tiled else 1.0)
        notes.append(f"Expected time on this CPU: about {duration(secs)}." + (
            " A GPU paints large pictures in minutes." if secs > 1800 else ""))
    if plan.tiled:
        notes.append(f"{w}x{h} does not fit in memory whole: it is computed in {plan.tiles} "
                     "tiles, the same picture, more slowly.")
    if not plan.fits:
        notes.append(f"{w}x{h} needs more memory than this machine has free; pick a smaller size.")
    return " ".join(notes) or None


def cpu_seconds(shape: tuple[int, int], size: int, steps: int) -> float:
    """A still run's seconds in the app on a 2-core laptop CPU: APP_COST times the command
    line's, which takes about 1.4 s per VGG-19 step at 512x384 (256 px, 100 steps: 40 s; 512
    px, 130 steps: 57 s, start included, with 0.6's defaults), scaling with the area of each
    scale's steps and the cost of its eye (brushwork.eyes.COST), plus the start."""
    from brushwork import plan_scales
    from brushwork.eyes import COST
    from brushwork.settings import Settings

    per_px = 1.4 / (512 * 384)
    scales = plan_scales(*shape, Settings(size=size, steps=steps))
    return APP_COST * (3 + sum(sc.steps * max(0.05, sc.size[0] * sc.size[1] * per_px)
                               * COST[sc.eye] for sc in scales))


def duration(secs: float) -> str:
    return (f"{secs:.0f} s" if secs < 90 else f"{secs / 60:.0f} min" if secs < 5400
            else f"{secs / 3600:.1f} h")


def left_words(secs: float | None) -> str:
    """The time a run has left, as its progress line says it ("starting" before any pace)."""
    if secs is None:
        return "starting"
    return "under 5 s left" if secs < 5 else f"about {duration(secs)} left"


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


def pending_run(state, request_key: str, stop_key: str, interrupted) -> dict | None:
    """The run this page asked for (its settings and inputs, held while it paints), or None. A
    run that had started and was ended by anything but its Stop button (a reload, a closed
    tab) is handed to `interrupted`, which says so and keeps what it painted, rather than
    started again. While it is pending, the page locks everything whose change would rerun
    the script and so end the run. Called before any widget is drawn: it puts back the
    numbers held at Start (see request_run)."""
    request = state.get(request_key)
    if request is not None and request["started"] and not state.get(stop_key):
        interrupted()
        request = None
    held = state.get(_HELD) if request is not None else state.pop(_HELD, None)
    for key, value in (held or {}).items():
        if state.get(key) != value:
            state[key] = value
    return request


# Streamlit's browser side can put a locked number box back to its widget's default: the rerun
# of a Stop starts beside the run it ends, and one time in three it came with Seed 0 (the
# value the page had shown before, 13, was gone from the box too; cf. streamlit/streamlit#4318).
# A change the user cannot make (the box is disabled) must not change the next picture, so the
# numbers in the boxes at Start are held until the page unlocks and put back before the widgets
# are drawn.
_NUMBERS, _HELD = "number_boxes", "numbers_held"


def request_run(state, request_key: str, request: dict) -> None:
    """Start: the run asked for (the page locks until it ends), and the numbers in the boxes
    held with it."""
    state[request_key] = request
    state[_HELD] = {key: state[key] for key in state.get(_NUMBERS, ()) if key in state}


def _number_box(state, key: str, default) -> None:
    """A number box's value lives in the session (the box has no default of its own, so that
    a number out of range stays as typed); the box is one of those a run holds."""
    if key not in state:
        state[key] = default
    state.setdefault(_NUMBERS, set()).add(key)


def page_columns(st):
    """The two pages' layout: the inputs as two columns on the left, Start, the run and its
    result on the right (in view on a laptop's screen). Returns (left, middle, right)."""
    inputs, side = st.columns([5, 4], gap="large")
    left, middle = inputs.columns(2)
    return left, middle, side


def start_stop(st, locked: bool, problems: list[str], label: str, start_key: str,
               stop_key: str) -> tuple[bool, bool]:
    """Start (disabled while anything is unusable, 'Painting ...' while locked) and Stop (only
    while painting), side by side; keyed, so that Start keeps its identity when its label
    changes (else the old one lingers while a run holds the script). Returns their clicks."""
    go, stop = st.columns(2)
    start = go.button("Painting ..." if locked else label, type="primary",
                      disabled=locked or bool(problems), width="stretch", key=start_key)
    stopped = stop.button("Stop", width="stretch", disabled=not locked, key=stop_key)
    return start, stopped
