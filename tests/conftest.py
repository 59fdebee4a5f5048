from __future__ import annotations

import io

import pytest
from PIL import Image

import brushwork
from brushwork import examples
from brushwork.transfer import load_model


@pytest.fixture(scope="session")
def model():
    """The real bundled VGG-19 with the default layers and pooling, loaded once."""
    return load_model(brushwork.Settings(), "cpu")


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    return brushwork.load_image(examples.CONTENT)


@pytest.fixture(scope="session")
def painting() -> Image.Image:
    return brushwork.load_image(examples.STARRY_NIGHT)


@pytest.fixture(scope="session")
def scream() -> Image.Image:
    return brushwork.load_image(examples.STYLES["The Scream (Munch)"])


def tiny(**changes) -> brushwork.Settings:
    """Settings for a fast CPU run."""
    return brushwork.Settings(**{"size": 64, "steps": 6, "device": "cpu", **changes})


def png_bytes(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


class Upload:
    """What Streamlit's file_uploader hands the app: a name and the bytes."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def getvalue(self) -> bytes:
        return self.data
