"""Page logic of the web app, through Streamlit's AppTest (no browser)."""

import dataclasses
import tempfile
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import brushwork  # noqa: E402
from brushwork.app import SCRIPT, preview, queue, still, widgets  # noqa: E402
from brushwork.settings import Settings  # noqa: E402

APP = str(SCRIPT)


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    return at.run()


def _by_key(widgets, name):
    return next(w for w in widgets if w.key == f"setting_{name}")


def _device():
    from brushwork.device import resolve_device

    return resolve_device("auto")


def test_widgets_take_their_defaults_from_the_dataclass():
    at = _app()
    assert not at.exception
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}  # on every device
    for name in ("size", "steps", "content_weight", "tv_weight", "style_scale", "seed"):
        assert _by_key(at.number_input, name).value == defaults[name], name
    # The style weight is the Strength slider in the app, at the default weight's 0.5.
    assert _by_key(at.slider, "strength").value == 0.5
    assert not [w for w in at.number_input if w.key == "setting_style_weight"]
    assert _by_key(at.selectbox, "preset").value == "default"
    for name in ("optimizer", "pooling", "preserve_color", "init", "weights"):
        box = _by_key(at.selectbox, name)
        assert box.value == defaults[name]
        choices = next(f for f in dataclasses.fields(Settings) if f.name == name).metadata["choices"]
        # each choice in words ("L-BFGS (the paper's)"), only those this server runs
        words = widgets.CHOICE_WORDS.get(name, {})
        assert list(box.options) == [words.get(c, c) for c in widgets.runnable(name, list(choices))[0]]
    assert any("Running on" in c.value and _device().type in c.value for c in at.sidebar.caption)


def test_invalid_combination_shows_the_settings_error_and_disables_start():
    at = _app()
    _by_key(at.number_input, "content_weight").set_value(0.0)
    _by_key(at.slider, "strength").set_value(0.0)
    at.run()
    # in the page's words: the widget's label, not the command line's flag
    assert any("**Strength**" in e.value and "nothing to optimise" in e.value
               and "--" not in e.value for e in at.error)
    assert at.button[0].disabled


def test_a_preset_sets_its_widgets_and_lands_in_the_record():
    at = _app()
    _by_key(at.selectbox, "preset").set_value("bold")
    at.run()
    strength = next(w for w in at.slider if w.key.startswith("setting_strength"))
    scale = next(w for w in at.number_input if w.key.startswith("setting_style_scale"))
    assert strength.value == 0.8 and scale.value == 1.5
    _by_key(at.number_input, "size").set_value(48)
    _by_key(at.number_input, "steps").set_value(3)
    at.button[0].click().run()
    assert not at.exception, at.exception
    record = brushwork.read_metadata(at.session_state["results"][0]["png"])["settings"]
    assert record["preset"] == "bold" and record["strength"] == 0.8
    assert record["style_scale"] == 1.5


def test_a_tiny_run_produces_a_downloadable_png_with_settings():
    at = _app()
    # The first screen shows what the defaults make, until the visitor's own first picture.
    assert [c.value for c in at.caption].count("Example") == 1
    _by_key(at.number_input, "size").set_value(48)
    _by_key(at.number_input, "steps").set_value(3)
    at.button[0].click().run()
    assert not at.exception, at.exception
    results = at.session_state["results"]
    assert len(results) == 1 and results[0]["step"] == 3
    record = brushwork.read_metadata(results[0]["png"])
    assert record["settings"]["size"] == 48 and record["content"]["name"].startswith("Tübingen")
    from io import BytesIO
    assert max(Image.open(BytesIO(results[0]["png"])).size) == 48
    assert any("Done in" in m.value for m in at.success)
    assert "Example" not in [c.value for c in at.caption]
    # its caption says what differed from the defaults and how far it got
    assert results[0]["caption"].endswith("size 48 · steps 3 · step 3 of 3")
    # named after its photo and painting, in characters every file system takes
    assert results[0]["file_name"] == "Tübingen_example__The_Starry_Night_van_Gogh.png"
    # the result stays on the page when a widget changes
    _by_key(at.number_input, "seed").set_value(3)
    at.run()
    assert len(at.session_state["results"]) == 1
    assert any(b.label.startswith("Download PNG") for b in at.get("download_button"))


