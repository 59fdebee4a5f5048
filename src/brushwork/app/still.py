"""The app's picture page: a photo and paintings in, the picture previewed as it forms, Stop
keeps the latest, every picture of the session downloadable with its record."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from PIL import Image

from brushwork import examples

from . import canvas, guard
from .preview import PREVIEW_SHOWN_PX, show_preview
from .queue import RunQueue, turn
from .widgets import (caption, download_name, in_words, left_words, load_inputs, page_columns,
                      pending_run, request_run, settings_sidebar, start_stop, style_inputs,
                      upload_caption)

SNAPSHOTS, SNAPSHOT_PX = 5, 72  # the strip of pictures along the way
PREVIEW_SECONDS = 1.0  # refresh the live preview at most this often (browser and server share the CPU)


def page(st, state, queue: RunQueue, model_for, device, defaults: dict, runner=None) -> None:
    """The picture page, in phases: check (the inputs and settings, every reason Start waits
    said), then Start and the run, then the result and the session's other pictures. With a
    `runner` (brushwork app --backend ray) the picture is painted by the cluster's workers."""
    request = pending_run(state, "run_request", "stop_button",
                          lambda: _stop(st, state, runner, "The run was interrupted"))
    locked = request is not None
    photo_col, style_col, side = page_columns(st)
    c = _check_phase(st, state, photo_col, style_col, device, defaults, locked)
    # Made before a run starts (a run holds the script until it ends), so that the session's
    # earlier pictures stay on the page while the next one paints.
    with st.container():
        _gallery(st, state, include_latest=locked)
    with side:
        _run_phase(st, state, queue, model_for, runner, request, c)
        kept = state.pop("note", None)
        if kept:
            getattr(st, kept[0])(kept[1])
        previewing = not locked and not c.problems
        if previewing and not state.results:
            # The first screen: the preview of the settings as they are now beside an example
            # of what Start's full picture looks like.
            now, example = st.columns(2)
            with now:
                show_preview(st, state, queue, model_for, c.settings, c.device, c.content,
                             c.styles, c.masks)
            with example:
                _result(st, state, example_width=PREVIEW_SHOWN_PX)
        else:
            # The result first (in view as a run ends), the preview under it.
            _result(st, state)
            if state.results or locked:
                # Before the preview, which takes a second: a reload or a closed tab would
                # lose the session's pictures, so the browser asks first.
                guard.warn_before_leaving(st)
            if previewing:
                show_preview(st, state, queue, model_for, c.settings, c.device, c.content,
                             c.styles, c.masks)


@dataclass(frozen=True)
class Checked:
    """What the check phase found: the run's inputs and settings, or why Start waits."""

    content: object  # widgets.Input, or None when refused
    styles: list | None
    masks: list | None
    settings: object  # Settings, or None when a widget's value is unusable
    device: object
    problems: list[str]


def _check_phase(st, state, photo_col, style_col, device, defaults: dict,
                 locked: bool) -> Checked:
    """The inputs, the regions, the settings, and the library's own checks of the run."""
    from brushwork.device import resolve_device

    with photo_col:
        st.subheader("Photo")
        upload = st.file_uploader("Upload a photo", key="content_upload", disabled=locked,
                                  help=upload_caption("Photos"))
        content = load_inputs(st, [upload] if upload else [],
                              [("Tübingen (example)", examples.CONTENT)])
    styles = style_inputs(st, style_col, locked)
    problems: list[str] = []
    if content is None:
        problems.append("the photo was refused (see Photo)")
    if styles is None:
        problems.append("a painting was refused (see Painting)")
    elif not styles:
        problems.append("pick or upload a painting")
    masks = None
    if content and styles:
        # Drawn while locked too: a canvas taken off the page mid-run sends a last value, and
        # that rerun would end the run. Under both columns: the canvas needs the page's width.
        with st.expander("Regions: a different painting in each part, parts kept as the photo",
                         expanded=state.get("regions_mode", "Everywhere") != "Everywhere"):
            masks, problem = canvas.regions(st, content[0], styles)
        if problem:
            problems.append(problem)
    panel = settings_sidebar(st, device, defaults, [s.name for s in styles or []], locked=locked)
    settings = panel.settings
    problems += panel.problems
    if settings is not None:
        device = resolve_device(settings.device)  # the Device widget's choice, checked
    run_styles, run_masks, settings = _used(styles, masks, settings)
    if content:
        _photo_note(photo_col, content[0], settings)
        if settings is not None and run_styles and not problems:
            problems += _check(content[0], run_styles, run_masks, settings)
    return Checked(content[0] if content else None, run_styles, run_masks, settings, device,
                   problems)


