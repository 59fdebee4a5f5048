"""The brushwork web app (Streamlit), started with `brushwork app`.

`SCRIPT` is what Streamlit runs; its pages (`still`, `video`) share the widgets built from
`Settings` (`widgets`), the run queue and its skeleton (`queue`), and the region canvas
(`canvas`). Nothing here imports Streamlit or runs at import time.
"""

from __future__ import annotations

from pathlib import Path

MAX_UPLOAD_MB = 25
# What Streamlit itself takes (its own default). Between the two, a file reaches the page and is
# refused there, in words; over it the browser refuses it in a tooltip, as Streamlit does.
UPLOAD_CAP_MB = 200
MAX_UPLOAD_PIXELS = 40_000_000
SCRIPT = Path(__file__).resolve().parent / "streamlit_app.py"
