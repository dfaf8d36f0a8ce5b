"""Held-out bits/dim of a model (the DDPM variational bound, core.diffusion.vlb) and sample grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core.device import randn
from core.diffusion.samplers import SamplerConfig, final_step
from core.diffusion.schedulers import sample_loop
from core.diffusion.vlb import bits_per_dim
from core.errors import DataError
from core.imaging.scaling import images_to_tensor, tensor_to_images
from core.models.checkpoint import LoadedModel
from core.training.data import load_dataset, split_holdout


def held_out_images(model: LoadedModel, data: str) -> np.ndarray:
    """The images ``train`` held out for this model: same data, same split seed and fraction."""
    provenance = model.config.get("provenance", {})
    images = load_dataset(data, model.image_size)
    seed = int(provenance.get("holdout_seed", 0))
    fraction = float(provenance.get("holdout_fraction", 0.1))
    _, held = split_holdout(len(images), fraction, seed=seed)
    if len(held) == 0:
        raise DataError("no images are held out for evaluation (the data set is too small)")
    return images[held]


def evaluate_bpd(
    model: LoadedModel,
    images: np.ndarray,
    *,
    batch_size: int = 64,
    stride: int = 10,
    seed: int = 0,
    variance: str = "fixed_small",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Mean bits/dim of uint8 images [N, H, W, C] under the model's bound.

    ``progress(done, total)`` is called after each batch with the number of images evaluated so far.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    totals, priors = [], []
    for start in range(0, len(images), batch_size):
        batch = images_to_tensor(images[start : start + batch_size])
        batch = batch.to(model.device)
        result = bits_per_dim(
            model,
            model.schedule,
            batch,
            prediction=model.prediction,
            variance=variance,
            generator=gen,
            stride=stride,
        )
        totals.append(result["total"].cpu())
        priors.append(result["prior"].cpu())
        if progress is not None:
            progress(min(start + batch_size, len(images)), len(images))
    total = torch.cat(totals)
    return {
        "bpd": float(total.mean()),
        "bpd_sem": float(total.std() / len(total) ** 0.5) if len(total) > 1 else 0.0,
        "prior_bpd": float(torch.cat(priors).mean()),
        "images": len(total),
        "stride": stride,
    }


def sample_grid_images(
    model: LoadedModel,
    config: SamplerConfig,
    n: int,
    progress: Callable[[int, int], None] | None = None,
    size: int | None = None,
) -> np.ndarray:
    """n samples from pure noise as uint8 [n, H, W, C] at ``size``² (default: the model's own size);
    ``progress(step, steps)`` after each step."""
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    side = size or model.image_size
    x = randn((n, model.channels, side, side), gen, model.device)
    steps = sample_loop(model, model.schedule, config, x, prediction=model.prediction, generator=gen)
    if progress is not None:
        steps = (progress(s.n + 1, s.num_steps) or s for s in steps)
    last = final_step(steps)
    return tensor_to_images(last.x_prev)


def nearest_training(images: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each image, the index of its closest training image and the RMS distance to it (0–255 scale)."""
    a = images.reshape(len(images), -1).astype(np.float64)
    b = train.reshape(len(train), -1).astype(np.float64)
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
    idx = d2.argmin(1)
    return idx, np.sqrt(np.maximum(d2[np.arange(len(a)), idx], 0) / a.shape[1])


def heldout_neighbour_distances(
    held: np.ndarray, train: np.ndarray, held_groups: list[str], train_groups: list[str]
) -> dict:
    """How far real unseen images lie from the training set: the yardstick for samples' distances.

    Every held-out image counts (the split is random, but its indices are sorted in font order, so a
    prefix is not a fair subset). The font draws many emoji in several skin tones; a held-out emoji
    whose sibling was trained on lies much closer than a truly new one, so both halves are reported.
    """
    _, dist = nearest_training(held, train)
    seen = set(train_groups)
    sibling = np.array([g in seen for g in held_groups], dtype=bool)

    def median(d: np.ndarray) -> float:
        return float(np.median(d)) if len(d) else float("nan")

    return {
        "median": median(dist),
        "median_with_sibling": median(dist[sibling]),
        "median_without_sibling": median(dist[~sibling]),
        "with_sibling": int(sibling.sum()),
        "without_sibling": int((~sibling).sum()),
    }


def describe(model: LoadedModel) -> str:
    where = f" ({Path(model.path)})" if model.path else ""
    return (
        f"{model.name}{where}: {model.image_size}² × {model.channels}, predicts {model.prediction}, {model.schedule!r}"
    )