def _run_phase(st, state, queue: RunQueue, model_for, runner, request, c: Checked) -> None:
    """Start and Stop, the plan line; a click on Start locks the page and asks for the run,
    which the next draw paints (its settings are those of the click, whatever follows)."""
    locked = request is not None
    start, stopped = start_stop(st, locked, c.problems, "Start painting", "start_button",
                                "stop_button")
    if locked:  # what is painting (the widgets show the same, locked)
        st.caption(_plan_words(request["settings"], request["device"],
                               request["content"].im.size))
    elif c.problems:
        st.error("Start waits: " + "; ".join(dict.fromkeys(c.problems)))
    else:  # no problem: the settings and the photo are there
        st.caption(_plan_words(c.settings, c.device, c.content.im.size))
    if stopped:
        _stop(st, state, runner, "Stopped")
        st.rerun()  # unlock the page
    elif start and c.settings is not None:
        request_run(state, "run_request", {
            "settings": c.settings, "device": c.device, "content": c.content,
            "styles": c.styles, "masks": c.masks, "started": False})
        st.rerun()
    elif locked:
        request["started"] = True
        if runner is None:
            note = run(st, state, queue, model_for, request["settings"], request["device"],
                       request["content"], request["styles"], request["masks"])
        else:
            note = run_on_cluster(st, state, runner, request["settings"], request["content"],
                                  request["styles"], request["masks"])
        state.pop("run_request", None)
        state.pop("current_run", None)
        if note:  # (an error has put its own note)
            state["note"] = ("success", note)
        state["show_result"] = True  # bring the new picture into view, once
        st.rerun()  # unlock the page


def _used(styles, masks, settings):
    """The paintings, masks and settings the run takes: paintings given no region (painted
    mode) sit the run out, with their blend weights."""
    if not masks or not styles:
        return styles, masks, settings
    used = [i for i, m in enumerate(masks) if max(m.im.getextrema()) > 0]
    if settings is not None and settings.style_blend:
        settings = settings.replace(style_blend=tuple(settings.style_blend[i] for i in used))
    return [styles[i] for i in used], [masks[i] for i in used], settings


def _check(content, styles, masks, settings) -> list[str]:
    """The library's own checks of a run before Start is offered (a photo too elongated for
    the size, masks that do not fit, a picture too large for memory, ...), in the page's words."""
    import brushwork

    try:
        brushwork.check_inputs(content.im, [s.im for s in styles], settings,
                               masks=[m.im for m in masks] if masks else None)
    except brushwork.BrushworkError as e:
        return [in_words(str(e))]
    return []


def _photo_note(column, content, settings) -> None:
    """The photo, with a word when it is smaller than the size asked (it will be enlarged)."""
    size = settings.size if settings is not None else None
    note = ""
    if size and max(content.im.size) < size:
        note = (f" · {content.im.width}x{content.im.height} px, enlarged to {size} px: expect a "
                "soft picture (a larger photo, or a smaller size, keeps it sharp)")
    column.image(content.im, caption=content.name + note, width=220, alt=f"photo: {content.name}")


