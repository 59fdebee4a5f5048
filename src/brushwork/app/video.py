"""The web app's video mode: a short clip painted without flicker (brushwork.video).

It reads the same `iter_stylize_video` iterator as the CLI: each finished frame shows as it
comes, with the progress and the time left; Stop keeps the frames done so far, and the MP4
(the clip's frame rate and sound kept) is offered for download. A server's CPU paints slowly
(about 5 s a frame at 256 px after a first frame of a minute), so on a CPU the app takes the
first VIDEO_CPU_FRAMES frames at up to VIDEO_CPU_SIZE px, and says so; the CLI has no limit.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

from . import MAX_UPLOAD_MB
from .queue import RunQueue, turn
from .widgets import download_name, settings_sidebar, style_inputs

VIDEO_TYPES = ["mp4", "mov", "m4v", "mkv", "webm", "avi"]
VIDEO_CPU_FRAMES, VIDEO_CPU_SIZE = 48, 256  # about 6 minutes on a 2-core CPU
VIDEO_GPU_FRAMES = 600
STRIP = 6  # finished frames shown under the latest one


def page(st, state, queue: RunQueue, model_for, device, defaults: dict) -> None:
    cpu = device.type == "cpu"
    limit = VIDEO_CPU_FRAMES if cpu else VIDEO_GPU_FRAMES
    left, right = st.columns(2)
    with left:
        st.subheader("Video")
        upload = st.file_uploader("Upload a short video", type=VIDEO_TYPES, key="video_upload")
        st.caption(f"The app paints the first {limit} frames" + (
            f" at up to {VIDEO_CPU_SIZE} px on this CPU (about 5 s a frame after a first one of "
            "a minute)" if cpu else "") + "; `brushwork video` on the command line has no "
            "limit. Without an upload: a pan across the Tübingen photo.")
    source = _video_source(st, upload, state)
    if source is not None:
        if upload is not None:
            left.video(upload.getvalue())
        else:
            left.image(source["frames"][0], caption="Demo clip: a pan across Tübingen", width=280)
    styles = style_inputs(st, right)

    settings, vsettings = settings_sidebar(st, device, defaults, len(styles), video=True)
    if settings is not None and cpu and settings.size > VIDEO_CPU_SIZE:
        st.info(f"Frames are painted at {VIDEO_CPU_SIZE} px on this CPU (the size asked for is "
                f"{settings.size}); the command line paints any size.")
        settings = settings.replace(size=VIDEO_CPU_SIZE)

    go, stop = st.columns([1, 1])
    start = go.button("Start painting the video", type="primary",
                      disabled=not (source and styles and settings), use_container_width=True)
    if stop.button("Stop", use_container_width=True):
        run = state.get("video_run")
        if run and not run.get("finished") and run["frames"]:
            _finish(state, run)
            st.info(f"Stopped. Kept the {len(run['frames'])} frames painted so far.")
    if start and source and styles and settings:
        note = _run(st, state, queue, model_for, settings, vsettings, source, styles, limit,
                    device)
        if note:
            st.success(note)

    result = state.get("video_result")
    if result:
        st.subheader("Result")
        st.video(result["mp4"])
        st.download_button("Download MP4", result["mp4"], file_name=result["file_name"],
                           mime="video/mp4", key="download_video")


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
    if len(data) > MAX_UPLOAD_MB * 2**20:
        st.error(f"{upload.name}: is over {MAX_UPLOAD_MB} MB; upload a shorter clip")
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
        st.error(str(e).replace(f"video {kept[1]}", upload.name))
        return None
    return {"record": file_record(upload.name, data), "name": upload.name, "frames": None,
            "rate": info.rate, "info": info}


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
        st.error(str(e))
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
                          f"{frame.seconds:.1f} s" + (f" · about {_duration(left)} left"
                                                      if left is not None else ""))
        latest.image(frame.image(), caption=f"Frame {done}", width=min(512, frame.image().width))
        with strip.container():
            cols = st.columns(STRIP)
            for col, png in zip(cols, run["frames"][-STRIP:]):
                col.image(png)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


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
                             "frames": len(pictures)}
