"""The brushwork web app (Streamlit). Start it with `brushwork app`.

The page is built from `Settings`: every widget's default, range, choices and help come from the
dataclass. The run consumes the same `iter_stylize` iterator as the CLI. One optimisation runs at
a time per server (a lock shared through `st.cache_resource`); others wait in line and are told so.
Nothing runs when this module is imported; Streamlit runs it as a script (`__main__`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import time
import typing
from dataclasses import dataclass

from PIL import Image

MAX_UPLOAD_MB = 25
MAX_UPLOAD_PIXELS = 40_000_000
# On a CPU a first run should take about a minute: a single 256 px scale at ~0.5 s per step.
CPU_OVERRIDES = {"size": 256, "steps": 100}
# A tiled step's cost per pixel over an untiled one's (benchmarks/large.py, docs/performance.md).
TILED_COST = 1.5
PREVIEW_SECONDS = 1.0  # refresh the live preview at most this often (browser and server share the CPU)


class RunQueue:
    """One optimisation at a time per server, first come, first served.

    Each run takes a ticket and waits until its ticket is first in line and nobody is painting.
    `leave` is safe to call at any point (in line, painting, or already gone), so a `finally`
    around the whole wait-and-run releases the server whatever a Stop or rerun interrupts.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[object] = []
        self._painting: object | None = None

    def join(self) -> object:
        ticket = object()
        with self._cond:
            self._line.append(ticket)
        return ticket

    def take(self, ticket: object, timeout: float = 0.0) -> bool:
        """Start painting if it is `ticket`'s turn, waiting up to `timeout` seconds for it."""
        with self._cond:
            turn = lambda: self._painting is None and self._line[:1] == [ticket]  # noqa: E731
            if self._cond.wait_for(turn, timeout):
                self._line.pop(0)
                self._painting = ticket
                return True
            return False

    def position(self, ticket: object) -> int:
        """1 when next in line, 2 behind one other, ...; 0 once painting or gone."""
        with self._cond:
            return self._line.index(ticket) + 1 if ticket in self._line else 0

    def leave(self, ticket: object) -> None:
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
            if self._painting is ticket:
                self._painting = None
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._painting is not None or bool(self._line)


