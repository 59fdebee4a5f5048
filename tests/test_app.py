"""Page logic of the web app, through Streamlit's AppTest (no browser)."""

import dataclasses
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import brushwork  # noqa: E402
from brushwork import app as app_module  # noqa: E402
from brushwork.settings import Settings  # noqa: E402

APP = str(Path(app_module.__file__))


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    return at.run()


def _by_key(widgets, name):
    return next(w for w in widgets if w.key == f"setting_{name}")


def test_widgets_take_their_defaults_from_the_dataclass():
    at = _app()
    assert not at.exception
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    defaults.update(app_module.CPU_OVERRIDES)  # this machine has no GPU
    for name in ("size", "steps", "content_weight", "style_weight", "tv_weight", "style_scale", "seed"):
        assert _by_key(at.number_input, name).value == defaults[name], name
    for name in ("optimizer", "pooling", "preserve_color", "init", "weights"):
        box = _by_key(at.selectbox, name)
        assert box.value == defaults[name]
        assert list(box.options) == list(dataclasses.fields(Settings)[[f.name for f in dataclasses.fields(Settings)].index(name)].metadata["choices"])
    assert any("Running on" in c.value and "cpu" in c.value for c in at.sidebar.caption)


def test_invalid_combination_shows_the_settings_error_and_disables_start():
    at = _app()
    _by_key(at.number_input, "content_weight").set_value(0.0)
    _by_key(at.number_input, "style_weight").set_value(0.0)
    at.run()
    assert any("--style-weight" in e.value and "nothing to optimise" in e.value for e in at.error)
    assert at.button[0].disabled


def test_a_tiny_run_produces_a_downloadable_png_with_settings():
    at = _app()
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
    # the result stays on the page when a widget changes
    _by_key(at.number_input, "seed").set_value(3)
    at.run()
    assert len(at.session_state["results"]) == 1
    assert any(b.label.startswith("Download PNG") for b in at.get("download_button"))
