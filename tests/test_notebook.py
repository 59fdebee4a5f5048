"""notebooks/brushwork.ipynb run from top to bottom, headless (nbclient and a real kernel), on
the CPU with small settings: its last picture is painted, and its widgets are the Settings'."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipywidgets")

from conftest import PAINTED, moved_from_photo  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "brushwork.ipynb"


def test_the_notebook_runs_headless_and_paints(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = 'OVERRIDES = {"size": 64, "steps": 12, "device": "cpu"}'
    out = tmp_path / "painted.png"
    nb.cells.append(nbformat.v4.new_code_cell(
        f"picture.save({str(out)!r})\n"
        "from brushwork import Settings\n"
        "from brushwork.words import WORDS\n"
        "w = controls.widgets\n"
        "assert list(w) == ['preset', 'strength', 'size', 'steps']\n"
        "assert w['size'].value == Settings().size and w['steps'].value == Settings().steps\n"
        "assert w['size'].description == WORDS['size'][0]\n"
        "w['preset'].value = 'bold'  # a preset shows its values, and is what is sent\n"
        "chosen = controls.settings()\n"
        "assert chosen.preset == 'bold' and chosen.strength == Settings().with_options("
        "{'preset': 'bold'}).strength\n"
        "assert settings.size == 64 and settings.steps == 12\n"))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert moved_from_photo(out) > PAINTED  # the last picture is painted, not the photo
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    said = " ".join(str(o.get("text", "")) for o in outputs)
    assert "paints on the CPU" in said
    shown = [o for o in outputs if "image/png" in o.get("data", {})]
    assert shown, "the picture was never shown as it formed"
    links = [o for o in outputs if "text/html" in o.get("data", {})
             and "download=" in o["data"]["text/html"]]
    assert links and "its settings inside" in links[-1]["data"]["text/html"]
