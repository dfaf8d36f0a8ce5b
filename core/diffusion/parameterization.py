"""What the network predicts: ε, x_0 or v, and the conversions between them.

v = √ᾱ_t · ε − √(1 − ᾱ_t) · x_0 (Salimans & Ho 2022, Sec. 4). The score of q(x_t|x_0) is
−ε / √(1 − ᾱ_t).
"""

from __future__ import annotations

import torch

from core.choices import PREDICTIONS  # noqa: F401 - defined torch-free, read from here too
from core.diffusion.schedules import NoiseSchedule, extract


def check_prediction(prediction: str) -> str:
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction type {prediction!r}; choose one of {', '.join(PREDICTIONS)}")
    return prediction


def x0_from_eps(schedule: NoiseSchedule, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """x_0 = (x_t − √(1−ᾱ_t) ε) / √ᾱ_t (Eq. 4 solved for x_0)."""
    return (
        extract(schedule.sqrt_recip_alphas_cumprod, t, x_t) * x_t
        - extract(schedule.sqrt_recipm1_alphas_cumprod, t, x_t) * eps
    )


def eps_from_x0(schedule: NoiseSchedule, x_t: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
    """ε = (x_t − √ᾱ_t x_0) / √(1−ᾱ_t)."""
    return (extract(schedule.sqrt_recip_alphas_cumprod, t, x_t) * x_t - x0) / extract(
        schedule.sqrt_recipm1_alphas_cumprod, t, x_t
    )


def v_from_x0_eps(schedule: NoiseSchedule, x0: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """v = √ᾱ_t ε − √(1−ᾱ_t) x_0 (Salimans & Ho 2022)."""
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x0) * eps - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * x0
    )


def x0_from_v(schedule: NoiseSchedule, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
    """x_0 = √ᾱ_t x_t − √(1−ᾱ_t) v."""
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x_t) * x_t
        - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t) * v
    )


def eps_from_v(schedule: NoiseSchedule, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
    """ε = √(1−ᾱ_t) x_t + √ᾱ_t v."""
    return (
        extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t) * x_t
        + extract(schedule.sqrt_alphas_cumprod, t, x_t) * v
    )


def score_from_eps(schedule: NoiseSchedule, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """∇ log q(x_t | x_0) = −ε / √(1−ᾱ_t)."""
    return -eps / extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t)


def eps_from_score(schedule: NoiseSchedule, x_t: torch.Tensor, t, score: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`score_from_eps`."""
    return -score * extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t)


def x0_eps_from_output(
    schedule: NoiseSchedule, x_t: torch.Tensor, t, model_output: torch.Tensor, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reduce any prediction type to the canonical pair (x̂_0, ε̂)."""
    check_prediction(prediction)
    if prediction == "eps":
        return x0_from_eps(schedule, x_t, t, model_output), model_output
    if prediction == "x0":
        return model_output, eps_from_x0(schedule, x_t, t, model_output)
    return x0_from_v(schedule, x_t, t, model_output), eps_from_v(schedule, x_t, t, model_output)


def target_from_x0_eps(
    schedule: NoiseSchedule, x0: torch.Tensor, t, eps: torch.Tensor, prediction: str
) -> torch.Tensor:
    """The regression target of a network that predicts ``prediction``."""
    check_prediction(prediction)
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    return v_from_x0_eps(schedule, x0, t, eps)