def main() -> None:
    import streamlit as st

    import brushwork
    from brushwork import examples
    from brushwork.device import resolve_device
    from brushwork.settings import Settings

    st.set_page_config(page_title="brushwork", layout="wide")

    @st.cache_resource(show_spinner="Loading VGG-19 ...")
    def model_for(weights: str, pooling: str, layers: tuple[str, ...], device: str):
        probe = Settings(weights=weights, pooling=pooling, content_layers=layers[:1],
                         style_layers=layers[1:])
        return brushwork.load_model(probe, device)

    @st.cache_resource
    def run_queue() -> RunQueue:
        return RunQueue()

    state = st.session_state
    state.setdefault("results", [])  # this session's pictures: dicts with png, caption, settings

    st.title("brushwork")
    st.caption("Paint a photo in the style of a painting — neural style transfer after Gatys, "
               "Ecker and Bethge (2015).")

    device_name = "auto"
    try:
        device = resolve_device(device_name)
    except brushwork.BrushworkError:
        device = resolve_device("cpu")
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    if device.type == "cpu":
        defaults.update(CPU_OVERRIDES)

    mode = st.radio("What to paint", ["Picture", "Video"], horizontal=True, key="mode",
                    label_visibility="collapsed")
    if mode == "Video":
        from brushwork import app_video

        app_video.page(st, state, run_queue(), model_for, device, defaults)
        return

    # ---- inputs --------------------------------------------------------------------------
    left, right = st.columns(2)
    with left:
        st.subheader("Photo")
        upload = st.file_uploader("Upload a photo", type=IMAGE_TYPES, key="content_upload")
        content = _load_inputs(st, [upload] if upload else [], [("Tübingen (example)", examples.CONTENT)])
    styles = _style_inputs(st, right)
    if content:
        left.image(content[0].im, caption=content[0].name, width=280)

    # ---- regions: a painting per part of the picture (Gatys et al. 2017) -------------------
    masks = None
    if content and styles:
        with st.expander("Regions: a different painting in each part, parts kept as the photo"):
            masks = _regions(st, content[0], styles)

    # ---- settings, built from the dataclass ------------------------------------------------
    settings, _ = settings_sidebar(st, device, defaults, len(styles))
    if settings is not None:
        device = resolve_device(settings.device)  # the Device widget's choice, checked

    # ---- run -----------------------------------------------------------------------------
    go, stop = st.columns([1, 1])
    start = go.button("Start painting", type="primary", disabled=not (content and styles and settings),
                      use_container_width=True)
    if stop.button("Stop", use_container_width=True):
        # Streamlit starts this rerun while the interrupted run is still unwinding: keep its
        # latest step from here (the run also keeps it on its way out; same entry either way).
        if "keep_latest" in state:
            state.pop("keep_latest")()
        if state.results:
            st.info(f"Stopped. Kept the picture at step {state.results[-1]['step']}.")

    if start and settings is not None:
        if masks:  # paintings given no region (painted mode) sit this run out
            used = [i for i, m in enumerate(masks) if max(m.im.getextrema()) > 0]
            styles, masks = [styles[i] for i in used], [masks[i] for i in used]
            if settings.style_blend:
                settings = settings.replace(style_blend=tuple(settings.style_blend[i] for i in used))
        note = _run(st, state, run_queue(), model_for, settings, device, content[0], styles,
                    masks)
        if note:
            st.success(note)

    # ---- results -------------------------------------------------------------------------
    if state.results:
        latest = state.results[-1]
        st.subheader("Result")
        st.image(latest["png"], caption=latest["caption"])
        if latest.get("photo") is not None:
            _compare(st, latest)
        st.download_button("Download PNG (settings embedded)", latest["png"],
                           file_name=latest["file_name"], mime="image/png", key="download_latest")
        if len(state.results) > 1:
            st.subheader("This session's pictures")
            cols = st.columns(4)
            for i, r in enumerate(reversed(state.results[:-1])):
                with cols[i % 4]:
                    st.image(r["png"], caption=r["caption"])
                    st.download_button("Download", r["png"], file_name=r["file_name"],
                                       mime="image/png", key=f"download_{r['id']}")


_UNSET = object()
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]


def _style_inputs(st, column) -> list["Input"]:
    """The paintings: uploads, or the picked examples; shown under the column's heading."""
    from brushwork import examples

    with column:
        st.subheader("Style")
        uploads = st.file_uploader("Upload one or more paintings", accept_multiple_files=True,
                                   type=IMAGE_TYPES, key="style_upload")
        picked = st.multiselect("or pick examples", list(examples.STYLES),
                                default=[] if uploads else [next(iter(examples.STYLES))],
                                disabled=bool(uploads))
        styles = _load_inputs(st, uploads or [], [(n, examples.STYLES[n]) for n in picked])
    if styles:
        cols = column.columns(min(len(styles), 4))
        for i, s in enumerate(styles):
            cols[i % len(cols)].image(s.im, caption=s.name, width=180)
    return styles


def settings_sidebar(st, device, defaults: dict, n_styles: int, video: bool = False):
    """The sidebar's widgets, one per field of Settings (and of VideoSettings for a video),
    and the settings they make: (Settings or None, VideoSettings or None), None with the
    error shown when the values do not go together."""
    import brushwork
    from brushwork.device import describe
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
                        video_values[f.name] = _widget(st, f, f.default, n_styles, VideoSettings)
                    continue
                for f in dataclasses.fields(Settings):
                    if f.metadata["group"] == group:
                        values[f.name] = _widget(st, f, defaults[f.name], n_styles)
        if not video:
            est = _estimate(values.get("size", 256), values.get("steps", 100), device)
            if est:
                st.caption(est)
    try:
        settings = Settings(**{k: v for k, v in values.items() if v is not _UNSET})
        vsettings = VideoSettings(**video_values) if video else None
        from brushwork.device import resolve_device

        resolve_device(settings.device)
    except brushwork.BrushworkError as e:
        st.error(str(e))
        return None, None
    return settings, vsettings


