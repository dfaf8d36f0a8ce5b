"""Memorisation against generalisation by the number of training points (Kadkhodaie et al., ICLR 2024).

Train on N points and sample: at small N the samples fall on the training points (their nearest training
point is far closer than the nearest point of a fresh draw of the same size); at large N the two distances
agree. Two models trained on disjoint halves and sampled from the same noise draw different points (each
its own training set) at small N and the same points at large N: the model has become a function of the
distribution, not of its sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import DataError
from core.toy2d.metrics import nearest_distances
from core.toy2d.model import DEFAULT_TRAIN, TrainSettings
from core.toy2d.sampling import sample_toy
from core.toy2d.training import train_toy

# Kadkhodaie et al. go from 1 to 10⁵ images; in 2-D the change happens within a few hundred points.
DEFAULT_SIZES = (4, 16, 64, 256, 1024, 4096)


@dataclass(frozen=True, eq=False)
class MemorisationPoint:
    """One N of the curve: median distances (points' units) and the samples of both models."""

    n: int
    to_training: float  # sample → nearest point of its own training set
    to_fresh: float  # sample → nearest point of a fresh draw of N points
    between_models: float  # model A's sample → model B's sample from the same noise
    samples_a: np.ndarray
    samples_b: np.ndarray
    training_a: np.ndarray


def memorisation_point(
    pool: torch.Tensor,
    n: int,
    settings: TrainSettings = DEFAULT_TRAIN,
    seed: int = 0,
    samples: int = 1000,
    sample_steps: int = 50,
    progress: Callable[[int, int, float], bool] | None = None,
) -> MemorisationPoint:
    """Train two models on disjoint sets of ``n`` points of ``pool`` and measure how much they copy.

    The pool's first n points train model A, the next n model B, the next n are the fresh draw. Both models
    start from the same weights and sample from the same noise with DDIM (η = 0), so they differ by their
    data alone.

    Raises
    ------
    DataError
        If the pool holds fewer than 3n points.
    """
    pool = torch.as_tensor(pool, dtype=torch.float32)
    if n < 1:
        raise DataError(f"N must be at least 1, got {n}")
    if 3 * n > len(pool):
        raise DataError(
            f"N = {n} needs {3 * n} points (two disjoint training sets and a fresh draw); the data has {len(pool)}"
        )
    schedule = settings.make_schedule()
    sets = pool[:n], pool[n : 2 * n], pool[2 * n : 3 * n]
    runs = []
    for which, data in enumerate(sets[:2]):
        gen = torch.Generator().manual_seed(seed)
        report = None if progress is None else (lambda s, t, loss, w=which: progress(w * t + s, 2 * t, loss))
        model, _ = train_toy(
            data,
            schedule,
            "eps",
            settings.steps,
            settings.batch_size,
            settings.lr,
            gen,
            report,
            model=settings.make_model("eps", gen),
        )
        noise = torch.randn(samples, 2, generator=torch.Generator().manual_seed(seed + 1))
        *_, last = sample_toy(model, schedule, "ddim", steps=sample_steps, x_start=noise)
        runs.append(last.points)
    a, b = runs
    return MemorisationPoint(
        n=n,
        to_training=float(np.median(nearest_distances(a, sets[0]))),
        to_fresh=float(np.median(nearest_distances(a, sets[2]))),
        between_models=float(np.median(np.linalg.norm(a - b, axis=1))),
        samples_a=a,
        samples_b=b,
        training_a=sets[0].numpy(),
    )


def crossing(points: list[MemorisationPoint]) -> float | None:
    """The N (log-interpolated) where the two models' distance falls below the distance to the training set.

    Below it each model copies its own points (A and B disagree by more than a sample lies from its nearest
    training point); above it they draw the same distribution. None if the curves do not cross.
    """
    points = sorted(points, key=lambda p: p.n)
    gaps = [math.log(p.between_models) - math.log(max(p.to_training, 1e-12)) for p in points]
    for i in range(len(points) - 1):
        g, h = gaps[i], gaps[i + 1]
        if g > 0 >= h:
            lo, hi = math.log(points[i].n), math.log(points[i + 1].n)
            return math.exp(lo + g / (g - h) * (hi - lo))
    return None