def _plan_words(settings, device, shape: tuple[int, int]) -> str:
    """What Start will do, in a line: the size, the steps and about how long."""
    from .widgets import estimate

    est = estimate(settings.size, settings.steps, device, shape)
    what = f"{settings.steps} steps" if settings.steps else "the instant picture"
    return (f"{settings.size} px, {what} (Settings, on the left; » at the top left on a "
            "phone). " + (est or ""))


def _stop(st, state, runner, what: str) -> None:
    """The run in progress ends here: its latest picture kept, the page unlocked, and what was
    kept said (nothing, when it was still waiting in line)."""
    state.pop("run_request", None)
    # Streamlit starts this rerun while the interrupted run is still unwinding: keep its latest
    # step from here (the run also keeps it on its way out; same entry either way).
    if "keep_latest" in state:
        state.pop("keep_latest")()
    if runner is not None and "cluster_job" in state:
        _stop_on_cluster(st, state, runner)
    run_id = state.pop("current_run", None)
    kept = next((r for r in state.results if run_id is not None and r["id"] == run_id), None)
    state["note"] = ("info", f"{what}. Kept the picture at step {kept['step']}." if kept else
                     f"{what} before its first step: nothing was painted.")


def _result(st, state, example_width: int = 384) -> None:
    """The latest picture at its own pixels with a before/after swipe and its download; an
    example of what the defaults make before the first."""
    if "run_request" in state:
        return  # the run's preview is here; the previous picture is under "Earlier pictures"
    if not state.results:
        if examples.EXAMPLE_RESULT.exists():
            st.caption("Example")
            st.image(str(examples.EXAMPLE_RESULT), caption=examples.EXAMPLE_CAPTION,
                     width=example_width, alt=examples.EXAMPLE_CAPTION)
        return
    latest = state.results[-1]
    if latest.get("photo") is not None:  # the picture at its own pixels, with a swipe
        _compare(st, latest, scroll=state.pop("show_result", False))
    else:
        st.image(latest["png"], caption=latest["caption"], alt=latest["caption"])
    st.download_button("Download PNG (settings embedded)", latest["png"],
                       file_name=latest["file_name"], mime="image/png", key="download_latest",
                       on_click="ignore")  # a download must not rerun (and end) a run


def _gallery(st, state, include_latest: bool) -> None:
    """The session's other pictures, newest first, each downloadable (the latest too while the
    next one paints)."""
    shown = state.results if include_latest else state.results[:-1]
    if not shown:
        return
    st.subheader("Earlier pictures")
    cols = st.columns(4)
    for i, r in enumerate(reversed(shown)):
        with cols[i % 4]:
            st.image(r["png"], caption=r["caption"], alt=r["caption"])
            st.download_button("Download", r["png"], file_name=r["file_name"],
                               mime="image/png", key=f"download_{r['id']}", on_click="ignore")


def run(st, state, queue: RunQueue, model_for, settings, device, content, styles,
        masks=None) -> str | None:
    """One picture: its turn in line, then the loop, previewed; the picture is kept in the
    session's results at every preview and when the run ends or is stopped. Returns the note
    to show, or None after an error shown in the page."""
    import brushwork

    run_id = f"run-{time.time_ns()}"
    state["current_run"] = run_id  # what a Stop keeps (nothing while in line)
    keep = functools.partial(_keep, state, settings, content, styles, run_id, masks)
    last = None
    try:
        with turn(st, queue, model_for, settings, device) as model:
            started = time.monotonic()
            steps = brushwork.iter_stylize(content.im, [s.im for s in styles], settings,
                                           model=model, tile_progress=True,
                                           masks=[m.im for m in masks] if masks else None)
            for last in _show(st, state, steps, settings, keep):
                pass
        return f"Done in {time.monotonic() - started:.0f} s."
    except brushwork.DivergenceError as e:
        keep(e.image, e.step)
        last = None
        return f"{e}. Kept the best picture (step {e.step})."
    except brushwork.BrushworkError as e:
        state["note"] = ("error", str(e))  # shown once the page is unlocked
        return None
    finally:
        # A Stop click interrupts the script at the next Streamlit call, which lands here:
        # the latest picture is kept either way.
        state.pop("keep_latest", None)
        if last is not None:
            keep(last.best_image(), last.step)


