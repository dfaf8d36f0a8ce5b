"""The 2-D data sets, points from an image's ink, and points drawn with the mouse."""

from __future__ import annotations

import math

import numpy as np
import torch

from core.choices import TOY_DATASETS
from core.errors import DataError
from core.toy2d.mixture import GaussianMixture, default_mixture
from core.toy2d.points import as_points

DATASETS = TOY_DATASETS
# Every data set, an image's points and drawn points are fitted into [−BOX, BOX]².
BOX = 2.0
MIN_DRAWN_POINTS = 20
# The labelled data sets for classifier-free guidance (#24) and their number of classes.
NUM_CLASSES = {"moons": 2, "8gaussians": 8, "checkerboard": 8, "mixture": 3}


def make_dataset(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of a named 2-D data set as a float32 tensor ``[n, 2]`` within about [−2, 2]².

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``moons`` (two interleaved half circles), ``swiss_roll`` (one arm of
        r = θ), ``8gaussians`` (eight blobs on a circle), ``checkerboard`` (the dark squares of a 4 × 4
        board), ``spiral`` (two interleaved arms) or ``mixture`` (:func:`default_mixture`).
    n : int
        Number of points.
    generator : torch.Generator, optional
        Source of randomness.
    """
    return _make(name, n, generator)[0]


def make_labelled_dataset(
    name: str, n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The points of :func:`make_dataset` (the same draw) and each one's class, a LongTensor ``[n]``.

    The classes (:data:`NUM_CLASSES`): the upper and the lower moon; the 8 Gaussians; the checkerboard's 8 dark
    squares, row by row from the bottom; the mixture's components. Other data sets have none.

    Raises
    ------
    DataError
        If the data set has no classes.
    """
    if name in DATASETS and name not in NUM_CLASSES:
        raise DataError(f"{name} has no classes to guide towards; take one of {', '.join(NUM_CLASSES)}")
    points, labels = _make(name, n, generator)
    return points, labels


def check_class(name: str, label: int) -> int:
    """The class ``label`` of data set ``name``, or a :class:`DataError` saying how many classes it has."""
    if name not in NUM_CLASSES:
        raise DataError(f"{name} has no classes to guide towards; take one of {', '.join(NUM_CLASSES)}")
    if not 0 <= label < NUM_CLASSES[name]:
        raise DataError(f"class {label}: {name} has {NUM_CLASSES[name]} classes (0 to {NUM_CLASSES[name] - 1})")
    return label


def _make(name: str, n: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    labels = None
    if name == "moons":
        upper = torch.rand(n, generator=generator) < 0.5
        theta = math.pi * u
        outer = torch.stack([theta.cos(), theta.sin()], 1)
        inner = torch.stack([1.0 - theta.cos(), 0.5 - theta.sin()], 1)
        points = torch.where(upper[:, None], outer, inner) - torch.tensor([0.5, 0.25], dtype=torch.float64)
        points = 1.25 * (points + 0.05 * noise)
        labels = (~upper).long()  # 0: the upper moon, 1: the lower
    elif name == "swiss_roll":
        theta = 1.5 * math.pi * (1.0 + 2.0 * u)  # r = θ from 1.5π to 4.5π: one and a half turns
        points = torch.stack([theta * theta.cos(), theta * theta.sin()], 1) / 7.5 + 0.04 * noise
    elif name == "8gaussians":
        points, labels = eight_gaussians().sample_labelled(n, generator)
        return points, labels
    elif name == "checkerboard":
        # The 8 cells (i, j) of a 4 × 4 board with i + j even, uniform inside each, over [−2, 2]².
        cell = torch.randint(0, 8, (n,), generator=generator)
        row = cell // 2
        col = 2 * (cell % 2) + row % 2
        inside = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        points = torch.stack([col, row], 1).double() + inside - 2.0
        labels = cell
    elif name == "spiral":
        arm = (torch.rand(n, generator=generator) < 0.5).double() * 2.0 - 1.0
        theta = 3.0 * math.pi * u.sqrt()  # √u spreads the points evenly along the arm's length
        r = 1.9 * theta / (3.0 * math.pi)
        points = arm[:, None] * torch.stack([r * theta.cos(), r * theta.sin()], 1) + 0.04 * noise
    else:
        return default_mixture().sample_labelled(n, generator)
    return points.float(), labels


def eight_gaussians() -> GaussianMixture:
    """Eight blobs of std 0.1 on a circle of radius 1.5: the ``8gaussians`` data set."""
    angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
    means = 1.5 * torch.stack([angles.cos(), angles.sin()], 1)
    return GaussianMixture(means, torch.full((8,), 0.1), torch.ones(8))


def points_from_image(image: np.ndarray, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample ``n`` points from the ink of an image, as a float32 tensor ``[n, 2]`` fitted to [−2, 2]².

    The ink is the opaque pixels (alpha ≥ 128) of an image with transparency, else the dark pixels
    (luminance < 128). Each point is a uniformly chosen ink pixel, jittered uniformly inside it; y points up.
    The ink's bounding box is centred and scaled, keeping its aspect, to fill [−2, 2]².

    Parameters
    ----------
    image : numpy.ndarray
        uint8 ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]``.
    n : int
        Number of points.
    generator : torch.Generator, optional
        Source of randomness.

    Raises
    ------
    DataError
        If the image has no dark (or opaque) pixel.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None].repeat(3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise DataError(f"expected an RGB or RGBA image, got an array of shape {image.shape}")
    if image.shape[2] == 4 and image[:, :, 3].min() < 255:
        ink = image[:, :, 3] >= 128
    else:
        rgb = image[:, :, :3].astype(np.float32)
        ink = rgb @ np.array([0.299, 0.587, 0.114], np.float32) < 128  # ITU-R BT.601 luma
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        raise DataError("the image has no dark (or opaque) pixel to take points from; draw in black on white")
    pick = torch.randint(0, rows.size, (n,), generator=generator).numpy()
    jitter = torch.rand(n, 2, generator=generator, dtype=torch.float64).numpy()
    height = image.shape[0]
    # Pixel (row, col) covers x ∈ [col, col+1), y ∈ (H−row−1, H−row] with y pointing up.
    x = cols[pick] + jitter[:, 0]
    y = height - rows[pick] - jitter[:, 1]
    lo = np.array([cols.min(), height - rows.max() - 1], np.float64)
    hi = np.array([cols.max() + 1, height - rows.min()], np.float64)
    return _fit_box(torch.from_numpy(np.stack([x, y], 1)), torch.from_numpy(lo), torch.from_numpy(hi))


def check_drawn_points(points, minimum: int = MIN_DRAWN_POINTS) -> torch.Tensor:
    """The user's drawn points as a float32 tensor ``[n, 2]``, or a :class:`DataError` when they will not do.

    Raises
    ------
    DataError
        If there are fewer than ``minimum`` points, or a point is not finite.
    """
    points = as_points(points) if len(points) else torch.zeros(0, 2)
    if points.shape[0] < minimum:
        raise DataError(f"draw at least {minimum} points to train on (there are {points.shape[0]})")
    if not bool(torch.isfinite(points).all()):
        raise DataError("a drawn point is not a finite number")
    return points


def normalise_points(points) -> torch.Tensor:
    """Centre a point cloud's bounding box and scale it, keeping its aspect, to fill [−2, 2]².

    A cloud with no extent (one spot) is only centred.
    """
    points = as_points(points, torch.float64)
    return _fit_box(points, points.min(0).values, points.max(0).values)


def _fit_box(points: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Map the box [lo, hi] onto [−BOX, BOX]² (one scale for both axes); float32 out."""
    half = float((hi - lo).max()) / 2
    scale = BOX / half if half > 0 else 1.0
    return ((points - (lo + hi) / 2) * scale).float()
