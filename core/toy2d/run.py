"""The whole playground run without a window: train on a data set, sample, measure (the CLI's ``playground``)."""

from __future__ import annotations

import torch

from core.toy2d.data import make_dataset
from core.toy2d.metrics import sliced_wasserstein
from core.toy2d.model import DEFAULT_TRAIN, TrainSettings
from core.toy2d.points import as_points
from core.toy2d.sampling import ToyFrame, sample_toy
from core.toy2d.training import Progress, train_toy


def playground_run(
    data_name: str,
    sampler: str = "ddpm",
    steps: int | None = None,
    seed: int = 0,
    n: int = 2000,
    *,
    prediction: str = "eps",
    train: TrainSettings = DEFAULT_TRAIN,
    data: torch.Tensor | None = None,
    progress: Progress | None = None,
    step_size: float | None = None,
) -> tuple[list[ToyFrame], float, float]:
    """Train on a data set, sample ``n`` points and measure how close they came.

    Parameters
    ----------
    data_name : str
        One of :data:`DATASETS` (ignored when ``data`` is given, e.g. drawn points or an image's points).
    sampler, steps : str, int
        See :func:`sample_toy`.
    seed : int
        Seeds the training data, the training, the sampler and the distances.
    n : int
        Number of samples, and of points in each reference draw of the data.
    train : TrainSettings
        Schedule, network and optimiser; :data:`DEFAULT_TRAIN` by default.
    progress : callable, optional
        Passed to :func:`train_toy`; returning False stops training early and samples the model as it is.

    Returns
    -------
    (list of ToyFrame, float, float)
        The frames, SW₂ between the samples and a fresh draw of n data points, and SW₂ between two independent
        draws of n data points (the floor a perfect model would reach, about).
    """
    generator = torch.Generator().manual_seed(seed)

    def draw(count: int) -> torch.Tensor:
        if data is None:
            return make_dataset(data_name, count, generator)
        points = as_points(data)
        return points[torch.randint(0, len(points), (count,), generator=generator)]

    schedule = train.make_schedule()
    training_data = draw(max(10 * n, 10_000)) if data is None else as_points(data)
    model, _ = train_toy(
        training_data,
        schedule,
        prediction,
        train.steps,
        train.batch_size,
        train.lr,
        generator,
        progress,
        model=train.make_model(prediction, generator),
    )
    frames = list(sample_toy(model, schedule, sampler, n, steps, generator, prediction, step_size=step_size))
    samples = as_points(frames[-1].points)
    distance = sliced_wasserstein(samples, draw(n), generator=generator)
    data_distance = sliced_wasserstein(draw(n), draw(n), generator=generator)
    return frames, distance, data_distance
