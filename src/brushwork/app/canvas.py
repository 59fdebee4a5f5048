"""The region painter: a painting per part of the photo, painted on a canvas over it or
uploaded as masks (Gatys et al. 2017, brushwork.regions)."""

from __future__ import annotations

import hashlib

from PIL import Image

from .widgets import Input, in_words, load_inputs, upload_caption


# Region colours on the canvas: one per style (in order), and one for "keep the photo"; each with
# the name Streamlit's text colours give the swatch beside the painting's name.
PALETTE = ("#e6194b", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#c0ca33", "#6d4c41")
SWATCH = ("red", "blue", "green", "orange", "violet", "blue", "green", "orange")
KEEP_COLOUR = "#f5f5f5"
PAINT_ALPHA = 0.55  # see-through enough to show the photo under the paint
CANVAS_WIDTH = 640
PHONE_WIDTH = 300


def regions(st, content: "Input", styles: list["Input"]) -> tuple[list["Input"] | None, str | None]:
    """The region widgets: everywhere, painted on the photo, or uploaded masks. Returns (one mask
    per style or None for everywhere, the reason Start must wait or None); masks that do not
    fit are never dropped in silence (the run would paint something else)."""
    import brushwork

    how = st.radio("Where the paintings go", ["Everywhere", "Paint regions", "Upload masks"],
                   horizontal=True, key="regions_mode")
    if how == "Everywhere":
        return None, None
    if how == "Paint regions":
        masks = _paint(st, content, styles)
        if not masks:
            st.caption("Nothing painted yet: the paintings go everywhere.")
            return None, None
        missing = [f"{i + 1}: {s.name}" for i, (s, m) in enumerate(zip(styles, masks))
                   if max(m.im.getextrema()) == 0]
        if missing:
            st.info(f"No region painted yet for {', '.join(missing)}: it is left out of the run.")
        return masks, None  # the run leaves out the paintings without a region
    ups = st.file_uploader(f"{len(styles)} greyscale masks, one per painting in order, white "
                           "where it applies (any size)", accept_multiple_files=True,
                           key="mask_upload", help=upload_caption("Masks"))
    masks = load_inputs(st, ups or [], [])
    if masks is None:
        return None, "a region mask was refused (see Regions)"
    if not masks:
        return None, (f"Regions: upload {len(styles)} masks, one per painting, or choose "
                      "Everywhere")
    try:
        from brushwork.regions import check_masks

        check_masks([m.im for m in masks], [f"region mask {i + 1} ({m.name})" for i, m in
                                            enumerate(masks)], len(styles))
    except brushwork.BrushworkError as e:  # said in the page; Start waits
        problem = in_words(str(e))
        st.error(problem)
        return None, problem
    st.image(_overlay(content.im, [m.im for m in masks]), width=min(CANVAS_WIDTH, content.im.width),
             caption="The regions over the photo (uncoloured: kept as the photo)",
             alt="the region masks in their colours over the photo")
    return masks, None


def _paint(st, content: "Input", styles: list["Input"]) -> list["Input"] | None:
    import brushwork
    from brushwork import optional

    try:
        st_canvas = optional.require("streamlit_drawable_canvas", "Painting regions",
                                     "app").st_canvas
    except brushwork.InputError as e:
        st.warning(f"{e} Upload masks instead.")
        return None
    names = [f"{i + 1}: {s.name}" for i, s in enumerate(styles)] + ["keep the photo (erases)"]
    colours = list(PALETTE[: len(styles)]) + [KEEP_COLOUR]
    # Each name with its colour's swatch (and its number, for those who do not tell colours).
    swatches = [f":{SWATCH[i % len(SWATCH)]}[■]" for i in range(len(styles))] + [":gray[□]"]
    a, b = st.columns([3, 2])
    # Radios, not drop-downs: a painter switches colour and tool often, one click each.
    pick = a.radio("Paint with", names, key="region_brush", horizontal=True,
                   format_func=lambda n: f"{swatches[names.index(n)]} {n}")
    tool = b.radio("Tool", ["brush", "rectangle", "polygon"], key="region_tool", horizontal=True)
    # Shapes are filled and drawn without a border (a brush-wide border would spill over).
    width = st.slider("Brush size (px)", 2, 200, 40, key="region_width") if tool == "brush" else 0
    colour = colours[names.index(pick)]
    # A phone's screen is narrower than the canvas: a smaller one fits it whole (the masks are
    # made at the photo's size either way). A touch on the canvas paints; scroll beside it.
    small = st.toggle(f"Phone-sized canvas ({PHONE_WIDTH} px)", key="region_small",
                      help="Starts a new drawing at the new size.")
    w = min(PHONE_WIDTH if small else CANVAS_WIDTH, content.im.width)
    h = round(w * content.im.height / content.im.width)
    canvas_id = f"regions_canvas_{hashlib.sha256(content.data).hexdigest()[:12]}_{w}"
    drawing = history(st.session_state, canvas_id)
    result = st_canvas(
        fill_color=_rgba(colour), stroke_color=_rgba(colour), stroke_width=int(width),
        background_image=content.im, height=h, width=w,
        drawing_mode={"brush": "freedraw", "rectangle": "rect", "polygon": "polygon"}[tool],
        # Unchanged within a round: a changed initial drawing makes the canvas reload it.
        initial_drawing={"objects": drawing["base"]},
        key=f"{canvas_id}_{drawing['round']}")
    # After the canvas, so that when this line shows, the canvas has its new colour and tool.
    st.caption(f"Now painting: {pick}, with the {tool}. Draw on the photo: each colour is a "
               "painting's region; unpainted parts are kept as the photo.")
    raw = result.json_data if result is not None else None
    if raw is not None:
        drawn(drawing, raw)
    # Undo, redo and clear as buttons of the page, under the canvas once it has said what is
    # on it: the canvas's own show only while a mouse hovers over it (never on a phone). Each
    # starts a new canvas from the shapes kept.
    with st.container(horizontal=True, gap="small"):
        st.button("↶ Undo", key=f"{canvas_id}_undo", on_click=undo, args=(drawing,),
                  disabled=not drawing["objects"])
        st.button("↷ Redo", key=f"{canvas_id}_redo", on_click=redo, args=(drawing,),
                  disabled=not drawing["redo"])
        st.button("Clear", key=f"{canvas_id}_clear", on_click=clear, args=(drawing,),
                  disabled=not drawing["objects"])
    if not drawing["objects"]:
        return None
    return masks_from_shapes(drawing["objects"], colours, (w, h), content.im.size)


def history(state, canvas_id: str) -> dict:
    """The shapes on this canvas, what Undo took (for Redo), and the canvas's round (a new
    round is a new canvas, started from `base`)."""
    return state.setdefault(f"{canvas_id}_history", {"objects": [], "redo": [], "base": [],
                                                     "round": 0})


def drawn(drawing: dict, raw: dict) -> None:
    """The canvas's latest shapes; a new shape ends what Redo could bring back."""
    objects = list(raw.get("objects") or [])
    if objects != drawing["objects"]:
        if len(objects) > len(drawing["objects"]):
            drawing["redo"] = []
        drawing["objects"] = objects


def _restart(drawing: dict, objects: list) -> None:
    drawing["objects"] = drawing["base"] = objects
    drawing["round"] += 1


def undo(drawing: dict) -> None:
    """Undo: the last shape goes to the Redo list, and a new canvas starts without it."""
    if drawing["objects"]:
        drawing["redo"].append(drawing["objects"][-1])
        _restart(drawing, drawing["objects"][:-1])


def redo(drawing: dict) -> None:
    """Redo: the last shape Undo took comes back."""
    if drawing["redo"]:
        _restart(drawing, [*drawing["objects"], drawing["redo"].pop()])


def clear(drawing: dict) -> None:
    """Clear: no shapes, nothing to redo."""
    drawing["redo"] = []
    _restart(drawing, [])


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i: i + 2], 16) for i in (1, 3, 5))