def test_options_this_server_cannot_run_are_not_offered_and_say_why():
    import torch

    at = _app()
    device = _by_key(at.selectbox, "device")
    precision = _by_key(at.selectbox, "precision")
    assert ("cuda" in device.options) == torch.cuda.is_available()
    assert ("mps" in device.options) == torch.backends.mps.is_available()
    assert ("bf16" in precision.options) == torch.cuda.is_available()
    if not torch.cuda.is_available():  # this CPU machine: the reason is in the help
        assert "Not on this server: cuda" in device.help and "bf16" in precision.help
    for option in device.options:  # every one offered runs: no error, Start enabled
        device.set_value(option)
        at.run()
        assert not at.error and not at.button[0].disabled, option


def test_stop_is_offered_only_while_a_picture_paints():
    at = _app()
    stop = next(b for b in at.button if b.label == "Stop")
    start = next(b for b in at.button if b.label == "Start painting")
    assert stop.disabled and not start.disabled  # nothing to stop: nothing said about a picture
    assert not any("Kept the picture" in m.value for m in at.info)


def test_stop_while_waiting_in_line_says_nothing_was_painted():
    """Stop before the run's first step (it was waiting in line) keeps nothing and says so,
    not "Kept the picture at step N" about an earlier picture."""
    at = _app()
    _by_key(at.number_input, "size").set_value(48)
    _by_key(at.number_input, "steps").set_value(2)
    at.button(key="start_button").click().run()
    assert len(at.session_state["results"]) == 1  # an earlier picture, at step 2
    # The next run, ended while still in line (the same path as Stop: AppTest cannot click
    # a button that was disabled when the page was last drawn).
    at.session_state["run_request"] = {"started": True}
    at.session_state["current_run"] = "run-in-line"
    at.run()
    assert not at.exception, at.exception
    assert any("before its first step: nothing was painted" in m.value for m in at.info)
    assert not any("Kept the picture" in m.value for m in at.info)
    assert len(at.session_state["results"]) == 1 and "run_request" not in at.session_state


def test_a_run_ended_by_anything_but_stop_unlocks_the_page_and_says_so():
    """A reload or a closed tab ends a run without Stop: the next page says so and is
    unlocked, instead of starting the run again or staying locked."""
    at = _app()
    at.session_state["run_request"] = {"started": True}
    at.run()
    assert not at.exception, at.exception
    assert "run_request" not in at.session_state
    assert next(b for b in at.button if b.label == "Start painting").disabled is False


# ---- the run queue: one run at a time, first come first served, never stuck -----------------

def test_the_queue_is_first_come_first_served_and_counts_places():
    q = queue.RunQueue()
    a, b, c = q.join(), q.join(), q.join()
    assert q.take(a) and not q.take(c) and not q.take(b)  # a paints; b and c wait
    assert (q.position(b), q.position(c)) == (1, 2)
    q.leave(a)
    assert not q.take(c)  # c asked first, but b was first in line
    assert q.take(b) and q.position(c) == 1
    q.leave(c)  # c gives up while waiting
    q.leave(b)
    assert not q.busy


def test_the_preview_takes_a_turn_only_when_nobody_paints_or_waits():
    q = queue.RunQueue()
    mine = q.try_take()
    assert mine is not None and q.busy  # a preview holds the server for its second
    start = q.join()
    assert not q.take(start)  # a Start that comes meanwhile waits for it ...
    q.leave(mine)
    assert q.take(start)  # ... and goes next
    called = []
    # a picture paints: no preview beside it; the page is rerun when the server is free, once
    # per page however often it asked
    assert q.try_take(when_free=("page", lambda: called.append(1))) is None
    assert q.try_take(when_free=("page", lambda: called.append(2))) is None
    waiting = q.join()
    q.leave(start)
    assert called == []  # somebody still waits: not free yet
    assert q.try_take() is None  # and the preview does not jump the line
    q.leave(waiting)
    assert called == [2]
    q.leave(waiting)
    assert called == [2]  # called once
    assert q.try_take() is not None


def test_a_pages_own_earlier_preview_is_waited_for_not_counted_as_another_picture():
    import threading

    q, called = queue.RunQueue(), []
    mine = q.try_take(when_free=("page", lambda: called.append("page")))
    threading.Timer(0.05, q.leave, [mine]).start()  # the superseded run's preview ends
    again = q.try_take(when_free=("page", lambda: called.append("page")))
    assert again is not None and called == []  # waited for it, no rerun asked
    assert q.try_take(when_free=("other", lambda: called.append("other")), own_wait=0) is None
    q.leave(again)
    assert called == ["other"]  # another page's preview waited and is rerun
    run = q.join(owner="page")  # the page's picture, stopped: its thread ends at its next step
    assert q.take(run)
    threading.Timer(0.05, q.leave, [run]).start()
    assert q.try_take(when_free=("page", lambda: called.append("page"))) is not None
    assert called == ["other"]


