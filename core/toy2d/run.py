"""The whole playground run without a window: train on a data set, sample, measure (the CLI's ``playground``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from core.diffusion.schedules import NoiseSchedule
from core.toy2d.data import check_class, make_dataset, make_labelled_dataset
from core.toy2d.metrics import sliced_wasserstein
from core.toy2d.model import DEFAULT_TRAIN, VELOCITY, ToyMLP, TrainSettings
from core.toy2d.points import as_points
from core.toy2d.sampling import ToyFrame, field_on_grid, guided_model, sample_toy
from core.toy2d.training import Progress, train_with


class PlaygroundResult(NamedTuple):
    """What :func:`playground_run` made: the frames, the two distances, and the model with its schedule."""

    frames: list[ToyFrame]
    distance: float
    data_distance: float
    model: ToyMLP
    schedule: NoiseSchedule
    sample_fn: object  # the (x, t) → output function that was sampled (the guided one under guidance)

    def field(self, frame: ToyFrame, k: int = 15) -> tuple[np.ndarray, np.ndarray]:
        """The sampled model's score on a k × k grid at the frame's t, for the GIF's arrows."""
        prediction = self.model.prediction
        if prediction == VELOCITY:
            t = max(float(frame.t), 0.02)
        else:
            t = max(int(frame.t) - 1, 0)
        return field_on_grid(self.sample_fn, self.schedule, t, prediction, k=k)


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
    guidance: float | None = None,
    label: int = 0,
    interval: tuple[float, float] = (0.0, 1.0),
) -> PlaygroundResult:
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
    guidance, label, interval : float, int, (float, float)
        With ``guidance`` = w, a conditional model is trained on the data set's classes and sampled for class
        ``label`` with classifier-free guidance of weight w (:func:`guided_model`); the distances are then to
        that class's points.

    Returns
    -------
    PlaygroundResult
        The frames, SW₂ between the samples and a fresh draw of n data points, SW₂ between two independent
        draws of n data points (the floor a perfect model would reach, about), the model and its schedule.
    """
    generator = torch.Generator().manual_seed(seed)
    if guidance is not None:
        check_class(data_name, label)

    def draw(count: int) -> torch.Tensor:
        if guidance is not None:
            points, labels = make_labelled_dataset(data_name, 8 * count, generator)
            return points[labels == label][:count]
        if data is None:
            return make_dataset(data_name, count, generator)
        points = as_points(data)
        return points[torch.randint(0, len(points), (count,), generator=generator)]

    schedule = train.make_schedule()
    labels = None
    if guidance is not None:
        training_data, labels = make_labelled_dataset(data_name, max(10 * n, 10_000), generator)
    else:
        training_data = draw(max(10 * n, 10_000)) if data is None else as_points(data)
    model, _ = train_with(train, training_data, schedule, prediction, generator, progress, labels=labels)
    horizon = None if prediction == VELOCITY else schedule.T
    sample_fn = model if guidance is None else guided_model(model, label, guidance, interval, horizon)
    frames = list(sample_toy(sample_fn, schedule, sampler, n, steps, generator, prediction, step_size=step_size))
    samples = as_points(frames[-1].points)
    distance = sliced_wasserstein(samples, draw(n), generator=generator)
    data_distance = sliced_wasserstein(draw(n), draw(n), generator=generator)
    return PlaygroundResult(frames, distance, data_distance, model, schedule, sample_fn)
