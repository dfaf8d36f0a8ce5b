"""The forward-process posterior q(x_{t−1} | x_t, x_0), and the model's p_θ(x_{t−1} | x_t) built from it."""

from __future__ import annotations

import torch

from core.choices import VARIANCES  # noqa: F401 - defined torch-free, read from here too
from core.diffusion.parameterization import x0_eps_from_output
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


def p_mean_variance(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t,
    model_output: torch.Tensor,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: bool = False,
):
    """Mean, variance and log-variance of p_θ(x_{t−1} | x_t) with a fixed variance.

    The mean is the posterior mean μ̃_t(x_t, x̂_0) of Eq. (7) at the model's x̂_0; σ² is β̃_t
    (``fixed_small``) or β_t (``fixed_large``), Ho et al. 2020, Sec. 3.2. ``t`` is an int or one
    array index per batch element.

    Returns ``((mean, eps_hat, x0_hat), variance, log_variance)``.
    """
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}; choose one of {', '.join(VARIANCES)}")
    x0_hat, eps_hat = x0_eps_from_output(schedule, x_t, t, model_output, prediction)
    x0_hat = x0_hat.clamp(-1.0, 1.0) if clip_x0 else x0_hat
    mean = q_posterior_mean_variance(schedule, x0_hat, x_t, t)[0]
    if variance == "fixed_small":
        var_table, log_table = schedule.posterior_variance, schedule.posterior_log_variance_clipped
    else:
        var_table, log_table = schedule.betas, torch.log(schedule.betas)
    var = torch.as_tensor(extract(var_table, t, x_t), dtype=x_t.dtype, device=x_t.device)
    log_var = torch.as_tensor(extract(log_table, t, x_t), dtype=x_t.dtype, device=x_t.device)
    return (mean, eps_hat, x0_hat), var, log_var
