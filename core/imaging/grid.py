"""Image grids of samples."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from core.imaging.files import atomic_write_bytes


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """uint8 [N, H, W, C] → one uint8 [H', W', C] grid on white, nearest-neighbour scaled."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = im
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_grid(images: np.ndarray, path: str | Path, columns: int | None = None, scale: int = 4) -> Path:
    """Write a PNG grid of ``images`` atomically."""
    path = Path(path)
    buf = io.BytesIO()
    Image.fromarray(make_grid(images, columns, scale=scale)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
