"""brushwork: neural style transfer after Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic
Style" (arXiv 1508.06576).

    >>> import brushwork
    >>> picture = brushwork.stylize("photo.jpg", "painting.jpg", brushwork.Settings(size=256))
    >>> picture.save("out.png")

Nothing runs at import time: the weights load when a run starts.
"""

from .errors import BrushworkError, DeviceError, DivergenceError, InputError, WeightsError
from .images import load_image, read_metadata, save_image
from .settings import Settings, VideoSettings
from .transfer import Step, iter_stylize, load_model, plan_scales, stylize
from .video import Frame, iter_stylize_video

__version__ = "0.4.0"

__all__ = [
    "BrushworkError", "DeviceError", "DivergenceError", "InputError", "WeightsError",
    "Settings", "VideoSettings", "Step", "iter_stylize", "stylize", "load_model", "plan_scales",
    "Frame", "iter_stylize_video",
    "load_image", "save_image", "read_metadata", "__version__",
]
