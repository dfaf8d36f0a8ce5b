"""The models a person can pick without knowing a path: the bundled networks and the closed-form models of
the bundled data, each with the spec string ``load_model`` takes and one line saying what it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assets import MODELS

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class ModelChoice:
    label: str  # what the menu shows
    spec: str  # what load_model takes
    about: str  # one line: what it is, what it was trained on
    domain: str = ""  # what a bundled network was trained on ("emoji", "photographs"); "" for closed forms


def bundled_choices() -> list[ModelChoice]:
    """The bundled networks first (those whose folder is present), then the closed-form models of their data."""
    choices = []
    if (MODELS / "emoji32" / "config.json").is_file():
        choices.append(
            ModelChoice(
                "emoji32", str(MODELS / "emoji32"), "a 1.6 M-parameter UNet trained on Noto Color Emoji, 32 px", "emoji"
            )
        )
    if (MODELS / "photo" / "config.json").is_file():
        choices.append(
            ModelChoice(
                "photo",
                str(MODELS / "photo"),
                "a fully convolutional UNet trained on photographs; runs at 64, 128 (default) or 256 px",
                "photographs",
            )
        )
    choices.append(
        ModelChoice(
            "ideal:emoji", "ideal:emoji", "the ideal denoiser of emoji32's training set: it only ever lands on one"
        )
    )
    choices.append(
        ModelChoice("gaussian:emoji", "gaussian:emoji", "the Gaussian (mean and covariance) of emoji32's training set")
    )
    if (MODELS / "photo" / "gaussian_spectrum.npz").is_file():
        choices.append(
            ModelChoice(
                "gaussian:photos",
                "gaussian:photos",
                "the stationary Gaussian of the photo model's training photos: a Wiener filter per frequency",
            )
        )
    return choices


def count_pictures(folder: str | Path, limit: int = 100_000) -> int:
    """How many picture files lie under ``folder`` (by suffix, recursively; 0 if none or not a folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    n = 0
    for path in folder.rglob("*"):
        if path.suffix.lower() in PICTURE_SUFFIXES and path.is_file():
            n += 1
            if n >= limit:
                break
    return n
