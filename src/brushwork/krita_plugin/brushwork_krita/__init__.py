"""brushwork inside Krita: a docker that paints the active layer, the whole image or a selection
in the style of a painting, through `brushwork serve` on this machine or another. It uses only
what Krita's own Python has (PyQt5 and the standard library): never torch, never `brushwork`.
"""

from krita import DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita

from .docker import BrushworkDocker

DOCKER_ID = "brushwork_docker"


class BrushworkExtension(Extension):
    """The menu entry (Tools ▸ Scripts ▸ Paint with brushwork…), which shows the docker."""

    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:
        action = window.createAction("brushwork_show_docker", "Paint with brushwork…",
                                     "tools/scripts")
        action.triggered.connect(lambda: show_docker(window))


def show_docker(window) -> None:
    for dock in Krita.instance().dockers():
        if dock.objectName() == DOCKER_ID:
            dock.show()
            dock.raise_()


Krita.instance().addDockWidgetFactory(
    DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, BrushworkDocker))
Krita.instance().addExtension(BrushworkExtension(Krita.instance()))