def _widget(st, f: dataclasses.Field, default, n_styles: int, cls: type | None = None):
    """One Streamlit widget for one field of Settings (or `cls`); returns its value (or
    _UNSET)."""
    meta, name = f.metadata, f.name
    label = name.replace("_", " ").capitalize()
    key = f"setting_{name}"
    if name == "style_blend":
        if n_styles < 2:
            return ()
        st.caption("Style blend (normalised)")
        return tuple(st.slider(f"Style {i + 1}", 0.0, 1.0, 1.0 / n_styles, 0.05, key=f"{key}_{i}")
                     for i in range(n_styles))
    if name == "style_layer_weights":
        return _UNSET
    if name in ("content_layers", "style_layers"):
        text = st.text_input(label, " ".join(default), help=meta["help"], key=key)
        return tuple(text.split())
    if "choices" in meta:
        choices = list(meta["choices"])
        return st.selectbox(label, choices, index=choices.index(default), help=meta["help"], key=key)
    from brushwork.settings import field_type

    base, _ = field_type(name, cls) if cls else field_type(name)
    lo, hi = meta.get("min"), meta.get("max")
    if base is int:
        return st.number_input(label, min_value=lo, max_value=hi, value=default, step=1,
                               help=meta["help"], key=key, placeholder="auto")
    return st.number_input(label, min_value=float(lo), max_value=float(hi),
                           value=None if default is None else float(default), format="%g",
                           step=meta.get("step"), help=meta["help"], key=key, placeholder="auto")


def _load_inputs(st, uploads, fallback) -> list["Input"]:
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


def _estimate(size, steps, device) -> str | None:
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


def _run(st, state, queue: RunQueue, model_for, settings, device, content, styles,
         masks=None) -> str | None:
    import brushwork
    from brushwork.tiles import Progress

    # Everything from taking a ticket on is inside the try: a Stop or a rerun can land at any
    # Streamlit call, and the finally gives the server back whatever it interrupted.
    ticket = queue.join()
    last = None
    try:
        wait_turn(st, queue, ticket)
        started = time.monotonic()
        run_id = f"run-{time.time_ns()}"
        layers = tuple(settings.content_layers) + tuple(settings.style_layers)
        model = model_for(settings.weights, settings.pooling, layers, str(device))
        progress = st.progress(0.0, text="Starting ...")
        preview, chart = st.empty(), st.empty()
        history: list[float] = []
        shown = 0.0
        run = brushwork.iter_stylize(content.im, [s.im for s in styles], settings, model=model,
                                     tile_progress=True,
                                     masks=[m.im for m in masks] if masks else None)
        for record in run:
            if isinstance(record, Progress):  # a large picture's step goes tile by tile
                done = last.step if last else 0
                progress.progress(done / settings.steps, text=f"Step {done + 1}/{settings.steps}: "
                                  f"tile {record.tile}/{record.tiles}, pass "
                                  f"{1 if record.phase == 'gram' else 2} of 2")
                continue
            last = record
            losses = last.losses
            history.append(losses["total"])
            text = (f"Step {last.step}/{last.total} · scale {last.scale}/{last.scales} "
                    f"{last.size[0]}x{last.size[1]} · " +
                    " · ".join(f"{k} {v:.3g}" for k, v in losses.items()))
            # Every step: cheap, and each Streamlit call is where a Stop click can land.
            state.keep_latest = functools.partial(_keep_step, state, last, settings, content,
                                                  styles, run_id, masks)
            progress.progress(last.step / last.total, text=text)
            now = time.monotonic()
            if now - shown > PREVIEW_SECONDS or last.step == last.total:
                shown = now
                picture = last.best_image()  # what the run would write if it ended now
                # Kept at every refresh: Streamlit starts a Stop click's rerun before this
                # run has unwound, and that rerun must already find the latest picture.
                _keep(state, picture, settings, content, styles, last.step, run_id, masks)
                preview.image(picture, caption=f"Step {last.step}", width=min(512, last.size[0]))
                chart.line_chart({"total loss": history}, height=160)
        note = f"Done in {time.monotonic() - started:.0f} s."
    except brushwork.DivergenceError as e:
        note = f"{e}. Kept the best picture (step {e.step})."
        _keep(state, e.image, settings, content, styles, e.step, run_id, masks)
        last = None
    except brushwork.BrushworkError as e:
        st.error(str(e))
        return None
    finally:
        queue.leave(ticket)
        # A Stop click interrupts the script at the next Streamlit call, which lands here:
        # the latest picture is kept either way.
        state.pop("keep_latest", None)
        if last is not None:
            _keep_step(state, last, settings, content, styles, run_id, masks)
    return note