def _work(last, settings) -> list[float]:
    """Each step's cost, in the run's order: its pixels times its eye's cost (a full-size step
    costs as many times a coarse one as it has pixels; the coarse scales come first). Any size
    of the picture's shape gives its plan."""
    from brushwork import plan_scales
    from brushwork.eyes import COST

    return [sc.size[0] * sc.size[1] * COST[sc.eye] for sc in plan_scales(*last.size, settings)
            for _ in range(sc.steps)]


def _time_left(work: list[float], step: int, started: float) -> float | None:
    """About how many seconds the run has left, from the time per pixel-step so far."""
    done = sum(work[:step])
    return (time.monotonic() - started) * (sum(work) - done) / done if done else None


def _show(st, state, steps, settings, keep):
    """The loop's steps, shown: progress with the time left, a preview at most every
    PREVIEW_SECONDS, a strip of snapshots along the way (pictures, not numbers, say how it
    forms), and the loss (on a log scale) under a details fold."""
    from brushwork.tiles import Progress

    progress = st.progress(0.0, text="Starting ...")
    preview, strip = st.empty(), st.empty()
    snapshots: list[tuple[int, object]] = []
    with st.expander("Details: the loss as it falls"):
        chart = st.empty()
    history: list[dict] = []
    work: list[float] = []
    shown, last, started = 0.0, None, time.monotonic()
    for record in steps:
        if isinstance(record, Progress):  # a large picture's step goes tile by tile
            done = last.step if last else 0
            progress.progress(done / settings.steps, text=f"Step {done + 1}/{settings.steps}: "
                              f"tile {record.tile}/{record.tiles}, pass "
                              f"{1 if record.phase == 'gram' else 2} of 2")
            continue
        last = record
        # Handed to the caller first: a Stop lands at one of the Streamlit calls below, and
        # the caller must already hold this step to keep its picture.
        yield last
        history.append({"step": last.step, "loss": last.losses["total"]})
        work = work or _work(last, settings)  # once a run
        text = f"Step {last.step}/{last.total} · " + left_words(_time_left(work, last.step,
                                                                           started))
        # Every step: cheap, and each Streamlit call is where a Stop click can land.
        state.keep_latest = functools.partial(lambda s: keep(s.best_image(), s.step), last)
        progress.progress(last.step / last.total, text=text)
        now = time.monotonic()
        if now - shown > PREVIEW_SECONDS or last.step == last.total:
            shown = now
            picture = last.best_image()  # what the run would write if it ended now
            # Kept at every refresh: Streamlit starts a Stop click's rerun before this run
            # has unwound, and that rerun must already find the latest picture.
            keep(picture, last.step)
            preview.image(picture, caption=f"Step {last.step} of {last.total}",
                          width=last.size[0], alt=f"the picture at step {last.step}")
            if last.step >= (len(snapshots) + 1) * last.total / (SNAPSHOTS + 1):
                snapshots.append((last.step, picture))
                with strip.container(horizontal=True, gap="small"):
                    for step, snap in snapshots:
                        st.image(snap, caption=f"step {step}", width=SNAPSHOT_PX,
                                 alt=f"the picture at step {step}")
            chart.vega_lite_chart({
                "data": {"values": history}, "mark": "line", "height": 160,
                "encoding": {
                    "x": {"field": "step", "type": "quantitative", "title": "step"},
                    "y": {"field": "loss", "type": "quantitative", "title": "loss (log scale)",
                          "scale": {"type": "log"}}}}, width="stretch")


