"""The app's preview of a change: the settings as they are now, painted small without Start,
beside (never among) the results."""

from __future__ import annotations

import time

from .widgets import in_words

# The preview of a change, painted without Start: the feed-forward picture (brushwork.feedforward)
# and a few L-BFGS steps at a small size, so that it answers every weight, not only the painting
# and the strength, in about a second on a laptop CPU (docs/performance.md, the app's preview).
PREVIEW_PX, PREVIEW_STEPS, PREVIEW_SHOWN_PX = 128, 6, 256


def preview_settings(settings):
    """What the preview paints: the run's settings at PREVIEW_PX, one scale, PREVIEW_STEPS from
    the feed-forward start (the instant preset's picture as it is)."""
    if settings.steps == 0:
        return settings.replace(size=PREVIEW_PX)
    return settings.replace(size=PREVIEW_PX, steps=PREVIEW_STEPS, scales=1, init="fast",
                            tile=None)


def show_preview(st, state, model_for, settings, device, content, styles, masks) -> None:
    """A preview of the settings as they are now, painted when they change (not when the page
    reruns for anything else), never while a run paints and never in the results: a picture of
    its own, said to be a preview. (It does not take a turn on the run queue: a version that
    did failed the browser tests, see the 0.8 closing note.)"""
    import brushwork
    from brushwork import feedforward

    @st.cache_resource(show_spinner=False)
    def fast_network():  # loaded once per server (0.1 s a time otherwise)
        return feedforward.load_network()

    import hashlib

    small = preview_settings(settings)
    key = (small, *(hashlib.sha256(i.data).digest() for i in [content, *styles, *(masks or ())]))
    if state.get("preview", {}).get("key") != key:
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
