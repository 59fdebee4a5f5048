"""brushwork in a Jupyter or Colab notebook (`pip install 'brushwork[notebook]'`): the widgets a
notebook shows, built from `Settings` like the app's, and a run shown as it forms. A front end,
like the CLI and the app: it reads the library's public face, and the notebook's own cells stay
a few lines each (notebooks/brushwork.ipynb).

    >>> from brushwork import notebook
    >>> controls = notebook.Controls()          # preset, strength, size and steps
    >>> controls                                # shown in the notebook
    >>> picture = notebook.paint(photo, painting, controls.settings())
"""

from __future__ import annotations

import base64
import dataclasses
import html
from typing import Any, Sequence

from PIL import Image

import brushwork

from .settings import Settings
from .words import CHOICE_WORDS, WORDS

# The settings a notebook offers by default: the four a painter reaches for first.
FIELDS = ("preset", "strength", "size", "steps")


def device_line(settings: Settings | None = None) -> str:
    """Which device a run uses here, in one line (the GPU's name when there is one)."""
    import torch

    from .device import resolve_device

    device = resolve_device((settings or Settings()).device)
    if device.type == "cuda":
        return f"brushwork {brushwork.__version__} paints on the GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return f"brushwork {brushwork.__version__} paints on the Apple GPU (MPS)"
    return (f"brushwork {brushwork.__version__} paints on the CPU (no GPU found; on Colab: "
            "Runtime > Change runtime type > GPU)")


class Controls:
    """Widgets for `fields` of `Settings`, built from the dataclass (default, range, choices)
    and the painter's words (labels and help). Choosing a preset shows its values; `settings()`
    sends the preset and only what was moved after it, as the app and the Krita docker do."""

    def __init__(self, fields: Sequence[str] = FIELDS, base: Settings | None = None) -> None:
        import ipywidgets as w

        self.base = base or Settings()
        meta = {f.name: f for f in dataclasses.fields(Settings)}
        self.widgets: dict[str, Any] = {}
        for name in fields:
            f = meta[name]
            label, help_ = WORDS.get(name, (name, f.metadata.get("help", "")))
            value = getattr(self.base, name)
            common = {"description": label, "description_tooltip": help_,
                      "style": {"description_width": "initial"}}
            if "choices" in f.metadata:
                words = CHOICE_WORDS.get(name, {})
                widget = w.Dropdown(options=[(words.get(c, c), c) for c in f.metadata["choices"]],
                                    value=value, **common)
            elif isinstance(f.default, int) and not isinstance(f.default, bool):
                widget = w.BoundedIntText(value=value, min=int(f.metadata.get("min", 0)),
                                          max=int(f.metadata.get("max", 10**6)), **common)
            else:
                lo, hi = f.metadata.get("min", 0.0), f.metadata.get("max", 1.0)
                widget = w.FloatSlider(value=0.5 if value is None else value, min=lo, max=hi,
                                       step=f.metadata.get("step", 0.05), **common)
            self.widgets[name] = widget
        self.shown = self._values()
        if "preset" in self.widgets:
            self.widgets["preset"].observe(self._preset_chosen, names="value")
        self.widget = w.VBox(list(self.widgets.values()))

    def _values(self) -> dict[str, Any]:
        return {name: widget.value for name, widget in self.widgets.items()}

    def _preset_chosen(self, change) -> None:
        chosen = self.base.with_options({"preset": change["new"]})
        for name, widget in self.widgets.items():
            value = getattr(chosen, name)
            if name != "preset" and value is not None:
                widget.value = value
        self.shown = self._values()

    def settings(self, **over: Any) -> Settings:
        """The settings these widgets say: the preset, then what was moved after it, then
        `over` (keywords of `Settings`)."""
        moved = {name: value for name, value in self._values().items()
                 if name == "preset" or value != self.shown.get(name)}
        return self.base.with_options({**moved, **over})

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def uploads(photo=None, painting=None) -> tuple[Image.Image, Image.Image]:
    """The photo and painting: each from an ipywidgets FileUpload's value (or bytes, a path, an
    image) when given, else the bundled Tübingen and The Starry Night."""
    from . import examples

    def read(source, fallback, role: str) -> Image.Image:
        if source is None or (isinstance(source, (tuple, list, dict)) and not source):
            return brushwork.load_image(fallback)
        if isinstance(source, (tuple, list)):  # FileUpload.value (ipywidgets 8)
            source = source[-1]
        if isinstance(source, dict):
            source = bytes(source["content"])
        return brushwork.load_image(source, name=role)

    return (read(photo, examples.CONTENT, "the photo"),
            read(painting, examples.STARRY_NIGHT, "the painting"))


def paint(photo: Image.Image, painting: Image.Image | Sequence[Image.Image],
          settings: Settings | None = None, every: int = 10, show: bool = True) -> Image.Image:
    """Paint, showing the instant picture at once (when brushwork[instant] is installed), then
    the picture as it forms every `every` steps (the loop's Step records), in one output that
    updates in place; returns the final picture."""
    from IPython.display import display

    settings = settings or Settings()
    paintings = [painting] if isinstance(painting, Image.Image) else list(painting)
    handle = display(Image.new("RGB", (8, 8)), display_id=True) if show else None
    words = display("", display_id=True) if show else None
    try:
        first = brushwork.instant(photo, paintings, settings)
    except brushwork.BrushworkError:
        first = None  # the instant network's extra is missing: the loop alone
    if first is not None and handle is not None:
        handle.update(first)
        words.update(f"the instant picture ({first.width}x{first.height}); now the full one ...")
    last = None
    for last in brushwork.iter_stylize(photo, paintings, settings):
        if not isinstance(last, brushwork.Step) or handle is None:
            continue
        if last.step % every == 0 or last.step == last.total:
            handle.update(last.best_image())
            words.update(f"step {last.step} of {last.total} (scale {last.scale} of "
                         f"{last.scales}, {last.size[0]}x{last.size[1]})")
    assert isinstance(last, brushwork.Step)
    return last.best_image()


def download(picture: Image.Image, settings: Settings, name: str = "brushwork.png"):
    """A link that downloads `picture` as a PNG with its settings embedded (as every brushwork
    output carries them), in Jupyter and on Colab alike."""
    from IPython.display import HTML

    from . import images, records

    data = images.encode_image(picture, "PNG", records.run_record(settings, {"name": "photo"},
                                                                  [{"name": "painting"}]))
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return HTML(f'<a download="{html.escape(name)}" href="{uri}">Download {html.escape(name)} '
                f'({len(data) >> 10} kB, its settings inside)</a>')
