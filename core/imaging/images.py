"""Reading images from disk into RGB uint8 arrays, and the [−1, 1] scaling the models use."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import ImageLoadError

# A decompression bomb (an image that claims a huge size) is refused instead of read into memory.
MAX_PIXELS = 8192 * 8192
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as RGB: transparency composited on white, 16-bit scaled, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        arr = np.nan_to_num(np.asarray(image, dtype=np.float64))
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
        scaled = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        image = Image.fromarray((scaled * 255 + 0.5).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read the image at ``path`` as an RGB uint8 array [H, W, 3].

    EXIF orientation is applied; animated files give their first frame. Every failure
    raises :class:`ImageLoadError` with a message for the user.
    """
    path = Path(path)
    name = str(path.expanduser().absolute())  # the full path: "missing.jpg" alone does not say where it was looked for
    if path.is_dir():
        raise ImageLoadError(f"{name} is a folder, not an image")
    if not path.exists():
        raise ImageLoadError(f"{name} does not exist")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image) or image
                rgb = to_rgb(image)
        # Some decoders (TIFF) only warn when the data ends early and hand back a partial image.
        if any("runcat" in str(w.message) for w in caught):
            raise OSError("truncated data")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(
            f"{name} is too large to open safely (more than {MAX_PIXELS // 1_000_000} megapixels)"
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{name} is not an image this program can read") from None
    except PermissionError:
        raise ImageLoadError(f"{name} cannot be read: permission denied") from None
    except MemoryError:
        raise ImageLoadError(f"{name} is too large to open") from None
    except Exception as exc:  # Pillow's decoders raise many types on damaged data
        raise ImageLoadError(f"{name} could not be read: it looks truncated or corrupt ({exc})") from None
    if rgb.width < 1 or rgb.height < 1:
        raise ImageLoadError(f"{name} has no pixels")
    return np.asarray(rgb, dtype=np.uint8).copy()


def fit_long_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink an RGB uint8 image so its long side is at most ``max_side`` (never enlarges)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    """Crop the central square of an RGB uint8 image and resize it to ``size`` × ``size``."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS if side > size else Image.Resampling.BICUBIC))
