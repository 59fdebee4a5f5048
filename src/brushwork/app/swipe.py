"""A before/after swipe drawn in the browser: the picture at its own pixels with the photo
under it, uncovered by dragging. Plain HTML, CSS and a line of script in the page's own
component frame: no round trip to the server (so moving it never reruns, or ends, a run) and
nothing loaded from the network (the one comparison component on PyPI loads its script from a
CDN, which an offline server cannot reach)."""

from __future__ import annotations

import base64
import html
import io

from PIL import Image

# The slider under the picture, and the frame's margins.
CONTROLS = 56


def page(picture: Image.Image, photo: Image.Image, caption: str, scroll: bool = False) -> str:
    """The swipe's HTML: `picture` at its own size (narrower on a narrow screen, never wider),
    `photo` resized to it and shown left of the handle. The frame fits its height to the
    picture as shown; with `scroll` it brings itself into view (a run has just ended)."""
    w, h = picture.size
    after, before = _data_url(picture, "PNG"), _data_url(photo.convert("RGB").resize((w, h)), "JPEG")
    alt, label = html.escape(caption, quote=True), html.escape(caption)
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; font: 14px sans-serif; color: #31333f; }}
.box {{ position: relative; width: {w}px; max-width: 100%; touch-action: pan-y; }}
.box img {{ display: block; width: 100%; height: auto; }}
.before {{ position: absolute; inset: 0; clip-path: inset(0 50% 0 0); }}
.handle {{ position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; background: #fff;
          box-shadow: 0 0 3px #000; pointer-events: none; }}
input {{ width: {w}px; max-width: 100%; margin: 6px 0 0 0; }}
</style></head><body>
<div class="box" id="box">
  <img src="{after}" alt="{alt}">
  <img class="before" id="before" src="{before}" alt="the photo it was painted from">
  <div class="handle" id="handle"></div>
</div>
<input type="range" id="at" min="0" max="100" value="50"
       aria-label="Before and after: drag left to see more of the picture, right for the photo">
<div>{label} · photo left of the line, picture right</div>
<script>
const at = document.getElementById("at"), before = document.getElementById("before"),
      handle = document.getElementById("handle"), box = document.getElementById("box");
function show(p) {{ before.style.clipPath = "inset(0 " + (100 - p) + "% 0 0)";
                    handle.style.left = p + "%"; at.value = p; }}
at.addEventListener("input", () => show(at.value));
box.addEventListener("pointermove", (e) => {{ if (e.buttons !== 1) return;
  const r = box.getBoundingClientRect();
  show(Math.max(0, Math.min(100, Math.round(100 * (e.clientX - r.left) / r.width)))); }});
box.addEventListener("pointerdown", (e) => {{ const r = box.getBoundingClientRect();
  show(Math.max(0, Math.min(100, Math.round(100 * (e.clientX - r.left) / r.width)))); }});
// The frame (same-origin) takes the height the picture has as shown: narrower than its own
// pixels on a narrow screen, so shorter, without a gap under it.
const frame = window.frameElement;
function fit() {{ if (frame) frame.style.height = document.documentElement.scrollHeight + "px"; }}
new ResizeObserver(fit).observe(document.body);
if ({"true" if scroll else "false"} && frame) frame.scrollIntoView({{block: "nearest"}});
</script></body></html>"""


def height(picture: Image.Image) -> int:
    """The frame's height for `picture` shown at its own size."""
    return picture.height + CONTROLS


def _data_url(im: Image.Image, fmt: str) -> str:
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    mime = "png" if fmt == "PNG" else "jpeg"
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
