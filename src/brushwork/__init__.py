"""brushwork: neural style transfer after Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic
Style" (arXiv 1508.06576).

    >>> import brushwork
    >>> picture = brushwork.stylize("photo.jpg", "painting.jpg", brushwork.Settings(size=256))
    >>> picture.save("out.png")

Nothing runs at import time: the weights load when a run starts. The public names are imported
when first used (PEP 562), so that a command that needs no network (`--preset instant`, `info`,
`--help`) does not pay the two seconds of importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# Each public name and the module that defines it.
_PUBLIC = {
    "BrushworkError": "errors", "DeviceError": "errors", "DivergenceError": "errors",
    "InputError": "errors", "WeightsError": "errors",
    "Settings": "settings", "VideoSettings": "settings",
    "Step": "steps", "Progress": "tiles",
    "check_inputs": "transfer", "iter_stylize": "transfer", "stylize": "transfer",
    "instant": "feedforward",
    "load_model": "vgg", "plan_scales": "schedule",
    "Frame": "video", "iter_stylize_video": "video",
    "load_image": "images", "save_image": "images", "read_metadata": "images",
}

__all__ = [*_PUBLIC, "__version__"]

if TYPE_CHECKING:
    from .errors import BrushworkError, DeviceError, DivergenceError, InputError, WeightsError
    from .feedforward import instant
    from .images import load_image, read_metadata, save_image
    from .schedule import plan_scales
    from .settings import Settings, VideoSettings
    from .steps import Step
    from .tiles import Progress
    from .transfer import check_inputs, iter_stylize, stylize
    from .video import Frame, iter_stylize_video
    from .vgg import load_model


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value  # once: later uses are plain attribute reads
        return value
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