def wait_turn(st, queue: RunQueue, ticket: object) -> None:
    """Wait for `ticket`'s turn, telling the user their place in line meanwhile."""
    status = st.empty()
    while not queue.take(ticket, timeout=0.5):
        n = queue.position(ticket)
        status.warning("Busy: another picture is being painted. " + (
            "You are next in line" if n == 1 else f"You are number {n} in line") +
            "; your run starts by itself.")
    status.empty()


def _keep_step(state, step, settings, content, styles, run_id: str, masks=None) -> None:
    _keep(state, step.best_image(), settings, content, styles, step.step, run_id, masks)


def _keep(state, image, settings, content, styles, step, run_id: str, masks=None) -> None:
    """Put the run's picture in this session's results, replacing its earlier one."""
    from brushwork.images import encode_image
    from brushwork.records import file_record, run_record

    record = run_record(settings, file_record(content.name, content.data),
                        [file_record(s.name, s.data) for s in styles], steps_done=step,
                        masks=[file_record(m.name, m.data) for m in masks] if masks else None)
    same = [i for i, r in enumerate(state.results) if r["id"] == run_id]
    n = same[0] + 1 if same else len(state.results) + 1
    entry = {
        "id": run_id, "png": encode_image(image, "PNG", record), "step": step,
        "caption": f"#{n}: {content.name} × {', '.join(s.name for s in styles)}, step {step}",
        "file_name": f"brushwork-{n}.png", "photo": content.im,
    }
    if same:
        state.results[same[0]] = entry
    else:
        state.results.append(entry)


