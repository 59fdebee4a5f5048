"""Optional dependencies, imported where used: a missing one is one line naming the feature and
the `pip install 'brushwork[extra]'` that brings it, never a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import InputError

# The package each module comes from, where its name differs.
PACKAGES = {"av": "PyAV", "cv2": "OpenCV", "ray": "Ray", "streamlit": "Streamlit",
            "streamlit_drawable_canvas": "streamlit-drawable-canvas"}


def require(module: str, what: str, extra: str) -> ModuleType:
    """`module`, or InputError: "WHAT: needs PACKAGE; run: pip install 'brushwork[EXTRA]'"."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise InputError(what, f"needs {PACKAGES.get(module, module)}",
                         f"run: pip install 'brushwork[{extra}]'") from None