class _Interrupted(Exception):
    """Stands in for Streamlit's StopException / RerunException."""


class _Page:
    """A fake `st` whose n-th Streamlit call raises, as a Stop click does."""

    def __init__(self, fail_at: int) -> None:
        self.calls, self.fail_at = 0, fail_at

    def _call(self, *a, **k):
        self.calls += 1
        if self.calls == self.fail_at:
            raise _Interrupted
        return self

    empty = warning = progress = image = vega_lite_chart = error = _call

    def expander(self, *a, **k):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_a_stop_anywhere_gives_the_server_back(fail_at):
    """Stops landing at the first Streamlit calls of a run (including the one right after the
    lock was taken, where the old code left the server busy for good)."""
    q = queue.RunQueue()
    other = q.join()
    assert q.take(other)  # somebody else is painting, so our run first waits in line
    page = _Page(fail_at)

    def model_for(*a):
        raise _Interrupted

    def free_soon():
        q.leave(other)

    import threading

    threading.Timer(0.0, free_soon).start() if fail_at > 2 else q.leave(other)
    with pytest.raises(_Interrupted):
        still.run(page, {"results": []}, q, model_for, Settings(size=48, steps=1),
                  "cpu", None, [])
    assert not q.busy  # nobody in line, nobody painting: the next user can start


def test_the_sidebar_says_when_a_large_picture_is_tiled_and_how_long_it_takes(monkeypatch):
    import torch

    from brushwork import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 8 * 2**30)
    cpu = torch.device("cpu")
    small, large = widgets.estimate(256, 100, cpu), widgets.estimate(4096, 1000, cpu)
    assert "Expected time on this CPU" in small and "tiles" not in small
    assert "tiles, the same picture" in large and " h." in large and "GPU" in large
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**30 // 2)
    assert "pick a smaller size" in widgets.estimate(8192, 120, cpu)


def test_uploads_over_25_mb_or_40_megapixels_are_refused():
    import struct
    import zlib

    from conftest import Upload

    class Errors:
        def __init__(self):
            self.seen = []

        def error(self, text):
            self.seen.append(text)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A PNG header claiming 8000 x 5100 (40.8 MP): refused before anything is decoded.
    big_png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 5100, 8, 2, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    page = Errors()
    got = widgets.load_inputs(page, [Upload("huge.png", b"\x89PNG" + b"\x00" * (26 * 2**20)),
                                         Upload("wide.png", big_png)], fallback=[])
    assert got is None  # refused: nothing is painted in their place
    assert "huge.png: is over 25 MB" in page.seen[0]
    assert "wide.png" in page.seen[1] and "over the 40 MP limit" in page.seen[1]


# ---- video mode ------------------------------------------------------------------------------

def test_video_mode_paints_the_demo_clip_and_offers_the_mp4(monkeypatch):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from brushwork import examples, videoio

    monkeypatch.setattr(examples, "DEMO_FRAMES", 4)  # AppTest runs the page in this process
    at = _app()
    at.radio(key="mode").set_value("Video").run()
    assert not at.exception, at.exception
    assert any("first" in c.value and "frames" in c.value for c in at.caption)  # the limit
    # the clip's size, frames and length, and what Start will do, with about how long
    assert any("320x240, 4 frames at 24 fps (0.2 s). Paints 4 frames at 256x192" in c.value
               for c in at.caption), [c.value for c in at.caption]
    _by_key(at.number_input, "size").set_value(48)
    _by_key(at.number_input, "steps").set_value(3)
    _by_key(at.number_input, "frame_steps").set_value(2)
    at.button(key="video_start").click().run()
    assert not at.exception, at.exception
    assert any("Done: 4 frames" in m.value for m in at.success)
    result = at.session_state["video_result"]
    assert result["frames"] == 4
    path = Path(at.session_state["video_run"]["record"]["content"]["name"])
    assert path.name.startswith("demo")
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(result["mp4"])
        f.flush()
        info = videoio.probe(f.name)
        assert info.frames == 4 and info.size == (48, 36) and info.rate == 24
        assert videoio.read_record(f.name)["video"]["frame_steps"] == 2
    assert any(b.label == "Download MP4" for b in at.get("download_button"))


def test_a_clip_that_cannot_be_read_is_said_in_the_uploads_words():
    """No server path, no decoder detail, no fix a web user cannot do (a folder of frames)."""
    pytest.importorskip("av")
    from brushwork import videoio
    from brushwork.app import video

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "holiday.mp4"
        path.write_bytes(b"not a video at all")
        with pytest.raises(brushwork.InputError) as e:
            videoio.probe(path)
        said = video.upload_words(e.value, "holiday.mp4", path)
    assert said.startswith("holiday.mp4: is not a video brushwork can read; upload an MP4")
    assert folder not in said and "Errno" not in said and "folder" not in said


