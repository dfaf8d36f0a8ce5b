"""Reverse-process samplers: DDPM (Ho et al. 2020, Alg. 2) and DDIM (Song et al. 2021, Eq. 12).

Single steps are pure functions. The ``*_loop`` generators drive a model through a chain and
yield one frozen :class:`SamplerStep` per step; a caller cancels simply by not asking for
the next one. Randomness comes in through ``generator`` so every run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.parameterization import check_prediction, eps_from_x0, x0_eps_from_output
from core.diffusion.posterior import VARIANCES, p_mean_variance
from core.diffusion.schedules import NoiseSchedule

SPACINGS = ("leading", "trailing", "linspace")
# The defaults of every signature below and of SamplerConfig, in one place. Trailing spacing starts
# DDIM at t = T (Lin et al. 2024); clipping x̂_0 to the data range is what Ho et al.'s and Song et
# al.'s samplers do; the single-step functions stay the bare equations (no clipping) unless asked.
DEFAULT_SPACING = "trailing"
DEFAULT_CLIP_X0 = True
SAMPLERS = ("ddpm", "ddim")

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SamplerStep:
    """One step of a reverse chain.

    ``t`` is the array index of ``x_t`` (the model's input); ``x_prev`` is the sample the
    step produced, at index ``t_prev`` (−1 means the final clean sample x_0).
    """

    n: int
    num_steps: int
    t: int
    t_prev: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor
    model_output: torch.Tensor
    x_prev: torch.Tensor


def ddpm_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t: int,
    model_output: torch.Tensor,
    noise: torch.Tensor | None,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ancestral step x_t → x_{t−1} (Algorithm 2, Ho et al. 2020).

    The mean is the posterior mean μ̃_t(x_t, x̂_0) (Eq. 7), which equals Algorithm 2's
    1/√α_t (x_t − β_t/√(1−ᾱ_t) ε̂) when x̂_0 is not clipped. σ²_t is β̃_t (``fixed_small``)
    or β_t (``fixed_large``). No noise is added at the last step (index 0).

    Returns ``(x_prev, x0_hat)``.
    """
    (mean, _, x0_hat), var, _ = p_mean_variance(schedule, x_t, t, model_output, prediction, variance, clip_x0)
    if t == 0:
        return mean, x0_hat
    if noise is None:
        raise ValueError("ddpm_step needs noise for t > 0")
    return mean + var.sqrt() * noise, x0_hat


def ddim_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t: int,
    t_prev: int,
    model_output: torch.Tensor,
    eta: float,
    noise: torch.Tensor | None,
    prediction: str = "eps",
    clip_x0: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step x_t → x_{t_prev} (Eq. 12, Song et al. 2021).

    σ_t(η) = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev) (Eq. 16); η = 0 is deterministic.
    ``t_prev = -1`` steps to the clean image (ᾱ_prev = 1). When x̂_0 is clipped, ε̂ is
    recomputed from it so the step stays consistent.

    Returns ``(x_prev, x0_hat)``.
    """
    if not 0 <= t_prev + 1 <= t:
        raise ValueError(f"t_prev must satisfy -1 ≤ t_prev < t, got t={t}, t_prev={t_prev}")
    x0_hat, eps_hat = x0_eps_from_output(schedule, x_t, t, model_output, prediction)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps_hat = eps_from_x0(schedule, x_t, t, x0_hat)
    abar_t = float(schedule.alphas_cumprod[t])
    abar_prev = float(schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
    sigma = eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)) ** 0.5
    direction = max(1.0 - abar_prev - sigma**2, 0.0) ** 0.5
    x_prev = abar_prev**0.5 * x0_hat + direction * eps_hat
    if sigma > 0:
        if noise is None:
            raise ValueError("ddim_step needs noise when eta > 0")
        x_prev = x_prev + sigma * noise
    return x_prev, x0_hat


def ddim_timesteps(T: int, num_steps: int, spacing: str = DEFAULT_SPACING) -> list[int]:
    """Descending array indices for a DDIM run of ``num_steps`` over a T-step schedule.

    ``leading`` and ``trailing`` follow diffusers (Lin et al. 2024, Table 2); ``linspace``
    spreads the steps evenly from T−1 to 0.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    if not 1 <= num_steps <= T:
        raise ValueError(f"steps must lie in 1..{T}, got {num_steps}")
    if spacing == "leading":
        steps = np.arange(num_steps) * (T // num_steps)
    elif spacing == "trailing":
        steps = np.round(np.arange(T, 0, -T / num_steps)).astype(np.int64) - 1
    else:
        steps = np.linspace(0, T - 1, num_steps).round().astype(np.int64)
    return sorted({int(s) for s in steps}, reverse=True)


def _call_model(model: ModelFn, x: torch.Tensor, t: int) -> torch.Tensor:
    t_batch = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    return model(x, t_batch)


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return randn(x.shape, generator, x.device, x.dtype)


def ddpm_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    *,
    t_start: int | None = None,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: bool = DEFAULT_CLIP_X0,
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """Ancestral DDPM sampling from ``x_start`` at index ``t_start`` (default T−1) down to x_0.

    Start from pure noise (``x_start`` ~ N(0, I), ``t_start = T−1``) or from a noised image
    at any index (SDEdit, Meng et al. 2022).
    """
    check_prediction(prediction)
    t_start = schedule.T - 1 if t_start is None else int(t_start)
    if not 0 <= t_start < schedule.T:
        raise ValueError(f"t_start must lie in 0..{schedule.T - 1}, got {t_start}")
    x = x_start
    num_steps = t_start + 1
    for n, t in enumerate(range(t_start, -1, -1)):
        with torch.inference_mode():
            out = _call_model(model, x, t)
            noise = _randn_like(x, generator) if t > 0 else None
            x_prev, x0_hat = ddpm_step(schedule, x, t, out, noise, prediction, variance, clip_x0)
        yield SamplerStep(n, num_steps, t, t - 1, x, x0_hat, out, x_prev)
        x = x_prev


def ddim_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    *,
    num_steps: int = 50,
    eta: float = 0.0,
    spacing: str = DEFAULT_SPACING,
    t_start: int | None = None,
    prediction: str = "eps",
    clip_x0: bool = DEFAULT_CLIP_X0,
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """DDIM sampling with ``num_steps`` steps from index ``t_start`` (default T−1) to x_0.

    With ``t_start`` below T−1 the steps are spread over 0..t_start only (SDEdit).
    """
    check_prediction(prediction)
    t_start = schedule.T - 1 if t_start is None else int(t_start)
    if not 0 <= t_start < schedule.T:
        raise ValueError(f"t_start must lie in 0..{schedule.T - 1}, got {t_start}")
    timesteps = ddim_timesteps(t_start + 1, min(num_steps, t_start + 1), spacing)
    # x_start lives at t_start, so the first step must read it there ("leading" spacing would
    # otherwise treat pure noise as x_{T−T/N}; Lin et al. 2024). The run keeps num_steps steps.
    timesteps[0] = t_start
    x = x_start
    for n, t in enumerate(timesteps):
        t_prev = timesteps[n + 1] if n + 1 < len(timesteps) else -1
        with torch.inference_mode():
            out = _call_model(model, x, t)
            noise = _randn_like(x, generator) if eta > 0 and t_prev >= 0 else None
            x_prev, x0_hat = ddim_step(schedule, x, t, t_prev, out, eta, noise, prediction, clip_x0)
        yield SamplerStep(n, len(timesteps), t, t_prev, x, x0_hat, out, x_prev)
        x = x_prev


def final_step(loop: Iterator[SamplerStep]) -> SamplerStep:
    """Run a sampler generator to its end and return its last step."""
    last = None
    for last in loop:  # noqa: B007 - only the last step is wanted
        pass
    if last is None:
        raise ValueError("the sampler produced no step")
    return last


@dataclass(frozen=True)
class SamplerConfig:
    """Everything that defines a reverse run, so the app and the CLI share one description."""

    sampler: str = "ddpm"
    steps: int = 50
    eta: float = 0.0
    variance: str = "fixed_small"
    spacing: str = DEFAULT_SPACING
    clip_x0: bool = DEFAULT_CLIP_X0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.variance not in VARIANCES:
            raise ValueError(f"unknown variance {self.variance!r}; choose one of {', '.join(VARIANCES)}")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError("eta must lie in [0, 1]")


def sample_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    config: SamplerConfig,
    x_start: torch.Tensor,
    *,
    t_start: int | None = None,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """Dispatch to :func:`ddpm_loop` or :func:`ddim_loop` from a :class:`SamplerConfig`."""
    if config.sampler == "ddpm":
        return ddpm_loop(
            model,
            schedule,
            x_start,
            t_start=t_start,
            prediction=prediction,
            variance=config.variance,
            clip_x0=config.clip_x0,
            generator=generator,
        )
    return ddim_loop(
        model,
        schedule,
        x_start,
        num_steps=config.steps,
        eta=config.eta,
        spacing=config.spacing,
        t_start=t_start,
        prediction=prediction,
        clip_x0=config.clip_x0,
        generator=generator,
    )
