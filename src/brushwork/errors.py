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
    """The loss could not be brought down any more (NaN, infinite, or exploding at every try).

    `image` is the best picture of the run so far and `step` the step that evaluated it;
    `failed_at` is the step where the run gave up.
    """

    def __init__(self, step: int, image, failed_at: int, hint: str) -> None:  # image: PIL
        self.step, self.image, self.failed_at = step, image, failed_at
        super().__init__(f"the loss became NaN, infinite or exploded at every try by step "
                         f"{failed_at}; {hint}")


def short(e: BaseException) -> str:
    """The first line of an exception's message (or its type), at most 120 characters: a
    library's error inside one of ours."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:120]
