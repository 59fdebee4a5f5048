"""The web app's video mode: a short clip painted without flicker (brushwork.video).

It reads the same `iter_stylize_video` iterator as the CLI: each finished frame shows as it
comes, with the progress and the time left; Stop keeps the frames done so far, and the MP4
(the clip's frame rate and sound kept) is offered for download. A server's CPU paints slowly
(about 2.5 s a frame at 256 px after a first frame of about 40 s), so on a CPU the app takes the
first VIDEO_CPU_FRAMES frames at up to VIDEO_CPU_SIZE px, and says so; the CLI has no limit.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

from . import UPLOAD_CAP_MB
from .queue import RunQueue, turn
from .widgets import (download_name, duration, in_words, left_words, page_columns, pending_run,
                      request_run, settings_sidebar, start_stop, style_inputs)

VIDEO_CPU_FRAMES, VIDEO_CPU_SIZE = 48, 256  # about 3 minutes on a 2-core CPU
VIDEO_GPU_FRAMES = 600
VIDEO_MAX_MB = UPLOAD_CAP_MB  # a clip is read from a file, frame by frame
# A later frame's seconds at 256x192 on a 2-core CPU, measured with the 0.6 defaults (`brushwork
# video demo --size 256 --steps 100 --frames 0:12`: 2.3-2.7 s): about 6 steps before the frame
# tolerance stops it, and the optical flow.
FRAME_SECONDS, FRAME_STEPS_TAKEN = 2.5, 6
STRIP = 6  # finished frames shown under the latest one
VIDEO_MIN_PX = 240  # the player's controls need this much


def page(st, state, queue: RunQueue, model_for, device, defaults: dict) -> None:
    """The video page, laid out as the picture page, in the same phases: check, Start and the
    run, the result. While a clip paints, everything that would end the run if changed is
    locked, and a run ended by anything but Stop says so."""
    limit = VIDEO_CPU_FRAMES if device.type == "cpu" else VIDEO_GPU_FRAMES
    request = pending_run(state, "video_request", "video_stop",
                          lambda: _stop(state, "The video was interrupted"))
    locked = request is not None
    left, right, side = page_columns(st)
    source, styles, settings, vsettings, problems = _check_phase(
        st, state, left, right, side, device, defaults, limit, locked)
    with side:
        start, stopped = start_stop(st, locked, problems, "Start painting the video",
                                    "video_start", "video_stop")
        if problems and not locked:
            st.error("Start waits: " + "; ".join(problems))
        elif settings is not None and not locked:
            st.caption(_clip_words(source, settings, vsettings, limit, device))
        if stopped:
            _stop(state, "Stopped")
            st.rerun()  # unlock the page
        elif start and not problems:
            # Drawn again locked, then painted: the run's settings are these.
            request_run(state, "video_request", {"settings": settings, "video": vsettings,
                                                 "source": source, "styles": styles,
                                                 "started": False})
            st.rerun()
        elif locked:
            request["started"] = True
            note = _run(st, state, queue, model_for, request["settings"], request["video"],
                        request["source"], request["styles"], limit, device)
            state.pop("video_request", None)
            if note:
                state["video_note"] = ("success", note)
            st.rerun()  # unlock the page
        _result_phase(st, state)


def _check_phase(st, state, left, right, side, device, defaults: dict, limit: int,
                 locked: bool):
    """The clip, the paintings and the settings: (source, styles, settings, video settings,
    the reasons Start waits)."""
    cpu = device.type == "cpu"
    with left:
        st.subheader("Video")
        # Any file is taken: one that is not a clip is refused in the page, in words (the
        # uploader's own refusal is a hover tooltip, and the demo clip would be painted).
        upload = st.file_uploader("Upload a short video", key="video_upload", disabled=locked,
                                  help=f"MP4, MOV, M4V, MKV, WebM or AVI, up to {VIDEO_MAX_MB} MB")
        st.caption(f"The app paints the first {limit} frames" + (
            f" at up to {VIDEO_CPU_SIZE} px on this CPU" if cpu else "") + "; `brushwork video` "
            "on the command line has no limit. Without an upload: a pan across the Tübingen photo.")
    source = _video_source(st, upload, state)
    if source is not None:
        if upload is not None:
            left.video(upload.getvalue())
        else:
            left.image(source["frames"][0], caption="Demo clip: a pan across Tübingen", width=220,
                       alt="the first frame of the demo clip")
    styles = style_inputs(st, right, locked)
    panel = settings_sidebar(st, device, defaults, [s.name for s in styles or []], video=True,
                             locked=locked)
    settings, vsettings = panel.settings, panel.video
    problems = list(panel.problems)
    if source is None:
        problems.append("the clip was refused (see Video)")
    if not styles:
        problems.append("pick or upload a painting" if styles is not None else
                        "a painting was refused (see Painting)")
    if settings is not None and cpu and settings.size > VIDEO_CPU_SIZE:
        side.info(f"Frames are painted at {VIDEO_CPU_SIZE} px on this CPU (the size asked for is "
                  f"{settings.size}); the command line paints any size.")
        settings = settings.replace(size=VIDEO_CPU_SIZE)
    if settings is not None and settings.steps == 0:
        problems.append("the instant preset paints stills only (choose another Preset)")
    return source, styles, settings, vsettings, problems


def _result_phase(st, state) -> None:
    """What the last Stop or run said, and the finished clip with its download."""
    kept = state.pop("video_note", None)
    if kept:
        getattr(st, kept[0])(kept[1])
    result = state.get("video_result")
    if result:
        # At its own width (a small clip is not stretched across the page), but wide enough
        # for the player's controls.
        st.video(result["mp4"], width=max(VIDEO_MIN_PX, result.get("width", 320)), loop=True,
                 alt=f"the painted clip, {result['frames']} frames")
        st.download_button("Download MP4", result["mp4"], file_name=result["file_name"],
                           mime="video/mp4", key="download_video")


def _stop(state, what: str) -> None:
    """The clip in progress ends here: its frames so far become the MP4, and what was kept is
    said (nothing, before the first frame)."""
    state.pop("video_request", None)
    run = state.get("video_run")
    if run and not run.get("finished") and run["frames"]:
        _finish(state, run)
        state["video_note"] = ("info", f"{what}. Kept the {len(run['frames'])} frames painted "
                               "so far.")
    else:
        state["video_note"] = ("info", f"{what} before the first frame: nothing was painted.")


def _clip_words(source: dict, settings, vsettings, limit: int, device) -> str:
    """The clip (its size, frames and length) and what Start will do, with about how long on a
    CPU: the first frame is a still run, each later one about FRAME_SECONDS at 256x192 (less
    where the frame tolerance stops it early), scaling with the area."""
    from brushwork.images import fit_size

    from .widgets import APP_COST, cpu_seconds

    info = source["info"]
    if info is not None:
        (w, h), frames, rate = info.size, info.frames, float(info.rate)
    else:
        (w, h), frames, rate = source["frames"][0].size, len(source["frames"]), float(source["rate"])
    clip = f"{source['name']}: {w}x{h}" + (
        f", {frames} frames at {rate:g} fps ({frames / rate:.1f} s)" if frames else "")
    n = min(limit, frames) if frames else limit
    pw, ph = fit_size(w, h, settings.size)
    words = f"{clip}. Paints {n} frames at {pw}x{ph}"
    if device.type != "cpu":
        return words + "."
    secs = cpu_seconds((w, h), settings.size, settings.steps) + (n - 1) * FRAME_SECONDS * (
        pw * ph) / (256 * 192) * min(1.0, vsettings.frame_steps / FRAME_STEPS_TAKEN) * APP_COST
    return words + f": about {duration(secs)} on this CPU."


def _video_source(st, upload, state) -> dict | None:
    """The clip to paint: an upload (kept in a temporary file, which PyAV reads), or the demo."""
    import brushwork
    from brushwork import examples, videoio
    from brushwork.records import file_record

    if upload is None:
        return {"record": examples.demo_record(), "name": examples.DEMO_NAME,
                "frames": examples.pan_clip(examples.DEMO_FRAMES, (320, 240)),
                "rate": examples.DEMO_FPS, "info": None}
    data = upload.getvalue()
    if len(data) > VIDEO_MAX_MB * 2**20:
        st.error(f"{upload.name}: is over {VIDEO_MAX_MB} MB; upload a shorter clip")
        return None
    key = (upload.name, len(data))
    kept = state.get("video_file")
    if not kept or kept[0] != key:
        if kept:  # the clip it replaces is no longer needed
            kept[2].cleanup()
        # A TemporaryDirectory removes itself when the session's state is dropped (the visitor
        # left) or the server stops, so uploads live only as long as the session needs them.
        folder = tempfile.TemporaryDirectory(prefix="brushwork-video-")
        path = Path(folder.name) / Path(upload.name).name
        path.write_bytes(data)
        state["video_file"] = kept = (key, path, folder)
    try:
        info = videoio.probe(kept[1])
    except brushwork.InputError as e:
        st.error(upload_words(e, upload.name, kept[1]))
        return None
    return {"record": file_record(upload.name, data), "name": upload.name, "frames": None,
            "rate": info.rate, "info": info}


def upload_words(e, name: str, path: Path) -> str:
    """A clip's error as its uploader sees it: its own name (not the server's temporary path),
    no decoder detail, and a fix a web user can do (not a folder of frames on the server)."""
    import re

    problem = re.sub(r" \(.*\)$", "", e.problem.replace(str(path), name))
    fix = e.fix.replace(", or a folder of frames", "").replace("give ", "upload ")
    return in_words(f"{name}: {problem}; {fix}")


def _run(st, state, queue, model_for, settings, vsettings, source, styles, limit,
         device) -> str | None:
    """The clip: its turn in line, then frame after frame, each shown as it comes."""
    import brushwork
    from brushwork.records import file_record, run_record

    try:
        with turn(st, queue, model_for, settings, device) as model:
            video = source["info"] if source["info"] is not None else source["frames"]
            record = {**run_record(settings, source["record"],
                                   [file_record(s.name, s.data) for s in styles]),
                      "video": vsettings.to_dict(), "fps": str(source["rate"])}
            run = {"frames": [], "rate": source["rate"], "info": source["info"],
                   "record": record, "name": Path(source["name"]).stem, "finished": False,
                   "styles": [s.name for s in styles]}
            state["video_run"] = run
            state.pop("video_result", None)
            frames = brushwork.iter_stylize_video(video, [s.im for s in styles], settings,
                                                  vsettings, end=limit, model=model)
            total = min(limit, source["info"].frames or limit) if source["info"] else len(
                source["frames"][:limit])
            started = time.monotonic()
            _show(st, run, frames, total)
        _finish(state, run)
        return f"Done: {len(run['frames'])} frames in {time.monotonic() - started:.0f} s."
    except brushwork.BrushworkError as e:
        state["video_note"] = ("error", in_words(str(e)))  # shown once the page is unlocked
        return None


def _show(st, run: dict, frames, total: int) -> None:
    """Each finished frame as it comes: progress with the time left, the latest, a strip."""
    progress = st.progress(0.0, text="Painting the first frame (a still run) ...")
    latest, strip = st.empty(), st.empty()
    started = time.monotonic()
    for frame in frames:
        buf = io.BytesIO()
        frame.image().save(buf, "PNG")
        run["frames"].append(buf.getvalue())
        done = len(run["frames"])
        spent = time.monotonic() - started
        if done == 1:
            first = frame.seconds
        # Later frames cost a fraction of the first (a still run): time left from them.
        left = (spent - first) / (done - 1) * (total - done) if done > 1 else None
        how = "first frame" if frame.fresh else f"{frame.step.step} steps"
        progress.progress(done / total, text=f"Frame {done}/{total} · {how} · "
                          f"{frame.seconds:.1f} s" + (f" · {left_words(left)}" if done > 1
                                                       and done < total else ""))
        latest.image(frame.image(), caption=f"Frame {done}", width=frame.image().width,
                     alt=f"frame {done}, painted")
        with strip.container():
            cols = st.columns(STRIP)
            first = max(0, done - STRIP)
            for i, (col, png) in enumerate(zip(cols, run["frames"][-STRIP:])):
                col.image(png, alt=f"frame {first + i + 1}, painted")


def _finish(state, run: dict) -> None:
    """The MP4 of the frames painted so far, as this session's video result."""
    from brushwork import images, videoio

    pictures = [images.load_image(png) for png in run["frames"]]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        info = run["info"]
        times = None if info is None or info.times is None else info.times[:len(pictures)]
        videoio.write_mp4(pictures, out, run["rate"], audio=info, record=run["record"], times=times)
        data = out.read_bytes()
    run["finished"] = True
    state["video_result"] = {"mp4": data, "file_name": download_name(
                                 run["name"], run.get("styles", []), ".mp4"),
                             "frames": len(pictures), "width": pictures[0].width}
