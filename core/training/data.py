"""Training data: the Noto Color Emoji bitmaps or any folder of images, as uint8 arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from core.errors import DataError, ImageLoadError
from core.imaging.datasets import (  # noqa: F401 - the data sources live below models and training
    EMOJI_FONT_PATHS,
    EMOJI_INSTALL_HINT,
    IMAGE_SUFFIXES,
    SKIN_TONE_GLYPHS,
    emoji_groups,
    find_emoji_font,
    group_weights,
    load_dataset,
    load_emoji,
    load_folder,
    split_holdout,
)
from core.imaging.images import fit_long_side, load_image


def load_photos(folder: str | Path, long_side: int, min_side: int = 32) -> tuple[list[np.ndarray], list[str]]:
    """Every readable image under ``folder`` (recursively) at its own aspect, shrunk to ``long_side`` at most.

    Returns the uint8 [H, W, 3] arrays and their paths relative to ``folder``, sorted by path; images whose
    short side is below ``min_side`` are skipped (no crop of them would be worth training on).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of images")
    photos, names = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            image = fit_long_side(load_image(path), long_side)
        except ImageLoadError:
            continue
        if min(image.shape[:2]) >= min_side:
            photos.append(image)
            names.append(str(path.relative_to(folder)))
    if not photos:
        raise DataError(f"{folder} holds no readable image with a side of at least {min_side} px")
    return photos, names


class RandomScaleCrops:
    """Square crops of photos taken at random positions and random scales, resized to ``size``².

    Natural images are close to scale-invariant, so crops of a few big photos at many scales stand in
    for many small photos. The side of the crop in the stored photo is ``size · s`` with log s uniform in
    [log min_scale, log max_scale], capped at the photo's short side (``max_scale = 0``: up to the short
    side, i.e. down to a thumbnail of the whole photo's centre square).
    """

    def __init__(self, photos: list[np.ndarray], size: int, min_scale: float = 1.0, max_scale: float = 0.0) -> None:
        if not photos:
            raise DataError("no photos to crop")
        if min_scale <= 0 or (max_scale and max_scale < min_scale):
            raise DataError(f"crop scales must satisfy 0 < min ≤ max, got {min_scale} and {max_scale}")
        self.photos = [torch.from_numpy(np.array(p, dtype=np.uint8, copy=True)).permute(2, 0, 1) for p in photos]
        self.size = size
        self.min_scale = min_scale
        self.max_scale = max_scale

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n crops as float32 [n, 3, size, size] in [−1, 1] (the models' scaling)."""
        out = torch.empty((n, 3, self.size, self.size))
        which = torch.randint(0, len(self.photos), (n,), generator=generator)
        u = torch.rand((n, 3), generator=generator, dtype=torch.float64)
        for k in range(n):
            photo = self.photos[int(which[k])]
            h, w = photo.shape[1:]
            short = min(h, w)
            hi = min(self.max_scale, short / self.size) if self.max_scale else short / self.size
            lo = min(self.min_scale, hi)
            side = int(round(self.size * math.exp(math.log(lo) + float(u[k, 0]) * (math.log(hi) - math.log(lo)))))
            side = max(1, min(side, short))
            top = int(float(u[k, 1]) * (h - side + 1))
            left = int(float(u[k, 2]) * (w - side + 1))
            crop = photo[:, top : top + side, left : left + side].float()[None]
            if side != self.size:
                crop = F.interpolate(
                    crop, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
                )
            out[k] = crop[0]
        return out.div_(127.5).sub_(1.0).clamp_(-1.0, 1.0)
