"""The app's preview of a change: the settings as they are now, painted small without Start,
beside (never among) the results, in a turn of the server's run queue."""

from __future__ import annotations

import time

from .queue import RunQueue, this_page
from .widgets import in_words

# The preview of a change, painted without Start: the feed-forward picture (brushwork.feedforward)
# and a few L-BFGS steps at a small size, so that it answers every weight, not only the painting
# and the strength, in about a second on a laptop CPU (docs/performance.md, the app's preview).
PREVIEW_PX, PREVIEW_STEPS, PREVIEW_SHOWN_PX = 128, 6, 256
# How long a preview that waits for the server lets a running page run end before its rerun.
WAIT_POLL_SECONDS = 0.25


def preview_settings(settings):
    """What the preview paints: the run's settings at PREVIEW_PX, one scale, PREVIEW_STEPS from
    the feed-forward start (the instant preset's picture as it is)."""
    if settings.steps == 0:
        return settings.replace(size=PREVIEW_PX)
    # Every step through the compressed eye (judge_steps 0): at 128 px it paints the strokes
    # as VGG-19 does for 0.6 of the time (docs/performance.md), and a preview is not judged.
    return settings.replace(size=PREVIEW_PX, steps=PREVIEW_STEPS, scales=1, init="fast",
                            tile=None, judge_steps=0)


def show_preview(st, state, queue: RunQueue, model_for, settings, device, content, styles,
                 masks) -> None:
    """A preview of the settings as they are now, painted when they change (not when the page
    reruns for anything else), never while a run paints and never in the results: a picture of
    its own, said to be a preview.

    It paints in a turn of the server's run queue, taken only when nobody paints or waits, so
    it never slows another visitor's picture (a Start that comes meanwhile waits the second
    it takes). While the server is busy the page says so, and the queue reruns the page when
    it is free: the script never blocks or polls, so the picture that paints keeps the CPU."""
    import brushwork
    from brushwork import feedforward

    @st.cache_resource(show_spinner=False)
    def fast_network():  # loaded once per server (0.1 s a time otherwise)
        return feedforward.load_network()

    import hashlib

    small = preview_settings(settings)
    key = (small, *(hashlib.sha256(i.data).digest() for i in [content, *styles, *(masks or ())]))
    if state.get("preview", {}).get("key") != key:
        waits = _waits(state)
        ticket = queue.try_take(when_free=rerun_when_free(waits))
        waits["now"] = ticket is None
        if ticket is None:
            st.caption("Preview waits: another picture is being painted on this server. It "
                       "comes by itself when that ends; Start joins the line now.")
            return
        started = time.monotonic()
        try:
            model = None if small.steps == 0 else model_for(small.model_key, str(device))
            picture = brushwork.stylize(content.im, [s.im for s in styles], small, model=model,
                                        masks=[m.im for m in masks] if masks else None,
                                        fast=fast_network())
        except brushwork.BrushworkError as e:  # the extra missing, say: no preview, one line
            state["preview"] = {"key": key, "error": in_words(str(e))}
        else:
            state["preview"] = {"key": key, "picture": picture,
                                "seconds": time.monotonic() - started}
        finally:
            queue.leave(ticket)
    shown = state["preview"]
    if "error" in shown:
        st.caption(f"No preview: {shown['error']}")
        return
    what = ("the instant picture" if small.steps == 0 else
            f"the instant picture and {small.steps} steps")
    st.image(shown["picture"], width=PREVIEW_SHOWN_PX,
             caption=f"Preview, not the result: {what} at {PREVIEW_PX} px, painted in "
                     f"{shown['seconds']:.1f} s as you change a setting. Start paints the "
                     "full picture.", alt="preview of the settings")


def _waits(state) -> dict:
    """{"now": whether this page's latest run shows its preview waiting}: a plain dict, read
    by rerun_when_free's callback on Streamlit's event loop, outside any script run."""
    return state.setdefault("preview_waits", {"now": False})


def not_waiting(state) -> None:
    """This page run shows no waiting preview (it is locked, or has a problem, or painted it)."""
    _waits(state)["now"] = False


def rerun_when_free(waits: dict):
    """(this browser session's id, a callback for any thread that reruns its page if its
    preview still waits), or None outside a Streamlit server (AppTest, bare mode).

    The page is rerun as Streamlit reruns a page whose source changed (`runOnSave`), with the
    values its widgets hold, and only once the session is idle: a rerun stops a running
    script, and that would end a picture or take a Stop's note off the page. Streamlit has no
    public way to rerun another session; the ways it offers poll from the page
    (`st.fragment(run_every=...)`, which dropped values other widgets held,
    streamlit/streamlit#10805; or a component that reruns the whole page every second, whose
    Python held the GIL so long that the painting picture beside it crawled). This reaches
    three private attributes of Streamlit 1.6x (`Runtime._session_mgr`, and an AppSession's
    `_event_loop` and `_state`); tests/test_browser.py's two-visitor test fails if they
    change."""
    from streamlit import runtime

    page = this_page()
    if page is None or not runtime.exists():
        return None
    manager = getattr(runtime.get_instance(), "_session_mgr", None)
    info = manager.get_session_info(page) if manager is not None else None
    session = info.session if info is not None else None
    loop = getattr(session, "_event_loop", None)
    if loop is None:
        return None

    def rerun() -> None:  # on Streamlit's event loop
        if not waits["now"]:
            return  # a later run of the page painted its preview, or has none to show
        state = getattr(getattr(session, "_state", None), "name", "")
        if state == "SHUTDOWN_REQUESTED":
            return
        if state == "APP_IS_RUNNING":  # ask again once this run has ended
            loop.call_later(WAIT_POLL_SECONDS, rerun)
            return
        session.request_rerun(None)

    return page, lambda: loop.call_soon_threadsafe(rerun)
