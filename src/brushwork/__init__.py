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
from .schedule import plan_scales
from .steps import Step
from .tiles import Progress
from .transfer import check_inputs, iter_stylize, stylize
from .vgg import load_model
from .video import Frame, iter_stylize_video

from .version import __version__

__all__ = [
    "BrushworkError", "DeviceError", "DivergenceError", "InputError", "WeightsError",
    "Settings", "VideoSettings", "Step", "Progress", "check_inputs", "iter_stylize", "stylize",
    "load_model", "plan_scales",
    "Frame", "iter_stylize_video",
    "load_image", "save_image", "read_metadata", "__version__",
]
