"""SHA-256 of the pictures a few fixed runs paint, to show that a change of shape (not of
pictures) paints the same bytes on this machine: run it before and after, and compare.

    python scripts/byte_identity.py > before.json
    ... change the code ...
    python scripts/byte_identity.py | diff before.json -

The runs: a still at two scales, a tiled still, regions with two paintings, colour preservation,
Adam from noise, and the first two frames of a video (the second from the flow).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from PIL import Image

import brushwork
from brushwork import examples


def digest(im: Image.Image) -> str:
    return hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest()[:16]


def main() -> None:
    photo = brushwork.load_image(examples.CONTENT)
    starry = brushwork.load_image(examples.STARRY_NIGHT)
    scream = brushwork.load_image(examples.STYLES["The Scream (Munch)"])
    base = brushwork.Settings(size=96, steps=12, device="cpu", seed=3)
    left = Image.new("L", photo.size, 0)
    left.paste(255, (0, 0, photo.width // 2, photo.height))
    right = Image.eval(left, lambda v: 255 - v)
    runs = {
        "still, two scales": lambda: brushwork.stylize(photo, starry, base.replace(scales=2)),
        "tiled": lambda: brushwork.stylize(photo, starry, base.replace(tile=48, size=128)),
        "regions": lambda: brushwork.stylize(photo, [starry, scream], base, masks=[left, right]),
        "luminance": lambda: brushwork.stylize(photo, starry, base.replace(preserve_color="luminance")),
        "adam from noise": lambda: brushwork.stylize(photo, scream, base.replace(
            optimizer="adam", init="noise")),
    }
    out = {name: digest(run()) for name, run in runs.items()}
    try:
        frames = brushwork.iter_stylize_video(examples.pan_clip(2, (128, 96)), starry,
                                              base.replace(size=64), brushwork.VideoSettings(frame_steps=4))
        for f in frames:
            out[f"video frame {f.index}"] = digest(f.image())
    except brushwork.InputError as e:  # no [video] extra
        out["video"] = str(e)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
