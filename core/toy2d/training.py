"""Training the playground's MLP (#12), and the settings it trains with.

Training settings (:data:`DEFAULT_TRAIN`)
-----------------------------------------
A linear schedule with T = 200: β from 5e-4 to 0.1, DDPM's 1e-4 … 0.02 scaled by 1000/T as in
:meth:`NoiseSchedule.linear`, so ᾱ_T ≈ 3e-5 and x_T is pure noise. A toy data set needs no 1000-step chain:
T = 200 makes a DDPM run 200 model calls (201 frames) and fits as well as T = 1000; the cosine schedule is
avoided because its ᾱ_T ≈ 0 makes DDIM's first x̂_0 = x_T/√ᾱ_T blow up. The network is a :class:`ToyMLP`
(3 residual blocks of 128 units, x through 6 octaves of Fourier features), trained for 4000 Adam steps of
batch 256 at lr 5e-3 decayed linearly to 0: about 10 s on one thread of a 2-core CPU that is also busy with
another job. The plain MLP of 3 × 128 units with x fed in raw, at the same budget, blurs the spiral and the
checkerboard into discs and squares.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from core.diffusion.forward import q_sample
from core.diffusion.parameterization import target_from_x0_eps
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
from core.toy2d.model import DEFAULT_TRAIN, VELOCITY, ToyMLP, TrainSettings
from core.toy2d.points import as_points

Progress = Callable[[int, int, float], bool]


def train_toy(
    data: torch.Tensor,
    schedule: NoiseSchedule | None,
    prediction: str = "eps",
    steps: int = DEFAULT_TRAIN.steps,
    batch_size: int = DEFAULT_TRAIN.batch_size,
    lr: float = DEFAULT_TRAIN.lr,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    *,
    model: ToyMLP | None = None,
    noise: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    label_dropout: float = 0.2,
) -> tuple[ToyMLP, list[float]]:
    """Fit a :class:`ToyMLP` to a point cloud with the simple loss (Eq. 14, Ho et al. 2020) or flow matching.

    Each step draws a batch of x_0 from ``data`` (with replacement), t uniform over 0..T−1 and ε ~ N(0, I),
    forms x_t by Eq. (4) and regresses the model on the ``prediction`` target. Adam, with the learning rate
    decayed linearly to 0 over ``steps``.

    With ``prediction="velocity"`` it is conditional flow matching on the straight path (Lipman et al. 2023,
    Eq. 23 with σ_min = 0; rectified flow, Liu et al. 2023, Eq. 1): s ~ U(0, 1), x_s = (1 − s) x_0 + s ε and
    the target ε − x_0. ``noise`` couples each data point with its own ε instead of a fresh draw: reflow
    trains on the model's own (noise, sample) pairs (:func:`core.toy2d.rectified.reflow`).

    With ``labels`` the model must be conditional; each label is replaced by the "no label" class with
    probability ``label_dropout``, so one network learns both ε(x, c) and ε(x) (Ho & Salimans 2021, Alg. 1).

    Parameters
    ----------
    data : torch.Tensor
        ``[n, 2]`` points.
    schedule : NoiseSchedule
        The diffusion the model learns to invert.
    prediction : str
        ``eps``, ``x0``, ``v`` or ``velocity``.
    steps, batch_size, lr : int, int, float
        Optimiser steps, points per step, Adam's initial learning rate.
    generator : torch.Generator, optional
        Draws the initial weights, the batches, t and ε.
    progress : callable, optional
        ``progress(step, steps, loss) -> bool``, called after the first step, every 50 steps and after the last; returning False
        stops training and the model as it is is returned.
    model : ToyMLP, optional
        The network to train (its ``prediction`` must match); by default a fresh one of :data:`DEFAULT_TRAIN`'s
        architecture, initialised from ``generator``.
    noise : torch.Tensor, optional
        ``[n, 2]``: the ε paired with each data point (flow matching only).
    labels : torch.Tensor, optional
        ``[n]`` classes of the data points, for a conditional model.
    label_dropout : float
        The rate at which labels are dropped in training.

    Returns
    -------
    (ToyMLP, list of float)
        The model in eval mode, and the loss of every step taken.
    """
    data = as_points(data)
    if noise is not None:
        noise = as_points(noise)
    if data.shape[0] < 1:
        raise DataError("there are no points to train on")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    num_classes = 0 if labels is None else int(labels.max()) + 1
    if model is None:
        model = DEFAULT_TRAIN.make_model(prediction, generator, num_classes)
    elif model.prediction != prediction:
        raise ValueError(f"the model predicts {model.prediction!r}, not {prediction!r}")
    if (labels is not None) != (model.num_classes > 0) or num_classes > model.num_classes:
        raise ValueError(f"labels of {num_classes} classes for a model of {model.num_classes} classes")
    flow = prediction == VELOCITY
    if noise is not None and (not flow or noise.shape != data.shape):
        raise ValueError("paired noise needs a flow-matching model and one ε per data point")
    # foreach: one batched update of all parameters; per step 2.1 ms instead of 4.2 ms for a net this small.
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    schedule_lr = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - step / steps)
    losses: list[float] = []
    model.train()
    for step in range(1, steps + 1):
        pick = torch.randint(0, data.shape[0], (batch_size,), generator=generator)
        x0 = data[pick]
        if flow:
            t = torch.rand(batch_size, generator=generator)
            eps = torch.randn(x0.shape, generator=generator) if noise is None else noise[pick]
            x_t = (1.0 - t[:, None]) * x0 + t[:, None] * eps  # the straight path, Eq. (1) of Liu et al. 2023
            target = eps - x0
        else:
            t = torch.randint(0, schedule.T, (batch_size,), generator=generator)
            eps = torch.randn(x0.shape, generator=generator)
            x_t = q_sample(schedule, x0, t, eps)  # Eq. (4)
            target = target_from_x0_eps(schedule, x0, t, eps, prediction)
        label = None
        if labels is not None:
            label = labels[pick].clone()
            label[torch.rand(batch_size, generator=generator) < label_dropout] = model.num_classes  # "no label"
        loss = torch.nn.functional.mse_loss(model(x_t, t, label), target)  # Eq. (14), in its parameterisation
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule_lr.step()
        losses.append(loss.item())
        if (
            progress is not None
            and (step == 1 or step % 50 == 0 or step == steps)
            and progress(step, steps, losses[-1]) is False
        ):
            break
    return model.eval(), losses


def train_with(
    settings: TrainSettings,
    data: torch.Tensor,
    schedule: NoiseSchedule | None,
    prediction: str,
    generator: torch.Generator,
    progress: Progress | None = None,
    *,
    labels: torch.Tensor | None = None,
    num_classes: int | None = None,
    init: torch.Generator | None = None,
) -> tuple[ToyMLP, list[float]]:
    """:func:`train_toy` of a fresh :class:`ToyMLP` by ``settings`` (its steps, batch size, learning rate and
    network): the playground's one recipe, for the window, the CLI, memorisation and the benchmarks.

    ``num_classes`` (default: from ``labels``) sizes a conditional model; ``init`` draws its initial weights
    (default: ``generator``, which then goes on to draw the batches).
    """
    if num_classes is None:
        num_classes = 0 if labels is None else int(labels.max()) + 1
    model = settings.make_model(prediction, generator if init is None else init, num_classes)
    return train_toy(
        data,
        schedule,
        prediction,
        settings.steps,
        settings.batch_size,
        settings.lr,
        generator,
        progress,
        model=model,
        labels=labels,
    )