def _rgba(hex_colour: str) -> str:
    r, g, b = _rgb(hex_colour)
    return f"rgba({r}, {g}, {b}, {PAINT_ALPHA})"


def masks_from_shapes(objects: list[dict], colours: list[str], canvas: tuple[int, int],
                     size: tuple[int, int]) -> list["Input"]:
    """One mask per painting from the canvas's shapes (Fabric.js objects: brush paths,
    rectangles, polygons, as moved, scaled or turned), drawn in order so that a later shape
    covers an earlier one; the last colour ("keep the photo") erases. Read from the shapes, not
    the canvas's pixels: see-through paint over paint has no single colour, and a canvas
    started again from kept shapes (undo) has not sent its pixels yet."""
    import io

    from PIL import ImageDraw

    palette = [_rgb(c) for c in colours]
    labels = Image.new("L", canvas, 0)  # 0: unpainted or erased; i + 1: painting i
    draw = ImageDraw.Draw(labels)
    keep = len(colours) - 1
    for obj in objects:
        colour = _colour(obj.get("stroke") if obj.get("type") == "Path" else obj.get("fill"))
        if colour is None:
            continue
        index = min(range(len(palette)), key=lambda i: sum((a - b) ** 2 for a, b in
                                                          zip(palette[i], colour)))
        value = 0 if index == keep else index + 1
        points, width = _outline(obj)
        if width:  # a brush stroke: a thick line with round ends
            draw.line(points, fill=value, width=max(1, round(width)), joint="curve")
            r = width / 2
            for x, y in (points[0], points[-1]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=value)
        elif len(points) >= 3:
            draw.polygon(points, fill=value)
    out = []
    for i in range(keep):
        mask = labels.point(lambda v, i=i: 255 if v == i + 1 else 0).resize(
            size, Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        mask.save(buf, "PNG")
        out.append(Input(f"painted region {i + 1}.png", mask, buf.getvalue()))
    return out


def _colour(css) -> tuple[int, int, int] | None:
    import re

    m = re.match(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)", css or "")
    return tuple(int(v) for v in m.groups()) if m else None


def _outline(obj: dict) -> tuple[list[tuple[float, float]], float]:
    """A shape as canvas points: (points, stroke width) for a brush path, (corners, 0) for a
    filled shape, ([], 0) for anything else; the object's own move, scale and turn applied
    about its centre."""
    import math

    kind = obj.get("type")
    sx, sy = float(obj.get("scaleX", 1)), float(obj.get("scaleY", 1))
    w, h = float(obj.get("width", 0)), float(obj.get("height", 0))
    if kind == "Path":
        local = _path_points(obj.get("path") or [])
    elif kind == "Polygon":
        local = [(float(p["x"]), float(p["y"])) for p in obj.get("points") or []]
    elif kind == "Rect":
        local = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    else:
        local = []
    if not local:
        return [], 0.0
    # The shape's own centre (its points' box), and where the object puts it.
    xs, ys = [p[0] for p in local], [p[1] for p in local]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    ox = {"left": 0.5, "center": 0.0, "right": -0.5}.get(obj.get("originX", "left"), 0.5)
    oy = {"top": 0.5, "center": 0.0, "bottom": -0.5}.get(obj.get("originY", "top"), 0.5)
    turn = math.radians(float(obj.get("angle", 0)))
    cos, sin = math.cos(turn), math.sin(turn)
    # The origin's offset to the centre turns with the object.
    dx, dy = ox * w * sx, oy * h * sy
    left, top = float(obj.get("left", 0)), float(obj.get("top", 0))
    at_x, at_y = left + dx * cos - dy * sin, top + dx * sin + dy * cos
    points = []
    for x, y in local:
        u, v = (x - cx) * sx, (y - cy) * sy
        points.append((at_x + u * cos - v * sin, at_y + u * sin + v * cos))
    width = float(obj.get("strokeWidth", 0)) * (sx + sy) / 2 if kind == "Path" else 0.0
    return points, width


def _path_points(path: list) -> list[tuple[float, float]]:
    """A brush path's commands (M, L, Q, C) as points along it."""
    points: list[tuple[float, float]] = []
    for cmd in path:
        op, *args = cmd
        args = [float(a) for a in args]
        if op in ("M", "L") and len(args) >= 2:
            points.append((args[0], args[1]))
        elif op == "Q" and len(args) >= 4 and points:
            (x0, y0), (x1, y1), (x2, y2) = points[-1], args[0:2], args[2:4]
            for k in range(1, 5):
                t = k / 4
                points.append(((1 - t) ** 2 * x0 + 2 * (1 - t) * t * x1 + t * t * x2,
                               (1 - t) ** 2 * y0 + 2 * (1 - t) * t * y1 + t * t * y2))
        elif op == "C" and len(args) >= 6 and points:
            (x0, y0) = points[-1]
            x1, y1, x2, y2, x3, y3 = args[:6]
            for k in range(1, 5):
                t = k / 4
                a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
                points.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return points


def _overlay(photo: Image.Image, masks: list[Image.Image]) -> Image.Image:
    """The regions in their colours over the photo."""
    out = photo.convert("RGB")
    for colour, mask in zip(PALETTE, masks):
        layer = Image.new("RGB", out.size, colour)
        alpha = mask.convert("L").resize(out.size).point(lambda v: int(v * PAINT_ALPHA))
        out = Image.composite(layer, out, alpha)
    return out
