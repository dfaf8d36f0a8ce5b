"""Image data sets, read by training and by the ideal denoiser alike: the emoji font, folders of pictures,
and the deterministic held-out split. A leaf below ``core.models`` and ``core.training``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import DataError, ImageLoadError
from core.imaging.images import center_square, load_image, to_rgb

EMOJI_FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/Library/Fonts/NotoColorEmoji.ttf",
)
EMOJI_INSTALL_HINT = "install it with: sudo apt-get install fonts-noto-color-emoji"
SKIN_TONE_GLYPHS = frozenset(f"u1F3F{c}" for c in "BCDEF")  # Fitzpatrick modifiers U+1F3FB…U+1F3FF
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


def emoji_groups(font_path: str | Path | None = None) -> list[str]:
    """One key per bitmap of :func:`load_emoji` (same order): the emoji with its skin-tone modifiers removed.

    Noto draws many people emoji in up to 26 skin-tone combinations, each a GSUB ligature; bitmaps that
    share a key are variants of one drawing. Training can weight them so steps go to variety.
    """
    from fontTools.ttLib import TTFont

    path = Path(font_path) if font_path else find_emoji_font()
    font = TTFont(str(path), lazy=True)
    names = sorted(font["CBDT"].strikeData[0])
    key: dict[str, str] = {}
    if "GSUB" in font:
        for lookup in font["GSUB"].table.LookupList.Lookup:
            for sub in lookup.SubTable:
                sub = getattr(sub, "ExtSubTable", sub)
                for first, ligatures in (getattr(sub, "ligatures", None) or {}).items():
                    for lig in ligatures:
                        parts = [first, *lig.Component]
                        key[lig.LigGlyph] = "+".join(p for p in parts if p not in SKIN_TONE_GLYPHS)
    return [key.get(name, name) for name in names]


def group_weights(groups: list[str]) -> np.ndarray:
    """Sampling weights that give every group the same total weight (1 / group size each)."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    return np.array([1.0 / counts[g] for g in groups])


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
