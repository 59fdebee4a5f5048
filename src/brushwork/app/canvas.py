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
    result = st_canvas(
        fill_color=_rgba(colour), stroke_color=_rgba(colour), stroke_width=int(width),
        background_image=content.im, height=h, width=w, return_image_data=True,
        drawing_mode={"brush": "freedraw", "rectangle": "rect", "polygon": "polygon"}[tool],
        key=f"regions_canvas_{hashlib.sha256(content.data).hexdigest()[:12]}_{w}")
    # After the canvas, so that when this line shows, the canvas has its new colour and tool.
    st.caption(f"Now painting: {pick}, with the {tool}. Draw on the photo: each colour is a "
               "painting's region; unpainted parts are kept as the photo. Undo, redo and clear "
               "(the bin) show at the canvas's top right when the pointer is over it.")
    data = result.image_data if result is not None else None
    if data is None or not data[..., 3].any():
        return None
    return _masks_from_paint(data, colours[:-1], content.im.size)


def _rgba(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {PAINT_ALPHA})"


def _masks_from_paint(rgba, colours: list[str], size: tuple[int, int]) -> list["Input"]:
    """One mask per style from the canvas's RGBA pixels: each painted pixel goes to the nearest
    colour (the keep colour last); see-through paint over other paint still reads as the top
    colour, which contributes most."""
    import io

    import numpy as np

    palette = np.array([[int(c[i: i + 2], 16) for i in (1, 3, 5)] for c in
                        [*colours, KEEP_COLOUR]], dtype=np.float32)
    rgb = np.asarray(rgba[..., :3], dtype=np.float32)
    painted = np.asarray(rgba[..., 3]) > 64
    nearest = ((rgb[..., None, :] - palette) ** 2).sum(-1).argmin(-1)
    out = []
    for i in range(len(colours)):
        mask = Image.fromarray(((nearest == i) & painted).astype(np.uint8) * 255, "L")
        mask = mask.resize(size, Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        mask.save(buf, "PNG")
        out.append(Input(f"painted region {i + 1}.png", mask, buf.getvalue()))
    return out


def _overlay(photo: Image.Image, masks: list[Image.Image]) -> Image.Image:
    """The regions in their colours over the photo."""
    out = photo.convert("RGB")
    for colour, mask in zip(PALETTE, masks):
        layer = Image.new("RGB", out.size, colour)
        alpha = mask.convert("L").resize(out.size).point(lambda v: int(v * PAINT_ALPHA))
        out = Image.composite(layer, out, alpha)
    return out
