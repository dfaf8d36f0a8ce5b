"""The forward-process posterior q(x_{t−1} | x_t, x_0)."""

from __future__ import annotations

import torch

from core.diffusion.schedules import NoiseSchedule, extract


def q_posterior_mean_variance(
    schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor, t
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, variance and clipped log-variance of q(x_{t−1} | x_t, x_0).

    Eqs. (6)–(7), Ho et al. 2020. At array index 0 the variance β̃ is 0 and the log-variance
    is clipped to its value at index 1 so that it stays finite.
    """
    mean = extract(schedule.posterior_mean_coef1, t, x_t) * x0 + extract(schedule.posterior_mean_coef2, t, x_t) * x_t
    variance = torch.as_tensor(extract(schedule.posterior_variance, t, x_t), dtype=x_t.dtype, device=x_t.device)
    log_variance = torch.as_tensor(
        extract(schedule.posterior_log_variance_clipped, t, x_t), dtype=x_t.dtype, device=x_t.device
    )
    return mean, variance.expand_as(x_t), log_variance.expand_as(x_t)
