"""Memorisation against generalisation by the number of training points (Kadkhodaie et al., ICLR 2024).

Train on N points and sample. Two measures, each a ratio, so that the 2-D plane's own scale drops out:

- the **copy ratio** ρ(N): the median distance from a sample to its nearest training point over the median
  distance from a fresh point of the distribution to its nearest training point. A model that copies puts its
  samples on the training points (ρ ≪ 1); one that has learned the distribution puts them as far from the
  training points as fresh data lie (ρ ≈ 1). This is Meehan et al.'s (2020) test of copying by nearest-
  neighbour distances, summarised by medians. Kadkhodaie et al. look for each sample's closest training image.
- the **data ratio** δ(N): two models trained on disjoint sets of N points (A and B) sampled from the same
  noise, the median ‖a − b‖ over that of two models trained on the *same* N points (A and A′). All three start
  from the same weights and draw their batches from their own seed. At small N each model copies its own set,
  so A and B land on different points while A and A′ land on the same copies: δ ≫ 1. At large N the data set
  no longer matters beyond the noise of training: δ ≈ 1. Kadkhodaie et al. see the same at N ≈ 10⁵ images:
  the two halves' models draw the same image from the same noise.

Why ratios: the rule "A and B agree more than a sample lies from its nearest training point" works for images,
where a new image is far from every training image. In the plane a sample lies close to *some* training point
once N is a few hundred whether it was copied or not (the spacing of the points shrinks like 1/N on a curve),
while two trained MLPs differ by a floor of a few hundredths, so that rule never fires.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import DataError
from core.toy2d.data import make_dataset
from core.toy2d.metrics import nearest_distances
from core.toy2d.model import DEFAULT_TRAIN, TrainSettings
from core.toy2d.sampling import sample_toy
from core.toy2d.training import train_with

# Kadkhodaie et al. go from 1 to 10⁵ images; in 2-D the change happens within a few hundred points.
DEFAULT_SIZES = (4, 16, 32, 64, 128, 256, 512, 1024, 4096)
# The stated crossings: a model stops copying when its samples lie at least half as far from their training
# points as fresh data does (ρ ≥ 1/2), and its samples stop depending on its data set when two disjoint sets
# give models no more than twice as far apart as two trainings on the same set (δ ≤ 2).
COPY_LEVEL = 0.5
DATA_LEVEL = 2.0
# The fresh draw: enough points for its median nearest-neighbour distance to be steady at small N.
FRESH_POINTS = 1000


@dataclass(frozen=True, eq=False)
class MemorisationPoint:
    """One N of the curve: median distances (points' units) and the samples of models A and B."""

    n: int
    to_training: float  # A's sample → nearest point of A's training set
    fresh_to_training: float  # a fresh point of the distribution → nearest point of A's training set
    between_models: float  # A's sample ↔ B's sample from the same noise (disjoint training sets)
    between_seeds: float  # A's sample ↔ A′'s sample from the same noise (the same training set, another seed)
    samples_a: np.ndarray = field(repr=False)
    samples_b: np.ndarray = field(repr=False)
    training_a: np.ndarray = field(repr=False)

    @property
    def copy_ratio(self) -> float:
        """ρ = sample → training over fresh → training: ≪ 1 copying, ≈ 1 generalising."""
        return self.to_training / max(self.fresh_to_training, 1e-12)

    @property
    def data_ratio(self) -> float:
        """δ = A ↔ B over A ↔ A′: ≫ 1 while each model draws its own data set, ≈ 1 once the data no longer matters."""
        return self.between_models / max(self.between_seeds, 1e-12)


def memorisation_pool(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """A pool for :func:`memorisation_point` from data set ``name``: 2n training points and max(n, 1000) fresh.

    Each N draws its own pool, the same for one ``seed`` wherever it is asked for (the window, the CLI, the bench).
    """
    return make_dataset(name, 2 * n + max(n, FRESH_POINTS), torch.Generator().manual_seed(seed * 7919 + n))


def memorisation_point(
    pool: torch.Tensor,
    n: int,
    settings: TrainSettings = DEFAULT_TRAIN,
    seed: int = 0,
    samples: int = 1000,
    sample_steps: int = 50,
    progress: Callable[[int, int, float], bool] | None = None,
) -> MemorisationPoint:
    """Train models A, B and A′ on ``n`` points of ``pool`` and measure how much they copy.

    The pool's first n points train A and A′, the next n train B, and all the rest are the fresh data (at least
    n points). The three start from the same weights (drawn from ``seed``) and draw their batches from seeds
    ``seed + 1``, ``+ 2``, ``+ 3``; each samples ``samples`` points from the same noise with DDIM (η = 0).

    Raises
    ------
    DataError
        If N is below 1 or the pool holds fewer than 3n points.
    """
    pool = torch.as_tensor(pool, dtype=torch.float32)
    if n < 1:
        raise DataError(f"N must be at least 1, got {n}")
    if 3 * n > len(pool):
        raise DataError(
            f"N = {n} needs {3 * n} points (two disjoint training sets and a fresh draw); the data has {len(pool)}"
        )
    schedule = settings.make_schedule()
    first, second, fresh = pool[:n], pool[n : 2 * n], pool[2 * n :]
    noise = torch.randn(samples, 2, generator=torch.Generator().manual_seed(seed + 1))
    runs = []
    for which, data in enumerate((first, second, first)):
        report = None if progress is None else (lambda s, t, loss, w=which: progress(w * t + s, 3 * t, loss))
        gen, init = torch.Generator().manual_seed(seed + 1 + which), torch.Generator().manual_seed(seed)
        model, _ = train_with(settings, data, schedule, "eps", gen, report, init=init)  # one start for A, B, A′
        *_, last = sample_toy(model, schedule, "ddim", steps=sample_steps, x_start=noise)
        runs.append(last.points)
    a, b, a_again = runs
    return MemorisationPoint(
        n=n,
        to_training=float(np.median(nearest_distances(a, first))),
        fresh_to_training=float(np.median(nearest_distances(fresh, first))),
        between_models=float(np.median(np.linalg.norm(a - b, axis=1))),
        between_seeds=float(np.median(np.linalg.norm(a - a_again, axis=1))),
        samples_a=a,
        samples_b=b,
        training_a=first.numpy(),
    )


def crossing(ns: Sequence[float], values: Sequence[float], level: float, rising: bool) -> float | None:
    """The N (over ascending ``ns``) from which on ``values`` stay risen (or fallen) past ``level``.

    The last passage counts, so a ratio that wobbles about the level (noise of training) is placed where it
    leaves it for good. Interpolated linearly in log N and log value between the last N short of the level and
    the next. None if the last N is still short of it, or every N is past it (the crossing lies below them).
    """
    sign = 1.0 if rising else -1.0
    gaps = [sign * (math.log(level) - math.log(max(v, 1e-12))) for v in values]  # > 0 while short of the level
    short = [i for i, g in enumerate(gaps) if g > 0]
    if not short or short[-1] == len(gaps) - 1:
        return None
    i = short[-1]
    g, h = gaps[i], gaps[i + 1]
    lo, hi = math.log(ns[i]), math.log(ns[i + 1])
    return math.exp(lo + g / (g - h) * (hi - lo))


def copy_crossing(points: Sequence[MemorisationPoint], level: float = COPY_LEVEL) -> float | None:
    """The N from which on the copy ratio ρ stays at ``level`` or above: below it the samples sit on the training points."""
    points = sorted(points, key=lambda p: p.n)
    return crossing([p.n for p in points], [p.copy_ratio for p in points], level, rising=True)


def data_crossing(points: Sequence[MemorisationPoint], level: float = DATA_LEVEL) -> float | None:
    """The N from which on the data ratio δ stays at ``level`` or below: two disjoint halves give (nearly) one model."""
    points = sorted(points, key=lambda p: p.n)
    return crossing([p.n for p in points], [p.data_ratio for p in points], level, rising=False)
