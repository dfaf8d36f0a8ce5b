"""The files diffusion-viz ships as package data: the bundled model(s) and the sample image.

Found through :mod:`importlib.resources`, so a source checkout, ``pip install .``, a wheel and
pipx all find them, from any working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """The path of a shipped file or folder, e.g. ``asset_path("models", "emoji32")``."""
    return Path(str(files(__name__).joinpath(*parts)))


SAMPLE_IMAGE = asset_path("sample.png")
MODELS = asset_path("models")
PHOTOS = asset_path("photos")  # held-out sample photographs (see NOTICE)