# Region colours on the canvas: one per style (in order), and one for "keep the photo".
PALETTE = ("#e6194b", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#c0ca33", "#6d4c41")
KEEP_COLOUR = "#f5f5f5"
PAINT_ALPHA = 0.55  # see-through enough to show the photo under the paint
CANVAS_WIDTH = 640


def _regions(st, content: "Input", styles: list["Input"]) -> list["Input"] | None:
    """The region widgets: everywhere (None), painted on the photo, or uploaded masks; returns
    one mask per style (as Inputs, so their bytes can be hashed into the record)."""
    how = st.radio("Where the paintings go", ["Everywhere", "Paint regions", "Upload masks"],
                   horizontal=True, key="regions_mode")
    if how == "Everywhere":
        return None
    if how == "Upload masks":
        ups = st.file_uploader(f"{len(styles)} greyscale masks, one per painting in order, white "
                               "where it applies (any size)", accept_multiple_files=True,
                               type=["png", "jpg", "jpeg", "webp", "bmp"], key="mask_upload")
        masks = _load_inputs(st, ups or [], [])
    else:
        masks = _paint(st, content, styles)
    if not masks:
        if how == "Paint regions":
            st.caption("Nothing painted yet: the paintings go everywhere.")
        return None
    st.image(_overlay(content.im, [m.im for m in masks]), width=CANVAS_WIDTH,
             caption="The regions over the photo (uncoloured: kept as the photo)")
    if how == "Paint regions":
        missing = [f"{i + 1}: {s.name}" for i, (s, m) in enumerate(zip(styles, masks))
                   if max(m.im.getextrema()) == 0]
        if missing:
            st.info(f"No region painted yet for {', '.join(missing)}: it is left out of the run.")
        return masks  # the run leaves out the paintings without a region
    try:
        from brushwork.regions import check_masks

        check_masks([m.im for m in masks], [f"style mask {i + 1}" for i in range(len(masks))],
                    len(styles))
    except Exception as e:  # a BrushworkError: said in the page, the run disabled
        st.error(str(e))
        return None
    return masks


def _paint(st, content: "Input", styles: list["Input"]) -> list["Input"] | None:
    try:
        from streamlit_drawable_canvas import st_canvas
    except ModuleNotFoundError:
        st.warning("Painting regions needs streamlit-drawable-canvas: "
                   "pip install 'brushwork[app]'. Upload masks instead.")
        return None
    names = [f"{i + 1}: {s.name}" for i, s in enumerate(styles)] + ["keep the photo (erases)"]
    colours = list(PALETTE[: len(styles)]) + [KEEP_COLOUR]
    a, b, c = st.columns([3, 2, 1])
    # Radios, not drop-downs: a painter switches colour and tool often, one click each.
    pick = a.radio("Paint with", names, key="region_brush", horizontal=True)
    tool = b.radio("Tool", ["brush", "rectangle", "polygon"], key="region_tool", horizontal=True)
    width = c.number_input("Brush px", 2, 200, 40, key="region_width")
    colour = colours[names.index(pick)]
    w = min(CANVAS_WIDTH, content.im.width)
    h = round(w * content.im.height / content.im.width)
    result = st_canvas(
        fill_color=_rgba(colour), stroke_color=_rgba(colour), stroke_width=int(width),
        background_image=content.im, height=h, width=w, return_image_data=True,
        drawing_mode={"brush": "freedraw", "rectangle": "rect", "polygon": "polygon"}[tool],
        key=f"regions_canvas_{hashlib.sha256(content.data).hexdigest()[:12]}")
    # After the canvas, so that when this line shows, the canvas has its new colour and tool.
    st.caption(f"Now painting: {pick}, with the {tool}. Draw on the photo: each colour is a "
               "painting's region; undo, redo and clear are above the canvas. Unpainted parts are "
               "kept as the photo.")
    data = result.image_data if result is not None else None
    if data is None or not data[..., 3].any():
        return None
    return _masks_from_paint(data, colours[:-1], content.im.size)


def _rgba(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {PAINT_ALPHA})"


def _masks_from_paint(rgba, colours: list[str], size: tuple[int, int]) -> list["Input"]:
    """One mask per style from the canvas's RGBA pixels: each painted pixel goes to the nearest
    colour (the keep colour last); see-through paint over other paint still reads as the top
    colour, which contributes most."""
    import io

    import numpy as np

    palette = np.array([[int(c[i: i + 2], 16) for i in (1, 3, 5)] for c in
                        [*colours, KEEP_COLOUR]], dtype=np.float32)
    rgb = np.asarray(rgba[..., :3], dtype=np.float32)
    painted = np.asarray(rgba[..., 3]) > 64
    nearest = ((rgb[..., None, :] - palette) ** 2).sum(-1).argmin(-1)
    out = []
    for i in range(len(colours)):
        mask = Image.fromarray(((nearest == i) & painted).astype(np.uint8) * 255, "L")
        mask = mask.resize(size, Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        mask.save(buf, "PNG")
        out.append(Input(f"painted region {i + 1}.png", mask, buf.getvalue()))
    return out


def _overlay(photo: Image.Image, masks: list[Image.Image]) -> Image.Image:
    """The regions in their colours over the photo."""
    out = photo.convert("RGB")
    for colour, mask in zip(PALETTE, masks):
        layer = Image.new("RGB", out.size, colour)
        alpha = mask.convert("L").resize(out.size).point(lambda v: int(v * PAINT_ALPHA))
        out = Image.composite(layer, out, alpha)
    return out


def _compare(st, latest: dict) -> None:
    """Before and after: the photo left of the slider, the picture right of it. Drawn here
    rather than with a comparison component: the one on PyPI (streamlit-image-comparison)
    loads its script from a CDN, which an offline server cannot reach."""
    import io

    after = Image.open(io.BytesIO(latest["png"])).convert("RGB")
    at = st.slider("Compare with the photo: drag to uncover it", 0, 100, 0, key="compare_at")
    if at:
        before = latest["photo"].convert("RGB").resize(after.size)
        x = round(after.width * at / 100)
        shown = after.copy()
        shown.paste(before.crop((0, 0, x, after.height)), (0, 0))
        st.image(shown, caption=f"Photo left of {at}%, picture right")


if __name__ == "__main__":
    main()
