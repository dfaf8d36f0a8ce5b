"""The forward (noising) process q of Ho et al. 2020."""

from __future__ import annotations

import torch

from core.schedules import NoiseSchedule, extract


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) in closed form.

    Eq. (4), Ho et al. 2020: x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε. ``t`` is an array index
    (see :mod:`core.schedules`), an int or one index per batch element.
    """
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x0) * x0
        + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * noise
    )


def q_step(schedule: NoiseSchedule, x_prev: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
    """One step of the chain, x_t ~ q(x_t | x_{t−1}).

    Eq. (2), Ho et al. 2020: x_t = √(1 − β_t) · x_{t−1} + √β_t · ε. ``x_prev`` is the sample
    before array index ``t`` (the clean image when t = 0).
    """
    return extract(schedule.sqrt_alphas, t, x_prev) * x_prev + extract(schedule.sqrt_betas, t, x_prev) * noise


def q_mean_variance(schedule: NoiseSchedule, x0: torch.Tensor, t) -> tuple[torch.Tensor, float | torch.Tensor]:
    """Mean and variance of q(x_t | x_0) (Eq. 4)."""
    mean = extract(schedule.sqrt_alphas_cumprod, t, x0) * x0
    variance = 1.0 - extract(schedule.alphas_cumprod, t, x0)
    return mean, variance
