"""Training data: the Noto Color Emoji bitmaps or any folder of images, as uint8 arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import DataError, ImageLoadError
from core.images import center_square, load_image, to_rgb

EMOJI_FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/Library/Fonts/NotoColorEmoji.ttf",
)
EMOJI_INSTALL_HINT = "install it with: sudo apt-get install fonts-noto-color-emoji"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def find_emoji_font() -> Path:
    for candidate in EMOJI_FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise DataError(f"the Noto Color Emoji font was not found; {EMOJI_INSTALL_HINT}")


def load_emoji(size: int, font_path: str | Path | None = None) -> np.ndarray:
    """Every colour bitmap of Noto Color Emoji, composited on white, centred square, resized.

    Returns uint8 [N, size, size, 3] in the font's glyph order (deterministic).
    """
    from fontTools.ttLib import TTFont

    path = Path(font_path) if font_path else find_emoji_font()
    try:
        font = TTFont(str(path), lazy=True)
        strikes = font["CBDT"].strikeData
    except KeyError:
        raise DataError(f"{path} has no colour bitmaps (CBDT table); {EMOJI_INSTALL_HINT}") from None
    except Exception as exc:  # fontTools raises many types on a broken font
        raise DataError(f"{path} could not be read as a font: {exc}") from None
    images = []
    for name in sorted(strikes[0]):
        bitmap = strikes[0][name]
        bitmap.decompile()
        with Image.open(io.BytesIO(bitmap.imageData)) as im:
            rgb = np.asarray(to_rgb(im))
        images.append(_pad_square_white(rgb, size))
    if not images:
        raise DataError(f"{path} holds no emoji bitmaps")
    return np.stack(images)


def _pad_square_white(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = max(h, w)
    canvas = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = rgb
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.Resampling.LANCZOS))


def load_folder(folder: str | Path, size: int) -> np.ndarray:
    """Every readable image under ``folder`` (recursively), centre-cropped to ``size``²."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of images")
    images = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            images.append(center_square(load_image(path), size))
        except ImageLoadError:
            continue
    if not images:
        raise DataError(f"{folder} holds no readable images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return np.stack(images)


def load_dataset(data: str, size: int) -> np.ndarray:
    """``emoji`` or a folder path → uint8 [N, size, size, 3]."""
    return load_emoji(size) if data == "emoji" else load_folder(data, size)


def split_holdout(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, held-out) index arrays; the held-out part is ``fraction`` of n (at least 1 when n > 1)."""
    order = np.random.default_rng(seed).permutation(n)
    n_hold = max(1, round(n * fraction)) if n > 1 else 0
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])
