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
from core.toy2d.model import DEFAULT_TRAIN, ToyMLP
from core.toy2d.points import as_points

Progress = Callable[[int, int, float], bool]


def train_toy(
    data: torch.Tensor,
    schedule: NoiseSchedule,
    prediction: str = "eps",
    steps: int = DEFAULT_TRAIN.steps,
    batch_size: int = DEFAULT_TRAIN.batch_size,
    lr: float = DEFAULT_TRAIN.lr,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    *,
    model: ToyMLP | None = None,
) -> tuple[ToyMLP, list[float]]:
    """Fit a :class:`ToyMLP` to a point cloud with the simple loss (Eq. 14, Ho et al. 2020).

    Each step draws a batch of x_0 from ``data`` (with replacement), t uniform over 0..T−1 and ε ~ N(0, I),
    forms x_t by Eq. (4) and regresses the model on the ``prediction`` target. Adam, with the learning rate
    decayed linearly to 0 over ``steps``.

    Parameters
    ----------
    data : torch.Tensor
        ``[n, 2]`` points.
    schedule : NoiseSchedule
        The diffusion the model learns to invert.
    prediction : str
        ``eps``, ``x0`` or ``v``.
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

    Returns
    -------
    (ToyMLP, list of float)
        The model in eval mode, and the loss of every step taken.
    """
    data = as_points(data)
    if data.shape[0] < 1:
        raise DataError("there are no points to train on")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    if model is None:
        model = DEFAULT_TRAIN.make_model(prediction, generator)
    elif model.prediction != prediction:
        raise ValueError(f"the model predicts {model.prediction!r}, not {prediction!r}")
    # foreach: one batched update of all parameters; per step 2.1 ms instead of 4.2 ms for a net this small.
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    schedule_lr = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - step / steps)
    losses: list[float] = []
    model.train()
    for step in range(1, steps + 1):
        x0 = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
        t = torch.randint(0, schedule.T, (batch_size,), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = q_sample(schedule, x0, t, eps)  # Eq. (4)
        target = target_from_x0_eps(schedule, x0, t, eps, prediction)
        loss = torch.nn.functional.mse_loss(model(x_t, t), target)  # Eq. (14), in the chosen parameterisation
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