def test_stopping_a_video_keeps_the_frames_done_as_an_mp4():
    """A run stopped mid-way (Streamlit ends the script at the click) leaves its frames in the
    session; pressing Stop on the rerun turns them into the MP4 result."""
    pytest.importorskip("av")
    import io
    import tempfile

    from brushwork import examples, videoio

    pngs = []
    for im in examples.pan_clip(3, (64, 48)):
        buf = io.BytesIO()
        im.save(buf, "PNG")
        pngs.append(buf.getvalue())
    at = _app()
    at.radio(key="mode").set_value("Video").run()
    at.session_state["video_run"] = {"frames": pngs, "rate": 24, "info": None,
                                     "record": {"x": 1}, "name": "clip", "finished": False}
    assert "video_result" not in at.session_state
    # Nothing paints yet: Stop is not offered (AppTest cannot click a disabled button; a run
    # ended by anything but Stop takes the same path, and says so).
    assert at.button(key="video_stop").disabled
    at.session_state["video_request"] = {"started": True}
    at.run()
    assert not at.exception, at.exception
    assert any("interrupted. Kept the 3 frames" in m.value for m in at.info)
    assert "video_request" not in at.session_state and not at.button(key="video_start").disabled
    result = at.session_state["video_result"]
    assert result["frames"] == 3 and at.session_state["video_run"]["finished"]
    assert any(b.label == "Download MP4" for b in at.get("download_button"))
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(result["mp4"])
        f.flush()
        assert videoio.probe(f.name).frames == 3 and videoio.read_record(f.name) == {"x": 1}


# ---- the region canvas: masks from its shapes ------------------------------------------------

# Shapes as the canvas (Fabric.js 7) sends them: a brush stroke, a rectangle and a polygon.
RED, KEEP = "rgba(230, 25, 75, 0.55)", "rgba(245, 245, 245, 0.55)"
STROKE = {"type": "Path", "originX": "center", "originY": "center", "left": 125, "top": 125,
          "width": 150.08, "height": 150.08, "stroke": RED, "fill": None, "strokeWidth": 40,
          "path": [["M", 49.96, 49.96], ["Q", 50, 50, 60, 53], ["Q", 110, 68, 120, 71],
                   ["Q", 180, 152, 190, 176], ["L", 200.04, 200.04]]}
BOX = {"type": "Rect", "originX": "left", "originY": "top", "left": 250, "top": 50,
       "width": 100, "height": 100, "fill": RED, "stroke": RED, "strokeWidth": 0}
TRIANGLE = {"type": "Polygon", "originX": "center", "originY": "center", "left": 100,
            "top": 270, "width": 100, "height": 40, "fill": RED, "strokeWidth": 0,
            "points": [{"x": 50, "y": 250}, {"x": 150, "y": 250}, {"x": 100, "y": 290}]}


def _mask(objects, colours=("#e6194b", "#1e88e5", "#f5f5f5")):
    from brushwork.app import canvas

    masks = canvas.masks_from_shapes(objects, list(colours), (400, 300), (400, 300))
    return [m.im for m in masks]


def test_each_shape_paints_its_painting_s_region():
    (red, blue) = _mask([STROKE, BOX, TRIANGLE])
    for x, y in [(60, 53), (120, 71), (300, 100), (100, 262)]:  # on the stroke, box, triangle
        assert red.getpixel((x, y)) == 255 and blue.getpixel((x, y)) == 0, (x, y)
    for x, y in [(380, 280), (240, 40), (20, 280)]:  # left unpainted: kept as the photo
        assert red.getpixel((x, y)) == 0, (x, y)
    assert red.getpixel((90, 62 + 17)) == 255 and red.getpixel((90, 62 + 25)) == 0  # 40 px wide


def test_a_later_shape_covers_an_earlier_one_and_keep_erases():
    blue_box = {**BOX, "fill": "rgba(30, 136, 229, 0.55)", "left": 300}  # over the red box's right
    keep_box = {**BOX, "fill": KEEP, "left": 200, "width": 80}  # erases the red box's left
    red, blue = _mask([BOX, blue_box, keep_box])
    assert blue.getpixel((320, 100)) == 255 and red.getpixel((320, 100)) == 0
    assert red.getpixel((290, 100)) == 255
    assert red.getpixel((260, 100)) == 0 and blue.getpixel((260, 100)) == 0


