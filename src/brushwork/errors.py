"""Typed errors. Each carries the input it is about, the problem and the fix, so every front end
(CLI, web app, Python) can show one clear line instead of a traceback."""

from __future__ import annotations


class BrushworkError(Exception):
    """Base class for every error brushwork raises on purpose."""


class InputError(BrushworkError, ValueError):
    """Something the user gave us (a file, an argument) cannot be used."""

    def __init__(self, what: str, problem: str, fix: str) -> None:
        self.what, self.problem, self.fix = what, problem, fix
        super().__init__(f"{what}: {problem}; {fix}")


class DeviceError(BrushworkError, RuntimeError):
    """The requested device does not exist or cannot hold the run."""


class WeightsError(BrushworkError, RuntimeError):
    """VGG-19 weights are missing, damaged or of the wrong shape."""


class DivergenceError(BrushworkError, ArithmeticError):
    """The loss became NaN or infinite. `image` is the last finite image, `step` its step."""

    def __init__(self, step: int, image, hint: str) -> None:  # image: PIL.Image.Image
        self.step, self.image = step, image
        super().__init__(f"the loss became NaN or infinite at step {step}; {hint}")
