"""The pictures a model was trained on, found again from its provenance (what the closed-form theories need).

emoji32's are the Noto Color Emoji bitmaps minus its held-out split; a model trained on a folder names the
folder; the photo model was trained on random-scale crops of named photos (``train --crop``), which are not
shipped: its "training set" is a fixed, seeded draw of crops of those photos by the same crop rule, from a
folder given as ``data`` or by the environment variable :data:`PHOTOS_ENV`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from core.errors import DataError
from core.imaging.datasets import load_emoji, load_folder, split_holdout
from core.imaging.scaling import tensor_to_images
from core.models.checkpoint import BUNDLED_MODEL, LoadedModel
from core.training.data import RandomScaleCrops, load_photos

PHOTOS_ENV = "DIFFUSION_VIZ_PHOTOS"
# Crops of the training photos that stand in for the photo model's training set: about emoji32's 3 533
# images, and more than the 3 072 dimensions of a 32² picture, so the full covariance has full rank.
PHOTO_CROPS = 4096
MIN_PHOTO_CROPS = 256


def photo_training_crops(
    folder: str | Path, provenance: dict, size: int, n: int = PHOTO_CROPS, seed: int = 0
) -> np.ndarray:
    """n crops (uint8 [n, size, size, 3]) of the photos ``provenance["photos"]["train"]`` names, under ``folder``.

    The crop rule is the training run's (:class:`RandomScaleCrops` with its recorded photo side and scales).
    Raises :class:`DataError` when the folder lacks a training photo.
    """
    crops = provenance.get("crops", {})
    names = list(provenance["photos"]["train"])
    photos, found = load_photos(Path(folder).expanduser(), int(crops.get("photo_side", 768)), min_side=size)
    missing = [name for name in names if name not in found]
    if missing:
        raise DataError(
            f"{folder} lacks {len(missing)} of the {len(names)} training photos (e.g. {missing[0]}); "
            "scripts/photo_data.py gathers them"
        )
    max_scale = crops.get("max_scale", 0.0)
    max_scale = 0.0 if isinstance(max_scale, str) else float(max_scale)  # "short side" is 0 in RandomScaleCrops
    sampler = RandomScaleCrops(
        [photos[found.index(name)] for name in names], size, float(crops.get("min_scale", 1.0)), max_scale
    )
    return tensor_to_images(sampler.sample(n, torch.Generator().manual_seed(seed)))


def training_images(model: LoadedModel, data: str | None = None, size: int | None = None) -> np.ndarray:
    """The pictures ``model`` was trained on (its held-out ones left out where it recorded its split), uint8.

    ``data`` = "emoji" or a folder overrides what the model's provenance says (for the photo model: the
    folder of its photos). ``size`` (default: the model's own) is the side they are given at; the photo
    model's crops are then taken by the same rule at that size, fewer of them as it grows (the same number
    of pixels). Raises :class:`DataError` naming what is needed when they cannot be found.
    """
    provenance = model.config.get("provenance", {}) if model.config else {}
    source = data or provenance.get("data", "")
    own = int(model.image_size)
    size = own if size is None else int(size)
    photos = provenance.get("photos")
    if isinstance(photos, dict) and photos.get("train") and data != "emoji":
        folder = data or os.environ.get(PHOTOS_ENV, "")
        if not folder:
            raise DataError(
                f"{model.name} was trained on crops of {len(photos['train'])} photos that are not shipped: give "
                f"their folder (scripts/photo_data.py writes it) as --data, as {PHOTOS_ENV} or by Training pictures…"
            )
        n = max(MIN_PHOTO_CROPS, PHOTO_CROPS * own * own // (size * size))
        return photo_training_crops(folder, provenance, size, n)
    if source == "emoji" or (data is None and "emoji" in str(source).lower()):
        images = load_emoji(size)
        if data is None or model.path == BUNDLED_MODEL:
            train, _ = split_holdout(
                len(images),
                float(provenance.get("holdout_fraction", 0.1)),
                seed=int(provenance.get("holdout_seed", 0)),
            )
            images = images[train]
        return images
    if source and Path(source).expanduser().is_dir():
        return load_folder(Path(source).expanduser(), size)
    raise DataError(
        f"the training pictures of {model.name} cannot be found (its config says {source!r}); "
        "pass --data emoji or --data FOLDER with the pictures it was trained on"
    )
