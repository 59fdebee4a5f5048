"""The version, in a module of its own: the run record reads it without importing the package's
face (which imports the video driver, which imports the loop)."""

__version__ = "0.9.0"