def run_on_cluster(st, state, runner, settings, content, styles, masks=None) -> str | None:
    """One picture as a job of the cluster's queue: the place in line and the estimated start
    while it waits, then its steps and previews; the result kept with its record."""
    from brushwork.app import cluster

    job = cluster.submit(runner, _session(st), settings, content, styles, masks)
    state["cluster_job"] = state["current_run"] = job
    status, progress, preview = st.empty(), st.empty(), st.empty()
    shown_preview, painting = 0.0, None
    began = time.monotonic()
    for s in cluster.follow(runner, job):
        if s["state"] == "queued":
            wait = max(0, s["estimated_start"] - time.time())
            status.warning(f"Busy: the workers are painting others' pictures. You are number "
                           f"{s['position']} in line; yours starts in about {wait:.0f} s, by itself.")
        elif s["state"] == "running":
            status.empty()
            if painting is None:
                painting = (time.monotonic(), s["step"])  # its start, as this page saw it
            spent, since = time.monotonic() - painting[0], s["step"] - painting[1]
            left = spent / since * (s["total"] - s["step"]) if since > 0 else None
            progress.progress(s["step"] / s["total"],
                              text=f"Step {s['step']}/{s['total']} · " + left_words(left))
            if s.get("preview") and time.monotonic() - shown_preview > PREVIEW_SECONDS:
                shown_preview = time.monotonic()
                data = runner.store.read(job, "preview.png")
                if data:
                    preview.image(data, caption=f"Step {s['step']} of {s['total']}",
                                  width=settings.size, alt=f"the picture at step {s['step']}")
    state.pop("cluster_job", None)
    return _cluster_result(st, state, runner, job, content, styles, began)


def _cluster_result(st, state, runner, job: str, content, styles, began: float) -> str | None:
    row = runner.store.get(job)
    data = runner.store.read(job, "result.png")
    if row is None or data is None:
        state["note"] = ("error", (row.error if row is not None else None)
                         or "The job ended without a picture.")
        return None
    step = row.step
    n = len(state.results) + 1
    state.results.append({
        "id": job, "png": data, "step": step, "photo": content.im,
        "file_name": download_name(content.name, [s.name for s in styles]),
        "caption": f"#{n}: {content.name} × {', '.join(s.name for s in styles)}, step {step}"})
    return (f"Done in {time.monotonic() - began:.0f} s." if row.state == "done"
            else f"Stopped. Kept the picture at step {step}.")


def _stop_on_cluster(st, state, runner) -> None:
    """Stop: the job stops at its next step on its worker; its best picture is kept."""
    from brushwork.app import cluster

    job = state.pop("cluster_job")
    runner.cancel(job)
    for s in cluster.follow(runner, job):  # a step's time at most
        pass
    row = runner.store.get(job)
    if row is not None and runner.store.read(job, "result.png") and not any(
            r["id"] == job for r in state.results):
        data = runner.store.read(job, "result.png")
        n = len(state.results) + 1
        state.results.append({"id": job, "png": data, "step": row.step, "photo": None,
                              "file_name": f"brushwork-{n}.png",
                              "caption": f"#{n}: stopped at step {row.step}"})


def _session(st) -> str:
    """This browser session, as the queue's client."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "session"


def _keep(state, settings, content, styles, run_id: str, masks, image, step) -> None:
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
        "caption": caption(n, content.name, [s.name for s in styles], settings, step),
        "file_name": download_name(content.name, [s.name for s in styles]), "photo": content.im,
    }
    if same:
        state.results[same[0]] = entry
    else:
        state.results.append(entry)


def _compare(st, latest: dict, scroll: bool = False) -> None:
    """The result with a before/after swipe, in the browser (brushwork.app.swipe); `scroll`
    brings it into view (once, when a run has just ended)."""
    import io

    from . import swipe

    picture = Image.open(io.BytesIO(latest["png"])).convert("RGB")
    st.iframe(swipe.page(picture, latest["photo"], latest["caption"], scroll=scroll),
              height=swipe.height(picture))
