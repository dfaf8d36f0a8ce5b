"""How close two point clouds are, and how close a learned score field is to the exact one."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from core.diffusion.schedules import NoiseSchedule
from core.toy2d.mixture import GaussianMixture
from core.toy2d.points import as_points
from core.toy2d.sampling import ModelFn, field_on_grid


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, projections: int = 128, generator: torch.Generator | None = None
) -> float:
    """Sliced 2-Wasserstein distance between two point clouds ``[n, 2]`` and ``[m, 2]``.

    SW₂(a, b)² = E_θ W₂²(⟨θ, a⟩, ⟨θ, b⟩) over directions θ on the circle (Rabin et al. 2011; Bonneel et al.
    2015). The directions are ``projections`` angles evenly spaced over [0, π) with one random offset from
    ``generator`` (a stratified estimate; no generator: offset 0). Each 1-D W₂² is ∫₀¹ |F_a⁻¹(q) − F_b⁻¹(q)|² dq
    by the midpoint rule on max(n, m) quantile levels, which is exact when n = m (sorted projections paired).

    Returns
    -------
    float
        SW₂ in the points' units.
    """
    a, b = as_points(a, torch.float64), as_points(b, torch.float64)
    offset = 0.0 if generator is None else float(torch.rand((), generator=generator, dtype=torch.float64))
    angles = (torch.arange(projections, dtype=torch.float64) + offset) * math.pi / projections
    directions = torch.stack([angles.cos(), angles.sin()], 0)  # [2, P]
    pa = torch.sort(a @ directions, dim=0).values
    pb = torch.sort(b @ directions, dim=0).values
    levels = (torch.arange(max(len(a), len(b)), dtype=torch.float64) + 0.5) / max(len(a), len(b))
    qa = pa[(levels * len(a)).long()]
    qb = pb[(levels * len(b)).long()]
    return float(((qa - qb) ** 2).mean().sqrt())


def score_error_on_grid(
    model_fn: ModelFn,
    mixture: GaussianMixture,
    schedule: NoiseSchedule,
    t: int,
    prediction: str = "eps",
    lo: float = -2.5,
    hi: float = 2.5,
    k: int = 48,
) -> np.ndarray:
    """The learned score against the exact one: ‖s_θ − ∇ log q_t‖ / ‖∇ log q_t‖ on a k × k grid (row 0 at ``lo``).

    Where the map is dark the network has learned the field; it is usually worst far from the data, where
    training rarely put an x_t.
    """
    grid, learned = field_on_grid(model_fn, schedule, t, prediction, lo, hi, k)
    exact = mixture.score(torch.from_numpy(grid), t, schedule).to(torch.float32).numpy()
    error = np.linalg.norm(learned - exact, axis=1) / (np.linalg.norm(exact, axis=1) + 1e-8)
    return error.reshape(k, k)


# -- straightness of a flow (#24) -------------------------------------------------------------------------------


def straightness(paths: np.ndarray, times: Sequence[float]) -> np.ndarray:
    """Liu et al. 2023's straightness S = ∫₀¹ ‖(X_1 − X_0) − Ẋ_s‖² ds of each trajectory; 0 is a straight line.

    Ẋ_s is taken from the positions, (x_k − x_{k+1}) / (s_k − s_{k+1}) on each step of the grid (the velocity an
    Euler step used), and the integral is their sum weighted by the step lengths.

    Parameters
    ----------
    paths : numpy.ndarray
        ``[P, K + 1, 2]``: each trajectory's positions at ``times``.
    times : sequence of float
        The K + 1 flow times, from 1 (noise) down to 0 (data).
    """
    paths = np.asarray(paths, np.float64)
    ds = -np.diff(np.asarray(times, np.float64))  # [K] positive step lengths
    speeds = -np.diff(paths, axis=1) / ds[None, :, None]  # Ẋ along s, the direction from data to noise
    chord = paths[:, :1] - paths[:, -1:]  # X_1 − X_0
    return (((chord - speeds) ** 2).sum(-1) * ds[None]).sum(1)


def chord_ratio(paths: np.ndarray) -> np.ndarray:
    """|x_end − x_start| / path length of each trajectory ``[P, K + 1, 2]``: 1 for a straight line, less if bent."""
    paths = np.asarray(paths, np.float64)
    length = np.linalg.norm(np.diff(paths, axis=1), axis=-1).sum(1)
    return np.linalg.norm(paths[:, -1] - paths[:, 0], axis=-1) / np.maximum(length, 1e-12)


# -- memorisation (#24) -----------------------------------------------------------------------------------------


def nearest_distances(points, reference) -> np.ndarray:
    """Each point's distance to its nearest neighbour in ``reference`` ``[m, 2]``, float64 ``[n]``."""
    a, b = as_points(points, torch.float64), as_points(reference, torch.float64)
    return torch.cdist(a, b).min(1).values.numpy()