def test_a_moved_and_turned_shape_is_where_the_canvas_shows_it():
    moved = {**BOX, "left": 50, "top": 150}  # moved with the canvas's edit tool
    turned = {**BOX, "originX": "center", "originY": "center", "left": 300, "top": 220,
              "width": 120, "height": 20, "angle": 90}  # a bar turned upright about its centre
    red, _ = _mask([moved, turned])
    assert red.getpixel((100, 200)) == 255 and red.getpixel((300, 100)) == 0
    assert red.getpixel((300, 170)) == 255 and red.getpixel((340, 220)) == 0  # upright, not flat


def test_undo_redo_and_clear_keep_the_shapes_in_order():
    from brushwork.app import canvas

    history = canvas.history({}, "c")
    canvas.drawn(history, {"version": "7.4.0", "objects": [STROKE, BOX]})
    canvas.undo(history)
    assert history["objects"] == [STROKE] == history["base"] and history["redo"] == [BOX]
    assert history["round"] == 1  # a new canvas, started from the shapes kept
    canvas.redo(history)
    assert history["objects"] == [STROKE, BOX] and not history["redo"]
    canvas.undo(history)
    canvas.drawn(history, {"objects": [STROKE, TRIANGLE]})  # a new shape: nothing to redo
    assert not history["redo"]
    canvas.clear(history)
    assert history["objects"] == [] and history["round"] == 4


def _preview_captions(at) -> list[str]:
    return [c for im in at.get("image") for c in im.captions if c.startswith("Preview")]


def test_a_change_shows_a_new_preview_without_start_and_says_it_is_one():
    at = _app()
    assert not at.exception, at.exception
    (said,) = _preview_captions(at)
    assert "not the result" in said and "Start paints the full picture" in said
    first = at.session_state["preview"]["picture"]
    assert first.size == brushwork.images.fit_size(*brushwork.load_image(
        brushwork.examples.CONTENT).size, preview.PREVIEW_PX)
    _by_key(at.slider, "strength").set_value(0.9)
    at.run()
    again = at.session_state["preview"]["picture"]
    assert len(_preview_captions(at)) == 1
    diff = sum(abs(a - b) for a, b in zip(first.tobytes(), again.tobytes())) / len(first.tobytes())
    assert diff > 2  # the stronger picture, painted on the change
    assert not at.session_state["results"]  # a preview is never a result


def test_the_preview_never_replaces_a_finished_result():
    at = _app()
    _by_key(at.number_input, "size").set_value(48)
    _by_key(at.number_input, "steps").set_value(3)
    at.button[0].click().run()
    assert not at.exception, at.exception
    (result,) = at.session_state["results"]
    _by_key(at.slider, "strength").set_value(0.8)
    at.run()
    assert [r["png"] for r in at.session_state["results"]] == [result["png"]]
    assert any(b.label.startswith("Download PNG") for b in at.get("download_button"))
    assert len(_preview_captions(at)) == 1
    assert at.session_state["preview"]["key"][0].strength == 0.8


def test_the_preview_follows_a_weight_and_the_instant_preset():
    at = _app()
    before = at.session_state["preview"]["key"]
    _by_key(at.number_input, "content_weight").set_value(20.0)
    at.run()
    assert at.session_state["preview"]["key"] != before
    _by_key(at.selectbox, "preset").set_value("instant")
    at.run()
    assert not at.exception, at.exception
    (said,) = _preview_captions(at)
    assert "the instant picture at" in said
    assert at.session_state["preview"]["key"][0].steps == 0


def test_the_numbers_at_start_are_put_back_while_locked_and_once_unlocked():
    """A locked number box cannot be changed by its user; a value the browser sends for it
    anyway (Streamlit's side once sent Seed 0 with a Stop) does not reach the next picture."""
    state = {}
    for key, default in (("setting_seed", 0), ("setting_size", 384)):
        widgets._number_box(state, key, default)
    state["setting_seed"] = 13  # typed
    widgets.request_run(state, "run_request", {"started": True})
    state["setting_seed"] = 0  # what the browser sent with the Stop
    state["stop_button"] = True
    assert widgets.pending_run(state, "run_request", "stop_button", None) is not None
    assert state["setting_seed"] == 13  # the locked page shows the run's numbers
    state.pop("run_request")  # the Stop ends the run
    state["setting_seed"] = 0
    assert widgets.pending_run(state, "run_request", "stop_button", None) is None
    assert (state["setting_seed"], state["setting_size"]) == (13, 384)
    state["setting_seed"] = 5  # typed once unlocked: the user's own change stays
    widgets.pending_run(state, "run_request", "stop_button", None)
    assert state["setting_seed"] == 5
