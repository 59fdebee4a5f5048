"""The brushwork web app, as Streamlit runs it (`brushwork app` starts `streamlit run` on this
file). The page is built from `Settings`; runs consume the same iterators as the CLI; one run at
a time per server, the others told their place in line.
"""

from __future__ import annotations

import dataclasses
import os


def main() -> None:
    import streamlit as st

    import brushwork
    from brushwork.app import preview, still, video
    from brushwork.app.queue import RunQueue
    from brushwork.device import resolve_device
    from brushwork.settings import Settings
    from brushwork.vgg import load_network

    st.set_page_config(page_title="brushwork", layout="wide")

    @st.cache_resource(show_spinner="Loading VGG-19 ...")
    def model_for(key: tuple, device: str):
        """One network per Settings.model_key and device, for every session of this server."""
        return load_network(*key, device)

    @st.cache_resource
    def run_queue() -> RunQueue:
        return RunQueue()

    @st.cache_resource(show_spinner="Starting the Ray workers ...")
    def cluster():
        """`brushwork app --backend ray`: one queue for every visitor, its jobs on Ray workers
        (the service's queue and backend, brushwork.serve), kept for the server's life."""
        from brushwork.app.cluster import start

        return start()

    state = st.session_state
    state.setdefault("results", [])  # this session's pictures: dicts with png, caption, settings
    # Until this run's preview says it waits for the server (brushwork.app.preview), nothing
    # is to be rerun when the server is free: a rerun would take a run's note off the page.
    preview.not_waiting(state)

    # The uploaders' own line would say Streamlit's hard cap; the page's limit is in their help
    # and is checked in the page. Less space above the title, so Start and the result fit a
    # laptop's screen.
    st.html("<style>[data-testid='stFileUploaderDropzoneInstructions']{display:none}"
            "[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>")
    st.markdown("## brushwork\nPaint a photo in the style of a painting: neural style transfer "
                "after Gatys, Ecker and Bethge (2015).")

    try:
        device = resolve_device("auto")
    except brushwork.BrushworkError:
        device = resolve_device("cpu")
    # The README's default picture on every device: with the preview answering each change at
    # once, Start's full picture may take its minute on a laptop CPU (the time is said first).
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}

    mode = st.radio("What to paint", ["Picture", "Video"], horizontal=True, key="mode",
                    label_visibility="collapsed",
                    disabled="run_request" in state or "video_request" in state)
    if mode == "Video":
        video.page(st, state, run_queue(), model_for, device, defaults)
    else:
        runner = cluster() if os.environ.get("BRUSHWORK_APP_BACKEND") == "ray" else None
        still.page(st, state, run_queue(), model_for, device, defaults, runner)


if __name__ == "__main__":
    main()
