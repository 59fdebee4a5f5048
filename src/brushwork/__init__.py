"""brushwork: neural style transfer after Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic
Style" (arXiv 1508.06576).

    >>> import brushwork
    >>> picture = brushwork.stylize("photo.jpg", "painting.jpg", brushwork.Settings(size=256))
    >>> picture.save("out.png")

Nothing runs at import time: the weights load when a run starts.
"""

from .errors import BrushworkError, DeviceError, DivergenceError, InputError, WeightsError
from .images import load_image, read_metadata, save_image
from .settings import Settings
from .transfer import Step, iter_stylize, load_model, plan_scales, stylize

__version__ = "0.3.0"

__all__ = [
    "BrushworkError", "DeviceError", "DivergenceError", "InputError", "WeightsError",
    "Settings", "Step", "iter_stylize", "stylize", "load_model", "plan_scales",
    "load_image", "save_image", "read_metadata", "__version__",
]
